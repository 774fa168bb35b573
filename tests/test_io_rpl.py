"""Bruker/Lispix .rpl + .raw cubes: header parsing, size checks, window sums."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from napari_maxrf_sr.errors import InputError
from napari_maxrf_sr.io import (
    open_rpl_cube,
    parse_rpl_header,
    read_element_maps,
    read_rpl_element_maps,
)

REAL_RPL = Path("/work/shared/data/ng_r117_colour_swatch_panel/R117_colour_swatch_panel.rpl")


def test_real_m6_header():
    if not REAL_RPL.is_file():
        pytest.skip("shared R117 data not available")
    hdr = parse_rpl_header(REAL_RPL)
    assert (hdr.width, hdr.height, hdr.depth) == (414, 302, 4096)
    assert hdr.offset == 0 and hdr.data_length == 1
    assert hdr.data_type == "unsigned" and hdr.record_by == "vector"
    assert hdr.dtype == np.uint8
    assert hdr.shape == (302, 414, 4096)
    assert hdr.nbytes == 512_114_688  # the size of the real R117.raw
    assert hdr.calibration() == (None, None)


def _write_pair(folder, cube, *, record_by="vector", dtype="<u2", offset=0, name="scan"):
    """Write ``cube`` (h, w, depth) as an .rpl/.raw pair; returns the .rpl path."""
    h, w, d = cube.shape
    dt = np.dtype(dtype)
    kind = {"u": "unsigned", "i": "signed", "f": "float"}[dt.kind]
    order = "big-endian" if dt.byteorder == ">" else "little-endian"
    rpl = folder / f"{name}.rpl"
    rpl.write_text(
        "key\tvalue\r\n"
        f"width\t{w}\r\nheight\t{h}\r\ndepth\t{d}\r\noffset\t{offset}\r\n"
        f"data-Length\t{dt.itemsize}\r\ndata-type\t{kind}\r\nbyte-order\t{order}\r\n"
        f"record-by\t{record_by}\r\n"
    )
    data = cube if record_by == "vector" else np.moveaxis(cube, -1, 0)
    (folder / f"{name}.raw").write_bytes(b"\x07" * offset + data.astype(dt).tobytes())
    return rpl


def _cube(h=5, w=6, d=200, seed=0):
    return np.random.default_rng(seed).integers(0, 50, (h, w, d)).astype(np.uint16)


ZERO, EV = -100.0, 100.0  # channel c at -100 + 100 c eV


def _expected(cube, kev, window=300.0):
    e = kev * 1000
    centres = ZERO + EV * np.arange(cube.shape[-1])
    sel = np.abs(centres - e) <= window / 2
    return cube[..., sel].sum(-1)


@pytest.mark.parametrize(
    ("record_by", "dtype", "offset"),
    [("vector", "<u2", 0), ("image", ">u2", 0), ("vector", "<f4", 16), ("image", "u1", 3)],
)
def test_window_sums(tmp_path, record_by, dtype, offset):
    cube = _cube()
    if dtype == "u1":
        cube = cube.astype(np.uint8)
    rpl = _write_pair(tmp_path, cube, record_by=record_by, dtype=dtype, offset=offset)
    maps, names, meta = read_rpl_element_maps(
        rpl,
        elements=("Fe-K", "Pb L", "Ca Ka"),
        zero_ev=ZERO,
        ev_per_channel=EV,
        window_ev=300,
        chunk_bytes=1,  # one row at a time: exercises the banding
    )
    assert names == ("Fe K", "Pb L", "Ca K")
    assert maps.shape == (3, 5, 6) and maps.dtype == np.float32
    for k, kev in enumerate((6.404, 10.551, 3.692)):
        np.testing.assert_array_equal(maps[k], _expected(cube, kev))
    window = meta.rpl.windows[0]
    assert window.stop - window.first == 3


def test_total_counts_needs_no_calibration(tmp_path):
    cube = _cube()
    rpl = _write_pair(tmp_path, cube)
    maps, names, _ = read_rpl_element_maps(rpl, elements=("total counts",))
    np.testing.assert_array_equal(maps[0], cube.sum(-1))


def test_dispatch_with_calibration_keyword(tmp_path):
    cube = _cube()
    rpl = _write_pair(tmp_path, cube)
    maps, names, _ = read_element_maps(rpl, lines=("Fe K",), calibration=(ZERO, EV))
    assert names == ("Fe K",)
    np.testing.assert_array_equal(maps[0], _expected(cube, 6.404))


def test_missing_calibration_is_explained(tmp_path):
    rpl = _write_pair(tmp_path, _cube())
    with pytest.raises(InputError, match="ev_per_channel"):
        read_rpl_element_maps(rpl, elements=("Fe K",))


def test_line_outside_spectrum(tmp_path):
    rpl = _write_pair(tmp_path, _cube(d=50))  # up to 4.8 keV
    with pytest.raises(InputError, match="outside the spectrum"):
        read_rpl_element_maps(rpl, elements=("Pb L",), zero_ev=ZERO, ev_per_channel=EV)


def test_overlapping_windows_warn(tmp_path):
    rpl = _write_pair(tmp_path, _cube())
    with pytest.warns(UserWarning, match="overlap"):
        read_rpl_element_maps(rpl, elements=("Pb L", "As K"), zero_ev=ZERO, ev_per_channel=EV)


def test_truncated_raw_is_refused_before_mapping(tmp_path):
    rpl = _write_pair(tmp_path, _cube())
    raw = tmp_path / "scan.raw"
    raw.write_bytes(raw.read_bytes()[:-10])
    with pytest.raises(InputError, match="truncated"):
        open_rpl_cube(rpl)
    with pytest.raises(InputError, match="shorter"):
        read_rpl_element_maps(rpl, elements=("Fe K",), zero_ev=ZERO, ev_per_channel=EV)


def test_lying_header_and_lfs_pointer(tmp_path):
    cube = _cube(d=100)
    rpl = _write_pair(tmp_path, cube)
    rpl.write_text(rpl.read_text().replace("depth\t100", "depth\t50"))
    with pytest.raises(InputError, match="fit depth 100"):
        open_rpl_cube(rpl)
    (tmp_path / "scan.raw").write_text(
        "version https://git-lfs.github.com/spec/v1\noid sha256:0\nsize 6000\n"
    )
    with pytest.raises(InputError, match="LFS"):
        open_rpl_cube(rpl)


def test_bad_headers(tmp_path):
    rpl = tmp_path / "bad.rpl"
    rpl.write_text("width 3\nheight 2\n")
    with pytest.raises(InputError, match="lacks"):
        parse_rpl_header(rpl)
    rpl.write_text("width 3\nheight 2\ndepth 4\noffset 0\ndata-length 3\ndata-type unsigned\n")
    with pytest.raises(InputError, match="data-length 3"):
        parse_rpl_header(rpl)
    with pytest.raises(InputError, match="No data file"):
        rpl.write_text("width 3\nheight 2\ndepth 4\noffset 0\ndata-length 1\ndata-type unsigned\n")
        open_rpl_cube(rpl)
