"""The super-resolution dock widget: manifest, runs, run control, errors, persistence."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from qtpy.QtCore import Qt, QThreadPool, QTimer

from napari_maxrf_sr.core.operators import block_mean_np

pytestmark = pytest.mark.viewer

#: Tiny network so that a whole run takes seconds on two cores.
TINY = {"stage1_steps": 20, "stage2_steps": 4, "n_atoms": 8}
#: A run that only ends when told to.
ENDLESS = {"stage1_steps": 1_000_000, "stage2_steps": 4, "n_atoms": 8}
SCALE = 4


def _scene(viewer, *, s: int = SCALE, photo_shape: tuple[int, int] | None = None,
           truth: bool = True):
    """Two element maps (with truths) and a photo whose edges match the maps' edges."""
    big_h, big_w = 48, 40
    yy, xx = np.mgrid[:big_h, :big_w]
    hr = np.stack([(xx > 17) * 5.0 + 1, (yy > 21) * 3.0 + 0.5]).astype(np.float32)
    lr = block_mean_np(hr, s)
    for i, el in enumerate(("Pb L", "Hg L")):
        viewer.add_image(lr[i], name=el, colormap=("red", "green")[i], scale=(s, s),
                         translate=((s - 1) / 2,) * 2,
                         metadata={"maxrf_sr": {"role": "lr_map", "element": el}})
        if truth:
            viewer.add_image(hr[i], name=f"{el} (truth)", visible=False)
    rgb = np.stack([hr[0] / 6, hr[1] / 3.5, np.full((big_h, big_w), 0.5)], -1)
    rgb = (rgb * 255).astype(np.uint8)
    if photo_shape is not None:
        rgb = np.zeros((*photo_shape, 3), np.uint8)
    viewer.add_image(rgb, name="photo", rgb=True)
    return lr, hr


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


class FakeDialogs:
    """Answers the panel's file dialogs without a person."""

    def __init__(self, save="", open_="", replace=True):
        self.save, self.open, self.replace = save, open_, replace

    def save_path(self, title, filters):
        return str(self.save)

    def open_path(self, title, filters):
        return str(self.open)

    def confirm_overwrite(self, path):
        return self.replace


# -- the whole path, through the manifest and the sample -------------------------------------
@pytest.mark.slow
def test_manifest_sample_training_end_to_end(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    viewer.open_sample("napari-maxrf-sr", "synthetic_painting")
    _, w = viewer.window.add_plugin_dock_widget("napari-maxrf-sr", "Super-resolve element maps")
    assert w.photo_combo.count() >= 1
    assert len(w.selected_map_layers()) == 7, "layers tagged as lr_map are pre-selected"
    assert w.truth_check.isChecked(), "the sample's truth layers tick the comparison"
    assert "4x (maps" in w.scale_label.text()
    w.preset_combo.setCurrentText("fast")
    w.set_advanced(**TINY)
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
    results = [layer for layer in viewer.layers if layer.name.endswith(" (SR)")]
    assert len(results) == 7
    assert [layer.name for layer in viewer.layers][-7:] == [r.name for r in results], "on top"
    for layer in results:
        assert layer.data.shape == photo.data.shape[:2]
        assert tuple(layer.scale) == tuple(photo.scale[-2:])
        element = layer.name[: -len(" (SR)")]
        assert layer.colormap.name == viewer.layers[element].colormap.name
        assert not viewer.layers[element].visible, "the inputs are hidden"
    shown = [layer.name for layer in results if layer.visible]
    assert shown == [f"{w.element_row.combo.currentText()} (SR)"], "one element at a time"
    qtbot.mouseClick(w.element_row.next_btn, Qt.LeftButton)
    assert [layer.name for layer in results if layer.visible] == ["Hg L (SR)"]
    assert w.results.element_combo.currentText() == "Hg L", "the Results section follows"
    assert not any(n.endswith(("(error)", "(detail added)", "(consistency)"))
                   for n in _layer_names(viewer)), "quality maps come on request"
    assert w.loss_plot.n_points > 0 and "consistency" in w.loss_plot.terms()
    assert w.results.table.rowCount() == 7 and w.results.table.columnCount() == 5
    assert "bicubic" in w.results.summary_label.text()
    assert w.progress.format() == "finished"
    assert w.results.save_btn.isEnabled()


@pytest.mark.slow
def test_training_results_saving_and_applying_the_model(vm, qtbot, tmp_path):
    viewer = vm
    lr, truth = _scene(viewer)
    w = _widget(viewer, qtbot, **TINY)
    assert w.truth_check.isChecked()
    w.start()
    _wait_idle(qtbot, w)
    assert _layer_names(viewer)[-2:] == ["Pb L (SR)", "Hg L (SR)"]
    sr = viewer.layers["Pb L (SR)"]
    assert sr.data.shape == truth.shape[1:]
    assert sr.colormap.name == viewer.layers["Pb L"].colormap.name
    np.testing.assert_allclose(block_mean_np(sr.data, SCALE), lr[0], rtol=1e-4, atol=1e-4)
    table = w.results.table
    assert table.rowCount() == 2
    assert float(table.item(0, 1).text()) > 10 and float(table.item(0, 2).text()) > 10
    assert w.last.comparisons[0].bicubic.psnr == pytest.approx(float(table.item(0, 2).text()),
                                                               abs=0.01)
    assert w.device_label.text().startswith("Device: CPU")
    # a quality map on request, replacing the previous one of its kind
    w.results.view_combo.setCurrentText("Error against the truth")
    w.results.show_btn.click()
    assert "Pb L (error)" in viewer.layers
    w.results.element_combo.setCurrentText("Hg L")
    w.results.show_btn.click()
    assert "Hg L (error)" in viewer.layers and "Pb L (error)" not in viewer.layers
    out = tmp_path / "result.tif"
    w.dialogs = FakeDialogs(save=out)
    w.results.save_btn.click()
    assert out.exists(), w.status_label.text()
    prov = json.loads((tmp_path / "result.provenance.json").read_text())
    assert prov["elements"] == ["Pb L", "Hg L"] and prov["settings"]["n_atoms"] == 8
    assert set(prov["inputs"]) == {"Pb L", "Hg L"} and prov["versions"]["numpy"]
    assert isinstance(prov["notes"], list)
    from napari_maxrf_sr._napari.results import sha256_array

    assert prov["inputs"]["Pb L"]["sha256"] == sha256_array(lr[0])
    from napari_maxrf_sr.io import read_element_stack

    maps, elements, _ = read_element_stack(out)
    assert list(elements) == ["Pb L", "Hg L"]
    np.testing.assert_allclose(maps[1], viewer.layers["Hg L (SR)"].data, rtol=1e-6)
    model_path = tmp_path / "model.pt"
    w.dialogs = FakeDialogs(save=model_path)
    w.results.save_model_btn.click()
    assert model_path.exists(), w.status_label.text()
    expected = viewer.layers["Pb L (SR)"].data.copy()
    w.dialogs = FakeDialogs(open_=model_path)
    w.results.apply_btn.click()
    _wait_idle(qtbot, w)
    assert _layer_names(viewer).count("Pb L (SR)") == 1, "a rerun replaces its layers"
    np.testing.assert_allclose(viewer.layers["Pb L (SR)"].data, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_answer_again_with_another_scan_check_keeps_the_trained_network(vm, qtbot):
    viewer = vm
    lr, _ = _scene(viewer)
    w = _widget(viewer, qtbot, **TINY, calibration_radius=0)
    assert not w.results.reanswer_btn.isEnabled(), "nothing trained yet"
    w.start()
    _wait_idle(qtbot, w)
    trained = w.network
    uncalibrated = viewer.layers["Pb L (SR)"].data.copy()
    assert w.results.reanswer_btn.isEnabled()
    w.set_advanced(calibration_radius=1, n_atoms=16)  # a training setting is left out
    w.results.reanswer_btn.click()
    _wait_idle(qtbot, w)
    assert _layer_names(viewer).count("Pb L (SR)") == 1, "it replaces the result layers"
    calibrated = viewer.layers["Pb L (SR)"].data.copy()
    assert np.abs(calibrated - uncalibrated).max() > 1e-3, w.status_label.text()
    np.testing.assert_allclose(block_mean_np(calibrated, SCALE), lr[0], rtol=1e-4, atol=1e-4)
    assert w.last.provenance["settings"]["calibration_radius"] == 1
    assert w.last.provenance["settings"]["n_atoms"] == 8, "the trained network's own"
    assert w.network is trained and w.results.reanswer_btn.isEnabled(), "again and again"
    assert w.results.save_model_btn.isEnabled(), "the trained network can still be saved"
    w.set_advanced(calibration_radius=0)
    w.results.reanswer_btn.click()
    _wait_idle(qtbot, w)
    np.testing.assert_allclose(viewer.layers["Pb L (SR)"].data, uncalibrated, atol=1e-5)


@pytest.mark.slow
def test_comparison_view_shows_four_labelled_tiles_and_goes_back(vm, qtbot):
    viewer = vm
    _scene(viewer)
    w = _widget(viewer, qtbot, **TINY)
    w.start()
    _wait_idle(qtbot, w)
    # a large hidden layer (an unaligned camera photo, points) must not set the view
    viewer.add_image(np.zeros((4000, 4000), np.float32), name="camera photo", visible=False)
    before = {layer.name: layer.visible for layer in viewer.layers}
    w.results.element_combo.setCurrentText("Hg L")
    w.results.compare_btn.click()
    grid = viewer.canvas.grid if hasattr(viewer, "canvas") else viewer.grid
    visible = [layer.name for layer in viewer.layers if layer.visible]
    zoom = viewer.camera.zoom
    viewer.reset_view(layers=[viewer.layers[n] for n in visible])
    assert viewer.camera.zoom == pytest.approx(zoom)  # the tiles fill the canvas
    assert grid.enabled and sorted(visible) == sorted(
        ["photo", "Hg L (scan)", "Hg L (bicubic)", "Hg L (SR)"])
    assert all(viewer.layers[n].name_overlay.visible for n in visible), "tiles are labelled"
    np.testing.assert_allclose(block_mean_np(viewer.layers["Hg L (bicubic)"].data[None],
                                             SCALE)[0],
                               viewer.layers["Hg L (scan)"].data, atol=0.3)
    w.results.compare_btn.click()
    assert not grid.enabled
    assert {layer.name: layer.visible for layer in viewer.layers} == before
    assert not any(n.endswith(("(scan)", "(bicubic)")) for n in _layer_names(viewer))


@pytest.mark.slow
def test_without_truth_the_detail_summary_says_how_much_and_where(vm, qtbot):
    viewer = vm
    _scene(viewer, truth=False)
    w = _widget(viewer, qtbot, **TINY)
    assert not w.truth_check.isChecked() and not w.truth_check.isEnabled()
    w.start()
    _wait_idle(qtbot, w)
    table = w.results.table
    assert table.rowCount() == 2 and table.horizontalHeaderItem(3).text() == "Where"
    assert "No ground truth" in w.results.summary_label.text()
    assert [d.element for d in w.last.detail] == ["Pb L", "Hg L"]
    assert w.results.view_combo.findText("Error against the truth") < 0
    w.results.view_combo.setCurrentText("Detail the photo added")
    w.results.show_btn.click()
    assert viewer.layers[-1].name == "Pb L (detail added)" and viewer.layers[-1].visible


@pytest.mark.slow
def test_pause_then_stop_and_keep(vm, qtbot):
    viewer = vm
    _scene(viewer)
    w = _widget(viewer, qtbot, **ENDLESS)
    w.start()
    assert not w.device_combo.isEnabled() and not w.clip_check.isEnabled()
    _wait_training(qtbot, w)
    w.pause_btn.click()
    assert w.pause_btn.text() == "Resume" and w.controller.run.control.paused
    assert w.progress.format() == "Paused"
    assert w.run_view.progress_line.text().startswith("Paused.")
    # Progress events are throttled and drawn once a second, so the bar may lag the
    # steps already done; the halted loop says where it stopped, and the bar shows it.
    qtbot.waitUntil(lambda: w.run_view.halted_at_step is not None, timeout=20_000)
    before = w.progress.value()
    assert before == w.run_view.halted_at_step
    qtbot.wait(1500)  # longer than a redraw interval
    assert w.progress.value() == before, "no steps while paused"
    assert w.progress.format() == "Paused", "a late event does not hide the pause"
    w.pause_btn.click()
    assert w.pause_btn.text() == "Pause"
    qtbot.waitUntil(lambda: w.progress.value() > before, timeout=20_000)
    w.stop_btn.click()
    _wait_idle(qtbot, w)
    assert "Pb L (SR)" in viewer.layers
    assert w.progress.maximum() == 1
    assert "stopped early" in w.status_label.text()
    assert w.last.provenance["stopped_early"] is True
    assert w.device_combo.isEnabled() and w.clip_check.isEnabled()


@pytest.mark.slow
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


@pytest.mark.slow
def test_closing_the_viewer_mid_run_stops_the_thread(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    _scene(viewer)
    _, w = viewer.window.add_plugin_dock_widget("napari-maxrf-sr", "Super-resolve element maps")
    w.preset_combo.setCurrentText("fast")
    w.set_advanced(**ENDLESS)
    w.start()
    _wait_training(qtbot, w)
    run = w.controller.run
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
    _scene(viewer, truth=False)
    w = _widget(viewer, qtbot, **TINY)
    w.truth_check.setChecked(True)
    w.start()
    assert not w.running and "No ground-truth layers" in w.status_label.text()


@pytest.mark.slow
def test_result_larger_than_free_memory_is_refused_before_training(vm, qtbot, monkeypatch):
    from napari_maxrf_sr.io import large

    viewer = vm
    _scene(viewer)
    names = _layer_names(viewer)
    monkeypatch.setattr(large, "available_memory", lambda: 1000)  # bytes
    w = _widget(viewer, qtbot, **TINY)
    w.start()
    assert not w.running
    text = w.status_label.text()
    assert "more than the free memory" in text and "maxrf-sr run" in text
    assert _layer_names(viewer) == names
    monkeypatch.setattr(large, "available_memory", lambda: None)  # unknown: not refused
    w.start()
    assert w.running, w.status_label.text()
    w.cancel()
    _wait_idle(qtbot, w, 30_000)


def test_invalid_advanced_value_gives_a_message(vm, qtbot):
    viewer = vm
    _scene(viewer)
    w = _widget(viewer, qtbot, **TINY)
    w.advanced_fields["stage1_lr"].setText("")
    w.start()
    assert not w.running and "not a number" in w.status_label.text()


def test_judges_real_patches_default_to_the_papers_and_offer_scan_windows(vm, qtbot):
    w = _widget(vm, qtbot)
    patches = w.advanced_fields["pseudo_real"]
    assert patches.currentText() == "scan + photo mix (paper)"
    assert w.current_config().pseudo_real == "paper"
    patches.setCurrentIndex(patches.findText("scan windows"))  # as a mouse would
    assert w.current_config().pseudo_real == "scan"


def test_every_setting_the_guide_names_is_under_advanced(vm, qtbot):
    """A setting the guide tells users to change is in the panel, not only in the CLI."""
    import re

    from napari_maxrf_sr._napari.panel.texts import ADVANCED_FIELDS
    from napari_maxrf_sr.core.config import FIELD_HELP

    guide = (Path(__file__).parents[1] / "docs" / "user_guide.md").read_text()
    named = set(re.findall(r"--set ([a-z_0-9]+)=", guide))
    assert "interpolation" in named
    assert named <= set(FIELD_HELP)  # and the command line takes each (--set)
    assert named - {"device", "seed"} <= set(ADVANCED_FIELDS), named - set(ADVANCED_FIELDS)
    w = _widget(vm, qtbot)
    start = w.advanced_fields["interpolation"]
    assert start.currentText() == "bilinear (paper)"
    start.setCurrentIndex(start.findText("scan-consistent"))  # as a mouse would
    assert w.current_config().interpolation == "consistent"


def test_values_remembered_by_an_older_version_do_not_pin_old_defaults(vm, qtbot, tmp_path):
    """Before 7 Dec 2026 every Advanced value was saved, the defaults of the day included."""
    from napari_maxrf_sr._napari.sr_widget import SuperResolutionWidget

    old = {"method": "network", "preset": "default", "seed": 3,
           "advanced": {"calibration_radius": 1, "photo_range": "scan",
                        "xrf_only_atoms": "0.125", "stage1_steps": 12000}}
    (tmp_path / "settings.json").write_text(json.dumps(old))
    w = SuperResolutionWidget(vm)
    qtbot.addWidget(w)
    cfg = w.current_config()
    assert (cfg.calibration_radius, cfg.photo_range, cfg.xrf_only_atoms) == (0, "full", 0.0)
    assert cfg.seed == 3  # the rest of the file still counts
    w.shutdown()
    saved = json.loads((tmp_path / "settings.json").read_text())
    assert saved["advanced_changes"] == {} and "advanced" not in saved


def test_dictionary_split_weight_limit_and_photo_colours_are_settable(vm, qtbot, tmp_path):
    """Every setting the method's docs name is under Advanced, presets fill it."""
    w = _widget(vm, qtbot)
    w.preset_combo.setCurrentText("default")
    photo = w.advanced_fields["photo_range"]
    assert [photo.itemText(i) for i in range(photo.count())] == [
        "clipped to scan", "as photographed"]
    cfg = w.current_config()
    assert (cfg.photo_range, cfg.stage1_weight_bound) == ("full", 4.0)
    down = w.advanced_fields["down_colours"]
    assert (down.currentText(), cfg.down_colours) == ("photo pixels", "pixels")
    assert (cfg.xrf_only_atoms, cfg.rgb_only_atoms) == (0.0, 0.0)
    photo.setCurrentIndex(photo.findText("clipped to scan"))  # as a mouse would
    w.advanced_fields["rgb_only_atoms"].setText("0.25")
    w.advanced_fields["stage1_weight_bound"].setText("2")
    cfg = w.current_config()
    assert (cfg.photo_range, cfg.rgb_only_atoms, cfg.stage1_weight_bound) == ("scan", 0.25, 2.0)
    w.shutdown()  # remembered as the config's value, shown again in words
    saved = json.loads((tmp_path / "settings.json").read_text())
    # only the user's changes are kept: a default changed later reaches the user
    assert saved["advanced_changes"] == {"photo_range": "scan", "rgb_only_atoms": "0.25",
                                         "stage1_weight_bound": "2"}
    from napari_maxrf_sr._napari.sr_widget import SuperResolutionWidget

    w2 = SuperResolutionWidget(vm)
    qtbot.addWidget(w2)
    assert w2.advanced_fields["photo_range"].currentText() == "clipped to scan"
    restored = w2.current_config()
    assert (restored.photo_range, restored.rgb_only_atoms, restored.stage1_weight_bound) == (
        "scan", 0.25, 2.0)
    w2.preset_combo.setCurrentText("paper")  # fills the paper's bound and photo as is
    paper = w2.current_config()
    assert (paper.stage1_weight_bound, paper.photo_range) == (1.0, "full")
    assert paper.down_colours == "mean"  # the paper answers each scan pixel's mean colour
    assert (paper.xrf_only_atoms, paper.rgb_only_atoms) == (0.125, 0.125)  # coupled D
    assert w2.advanced_fields["xrf_only_atoms"].text() in ("0.125", "0.12")
    assert w2.advanced_fields["down_colours"].currentText() == "mean colours (paper)"
    assert w2.advanced_fields["photo_range"].currentText() == "as photographed"
    saved["advanced_changes"]["photo_range"] = "sideways"  # damaged: back to the defaults
    (tmp_path / "settings.json").write_text(json.dumps(saved))
    w3 = SuperResolutionWidget(vm)
    qtbot.addWidget(w3)
    assert w3.current_config().photo_range == "full"


def test_settings_are_remembered(vm, qtbot, tmp_path):
    viewer = vm
    w = _widget(viewer, qtbot, stage2_steps=7)
    w.seed_spin.setValue(42)
    w.minutes_spin.setValue(2.5)
    w.advanced_fields["lr_d"].setText("1e-05")
    w.clip_check.setChecked(True)
    w.shutdown()
    saved = json.loads((tmp_path / "settings.json").read_text())
    assert saved["seed"] == 42 and saved["preset"] == "fast"
    from napari_maxrf_sr._napari.sr_widget import SuperResolutionWidget

    w2 = SuperResolutionWidget(viewer)
    qtbot.addWidget(w2)
    cfg = w2.current_config()
    assert (cfg.seed, cfg.max_seconds, cfg.stage2_steps, cfg.lr_d) == (42, 150.0, 7, 1e-5)
    assert w2.preset_combo.currentText() == "fast" and w2.clip_check.isChecked()
    (tmp_path / "settings.json").write_text("{not json")  # a damaged file is ignored
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
    assert not w.advanced.isEnabled() and not w.device_combo.isEnabled()
    w.start()
    _wait_idle(qtbot, w)
    assert f"Pb L ({name})" in viewer.layers, w.status_label.text()
    assert f"Hg L ({name})" in viewer.layers
    assert not w.results.save_model_btn.isEnabled(), "a baseline has no model to save"


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


@pytest.mark.slow
def test_interrupted_run_resumes_from_its_checkpoint(vm, qtbot, tmp_path):
    from napari_maxrf_sr.api import run_to_end
    from napari_maxrf_sr.core.train import train

    folder = tmp_path / "checkpoints"  # set by the autouse fixture in conftest.py
    viewer = vm
    _scene(viewer)
    steps = {"stage1_steps": 400, "stage2_steps": 4, "n_atoms": 8}
    w = _widget(viewer, qtbot, **steps)
    w.checkpoint_every_s = 0.0
    w.resume_btn.click()  # nothing to resume yet: says so, adds nothing
    _wait_idle(qtbot, w)
    assert "No interrupted run" in w.status_label.text()

    before = _layer_names(viewer)
    w.start()
    qtbot.waitUntil(lambda: w.progress.value() >= 100, timeout=30_000)
    w.shutdown()  # what closing napari does mid-run
    assert not w.controller.running or w.controller.run.done.is_set()
    assert _layer_names(viewer) == before
    assert len(list(folder.glob("*.pt"))) == 1

    w2 = _widget(viewer, qtbot, **steps)
    w2.checkpoint_every_s = 0.0
    w2.resume_btn.click()
    assert w2.running, w2.status_label.text()
    _wait_idle(qtbot, w2)
    assert "Pb L (SR)" in viewer.layers, w2.status_label.text()
    assert list(folder.glob("*.pt")) == [], "a finished run removes its checkpoint"
    assert w2.last.result.diagnostics["resumed_from_step"] >= 100
    assert any("Resumed" in n for n in w2.last.notes)

    inputs = w2.collect_inputs()
    ref = run_to_end(train(inputs.lr_maps, inputs.rgb, w2.current_config(), scale=inputs.scale,
                           elements=inputs.elements))
    np.testing.assert_array_equal(viewer.layers["Pb L (SR)"].data, ref.maps[0])
