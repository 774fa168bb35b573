"""The main dock widget: choose layers, set up a run, train in a thread, show the results.

Four folding sections in a scroll area, so the panel fits a 1366 x 768 screen beside
napari's layer list: *Input* (:mod:`.panel.input_view`), *Settings*
(:mod:`.panel.form`), *Run* (:mod:`.panel.run_view`) and *Results*
(:mod:`.panel.results_view`). This module only composes them around the model of the
runs (:class:`~.panel.session.RunSession`: the inputs chosen, the settings, the state,
the result, and what to say; tests drive it without a screen): the job runs in a worker
thread (:mod:`.panel.controller`, :mod:`.panel.jobs`), which also computes everything
shown about the result (:mod:`.panel.outcome`); the GUI thread then adds the result
layers a few at a time (:mod:`.panel.feeder`).
"""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qtpy.QtCore import QEvent, QObject
from qtpy.QtWidgets import QVBoxLayout, QWidget

from napari_maxrf_sr._napari.panel import texts
from napari_maxrf_sr._napari.panel.comparison import ComparisonView, show_diagnostic
from napari_maxrf_sr._napari.panel.controller import RunController, abort_held_run
from napari_maxrf_sr._napari.panel.element_row import ElementRow
from napari_maxrf_sr._napari.panel.feeder import LayerFeeder
from napari_maxrf_sr._napari.panel.form import SettingsForm
from napari_maxrf_sr._napari.panel.input_view import InputView
from napari_maxrf_sr._napari.panel.jobs import apply_job, baseline_job
from napari_maxrf_sr._napari.panel.outcome import NETWORK, RunOutcome
from napari_maxrf_sr._napari.panel.results_view import Dialogs, ResultsView
from napari_maxrf_sr._napari.panel.run_view import RunView
from napari_maxrf_sr._napari.panel.sections import ScrollingColumn, Section
from napari_maxrf_sr._napari.panel.session import RunSession
from napari_maxrf_sr._napari.plain_text import make_labels_plain, no_markup
from napari_maxrf_sr.core.checkpoint import DEFAULT_EVERY_SECONDS
from napari_maxrf_sr.core.events import EventKind
from napari_maxrf_sr.errors import InputError

if TYPE_CHECKING:
    import napari


class SuperResolutionWidget(QWidget):
    """Super-resolve MA-XRF element maps with a photo, from napari layers.

    Parameters
    ----------
    napari_viewer
        The viewer whose layers are used and to which results are added.

    Attributes
    ----------
    session
        The Qt-free model of the panel's runs (:class:`~.panel.session.RunSession`).
    checkpoint_every_s
        Training seconds between two checkpoints (tests lower it).
    """

    def __init__(self, napari_viewer: napari.Viewer, parent: QWidget | None = None):
        self._watched_window: QObject | None = None
        super().__init__(parent)
        self.viewer = napari_viewer
        self.session = RunSession()
        self.checkpoint_every_s = DEFAULT_EVERY_SECONDS
        self.dialogs = Dialogs(self)
        self._closing = False
        self._build()
        self._connect()
        restored = self.form.restore()
        self.inputs.clip_check.setChecked(bool(restored.get("clip_negative", False)))
        self.inputs.refresh()
        self._update_enabled()
        make_labels_plain(self)  # element names from files are shown as typed, never as HTML

    # ======================================================================== building
    def _build(self) -> None:
        self.inputs = InputView(self.viewer)
        self.form = SettingsForm()
        self.run_view = RunView(DEFAULT_EVERY_SECONDS / 60, theme=self._theme_colours())
        self.results = ResultsView()
        self.controller = RunController(self)
        self.feeder = LayerFeeder(self.viewer, self)
        self.comparison = ComparisonView(self.viewer)
        self.element_row = ElementRow(self.viewer, self.inputs.photo_combo.currentText)
        self.column = ScrollingColumn()
        self.sections = {name: Section(name, body) for name, body in (
            ("Input", self.inputs), ("Settings", self.form), ("Run", self.run_view),
            ("Results", self.results))}
        for section in self.sections.values():
            self.column.add(section)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.element_row)
        layout.addWidget(self.column)
        self.setMinimumWidth(340)
        # Short names for scripts, tests and the screenshots.
        r, f, i = self.run_view, self.form, self.inputs
        self.start_btn, self.pause_btn, self.stop_btn = r.start_btn, r.pause_btn, r.stop_btn
        self.cancel_btn, self.resume_btn, self.progress = r.cancel_btn, r.resume_btn, r.progress
        self.status_label, self.device_label, self.loss_plot = (r.status_label, r.device_label,
                                                                r.loss_plot)
        self.preset_combo, self.method_combo, self.device_combo = (f.preset_combo,
                                                                   f.method_combo,
                                                                   f.device_combo)
        self.minutes_spin, self.seed_spin, self.advanced = (f.minutes_spin, f.seed_spin,
                                                            f.advanced)
        self.advanced_fields, self.set_advanced = f.advanced_fields, f.set_advanced
        self.photo_combo, self.truth_check, self.clip_check = (i.photo_combo, i.truth_check,
                                                               i.clip_check)
        self.scale_label, self.select_maps = i.scale_label, i.select_maps
        self.selected_map_layers = i.selected_map_layers

    def _connect(self) -> None:
        r, c, res = self.run_view, self.controller, self.results
        r.start_btn.clicked.connect(self.start)
        r.resume_btn.clicked.connect(self.resume)
        r.pause_btn.clicked.connect(self.toggle_pause)
        r.stop_btn.clicked.connect(self.stop_and_keep)
        r.cancel_btn.clicked.connect(self.cancel)
        res.save_btn.clicked.connect(self.save_results_dialog)
        res.save_model_btn.clicked.connect(self.save_model_dialog)
        res.apply_btn.clicked.connect(self.apply_model_dialog)
        res.reanswer_btn.clicked.connect(self.answer_again)
        res.show_btn.clicked.connect(self.show_quality_map)
        res.compare_btn.toggled.connect(self.set_comparison)
        self.element_row.about_to_show.connect(lambda: res.compare_btn.setChecked(False))
        self.element_row.shown.connect(res.follow_element)
        c.started.connect(self._on_started)
        c.progress.connect(self._on_event)
        c.outcome.connect(self._on_outcome)
        c.failed.connect(self.report_error)
        c.retrying.connect(self._on_retrying)
        c.ended.connect(self._on_ended)
        self.form.changed.connect(self._update_enabled)
        self.form.device_combo.currentTextChanged.connect(self._show_device)
        self._show_device(self.form.device_combo.currentText())
        ev = self.viewer.layers.events
        for name in ("inserted", "removed", "reordered"):
            getattr(ev, name).connect(self.inputs.refresh)
            getattr(ev, name).connect(self.element_row.refresh)
        # When the widget object goes away without a close event, end its run. Not a slot
        # on our own `destroyed` signal: a Python slot there can run after the wrapper is
        # gone and crash the interpreter; a finalizer holds no reference to the widget.
        weakref.finalize(self, abort_held_run, self.controller.holder)

    def _theme_colours(self) -> dict[str, str]:
        try:
            from napari.utils.theme import get_theme

            theme = get_theme(self.viewer.theme)
            return {"background": theme.background.as_hex(), "text": theme.text.as_hex()}
        except Exception:  # noqa: BLE001 - theming is cosmetic
            return {}

    def sizeHint(self):  # noqa: D102, N802 - Qt override: napari docks us this wide
        hint = super().sizeHint()
        hint.setWidth(max(hint.width(), 430))
        return hint

    # ===================================================================== run control
    @property
    def running(self) -> bool:
        """Whether a job runs (or its result layers are still being added)."""
        return self.controller.running or self.feeder.busy

    @property
    def worker(self) -> Any:
        """The running job's worker (None when idle)."""
        return self.controller.worker

    def collect_inputs(self):
        """Copy and size-check the chosen layers' data (raises InputError)."""
        return self.inputs.collect()

    def current_config(self):
        """The network's settings from the form."""
        return self.form.current_config()

    def start(self) -> None:
        """Check the choice, then start training (or a baseline) in a worker thread."""
        self._launch(resume=False)

    def resume(self) -> None:
        """Continue the interrupted run of the chosen maps, photo and settings."""
        self._launch(resume=True)

    def _launch(self, resume: bool) -> None:
        if self.running:
            return
        try:
            job = self.session.check(self.inputs.collect(), self.form.method(), resume,
                                     self.form.current_config, self.inputs.negative_mode(),
                                     self._checkpoint_folder(), self.checkpoint_every_s)
            self._save_settings()
        except (InputError, ValueError) as exc:
            self.report_error(exc)
            return
        self._before_job()
        status = self.session.begin(job)
        if job.trains:
            self.run_view.begin()
            self.run_view.loss_plot.clear()
            self.run_view.set_status(status)
            self.controller.start_training(job.inputs, job.plan, job.prepared, job.notes)
        else:
            self.run_view.begin(f"{job.method}: running...")
            self.run_view.set_status(status)
            self.controller.start_function(job.method, job.inputs, baseline_job, job.method,
                                           job.inputs, job.prepared, job.notes)
        self._update_enabled()

    @staticmethod
    def _checkpoint_folder() -> Path:
        from napari_maxrf_sr.core.checkpoint import default_checkpoint_folder

        return default_checkpoint_folder()

    def _before_job(self) -> None:
        self._watch_main_window()  # docked by now: stop the run if napari closes
        self.results.compare_btn.setChecked(False)
        self.feeder.cancel()
        # The run's progress in view: what cannot change while it runs folds away.
        for name in ("Input", "Settings"):
            self.sections[name].collapse(animate=False)
        self.column.show_section(self.sections["Run"], later=True)

    def toggle_pause(self) -> None:
        """Pause a running training, or resume a paused one."""
        paused = self.controller.toggle_pause()
        if paused is None:
            return
        self.run_view.set_paused(paused)
        self.run_view.set_status(self.session.paused(paused))

    def stop_and_keep(self) -> None:
        """Finish the current step and add the result reached so far."""
        if self.controller.trains:
            self.controller.stop()
            self.run_view.set_paused(False)
            self.run_view.set_status(self.session.stopping())

    def cancel(self) -> None:
        """Abandon the run: nothing is added to the viewer."""
        if self.controller.running:
            self.controller.cancel()
            self.run_view.set_paused(False)
            self.run_view.set_status(self.session.cancelling())
        self.feeder.cancel()

    def wait_until_idle(self, timeout_s: float = 60.0) -> bool:
        """Block (processing no events) until the job's thread ended; for scripts."""
        return self.controller.wait(timeout_s)

    # ================================================================ worker feedback
    def _on_started(self, info: Any) -> None:
        if info.notes:  # the input notes were said at Start; these are new
            self.run_view.set_status(" ".join(f"{n.rstrip('.')}." for n in info.notes))

    def _on_event(self, event: Any) -> None:
        if event.kind is EventKind.PAUSED and self.controller.paused:
            self.run_view.show_halted(event)
        else:  # (a pause acknowledged after Resume is an ordinary event)
            self.run_view.show_event(event)
        status = self.session.event_status(event)
        if status is not None:
            self.run_view.set_status(status)

    def _on_retrying(self) -> None:
        self.run_view.set_status(self.session.retrying())
        from napari.utils.notifications import show_warning

        show_warning("GPU out of memory: training continues on the CPU.")

    def _on_outcome(self, outcome: RunOutcome) -> None:
        self.run_view.set_status(self.session.finished(outcome))
        inputs = self.controller.run.inputs if self.controller.run else None
        self.feeder.feed(outcome.layers, lambda: self._results_shown(outcome, inputs))

    def _results_shown(self, outcome: RunOutcome, inputs: Any) -> None:
        status, notice = self.session.shown(outcome, inputs)
        self.results.show_outcome(outcome)
        self.element_row.show_first_of(outcome.elements)  # one element, not a collage
        self.sections["Results"].expand(animate=False)
        self.column.show_section(self.sections["Results"], later=True)
        self.run_view.set_status(status)
        self._update_enabled()
        from napari.utils.notifications import show_info

        show_info(no_markup(notice))

    def _on_ended(self, run: Any) -> None:
        ended = self.session.ended(run.cancelled, run.failed, run.retry_on_cpu)
        if ended is not None:
            how, ok, status = ended
            self.run_view.end(how, ok)
            if status:
                self.run_view.set_status(status)
        self._update_enabled()

    def report_error(self, exc: BaseException) -> None:
        """Explain an error in the status line and a napari notification."""
        from napari.utils.notifications import show_error

        from napari_maxrf_sr.errorlog import write_traceback_log

        log = None if texts.is_expected(exc) else write_traceback_log(exc, "napari panel")
        self.status_label.setProperty("error_type", type(exc).__name__)
        self.run_view.set_status(texts.error_message(exc, log), error=True)
        show_error(no_markup(self.status_label.text()))

    error_message = staticmethod(texts.error_message)

    def _show_device(self, choice: str) -> None:
        try:
            from napari_maxrf_sr.core.device import describe_device, resolve_device

            self.device_label.setText(f"Device: {describe_device(resolve_device(choice))}")
        except Exception as exc:  # noqa: BLE001 - shown to the user instead
            self.device_label.setText(f"Device: {exc}")

    def _update_enabled(self, *_: Any) -> None:
        running = self.running
        self.run_view.set_running(running, self.controller.trains, self.form.method() == NETWORK)
        self.inputs.set_running(running)
        self.form.set_running(running)
        self.results.set_enabled(running, self.last, self.network)

    # ================================================================ results actions
    @property
    def last(self) -> RunOutcome | None:
        """The latest finished run (:class:`~.panel.outcome.RunOutcome`), or ``None``."""
        return self.session.last

    @property
    def network(self) -> Any:
        """The network trained last (a ``TrainedModel``), or ``None``."""
        return self.session.network

    def show_quality_map(self) -> Any:
        """Add the chosen quality map of the chosen element on top."""
        element, kind = self.results.chosen()
        inputs = self.session.shown_inputs
        if self.last is None or inputs is None or not kind:
            return None
        if self.results.compare_btn.isChecked():
            self.results.compare_btn.setChecked(False)
        return show_diagnostic(self.viewer, kind, element, self.last, inputs)

    def set_comparison(self, on: bool) -> None:
        """Show or leave the side-by-side comparison of the chosen element."""
        inputs = self.session.shown_inputs
        if on and self.last is not None and inputs is not None:
            element = self.results.element_combo.currentText()
            self.element_row.leave_beside()
            self.comparison.show(element, self.last, inputs)
            self.run_view.set_status(f"Comparing {element}: photo, scan, bicubic "
                                     "interpolation and the result. Press Compare to go back.")
        else:
            self.comparison.leave()

    # ===================================================================== keep work
    def save_results_dialog(self) -> None:
        """Ask for a file name and save the latest result with its provenance."""
        if self.last is None:
            return
        path = self.dialogs.save_path("Save results", "TIFF (*.tif *.tiff)")
        if not path:
            return
        if not path.lower().endswith((".tif", ".tiff")):
            path += ".tif"
        if Path(path).exists() and not self.dialogs.confirm_overwrite(path):
            return
        try:
            written = self.save_results(path, force=True)
        except Exception as exc:  # noqa: BLE001 - reported to the user
            self.report_error(exc)
            return
        self.run_view.set_status(f"Saved {written}.")

    def save_results(self, path: str, *, force: bool = False) -> Path:
        """Write the latest result and ``<name>.provenance.json`` next to it."""
        return self.session.save_results(path, force=force)

    def save_model_dialog(self) -> None:
        """Ask for a file name and save the network trained last."""
        if self.network is None:
            return
        path = self.dialogs.save_path("Save model", "Model (*.pt)")
        if not path:
            return
        if not path.endswith(".pt"):
            path += ".pt"
        if Path(path).exists() and not self.dialogs.confirm_overwrite(path):
            return
        from napari_maxrf_sr.core.modelio import save_model

        try:
            save_model(self.network, path)
        except Exception as exc:  # noqa: BLE001 - reported to the user
            self.report_error(exc)
            return
        self.run_view.set_status(f"Saved the model to {path}.")

    def apply_model_dialog(self) -> None:
        """Load a saved network and apply it to the selected layers in a worker thread."""
        path = self.dialogs.open_path("Apply saved model", "Model (*.pt)")
        if path:
            self.apply_model(path)

    def apply_model(self, path: str) -> None:
        """Apply the model saved at ``path`` to the selected maps and photo."""
        if self.running:
            return
        from napari_maxrf_sr.core.modelio import load_model

        try:
            inputs = self.inputs.collect()
            model = load_model(path)
        except Exception as exc:  # noqa: BLE001 - InputError or a damaged file
            self.report_error(exc)
            return
        self._start_apply(model, str(path), inputs, "saved model: running...",
                          "Applying the saved model...")

    def _start_apply(self, model: Any, source: str, inputs: Any, begin: str,
                     status: str) -> None:
        """Apply a trained network (``source``: its file, for the provenance) in a worker."""
        self._before_job()
        self.run_view.begin(begin)
        self.run_view.set_status(status)
        self.controller.start_function("saved model", inputs, apply_job, model, source,
                                       inputs, self.inputs.negative_mode())
        self._update_enabled()

    def answer_again(self) -> None:
        """Run the network trained last again, with the form's after-training settings.

        Only the settings that act after training (the scan check, the tile size) are
        taken from the form; the network is the one trained.
        """
        if self.running or self.network is None:
            return
        try:
            inputs = self.inputs.collect()
            model = self.session.answering_again(self.form.current_config())
        except (InputError, ValueError) as exc:
            self.report_error(exc)
            return
        self._start_apply(model, "(the network trained last in this session)", inputs,
                          "trained network: running...",
                          f"Answering again with the scan check R = "
                          f"{model.config.calibration_radius}, "
                          f"{model.config.correction} scan-pixel edges...")

    # ========================================================== closing and settings
    def _save_settings(self) -> None:
        self.form.save(clip_negative=self.inputs.clip_check.isChecked())

    def event(self, event: QEvent) -> bool:  # noqa: D102 - Qt override
        if event.type() == QEvent.ParentChange:
            self._watch_main_window()
        return super().event(event)

    def _watch_main_window(self) -> None:
        """Watch the window we are docked in, to stop the run when napari closes."""
        window = self.window()
        if window is self or window is getattr(self, "_watched_window", window):
            return
        if self._watched_window is not None:
            self._watched_window.removeEventFilter(self)
        window.installEventFilter(self)
        self._watched_window = window

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        """Stop a running job when napari's main window closes."""
        if obj is getattr(self, "_watched_window", None) and event.type() == QEvent.Close:
            self.shutdown()
        return False

    def closeEvent(self, event) -> None:  # noqa: D102, N802 - Qt override
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self, wait_s: float = 10.0) -> None:
        """Cancel any running job, wait for its thread and remember the settings."""
        if self._closing:
            return
        self._closing = True
        if self._watched_window is not None:
            self._watched_window.removeEventFilter(self)
            self._watched_window = None
        self._save_settings()
        self.feeder.cancel()
        self.controller.abort(wait_s)
        self.run_view.stop()
