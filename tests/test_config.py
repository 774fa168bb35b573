"""The single settings object and its presets."""

from __future__ import annotations

import dataclasses

import pytest

from napari_maxrf_sr.core.config import FIELD_HELP, PRESETS, SRConfig, config_from_preset


def test_method_md_values_are_the_defaults():
    c = SRConfig()
    assert (c.n_layers, c.n_atoms, c.alpha1, c.alpha2) == (5, 64, 0.003, 0.5e-6)
    assert (c.patch_size, c.batch_size, c.lr_g) == (32, 32, 3e-4)
    assert c.beta_max == 0.9 and not c.stage1_final_sigmoid
    # Weights "below one" (METHOD.md) in the paper preset; the default's looser bound of 4
    # was measured better (docs/benchmarks.md, ablations).
    assert c.stage1_weight_bound == 4.0
    # Issue #16 (it stands over METHOD.md): the discriminator must learn, so its default
    # rate is higher; the paper preset keeps METHOD.md's 3e-6 and fixed alpha2.
    paper = config_from_preset("paper")
    assert paper.lr_d == 3e-6 and paper.adversarial_weighting == "fixed"
    assert paper.interpolation == "bilinear" and paper.pseudo_real == "paper"
    # The adversarial stage cost PSNR in the ablations (docs/benchmarks.md): off by default,
    # on in the paper preset.
    assert not c.adversarial and paper.adversarial
    assert paper.photo_normalisation == "fixed" and c.photo_normalisation == "fixed"
    assert paper.stage1_weight_bound == 1.0


def test_paper_preset_has_paper_iterations():
    p = config_from_preset("paper")
    assert (p.stage1_steps, p.stage2_steps) == (100_000, 2_000_000)


def test_every_field_has_help():
    names = {f.name for f in dataclasses.fields(SRConfig)}
    assert names == set(FIELD_HELP)
    assert all(len(FIELD_HELP[n]) > 10 for n in names)


def test_round_trip_and_validation():
    c = config_from_preset("fast", seed=7)
    assert SRConfig.from_dict(c.to_dict()) == c
    with pytest.raises(ValueError, match="n_atomz"):
        SRConfig.from_dict({"n_atomz": 3})
    with pytest.raises(ValueError, match="n_atoms"):
        SRConfig.from_dict({"n_atoms": 0})
    with pytest.raises(ValueError, match="operator"):
        SRConfig.from_dict({"operator": "boxcar"})
    with pytest.raises(ValueError, match="alpha1"):
        SRConfig.from_dict({"alpha1": "a lot"})
    with pytest.raises(ValueError, match="preset"):
        config_from_preset("turbo")
    assert set(PRESETS) >= {"default", "fast", "paper"}
