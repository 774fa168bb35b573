"""Saving, loading and re-applying models; refusing unsafe or damaged files."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from napari_maxrf_sr.api import run_to_end
from napari_maxrf_sr.core.config import config_from_preset
from napari_maxrf_sr.core.modelio import load_model, save_model
from napari_maxrf_sr.core.train import train
from napari_maxrf_sr.core.trained_model import apply_model
from napari_maxrf_sr.errors import InputError, ModelFileError

#: Every test here trains a network (or uses one trained for the module).
pytestmark = pytest.mark.slow

@pytest.fixture(scope="module")
def trained():
    from .conftest import toy_painting

    _, lr, rgb = toy_painting()
    cfg = config_from_preset("fast", n_atoms=8, n_layers=2, stage1_steps=20,
                             stage1_batch_pixels=256, stage2_steps=2, batch_size=2)
    return run_to_end(train(lr, rgb, cfg, elements=("Pb L", "Hg L", "Cu K"))), lr, rgb


def test_round_trip_gives_the_same_maps(trained, tmp_path):
    result, lr, rgb = trained
    path = save_model(result, tmp_path / "m.pt")
    model = load_model(path)
    assert model.elements == ("Pb L", "Hg L", "Cu K") and model.scale == 4
    again = apply_model(model, lr, rgb)
    np.testing.assert_allclose(again, result.maps, rtol=1e-5, atol=1e-4)


def test_save_refuses_to_overwrite(trained, tmp_path):
    result, _, _ = trained
    path = tmp_path / "m.pt"
    path.write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="pass force=True"):
        save_model(result, path)
    assert path.read_bytes() == b"precious"
    save_model(result, path, force=True)
    assert load_model(path).scale == 4
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]  # no temp files left


class _Evil:
    def __reduce__(self):
        return (exec, ("open('PWNED', 'w').write('x')",))


def test_malicious_pickle_is_refused_without_running_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pt"
    with open(path, "wb") as fh:
        pickle.dump({"format": "napari-maxrf-sr-model", "payload": _Evil()}, fh)
    with pytest.raises(ModelFileError, match="refused"):
        load_model(path)
    assert not (tmp_path / "PWNED").exists()


def test_damaged_and_foreign_files(trained, tmp_path):
    result, _, _ = trained
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a model at all")
    with pytest.raises(ModelFileError):
        load_model(bad)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(ModelFileError, match="not a napari-maxrf-sr model"):
        load_model(foreign)
    path = save_model(result, tmp_path / "m.pt")
    payload = torch.load(path, weights_only=True)
    payload["config"]["n_atoms"] = -5
    torch.save(payload, tmp_path / "lying.pt")
    with pytest.raises(ModelFileError, match="n_atoms"):
        load_model(tmp_path / "lying.pt")
    payload = torch.load(path, weights_only=True)
    payload["config"]["n_atoms"] = 12  # shapes no longer match the weights
    torch.save(payload, tmp_path / "shapes.pt")
    with pytest.raises(ModelFileError, match="shapes"):
        load_model(tmp_path / "shapes.pt")


def test_apply_checks_elements_and_scale(trained):
    result, lr, rgb = trained
    with pytest.raises(InputError, match="trained on 3 maps"):
        apply_model(result.model, lr[:2], rgb)
    with pytest.raises(InputError, match="scale"):
        apply_model(result.model, lr[:, :4, :4], rgb)


def test_apply_matches_elements_by_name(trained):
    result, lr, rgb = trained
    reference = apply_model(result.model, lr, rgb, elements=("Pb L", "Hg L", "Cu K"))
    shuffled = apply_model(result.model, lr[[2, 0, 1]], rgb, elements=("Cu K", "Pb L", "Hg L"))
    np.testing.assert_allclose(shuffled, reference[[2, 0, 1]], rtol=1e-5, atol=1e-4)
    with pytest.raises(InputError, match="trained on Pb L, Hg L, Cu K"):
        apply_model(result.model, lr, rgb, elements=("Fe K", "Pb L", "Hg L"))
