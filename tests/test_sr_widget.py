"""The super-resolution dock widget: manifest, runs, run control, errors, persistence."""

from __future__ import annotations

import json

import numpy as np
import pytest
from qtpy.QtCore import QThreadPool, QTimer

from napari_maxrf_sr.core.operators import block_mean_np

pytestmark = pytest.mark.viewer

#: Tiny network so that a whole run takes seconds on two cores.
TINY = {"stage1_steps": 20, "stage2_steps": 4, "n_atoms": 8}
#: A run that only ends when told to.
ENDLESS = {"stage1_steps": 1_000_000, "stage2_steps": 4, "n_atoms": 8}
SCALE = 4


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("NAPARI_MAXRF_SR_SETTINGS", str(tmp_path / "settings.json"))
    monkeypatch.setenv("MAXRF_SR_CHECKPOINTS", str(tmp_path / "checkpoints"))


@pytest.fixture
def vm(qtbot):
    """A viewer model without a canvas: enough for the widget, and fast to create."""
    from napari.components import ViewerModel

    return ViewerModel()


def _scene(viewer, *, s: int = SCALE, photo_shape: tuple[int, int] | None = None):
    """Two element maps (with truths) and a photo whose edges match the maps' edges."""
    big_h, big_w = 48, 40
    yy, xx = np.mgrid[:big_h, :big_w]
    truth = np.stack([(xx > 17) * 5.0 + 1, (yy > 21) * 3.0 + 0.5]).astype(np.float32)
    lr = block_mean_np(truth, s)
    for i, el in enumerate(("Pb L", "Hg L")):
        viewer.add_image(lr[i], name=el, colormap=("red", "green")[i], scale=(s, s),
                         translate=((s - 1) / 2,) * 2,
                         metadata={"maxrf_sr": {"role": "lr_map", "element": el}})
        viewer.add_image(truth[i], name=f"{el} (truth)", visible=False)
    rgb = np.stack([truth[0] / 6, truth[1] / 3.5, np.full((big_h, big_w), 0.5)], -1)
    rgb = (rgb * 255).astype(np.uint8)
    if photo_shape is not None:
        rgb = np.zeros((*photo_shape, 3), np.uint8)
    viewer.add_image(rgb, name="photo", rgb=True)
    return lr, truth


def _widget(viewer, qtbot, **advanced):
    from napari_maxrf_sr._napari.sr_widget import SuperResolutionWidget

    w = SuperResolutionWidget(viewer)
    qtbot.addWidget(w)
    w.preset_combo.setCurrentText("fast")
    w.set_advanced(**advanced)
    return w


def _wait_idle(qtbot, w, timeout=60_000):
    qtbot.waitUntil(lambda: not w.running, timeout=timeout)


def _wait_training(qtbot, w):
    """Until the network has taken a few steps."""
    qtbot.waitUntil(lambda: w.progress.value() >= 2 and w.progress.maximum() > 1,
                    timeout=30_000)


def _layer_names(viewer):
    return [layer.name for layer in viewer.layers]


# -- the whole path, through the manifest and the sample -------------------------------------
def test_manifest_sample_training_end_to_end(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    try:
        viewer.open_sample("napari-maxrf-sr", "synthetic_painting")
    except Exception as exc:  # the sample is another module; report clearly if it breaks
        pytest.fail(f"the sample painting did not open: {exc!r}")
    _, w = viewer.window.add_plugin_dock_widget("napari-maxrf-sr", "Super-resolve element maps")
    assert w.photo_combo.count() >= 1
    assert w.selected_map_layers(), "layers tagged as lr_map are pre-selected"
    assert "x (maps" in w.scale_label.text()
    w.preset_combo.setCurrentText("fast")
    w.set_advanced(**TINY)
    has_truth = any(name.endswith(" (truth)") for name in _layer_names(viewer))
    w.truth_check.setChecked(has_truth)

    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(20)
    w.start()
    assert w.running, w.status_label.text()
    _wait_idle(qtbot, w, timeout=80_000)
    timer.stop()
    assert len(ticks) >= 5, "the GUI thread kept running while training"

    photo = viewer.layers[w.photo_combo.currentText()]
    elements = [n for n in _layer_names(viewer) if n.endswith(" (SR)")]
    assert len(elements) == len(w.selected_map_layers()) or len(elements) >= 1
    for name in elements:
        layer = viewer.layers[name]
        assert layer.data.shape == photo.data.shape[:2]
        assert tuple(layer.scale) == tuple(photo.scale[-2:])
        qual = name.replace(" (SR)", " (error)" if has_truth else " (detail added)")
        assert qual in viewer.layers
    assert w.loss_plot.n_points > 0 and "total" in w.loss_plot.terms()
    if has_truth:
        assert w.metrics_table.isVisible() or w.metrics_table.rowCount() == len(elements)
    assert w.progress.format() == "finished"
    assert w.save_btn.isEnabled()


def test_training_results_saving_and_applying_the_model(vm, qtbot, tmp_path):
    viewer = vm
    lr, truth = _scene(viewer)
    w = _widget(viewer, qtbot, **TINY)
    w.truth_check.setChecked(True)
    w.start()
    _wait_idle(qtbot, w)
    assert _layer_names(viewer)[-4:] == ["Pb L (SR)", "Hg L (SR)", "Pb L (error)",
                                         "Hg L (error)"]
    sr = viewer.layers["Pb L (SR)"]
    assert sr.data.shape == truth.shape[1:]
    assert sr.colormap.name == viewer.layers["Pb L"].colormap.name
    np.testing.assert_allclose(block_mean_np(sr.data, SCALE), lr[0], rtol=1e-4, atol=1e-4)
    assert viewer.layers["Pb L (error)"].visible and not viewer.layers["Hg L (error)"].visible
    assert w.metrics_table.rowCount() == 2
    assert float(w.metrics_table.item(0, 1).text()) > 10  # PSNR in dB
    assert w.device_label.text().startswith("Device: CPU")
    grid = viewer.canvas.grid if hasattr(viewer, "canvas") else viewer.grid
    w.grid_btn.click()
    assert grid.enabled
    w.grid_btn.click()
    assert not grid.enabled
    out = tmp_path / "result.tif"
    w._ask_save_path = lambda *a: str(out)
    w._confirm_overwrite = lambda path: True
    w.save_btn.click()
    assert out.exists(), w.status_label.text()
    prov = json.loads((tmp_path / "result.provenance.json").read_text())
    assert prov["elements"] == ["Pb L", "Hg L"] and prov["settings"]["n_atoms"] == 8
    assert set(prov["inputs"]) == {"Pb L", "Hg L"} and prov["versions"]["numpy"]
    from napari_maxrf_sr.io import read_element_stack

    maps, elements, _ = read_element_stack(out)
    assert list(elements) == ["Pb L", "Hg L"]
    np.testing.assert_allclose(maps[1], viewer.layers["Hg L (SR)"].data, rtol=1e-6)
    model_path = tmp_path / "model.pt"
    w._ask_save_path = lambda *a: str(model_path)
    w.save_model_btn.click()
    assert model_path.exists(), w.status_label.text()
    expected = viewer.layers["Pb L (SR)"].data.copy()
    w._ask_open_path = lambda *a: str(model_path)
    w.apply_btn.click()
    _wait_idle(qtbot, w)
    assert _layer_names(viewer).count("Pb L (SR)") == 1, "a rerun replaces its layers"
    np.testing.assert_allclose(viewer.layers["Pb L (SR)"].data, expected, rtol=1e-4, atol=1e-4)


def test_pause_then_stop_and_keep(vm, qtbot):
    viewer = vm
    _scene(viewer)
    w = _widget(viewer, qtbot, **ENDLESS)
    w.start()
    _wait_training(qtbot, w)
    w.pause_btn.click()
    assert w.pause_btn.text() == "Resume" and w._run.token.paused
    qtbot.wait(400)  # the step in flight may still report
    before = w.progress.value()
    qtbot.wait(600)
    assert w.progress.value() == before, "no steps while paused"
    w.pause_btn.click()
    assert w.pause_btn.text() == "Pause"
    qtbot.waitUntil(lambda: w.progress.value() > before, timeout=20_000)
    w.stop_btn.click()
    _wait_idle(qtbot, w)
    assert "Pb L (SR)" in viewer.layers and "Hg L (detail added)" in viewer.layers
    assert w.progress.maximum() == 1
    assert "stopped early" in w.status_label.text()
    assert w._last["provenance"]["stopped_early"] is True


def test_cancel_adds_nothing(vm, qtbot):
    viewer = vm
    lr, _ = _scene(viewer)
    before = _layer_names(viewer)
    w = _widget(viewer, qtbot, **ENDLESS)
    w.start()
    _wait_training(qtbot, w)
    w.cancel_btn.click()
    _wait_idle(qtbot, w)
    assert _layer_names(viewer) == before
    np.testing.assert_array_equal(viewer.layers["Pb L"].data, lr[0])
    assert w.progress.format() == "cancelled"
    assert w.start_btn.isEnabled() and not w.cancel_btn.isEnabled()


def test_closing_the_viewer_mid_run_stops_the_thread(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    _scene(viewer)
    _, w = viewer.window.add_plugin_dock_widget("napari-maxrf-sr", "Super-resolve element maps")
    w.preset_combo.setCurrentText("fast")
    w.set_advanced(**ENDLESS)
    w.start()
    _wait_training(qtbot, w)
    run = w._run
    viewer.close()
    assert run.done.is_set(), "the training thread ended before napari closed"
    assert QThreadPool.globalInstance().waitForDone(5_000)
    assert QThreadPool.globalInstance().activeThreadCount() == 0


@pytest.mark.parametrize(
    ("case", "expected"),
    [("no photo", "Choose a photo"), ("not a multiple", "whole-number multiple"),
     ("no maps", "Select at least one")],
)
def test_bad_layer_choices_give_a_message(vm, qtbot, case, expected):
    viewer = vm
    _scene(viewer, photo_shape=(50, 40) if case == "not a multiple" else None)
    if case == "no photo":
        viewer.layers.remove("photo")
    w = _widget(viewer, qtbot, **TINY)
    if case == "no maps":
        w.select_maps([])
    n_layers = len(viewer.layers)
    w.start()  # must not raise
    assert not w.running
    assert expected in w.status_label.text()
    assert expected in w.scale_label.text()
    assert len(viewer.layers) == n_layers


def test_truth_requested_but_missing(vm, qtbot):
    viewer = vm
    _scene(viewer)
    for el in ("Pb L", "Hg L"):
        viewer.layers.remove(f"{el} (truth)")
    w = _widget(viewer, qtbot, **TINY)
    w.truth_check.setChecked(True)
    w.start()
    assert not w.running and "No ground-truth layers" in w.status_label.text()


def test_result_larger_than_free_memory_is_refused_before_training(vm, qtbot, monkeypatch):
    from napari_maxrf_sr.io import large

    viewer = vm
    _scene(viewer)
    names = [layer.name for layer in viewer.layers]
    monkeypatch.setattr(large, "available_memory", lambda: 1000)  # bytes
    w = _widget(viewer, qtbot, **TINY)
    w.start()
    assert not w.running
    text = w.status_label.text()
    assert "more than the free memory" in text and "maxrf-sr run" in text
    assert [layer.name for layer in viewer.layers] == names
    monkeypatch.setattr(large, "available_memory", lambda: None)  # unknown: not refused
    w.start()
    assert w.running, w.status_label.text()
    w.cancel()
    qtbot.waitUntil(lambda: not w.running, timeout=30000)


def test_invalid_advanced_value_gives_a_message(vm, qtbot):
    viewer = vm
    _scene(viewer)
    w = _widget(viewer, qtbot, **TINY)
    w.advanced_fields["stage1_lr"].setText("")
    w.start()
    assert not w.running and "not a number" in w.status_label.text()


def test_error_messages_say_what_to_do():
    from napari_maxrf_sr._napari.sr_widget import SuperResolutionWidget
    from napari_maxrf_sr.core.train import TrainingDiverged
    from napari_maxrf_sr.core.validation import InputError

    msg = SuperResolutionWidget.error_message
    assert msg(InputError("photo too small")) == "photo too small"
    assert "learning rate" in msg(TrainingDiverged("loss is NaN."))
    assert "device 'cpu'" in msg(RuntimeError("CUDA out of memory. Tried to allocate"))


def test_settings_are_remembered(vm, qtbot, tmp_path):
    viewer = vm
    w = _widget(viewer, qtbot, stage2_steps=7)
    w.seed_spin.setValue(42)
    w.minutes_spin.setValue(2.5)
    w.advanced_fields["lr_d"].setText("1e-05")
    w.shutdown()
    saved = json.loads((tmp_path / "settings.json").read_text())
    assert saved["seed"] == 42 and saved["preset"] == "fast"
    from napari_maxrf_sr._napari.sr_widget import SuperResolutionWidget

    w2 = SuperResolutionWidget(viewer)
    qtbot.addWidget(w2)
    cfg = w2.current_config()
    assert (cfg.seed, cfg.max_seconds, cfg.stage2_steps, cfg.lr_d) == (42, 150.0, 7, 1e-5)
    assert w2.preset_combo.currentText() == "fast"
    # a damaged settings file is ignored
    (tmp_path / "settings.json").write_text("{not json")
    w3 = SuperResolutionWidget(viewer)
    qtbot.addWidget(w3)
    assert w3.seed_spin.value() == 0


def test_baseline_runs_in_a_worker(vm, qtbot):
    baselines = pytest.importorskip("napari_maxrf_sr.baselines")
    viewer = vm
    _scene(viewer)
    w = _widget(viewer, qtbot)
    name = next(iter(baselines.METHODS))
    w.method_combo.setCurrentIndex(w.method_combo.findData(name))
    assert not w.advanced.isEnabled()
    w.start()
    _wait_idle(qtbot, w)
    assert f"Pb L ({name})" in viewer.layers, w.status_label.text()
    assert f"Hg L ({name})" in viewer.layers


def test_loss_plot_throttles_and_uses_log_scale(qtbot):
    from napari_maxrf_sr._napari.loss_plot import LossPlot

    plot = LossPlot()
    qtbot.addWidget(plot)
    assert plot.axes.get_yscale() == "log"
    start = plot.redraws
    for i in range(200):
        plot.add_point(i, {"total": 1.0 / (i + 1), "xrf": 0.5, "bad": float("nan"), "neg": -1})
    assert plot.redraws == start  # nothing drawn synchronously
    qtbot.wait(600)
    assert 1 <= plot.redraws - start <= 3
    assert plot.terms() == ["total", "xrf"] and plot.n_points == 400
    steps, values = plot.history("total")
    assert steps[-1] == 199 and values[0] == 1.0
    plot.clear()
    assert plot.n_points == 0


def _rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096 / 2**20


@pytest.mark.slow
def test_twenty_runs_in_one_session_do_not_grow(vm, qtbot):
    """Long sessions: threads, layers and memory stay bounded over 20 runs."""
    import gc
    import threading

    _scene(vm)
    w = _widget(vm, qtbot, **TINY)
    counts = []
    for run in range(20):
        w.start()
        _wait_idle(qtbot, w)
        qtbot.waitUntil(lambda: QThreadPool.globalInstance().activeThreadCount() == 0,
                        timeout=10_000)
        gc.collect()
        counts.append((threading.active_count(), len(vm.layers), _rss_mib()))
        if run == 4:
            baseline = counts[-1]
    print("threads, layers, RSS MiB per run:", counts)
    threads, layers, rss = counts[-1]
    assert threads <= baseline[0]
    assert layers == baseline[1]  # a rerun replaces its result layers
    # Stated bound: less than 150 MiB of growth over 15 more runs (measured: a few MiB).
    assert rss - baseline[2] < 150, counts


def test_interrupted_run_resumes_from_its_checkpoint(vm, qtbot, monkeypatch, tmp_path):
    import napari_maxrf_sr._napari.sr_widget as sr_widget
    from napari_maxrf_sr.api import run_to_end
    from napari_maxrf_sr.core.train import train

    monkeypatch.setattr(sr_widget, "CHECKPOINT_EVERY_SECONDS", 0.0)
    folder = tmp_path / "checkpoints"  # set by the autouse fixture in conftest.py
    viewer = vm
    _scene(viewer)
    steps = {"stage1_steps": 400, "stage2_steps": 4, "n_atoms": 8}
    w = _widget(viewer, qtbot, **steps)
    w.resume_btn.click()  # nothing to resume yet: says so, starts nothing
    assert not w.running and "No interrupted run" in w.status_label.text()

    before = _layer_names(viewer)
    w.start()
    qtbot.waitUntil(lambda: w.progress.value() >= 100, timeout=30_000)
    w.shutdown()  # what closing napari does mid-run
    assert not w.running or w._run.done.is_set()
    assert _layer_names(viewer) == before
    assert len(list(folder.glob("*.pt"))) == 1

    w2 = _widget(viewer, qtbot, **steps)
    w2.resume_btn.click()
    assert w2.running, w2.status_label.text()
    qtbot.waitUntil(lambda: "Resuming from step" in w2.status_label.text()
                    or not w2.running, timeout=30_000)
    _wait_idle(qtbot, w2)
    assert "Pb L (SR)" in viewer.layers, w2.status_label.text()
    assert list(folder.glob("*.pt")) == [], "a finished run removes its checkpoint"
    assert w2._last["result"].diagnostics["resumed_from_step"] >= 100

    inputs = w2.collect_inputs()
    ref = run_to_end(train(inputs.lr_maps, inputs.rgb, w2.current_config(), scale=inputs.scale,
                           elements=inputs.elements))
    np.testing.assert_array_equal(viewer.layers["Pb L (SR)"].data, ref.maps[0])


def test_gpu_out_of_memory_trains_again_on_the_cpu(vm, qtbot, monkeypatch):
    import napari_maxrf_sr.core.train as core_train

    real_train = core_train.train
    devices = []

    def train_that_runs_out_of_memory_once(*args, **kwargs):
        config = args[2]
        devices.append(config.device)
        gen = real_train(*args, **kwargs)
        if len(devices) > 1:
            return gen

        def failing():
            yield next(gen)
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return failing()

    monkeypatch.setattr(core_train, "train", train_that_runs_out_of_memory_once)
    viewer = vm
    _scene(viewer)
    w = _widget(viewer, qtbot, **TINY)
    w.device_combo.setCurrentText("auto")
    w.start()
    qtbot.waitUntil(lambda: len(devices) == 2, timeout=30_000)
    _wait_idle(qtbot, w)
    assert devices == ["auto", "cpu"]
    assert "Pb L (SR)" in viewer.layers, w.status_label.text()
    assert w.progress.format() == "finished"


def test_training_that_diverges_reports_and_frees_the_panel(vm, qtbot, monkeypatch):
    import napari_maxrf_sr.core.train as core_train

    real_train = core_train.train

    def diverging(*args, **kwargs):
        gen = real_train(*args, **kwargs)

        def run():
            yield next(gen)
            raise core_train.TrainingDiverged("Training diverged in stage 1 at step 3.")
        return run()

    monkeypatch.setattr(core_train, "train", diverging)
    viewer = vm
    _scene(viewer)
    before = _layer_names(viewer)
    w = _widget(viewer, qtbot, **TINY)
    w.start()
    _wait_idle(qtbot, w, timeout=20_000)  # a RuntimeError must not leave it "running"
    assert "diverged" in w.status_label.text() and "learning rates" in w.status_label.text()
    assert w.progress.format() == "failed" and w.start_btn.isEnabled()
    assert _layer_names(viewer) == before
