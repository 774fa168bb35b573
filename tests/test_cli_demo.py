"""``maxrf-sr demo``: says what it ran, and measures as the panel does."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_maxrf_sr.cli import main
from napari_maxrf_sr.io import read_element_maps
from napari_maxrf_sr.metrics import psnr


@pytest.mark.slow
def test_demo_says_it_is_a_quick_run_and_reports_the_per_map_mean(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "demo"), "--quiet",
                 "--max-seconds", "20"]) == 0
    err = capsys.readouterr().err
    folder = tmp_path / "demo"
    summary = json.loads((folder / "demo_summary.json").read_text())
    assert (summary["preset"], summary["steps"], summary["size_px"], summary["maps"]) == (
        "fast", 300, 128, 5)
    assert "Quick run: the 'fast' preset (300 training steps) on a 128 x 128 px" in err
    assert "maxrf-sr demo --preset default" in err

    # The panel's measure: PSNR of each map against its truth, then the mean.
    maps, _, _ = read_element_maps(folder / "maps_sr.tif")
    truth, _, _ = read_element_maps(folder / "truth.tif")
    per_map = [psnr(m, t) for m, t in zip(maps, truth, strict=True)]
    assert summary["network_psnr_db"] == pytest.approx(np.mean(per_map), abs=0.01)
    assert f"network {summary['network_psnr_db']:.2f} dB" in err
    assert summary["gain_db"] == pytest.approx(
        summary["network_psnr_db"] - summary["bicubic_psnr_db"], abs=0.02)


def test_demo_refuses_an_unknown_preset(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--preset", "paper"])
    assert "invalid choice" in capsys.readouterr().err
