"""Element-map readers, name parsing and photo reading."""

from __future__ import annotations

import json

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile

from napari_maxrf_sr.errors import InputError
from napari_maxrf_sr.io import (
    element_name_from_path,
    line_energy_kev,
    normalise_element_name,
    read_element_maps,
    read_photo,
)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Pb-L", "Pb L"),
        ("Hg_L", "Hg L"),
        ("Ca Ka", "Ca K"),
        ("ca_ka", "Ca K"),
        ("Pb La1", "Pb L"),
        ("Pb Lb1", "Pb Lb"),
        ("FeKa", "Fe K"),
        ("PbL", "Pb L"),
        ("Cu K-alpha", "Cu K"),
        ("fe", "Fe"),
        ("Zn", "Zn"),
        ("total counts", "total counts"),
        ("scan 3", "scan 3"),
        ("Compton", "Compton"),
        ("map 1", "map 1"),
    ],
)
def test_name_normalisation(given, expected):
    assert normalise_element_name(given) == expected


def test_names_from_file_names():
    assert element_name_from_path("/x/Pb-L.tif") == "Pb L"
    assert element_name_from_path("Hg_L.png") == "Hg L"
    assert element_name_from_path("Ca Ka.tiff") == "Ca K"
    assert element_name_from_path("my scan.png") == "my scan"


def test_line_table():
    assert line_energy_kev("Pb L") == pytest.approx(10.551)
    assert line_energy_kev("Fe K") == pytest.approx(6.404)
    assert line_energy_kev("Ca") == pytest.approx(3.692)  # bare symbol: K line
    assert line_energy_kev("Hg") == pytest.approx(9.989)  # heavy: L line
    for (
        sym
    ) in "Ca Ti Cr Mn Fe Co Ni Cu Zn As Sr Sn Sb Ba Hg Pb K S Cl P Si Au Ag Cd Se Bi".split():
        assert line_energy_kev(sym) > 1.0
    with pytest.raises(KeyError, match="lines="):
        line_energy_kev("Pb K")


def _maps(b=3, h=6, w=7, seed=0):
    return np.random.default_rng(seed).uniform(0, 100, (b, h, w)).astype(np.float32)


@pytest.mark.parametrize("kind", ["float", "uint8", "uint16"])
def test_folder_of_tiffs(tmp_path, kind):
    maps = _maps()
    if kind != "float":
        maps = np.rint(maps).astype(kind)
    for name, m in zip(["Pb-L", "Hg_L", "Ca Ka"], maps, strict=True):
        tifffile.imwrite(tmp_path / f"{name}.tif", m)
    iio.imwrite(tmp_path / "photo.png", np.zeros((12, 14, 3), np.uint8))  # skipped with a note
    got, names, meta = read_element_maps(tmp_path)
    assert names == ("Ca K", "Hg L", "Pb L")  # sorted by file name
    order = [2, 1, 0]
    np.testing.assert_array_equal(got, maps[order].astype(np.float32))
    assert got.dtype == np.float32
    assert any("photo.png" in n for n in meta.notes)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_folder_of_pngs(tmp_path, dtype):
    maps = np.rint(_maps()).astype(dtype)
    for name, m in zip(["Fe K", "Cu K", "Zn K"], maps, strict=True):
        iio.imwrite(tmp_path / f"{name}.png", m)
    got, names, _ = read_element_maps(tmp_path)
    assert names == ("Cu K", "Fe K", "Zn K")
    np.testing.assert_array_equal(got, maps[[1, 0, 2]].astype(np.float32))


def test_folder_errors(tmp_path):
    with pytest.raises(InputError, match="No element maps"):
        read_element_maps(tmp_path)
    tifffile.imwrite(tmp_path / "Pb-L.tif", np.zeros((4, 5), np.float32))
    tifffile.imwrite(tmp_path / "Hg-L.tif", np.zeros((4, 6), np.float32))
    with pytest.raises(InputError, match="different sizes"):
        read_element_maps(tmp_path)


def test_npy_with_sidecar(tmp_path):
    maps = _maps()
    np.save(tmp_path / "maps.npy", maps)
    got, names, meta = read_element_maps(tmp_path / "maps.npy")
    assert names == ("map 1", "map 2", "map 3") and meta.notes
    (tmp_path / "maps.json").write_text(json.dumps({"elements": ["Pb-L", "Hg L", "Ca"]}))
    got, names, _ = read_element_maps(tmp_path / "maps.npy")
    assert names == ("Pb L", "Hg L", "Ca")
    np.testing.assert_array_equal(got, maps)


def test_npz_named_arrays_and_stack(tmp_path):
    maps = _maps()
    np.savez(tmp_path / "a.npz", **{"Pb-L": maps[0], "Hg_L": maps[1], "Fe K": maps[2]})
    got, names, _ = read_element_maps(tmp_path / "a.npz")
    assert names == ("Pb L", "Hg L", "Fe K")
    np.testing.assert_array_equal(got, maps)
    np.savez(tmp_path / "b.npz", maps=maps, elements=np.array(["Pb L", "Hg L", "Fe K"]))
    got, names, _ = read_element_maps(tmp_path / "b.npz")
    assert names == ("Pb L", "Hg L", "Fe K")
    np.testing.assert_array_equal(got, maps)


def test_h5_named_datasets_and_stack(tmp_path):
    h5py = pytest.importorskip("h5py")
    maps = _maps()
    with h5py.File(tmp_path / "a.h5", "w") as f:
        g = f.create_group("maps")
        for name, m in zip(["Pb L", "Hg_L", "Ca-K"], maps, strict=True):
            g.create_dataset(name, data=m)
    got, names, _ = read_element_maps(tmp_path / "a.h5")
    assert sorted(names) == ["Ca K", "Hg L", "Pb L"]
    for name, m in zip(["Pb L", "Hg L", "Ca K"], maps, strict=True):
        np.testing.assert_array_equal(got[names.index(name)], m)
    with h5py.File(tmp_path / "b.h5", "w") as f:
        d = f.create_dataset("xrf/maps", data=maps)
        d.attrs["elements"] = ["Pb L", "Hg L", "Ca K"]
    got, names, _ = read_element_maps(tmp_path / "b.h5")
    assert names == ("Pb L", "Hg L", "Ca K")
    np.testing.assert_array_equal(got, maps)


def test_h5_missing_h5py_message(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "h5py":
            raise ImportError("no h5py")
        return real_import(name, *args, **kwargs)

    (tmp_path / "a.h5").write_bytes(b"")
    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(InputError, match=r"needs h5py.*pip install h5py"):
        read_element_maps(tmp_path / "a.h5")


def test_unknown_type(tmp_path):
    (tmp_path / "x.csv").write_text("1,2")
    with pytest.raises(InputError, match="supported"):
        read_element_maps(tmp_path / "x.csv")


# --------------------------------------------------------------------------- photos


def test_read_photo_png_jpeg_tiff(tmp_path):
    rgb = np.random.default_rng(1).integers(0, 255, (10, 12, 3), dtype=np.uint8)
    iio.imwrite(tmp_path / "p.png", rgb)
    got, notes = read_photo(tmp_path / "p.png")
    np.testing.assert_array_equal(got, rgb)
    assert notes == []
    iio.imwrite(tmp_path / "p.jpg", rgb)
    got, _ = read_photo(tmp_path / "p.jpg")
    assert got.shape == (10, 12, 3) and got.dtype == np.uint8
    rgb16 = rgb.astype(np.uint16) * 257
    tifffile.imwrite(tmp_path / "p.tif", rgb16, photometric="rgb")
    got, _ = read_photo(tmp_path / "p.tif")
    np.testing.assert_array_equal(got, rgb16)
    f, _ = read_photo(tmp_path / "p.tif", as_float=True)
    assert f.dtype == np.float32 and f.max() <= 1.0


def test_read_photo_alpha_and_grey(tmp_path):
    rgba = np.full((6, 7, 4), 255, np.uint8)
    iio.imwrite(tmp_path / "a.png", rgba)
    got, notes = read_photo(tmp_path / "a.png")
    assert got.shape == (6, 7, 3)
    assert any("alpha" in n for n in notes)
    iio.imwrite(tmp_path / "g.png", np.zeros((6, 7), np.uint8))
    with pytest.raises(InputError, match="single-channel"):
        read_photo(tmp_path / "g.png")
