"""Result layers, quality maps and provenance of the dock widget (no Qt)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_maxrf_sr._napari import results as res
from napari_maxrf_sr.core.operators import block_mean_np


def _data(seed: int = 0, b: int = 2, h: int = 8, w: int = 6, s: int = 4):
    rng = np.random.default_rng(seed)
    truth = rng.random((b, s * h, s * w), dtype=np.float32) * 10
    lr = block_mean_np(truth, s)
    return truth, lr, s


def test_sr_layers_names_styles_and_grid():
    truth, _, _ = _data()
    styles = [res.InputStyle("red", (0.0, 5.0)), res.InputStyle("green", (1.0, 2.0))]
    grid = res.Grid((1.0, 1.0), (3.0, 4.0))
    layers = res.sr_layers(truth, ["Pb L", "Hg L"], styles=styles, grid=grid)
    assert [k["name"] for _, k, _ in layers] == ["Pb L (SR)", "Hg L (SR)"]
    data, kw, kind = layers[0]
    assert kind == "image" and data.shape == truth.shape[1:] and data.dtype == np.float32
    assert kw["colormap"] == "red" and kw["contrast_limits"] == (0.0, 5.0)
    assert kw["translate"] == (3.0, 4.0)
    assert kw["metadata"]["maxrf_sr"] == {"role": "sr_map", "element": "Pb L", "method": "SR"}
    # a baseline is labelled with its name; missing contrast falls back to the data range
    base = res.sr_layers(truth, ["Pb L", "Hg L"], method_label="bicubic")
    assert base[1][1]["name"] == "Hg L (bicubic)"
    assert base[0][1]["contrast_limits"] == (float(truth[0].min()), float(truth[0].max()))


@pytest.mark.parametrize("kind", ["detail", "error", "consistency"])
def test_one_quality_map_on_request(kind):
    truth, lr, s = _data()
    sr = truth + 0.1
    grid = res.Grid((1.0, 1.0), (3.0, 4.0))
    data, kw, layer_type = res.diagnostic_layer(kind, "Hg L", sr[1], lr[1], s, truth=truth[1],
                                                grid=grid)
    suffix, role, signed = res.DIAGNOSTICS[kind]
    assert layer_type == "image" and kw["name"] == f"Hg L ({suffix})" and kw["visible"]
    assert kw["metadata"]["maxrf_sr"]["role"] == role and kw["translate"] == (3.0, 4.0)
    assert data.shape == truth.shape[1:] and data.dtype == np.float32
    if kind == "error":
        np.testing.assert_allclose(data, 0.1, atol=1e-5)
    if kind == "consistency":  # sr is off by 0.1 in every block
        np.testing.assert_allclose(data, 0.1, atol=1e-5)
    if signed:
        lo, hi = kw["contrast_limits"]
        assert lo == -hi  # diverging colormap centred on zero


def test_error_map_needs_truth():
    truth, lr, s = _data()
    with pytest.raises(ValueError, match="ground truth"):
        res.diagnostic_layer("error", "Pb L", truth[0], lr[0], s)


def test_consistency_detects_disagreement():
    truth, lr, s = _data()
    wrong = truth.copy()
    wrong[0, :s, :s] += 4.0  # one block brighter by 4 on average
    cons = res.consistency_maps(wrong, lr, s)
    assert cons.shape == truth.shape
    np.testing.assert_allclose(cons[0, :s, :s], 4.0, rtol=1e-5)
    assert cons[0, s:, s:].max() < 1e-5
    det = res.detail_maps(truth, lr, s)
    assert det.shape == truth.shape and np.abs(det).max() > 0


def test_provenance_is_json_and_hashes_inputs():
    truth, lr, s = _data()
    rgb = np.zeros((truth.shape[1], truth.shape[2], 3), np.uint8)
    history = [{"step": 1, "stage": "stage 1", "elapsed": 0.1, "total": 2.0},
               {"step": 9, "stage": "stage 2", "elapsed": 0.5, "total": 1.0}]
    prov = res.build_provenance(
        inputs={"Pb L": lr[0], "Hg L": lr[1]}, photo_name="photo", photo=rgb,
        elements=["Pb L", "Hg L"], method="network", scale=s, settings={"seed": 3},
        device="CPU", history=history, seconds=1.5,
        metrics=[res.ElementMetrics("Pb L", 30.0, 0.9)],
        digests={"Hg L": "known"}, notes=["a note"],
    )
    text = json.dumps(prov)
    back = json.loads(text)
    assert back["inputs"]["Pb L"]["sha256"] == res.sha256_array(lr[0])
    assert back["inputs"]["Pb L"]["shape"] == [8, 6]
    assert back["photo"]["shape"] == [32, 24, 3]
    assert back["losses"]["last"]["total"] == 1.0 and back["losses"]["logged_steps"] == 2
    assert back["versions"]["numpy"] == np.__version__
    assert back["metrics"][0]["psnr"] == 30.0
    assert back["inputs"]["Hg L"]["sha256"] == "known", "a digest given is not recomputed"
    assert back["notes"] == ["a note"]
    # the hash depends on content, dtype and shape
    assert res.sha256_array(lr[0]) != res.sha256_array(lr[0].astype(np.float64))
    assert res.sha256_array(lr[0]) != res.sha256_array(lr[0].reshape(6, 8))
