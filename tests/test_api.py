"""The public Python API."""

from __future__ import annotations

import numpy as np
import pytest

import napari_maxrf_sr as sr
from napari_maxrf_sr.errors import InputError

TINY = dict(n_atoms=8, n_layers=2, stage1_steps=15, stage1_batch_pixels=256,
            stage2_steps=2, batch_size=2)


@pytest.mark.slow
def test_super_resolve_network(toy):
    hr, lr, rgb = toy
    rgb8 = (rgb * 255).round().astype(np.uint8)
    events = []
    res = sr.super_resolve(lr, rgb8, scale=4, config={**TINY, "device": "cpu"},
                           callback=events.append)
    assert res.maps.shape == hr.shape and res.maps.dtype == np.float32
    d = res.diagnostics
    assert d["method"] == "network" and d["device"].startswith("CPU") and d["seconds"] > 0
    assert d["history"] and events


@pytest.mark.parametrize("method", ["bicubic", "bicubic_projected", "guided"])
def test_super_resolve_baselines(toy, method):
    hr, lr, rgb = toy
    res = sr.super_resolve(lr, rgb, 4, method)
    assert res.maps.shape == hr.shape
    assert res.diagnostics["method"] == method


def test_unknown_method_lists_choices(toy):
    _, lr, rgb = toy
    with pytest.raises(InputError, match="bicubic"):
        sr.super_resolve(lr, rgb, 4, "magic")


@pytest.mark.slow
def test_the_paper_name_adun_is_the_network(toy):
    """The method key says what it is ("network"); the paper's "adun" stays accepted."""
    from napari_maxrf_sr.cli.parser import build_parser

    _, lr, rgb = toy
    from napari_maxrf_sr.api import available_methods

    assert available_methods()[0] == "network" and "adun" not in available_methods()
    cfg = {**TINY, "device": "cpu", "seed": 1}
    by_alias = sr.super_resolve(lr, rgb, 4, "adun", config=cfg)
    assert by_alias.diagnostics["method"] == "network"
    np.testing.assert_array_equal(by_alias.maps,
                                  sr.super_resolve(lr, rgb, 4, "network", config=cfg).maps)
    args = build_parser().parse_args(["run", "--xrf", "m.tif", "--rgb", "p.png", "--out",
                                      "o.tif", "--method", "adun"])
    assert args.method == "network"


def test_scale_detection_and_mismatch(toy):
    _, lr, rgb = toy
    assert sr.super_resolve(lr, rgb, None, "bicubic").maps.shape[1:] == (32, 32)
    with pytest.raises(InputError, match="scale 3"):
        sr.super_resolve(lr, rgb, 3, "bicubic")


@pytest.mark.slow
def test_cancel_raises(toy):
    from napari_maxrf_sr.core.control import RunControl

    _, lr, rgb = toy
    token = RunControl()
    token.cancel()
    with pytest.raises(RuntimeError, match="cancelled"):
        sr.super_resolve(lr, rgb, 4, config=TINY, stop=token)


@pytest.mark.slow
def test_gpu_out_of_memory_falls_back_to_cpu(toy, monkeypatch):
    """An out-of-memory error on an accelerator reruns on the CPU with a warning."""
    import torch

    import napari_maxrf_sr.api as api
    import napari_maxrf_sr.core.device as device

    _, lr, rgb = toy
    monkeypatch.setattr(device, "resolve_device",
                        lambda requested="auto": torch.device("cpu" if requested == "cpu"
                                                              else "meta"))
    real_train = api.train

    def fake_train(*args, **kwargs):
        if args[2].device != "cpu":
            def oom():
                raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
                yield  # pragma: no cover
            return oom()
        return real_train(*args, **kwargs)

    monkeypatch.setattr(api, "train", fake_train)
    with pytest.warns(UserWarning, match="ran out of memory"):
        res = sr.super_resolve(lr, rgb, 4, config={**TINY, "device": "cuda"})
    assert res.diagnostics["device"].startswith("CPU")


@pytest.mark.slow
def test_config_dict_changes_the_preset_it_is_given(toy):
    hr, lr, rgb = toy
    res = sr.super_resolve(lr, rgb, 4, preset="fast",
                           config={"stage1_steps": 20, "device": "cpu"})
    cfg = res.diagnostics["config"]
    assert cfg["stage1_steps"] == 20  # the dict's change
    assert cfg["n_atoms"] == 32 and cfg["stage1_batch_pixels"] == 4096  # the fast preset's
