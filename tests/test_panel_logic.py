"""The panel's Qt-free parts: layer roles, inputs, words, loss terms, the worker's jobs."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from napari_maxrf_sr._napari.panel import inputs as inp
from napari_maxrf_sr._napari.panel import jobs, outcome, terms, texts
from napari_maxrf_sr.errors import InputError


def _layer(name, data, *, rgb=False, meta=None):
    return SimpleNamespace(name=name, data=data, rgb=rgb, metadata=meta or {},
                           scale=(1.0, 1.0), translate=(0.0, 0.0), colormap="gray",
                           contrast_limits=(0.0, 1.0))


def test_roles_and_candidates():
    lr = _layer("Pb L", np.zeros((4, 4)), meta={"maxrf_sr": {"role": "lr_map"}})
    result = _layer("Pb L (SR)", np.zeros((16, 16)), meta={"maxrf_sr": {"role": "sr_map"}})
    untagged_output = _layer("Hg L (truth)", np.zeros((16, 16)))
    photo = _layer("photo", np.zeros((16, 16, 3)), rgb=True)
    assert inp.is_map_candidate(lr) and not inp.is_map_candidate(result)
    assert not inp.is_map_candidate(untagged_output) and not inp.is_map_candidate(photo)
    assert inp.truth_element(untagged_output) == "Hg L"
    stack = _layer("scan", np.zeros((2, 4, 4)), meta={"maxrf_sr": {"elements": ["Ca K", "Fe K"]}})
    assert inp.element_names(stack) == ["Ca K", "Fe K"]
    assert inp.element_names(_layer("scan", np.zeros((2, 4, 4)))) == ["scan 1", "scan 2"]


def test_collect_inputs_copies_and_checks():
    photo = _layer("photo", np.zeros((16, 16, 3), np.uint8), rgb=True)
    maps = [_layer("Pb L", np.ones((4, 4), np.float32)), _layer("Hg L", np.ones((4, 4)))]
    got = inp.collect_inputs(maps, photo)
    assert got.lr_maps.shape == (2, 4, 4) and got.scale == 4 and got.truth == {}
    assert got.elements == ("Pb L", "Hg L") and got.map_layer_names == ("Pb L", "Hg L")
    with pytest.raises(InputError, match="same element name"):
        inp.collect_inputs([maps[0], _layer("x", np.ones((4, 4)),
                                            meta={"element": "Pb L"})], photo)
    with pytest.raises(InputError, match="No ground-truth layers"):
        inp.collect_inputs(maps, photo, truth_layers=[])
    truth = _layer("Pb L (truth)", np.ones((16, 16)))
    assert set(inp.collect_inputs(maps, photo, [truth]).truth) == {"Pb L"}
    assert inp.scale_text(maps, None) == (
        "Choose a photo: open the colour photo of the painting as an RGB image layer.", True)


def test_words():
    assert texts.budget_warning(18) and not texts.budget_warning(30)
    assert not texts.budget_warning(None) and not texts.budget_warning(0)
    bar, line = texts.progress_texts("stage 1", 50, 200, 75.0, 20.0, paused=True)
    assert bar == "Paused" and line.startswith("Paused.") and "01:15 since Start" in line
    bar, line = texts.progress_texts("stage 1", 50, 200, 75.0, 20.0)
    assert bar == "Training - 25 %" and "about 00:20 left" in line
    assert texts.quality_warning(None) == ""
    assert texts.quality_warning(SimpleNamespace(passed=True, gain_db=1.0, message="")) == ""
    assert texts.error_message(KeyError("x"), "/logs/a.log").endswith(
        "The details are in /logs/a.log; please send that file with a bug report.")
    assert not texts.is_expected(KeyError("x")) and texts.is_expected(InputError("x"))


def test_loss_terms_in_plain_words():
    assert terms.describe("consistency").label == "Fit to the scan"
    assert terms.describe("rgb").label == "Explains the photo"
    assert terms.describe("validation").label == "Held-out check"
    assert all(terms.describe(k).expert for k in ("total", "adv_g", "d_fake", "d_real"))
    new = terms.describe("sharpness_prior")  # a term the core may add later
    assert new.expert and new.label == "sharpness_prior"


def _inputs():
    photo = _layer("photo", np.full((16, 16, 3), 100, np.uint8), rgb=True)
    maps = [_layer("Pb L", np.arange(16, dtype=np.float32).reshape(4, 4) + 1)]
    return inp.collect_inputs(maps, photo)


def test_checkpoint_name_ignores_the_device_only():
    got = _inputs()
    digests = outcome.input_digests(got)
    a = outcome.checkpoint_name(digests, got, {"seed": 0, "device": "cpu"}, "error")
    assert a == outcome.checkpoint_name(digests, got, {"seed": 0, "device": "cuda"}, "error")
    assert a != outcome.checkpoint_name(digests, got, {"seed": 1, "device": "cpu"}, "error")
    assert a != outcome.checkpoint_name(digests, got, {"seed": 0, "device": "cpu"}, "clip")


def test_training_job_yields_started_then_events_and_returns_the_outcome(tmp_path):
    from napari_maxrf_sr.core.checkpoint import CheckpointPlan

    got = _inputs()
    calls = []

    def fake_train(prepared, config, **kw):
        calls.append((prepared, kw))
        kw["checkpoint"].path.write_bytes(b"state")

        def run():
            yield SimpleNamespace(stage="stage 1", losses={"consistency": 0.1})
            return SimpleNamespace(maps=np.ones((1, 16, 16), np.float32), notes=("core note",),
                                   device="CPU", history=[], seconds=1.0, stopped_early=False,
                                   model=object(), quality_check=None)
        return run()

    config = SimpleNamespace(to_dict=lambda: {"seed": 0}, device="cpu")
    plan = jobs.TrainingPlan(config, folder=tmp_path, every_seconds=5.0)
    prepared = object()  # what validate() prepared: handed on, not checked again
    checked = []
    gen = jobs.training_job(got, plan, prepared, SimpleNamespace(cancelled=False), fake_train,
                            notes=("input note",),
                            check=lambda p: (checked.append(p), (p, ("check note",)))[1])
    started = next(gen)
    assert isinstance(started, jobs.Started) and started.checkpoint.parent == tmp_path
    assert checked == [prepared]  # the registration check ran before training
    assert calls[0][0] is prepared and isinstance(calls[0][1]["checkpoint"], CheckpointPlan)
    assert next(gen).stage == "stage 1"
    with pytest.raises(StopIteration) as end:
        next(gen)
    result = end.value.value
    assert isinstance(result, outcome.RunOutcome) and result.has_model
    assert result.notes == ("input note", "check note", "core note")
    assert result.detail and result.layers[0][1]["name"] == "Pb L (SR)"
    assert not started.checkpoint.exists(), "a finished run removes its checkpoint"
    with pytest.raises(InputError, match="No interrupted run"):
        next(jobs.training_job(got, jobs.TrainingPlan(config, resume=True, folder=tmp_path),
                               prepared, None, fake_train, check=lambda p: (p, ())))


# -- the run session: the Qt-free model the widget wraps ------------------------------------
def _event(stage, kind=None, message=""):
    from napari_maxrf_sr.core.events import EventKind, TrainEvent

    return TrainEvent(stage, 1, 10, 1, 10, {}, 0.1, None, "CPU", message,
                      kind or EventKind.PROGRESS)


def test_the_session_checks_once_and_plans_the_job(tmp_path):
    from napari_maxrf_sr._napari.panel.session import RunSession, RunStatus
    from napari_maxrf_sr.core.config import config_from_preset
    from napari_maxrf_sr.core.validation import PreparedInputs

    session = RunSession()
    asked = []

    def settings():
        asked.append(1)
        return config_from_preset("fast")

    with pytest.raises(InputError, match="Only the network's training can be resumed"):
        session.check(_inputs(), "bicubic", True, settings, "error", tmp_path, 5.0)
    assert not asked, "the method is checked before the settings are read"
    job = session.check(_inputs(), "network", False, settings, "clip", tmp_path, 5.0)
    assert job.trains and isinstance(job.prepared, PreparedInputs)
    assert job.prepared.scale == 4 and job.plan.negative == "clip"
    assert session.status is RunStatus.IDLE
    assert session.begin(job).startswith("Starting")
    assert session.status is RunStatus.RUNNING and session.job is job


def test_the_session_says_each_stage_once():
    from napari_maxrf_sr._napari.panel.session import RunSession, RunStatus
    from napari_maxrf_sr.core.events import EventKind, Stage

    session = RunSession()
    assert session.event_status(_event(Stage.PREPARE, EventKind.PHASE, "Initialising")) == (
        "Initialising")
    assert session.event_status(_event(Stage.STAGE1)).startswith("Training:")
    assert session.event_status(_event(Stage.STAGE1)) is None, "said once"
    assert session.event_status(_event(Stage.STAGE1, EventKind.PAUSED, "paused")) is None
    assert session.event_status(_event(Stage.STAGE2, EventKind.PHASE, "Adversarial")) == (
        "Adversarial")
    assert session.paused(True).startswith("Paused") and session.status is RunStatus.PAUSED
    assert session.ended(cancelled=False, failed=False, retry=True) is None
    assert session.ended(cancelled=True, failed=True, retry=True)[:2] == ("cancelled", False)
    assert session.ended(cancelled=False, failed=True, retry=False) == ("failed", False, None)
    assert session.status is RunStatus.FAILED
