"""What the panel says: errors, the GPU fallback, notes, quality check, time, settings words."""

from __future__ import annotations

import numpy as np
import pytest

from tests.test_sr_widget import TINY, _layer_names, _scene, _wait_idle, _widget

pytestmark = pytest.mark.viewer


def _failing_after_one_event(exc, calls=None):
    """A ``train_prepared`` that yields one real event, then raises ``exc`` (the first time
    only)."""
    from napari_maxrf_sr.core.train import train_prepared

    calls = [] if calls is None else calls

    def fake(*args, **kwargs):
        calls.append(args[1].device)
        gen = train_prepared(*args, **kwargs)
        if len(calls) > 1:
            return gen

        def run():
            yield next(gen)
            raise exc
        return run()
    return fake


@pytest.mark.slow
def test_gpu_out_of_memory_trains_again_on_the_cpu(vm, qtbot):
    _scene(vm)
    w = _widget(vm, qtbot, **TINY)
    devices = []
    w.controller.train_fn = _failing_after_one_event(
        RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"), devices)
    w.device_combo.setCurrentText("auto")
    w.start()
    qtbot.waitUntil(lambda: len(devices) == 2, timeout=30_000)
    _wait_idle(qtbot, w)
    assert devices == ["auto", "cpu"]
    assert "Pb L (SR)" in vm.layers, w.status_label.text()
    assert w.progress.format() == "finished"


@pytest.mark.slow
def test_training_that_diverges_reports_and_frees_the_panel(vm, qtbot):
    from napari_maxrf_sr.errors import TrainingDiverged

    _scene(vm)
    before = _layer_names(vm)
    w = _widget(vm, qtbot, **TINY)
    w.controller.train_fn = _failing_after_one_event(
        TrainingDiverged("Training diverged in stage 1 at step 3."))
    w.start()
    _wait_idle(qtbot, w, timeout=20_000)  # a RuntimeError must not leave it "running"
    assert "diverged" in w.status_label.text() and "learning rates" in w.status_label.text()
    assert w.progress.format() == "failed" and w.start_btn.isEnabled()
    assert _layer_names(vm) == before


@pytest.mark.slow
def test_unexpected_error_says_so_plainly_and_names_a_log_file(vm, qtbot, tmp_path):
    _scene(vm)
    w = _widget(vm, qtbot, **TINY)
    w.controller.train_fn = _failing_after_one_event(KeyError("internal"))
    w.start()
    _wait_idle(qtbot, w, timeout=20_000)
    text = w.status_label.text()
    assert "Something unexpected went wrong (KeyError)" in text and "Traceback" not in text
    logs = list((tmp_path / "logs").glob("*.log"))  # MAXRF_SR_LOGS, set in conftest.py
    assert len(logs) == 1 and str(logs[0]) in text
    assert "KeyError" in logs[0].read_text()


def test_error_messages_say_what_to_do():
    from napari_maxrf_sr._napari.panel.texts import error_message
    from napari_maxrf_sr.errors import InputError, TrainingDiverged

    assert error_message(InputError("photo too small")) == "photo too small"
    assert "learning rate" in error_message(TrainingDiverged("loss is NaN."))
    assert "device 'cpu'" in error_message(RuntimeError("CUDA out of memory. Tried"))
    assert "/x/y.log" in error_message(OSError("disk"), "/x/y.log")


@pytest.mark.slow
def test_input_notes_are_said_once_and_the_runs_notes_shown(vm, qtbot):
    _scene(vm)
    vm.layers.remove("photo")
    rgba = np.zeros((48, 40, 4), np.uint8)
    rgba[..., :3] = 120
    rgba[..., 3] = 255  # an opaque alpha channel: dropped, with a note
    vm.add_image(rgba, name="photo", rgb=True)
    w = _widget(vm, qtbot, **TINY)
    w.start()
    assert w.status_label.text().count("alpha channel") == 1, w.status_label.text()
    _wait_idle(qtbot, w)
    notes = w.results.notes_label.text()
    assert w.results.notes_label.isVisibleTo(w) and notes.count("alpha channel") == 1
    assert w.last.provenance["notes"] == list(w.last.notes)


@pytest.mark.slow
def test_a_failed_quality_check_is_said_in_plain_words(vm, qtbot):
    from types import SimpleNamespace

    from napari_maxrf_sr.core.train import train_prepared

    def train_with_a_failed_check(*args, **kwargs):
        result = yield from train_prepared(*args, **kwargs)
        result.quality_check = SimpleNamespace(
            passed=False, gain_db=-0.8, message="Train longer, or check the alignment.")
        return result

    _scene(vm)
    w = _widget(vm, qtbot, **TINY)
    w.controller.train_fn = train_with_a_failed_check
    w.start()
    _wait_idle(qtbot, w)
    for label in (w.status_label, w.results.quality_label):
        assert "did not beat plain interpolation (-0.8 dB)" in label.text()
        assert "Train longer" in label.text()


def test_time_budget_too_short_is_warned_about_before_start(vm, qtbot):
    w = _widget(vm, qtbot)
    w.minutes_spin.setValue(0.3)  # 18 s
    assert w.form.budget_warning.isVisibleTo(w)
    assert "rarely beats plain interpolation" in w.form.budget_warning.text()
    w.minutes_spin.setValue(2)
    assert not w.form.budget_warning.isVisibleTo(w)
    w.minutes_spin.setValue(0)  # no limit
    assert not w.form.budget_warning.isVisibleTo(w)


def test_settings_in_plain_words(vm, qtbot):
    from napari_maxrf_sr._napari.panel.texts import PRESET_HELP

    w = _widget(vm, qtbot)
    presets = [w.preset_combo.itemText(i) for i in range(w.preset_combo.count())]
    assert presets[:3] == ["default", "fast", "paper"]
    assert not any(word in PRESET_HELP for word in ("minute", "second", "hour", "day"))
    form = w.form.advanced.body.layout()
    labels = [form.itemAt(i, form.LabelRole).widget().text() for i in range(form.rowCount())]
    assert "Network depth (K)" in labels and "Dictionary size (M)" in labels
    assert not any(label.startswith(("K ", "M ", "alpha")) for label in labels)
    for w_field in w.advanced_fields.values():
        assert w_field.toolTip() and "\n" not in w_field.toolTip()


def test_sample_painting_ticks_compare_with_ground_truth(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    w = _widget(viewer, qtbot)
    assert not w.truth_check.isChecked() and not w.truth_check.isEnabled()
    viewer.open_sample("napari-maxrf-sr", "synthetic_painting")
    assert w.truth_check.isChecked() and w.truth_check.isEnabled()
    w.truth_check.click()  # the user's choice is kept while the layers stay the same
    viewer.layers.selection.clear()
    viewer.add_points(name="unrelated")
    assert not w.truth_check.isChecked()


def test_loss_plot_speaks_plain_words_and_hides_expert_terms(qtbot):
    from napari_maxrf_sr._napari.loss_plot import LossPlot

    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.show()
    assert plot.placeholder.isVisible() and not plot.canvas.isVisible(), "no empty axes"
    start = plot.redraws
    for i in range(200):
        plot.add_point(i + 1, {"consistency": 1.0 / (i + 1), "rgb": 0.5, "d_fake": 0.9,
                               "a_term_added_later": 2.0, "bad": float("nan"), "neg": -1})
    assert plot.redraws == start  # nothing drawn synchronously
    qtbot.waitUntil(lambda: plot.redraws > start, timeout=3_000)
    assert plot.canvas.isVisible() and not plot.placeholder.isVisible()
    assert plot.shown_terms() == ["consistency", "rgb"]
    plot.expert_check.setChecked(True)
    assert plot.shown_terms() == ["consistency", "rgb", "d_fake", "a_term_added_later"]
    image = plot.canvas.grab().toImage()  # paints without error, unknown term included
    assert image.width() > 100
    steps, values = plot.history("consistency")
    assert steps[-1] == 200 and values[0] == 1.0 and plot.n_points == 800
    plot.clear()
    assert plot.n_points == 0 and plot.placeholder.isVisibleTo(plot)
