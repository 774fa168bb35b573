"""The Run section: Start, Pause, Stop and keep, Cancel, Resume, progress and the plot.

The progress bar holds a short text that always fits ("Training - 42 %", "Paused");
the line beneath it says the step, the time since Start (start-up included, as
measured) and the training loop's estimate of the time left.

The training loop reports ten times a second, but the section redraws once a second:
under Xvfb's software OpenGL every repaint of napari's window costs tens of
milliseconds, so each event is only stored and the latest one is shown by a timer.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from qtpy.QtCore import Qt, QTimer
from qtpy.QtWidgets import (
    QGridLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from napari_maxrf_sr._napari.loss_plot import REDRAW_INTERVAL_MS, LossPlot
from napari_maxrf_sr._napari.panel import texts


class RunView(QWidget):
    """Buttons, progress, status and the training plot."""

    def __init__(self, checkpoint_minutes: float, theme: Mapping[str, str] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.start_btn = QPushButton("Start")
        self.pause_btn = QPushButton("Pause")
        self.stop_btn = QPushButton("Stop and keep result")
        self.cancel_btn = QPushButton("Cancel")
        self.resume_btn = QPushButton("Resume interrupted run")
        self.start_btn.setToolTip("Super-resolve the ticked maps with the settings above.")
        self.resume_btn.setToolTip(
            "Continue a run of the ticked maps, photo and settings that was interrupted "
            "(napari closed, a crash, Cancel): training saves its state every "
            f"{checkpoint_minutes:.0f} minutes.")
        self.pause_btn.setToolTip("Pause training (the time budget does not run while paused).")
        self.stop_btn.setToolTip("Stop training now and add the result reached so far.")
        self.cancel_btn.setToolTip("Abandon the run: no layers are added (its last saved "
                                   "state is kept: 'Resume interrupted run' continues it).")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("idle")
        self.progress.setTextVisible(True)
        self.progress_line = QLabel()
        self.progress_line.setWordWrap(True)
        self.device_label = QLabel()
        self.status_label = QLabel("Choose the element maps and the photo, then press Start.")
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.status_label.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Minimum)
        self.loss_plot = LossPlot(theme=theme, auto_flush=False)
        self._build()
        self._pending: Any = None
        self._last: Any = None
        #: The step at which a paused run has halted (its acknowledgement), else None.
        self.halted_at_step: int | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(REDRAW_INTERVAL_MS)
        self._timer.timeout.connect(self.flush)
        self._t_start = 0.0
        self._paused_at: float | None = None
        self._paused_s = 0.0

    def stop(self) -> None:
        """Stop the redraw timers (the panel is closing)."""
        self._timer.stop()
        self.loss_plot.stop()

    def _build(self) -> None:
        buttons = QGridLayout()
        buttons.addWidget(self.start_btn, 0, 0)
        buttons.addWidget(self.pause_btn, 0, 1)
        buttons.addWidget(self.stop_btn, 1, 0)
        buttons.addWidget(self.cancel_btn, 1, 1)
        buttons.addWidget(self.resume_btn, 2, 0, 1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(buttons)
        for w in (self.progress, self.progress_line, self.device_label, self.status_label,
                  self.loss_plot):
            layout.addWidget(w)
        self.progress_line.setVisible(False)

    # -- state -----------------------------------------------------------------------------
    def set_status(self, text: str, *, error: bool = False) -> None:
        """Say something in the status line (red for errors)."""
        self.status_label.setText(text)
        self.status_label.setStyleSheet("color: #e06c6c;" if error else "")

    def begin(self, busy_text: str | None = None) -> None:
        """A job starts: reset the clock; ``busy_text`` for jobs without steps."""
        self._t_start = time.perf_counter()
        self._paused_at, self._paused_s = None, 0.0
        self._pending = self._last = None
        self.halted_at_step = None
        self.pause_btn.setText("Pause")
        if busy_text is None:
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
            self.progress.setFormat("Starting")
        else:
            self.progress.setRange(0, 0)  # busy indicator: a plain function reports no steps
            self.progress.setFormat(busy_text)
        self.progress_line.setVisible(False)

    def elapsed(self) -> float:
        """Seconds since Start, pauses excluded."""
        paused = self._paused_s
        if self._paused_at is not None:
            paused += time.perf_counter() - self._paused_at
        return time.perf_counter() - self._t_start - paused

    def show_event(self, event: Any) -> None:
        """Take a progress event of the training loop (shown at the next redraw)."""
        if event.losses:
            self.loss_plot.add_point(event.step, event.losses)
        self._pending = event
        if not self._timer.isActive():
            self._timer.start()
            self.flush()  # the first event at once

    def show_halted(self, event: Any) -> None:
        """A paused run has halted at ``event.step``: show that step now, not at the redraw."""
        self.show_event(event)
        self.flush()
        self.halted_at_step = int(event.step)

    def flush(self) -> None:
        """Show the latest event and redraw the plot (called once a second)."""
        event, self._pending = self._pending, None
        if event is not None:
            total = max(int(event.total), 1)
            self.progress.setRange(0, total)
            self.progress.setValue(min(int(event.step), total))
            self._texts(event)
            if event.device and self.device_label.text() != f"Device: {event.device}":
                self.device_label.setText(f"Device: {event.device}")
            self._last = event
        self.loss_plot.flush()

    def _texts(self, event: Any) -> None:
        bar, line = texts.progress_texts(event.stage, int(event.step), int(event.total),
                                         self.elapsed(), event.eta, self._paused_at is not None)
        self.progress.setFormat(bar)
        self.progress_line.setText(line)
        self.progress_line.setVisible(True)

    def set_paused(self, paused: bool) -> None:
        """Show the paused state (the bar says "Paused"; the clock stops)."""
        now = time.perf_counter()
        if not paused:
            self.halted_at_step = None
        if paused and self._paused_at is None:
            self._paused_at = now
        elif not paused and self._paused_at is not None:
            self._paused_s += now - self._paused_at
            self._paused_at = None
        self.pause_btn.setText("Resume" if paused else "Pause")
        last = self._pending or self._last
        if last is not None:
            self._texts(last)
        else:
            self.progress.setFormat("Paused" if paused else "Starting")

    def end(self, how: str, ok: bool) -> None:
        """A job ended: ``how`` is "finished", "cancelled" or "failed"."""
        self._timer.stop()
        self._pending = None
        self.pause_btn.setText("Pause")
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if ok else 0)
        self.progress.setFormat(how)
        self._last = None
        if how != "finished":
            self.progress_line.setVisible(False)
        else:
            self.progress_line.setText(f"Took {texts.format_mmss(self.elapsed())} from "
                                       "Start to the result.")
        self.loss_plot.flush()

    def set_running(self, running: bool, trains: bool, can_resume: bool) -> None:
        """Enable the buttons that make sense now."""
        self.start_btn.setEnabled(not running)
        self.resume_btn.setEnabled(not running and can_resume)
        self.pause_btn.setEnabled(trains)
        self.stop_btn.setEnabled(trains)
        self.cancel_btn.setEnabled(running)
