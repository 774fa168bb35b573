"""Live training plot in plain words, drawn with Qt's painter.

Three series a conservator can read (see :mod:`.panel.terms`): how well the result
fits the scan, how well the network explains the photo, and the held-out check. Every
other term, including ones the training loop may add later, appears only with the
"expert" switch. Before the first point the plot shows a sentence, not empty axes.

Qt's painter, not matplotlib: a matplotlib redraw takes a large share of napari's GUI
thread at one redraw a second on a slow or busy computer, the painter a small one
(``python -m benchmarks.gui_responsiveness`` measures how long the GUI thread is
blocked). Points are buffered by :meth:`LossPlot.add_point` and painted at most once
a second.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from qtpy.QtCore import QPointF, QRectF, Qt, QTimer
from qtpy.QtGui import QColor, QPainter, QPen, QPolygonF
from qtpy.QtWidgets import QCheckBox, QLabel, QSizePolicy, QVBoxLayout, QWidget

from napari_maxrf_sr._napari.panel.terms import describe

#: Minimum time between two redraws (ms).
REDRAW_INTERVAL_MS = 1000
#: At most this many points of a series are drawn (evenly picked); all are kept.
MAX_DRAWN = 400
_PALETTE = ("#ba68c8", "#f06292", "#a1887f", "#90a4ae", "#dce775", "#4db6ac")


class _Canvas(QWidget):
    """The axes and lines; painted from the series of its :class:`LossPlot`."""

    def __init__(self, plot: LossPlot) -> None:
        super().__init__()
        self.plot = plot
        self.setMinimumHeight(150)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Preferred)

    def paintEvent(self, event) -> None:  # noqa: D102, N802 - Qt override
        painter = QPainter(self)
        try:
            painter.setRenderHint(QPainter.Antialiasing, True)
            self.plot.paint(painter, QRectF(self.rect()))
        finally:
            painter.end()


class LossPlot(QWidget):
    """Training curves against the step, on a log scale.

    Parameters
    ----------
    parent
        Parent widget.
    theme
        ``background`` and ``text`` colours (napari's theme).
    auto_flush
        Redraw by its own timer; ``False`` when the owner calls :meth:`flush`.
    """

    def __init__(self, parent: QWidget | None = None, *, theme: Mapping[str, str] | None = None,
                 auto_flush: bool = True):
        super().__init__(parent)
        self._steps: dict[str, list[float]] = {}
        self._values: dict[str, list[float]] = {}
        self._colours: dict[str, QColor] = {}
        self._dirty = False
        self.redraws = 0  # paints requested (tests check the throttling)
        theme = theme or {}
        self._bg = QColor(str(theme.get("background", "#262930")))
        self._fg = QColor(str(theme.get("text", "#f0f1f2")))
        self.placeholder = QLabel("The training curves appear here once training starts: "
                                  "each falls as the network learns.")
        self.placeholder.setWordWrap(True)
        self.canvas = _Canvas(self)
        self.canvas.setToolTip(self._tooltip())
        self.expert_check = QCheckBox("Show every loss term (expert)")
        self.expert_check.setToolTip("Also draw the internal terms: the weighted total, the "
                                     "smaller copy of the problem and the adversarial stage.")
        self.expert_check.toggled.connect(self._request)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.placeholder)
        layout.addWidget(self.canvas)
        layout.addWidget(self.expert_check)
        self.canvas.setVisible(False)
        self._timer = QTimer(self)
        self._timer.setInterval(REDRAW_INTERVAL_MS)
        self._timer.timeout.connect(self.flush)
        if auto_flush:
            self._timer.start()

    @staticmethod
    def _tooltip() -> str:
        from napari_maxrf_sr._napari.panel.terms import PLAIN_TERMS

        return "\n".join(f"{t.label}: {t.tip}" for t in PLAIN_TERMS.values())

    # -- data ---------------------------------------------------------------------------
    def add_point(self, step: float, losses: Mapping[str, float]) -> None:
        """Buffer one value of each loss term; painted at the next timer tick."""
        for name, value in losses.items():
            try:
                v = float(value)
            except (TypeError, ValueError):
                continue
            if not math.isfinite(v) or v <= 0:
                continue  # a log axis cannot show it
            name = str(name)
            self._steps.setdefault(name, []).append(float(step))
            self._values.setdefault(name, []).append(v)
            if name not in self._colours:
                term = describe(name)
                self._colours[name] = QColor(
                    term.colour or _PALETTE[len(self._colours) % len(_PALETTE)])
            self._dirty = True

    def clear(self) -> None:
        """Forget every point (a new run starts)."""
        self._steps.clear()
        self._values.clear()
        self._colours.clear()
        self._dirty = True
        self.flush()

    @property
    def n_points(self) -> int:
        """Number of buffered points over all terms."""
        return sum(len(v) for v in self._values.values())

    def terms(self) -> list[str]:
        """Names of the loss terms seen so far."""
        return list(self._values)

    def shown_terms(self) -> list[str]:
        """The terms drawn now (plain ones, and the rest with the expert switch)."""
        expert = self.expert_check.isChecked()
        return [t for t in self._values if expert or not describe(t).expert]

    def history(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """Return the steps and values of one term."""
        return np.asarray(self._steps.get(term, [])), np.asarray(self._values.get(term, []))

    # -- drawing --------------------------------------------------------------------------
    def _request(self, *_) -> None:
        self._dirty = True
        self.flush()

    def flush(self) -> None:
        """Ask for a repaint if new points arrived since the last one (called by the timer)."""
        if not self._dirty:
            return
        self._dirty = False
        has_points = bool(self._values)
        self.placeholder.setVisible(not has_points)
        self.canvas.setVisible(has_points)
        self.canvas.update()
        self.redraws += 1

    def save(self, path: str) -> None:
        """Write the plot as a PNG image."""
        self.flush()
        self.canvas.grab().save(str(path))

    def _ranges(self, names: list[str]) -> tuple[float, float, float, float]:
        xs = [s for n in names for s in (self._steps[n][0], self._steps[n][-1])]
        ys = np.concatenate([np.asarray(self._values[n]) for n in names])
        lo, hi = math.floor(math.log10(ys.min())), math.ceil(math.log10(ys.max()))
        return min(xs), max(max(xs), min(xs) + 1), lo, max(hi, lo + 1)

    def paint(self, p: QPainter, rect: QRectF) -> None:
        """Draw legend, axes and lines into ``rect``."""
        p.fillRect(rect, self._bg)
        names = self.shown_terms()
        if not names:
            return
        metrics = p.fontMetrics()
        line_h = metrics.height()
        legend_rows = self._legend(p, rect, names, line_h)
        area = QRectF(rect.left() + metrics.horizontalAdvance("1e-10") + 8,
                      rect.top() + legend_rows * line_h + 6,
                      0, 0)
        area.setRight(rect.right() - 8)
        area.setBottom(rect.bottom() - line_h - 6)
        if area.width() < 20 or area.height() < 20:
            return
        x0, x1, d0, d1 = self._ranges(names)
        self._axes(p, area, x0, x1, d0, d1, line_h)
        for name in names:
            steps = np.asarray(self._steps[name])
            logs = np.log10(np.asarray(self._values[name]))
            if len(steps) > MAX_DRAWN:
                keep = np.linspace(0, len(steps) - 1, MAX_DRAWN).astype(int)
                steps, logs = steps[keep], logs[keep]
            xs = area.left() + (steps - x0) / (x1 - x0) * area.width()
            ys = area.bottom() - (logs - d0) / (d1 - d0) * area.height()
            p.setPen(QPen(self._colours[name], 1.6))
            p.drawPolyline(QPolygonF([QPointF(x, y) for x, y in zip(xs, ys, strict=True)]))

    def _legend(self, p: QPainter, rect: QRectF, names: list[str], line_h: int) -> int:
        """Write the series names in their colours, wrapping; returns the rows used."""
        x, row = rect.left() + 4, 0
        for name in names:
            label = "\u2014 " + describe(name).label
            width = p.fontMetrics().horizontalAdvance(label) + 12
            if x + width > rect.right() and x > rect.left() + 4:
                x, row = rect.left() + 4, row + 1
            p.setPen(self._colours[name])
            p.drawText(QPointF(x, rect.top() + (row + 1) * line_h - 3), label)
            x += width
        return row + 1

    def _axes(self, p: QPainter, area: QRectF, x0: float, x1: float, d0: int, d1: int,
              line_h: int) -> None:
        grid = QColor(self._fg)
        grid.setAlpha(60)
        for d in range(d0, d1 + 1):
            y = area.bottom() - (d - d0) / (d1 - d0) * area.height()
            p.setPen(QPen(grid, 1))
            p.drawLine(QPointF(area.left(), y), QPointF(area.right(), y))
            p.setPen(self._fg)
            p.drawText(QRectF(0, y - line_h / 2, area.left() - 4, line_h),
                       int(Qt.AlignRight | Qt.AlignVCenter), f"1e{d}")
        p.setPen(QPen(self._fg, 1))
        p.drawRect(area)
        for frac, align in ((0.0, Qt.AlignLeft), (1.0, Qt.AlignRight)):
            value = x0 + frac * (x1 - x0)
            x = area.left() + frac * area.width()
            box = QRectF(x - 60 if frac else x, area.bottom() + 2, 60, line_h)
            p.drawText(box, int(align | Qt.AlignTop), f"{value:.0f}")
        p.drawText(QRectF(area.left(), area.bottom() + 2, area.width(), line_h),
                   int(Qt.AlignHCenter | Qt.AlignTop), "training step")

    def closeEvent(self, event) -> None:  # noqa: D102, N802 - Qt override
        self._timer.stop()
        super().closeEvent(event)

    def stop(self) -> None:
        """Stop the redraw timer (the panel is closing)."""
        self._timer.stop()
