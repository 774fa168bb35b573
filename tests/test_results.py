"""Result layers, quality maps, metrics and provenance of the dock widget (no Qt)."""

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


def test_with_truth_error_layers_and_metrics():
    truth, lr, s = _data()
    sr = truth + 0.1
    layers, metrics = res.result_layers(sr, ["Pb L", "Hg L"], lr, s,
                                        truth={"Pb L": truth[0], "Hg L": truth[1]})
    names = [k["name"] for _, k, _ in layers]
    assert names == ["Pb L (SR)", "Hg L (SR)", "Pb L (error)", "Hg L (error)"]
    err = layers[2][0]
    np.testing.assert_allclose(err, 0.1, atol=1e-5)
    assert [k["visible"] for _, k, _ in layers[2:]] == [True, False]
    assert [m.element for m in metrics] == ["Pb L", "Hg L"]
    # PSNR with the truth's maximum as peak
    expected = 10 * np.log10(truth[0].max() ** 2 / 0.01)
    assert metrics[0].psnr == pytest.approx(expected, abs=1e-3)
    assert 0.9 < metrics[0].ssim <= 1.0


def test_truth_for_some_elements_only():
    truth, lr, s = _data()
    layers, metrics = res.result_layers(truth, ["Pb L", "Hg L"], lr, s, truth={"Hg L": truth[1]})
    assert [k["name"] for _, k, _ in layers][-1] == "Hg L (error)"
    assert len(metrics) == 1 and metrics[0].psnr == float("inf")


def test_without_truth_consistency_and_detail():
    truth, lr, s = _data()
    layers, metrics = res.result_layers(truth, ["Pb L", "Hg L"], lr, s)
    assert metrics == []
    names = [k["name"] for _, k, _ in layers]
    assert names == ["Pb L (SR)", "Hg L (SR)", "Pb L (consistency)", "Hg L (consistency)",
                     "Pb L (detail added)", "Hg L (detail added)"]
    # the truth is consistent with its own block means: consistency is zero
    assert np.abs(layers[2][0]).max() < 1e-5
    visible = [k["name"] for _, k, _ in layers[2:] if k["visible"]]
    assert visible == ["Pb L (detail added)"]
    lo, hi = layers[4][1]["contrast_limits"]
    assert lo == -hi  # diverging colormap centred on zero


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


def test_metrics_on_tiny_maps():
    gt = np.arange(20, dtype=np.float32).reshape(1, 4, 5)
    m = res.compute_metrics(gt + 1, gt, ["x"])[0]
    assert np.isfinite(m.psnr) and np.isfinite(m.ssim)


def test_truth_shape_mismatch_raises():
    truth, lr, s = _data()
    with pytest.raises(ValueError, match="ground truth shape"):
        res.result_layers(truth, ["Pb L", "Hg L"], lr, s, truth={"Pb L": truth[0, :4]})


def test_provenance_is_json_and_hashes_inputs():
    truth, lr, s = _data()
    rgb = np.zeros((truth.shape[1], truth.shape[2], 3), np.uint8)
    history = [{"step": 1, "stage": "stage 1", "elapsed": 0.1, "total": 2.0},
               {"step": 9, "stage": "stage 2", "elapsed": 0.5, "total": 1.0}]
    prov = res.build_provenance(
        inputs={"Pb L": lr[0], "Hg L": lr[1]}, photo_name="photo", photo=rgb,
        elements=["Pb L", "Hg L"], method="adun", scale=s, settings={"seed": 3},
        device="CPU", history=history, seconds=1.5,
        metrics=[res.ElementMetrics("Pb L", 30.0, 0.9)],
    )
    text = json.dumps(prov)
    back = json.loads(text)
    assert back["inputs"]["Pb L"]["sha256"] == res.sha256_array(lr[0])
    assert back["inputs"]["Pb L"]["shape"] == [8, 6]
    assert back["photo"]["shape"] == [32, 24, 3]
    assert back["losses"]["last"]["total"] == 1.0 and back["losses"]["logged_steps"] == 2
    assert back["versions"]["numpy"] == np.__version__
    assert back["metrics"][0]["psnr"] == 30.0
    # the hash depends on content, dtype and shape
    assert res.sha256_array(lr[0]) != res.sha256_array(lr[0].astype(np.float64))
    assert res.sha256_array(lr[0]) != res.sha256_array(lr[0].reshape(6, 8))
