"""The maxrf-sr command line, end to end on small files."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import tifffile

from napari_maxrf_sr.cli import main
from napari_maxrf_sr.core.operators import block_mean_np
from napari_maxrf_sr.io import read_element_stack


def test_run_bicubic_writes_named_float_stack(files, tmp_path, capsys):
    xrf, photo, lr = files
    out = tmp_path / "sr.tif"
    code = main(["run", "--xrf", str(xrf), "--rgb", str(photo), "--scale", "4", "--out",
                 str(out), "--method", "bicubic_projected", "--quiet"])
    assert code == 0
    assert str(out.resolve()) in capsys.readouterr().out
    maps, elements, _ = read_element_stack(out)
    assert maps.shape == (3, 32, 32) and maps.dtype == np.float32
    assert elements == ("Pb L", "Hg L", "Cu K")
    np.testing.assert_allclose(block_mean_np(maps, 4), lr, rtol=1e-4, atol=1e-3)
    with tifffile.TiffFile(out) as tf:
        assert len(tf.pages) == 3


@pytest.mark.slow
def test_run_network_with_seed_time_budget_and_model(files, tmp_path, monkeypatch, capsys):
    xrf, photo, _ = files
    out, model = tmp_path / "sr.tif", tmp_path / "m.pt"
    code = main(["run", "--xrf", str(xrf), "--rgb", str(photo), "--scale", "4", "--out",
                 str(out), "--preset", "fast", "--seed", "1", "--max-seconds", "2",
                 "--device", "cpu", "--save-model", str(model)])
    assert code == 0, capsys.readouterr().err
    err = capsys.readouterr().err
    assert "step" in err and "CPU" in err  # the progress bar and the device
    assert model.exists()
    out2 = tmp_path / "again.tif"
    assert main(["apply", "--model", str(model), "--xrf", str(xrf), "--rgb", str(photo),
                 "--out", str(out2)]) == 0
    a, _, _ = read_element_stack(out)
    b, _, _ = read_element_stack(out2)
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-3)


def test_refuses_to_overwrite_and_reports_bad_input(files, tmp_path, capsys):
    xrf, photo, _ = files
    out = tmp_path / "sr.tif"
    out.write_bytes(b"keep me")
    args = ["run", "--xrf", str(xrf), "--rgb", str(photo), "--out", str(out),
            "--method", "bicubic", "--quiet"]
    assert main(args) == 1
    assert "--force" in capsys.readouterr().err
    assert out.read_bytes() == b"keep me"
    assert main(args + ["--force"]) == 0
    assert main(["run", "--xrf", str(xrf), "--rgb", str(photo), "--scale", "3", "--out",
                 str(tmp_path / "x.tif"), "--method", "bicubic"]) == 1
    assert "scale 3" in capsys.readouterr().err
    assert main(["run", "--xrf", str(tmp_path / "missing.tif"), "--rgb", str(photo),
                 "--out", str(tmp_path / "y.tif")]) == 1
    assert not (tmp_path / "x.tif").exists() and not (tmp_path / "y.tif").exists()
    assert main(["run", "--xrf", str(xrf), "--rgb", str(photo), "--out",
                 str(tmp_path / "z.tif"), "--method", "magic"]) == 1
    assert "bicubic" in capsys.readouterr().err


def test_simulate_and_help(tmp_path, capsys):
    assert main(["simulate", "--out", str(tmp_path / "case"), "--size", "64", "--elements",
                 "3"]) == 0
    info = json.loads((tmp_path / "case" / "info.json").read_text())
    assert info["generator"] == "napari_maxrf_sr.simulate.make_synthetic_painting"
    assert info["size"] == [64, 64] and info["scale"] == 4 and info["seed"] == 0
    assert info["elements"] == ["Pb L", "Hg L", "Fe K"] and info["noise"] == "Poisson"
    help_text = subprocess.run([sys.executable, "-m", "napari_maxrf_sr.cli", "run", "--help"],
                               capture_output=True, text=True).stdout
    for option in ("--xrf", "--rgb", "--scale", "--out", "--method", "--seed",
                   "--max-seconds", "--device"):
        assert option in help_text
    align_help = subprocess.run([sys.executable, "-m", "napari_maxrf_sr.cli", "align",
                                 "--help"], capture_output=True, text=True).stdout
    assert "--out ALIGNED.png" in align_help and "--transform" in align_help
    for option in ("--device", "--scheduler", "OUT.tif"):  # training and cluster options
        assert option not in align_help
    assert main([]) == 2


@pytest.mark.slow
def test_provenance_is_enough_to_rerun_bit_for_bit(files, tmp_path):
    """The settings stored in the output re-create the same maps (CPU, same data)."""
    from napari_maxrf_sr.api import super_resolve
    from napari_maxrf_sr.core.config import SRConfig
    from napari_maxrf_sr.io import read_photo

    xrf, photo, lr = files
    out = tmp_path / "sr.tif"
    assert main(["run", "--xrf", str(xrf), "--rgb", str(photo), "--out", str(out), "--preset",
                 "fast", "--seed", "5", "--device", "cpu", "--quiet"]) == 0
    maps, elements, meta = read_element_stack(out)
    prov = meta.provenance
    config = SRConfig.from_dict(prov["settings"])  # validated like any file from elsewhere
    assert config.seed == 5 and prov["inputs"]["xrf"]["path"] == str(xrf)
    assert prov["schema"] == "napari-maxrf-sr provenance 1" and prov["made_by"] == "maxrf-sr run"
    rgb, _ = read_photo(prov["photo"]["path"])
    again = super_resolve(lr, rgb, 4, elements=elements, config=config)
    np.testing.assert_array_equal(again.maps, maps)


@pytest.mark.slow
def test_set_changes_one_setting_and_is_recorded(files, tmp_path, capsys):
    xrf, photo, _ = files
    out = tmp_path / "sr.tif"
    assert main(["run", "--xrf", str(xrf), "--rgb", str(photo), "--out", str(out), "--preset",
                 "fast", "--seed", "2", "--max-seconds", "2", "--device", "cpu", "--quiet",
                 "--set", "calibration_radius=3", "--set", "photo_range=full"]) == 0
    settings = read_element_stack(out)[2].provenance["settings"]
    assert settings["calibration_radius"] == 3 and settings["photo_range"] == "full"
    assert settings["seed"] == 2  # the other options still apply


@pytest.mark.parametrize(("value", "says"), [
    ("calibration_radiu=1", "unknown setting"), ("calibration_radius=x", "whole number"),
    ("calibration_radius=99", "at most"), ("calibration_radius", "NAME=VALUE")])
def test_set_refuses_bad_settings_before_reading_anything(tmp_path, capsys, value, says):
    with pytest.raises(SystemExit) as stop:
        main(["run", "--xrf", str(tmp_path / "none.tif"), "--rgb", "x.png", "--out",
              str(tmp_path / "o.tif"), "--set", value])
    assert stop.value.code == 2 and says in capsys.readouterr().err


def test_set_is_refused_for_a_baseline(files, tmp_path, capsys):
    xrf, photo, _ = files
    out = tmp_path / "b.tif"
    assert main(["run", "--xrf", str(xrf), "--rgb", str(photo), "--out", str(out),
                 "--method", "bicubic", "--set", "calibration_radius=1"]) == 1
    assert "--set" in capsys.readouterr().err and not out.exists()


def test_settings_lists_every_setting_with_the_presets_value(capsys):
    from napari_maxrf_sr.core.config import FIELD_HELP, config_from_preset

    assert main(["settings", "--preset", "paper"]) == 0
    text = capsys.readouterr().out
    for name in FIELD_HELP:
        assert f"\n{name} = " in "\n" + text
    paper = config_from_preset("paper").calibration_radius
    assert f"calibration_radius = {paper}\n" in text


@pytest.mark.slow
def test_apply_set_changes_only_what_acts_after_training(files, tmp_path, capsys):
    xrf, photo, _ = files
    model = tmp_path / "m.pt"
    assert main(["run", "--xrf", str(xrf), "--rgb", str(photo), "--out", str(tmp_path / "a.tif"),
                 "--preset", "fast", "--seed", "3", "--max-seconds", "2", "--device", "cpu",
                 "--quiet", "--save-model", str(model)]) == 0
    outs = {}
    for radius in ("1", "0"):
        outs[radius] = tmp_path / f"r{radius}.tif"
        assert main(["apply", "--model", str(model), "--xrf", str(xrf), "--rgb", str(photo),
                     "--out", str(outs[radius]), "--set", f"calibration_radius={radius}"]) == 0
    with_check, without = (read_element_stack(outs[r]) for r in ("1", "0"))
    assert without[2].provenance["settings"]["calibration_radius"] == 0
    assert not np.allclose(with_check[0], without[0])  # the same network, answered otherwise
    refused = tmp_path / "no.tif"
    assert main(["apply", "--model", str(model), "--xrf", str(xrf), "--rgb", str(photo),
                 "--out", str(refused), "--set", "stage1_steps=5"]) == 1
    assert "stage1_steps changes how the network is trained" in capsys.readouterr().err
    assert not refused.exists()
