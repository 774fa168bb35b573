"""Writers: round trips, no silent overwrite, atomic writes."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import tifffile

from napari_maxrf_sr.io import (
    read_element_maps,
    read_element_stack,
    write_element_images,
    write_element_stack,
)

ELEMENTS = ("Pb L", "Hg L", "total counts")


def _maps(seed=0):
    return np.random.default_rng(seed).uniform(0, 500, (3, 6, 7)).astype(np.float32)


def test_stack_round_trip(tmp_path):
    maps = _maps()
    path = tmp_path / "out.tif"
    prov = {"software": "test", "settings": {"steps": 3}, "arr": np.float32(2.5)}
    write_element_stack(path, maps, ELEMENTS, scale=4, provenance=prov)
    got, names, meta = read_element_stack(path)
    np.testing.assert_array_equal(got, maps)
    assert names == ELEMENTS
    assert meta.scale == 4
    assert meta.provenance["settings"] == {"steps": 3}
    assert meta.provenance["arr"] == 2.5
    # ImageJ sees one labelled channel per element
    with tifffile.TiffFile(path) as tif:
        assert tif.is_imagej
        assert tif.imagej_metadata["Labels"] == list(ELEMENTS)
        assert tif.pages[0].dtype == np.float32
    # and the generic dispatcher reads it the same
    got2, names2, _ = read_element_maps(path)
    np.testing.assert_array_equal(got2, maps)
    assert names2 == ELEMENTS


def test_stack_names_from_foreign_labels_and_ome(tmp_path):
    maps = _maps()
    tifffile.imwrite(
        tmp_path / "ij.tif",
        maps,
        imagej=True,
        metadata={"axes": "ZYX", "Labels": ["Fe-K", "Cu", "x"]},
    )
    assert read_element_stack(tmp_path / "ij.tif")[1] == ("Fe K", "Cu", "x")
    tifffile.imwrite(
        tmp_path / "o.ome.tif",
        maps,
        metadata={"axes": "CYX", "Channel": {"Name": ["a", "b", "Ca"]}},
    )
    assert read_element_stack(tmp_path / "o.ome.tif")[1] == ("a", "b", "Ca")
    tifffile.imwrite(tmp_path / "plain.tif", maps, photometric="minisblack")
    (tmp_path / "plain.json").write_text(json.dumps({"elements": ["Pb L", "Hg L", "Ca K"]}))
    assert read_element_stack(tmp_path / "plain.tif")[1] == ("Pb L", "Hg L", "Ca K")


def test_stack_refuses_overwrite(tmp_path):
    path = tmp_path / "out.tif"
    write_element_stack(path, _maps(), ELEMENTS)
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="force"):
        write_element_stack(path, _maps(1), ELEMENTS)
    assert path.read_bytes() == before
    write_element_stack(path, _maps(1), ELEMENTS, force=True)
    np.testing.assert_array_equal(read_element_stack(path)[0], _maps(1))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.tif"]  # no temp files left


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(tifffile, "imwrite", boom)
    with pytest.raises(OSError, match="disk full"):
        write_element_stack(tmp_path / "out.tif", _maps(), ELEMENTS)
    assert list(tmp_path.iterdir()) == []


def test_bad_destinations(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_element_stack(tmp_path / "nope" / "out.tif", _maps(), ELEMENTS)
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError):
        write_element_stack(tmp_path / "file" / "out.tif", _maps(), ELEMENTS)
    with pytest.raises(ValueError, match="one name per map"):
        write_element_stack(tmp_path / "o.tif", _maps(), ELEMENTS[:2])
    with pytest.raises(ValueError, match=".tif"):
        write_element_stack(tmp_path / "o.png", _maps(), ELEMENTS)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can write anywhere")
def test_read_only_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(PermissionError, match="another"):
            write_element_stack(ro / "out.tif", _maps(), ELEMENTS)
    finally:
        ro.chmod(0o700)


def test_read_only_folder_message(tmp_path, monkeypatch):
    from napari_maxrf_sr import atomic

    monkeypatch.setattr(atomic.os, "access", lambda *a: False)
    with pytest.raises(PermissionError, match="another output folder"):
        write_element_stack(tmp_path / "out.tif", _maps(), ELEMENTS)


@pytest.mark.parametrize("fmt", ["tif", "png"])
def test_images_round_trip(tmp_path, fmt):
    maps = _maps()
    out = tmp_path / "maps"
    files = write_element_images(out, maps, ELEMENTS, fmt=fmt)
    assert [f.name for f in files] == [f"Pb-L.{fmt}", f"Hg-L.{fmt}", f"total-counts.{fmt}"]
    got, names, _ = read_element_maps(out)
    assert names == ELEMENTS  # order and names from elements.json
    if fmt == "tif":
        np.testing.assert_array_equal(got, maps)
    else:  # 16-bit, rescaled back to the original units
        np.testing.assert_allclose(got, maps, atol=maps.max() / 65535)
    with pytest.raises(FileExistsError):
        write_element_images(out, maps, ELEMENTS, fmt=fmt)
    write_element_images(out, maps, ELEMENTS, fmt=fmt, force=True)
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_png_refuses_negative(tmp_path):
    maps = _maps()
    maps[0, 0, 0] = -1
    with pytest.raises(ValueError, match="TIFF"):
        write_element_images(tmp_path / "m", maps, ELEMENTS, fmt="png")


def test_npy_npz_round_trip(tmp_path):
    maps = _maps()
    np.save(tmp_path / "m.npy", maps)
    (tmp_path / "m.json").write_text(json.dumps({"elements": list(ELEMENTS)}))
    got, names, _ = read_element_maps(tmp_path / "m.npy")
    np.testing.assert_array_equal(got, maps)
    assert names == ELEMENTS
    np.savez(tmp_path / "m.npz", maps=maps, elements=np.array(ELEMENTS))
    got, names, _ = read_element_maps(tmp_path / "m.npz")
    np.testing.assert_array_equal(got, maps)
    assert names == ELEMENTS
