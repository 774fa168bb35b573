"""The one-scale-down problem seen through the photo's own pixels (``down_colours``).

The down problem's target is a scan pixel, the mean over ``s x s`` photo pixels. With
``down_colours="pixels"`` the network answers each of those photo pixels from its own
colour and the mean of the answers meets the target, as at full resolution; with
``"mean"`` (the paper) it answers the pixels' mean colour once.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from napari_maxrf_sr.api import run_to_end
from napari_maxrf_sr.core.config import config_from_preset
from napari_maxrf_sr.core.held_out import held_out_check
from napari_maxrf_sr.core.model import ListaGenerator
from napari_maxrf_sr.core.operators import AcquisitionOperator, block_mean_np
from napari_maxrf_sr.core.photo_pixels import PhotoPixels
from napari_maxrf_sr.core.sampling import TrainingData
from napari_maxrf_sr.core.stage1 import PretrainingStage, draw_down_batch
from napari_maxrf_sr.core.train import train

from .conftest import toy_painting

S = 4


def _data_and_model(down_colours: str, seed: int = 0):
    _, lr, rgb = toy_painting(size=64, n_maps=3, seed=seed)
    data = TrainingData(lr / lr.max(), PhotoPixels((rgb * 255).astype(np.uint8)),
                        AcquisitionOperator(S), torch.device("cpu"),
                        held_out_fraction=0.3, down_colours=down_colours)
    model = ListaGenerator(6, 8, 2)
    gen = torch.Generator().manual_seed(seed)
    model.init_random(data.sample_pixels_for_init(512, gen), gen)
    return data, model


def test_the_down_term_averages_the_answers_of_each_scan_pixels_photo_pixels():
    data, model = _data_and_model("pixels")
    cfg = config_from_preset("default", stage1_batch_pixels=512, consistency_weight=0.0,
                             alpha1=0.0)
    stage = PretrainingStage(model, data, cfg, torch.device("cpu"))
    _, terms = stage.batch_loss(torch.Generator().manual_seed(3))
    down = draw_down_batch(data, 256, torch.Generator().manual_seed(3))  # the same draw
    assert down.group == S * S and down.x.shape[0] == down.y.shape[0] * S * S
    with torch.no_grad():
        out = model(down.x)[:, :3].reshape(-1, S * S, 3).mean(1)
    torch.testing.assert_close(terms["down_xrf"], F.mse_loss(out, down.y))


def test_the_held_out_check_answers_the_down_problem_as_training_does():
    data, model = _data_and_model("pixels")
    check = held_out_check(model, data)
    xm, y = data.down_held_out()
    xp, _ = data.down_blocks_at(data.held_out_idx)
    with torch.no_grad():
        net = model(xp.reshape(-1, 6))[:, :3].reshape(-1, S * S, 3).mean(1)
        # Projected onto the (known) down scan: groups of s x s down-problem pixels.
        target = y.reshape(-1, S * S, 3)
        answer = net.reshape(-1, S * S, 3)
        answer = answer - answer.mean(1, keepdim=True) + target.mean(1, keepdim=True)
    want = float(((answer - target) ** 2).mean())
    assert check.network_mse == pytest.approx(want, rel=1e-5)
    # Answering the mean colours instead gives another number: the two really differ.
    mean_data, _ = _data_and_model("mean")
    assert held_out_check(model, mean_data).network_mse != pytest.approx(want, rel=1e-5)


@pytest.mark.slow
def test_training_on_photo_pixels_gives_other_maps_that_agree_with_the_scan():
    hr, lr, rgb = toy_painting(size=64, n_maps=3, seed=5)
    cfg = dict(n_atoms=16, n_layers=3, stage1_steps=150, stage1_batch_pixels=1024,
               check_every=50, adversarial=False, device="cpu")
    runs = {mode: run_to_end(train(lr, rgb, config_from_preset("fast", down_colours=mode,
                                                                **cfg)))
            for mode in ("mean", "pixels")}
    for result in runs.values():
        assert float(result.maps.min()) >= 0
        np.testing.assert_allclose(block_mean_np(result.maps, S), lr, rtol=1e-4, atol=1e-3)
        assert result.quality_check is not None
    assert np.abs(runs["mean"].maps - runs["pixels"].maps).max() > 1e-3 * lr.max()
    assert not any("mean colour" in note for note in runs["pixels"].notes)


@pytest.mark.slow
def test_a_wide_beam_falls_back_to_mean_colours_and_says_so():
    hr, _, rgb = toy_painting(size=48, n_maps=2)
    op = AcquisitionOperator(S, "gaussian", 1.5)
    lr = op.down(torch.from_numpy(hr)).numpy()
    result = run_to_end(train(lr, rgb, config_from_preset(
        "fast", operator="gaussian", psf_sigma=1.5, stage1_steps=10, adversarial=False,
        down_colours="pixels", device="cpu")))
    assert any("mean colour" in note for note in result.notes)
