"""The malformed-input table's vocabulary: good inputs, bad files, ``Case`` and ``Expect``.

See ``tests/test_malformed_inputs.py``, which drives every row through every entry point.
"""

from __future__ import annotations

import builtins
import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile

from napari_maxrf_sr.core import validation

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
    #: Largest allocation allowed while the input is refused or read (MiB), or None.
    max_alloc_mib: float | None = None
    widget_config: dict[str, Any] = field(default_factory=lambda: dict(TINY))
    #: The maps an accepted file must read as (default: ``good_maps()``).
    expected_maps: Callable[[], np.ndarray] | None = None
    #: The CLI's ``--out`` (and ``--save-model``): ``(out_dir, files) -> argv``; may
    #: make links in ``out_dir`` first.
    cli_out: Callable[[Path, dict[str, Path]], list[str]] | None = None

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
    from napari_maxrf_sr import atomic

    # Root may write anywhere, so the permission check itself is what is tested.
    real_access = atomic.os.access
    monkeypatch.setattr(atomic.os, "access",
                        lambda p, mode: Path(p).name != "out" and real_access(p, mode))



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


