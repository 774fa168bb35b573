"""Bad input, all of it: one table of malformed inputs, driven through every entry point.

Each row of :data:`CASES` is a malformed input (or an odd one that must still
work) and says, per entry point, what the user must be told:

``api``
    :func:`napari_maxrf_sr.super_resolve` on arrays.
``reader``
    :func:`~napari_maxrf_sr.io.read_element_maps` and
    :func:`~napari_maxrf_sr.io.read_photo` on files written to ``tmp_path``.
``napari_reader``
    The napari reader contribution (``get_reader``): never raises; for a file
    of ours that it cannot read, a warning (a napari notification) says why.
``cli``
    ``maxrf-sr run`` through :func:`napari_maxrf_sr.cli.main`.
``widget``
    The super-resolution dock widget, with the data in napari layers.

A refused row must be refused before training starts (training is replaced by
a trap), with a message that names the problem and says what to do, and must
leave no file, no temporary file and no new layer behind, and the input
untouched. An accepted row must run to the end and, where it is odd, say so.
The messages are listed in docs/malformed_inputs.md.
"""

from __future__ import annotations

import builtins
import hashlib
import io
import re
import struct
import tracemalloc
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile

from napari_maxrf_sr.api import super_resolve
from napari_maxrf_sr.cli import main
from napari_maxrf_sr.core import validation
from napari_maxrf_sr.core.validation import InputError
from napari_maxrf_sr.io import read_element_maps, read_photo, write_element_stack

ENTRIES = ("api", "reader", "napari_reader", "cli", "widget")
ELEMENTS = ("Pb L", "Hg L")
SCALE = 4
#: The network at its smallest: bad input must be refused before this even starts.
TINY = {"stage1_steps": 2, "stage2_steps": 0, "n_atoms": 8}


# ----------------------------------------------------------------------------- inputs
def good_maps() -> np.ndarray:
    """Two 8 x 8 maps of counts with an edge each."""
    yy, xx = np.mgrid[:8, :8]
    return np.stack([(xx > 3) * 40.0 + 5, (yy > 4) * 20.0 + 2]).astype(np.float32)


def good_photo(size: int = 32) -> np.ndarray:
    """A uint8 photo whose colour edges follow the maps' edges."""
    yy, xx = np.mgrid[:size, :size]
    r, g = (xx > size // 2 - 1) * 200 + 30, (yy > size * 5 // 8 - 1) * 150 + 50
    return np.stack([r, g, np.full_like(r, 90)], -1).astype(np.uint8)


def _with(arr: np.ndarray, value, index=(0, 1, 2)) -> np.ndarray:
    """A copy of ``arr`` with one value replaced (same dtype when the value fits)."""
    fits = np.can_cast(np.min_scalar_type(value), arr.dtype)
    out = arr.copy() if fits else arr.astype(np.float64)
    out[index] = value
    return out


def _huge_broadcast_photo(n: int) -> np.ndarray:
    """An ``n x n`` RGB photo that takes no memory (a read-only broadcast view)."""
    return np.broadcast_to(np.uint8(90), (n, n, 3))


# ------------------------------------------------------------------------ bad files
def _sparse(path: Path, head: bytes, data_bytes: int) -> Path:
    """``head``, then ``data_bytes`` zeros as a sparse file (no disk used)."""
    with open(path, "wb") as fh:
        fh.write(head)
        fh.truncate(len(head) + data_bytes)
    return path


def _npy_head(shape: tuple[int, ...], descr: str = "<f4") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": descr, "fortran_order": False, "shape": shape}
    )
    return buf.getvalue()


def _tiff_head(height: int, width: int, spp: int, bits: int, nbytes: int) -> bytes:
    """A minimal uncompressed one-strip TIFF header whose strip holds ``nbytes`` bytes."""
    photometric, fmt = (2, 1) if spp == 3 else (1, 3 if bits == 32 else 1)
    tags = [(256, 4, width), (257, 4, height), (258, 3, bits), (259, 3, 1),
            (262, 3, photometric), (273, 4, 0), (277, 3, spp), (278, 4, height),
            (279, 4, nbytes), (339, 3, fmt)]
    data_at = 8 + 2 + 12 * len(tags) + 4
    out = bytearray(b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", len(tags)))
    for tag, typ, value in tags:
        value = data_at if tag == 273 else value
        packed = struct.pack("<HH", value, 0) if typ == 3 else struct.pack("<I", value)
        out += struct.pack("<HHI", tag, typ, 1) + packed
    return bytes(out + struct.pack("<I", 0))


def _png_head(height: int, width: int) -> bytes:
    """A PNG signature and header chunk (IHDR) declaring an 8-bit RGB image."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk
            + struct.pack(">I", zlib.crc32(chunk)))


def _write_maps(path: Path, maps: np.ndarray) -> Path:
    if path.suffix == ".npy":
        np.save(path, maps)
    elif path.suffix == ".npz":
        np.savez(path, maps=maps, elements=np.array(ELEMENTS[: len(maps)]))
    elif path.suffix == ".tif":
        tifffile.imwrite(path, maps, photometric="minisblack")
    else:  # pragma: no cover - a mistake in the table
        raise AssertionError(path)
    return path


def _write_photo(path: Path, photo: np.ndarray) -> Path:
    if path.suffix == ".tif":
        rgb = photo.ndim == 3 and photo.shape[-1] in (3, 4)
        tifffile.imwrite(path, photo, photometric="rgb" if rgb else "minisblack")
    else:
        iio.imwrite(path, photo)
    return path


def _good_files(tmp: Path) -> dict[str, Path]:
    return {"xrf": _write_maps(tmp / "maps.npy", good_maps()),
            "rgb": _write_photo(tmp / "photo.png", good_photo())}


def _cut(path: Path, keep: float = 0.5) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def _rpl_pair(tmp: Path, *, depth: int = 100, header_depth: int | None = None,
              cut: int = 0, width: str | None = None) -> Path:
    """An 8 x 8 cube with a calibration sidecar; the header or the .raw may lie."""
    cube = np.random.default_rng(0).integers(0, 9, (8, 8, depth)).astype(np.uint16)
    rpl = tmp / "scan.rpl"
    rpl.write_text(
        f"width\t{width or 8}\nheight\t8\ndepth\t{header_depth or depth}\noffset\t0\n"
        "data-length\t2\ndata-type\tunsigned\nbyte-order\tlittle-endian\nrecord-by\tvector\n"
    )
    raw = cube.tobytes()
    (tmp / "scan.raw").write_bytes(raw[: len(raw) - cut])
    (tmp / "scan.json").write_text(
        '{"zero_ev": 0, "ev_per_channel": 100, "elements": ["Fe K"]}'
    )
    return rpl


def _h5_maps(tmp: Path) -> Path:
    h5py = pytest.importorskip("h5py")
    path = tmp / "maps.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("maps", data=good_maps())
    return path


# ----------------------------------------------------------------------------- the table
@dataclass(frozen=True)
class Expect:
    """What one entry point must say about one case.

    ``problem`` and ``fix`` are regular expressions that the message (an error,
    or for an accepted case its notes and warnings) must contain; ``None`` when
    there is nothing to say. ``xfail`` names a change needed outside the files
    this test may change.
    """

    problem: str | None
    fix: str | None
    accepted: bool = False
    xfail: str | None = None


@dataclass(frozen=True)
class Case:
    """One malformed input (see the module docstring)."""

    id: str
    expect: dict[str, Expect]
    maps: Callable[[], np.ndarray] = good_maps
    photo: Callable[[], np.ndarray] = good_photo
    scale: Any = SCALE
    api_kwargs: dict[str, Any] = field(default_factory=dict)
    #: How the CLI and the readers get the arrays: file names (the suffix is the format).
    maps_file: str = "maps.npy"
    photo_file: str = "photo.png"
    #: Or a function writing bad files: ``tmp_path -> {"xrf": ..., "rgb": ...}``.
    files: Callable[[Path], dict[str, Path]] | None = None
    cli_args: tuple[str, ...] = ()
    #: Output path for the CLI, relative to its (empty) output folder.
    out: str = "sr.tif"
    #: Called with (monkeypatch, tmp_path) first: to lower limits, deny access...
    setup: Callable[[pytest.MonkeyPatch, Path], None] | None = None
    #: Largest allocation allowed while the input is refused (MiB), or None.
    max_alloc_mib: float | None = None
    widget_config: dict[str, Any] = field(default_factory=lambda: dict(TINY))

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return self.maps(), self.photo()

    def write_files(self, tmp: Path) -> dict[str, Path]:
        if self.files is not None:
            return self.files(tmp)
        maps, photo = self.arrays()
        return {"xrf": _write_maps(tmp / self.maps_file, maps),
                "rgb": _write_photo(tmp / self.photo_file, photo)}


def refused(problem: str, fix: str, entries=("api", "cli", "widget"), **special: Expect):
    """The same refusal at ``entries``, with ``special`` ones for the others."""
    out = {e: Expect(problem, fix) for e in entries}
    out.update(special)
    return out


def accepted(problem: str | None, fix: str | None, entries=("api", "cli", "widget"),
             **special: Expect):
    """Runs at ``entries``; where ``problem`` is given, the notes must say it."""
    out = {e: Expect(problem, fix, accepted=True) for e in entries}
    out.update(special)
    return out


def _deny(name: str) -> Callable[[pytest.MonkeyPatch, Path], None]:
    """Make opening files called ``name`` fail as for a file without read permission.

    Tests run as root here, and root can read a file whatever its mode.
    """
    def setup(monkeypatch: pytest.MonkeyPatch, tmp: Path) -> None:
        real_open = builtins.open

        def guarded(file, *args, **kwargs):
            if isinstance(file, str | Path) and Path(file).name == name:
                raise PermissionError(13, "Permission denied", str(file))
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", guarded)
    return setup


def _lower_map_limit(monkeypatch: pytest.MonkeyPatch, _tmp: Path) -> None:
    monkeypatch.setattr(validation, "MAX_MAP_VALUES", 1 << 20)


def _read_only_folder(monkeypatch: pytest.MonkeyPatch, _tmp: Path) -> None:
    from napari_maxrf_sr.io import atomic

    # Root may write anywhere, so the permission check itself is what is tested.
    real_access = atomic.os.access
    monkeypatch.setattr(atomic.os, "access",
                        lambda p, mode: Path(p).name != "out" and real_access(p, mode))


CASES: list[Case] = [
    # ---- shapes, names and the scale
    Case("maps with a 4th axis", maps=lambda: good_maps()[None], expect=refused(
        r"shape \(1, 2, 8, 8\)", r"np\.squeeze\(maps\)", entries=("api", "cli", "reader"),
        widget=Expect(r"has 4 dimensions", r"2D images or a \(B, h, w\) stack"))),
    Case("element axis last", maps=lambda: np.moveaxis(good_maps(), 0, -1), scale=None,
         expect=refused(r"not a whole-number multiple of the maps \(8 x 2 px\)",
                        r"np\.moveaxis\(maps, -1, 0\)", entries=("api", "cli"),
                        widget=Expect(r"not a whole-number multiple", r"the Align step"))),
    Case("photo not a whole multiple of the maps", photo=lambda: good_photo()[:30], scale=None,
         expect=refused(r"\(30 x 32 px\) is not a whole-number multiple",
                        r"Bring the photo onto the scan's grid")),
    Case("scale not a whole number", scale=2.5, expect=refused(
        r"got 2\.5", r"whole number such as 2, 4 or 8", entries=("api",),
        cli=Expect(r"2\.5", r"whole number"))),
    Case("scale contradicts the shapes", scale=3, expect=refused(
        r"With scale 3 the photo must be 24 x 24 px", r"suggest scale 4\. Crop or resample",
        entries=("api", "cli"))),
    Case("scale zero", scale=0, expect=refused(
        r"scale must be a whole number such as 2, 4 or 8, got 0", r"Resample the photo",
        entries=("api", "cli"))),
    Case("no maps (B = 0)", maps=lambda: np.zeros((0, 8, 8), np.float32), expect=refused(
        r"There are no element maps \(B = 0\)", r"give at least one element map",
        entries=("api", "cli"))),
    Case("one name for two maps", api_kwargs={"elements": ("Pb L",)},
         cli_args=("--elements", "Pb L"), expect=refused(
             r"1 element names were given for 2 maps", r"give one name per map",
             entries=("api", "cli"))),
    Case("maps and photo swapped", expect=refused(
        r"the two seem swapped", r"Pass the maps first", entries=("api",)),
         maps=good_photo, photo=good_maps),
    # ---- values of the maps
    Case("all-zero maps", maps=lambda: np.zeros((2, 8, 8), np.float32),
         expect=accepted(r"(Pb L|map 1) is all zero", r"leave the map out")),
    Case("constant maps", maps=lambda: np.full((2, 8, 8), 7, np.float32),
         expect=accepted(r"(Pb L|map 1) has the same value \(7\) everywhere",
                         r"check that the right map was loaded")),
    Case("NaN in the maps", maps=lambda: _with(good_maps(), np.nan), maps_file="maps.tif",
         expect=refused(r"contain 1 NaN or infinite values \((Pb L|map 1) \(1 px\)\)",
                        r"np\.nan_to_num\(maps, nan=0\.0\)")),
    Case("infinity in the maps", maps=lambda: _with(good_maps(), np.inf, (1, 2, 3)),
         expect=refused(r"NaN or infinite values \((Hg L|map 2) \(1 px\)\)", r"np\.nan_to_num")),
    Case("negative counts", maps=lambda: _with(good_maps(), -3.0), expect=refused(
        r"contain negative values: map 1 \(min -3\)", r"--clip-negative",
        entries=("cli",), api=Expect(r"negative values: map 1 \(min -3\)", r"negative='clip'"),
        widget=Expect(r"negative values", r"Clip negative values"))),
    Case("negative counts, clipping asked for", maps=lambda: _with(good_maps(), -3.0),
         api_kwargs={"negative": "clip"}, cli_args=("--clip-negative",),
         expect=accepted(r"1 negative values set to 0", None, entries=("api", "cli"))),
    Case("uint64 counts near 2**64",
         maps=lambda: (good_maps().astype(np.uint64) * np.uint64(2**58)),
         expect=accepted(r"counts up to 12970366926827028480 exceed float32's exact",
                         r"rounded to about 7 significant digits", entries=("api", "widget"),
                         cli=Expect(None, None, accepted=True))),
    Case("uint32 counts at their maximum",
         maps=lambda: _with(good_maps().astype(np.uint32), 2**32 - 1),
         expect=accepted(r"counts up to 4294967295 exceed float32's exact integer range",
                         r"rounded", entries=("api", "widget"),
                         cli=Expect(None, None, accepted=True))),
    Case("int64 counts", maps=lambda: good_maps().astype(np.int64) * 10**12,
         expect=accepted(r"counts up to 45000000000000 exceed", r"rounded",
                         entries=("api", "widget"), cli=Expect(None, None, accepted=True))),
    Case("float64 values beyond float32", maps=lambda: _with(good_maps().astype(float), 1e300),
         expect=refused(r"values up to 1e\+300, too large to compute with",
                        r"Rescale them, e\.g\. maps / 1e\+294", entries=("api", "widget"),
                        cli=Expect(r"values up to 1e\+300", r"Rescale them"),
                        reader=Expect(r"values up to 1e\+300", r"Rescale them"))),
    Case("float32 values near float32's maximum", maps=lambda: _with(good_maps(), 3e38),
         maps_file="maps.tif", expect=refused(r"values up to 3e\+38, too large",
                                              r"Rescale them")),
    # ---- the photo
    Case("grey photo (H, W)", photo=lambda: good_photo()[..., 0], expect=refused(
        r"single-channel \(grey\) image", r"np\.stack\(\[grey\] \* 3, axis=-1\)",
        entries=("api", "cli", "reader"),
        widget=Expect(r"Choose a photo", r"open the colour photo of the painting as an RGB"))),
    Case("photo with one channel (H, W, 1)", photo=lambda: good_photo()[..., :1],
         photo_file="photo.tif", expect=refused(
             r"single-channel \(grey\) image", r"stack it three times",
             entries=("api", "cli", "reader"), widget=Expect(r"Choose a photo", r"RGB"))),
    Case("photo with a transparent alpha channel",
         photo=lambda: np.dstack([good_photo(), np.full((32, 32), 128, np.uint8)]),
         expect=refused(r"has a transparent alpha channel", r"Flatten it onto a background",
                        entries=("api", "cli", "reader", "widget"))),
    Case("photo with an opaque alpha channel",
         photo=lambda: np.dstack([good_photo(), np.full((32, 32), 255, np.uint8)]),
         expect=accepted(r"alpha channel \(fully opaque\) was dropped", None,
                         entries=("api", "cli", "reader", "widget"))),
    Case("photo with the channels first", photo=lambda: np.moveaxis(good_photo(), -1, 0),
         photo_file="photo.tif", expect=refused(
             r"has shape \(3, 32, 32\): channels first", r"np\.moveaxis\(rgb, 0, -1\)",
             entries=("api", "cli", "reader"))),
    Case("photo in separate colour planes (planar TIFF)", files=lambda tmp: {
        "xrf": _write_maps(tmp / "maps.npy", good_maps()),
        "rgb": _planar_tiff(tmp / "photo.tif", good_photo())},
        expect=accepted(None, None, entries=("reader", "cli"))),
    Case("16-bit photo", photo=lambda: good_photo().astype(np.uint16) * 257,
         photo_file="photo.tif", expect=accepted(None, None,
                                                 entries=("api", "cli", "reader", "widget"))),
    Case("float photo with 0-255 values", photo=lambda: good_photo().astype(np.float32),
         photo_file="photo.tif", expect=refused(
             r"must have values in \[0, 1\]; this one spans \[30, 230\]",
             r"it looks like 0-255 values: divide by 255",
             entries=("api", "cli", "reader", "widget"))),
    Case("float photo with 16-bit values",
         photo=lambda: good_photo().astype(np.float32) * 257, photo_file="photo.tif",
         expect=refused(r"spans \[7710, 5\.911e\+04\]", r"divide by 65535",
                        entries=("api", "cli", "reader", "widget"))),
    Case("NaN in the photo", photo=lambda: _with(good_photo() / 255.0, np.nan),
         photo_file="photo.tif", expect=refused(
             r"contains 1 NaN or infinite values", r"np\.nan_to_num\(rgb",
             entries=("api", "cli", "reader", "widget"))),
    Case("photo of 32-bit integers", photo=lambda: good_photo().astype(np.int32),
         photo_file="photo.tif", expect=refused(
             r"has pixel type int32", r"use 8-bit \(uint8\), 16-bit \(uint16\)",
             entries=("api", "cli", "reader", "widget"))),
    Case("empty photo", photo=lambda: np.zeros((0, 0, 3), np.float32), scale=None,
         expect=refused(r"The photo is empty", r"load the photo again", entries=("api",))),
    # ---- sizes
    Case("maps smaller than 2 x 2", maps=lambda: good_maps()[:, :1, :1],
         photo=lambda: good_photo(4), scale=None, expect=refused(
             r"are 1 x 1 pixels: at least 2 x 2 are needed", r"check that the axes are")),
    Case("scan smaller than one patch", maps=lambda: good_maps()[:, 4:6, 3:5],
         photo=lambda: good_photo(8), scale=None,
         api_kwargs={"config": {**TINY, "stage2_steps": 2}},
         cli_args=("--method", "adun", "--preset", "fast", "--max-seconds", "1"),
         widget_config={**TINY, "stage2_steps": 2},
         expect=accepted(r"Stage 2 patches are 8 px \(whole scan pixels\), not \d+", None,
                         entries=("api", "cli"), widget=Expect(None, None, accepted=True))),
    Case("enormous photo", maps=lambda: np.broadcast_to(np.float32(5), (1, 12500, 12500)),
         photo=lambda: _huge_broadcast_photo(50000), max_alloc_mib=200,
         files=lambda tmp: {
             "xrf": _sparse(tmp / "maps.npy", _npy_head((1, 1250, 1250)), 1250 * 1250 * 4),
             "rgb": _sparse(tmp / "photo.png", _png_head(50000, 50000), 1000)},
         expect=refused(r"2500 megapixels", r"Work on a crop",
                        entries=("api", "cli", "reader", "widget"))),
    Case("enormous maps", maps=lambda: np.broadcast_to(np.float32(5), (24, 4800, 4800)),
         photo=lambda: _huge_broadcast_photo(4800), scale=1, max_alloc_mib=50,
         files=lambda tmp: {
             "xrf": _sparse(tmp / "maps.npy", _npy_head((1, 40000, 40000)), 40000**2 * 4),
             "rgb": _write_photo(tmp / "photo.png", good_photo())},
         expect=refused(r"values \(\d+\.\d GiB as 32-bit floats\), more than are loaded at once",
                        r"Work on a crop of the scan, or on fewer elements",
                        entries=("api", "cli", "reader", "napari_reader"))),
    Case("enormous maps, limit lowered for the widget", setup=_lower_map_limit,
         maps=lambda: np.broadcast_to(np.float32(5), (1, 2048, 2048)),
         photo=lambda: _huge_broadcast_photo(2048), scale=1, max_alloc_mib=8,
         expect=refused(r"more than are loaded at once", r"Work on a crop", entries=("api",),
                        widget=Expect(r"more than are loaded at once", r"Work on a crop"))),
    # ---- damaged files
    Case("truncated TIFF of maps", files=lambda tmp: {
        "xrf": _cut(write_element_stack(tmp / "maps.tif", good_maps(), ELEMENTS)),
        "rgb": _write_photo(tmp / "photo.png", good_photo())},
        expect=refused(r"maps\.tif' is truncated", r"Copy the file again",
                       entries=("reader", "napari_reader", "cli"))),
    Case("truncated .npy of maps", files=lambda tmp: {
        **_good_files(tmp), "xrf": _cut(_write_maps(tmp / "maps.npy", good_maps()))},
        expect=refused(r"is truncated: its header describes a 2 x 8 x 8 array",
                       r"Copy the file again", entries=("reader", "napari_reader", "cli"))),
    Case("truncated .npz of maps", files=lambda tmp: {
        **_good_files(tmp), "xrf": _cut(_write_maps(tmp / "maps.npz", good_maps()))},
        expect=refused(r"is damaged or truncated, or is not a NumPy \.npz \(zip\) file",
                       r"Copy the file again", entries=("reader", "napari_reader", "cli"))),
    Case("truncated HDF5 of maps", files=lambda tmp: {
        **_good_files(tmp), "xrf": _cut(_h5_maps(tmp))},
        expect=refused(r"is damaged or truncated, or is not a HDF5 file",
                       r"Copy the file again", entries=("reader", "cli"))),
    Case("truncated .raw of a spectral cube", files=lambda tmp: {
        **_good_files(tmp), "xrf": _rpl_pair(tmp, cut=10)},
        expect=refused(r"the file is shorter than the header says",
                       r"Copy the file again or correct the header",
                       entries=("reader", "napari_reader", "cli"))),
    Case("truncated PNG photo", files=lambda tmp: {
        **_good_files(tmp), "rgb": _cut(_write_photo(tmp / "photo.png", good_photo()))},
        expect=refused(r"photo\.png' is damaged or truncated", r"Copy the file again",
                       entries=("reader", "cli"))),
    Case("truncated JPEG photo", files=lambda tmp: {
        **_good_files(tmp), "rgb": _cut(_write_photo(tmp / "photo.jpg", good_photo()))},
        expect=refused(r"photo\.jpg' is damaged or truncated", r"Copy the file again",
                       entries=("reader", "cli"))),
    Case("TIFF header promising more data than the file holds", max_alloc_mib=50,
         files=lambda tmp: {
             **_good_files(tmp),
             "xrf": _sparse(tmp / "Pb-L.tif", _tiff_head(60000, 60000, 1, 32, 100), 100)},
         expect=refused(r"page 1 is 60000 x 60000 pixels \(14,400,000,000 bytes\), but its "
                        r"header points to only 100 bytes", r"Copy the file again",
                        entries=("reader", "napari_reader", "cli"))),
    Case(".npy header promising more data than the file holds", max_alloc_mib=50,
         files=lambda tmp: {
             **_good_files(tmp),
             "xrf": _sparse(tmp / "maps.npy", _npy_head((1, 60000, 60000)), 100)},
         expect=refused(r"1 x 60000 x 60000 array of float32 \(14,400,000,000 bytes\), but "
                        r"only 100 bytes follow", r"Copy the file again",
                        entries=("reader", "napari_reader", "cli"))),
    Case(".rpl header that does not fit its .raw", files=lambda tmp: {
        **_good_files(tmp), "xrf": _rpl_pair(tmp, header_depth=50)},
        expect=refused(r"the file is longer than the header says",
                       r"The file would fit depth 100\. Copy the file again or correct",
                       entries=("reader", "napari_reader", "cli"))),
    Case(".rpl header with a size that is not a number", files=lambda tmp: {
        **_good_files(tmp), "xrf": _rpl_pair(tmp, width="8x")},
        expect=refused(r"has a size that is not a whole number", r"Correct the header",
                       entries=("reader", "napari_reader", "cli"))),
    Case(".raw data renamed .rpl", files=lambda tmp: {
        **_good_files(tmp), "xrf": _sparse(tmp / "scan.rpl", b"\x00", 3 << 20)},
        expect=refused(r"far too large for a \.rpl text header: is it the \.raw data",
                       r"Give the small \.rpl file", entries=("reader", "napari_reader", "cli"))),
    Case("random bytes named .tif", files=lambda tmp: {
        **_good_files(tmp), "xrf": _random(tmp / "Pb-L.tif")},
        expect=refused(r"is not a TIFF file", r"Copy the file again",
                       entries=("reader", "napari_reader", "cli"))),
    Case("text file named .npy", files=lambda tmp: {
        **_good_files(tmp), "xrf": _text(tmp / "maps.npy")},
        expect=refused(r"is not a readable NumPy \.npy array", r"Save the array again",
                       entries=("reader", "napari_reader", "cli"))),
    Case("the photo given as the maps", files=lambda tmp: {
        "xrf": _write_photo(tmp / "maps.tif", good_photo()),
        "rgb": _write_photo(tmp / "photo.png", good_photo())},
        expect=refused(r"is a colour \(RGB\) image, not element maps",
                       r"Open it as the photo", entries=("reader", "cli"))),
    Case("the maps given as the photo", files=lambda tmp: {
        "xrf": _write_maps(tmp / "maps.npy", good_maps()),
        "rgb": write_element_stack(tmp / "photo.tif", good_maps(), ELEMENTS)},
        expect=refused(r"holds 2 element maps \(Pb L, Hg L\.\.\.\), not a colour photo",
                       r"Give it as the element maps", entries=("reader", "cli"))),
    # ---- paths
    Case("maps file that does not exist", files=lambda tmp: {
        **_good_files(tmp), "xrf": tmp / "nope.tif"},
        expect=refused(r"nope\.tif' does not exist", r"Check the path",
                       entries=("reader", "cli"))),
    Case("photo file that does not exist", files=lambda tmp: {
        **_good_files(tmp), "rgb": tmp / "nope.png"},
        expect=refused(r"The photo .*nope\.png' does not exist", r"Check the path",
                       entries=("reader", "cli"))),
    Case("folder without maps", files=lambda tmp: {
        **_good_files(tmp), "xrf": _folder(tmp / "scan")},
        expect=refused(r"No element maps found in .*scan'",
                       r"expected single-channel TIFF or PNG images named by element",
                       entries=("reader", "cli"))),
    Case("maps file without read permission", setup=_deny("maps.npy"),
         expect=refused(r"Cannot read .*maps\.npy': permission denied",
                        r"Check the file's permissions", entries=("reader", "cli"))),
    Case("photo without read permission", setup=_deny("photo.tif"), photo_file="photo.tif",
         expect=refused(r"Cannot read .*photo\.tif': permission denied",
                        r"Check the file's permissions", entries=("reader", "cli"))),
    # ---- the output of the command line
    Case("output folder that does not exist", out="missing/sr.tif", expect=refused(
        r"missing' does not exist", r"Create it first or choose another output location",
        entries=("cli",))),
    Case("output folder without write permission", setup=_read_only_folder,
         expect=refused(r"Cannot write to the folder .*out' \(no write permission\)",
                        r"Choose another output folder", entries=("cli",))),
    Case("output path that is a folder", out="taken", expect=refused(
        r"taken' is a folder, not a file", r"give the name of a file to write",
        entries=("cli",))),
    Case("output that is not a TIFF", out="sr.png", expect={"cli": Expect(
        r"TIFF", r"\.tif")}),
]


def _planar_tiff(path: Path, photo: np.ndarray) -> Path:
    tifffile.imwrite(path, np.moveaxis(photo, -1, 0), photometric="rgb",
                     planarconfig="separate")
    return path


def _random(path: Path) -> Path:
    path.write_bytes(np.random.default_rng(7).bytes(500))
    return path


def _text(path: Path) -> Path:
    path.write_text("Pb L\t12\t15\nHg L\t3\t4\n")
    return path


def _folder(path: Path) -> Path:
    path.mkdir()
    (path / "notes.txt").write_text("scan of the panel")
    return path


# ---- other programs' formats and OME-Zarr pyramids (issue 14), at the end of the table
def _dms(tmp: Path, *, cut: int = 0, size_line: bytes | None = None) -> Path:
    from .test_io_formats import to_dms

    path = to_dms(str(tmp), "scan", good_maps(), list(ELEMENTS))
    data = path.read_bytes()
    if size_line is not None:
        data = b"2\n" + size_line + data[data.index(b"\n", 2) + 1 :]
    path.write_bytes(data[: len(data) - cut])
    return path


def _edf(tmp: Path, cut: int = 0) -> Path:
    pytest.importorskip("fabio")
    from .test_io_formats import pymca_edf

    path = pymca_edf(tmp / "scan.edf", list(good_maps()), ["Pb_L", "Hg_L"])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - cut])
    return path


def _edf_head(height: int, width: int) -> bytes:
    head = (f"{{\nHeaderID = EH:000001:000000:000000 ;\nImage = 1 ;\nByteOrder = "
            f"LowByteFirst ;\nDataType = FloatValue ;\nDim_1 = {width} ;\nDim_2 = {height} "
            f";\nSize = {4 * width * height} ;\nTitle = Pb_L ;\n").encode()
    return head + b" " * (510 - len(head)) + b"}\n"


def _pymca_h5(tmp: Path) -> Path:
    from .test_io_formats import pymca_h5

    maps = good_maps()
    path = pymca_h5(tmp / "scan.h5", {"parameters": {"Pb_L": maps[0], "Hg_L": maps[1]}})
    return _cut(path)


def _datastack(tmp: Path, *, maps: bool = True, cut: int = 0) -> Path:
    from .test_io_formats import maxrf4u_datastack

    arrays = {"maxrf_sumspectrum": np.ones(16, np.float32)}
    if maps:
        arrays.update(nmf_elementmaps=good_maps(), nmf_atomnums=np.array([82, 80]))
    path = maxrf4u_datastack(tmp / "scan.datastack", arrays)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - cut])
    return path


def _incomplete_ome_zarr(tmp: Path) -> Path:
    from napari_maxrf_sr.io.omezarr import write_ome_zarr

    path = write_ome_zarr(tmp / "scan.ome.zarr", good_maps(), ELEMENTS, role="lr_map")
    sorted(f for f in (path / "0").rglob("*") if f.is_file() and f.name[0] != ".")[0].unlink()
    return path


CASES += [
    Case("truncated .dms cube", files=lambda tmp: {**_good_files(tmp), "xrf": _dms(tmp, cut=40)},
         expect=refused(r"scan\.dms' is truncated: the header's 2 maps of 8 x 8 float32 values",
                        r"Copy the file again", entries=("reader", "napari_reader", "cli"))),
    Case(".dms header promising more data than the file holds", max_alloc_mib=50,
         files=lambda tmp: {**_good_files(tmp), "xrf": _dms(tmp, size_line=b"60000 60000 21\n")},
         expect=refused(r"21 maps of 60000 x 60000 float32 values needs 302,400,000,\d+ bytes",
                        r"Copy the file again", entries=("reader", "napari_reader", "cli"))),
    Case(".dms size line that is not numbers", files=lambda tmp: {
        **_good_files(tmp), "xrf": _dms(tmp, size_line=b"8 eight 2\n")},
        expect=refused(r"not a Datamuncher/XRF-Explorer \.dms element cube",
                       r"Export the cube again", entries=("reader", "napari_reader", "cli"))),
    Case("truncated PyMca EDF", files=lambda tmp: {**_good_files(tmp), "xrf": _edf(tmp, 100)},
         expect=refused(r"scan\.edf' is truncated: image 2 needs", r"Copy the file again",
                        entries=("reader", "napari_reader", "cli"))),
    Case("EDF header promising more data than the file holds", max_alloc_mib=50,
         files=lambda tmp: {**_good_files(tmp),
                            "xrf": _sparse(tmp / "scan.edf", _edf_head(60000, 60000), 100)},
         expect=refused(r"scan\.edf' is truncated: image 1 needs 14,400,000,512 bytes",
                        r"Copy the file again", entries=("reader", "napari_reader", "cli"))),
    Case("truncated PyMca HDF5", files=lambda tmp: {**_good_files(tmp), "xrf": _pymca_h5(tmp)},
         expect=refused(r"scan\.h5' is damaged or truncated", r"Copy the file again",
                        entries=("reader", "napari_reader", "cli"))),
    Case("truncated maxrf4u datastack", files=lambda tmp: {
        **_good_files(tmp), "xrf": _datastack(tmp, cut=300)},
        expect=refused(r"scan\.datastack' is damaged or truncated", r"Copy the file again",
                       entries=("reader", "napari_reader", "cli"))),
    Case("maxrf4u datastack without element maps", files=lambda tmp: {
        **_good_files(tmp), "xrf": _datastack(tmp, maps=False)},
        expect=refused(r"holds no element maps yet", r"compute_nmf_element_maps",
                       entries=("reader", "napari_reader", "cli"))),
    Case("OME-Zarr copy with a chunk missing", files=lambda tmp: {
        **_good_files(tmp), "xrf": _incomplete_ome_zarr(tmp)},
        expect=refused(r"scan\.ome\.zarr' is incomplete: level 0 has 1 of its 2 chunk files",
                       r"Copy the whole folder again", entries=("reader", "napari_reader",
                                                                "cli"))),
    Case("--scheduler with a TIFF output", cli_args=("--scheduler", "tcp://127.0.0.1:9"),
         expect={"cli": Expect(r"--scheduler writes a resolution pyramid",
                               r"give --out a \.ome\.zarr name")}),
    Case("output named like an input, with --force", out="../in/maps.npy",
         cli_args=("--force",), expect={"cli": Expect(r"is one of the inputs",
                                                      r"give another name")}),
]


def _params(entry: str) -> list:
    """The table's rows for one entry point, with their xfail marks."""
    out = []
    for case in CASES:
        exp = case.expect.get(entry)
        if exp is None:
            continue
        marks = [pytest.mark.xfail(strict=True, reason=exp.xfail)] if exp.xfail else []
        out.append(pytest.param(case, exp, id=case.id, marks=marks))
    return out


def test_table_is_consistent():
    """Every row names real entry points, a problem and a fix for each refusal."""
    assert len({c.id for c in CASES}) == len(CASES)
    for case in CASES:
        assert case.expect and set(case.expect) <= set(ENTRIES), case.id
        for exp in case.expect.values():
            assert exp.accepted or (exp.problem and exp.fix), case.id


# ---------------------------------------------------------------------------- checks
def _assert_message(text: str, exp: Expect) -> None:
    """The message names the problem and says what to do."""
    for pattern in (exp.problem, exp.fix):
        if pattern is not None:
            assert re.search(pattern, text), f"{pattern!r} not in:\n{text}"


def _forbid_training(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the start of training fail the test: bad input must be refused before."""
    from napari_maxrf_sr.core import train

    def trap(*args, **kwargs):
        raise AssertionError("training started on input that should have been refused")

    monkeypatch.setattr(train, "_run", trap)


class _PeakMemory:
    """Largest allocation traced while the block runs (NumPy reports its buffers)."""

    def __init__(self, limit_mib: float | None) -> None:
        self.limit = limit_mib

    def __enter__(self) -> _PeakMemory:
        if self.limit is not None:
            tracemalloc.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.limit is not None:
            peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
            if exc[0] is None or issubclass(exc[0], InputError | SystemExit):
                assert peak < self.limit, f"{peak:.0f} MiB allocated before refusing"


def _snapshot(arr: np.ndarray) -> np.ndarray | None:
    """A copy to compare with afterwards (read-only broadcast views cannot change)."""
    return None if not arr.flags.writeable else arr.copy()


def _unchanged(arr: np.ndarray, before: np.ndarray | None) -> None:
    if before is not None:
        np.testing.assert_array_equal(arr, before)


def _digest(paths: dict[str, Path]) -> dict[str, str]:
    out = {}
    for key, p in paths.items():
        if p.is_file() and p.stat().st_blocks * 512 >= p.stat().st_size:  # not sparse
            out[key] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


# ----------------------------------------------------------------------- entry points
@pytest.mark.parametrize(("case", "exp"), _params("api"))
def test_api(case: Case, exp: Expect, monkeypatch, tmp_path):
    if case.setup:
        case.setup(monkeypatch, tmp_path)
    maps, photo = case.arrays()
    before = _snapshot(maps), _snapshot(photo)
    kwargs = {"config": TINY, "device": "cpu", **case.api_kwargs}
    if not exp.accepted:
        _forbid_training(monkeypatch)
        with _PeakMemory(case.max_alloc_mib), pytest.raises(InputError) as info:
            super_resolve(maps, photo, case.scale, **kwargs)
        _assert_message(str(info.value), exp)
    else:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = super_resolve(maps, photo, case.scale, **kwargs)
        said = [str(w.message) for w in caught] + list(result.diagnostics["notes"])
        _assert_message("\n".join(said), exp)
        assert result.maps.shape[1:] == np.shape(photo)[:2]
        assert np.isfinite(result.maps).all()
    _unchanged(maps, before[0])
    _unchanged(photo, before[1])


@pytest.mark.parametrize(("case", "exp"), _params("reader"))
def test_reader(case: Case, exp: Expect, monkeypatch, tmp_path):
    files = case.write_files(tmp_path)
    if case.setup:
        case.setup(monkeypatch, tmp_path)
    kwargs = {}
    if files["xrf"].suffix == ".rpl":
        kwargs = {"elements": ("Fe K",), "zero_ev": 0, "ev_per_channel": 100}
    if not exp.accepted:
        with _PeakMemory(case.max_alloc_mib), pytest.raises((InputError, OSError)) as info:
            read_element_maps(files["xrf"], **kwargs)
            read_photo(files["rgb"])
        assert isinstance(info.value, InputError | FileNotFoundError), repr(info.value)
        _assert_message(str(info.value), exp)
    else:
        maps, _, meta = read_element_maps(files["xrf"], **kwargs)
        photo, notes = read_photo(files["rgb"])
        _assert_message("\n".join(notes + meta["notes"]), exp)
        np.testing.assert_array_equal(maps, good_maps())
        np.testing.assert_array_equal(photo[..., :3] // (257 if photo.dtype == np.uint16 else 1),
                                      good_photo())


@pytest.mark.parametrize(("case", "exp"), _params("napari_reader"))
def test_napari_reader(case: Case, exp: Expect, monkeypatch, tmp_path):
    from napari_maxrf_sr._napari.reader import get_reader

    files = case.write_files(tmp_path)
    if case.setup:
        case.setup(monkeypatch, tmp_path)
    with _PeakMemory(case.max_alloc_mib), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reader = get_reader(str(files["xrf"]))  # must not raise
    assert reader is None, "a file that cannot be read must be left to other readers"
    _assert_message("\n".join(str(w.message) for w in caught), exp)


@pytest.mark.parametrize(("case", "exp"), _params("cli"))
def test_cli(case: Case, exp: Expect, monkeypatch, tmp_path, capsys):
    inputs = tmp_path / "in"
    inputs.mkdir()
    files = case.write_files(inputs)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "taken").mkdir()
    out = out_dir / case.out
    digests = _digest(files)
    if case.setup:
        case.setup(monkeypatch, inputs)
    argv = ["run", "--xrf", str(files["xrf"]), "--rgb", str(files["rgb"]), "--out", str(out),
            "--quiet", "--device", "cpu"]
    if case.scale is not None:
        argv += ["--scale", str(case.scale)]
    if not exp.accepted:
        _forbid_training(monkeypatch)
        argv += ["--preset", "fast", "--max-seconds", "1", *case.cli_args]
        with _PeakMemory(case.max_alloc_mib):
            try:
                code = main(argv)
            except SystemExit as exc:  # argparse: a bad command line
                code = exc.code
        err = capsys.readouterr().err
        assert code != 0, err
        _assert_message(err, exp)
        left = sorted(str(p.relative_to(out_dir)) for p in out_dir.rglob("*"))
        assert left == ["taken"], f"files left behind: {left}"
    else:
        if "--method" not in case.cli_args:
            argv += ["--method", "bicubic_projected"]
        code = main(argv + list(case.cli_args))
        err = capsys.readouterr().err
        assert code == 0, err
        _assert_message(err, exp)
        maps, _, _ = read_element_maps(out)
        assert np.isfinite(maps).all()
        assert sorted(p.name for p in out_dir.iterdir()) == sorted(["taken", out.name])
    assert _digest(files) == digests, "an input file was changed"


@pytest.mark.viewer
@pytest.mark.parametrize(("case", "exp"), _params("widget"))
def test_widget(case: Case, exp: Expect, monkeypatch, tmp_path, qtbot):
    from napari.components import ViewerModel

    from napari_maxrf_sr._napari.sr_widget import SuperResolutionWidget

    if case.setup:
        case.setup(monkeypatch, tmp_path)
    viewer = ViewerModel()
    maps, photo = case.arrays()
    if maps.ndim == 3:
        for name, plane in zip(ELEMENTS, maps, strict=False):
            viewer.add_image(plane, name=name,
                             metadata={"maxrf_sr": {"role": "lr_map", "element": name}})
    else:
        viewer.add_image(maps, name="maps", metadata={"maxrf_sr": {"role": "lr_map"}})
    viewer.add_image(photo, name="photo", rgb=photo.ndim == 3 and photo.shape[-1] in (3, 4))
    layers_before = [(layer.name, _snapshot(np.asarray(layer.data))) for layer in viewer.layers]
    w = SuperResolutionWidget(viewer)
    qtbot.addWidget(w)
    w.preset_combo.setCurrentText("fast")
    w.set_advanced(**case.widget_config)
    if not exp.accepted:
        _forbid_training(monkeypatch)
        with _PeakMemory(case.max_alloc_mib):
            w.start()  # must not raise
        assert not w.running
        _assert_message(w.status_label.text(), exp)
        assert [layer.name for layer in viewer.layers] == [n for n, _ in layers_before]
    else:
        w.start()
        assert w.running, w.status_label.text()
        _assert_message(w.status_label.text(), exp)  # "Starting: <notes>"
        qtbot.waitUntil(lambda: not w.running, timeout=60_000)
        added = [layer for layer in viewer.layers if layer.name.endswith(" (SR)")]
        assert len(added) == 2, w.status_label.text()
        assert all(np.isfinite(layer.data).all() for layer in added)
    for name, data in layers_before:
        _unchanged(np.asarray(viewer.layers[name].data), data)
