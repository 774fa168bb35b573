"""The malformed-input table, second part: the cases of issue 13 (reliability, round two).

Every id starts with ``issue13`` (``pytest -k issue13`` runs them). Cases that need
more than one entry point's table (a write that fails after training, SIGTERM, stale
temporary files, ``apply`` and ``simulate``) are in ``test_reliability.py``.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import tifffile
from PIL import Image

from .malformed_table import (
    ELEMENTS,
    Case,
    Expect,
    _good_files,
    _lower_map_limit,
    _rpl_pair,
    accepted,
    good_maps,
    good_photo,
    refused,
)

# ----------------------------------------------------------------------------- files


def _with_maps(tmp: Path, xrf: Path) -> dict[str, Path]:
    """The good photo (photo.png) with these maps (which must not be maps.npy)."""
    return {**_good_files(tmp), "xrf": xrf}


def _with_photo(tmp: Path, rgb: Path) -> dict[str, Path]:
    """The good maps (maps.npy) with this photo (which must not be photo.png)."""
    return {**_good_files(tmp), "rgb": rgb}


def _h5_empty(tmp: Path, shape=(2, 1024, 1024)) -> Path:
    """A tiny compressed HDF5 file declaring a large float64 stack (no chunk written)."""
    path = tmp / "maps.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("maps", shape=shape, dtype="f8", compression="gzip",
                         chunks=(1, 256, 256))
    return path


def _tiff_zeros(tmp: Path, side: int = 1024) -> Path:
    """A zlib-compressed float64 TIFF of zeros: a few kB that decode to ``side**2 * 8`` bytes."""
    path = tmp / "Pb-L.tif"
    tifffile.imwrite(path, (np.zeros((256, 256)) for _ in range((side // 256) ** 2)),
                     shape=(side, side), dtype=np.float64, tile=(256, 256),
                     compression="zlib", photometric="minisblack")
    return path


def _npz_extra(tmp: Path, member: str, data: bytes | None = None) -> Path:
    """``maps.npz`` with good maps, names, and one extra compressed member."""
    path = tmp / "maps.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key, arr in (("maps", good_maps()), ("elements", np.array(ELEMENTS))):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, arr)
            zf.writestr(f"{key}.npy", buf.getvalue())
        if data is None:  # 80 MB of complex zeros
            buf = io.BytesIO()
            np.lib.format.write_array_header_1_0(
                buf, {"descr": "<c16", "fortran_order": False, "shape": (5 << 20,)})
            data = buf.getvalue() + bytes(80 << 20)
        zf.writestr(member, data)
    return path


def _rpl_sidecar(tmp: Path, text: str, **pair) -> Path:
    rpl = _rpl_pair(tmp, **pair)
    (tmp / "scan.json").write_text(text)
    return rpl


def _rpl_header_extra(tmp: Path, line: str) -> Path:
    rpl = _rpl_pair(tmp)
    rpl.write_text(rpl.read_text() + line + "\n")
    (tmp / "scan.json").write_text('{"elements": ["Fe K"], "ev_per_channel": 100}')
    return rpl


def _rpl_many_windows(tmp: Path, n: int = 300) -> Path:
    """A 64 x 64 cube and a sidecar naming ``n`` windows (distinct custom lines)."""
    rpl = tmp / "scan.rpl"
    rpl.write_text("width\t64\nheight\t64\ndepth\t4\noffset\t0\ndata-length\t1\n"
                   "data-type\tunsigned\nbyte-order\tdont-care\nrecord-by\tvector\n")
    (tmp / "scan.raw").write_bytes(bytes(64 * 64 * 4))
    names = [f"line {i}" for i in range(n)]
    (tmp / "scan.json").write_text(json.dumps({
        "zero_ev": 0, "ev_per_channel": 10, "window_ev": 30, "elements": names,
        "lines": {k: 0.01 for k in names}}))
    return rpl


def _planar_float(tmp: Path) -> Path:
    """Three maps saved with tifffile's defaults: one planar RGB-tagged float32 page."""
    path = tmp / "maps.tif"
    tifffile.imwrite(path, _three_maps())
    return path


def _three_maps() -> np.ndarray:
    return np.concatenate([good_maps(), good_maps()[:1] * 2])


def _page_then_series(tmp: Path) -> Path:
    path = tmp / "maps.tif"
    four = np.concatenate([good_maps(), good_maps()])
    with tifffile.TiffWriter(path) as tw:
        tw.write(four[0], photometric="minisblack")
        tw.write(four[1:], photometric="minisblack")
    return path


def _map_folder(tmp: Path, names=("Hg-L.tif", "Pb-L.tif")) -> Path:
    """A folder of one TIFF per map (sorted by name, the files hold good_maps() in order)."""
    folder = tmp / "scan"
    folder.mkdir()
    for name, plane in zip(names, good_maps(), strict=True):
        tifffile.imwrite(folder / name, plane)
    return folder


def _truncated_map_folder(tmp: Path) -> Path:
    folder = _map_folder(tmp)
    data = (folder / "Pb-L.tif").read_bytes()
    (folder / "Pb-L.tif").write_bytes(data[: len(data) // 2])
    return folder


def _duplicate_folder(tmp: Path) -> Path:
    folder = _map_folder(tmp)
    tifffile.imwrite(folder / "Pb_L.tif", good_maps()[1])
    return folder


def _latin1_folder(tmp: Path) -> Path:
    """Two maps, the second in a file whose name has a Latin-1 byte (not UTF-8)."""
    return _map_folder(tmp, ("Pb-L.tif", os.fsdecode(b"Zn-K\xe9.tif")))


def _sidecar_folder(tmp: Path, files) -> Path:
    folder = _map_folder(tmp)
    (folder / "elements.json").write_text(json.dumps({"files": files}))
    return folder


def _h5_two_stacks(tmp: Path) -> Path:
    path = tmp / "maps.h5"
    with h5py.File(path, "w") as f:
        f["a"] = good_maps()
        f["b"] = good_maps()
    return path


def _h5_external_link(tmp: Path) -> Path:
    other = tmp / "other.h5"
    with h5py.File(other, "w") as f:
        f["maps"] = good_maps()
    path = tmp / "maps.h5"
    with h5py.File(path, "w") as f:
        f["maps"] = h5py.ExternalLink(str(other), "/maps")
    return path


def _h5_external_storage(tmp: Path) -> Path:
    raw = tmp / "values.bin"
    raw.write_bytes(good_maps().tobytes())
    path = tmp / "maps.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("maps", shape=(2, 8, 8), dtype="<f4",
                         external=[(str(raw), 0, raw.stat().st_size)])
    return path


def _fifo(path: Path) -> Path:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no named pipes on this system")
    os.mkfifo(path)
    return path


def _ome_set(tmp: Path) -> Path:
    path = tmp / "maps.ome.tif"
    tifffile.imwrite(path, good_maps(), ome=True, metadata={"axes": "CYX"})
    with tifffile.TiffFile(path) as tif:
        xml = tif.ome_metadata
    xml = xml.replace('<TiffData IFD="0" PlaneCount="2"/>',
                      '<TiffData IFD="0" PlaneCount="1"/><TiffData FirstC="1" PlaneCount="1">'
                      '<UUID FileName="maps_2.ome.tif">urn:uuid:0</UUID></TiffData>')
    tifffile.tiffcomment(path, xml)
    return path


def _oriented_png(tmp: Path) -> Path:
    """The good photo stored turned, with an EXIF tag saying 'turn 90 degrees clockwise'."""
    path = tmp / "turned.png"
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(np.ascontiguousarray(np.rot90(good_photo(), 1))).save(path, exif=exif)
    return path


def _oriented_tiff(tmp: Path) -> Path:
    path = tmp / "turned.tif"
    tifffile.imwrite(path, np.ascontiguousarray(good_photo()[::-1, ::-1]), photometric="rgb",
                     extratags=[(274, 3, 1, 3, True)])  # Orientation 3: turned 180 degrees
    return path


def _cmyk_jpeg(tmp: Path) -> Path:
    path = tmp / "cmyk.jpg"
    Image.fromarray(good_photo()).convert("CMYK").save(path)
    return path


def _cmyk_tiff(tmp: Path) -> Path:
    path = tmp / "cmyk.tif"
    cmyk = np.asarray(Image.fromarray(good_photo()).convert("CMYK"))
    tifffile.imwrite(path, cmyk, photometric="separated")
    return path


def _out_is(key: str, option: str = "--out", via: str = "path"):
    """``--out`` (or ``--save-model``) naming an input: as given, through a link, or ./-ed."""
    def args(out_dir: Path, files: dict[str, Path]) -> list[str]:
        target = files[key]
        if via == "link":
            link = out_dir / "result.tif"
            link.symlink_to(target)
            target = link
        elif via == "dot":
            target = Path(os.path.relpath(target, Path.cwd()))
            target = Path(".") / target if not target.is_absolute() else target
        extra = ["--out", str(out_dir / "sr.tif")] if option != "--out" else []
        return [*extra, option, str(target), "--force"]
    return args


def _dangling_out(out_dir: Path, files: dict[str, Path]) -> list[str]:
    link = out_dir / "sr.tif"
    link.symlink_to(out_dir / "gone" / "sr.tif")
    return ["--out", str(link)]


_SAME = r"is the file .* of --(xrf|rgb): writing it would replace an input"
_ANOTHER = r"Choose another name for --(out|save-model)"

# ----------------------------------------------------------------------------- rows
CASES: list[Case] = [
    # ---- data loss: an output is never an input
    Case("issue13 --out is the maps file, with --force", cli_out=_out_is("xrf"),
         maps_file="maps.tif", expect={"cli": Expect(_SAME, _ANOTHER)}),
    Case("issue13 --out is a link to the photo", cli_out=_out_is("rgb", via="link"),
         expect={"cli": Expect(_SAME, _ANOTHER)}),
    Case("issue13 --out is the maps file as ./maps.tif", cli_out=_out_is("xrf", via="dot"),
         maps_file="maps.tif", expect={"cli": Expect(_SAME, _ANOTHER)}),
    Case("issue13 --save-model is the maps file", cli_out=_out_is("xrf", "--save-model"),
         expect={"cli": Expect(_SAME, _ANOTHER)}),
    # ---- small files that declare gigabytes
    Case("issue13 compressed HDF5 declaring a stack beyond the limit", max_alloc_mib=20,
         setup=_lower_map_limit, files=lambda tmp: _with_maps(tmp, _h5_empty(tmp)),
         expect=refused(r"hold 2 x 1024 x 1024 = 2,097,152 values", r"Work on a crop",
                        entries=("reader", "napari_reader", "cli"))),
    Case("issue13 zlib TIFF of float64 zeros beyond the limit", max_alloc_mib=20,
         setup=_lower_map_limit, files=lambda tmp: _with_maps(tmp, _tiff_zeros(tmp, 2048)),
         expect=refused(r"hold 1 x 2048 x 2048 = 4,194,304 values", r"Work on a crop",
                        entries=("reader", "napari_reader", "cli"))),
    Case("issue13 .npz with an extra complex member", max_alloc_mib=20,
         files=lambda tmp: _with_maps(tmp, _npz_extra(tmp, "extra.npy")),
         expect=accepted(r"not read from maps\.npz, as not element maps: 'extra' "
                         r"\(complex128, 5242880\)", None, entries=("reader", "cli"))),
    Case("issue13 .npz with a member that is not .npy", max_alloc_mib=20,
         files=lambda tmp: _with_maps(tmp, _npz_extra(tmp, "extra", bytes(80 << 20))),
         expect=accepted(r"skipped 'extra' in maps\.npz: not a NumPy array", None,
                         entries=("reader", "cli"))),
    Case("issue13 .rpl sidecar naming one element 600 times", files=lambda tmp: _with_maps(
        tmp, _rpl_sidecar(tmp, json.dumps({"zero_ev": 0, "ev_per_channel": 100,
                                            "elements": ["Fe K"] * 600}))),
         expect=refused(r"'Fe K' named more than once", r"give each element \(line\) once",
                        entries=("napari_reader", "cli"))),
    Case("issue13 .rpl windows beyond the limit", setup=_lower_map_limit, max_alloc_mib=20,
         files=lambda tmp: _with_maps(tmp, _rpl_many_windows(tmp)),
         expect=refused(r"summed from 'scan\.rpl' hold 300 x 64 x 64", r"Work on a crop",
                        entries=("napari_reader", "cli"))),
    # ---- read as the user meant, or said
    Case("issue13 three maps saved by tifffile.imwrite (planar RGB float)",
         files=lambda tmp: _with_maps(tmp, _planar_float(tmp)), expected_maps=_three_maps,
         expect=accepted(r"tagged as a colour image but holds float32 values in separate "
                         r"planes.*read as 3 element maps", None, entries=("reader", "cli"))),
    Case("issue13 TIFF with a 2-D page then a 3-page series",
         files=lambda tmp: _with_maps(tmp, _page_then_series(tmp)),
         expected_maps=lambda: np.concatenate([good_maps(), good_maps()]),
         expect=accepted(r"holds 2 image series \(1 \+ 3 pages\): all were read.* as 4 maps",
                         None, entries=("reader", "cli"))),
    Case("issue13 folder with one truncated map", files=lambda tmp: _with_maps(
        tmp, _truncated_map_folder(tmp)), expect=refused(
        r"Pb-L\.tif' (is damaged or truncated|is truncated)", r"Copy the file again",
        entries=("reader", "napari_reader", "cli"))),
    Case("issue13 PNG photo with an EXIF orientation tag",
         files=lambda tmp: _with_photo(tmp, _oriented_png(tmp)),
         expect=accepted(r"orientation tag \(6\): it was turned 90 degrees clockwise, as "
                         r"image viewers show it", None, entries=("reader", "cli"))),
    Case("issue13 TIFF photo with an orientation tag",
         files=lambda tmp: _with_photo(tmp, _oriented_tiff(tmp)),
         expect=accepted(r"orientation tag \(3\): it was turned by 180 degrees", None,
                         entries=("reader", "cli"))),
    Case("issue13 duplicate element names", api_kwargs={"elements": ("Pb L", "Pb L")},
         cli_args=("--elements", "Pb L,Pb L"), expect=refused(
             r"Maps 1 and 2 are both called 'Pb L'", r"Rename one \(--elements on the command "
             r"line, elements=\.\.\. in Python\)", entries=("api", "cli"))),
    Case("issue13 two files of a folder read as the same element",
         files=lambda tmp: _with_maps(tmp, _duplicate_folder(tmp)),
         expect=refused(r"Pb-L\.tif and Pb_L\.tif .* are both read as 'Pb L'",
                        r"Move one of them out of the folder",
                        entries=("reader", "napari_reader", "cli"))),
    # ---- a finished result is never lost: what can be checked is checked first
    Case("issue13 file name with a Latin-1 byte",
         files=lambda tmp: _with_maps(tmp, _latin1_folder(tmp)),
         expect=accepted(None, None, entries=("reader", "cli"))),
    Case("issue13 --elements a TIFF cannot store", cli_args=("--elements", "Pb L,Hg\udce9"),
         expect={"cli": Expect(r"holds characters a TIFF cannot store",
                               r"give the names with --elements")}),
    Case("issue13 output name of 240 characters", out="a" * 236 + ".tif",
         expect={"cli": Expect(None, None, accepted=True)}),
    Case("issue13 output name longer than the file system takes", out="a" * 300 + ".tif",
         expect={"cli": Expect(r"is 304 bytes long, more than the file system takes",
                               r"Choose a shorter name")}),
    Case("issue13 --out a dangling symbolic link", cli_out=_dangling_out,
         expect={"cli": Expect(r"a link to .*gone/sr\.tif', which is missing",
                               r"Choose another name, or add --force to the command")}),
    # ---- no traceback: messages that say what to do
    Case("issue13 .rpl sidecar with zero_ev Infinity", files=lambda tmp: _with_maps(
        tmp, _rpl_sidecar(tmp, '{"zero_ev": Infinity, "ev_per_channel": 100}')),
         expect=refused(r"'zero_ev' in .*scan\.json' must be a finite number", r"Correct the file",
                        entries=("napari_reader", "cli"))),
    Case("issue13 .rpl header with zero-ev inf", files=lambda tmp: _with_maps(
        tmp, _rpl_header_extra(tmp, "zero-ev\tinf")),
         expect=refused(r"zero_ev must be a finite number of eV", r"Correct it",
                        entries=("napari_reader", "cli"))),
    Case("issue13 .rpl sidecar with elements: 5", files=lambda tmp: _with_maps(
        tmp, _rpl_sidecar(tmp, '{"elements": 5, "ev_per_channel": 100}')),
         expect=refused(r"'elements' in .* must be a list of names", r"Correct the file",
                        entries=("napari_reader", "cli"))),
    Case("issue13 .rpl sidecar with window_ev as text", files=lambda tmp: _with_maps(
        tmp, _rpl_sidecar(tmp, '{"window_ev": "300", "ev_per_channel": 100}')),
         expect=refused(r"'window_ev' in .* must be a positive number \(without quotes\)",
                        r"Correct the file", entries=("napari_reader", "cli"))),
    Case("issue13 elements.json listing names, not entries", files=lambda tmp: _with_maps(
        tmp, _sidecar_folder(tmp, ["Pb-L.tif", "Hg-L.tif"])),
         expect=refused(r"files\[0\] in .*elements\.json' must be", r"Correct it, or delete it",
                        entries=("reader", "napari_reader", "cli"))),
    Case("issue13 HDF5 with two stacks", files=lambda tmp: _with_maps(tmp, _h5_two_stacks(tmp)),
         expect=refused(r"holds several 3-D datasets \(a, b\)",
                        r"--dataset on the command line", entries=("reader", "cli"))),
    Case("issue13 CMYK JPEG photo", files=lambda tmp: _with_photo(tmp, _cmyk_jpeg(tmp)),
         expect=refused(r"is in CMYK \(printing inks\), not RGB", r"Convert it to RGB",
                        entries=("reader", "cli"))),
    Case("issue13 CMYK TIFF photo", files=lambda tmp: _with_photo(tmp, _cmyk_tiff(tmp)),
         expect=refused(r"is in CMYK \(printing inks\), not RGB", r"Convert it to RGB",
                        entries=("reader", "cli"))),
    Case("issue13 negative time budget", cli_args=("--max-seconds", "-5"),
         expect={"cli": Expect(r"--max-seconds: a number of seconds above 0 is needed",
                               r"got '-5'")}),
    Case("issue13 seed beyond 64 bits", cli_args=("--seed", str(2**70)),
         expect={"cli": Expect(r"--seed: a seed: a whole number from 0 to "
                               r"9223372036854775807 is needed",
                               r"got '1180591620717411303424'")}),
    # ---- untrusted files: nothing outside the file or folder opened is read
    Case("issue13 HDF5 external link", files=lambda tmp: _with_maps(tmp, _h5_external_link(tmp)),
         expect=refused(r"links to data in other files", r"Copy the data into the file",
                        entries=("reader", "napari_reader", "cli"))),
    Case("issue13 HDF5 external storage",
         files=lambda tmp: _with_maps(tmp, _h5_external_storage(tmp)),
         expect=refused(r"keeps its values in other files", r"Copy the values into the file",
                        entries=("reader", "napari_reader", "cli"))),
    Case("issue13 maps file that is a named pipe",
         files=lambda tmp: _with_maps(tmp, _fifo(tmp / "pipe.npy")),
         expect=refused(r"is not a regular file \(a pipe, a device or a socket\)",
                        r"Give a file saved on disk", entries=("reader", "cli"))),
    Case("issue13 photo that is a named pipe",
         files=lambda tmp: _with_photo(tmp, _fifo(tmp / "pipe.png")),
         expect=refused(r"is not a regular file \(a pipe, a device or a socket\)",
                        r"Give a file saved on disk", entries=("reader", "cli"))),
    Case("issue13 .rpl sidecar naming a .raw outside the folder", files=lambda tmp: _with_maps(
        tmp, _rpl_sidecar(tmp, '{"raw": "../elsewhere/scan.raw", "ev_per_channel": 100}')),
         expect=refused(r"'raw' in .* must be the name of a file in the same folder",
                        r"Copy the file next to the sidecar", entries=("napari_reader", "cli"))),
    Case("issue13 elements.json naming a file outside the folder", files=lambda tmp: _with_maps(
        tmp, _sidecar_folder(tmp, [{"file": "../maps.npy", "element": "Pb L"}])),
         expect=refused(r"files\[0\]\.file' in .* must be the name of a file in the same folder",
                        r"Copy the file next to the sidecar",
                        entries=("reader", "napari_reader", "cli"))),
    Case("issue13 OME-TIFF whose images are partly in another file",
         files=lambda tmp: _with_maps(tmp, _ome_set(tmp)),
         expect=refused(r"one file of a multi-file OME-TIFF set", r"Save the set as one TIFF",
                        entries=("reader", "napari_reader", "cli"))),
]
