"""napari reader and writer contributions, and the LR/HR pixel convention in a viewer."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile

from napari_maxrf_sr._napari.layer_style import element_colormap, lr_layer_kwargs
from napari_maxrf_sr._napari.reader import get_reader
from napari_maxrf_sr._napari.writer import write_element_stack as napari_writer
from napari_maxrf_sr.io import write_element_images, write_element_stack

ROOT = Path(__file__).resolve().parents[1]


def _maps(b=3, h=6, w=7):
    return np.random.default_rng(0).uniform(0, 100, (b, h, w)).astype(np.float32)


# --------------------------------------------------------------------------- not ours


def _foreign(tmp_path):
    """Paths the reader must decline."""
    paths = {}
    p = tmp_path / "notes.tif"
    p.write_text("this is not a TIFF")
    paths["text renamed .tif"] = p
    p = tmp_path / "photo.tif"
    tifffile.imwrite(p, np.zeros((20, 30, 3), np.uint8), photometric="rgb")
    paths["RGB photo tif"] = p
    p = tmp_path / "photo_rgba.tif"
    tifffile.imwrite(p, np.zeros((20, 30, 4), np.uint8), photometric="rgb")
    paths["RGBA photo tif"] = p
    p = tmp_path / "image.tif"
    tifffile.imwrite(p, np.zeros((20, 30), np.uint16))
    paths["one unnamed grey tif"] = p
    p = tmp_path / "empty"
    p.mkdir()
    paths["empty folder"] = p
    p = tmp_path / "random"
    p.mkdir()
    (p / "a.txt").write_text("hello")
    (p / "b.bin").write_bytes(np.random.default_rng(1).bytes(100))
    (p / "c.tif").write_bytes(np.random.default_rng(2).bytes(300))
    iio.imwrite(p / "holiday.png", np.zeros((5, 5, 3), np.uint8))
    paths["folder of random files"] = p
    for suffix in (".tif", ".tiff", ".npy", ".npz", ".h5", ".hdf5", ".rpl"):
        p = tmp_path / f"garbage{suffix}"
        p.write_bytes(np.random.default_rng(3).bytes(64))
        paths[f"random bytes {suffix}"] = p
    p = tmp_path / "image.npy"
    np.save(p, np.zeros((20, 30)))
    paths["unnamed 2-D npy"] = p
    p = tmp_path / "strings.npy"
    np.save(p, np.array(["a", "b"]))
    paths["string npy"] = p
    p = tmp_path / "empty.npz"
    np.savez(p)
    paths["empty npz"] = p
    paths["missing file"] = tmp_path / "missing.tif"
    return paths


def test_reader_declines_foreign_paths(tmp_path):
    for what, path in _foreign(tmp_path).items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert get_reader(str(path)) is None, what
    assert get_reader([]) is None
    assert get_reader([str(tmp_path / "notes.tif"), str(tmp_path / "photo.tif")]) is None


def test_reader_declines_truncated_rpl_with_a_warning(tmp_path):
    (tmp_path / "c.rpl").write_text(
        "width 2\nheight 2\ndepth 8\noffset 0\ndata-length 1\ndata-type unsigned\n"
        "byte-order dont-care\nrecord-by vector\n"
    )
    (tmp_path / "c.raw").write_bytes(b"\0" * 20)
    with pytest.warns(UserWarning, match="truncated"):
        assert get_reader(str(tmp_path / "c.rpl")) is None


# --------------------------------------------------------------------------- ours


def _check_layers(layers, names, maps):
    assert [kw["name"] for _, kw, _ in layers] == list(names)
    for i, ((data, kw, kind), name, m) in enumerate(zip(layers, names, maps, strict=True)):
        assert kind == "image"
        np.testing.assert_array_equal(data, m)
        assert kw["blending"] == "translucent"
        assert kw["visible"] == (i == 0), "one map shown, not a collage"
        assert kw["colormap"] == element_colormap(name)
        info = kw["metadata"]["maxrf_sr"]
        assert info["role"] == "lr_map" and info["element"] == name and info["source"]


def test_reader_tiff_stack_with_scale(tmp_path):
    maps = _maps()
    path = tmp_path / "maps.tif"
    write_element_stack(path, maps, ("Pb L", "Hg L", "Ca K"), scale=4)
    reader = get_reader(str(path))
    layers = reader(str(path))
    _check_layers(layers, ("Pb L", "Hg L", "Ca K"), maps)
    assert layers[0][1]["scale"] == (4.0, 4.0)
    assert layers[0][1]["translate"] == (1.5, 1.5)


def test_reader_unnamed_stack_and_named_single(tmp_path):
    maps = _maps()
    tifffile.imwrite(tmp_path / "stack.tif", maps, photometric="minisblack")
    layers = get_reader(str(tmp_path / "stack.tif"))(str(tmp_path / "stack.tif"))
    assert [kw["name"] for _, kw, _ in layers] == ["map 1", "map 2", "map 3"]
    tifffile.imwrite(tmp_path / "Pb-L.tif", maps[0])
    layers = get_reader(str(tmp_path / "Pb-L.tif"))(str(tmp_path / "Pb-L.tif"))
    _check_layers(layers, ("Pb L",), maps[:1])


def test_reader_folder_npz_npy_h5(tmp_path):
    maps = _maps()
    write_element_images(tmp_path / "f", maps, ("Pb L", "Hg L", "Fe K"), fmt="tif")
    iio.imwrite(tmp_path / "f" / "photo.png", np.zeros((12, 14, 3), np.uint8))
    layers = get_reader(str(tmp_path / "f"))(str(tmp_path / "f"))
    _check_layers(layers, ("Pb L", "Hg L", "Fe K"), maps)
    plain = tmp_path / "plain"
    plain.mkdir()
    tifffile.imwrite(plain / "Cu_K.tif", maps[0])
    tifffile.imwrite(plain / "notes.tif", maps[1])  # not an element name: skipped
    layers = get_reader(str(plain))(str(plain))
    _check_layers(layers, ("Cu K",), maps[:1])
    np.savez(tmp_path / "m.npz", **{"Pb-L": maps[0], "Zn K": maps[1]})
    layers = get_reader(str(tmp_path / "m.npz"))(str(tmp_path / "m.npz"))
    _check_layers(layers, ("Pb L", "Zn K"), maps[:2])
    np.save(tmp_path / "m.npy", maps)
    layers = get_reader(str(tmp_path / "m.npy"))(str(tmp_path / "m.npy"))
    assert len(layers) == 3
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "m.h5", "w") as f:
        f["Pb L"] = maps[0]
        f["Hg L"] = maps[1]
    layers = get_reader(str(tmp_path / "m.h5"))(str(tmp_path / "m.h5"))
    assert sorted(kw["name"] for _, kw, _ in layers) == ["Hg L", "Pb L"]
    both = get_reader([str(tmp_path / "m.npz"), str(tmp_path / "m.h5")])
    assert len(both([])) == 4


def test_the_reader_and_read_element_maps_choose_the_same_reader(tmp_path):
    """One dispatcher (io.maps.maps_format): whatever the command line and the API read as
    maps, the napari reader reads as the same maps, .png, .he5 and .nxs included."""
    from napari_maxrf_sr.io import read_element_maps
    from napari_maxrf_sr.io.maps import maps_format

    h5py = pytest.importorskip("h5py")
    maps = _maps()
    iio.imwrite(tmp_path / "Pb-L.png", (maps[0] * 2).astype(np.uint8))
    write_element_stack(tmp_path / "s.tif", maps, ("Pb L", "Hg L", "Fe K"))
    np.save(tmp_path / "s.npy", maps)
    for suffix in (".h5", ".he5", ".nxs"):
        with h5py.File(tmp_path / f"s{suffix}", "w") as f:
            f["Pb L"], f["Hg L"] = maps[0], maps[1]
    for name in ("Pb-L.png", "s.tif", "s.npy", "s.h5", "s.he5", "s.nxs"):
        path = tmp_path / name
        want, elements, _ = read_element_maps(path)
        reader = get_reader(str(path))
        assert reader is not None, f"{name} ({maps_format(path)}) is not claimed"
        layers = reader(str(path))
        assert [kw["metadata"]["maxrf_sr"]["element"] for _, kw, _ in layers] == list(elements)
        np.testing.assert_array_equal(np.stack([d for d, _, _ in layers]), want)


def test_napari_offers_the_reader_every_format_it_reads_but_png():
    import yaml

    from napari_maxrf_sr.io.hdf5 import H5_SUFFIXES
    from napari_maxrf_sr.io.maps import SUFFIX_FORMATS

    manifest = yaml.safe_load((ROOT / "napari.yaml").read_text())
    (reader,) = manifest["contributions"]["readers"]
    offered = {pattern.removeprefix("*") for pattern in reader["filename_patterns"]}
    # A PNG is a photo far more often than a map: napari's own reader keeps it.
    assert offered >= set(SUFFIX_FORMATS) - {".png"}
    assert ".png" not in offered and set(H5_SUFFIXES) <= offered


def _rpl(tmp_path, cube):
    h, w, d = cube.shape
    (tmp_path / "c.rpl").write_text(
        f"width {w}\nheight {h}\ndepth {d}\noffset 0\ndata-length 2\ndata-type unsigned\n"
        "byte-order little-endian\nrecord-by vector\n"
    )
    (tmp_path / "c.raw").write_bytes(cube.astype("<u2").tobytes())
    return tmp_path / "c.rpl"


def test_reader_rpl(tmp_path, monkeypatch, notifications):
    cube = np.random.default_rng(0).integers(0, 9, (4, 5, 150)).astype(np.uint16)
    rpl = _rpl(tmp_path, cube)
    layers = get_reader(str(rpl))(str(rpl))
    assert "calibration is unknown" in notifications.of("info")[0]
    assert [kw["name"] for _, kw, _ in layers] == ["total counts"]
    np.testing.assert_array_equal(layers[0][0], cube.sum(-1))
    (tmp_path / "c.json").write_text(
        json.dumps({"zero_ev": 0, "ev_per_channel": 100, "elements": ["Fe K", "Cu K"]})
    )
    layers = get_reader(str(rpl))(str(rpl))
    assert [kw["name"] for _, kw, _ in layers] == ["Fe K", "Cu K"]
    np.testing.assert_array_equal(layers[0][0], cube[..., 63:66].sum(-1))


def test_napari_writer_round_trip(tmp_path):
    maps = _maps()
    layer_data = [
        (m, lr_layer_kwargs(e, 4, source="x", name=f"{e} scan"), "image")
        for m, e in zip(maps, ("Pb L", "Hg L", "Ca K"), strict=True)
    ]
    for _, kw, _ in layer_data:
        kw.pop("colormap")
    out = napari_writer(str(tmp_path / "saved.tif"), layer_data)
    assert out == [str(tmp_path / "saved.tif")]
    layers = get_reader(out[0])(out[0])
    assert [kw["name"] for _, kw, _ in layers] == ["Pb L scan", "Hg L scan", "Ca K scan"]
    assert [kw["metadata"]["maxrf_sr"]["element"] for _, kw, _ in layers] == [
        "Pb L",
        "Hg L",
        "Ca K",
    ]
    assert layers[0][1]["scale"] == (4.0, 4.0) and layers[0][1]["translate"] == (1.5, 1.5)
    np.testing.assert_array_equal(np.stack([d for d, _, _ in layers]), maps)
    # napari asked before replacing: the writer may overwrite
    napari_writer(str(tmp_path / "saved.tif"), layer_data[:1])
    with pytest.raises(ValueError, match="RGB"):
        napari_writer(str(tmp_path / "x.tif"), [(np.zeros((4, 4, 3)), {"rgb": True}, "image")])
    with pytest.raises(ValueError, match="different sizes"):
        napari_writer(
            str(tmp_path / "y.tif"),
            [
                (np.zeros((4, 4)), {"name": "a"}, "image"),
                (np.zeros((5, 4)), {"name": "b"}, "image"),
            ],
        )


# --------------------------------------------------------------------------- in a viewer


@pytest.mark.viewer
def test_lr_layer_overlays_photo_in_viewer(make_napari_viewer, tmp_path):
    s, h, w = 4, 5, 6
    viewer = make_napari_viewer()
    photo = viewer.add_image(np.zeros((s * h, s * w, 3), np.uint8), rgb=True, name="photo")
    lr = viewer.add_image(_maps(1, h, w)[0], **lr_layer_kwargs("Pb L", s))
    assert lr.blending == "translucent"
    for i, j in [(0, 0), (2, 3), (h - 1, w - 1)]:
        world = np.asarray(lr.data_to_world((i, j)))
        block_centre = np.array([s * i + (s - 1) / 2, s * j + (s - 1) / 2])
        np.testing.assert_allclose(world, block_centre)
        np.testing.assert_allclose(photo.world_to_data(world), block_centre)
    # the outer pixel edges coincide: LR edge -0.5 maps to HR edge -0.5
    np.testing.assert_allclose(lr.data_to_world((-0.5, -0.5)), (-0.5, -0.5))
    np.testing.assert_allclose(lr.data_to_world((h - 0.5, w - 0.5)), (s * h - 0.5, s * w - 0.5))


@pytest.mark.viewer
def test_viewer_open_uses_plugin(make_napari_viewer, tmp_path):
    path = tmp_path / "maps.tif"
    write_element_stack(path, _maps(), ("Pb L", "Hg L", "Ca K"), scale=2)
    viewer = make_napari_viewer()
    layers = viewer.open(str(path), plugin="napari-maxrf-sr")
    assert [layer.name for layer in layers] == ["Pb L", "Hg L", "Ca K"]
    assert tuple(layers[0].scale) == (2.0, 2.0)


def test_sr_stack_is_not_placed_as_lr(tmp_path):
    path = tmp_path / "sr.tif"
    write_element_stack(path, _maps(), ("Pb L", "Hg L", "Ca K"), scale=4, role="sr_map")
    layers = get_reader(str(path))(str(path))
    assert "scale" not in layers[0][1]
    assert layers[0][1]["metadata"]["maxrf_sr"]["role"] == "sr_map"
