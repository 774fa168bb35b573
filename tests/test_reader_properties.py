"""Property-based tests of the readers: round trips, truncation, lying headers, junk.

For every file the readers accept, the contract is: the data come back exactly,
or an :class:`~napari_maxrf_sr.errors.InputError` says what is wrong.
Never garbage from a damaged file, never another exception, and never an
allocation of what a damaged header claims (readers compare header sizes with
the file's size first; :func:`_outcome` traces NumPy's allocations to check).
"""

from __future__ import annotations

import io
import re
import tempfile
import tracemalloc
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from napari_maxrf_sr._napari.reader import get_reader
from napari_maxrf_sr.errors import InputError
from napari_maxrf_sr.io import (
    read_element_maps,
    read_photo,
    read_rpl_element_maps,
    write_element_images,
    write_element_stack,
)
from napari_maxrf_sr.io.elements import normalise_element_name

#: Most that a read may allocate here (MiB): the valid files are a few KiB, so a
#: reader that believes a damaged header would go far above it.
PEAK_MIB = 32
FAST = settings(max_examples=25, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

MAP_DTYPES = ("float32", "float64", "uint8", "uint16", "int16", "int32", "uint32")
RPL_DTYPES = ("u1", "<u2", ">u2", "<i4", "<u4", "<f4", ">f8")


@contextmanager
def _folder():
    with tempfile.TemporaryDirectory() as d:
        yield Path(d)


def _outcome(read: Callable[[], object]) -> object | InputError:
    """Run ``read``: its value, or the InputError it raised (anything else fails).

    Asserts that it allocated at most :data:`PEAK_MIB`.
    """
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return read()
    except InputError as exc:
        assert str(exc).strip(), "an error without a message"
        return exc
    finally:
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        assert peak < PEAK_MIB, f"{peak:.0f} MiB allocated"


# ------------------------------------------------------------------------- strategies
@st.composite
def stacks(draw, dtypes=MAP_DTYPES, max_b: int = 4) -> np.ndarray:
    """``(B, h, w)`` arrays of any supported dtype, with values it can hold."""
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    shape = (draw(st.integers(1, max_b)), draw(st.integers(2, 9)), draw(st.integers(2, 9)))
    if dtype.kind == "f":
        elements = st.floats(-1e6, 1e6, width=32 if dtype.itemsize == 4 else 64)
    else:
        info = np.iinfo(dtype)
        elements = st.integers(int(info.min), int(info.max))
    return draw(hnp.arrays(dtype, shape, elements=elements))


NAMES = st.lists(
    st.sampled_from(["Pb L", "Hg-L", "Fe K", "Ca Ka", "Cu", "total counts", "map x", "Zn_K"]),
    min_size=4, max_size=4, unique=True,
)


# -------------------------------------------------------------------------- round trips
@FAST
@given(maps=stacks(), names=NAMES)
def test_tiff_stack_round_trip(maps, names):
    names = names[: len(maps)]
    with _folder() as d:
        write_element_stack(d / "m.tif", maps, names, scale=4)
        got, elements, meta = read_element_maps(d / "m.tif")
    np.testing.assert_array_equal(got, maps.astype(np.float32))
    assert elements == tuple(normalise_element_name(n) for n in names)
    assert meta.scale == 4


@FAST
@given(maps=stacks(), two_d=st.booleans())
def test_npy_and_npz_round_trip(maps, two_d):
    arr = maps[0] if two_d else maps
    with _folder() as d:
        np.save(d / "m.npy", arr)
        np.savez(d / "m.npz", maps=maps, elements=np.array([f"e{i}" for i in range(len(maps))]))
        got_npy, _, _ = read_element_maps(d / "m.npy")
        got_npz, names, _ = read_element_maps(d / "m.npz")
    np.testing.assert_array_equal(got_npy, (arr[None] if two_d else arr).astype(np.float32))
    np.testing.assert_array_equal(got_npz, maps.astype(np.float32))
    assert names == tuple(f"e{i}" for i in range(len(maps)))


@FAST
@given(maps=stacks(dtypes=("float32", "uint16")), fmt=st.sampled_from(["tif", "png"]))
def test_folder_round_trip(maps, fmt):
    maps = np.abs(maps.astype(np.float64)).astype(np.float32)  # PNG holds no negatives
    names = [f"m{i}" for i in range(len(maps))]
    with _folder() as d:
        write_element_images(d / "maps", maps, names, fmt=fmt)
        got, elements, _ = read_element_maps(d / "maps")
    assert elements == tuple(names)
    tol = 0 if fmt == "tif" else float(maps.max()) / 65535 + 1e-6  # 16-bit quantisation
    np.testing.assert_allclose(got, maps, rtol=1e-6, atol=tol)


@st.composite
def cubes(draw):
    dtype = np.dtype(draw(st.sampled_from(RPL_DTYPES)))
    shape = (draw(st.integers(1, 6)), draw(st.integers(1, 6)), draw(st.integers(1, 40)))
    if dtype.kind == "f":
        elements = st.floats(0, 1e4, width=8 * dtype.itemsize)
    else:
        elements = st.integers(0, min(int(np.iinfo(dtype).max), 10**6))
    return draw(hnp.arrays(dtype, shape, elements=elements))


def _rpl(d: Path, cube: np.ndarray, record_by: str = "vector", offset: int = 0) -> Path:
    """Write ``cube`` (h, w, depth) as a ``.rpl``/``.raw`` pair."""
    h, w, depth = cube.shape
    dt = cube.dtype
    kind = {"u": "unsigned", "i": "signed", "f": "float"}[dt.kind]
    order = "big-endian" if dt.byteorder == ">" else "little-endian"
    rpl = d / "cube.rpl"
    rpl.write_text(f"width\t{w}\nheight\t{h}\ndepth\t{depth}\noffset\t{offset}\n"
                   f"data-length\t{dt.itemsize}\ndata-type\t{kind}\nbyte-order\t{order}\n"
                   f"record-by\t{record_by}\n")
    data = cube if record_by == "vector" else np.moveaxis(cube, -1, 0)
    (d / "cube.raw").write_bytes(b"\x01" * offset + np.ascontiguousarray(data).tobytes())
    return rpl


@FAST
@given(cube=cubes(), record_by=st.sampled_from(["vector", "image"]),
       offset=st.integers(0, 64), chunk=st.integers(1, 4096))
def test_rpl_round_trip(cube, record_by, offset, chunk):
    with _folder() as d:
        rpl = _rpl(d, cube, record_by, offset)
        maps, names, _ = read_rpl_element_maps(rpl, elements=("total counts",),
                                               chunk_bytes=chunk)
    assert names == ("total counts",)
    expected = cube.astype(np.float64).sum(-1).astype(np.float32)
    np.testing.assert_allclose(maps[0], expected, rtol=1e-6)


# ---------------------------------------------------------------------------- truncation
def _write_tif(d: Path) -> tuple[Path, Callable]:
    maps = np.arange(3 * 6 * 5, dtype=np.float32).reshape(3, 6, 5)
    return write_element_stack(d / "m.tif", maps, ("Pb L", "Hg L", "Fe K")), read_element_maps


def _write_tif_zlib(d: Path) -> tuple[Path, Callable]:
    maps = np.arange(2 * 16 * 16, dtype=np.uint16).reshape(2, 16, 16)
    path = d / "m.tif"
    tifffile.imwrite(path, maps, compression="zlib", photometric="minisblack")
    return path, read_element_maps


def _write_npy(d: Path) -> tuple[Path, Callable]:
    np.save(d / "m.npy", np.arange(2 * 5 * 4, dtype="<f8").reshape(2, 5, 4))
    return d / "m.npy", read_element_maps


def _write_npz(d: Path) -> tuple[Path, Callable]:
    np.savez_compressed(d / "m.npz", maps=np.ones((2, 5, 4), np.float32),
                        elements=np.array(["Pb L", "Fe K"]))
    return d / "m.npz", read_element_maps


def _write_h5(d: Path) -> tuple[Path, Callable]:
    h5py = pytest.importorskip("h5py")
    with h5py.File(d / "m.h5", "w") as f:
        f.create_dataset("maps", data=np.ones((2, 5, 4), np.float32))
    return d / "m.h5", read_element_maps


def _write_png_map(d: Path) -> tuple[Path, Callable]:
    iio.imwrite(d / "Pb-L.png", np.arange(60, dtype=np.uint16).reshape(6, 10) * 1000)
    return d / "Pb-L.png", read_element_maps


def _rpl_reader(path: Path):
    return read_rpl_element_maps(path.with_suffix(".rpl"), elements=("total counts",))


def _write_rpl_raw(d: Path) -> tuple[Path, Callable]:
    _rpl(d, np.arange(4 * 3 * 10, dtype="<u2").reshape(4, 3, 10))
    return d / "cube.raw", _rpl_reader


def _write_rpl_header(d: Path) -> tuple[Path, Callable]:
    _rpl(d, np.arange(4 * 3 * 10, dtype="<u2").reshape(4, 3, 10))
    return d / "cube.rpl", _rpl_reader


def _photo() -> np.ndarray:
    yy, xx = np.mgrid[:24, :20]
    return np.stack([xx * 10, yy * 9, (xx + yy) * 5], -1).astype(np.uint8)


def _write_photo(suffix: str) -> Callable[[Path], tuple[Path, Callable]]:
    def write(d: Path) -> tuple[Path, Callable]:
        path = d / f"photo{suffix}"
        if suffix == ".tif":
            tifffile.imwrite(path, _photo(), photometric="rgb")
        else:
            iio.imwrite(path, _photo())
        return path, lambda p: read_photo(p)[0]
    return write


TRUNCATABLE = {
    "tif": _write_tif, "tif-zlib": _write_tif_zlib, "npy": _write_npy, "npz": _write_npz,
    "h5": _write_h5, "png-map": _write_png_map, "rpl-raw": _write_rpl_raw,
    "rpl-header": _write_rpl_header, "photo-png": _write_photo(".png"),
    "photo-jpg": _write_photo(".jpg"), "photo-tif": _write_photo(".tif"),
}


def _same(a, b) -> bool:
    a, b = (x[0] if isinstance(x, tuple) else x for x in (a, b))
    return a.shape == b.shape and np.array_equal(a, b)


@pytest.mark.parametrize("fmt", TRUNCATABLE)
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cut=st.floats(0, 1, exclude_max=True))
def test_truncated_files_give_an_error_or_all_the_data(fmt, cut):
    """Cut anywhere: an InputError, or (a file whose tail was unused) the same data."""
    with _folder() as d:
        path, read = TRUNCATABLE[fmt](d)
        full = read(path)
        data = path.read_bytes()
        path.write_bytes(data[: int(cut * len(data))])
        got = _outcome(lambda: read(path))
    if not isinstance(got, InputError):
        assert _same(got, full), "a truncated file gave other data instead of an error"


# ------------------------------------------------------------------------- lying headers
#: Header values: small and huge numbers, and text that is not a number (no
#: whitespace or line breaks, which would make other lines, not other values).
SIZES = st.one_of(
    st.integers(-3, 20), st.integers(0, 2**62).map(str),
    st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zs", "Zl", "Zp")), max_size=6),
    st.sampled_from(["4.0", "1e9", "0x10", ""]),
)


@FAST
@given(width=SIZES, height=SIZES, depth=SIZES, offset=SIZES,
       length=st.one_of(st.sampled_from([1, 2, 3, 4, 8, 16]), SIZES),
       dtype=st.sampled_from(["unsigned", "signed", "float", "complex", ""]),
       record_by=st.sampled_from(["vector", "image", "dont-care", "column"]))
def test_corrupt_rpl_header_sizes(width, height, depth, offset, length, dtype, record_by):
    """Any header over a 960-byte .raw: refused, or read within what the file holds."""
    with _folder() as d:
        _rpl(d, np.ones((4, 3, 40), "<u2"))  # 960 bytes
        (d / "cube.rpl").write_text(
            f"width\t{width}\nheight\t{height}\ndepth\t{depth}\noffset\t{offset}\n"
            f"data-length\t{length}\ndata-type\t{dtype}\nbyte-order\tlittle-endian\n"
            f"record-by\t{record_by}\n")
        got = _outcome(lambda: read_rpl_element_maps(d / "cube.rpl",
                                                     elements=("total counts",)))
    if not isinstance(got, InputError):  # only a header that fits the file exactly
        maps = got[0]
        assert maps.shape == (1, int(height), int(width))
        assert int(width) * int(height) * int(depth) * int(length) + int(offset) == 960


@FAST
@given(shape=st.lists(st.integers(0, 2**40), min_size=0, max_size=4).map(tuple),
       descr=st.sampled_from(["<f4", ">f8", "|u1", "<i2", "|b1", "<c8", "<U3", "|O", "|V8"]))
def test_corrupt_npy_header(shape, descr):
    """Any shape and dtype in the header of a 400-byte .npy: refused or read truthfully."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": descr, "fortran_order": False, "shape": shape})
    with _folder() as d:
        path = d / "m.npy"
        path.write_bytes(buf.getvalue() + bytes(range(200)) * 2)
        got = _outcome(lambda: read_element_maps(path))
    if not isinstance(got, InputError):
        maps = got[0]
        assert maps.dtype == np.float32 and maps.ndim == 3
        assert maps.size * np.dtype(descr).itemsize <= 400


@FAST
@given(hits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)),
                     min_size=1, max_size=6),
       head_only=st.booleans())
def test_corrupt_tiff_bytes(hits, head_only):
    """Overwrite a few bytes of a TIFF stack (tags, offsets, data): never a crash."""
    with _folder() as d:
        path, read = _write_tif(d)
        data = bytearray(path.read_bytes())
        span = 400 if head_only else len(data)
        for pos, value in hits:
            data[pos % span] = value
        path.write_bytes(bytes(data))
        got = _outcome(lambda: read(path))
    if not isinstance(got, InputError):
        maps = got[0]
        assert maps.dtype == np.float32 and maps.ndim == 3


# ----------------------------------------------------------------------------- junk
MAGIC = st.sampled_from([b"", b"II*\x00", b"MM\x00*", b"II+\x00\x08\x00\x00\x00",
                         b"\x93NUMPY\x01\x00", b"PK\x03\x04", b"\x89PNG\r\n\x1a\n",
                         b"\x89HDF\r\n\x1a\n", b"width\t3\nheight\t"])
SUFFIXES = (".tif", ".npy", ".npz", ".h5", ".png", ".rpl")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(suffix=st.sampled_from(SUFFIXES), magic=MAGIC, junk=st.binary(max_size=2000))
def test_random_bytes_never_crash_a_reader(suffix, magic, junk):
    with _folder() as d:
        path = d / f"Pb-L{suffix}"
        path.write_bytes(magic + junk)
        (d / "Pb-L.raw").write_bytes(junk)  # something for a .rpl to point at
        got = _outcome(lambda: read_element_maps(path, elements=("total counts",))
                       if suffix == ".rpl" else read_element_maps(path))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = get_reader(str(path))  # never raises
        if isinstance(got, InputError):
            # What the command line and the API refuse, napari must not claim either (the
            # reader and read_element_maps share one dispatcher and its readers).
            assert reader is None, f"claimed a file the readers refuse: {got}"
        else:
            assert got[0].dtype == np.float32 and got[0].ndim == 3
        if reader is not None:  # claimed: it shows what the readers read, map by map
            layers = reader(str(path))
            np.testing.assert_array_equal(np.stack([np.asarray(d) for d, _, _ in layers]),
                                          got[0])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(suffix=st.sampled_from((".png", ".jpg", ".tif")), magic=MAGIC,
       junk=st.binary(max_size=2000))
def test_random_bytes_never_crash_the_photo_reader(suffix, magic, junk):
    with _folder() as d:
        path = d / f"photo{suffix}"
        path.write_bytes(magic + junk)
        got = _outcome(lambda: read_photo(path))
    if not isinstance(got, InputError):
        assert got[0].ndim == 3 and got[0].shape[-1] == 3


def test_errors_name_the_file():
    """The messages that the properties above only type-check also name the file."""
    with _folder() as d:
        path = d / "Pb-L.tif"
        path.write_bytes(b"II*\x00" + b"\xff" * 40)
        got = _outcome(lambda: read_element_maps(path))
    assert isinstance(got, InputError)
    assert re.search(r"Pb-L\.tif'.*(truncated|damaged|not a TIFF)", str(got))
