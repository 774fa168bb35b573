"""Inference as a dask graph over tiles: bit for bit equal to ``predict``, into OME-Zarr."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_maxrf_sr.core import tiled
from napari_maxrf_sr.core.config import SRConfig
from napari_maxrf_sr.core.inference import band_rows, predict
from napari_maxrf_sr.core.model import ListaGenerator
from napari_maxrf_sr.core.modelio import model_from_bytes, model_to_bytes
from napari_maxrf_sr.core.normalisation import MapNormaliser
from napari_maxrf_sr.core.photo_pixels import PhotoPixels
from napari_maxrf_sr.core.trained_model import TrainedModel, apply_model, prepare_for_model
from napari_maxrf_sr.io.omezarr import open_ome_zarr
from napari_maxrf_sr.to_file import apply_to_file, output_format

ELEMENTS = ("Pb L", "Hg L", "Cu K")


def random_model(n_maps: int = 3, scale: int = 4, seed: int = 0, **config) -> TrainedModel:
    """An untrained network with random weights: enough to compare code paths exactly."""
    torch.manual_seed(seed)
    cfg = SRConfig(**{"n_atoms": 8, "n_layers": 2, "tile_pixels": 1024, **config})
    gen = ListaGenerator.from_config(n_maps + 3, cfg)
    with torch.no_grad():
        for p in gen.parameters():
            p.uniform_(-0.4, 0.4)
    gen.eval()
    norm = MapNormaliser(tuple([50.0] * n_maps), 0.1, 0.5)
    return TrainedModel(gen, norm, cfg, ELEMENTS[:n_maps], scale)


def scan_and_photo(h: int = 37, w: int = 29, scale: int = 4, seed: int = 1):
    rng = np.random.default_rng(seed)
    lr = (rng.random((3, h, w)) * 80).astype(np.float32)
    photo = rng.integers(0, 256, (scale * h, scale * w, 3), dtype=np.uint8)
    return lr, photo


def test_tiles_are_whole_bands_within_the_bounds():
    cfg = SRConfig(tile_pixels=4096)
    band = band_rows(cfg, 4, 1000)  # 1 scan row per band
    rows = tiled.tile_lr_rows(cfg, 4, 1000, 21, tile_bytes=2**22)
    assert rows % band == 0 and 4 * 21 * 4 * rows * 1000 <= 2**22
    assert tiled.tile_lr_rows(cfg, 4, 100, 1, max_rows=64) * 4 <= 64
    assert tiled.tile_lr_rows(cfg, 4, 10**6, 21, tile_bytes=1) == band_rows(cfg, 4, 10**6)


@pytest.mark.parametrize(("ship_model", "radius", "correction"), [
    (False, 1, "block"), (True, 1, "block"), (False, 0, "block"), (False, 2, "block"),
    (False, 1, "smooth"), (True, 0, "smooth")])
def test_tiled_prediction_equals_predict_bit_for_bit(monkeypatch, ship_model, radius,
                                                     correction):
    # radius: the local calibration's windows reach across tiles (0: off); the smooth
    # correction's interpolation reaches across them too
    monkeypatch.setattr(tiled, "TILE_BYTES", 4 * 3 * 4 * 116 * 6)  # 6 rows: many tiles
    model = random_model(calibration_radius=radius, correction=correction)
    lr, photo = scan_and_photo()
    prepared, norm, _ = prepare_for_model(model, lr, photo)
    expected = predict(model.generator, norm, prepared.lr_maps, prepared.rgb, model.operator,
                       model.config)
    arr = tiled.tiled_prediction(model, norm, prepared.lr_maps, prepared.rgb,
                                 ship_model=ship_model)
    assert len(arr.chunks[1]) > 3  # really tiled
    got = arr.compute(scheduler="threads")
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)


def test_model_travels_as_bytes_and_loads_once():
    model = random_model()
    blob = model_to_bytes(model)
    again = model_from_bytes(blob)
    x = torch.rand(10, 6)
    assert torch.equal(again.generator(x), model.generator(x))
    tiled._MODELS.clear()
    first = tiled._model(blob)
    assert tiled._model(blob) is first  # cached per process


def test_apply_to_ome_zarr_equals_apply_model(tmp_path, monkeypatch):
    monkeypatch.setattr(tiled, "TILE_BYTES", 4 * 3 * 4 * 116 * 10)
    model = random_model()
    lr, photo = scan_and_photo()
    out = apply_to_file(model, lr, photo, tmp_path / "sr.ome.zarr",
                        provenance={"software": "test"})
    levels, elements, meta = open_ome_zarr(out)
    np.testing.assert_array_equal(levels[0].compute(), apply_model(model, lr, photo))
    assert elements == ELEMENTS and meta["role"] == "sr_map" and meta["scale"] == 4
    assert meta["provenance"] == {"software": "test"}
    assert [p.name for p in tmp_path.iterdir()] == ["sr.ome.zarr"]  # no temporary left


def test_apply_to_file_matches_maps_by_name(tmp_path):
    model = random_model()
    lr, photo = scan_and_photo()
    out = apply_to_file(model, lr[::-1], photo, tmp_path / "sr.ome.zarr",
                        elements=ELEMENTS[::-1])
    levels, elements, _ = open_ome_zarr(out)
    assert elements == ELEMENTS  # the model's order
    np.testing.assert_array_equal(levels[0].compute(), apply_model(model, lr, photo))


def test_apply_to_tiff_equals_apply_model(tmp_path):
    from napari_maxrf_sr.io import read_element_stack

    model = random_model()
    lr, photo = scan_and_photo()
    out = apply_to_file(model, lr, photo, tmp_path / "sr.tif")
    maps, elements, _ = read_element_stack(out)
    np.testing.assert_array_equal(maps, apply_model(model, lr, photo))
    assert elements == ELEMENTS


def test_wide_beam_model_is_projected_as_a_whole(tmp_path):
    model = random_model(operator="gaussian", psf_sigma=1.5)
    lr, photo = scan_and_photo(h=12, w=10)
    out = apply_to_file(model, lr, photo, tmp_path / "sr.ome.zarr")
    levels, _, _ = open_ome_zarr(out)
    np.testing.assert_allclose(levels[0].compute(), apply_model(model, lr, photo))


def test_output_format_comes_from_the_name():
    assert output_format("a/b.ome.zarr") == output_format("b.zarr/") == "ome-zarr"
    assert output_format("x.TIF") == "tiff"
    with pytest.raises(Exception, match=r"\*\.ome\.zarr .* \*\.tif"):
        output_format("x.png")


def test_a_cluster_needs_an_ome_zarr_output(tmp_path):
    lr, photo = scan_and_photo(h=8, w=8)
    with pytest.raises(Exception, match=r"name the output \*\.ome\.zarr"):
        apply_to_file(random_model(), lr, photo, tmp_path / "sr.tif", scheduler="tcp://x:1")
    assert list(tmp_path.iterdir()) == []


def test_unreachable_scheduler_says_so(tmp_path):
    pytest.importorskip("distributed")
    lr, photo = scan_and_photo(h=8, w=8)
    with pytest.raises(RuntimeError, match=r"Cannot reach the dask scheduler .*--scheduler"):
        with tiled.computer("tcp://127.0.0.1:9", timeout=2):
            pass
    assert list(tmp_path.iterdir()) == []


def test_photo_pixels_of_any_type_give_the_same_tiles():
    model = random_model()
    lr, photo = scan_and_photo(h=9, w=7)
    prepared, norm, _ = prepare_for_model(model, lr, photo)
    as_uint8 = tiled.tiled_prediction(model, norm, prepared.lr_maps, PhotoPixels(photo))
    as_float = tiled.tiled_prediction(model, norm, prepared.lr_maps,
                                      photo.astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(as_uint8.compute(), as_float.compute())


def test_a_failing_tile_leaves_nothing_behind(tmp_path, monkeypatch):
    monkeypatch.setattr(tiled, "TILE_BYTES", 4 * 3 * 4 * 116 * 4)
    real = tiled.predict_tile
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 5:
            raise MemoryError("out of memory in tile 5")
        return real(*args, **kwargs)

    monkeypatch.setattr(tiled, "predict_tile", flaky)
    lr, photo = scan_and_photo()
    with pytest.raises(MemoryError, match="tile 5"):
        apply_to_file(random_model(), lr, photo, tmp_path / "sr.ome.zarr")
    assert list(tmp_path.iterdir()) == []
