"""Live loss plot: one line per loss term on a log-scale axis, redrawn a few times a second."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QSizePolicy, QVBoxLayout, QWidget

#: Minimum time between two redraws (ms): at most 4 redraws per second.
REDRAW_INTERVAL_MS = 250


class LossPlot(QWidget):
    """A matplotlib canvas that plots loss terms against the training step.

    Points are buffered by :meth:`add_point` (cheap, called on every training
    event) and drawn by a timer, so a fast stream of events never slows napari.
    Non-positive or non-finite values are skipped (a log axis cannot show them).
    """

    def __init__(self, parent: QWidget | None = None, *, theme: Mapping[str, str] | None = None):
        super().__init__(parent)
        self._steps: dict[str, list[float]] = {}
        self._values: dict[str, list[float]] = {}
        self._lines: dict[str, object] = {}
        self._dirty = False
        self.redraws = 0  # how many times the canvas was redrawn (tests check throttling)

        self.figure = Figure(figsize=(4, 2.4), layout="constrained")
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumHeight(170)
        self.canvas.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.axes = self.figure.add_subplot(111)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas)
        self.apply_theme(theme or {})
        self._setup_axes()

        self._timer = QTimer(self)
        self._timer.setInterval(REDRAW_INTERVAL_MS)
        self._timer.timeout.connect(self.flush)
        self._timer.start()

    # -- data ---------------------------------------------------------------------------
    def add_point(self, step: float, losses: Mapping[str, float]) -> None:
        """Buffer one value of each loss term; drawn at the next timer tick."""
        for name, value in losses.items():
            try:
                v = float(value)
            except (TypeError, ValueError):
                continue
            if not np.isfinite(v) or v <= 0:
                continue
            self._steps.setdefault(name, []).append(float(step))
            self._values.setdefault(name, []).append(v)
            self._dirty = True

    def clear(self) -> None:
        """Forget every point (a new run starts)."""
        self._steps.clear()
        self._values.clear()
        for line in self._lines.values():
            line.remove()
        self._lines.clear()
        self._setup_axes()
        self._dirty = True
        self.flush()

    @property
    def n_points(self) -> int:
        """Number of buffered points over all terms."""
        return sum(len(v) for v in self._values.values())

    def terms(self) -> list[str]:
        """Names of the loss terms seen so far."""
        return list(self._values)

    def history(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """Return the steps and values of one term."""
        return np.asarray(self._steps.get(term, [])), np.asarray(self._values.get(term, []))

    # -- drawing --------------------------------------------------------------------------
    def flush(self) -> None:
        """Redraw if new points arrived since the last redraw (called by the timer)."""
        if not self._dirty:
            return
        self._dirty = False
        for name, values in self._values.items():
            line = self._lines.get(name)
            if line is None:
                (line,) = self.axes.plot([], [], label=name, linewidth=1.2)
                self._lines[name] = line
                self._legend()
            line.set_data(self._steps[name], values)
        if self._values:
            self.axes.relim()
            self.axes.autoscale_view()
        self.canvas.draw_idle()
        self.redraws += 1

    def _legend(self) -> None:
        """Legend above the axes, so that it never hides the curves."""
        legend = self.axes.legend(loc="lower left", bbox_to_anchor=(0.0, 1.01, 1.0, 0.1),
                                  mode="expand", ncols=4, fontsize=6, frameon=False,
                                  borderaxespad=0.0, handlelength=1.2)
        for text in legend.get_texts():
            text.set_color(self._fg)

    def save(self, path: str) -> None:
        """Write the plot as an image (PNG, SVG or PDF by the file's extension)."""
        self.flush()
        self.figure.savefig(path, facecolor=self.figure.get_facecolor())

    def apply_theme(self, theme: Mapping[str, str]) -> None:
        """Colour the figure like napari's theme (``background``, ``text`` keys)."""
        self._bg = str(theme.get("background", "#262930"))
        self._fg = str(theme.get("text", "#f0f1f2"))
        self.figure.set_facecolor(self._bg)

    def _setup_axes(self) -> None:
        ax = self.axes
        ax.set_facecolor(self._bg)
        ax.set_yscale("log")
        ax.set_xlabel("step", color=self._fg, fontsize=8)
        ax.set_ylabel("loss", color=self._fg, fontsize=8)
        ax.tick_params(colors=self._fg, labelsize=7)
        for spine in ax.spines.values():
            spine.set_color(self._fg)
        legend = ax.get_legend()
        if legend is not None:
            legend.remove()

    def closeEvent(self, event) -> None:  # noqa: D102 - Qt override
        self._timer.stop()
        super().closeEvent(event)
