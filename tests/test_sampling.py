"""Training batches and tiled inference equal their whole-image definitions.

The core never builds ``X0 = [up(Y_lr); Z]`` for the whole painting: training gathers
windows and pixels of it, and inference works in bands of rows. These tests build the
whole-image quantities for a small painting and compare.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_maxrf_sr.core import sampling
from napari_maxrf_sr.core.config import config_from_preset
from napari_maxrf_sr.core.inference import predict
from napari_maxrf_sr.core.model import ListaGenerator
from napari_maxrf_sr.core.normalisation import MapNormaliser, normalise_rgb
from napari_maxrf_sr.core.operators import AcquisitionOperator, upsample_bilinear
from napari_maxrf_sr.core.photo_pixels import PhotoPixels
from napari_maxrf_sr.core.sampling import TrainingData

S = 4
H_LR, W_LR = 9, 11


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    y = rng.random((3, H_LR, W_LR)).astype(np.float32)
    photo = rng.integers(0, 256, (S * H_LR, S * W_LR, 3), dtype=np.uint8)
    return y, photo


def _whole_x0(y, photo):
    """The network input for the whole painting, ``(C, H, W)``."""
    up = upsample_bilinear(torch.from_numpy(y), S)
    z = torch.from_numpy(normalise_rgb(photo.astype(np.float32) / 255.0))
    return torch.cat([up, z])


@pytest.mark.parametrize("operator", ["block", "gaussian"])
def test_patches_are_windows_of_the_whole_image_input(operator):
    y, photo = _inputs()
    op = AcquisitionOperator(S, operator, 1.5)
    data = TrainingData(y, PhotoPixels(photo), op, torch.device("cpu"))
    assert data._rgb_raw.dtype == torch.uint8  # the photo is not copied as floats
    x0 = _whole_x0(y, photo)
    size = 2 + 2 * data.margin
    i = torch.tensor([0, H_LR - size, 3])  # both borders and the inside
    j = torch.tensor([W_LR - size, 0, 4])
    batch = data.hr_patches(i, j, 2)
    for k in range(3):
        r, c = int(i[k]) * S, int(j[k]) * S
        want = x0[:, r : r + S * size, c : c + S * size]
        torch.testing.assert_close(batch.x0[k], want, rtol=0, atol=1e-6)
        m = data.margin
        want_lr = torch.from_numpy(y)[:, i[k] + m : i[k] + m + 2, j[k] + m : j[k] + m + 2]
        torch.testing.assert_close(batch.y_lr[k], want_lr, rtol=0, atol=0)


@pytest.mark.parametrize("operator", ["block", "gaussian"])
def test_photo_on_the_scan_grid_is_computed_band_by_band_exactly(operator, monkeypatch):
    y, photo = _inputs(1)
    op = AcquisitionOperator(S, operator, 2.0)
    whole = op.down(torch.from_numpy(normalise_rgb(photo.astype(np.float32) / 255.0)))
    monkeypatch.setattr(sampling, "BAND_PIXELS", 1)  # one LR row per band
    data = TrainingData(y, PhotoPixels(photo), op, torch.device("cpu"))
    torch.testing.assert_close(data.rgb_lr, whole, rtol=0, atol=1e-6)


@pytest.mark.parametrize("table", [True, False])
def test_down_problem_pixels_match_the_whole_image_definition(table, monkeypatch):
    """Small scans keep a table of pixels; large ones interpolate each batch."""
    if not table:
        monkeypatch.setattr(sampling, "DOWN_TABLE_BYTES", 0)
    y, photo = _inputs(2)
    op = AcquisitionOperator(S)
    data = TrainingData(y, PhotoPixels(photo), op, torch.device("cpu"))
    assert (data.down_x is not None) == table
    hc, wc = (H_LR // S) * S, (W_LR // S) * S
    yt = torch.from_numpy(y)[:, :hc, :wc]
    z = op.down(torch.from_numpy(normalise_rgb(photo.astype(np.float32) / 255.0)))
    want_x = torch.cat([upsample_bilinear(op.down(yt), S), z[:, :hc, :wc]])
    want_x = want_x.reshape(want_x.shape[0], -1).t()
    want_y = yt.reshape(3, -1).t()
    idx = torch.arange(hc * wc)
    x, t = data._down_at(idx)
    torch.testing.assert_close(x, want_x, rtol=0, atol=1e-6)
    torch.testing.assert_close(t, want_y, rtol=0, atol=0)
    xv, tv = data.down_held_out()
    torch.testing.assert_close(xv, want_x[data.held_out_idx], rtol=0, atol=1e-6)
    gen = torch.Generator().manual_seed(0)
    xb, tb = data.down_pixels(50, gen)
    assert xb.shape == (50, 6) and tb.shape == (50, 3)


def test_float_and_8bit_photos_give_the_same_batches():
    y, photo = _inputs(3)
    op = AcquisitionOperator(S)
    a = TrainingData(y, PhotoPixels(photo), op, torch.device("cpu"))
    b = TrainingData(y, photo.astype(np.float32) / 255.0, op, torch.device("cpu"))
    i, j = torch.tensor([0, 5]), torch.tensor([2, 7])
    torch.testing.assert_close(a.hr_patches(i, j, 1).x0, b.hr_patches(i, j, 1).x0,
                               rtol=0, atol=0)


def _random_network(y, photo) -> tuple[ListaGenerator, MapNormaliser]:
    """A seeded, untrained network for ``y`` and ``photo``, and the normaliser of ``100 y``."""
    model = ListaGenerator(6, 16, 3)
    model.init_random(_whole_x0(y, photo).reshape(6, -1).t()[:500],
                      torch.Generator().manual_seed(0))
    return model, MapNormaliser.fit(y * 100, 0.05, 0.95)


@pytest.mark.parametrize("tile_pixels", [1024, 1 << 20])  # bands of 5 rows; one band
def test_inference_in_bands_equals_the_whole_image(tile_pixels):
    y, photo = _inputs(4)
    model, normaliser = _random_network(y, photo)
    x0 = _whole_x0(y, photo)
    lr = y * 100
    yn = torch.from_numpy(normaliser.forward(lr))
    x0n = torch.cat([upsample_bilinear(yn, S), x0[3:]])
    with torch.no_grad():
        out = model.forward_image(x0n)[:3].double()
    gains = torch.from_numpy(normaliser.gains)[:, None, None]
    want = (out - normaliser.zero_level) / gains
    # The network's own output (the local calibration off: it is tested below).
    cfg = config_from_preset("fast", tile_pixels=tile_pixels, interpolation="bilinear",
                             photo_normalisation="fixed", calibration_radius=0)
    op = AcquisitionOperator(S)
    got = predict(model, normaliser, lr, PhotoPixels(photo), op, cfg, project=False)
    np.testing.assert_allclose(got, want.float().numpy(), rtol=1e-5, atol=1e-4)
    projected = predict(model, normaliser, lr, PhotoPixels(photo), op, cfg)
    np.testing.assert_allclose(op.down(torch.from_numpy(projected)).numpy(), lr, rtol=1e-5)
    assert projected.min() >= 0


@pytest.mark.parametrize("radius", [1, 2])
def test_calibrated_inference_in_bands_equals_the_whole_image(radius):
    """The local calibration's windows reach across bands: bands of 5 rows or one band."""
    y, photo = _inputs(4)
    model, normaliser = _random_network(y, photo)
    op = AcquisitionOperator(S)
    answers = [predict(model, normaliser, y * 100, PhotoPixels(photo), op,
                       config_from_preset("fast", tile_pixels=t, calibration_radius=radius))
               for t in (1024, 1 << 20)]
    np.testing.assert_allclose(answers[0], answers[1], rtol=1e-5, atol=1e-4)
    off = predict(model, normaliser, y * 100, PhotoPixels(photo), op,
                  config_from_preset("fast", calibration_radius=0))
    assert np.abs(answers[1] - off).max() > 1e-3  # it did calibrate


@pytest.mark.parametrize("tile_pixels", [1024, 1 << 20])
def test_inference_interpolates_the_consistent_source_in_bands(tile_pixels):
    """With interpolation='consistent' the bands upsample the corrected scan, exactly."""
    from napari_maxrf_sr.core.operators import consistent_source

    y, photo = _inputs(5)
    model, normaliser = _random_network(y, photo)
    lr = y * 100
    source = torch.from_numpy(consistent_source(normaliser.forward(lr), S))
    x0 = torch.cat([upsample_bilinear(source, S), _whole_x0(y, photo)[3:]])
    with torch.no_grad():
        out = model.forward_image(x0)[:3].double()
    want = (out - normaliser.zero_level) / torch.from_numpy(normaliser.gains)[:, None, None]
    cfg = config_from_preset("fast", tile_pixels=tile_pixels, interpolation="consistent",
                             calibration_radius=0,
                             photo_normalisation="fixed")
    got = predict(model, normaliser, lr, PhotoPixels(photo), AcquisitionOperator(S), cfg,
                  project=False)
    np.testing.assert_allclose(got, want.float().numpy(), rtol=1e-5, atol=1e-4)


def test_held_out_pixels_are_whole_blocks_of_the_down_problem():
    y, photo = _inputs(6)
    data = TrainingData(y, PhotoPixels(photo), AcquisitionOperator(S), torch.device("cpu"),
                        held_out_fraction=0.3)
    wc = (W_LR // S) * S
    rows, cols = data.held_out_idx // wc, data.held_out_idx % wc
    blocks = (rows // S * 1000 + cols // S).reshape(-1, S * S)
    assert (blocks == blocks[:, :1]).all()  # each run of s*s held-out pixels is one block
    assert len(set(blocks[:, 0].tolist())) == blocks.shape[0]
    assert not set(data.held_out_idx.tolist()) & set(data.train_idx.tolist())


def test_hr_block_table_equals_the_windows():
    """The table of whole blocks gives the same inputs as cutting windows."""
    y, photo = _inputs(7)
    data = TrainingData(y, PhotoPixels(photo), AcquisitionOperator(S), torch.device("cpu"),
                        interpolation="consistent")
    gen = torch.Generator().manual_seed(1)
    x, scan = data.hr_blocks(5, gen)
    idx = torch.randint(H_LR * W_LR, (5,), generator=torch.Generator().manual_seed(1))
    i, j = idx // W_LR, idx % W_LR
    batch = data.hr_patches(i, j, 1)
    want = batch.x0.permute(0, 2, 3, 1).reshape(5, S * S, -1)
    torch.testing.assert_close(x, want, rtol=0, atol=1e-6)
    torch.testing.assert_close(scan, batch.y_lr.reshape(5, -1), rtol=0, atol=0)


def test_photo_range_scan_clips_hr_colours_to_those_of_the_scan_grid():
    y, photo = _inputs(3)
    photo[5, 7] = 0  # one black pixel: darker than any scan-pixel average of the photo
    op = AcquisitionOperator(S)
    full = TrainingData(y, PhotoPixels(photo), op, torch.device("cpu"))
    scan = TrainingData(y, PhotoPixels(photo), op, torch.device("cpu"), photo_range="scan")
    # The down problem learns from the photo averaged over scan pixels: unchanged.
    torch.testing.assert_close(scan.rgb_lr, full.rgb_lr)
    lo, hi = full.rgb_lr.amin((1, 2)), full.rgb_lr.amax((1, 2))
    i = torch.arange(H_LR).repeat_interleave(W_LR)
    j = torch.arange(W_LR).repeat(H_LR)
    z_full = full.hr_patches(i, j, 1).x0[:, 3:]
    z_scan = scan.hr_patches(i, j, 1).x0[:, 3:]
    assert (z_full.amin((0, 2, 3)) < lo).all()  # the black pixel lies outside the range
    assert (z_scan.amin((0, 2, 3)) >= lo - 1e-6).all()
    assert (z_scan.amax((0, 2, 3)) <= hi + 1e-6).all()
    torch.testing.assert_close(z_scan, torch.maximum(torch.minimum(
        z_full, hi[None, :, None, None]), lo[None, :, None, None]))
    assert scan.photo_normaliser.clip_low == pytest.approx(lo.tolist())


@pytest.mark.parametrize("table", [True, False])
def test_down_blocks_are_the_photo_pixels_of_each_scan_pixel(table, monkeypatch):
    """``down_colours="pixels"``: the photo's own pixels, the down scan interpolated to them.

    Small scans keep a table of every block; large ones gather each batch.
    """
    if not table:
        monkeypatch.setattr(sampling, "DOWN_TABLE_BYTES", 0)
    monkeypatch.setattr(sampling, "TABLE_CHUNK_PIXELS", 5 * S * S)  # 5 scan pixels a chunk
    y, photo = _inputs(8)
    op = AcquisitionOperator(S)
    data = TrainingData(y, PhotoPixels(photo), op, torch.device("cpu"), down_colours="pixels")
    assert data.down_colours == "pixels"
    assert (data._down_block_table is not None) == table
    hc, wc = (H_LR // S) * S, (W_LR // S) * S
    yt = torch.from_numpy(y)[:, :hc, :wc]
    z = torch.from_numpy(normalise_rgb(photo.astype(np.float32) / 255.0))  # (3, H, W)
    up = torch.nn.functional.interpolate(op.down(yt)[None], scale_factor=S * S,
                                         mode="bilinear", align_corners=False)[0]
    idx = torch.tensor([0, 5, hc * wc - 1, 3 * wc + 6])
    x, t = data.down_blocks_at(idx)
    assert x.shape == (4, S * S, 6) and t.shape == (4, 3)
    for k, p in enumerate(idx.tolist()):
        r, c = divmod(p, wc)
        rows, cols = slice(S * r, S * r + S), slice(S * c, S * c + S)
        want = torch.cat([up[:, rows, cols], z[:, rows, cols]]).reshape(6, -1).t()
        torch.testing.assert_close(x[k], want, rtol=0, atol=1e-6)
        torch.testing.assert_close(t[k], yt[:, r, c], rtol=0, atol=0)
    # Their mean colour is the mean-colour down problem's colour at the same pixel.
    xm, _ = data._down_at(idx)
    torch.testing.assert_close(x[..., 3:].mean(1), xm[:, 3:], rtol=0, atol=1e-6)
    gen = torch.Generator().manual_seed(0)
    xb, tb = data.down_blocks(7, gen)
    assert xb.shape == (7, S * S, 6) and tb.shape == (7, 3)


def test_a_wide_beam_keeps_the_mean_colours_in_the_down_problem():
    y, photo = _inputs(8)
    data = TrainingData(y, PhotoPixels(photo), AcquisitionOperator(S, "gaussian", 2.0),
                        torch.device("cpu"), down_colours="pixels")
    assert data.down_colours == "mean"
