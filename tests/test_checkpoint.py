"""Checkpoints: a killed or crashed run resumes where it was and gives the same maps."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from napari_maxrf_sr.api import run_to_end
from napari_maxrf_sr.cli import checkpoint_path, main
from napari_maxrf_sr.core import train as train_module
from napari_maxrf_sr.core.checkpoint import CheckpointPlan, read_checkpoint_info
from napari_maxrf_sr.core.config import config_from_preset
from napari_maxrf_sr.core.train import train
from napari_maxrf_sr.errors import CheckpointError
from napari_maxrf_sr.io import read_element_stack

from .conftest import toy_painting, write_toy_files

#: Every test here trains a network (or uses one trained for the module).
pytestmark = pytest.mark.slow

CFG = config_from_preset("fast", stage1_steps=40, stage2_steps=6, check_every=10,
                         device="cpu", seed=3, adversarial=True)


@pytest.fixture(scope="module")
def painting():
    _, lr, rgb = toy_painting(size=48)
    return lr, rgb


@pytest.fixture(scope="module")
def uninterrupted(painting):
    lr, rgb = painting
    return run_to_end(train(lr, rgb, CFG))


def _interrupt(lr, rgb, path, stage: str, at: int) -> None:
    """Run with a checkpoint after every step and abandon the run at ``stage`` ``at``."""
    gen = train(lr, rgb, CFG, checkpoint=CheckpointPlan(path, every_seconds=0.0))
    for event in gen:
        if event.stage == stage and event.stage_step >= at:
            break
    gen.close()  # the generator is dropped mid-run, as when the process dies


@pytest.mark.parametrize(("stage", "at"), [("stage 1", 15), ("stage 1", 40), ("stage 2", 3)])
def test_resumed_run_gives_the_same_maps_bit_for_bit(painting, uninterrupted, tmp_path,
                                                      monkeypatch, stage, at):
    lr, rgb = painting
    # An event after every step, so that the loss history does not depend on the
    # machine's speed (events are otherwise time-based).
    monkeypatch.setattr(train_module, "EVENT_INTERVAL", 0.0)
    path = tmp_path / "run.ckpt.pt"
    _interrupt(lr, rgb, path, stage, at)
    info = read_checkpoint_info(path)
    assert info["stage"] == stage and info["step"] >= at
    result = run_to_end(train(lr, rgb, CFG, checkpoint=CheckpointPlan(path, 0.0, resume=True)))
    assert result.diagnostics["resumed_from_step"] == info["step"]
    assert any("Resumed from a checkpoint" in n for n in result.notes)
    np.testing.assert_array_equal(result.maps, uninterrupted.maps)
    # The loss history from before the checkpoint is kept, once, and continues after it.
    steps = [(h["stage"], h["step"]) for h in result.history]
    n1, n2 = CFG.stage1_steps, CFG.stage2_steps
    assert steps == [("stage 1", k) for k in range(1, n1 + 1)] + [
        ("stage 2", n1 + k) for k in range(1, n2 + 1)]


def test_checkpoints_are_written_every_few_seconds_not_every_step(painting, tmp_path):
    lr, rgb = painting
    path = tmp_path / "c.pt"
    gen = train(lr, rgb, CFG, checkpoint=CheckpointPlan(path, every_seconds=3600.0))
    for event in gen:
        if event.stage == "stage 1":
            assert not path.exists()  # not due within the first hour
        if event.stage == "stage 2" and event.stage_step >= 1:
            break
    gen.close()
    assert read_checkpoint_info(path)["stage"] == "stage 2"  # the hand-over is always kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pt"]  # no temporary files


def test_resume_refuses_other_data_settings_and_missing_files(painting, tmp_path):
    lr, rgb = painting
    path = tmp_path / "c.pt"
    _interrupt(lr, rgb, path, "stage 1", 10)
    with pytest.raises(CheckpointError, match="belongs to another run"):
        train(lr * 2, rgb, CFG, checkpoint=CheckpointPlan(path, resume=True))
    with pytest.raises(CheckpointError, match="belongs to another run"):
        train(lr, rgb, CFG.replace(seed=4), checkpoint=CheckpointPlan(path, resume=True))
    # The device may change between the crash and the resume.
    train(lr, rgb, CFG.replace(device="cpu", tile_pixels=4096),
          checkpoint=CheckpointPlan(path, resume=True)).close()
    with pytest.raises(CheckpointError, match="no checkpoint"):
        train(lr, rgb, CFG, checkpoint=CheckpointPlan(tmp_path / "none.pt", resume=True))
    truncated = tmp_path / "cut.pt"
    truncated.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="not a usable"):
        train(lr, rgb, CFG, checkpoint=CheckpointPlan(truncated, resume=True))
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(CheckpointError, match="not a napari-maxrf-sr checkpoint"):
        read_checkpoint_info(foreign)


class _Evil:
    def __reduce__(self):
        return (exec, ("open('PWNED', 'w').write('x')",))


def test_malicious_checkpoint_is_refused_without_running_code(painting, tmp_path, monkeypatch):
    lr, rgb = painting
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pt"
    with open(path, "wb") as fh:
        pickle.dump({"format": "napari-maxrf-sr-checkpoint", "state": _Evil()}, fh)
    with pytest.raises(CheckpointError, match="refused for safety"):
        train(lr, rgb, CFG, checkpoint=CheckpointPlan(path, resume=True))
    assert not (tmp_path / "PWNED").exists()


# -- the command line: kill a real process, then resume ---------------------------------------
@pytest.fixture
def cli_files(tmp_path):
    return write_toy_files(tmp_path, size=64)[:2]


def test_cli_run_killed_then_resumed(cli_files, tmp_path, capsys):
    xrf, photo = cli_files
    out = tmp_path / "sr.tif"

    def run_args(target):
        return ["run", "--xrf", str(xrf), "--rgb", str(photo), "--scale", "4", "--out",
                str(target), "--preset", "fast", "--seed", "2", "--device", "cpu", "--quiet"]

    args = run_args(out)
    ckpt = checkpoint_path(out)
    proc = subprocess.Popen(
        [sys.executable, "-m", "napari_maxrf_sr.cli", *args, "--checkpoint-every", "0.05"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while not ckpt.exists() or read_checkpoint_info(ckpt)["step"] < 50:
            assert proc.poll() is None, proc.communicate()[1].decode()
            assert time.monotonic() < deadline, "no checkpoint written"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)  # as a crash or a power cut would
    finally:
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists()  # a killed run writes no output
    step = read_checkpoint_info(ckpt)["step"]

    # Without --resume the leftover checkpoint is pointed out, not silently replaced.
    assert main(args) == 1
    assert "--resume" in capsys.readouterr().err
    assert main([*args, "--resume"]) == 0
    err = capsys.readouterr().err
    assert f"resuming from {ckpt}: step {step}" in err
    assert out.exists() and not ckpt.exists()  # done: the checkpoint is removed
    resumed, _, _ = read_element_stack(out)

    fresh = tmp_path / "fresh.tif"
    assert main(run_args(fresh)) == 0
    uninterrupted, _, _ = read_element_stack(fresh)
    # Same seed, data and settings: the same maps (the CPU kernels are deterministic).
    np.testing.assert_allclose(resumed, uninterrupted, rtol=1e-5, atol=1e-5)


def test_cli_resume_without_a_checkpoint_says_what_to_do(cli_files, tmp_path, capsys):
    xrf, photo = cli_files
    out = tmp_path / "sr.tif"
    code = main(["run", "--xrf", str(xrf), "--rgb", str(photo), "--out", str(out),
                 "--resume", "--quiet"])
    assert code == 1
    err = capsys.readouterr().err
    assert "no checkpoint" in err and "without --resume" in err
    code = main(["run", "--xrf", str(xrf), "--rgb", str(photo), "--out", str(out),
                 "--method", "bicubic", "--resume", "--quiet"])
    assert code == 1 and "only applies to the network" in capsys.readouterr().err
