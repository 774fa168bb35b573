"""Rows of the malformed-input table for other programs' formats and OME-Zarr (issue 14).

Driven by :mod:`tests.test_malformed_inputs`, like the other rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from .malformed_table import ELEMENTS, Case, Expect, _cut, _good_files, _sparse, good_maps, refused


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


CASES: list[Case] = [
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
         cli_args=("--force",), expect={"cli": Expect(r"would replace an input",
                                                      r"Choose another name for --out")}),
]


