"""Quality measures (no Qt): PSNR, SSIM, network beside bicubic, detail added and where."""

from __future__ import annotations

import numpy as np
import pytest

from napari_maxrf_sr import metrics
from napari_maxrf_sr.core.operators import block_mean_np, upsample_bicubic_np


def test_psnr_uses_the_truths_maximum_as_peak():
    truth = np.full((8, 8), 10.0)
    truth[0, 0] = 20.0
    result = truth + 0.5
    assert metrics.psnr(result, truth) == pytest.approx(10 * np.log10(20.0**2 / 0.25))
    assert metrics.psnr(truth, truth) == float("inf")


def test_ssim_on_tiny_maps():
    gt = np.arange(20, dtype=np.float32).reshape(4, 5)
    m = metrics.compute_metrics((gt + 1)[None], gt[None], ["x"])[0]
    assert np.isfinite(m.psnr) and np.isfinite(m.ssim)
    assert np.isnan(metrics.ssim(gt[:2, :2], gt[:2, :2]))  # below a 3 px window


def test_network_beside_bicubic():
    rng = np.random.default_rng(0)
    truth = rng.random((2, 32, 24), dtype=np.float32) * 10
    lr = block_mean_np(truth, 4)
    rows = metrics.compare_with_bicubic(truth + 0.01, lr, truth, 4, ["Pb L", "Hg L"])
    assert [r.element for r in rows] == ["Pb L", "Hg L"]
    up = upsample_bicubic_np(lr, 4)
    assert rows[1].bicubic.psnr == pytest.approx(metrics.psnr(up[1], truth[1]))
    assert rows[0].gain_db > 10 and metrics.mean_gain_db(rows) > 10


def test_detail_added_says_how_much_and_where():
    lr = np.zeros((1, 12, 12), np.float32)
    lr[0, :, 6:] = 4.0
    result = upsample_bicubic_np(lr, 4)
    plain = metrics.detail_added(result, lr, 4, ["Fe K"])[0]
    assert plain.typical_pct < 0.01 and plain.changed_pct == 0
    assert "little detail" in plain.sentence()
    sharp = result.copy()
    sharp[0, :12, :12] += 2.0  # detail in the top left only
    d = metrics.detail_added(sharp, lr, 4, ["Fe K"])[0]
    assert d.where == "top left" and d.changed_pct == pytest.approx(100 * 144 / 48**2)
    assert "mostly top left" in d.sentence()
    everywhere = metrics.detail_added(result + 1.0, lr, 4, ["Fe K"])[0]
    assert everywhere.where == "everywhere" and everywhere.changed_pct == 100


def test_no_qt_import():
    import subprocess
    import sys

    code = ("import sys, napari_maxrf_sr.metrics; "
            "bad = [k for k in sys.modules if k.split('.')[0] in ('PyQt5', 'PyQt6', 'qtpy')]; "
            "sys.exit(1 if bad else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
