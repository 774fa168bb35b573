"""Adds layers to the viewer a few at a time, so napari never freezes while results arrive.

Each event-loop turn adds layers (or runs other small viewer changes, given as
callables) until :data:`TURN_BUDGET_S` is spent, then lets napari draw and answer
the mouse before the next turn. One ``add_image`` is napari's own work and cannot be
split (a new OpenGL visual and layer controls: the longest single step), so one per
turn (``python -m benchmarks.gui_responsiveness`` measures the blocked time).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from qtpy.QtCore import QObject, QTimer

#: Seconds of layer adding per event-loop turn (at least one layer is added per turn).
TURN_BUDGET_S = 0.05


class LayerFeeder(QObject):
    """Adds ``LayerData`` tuples (or runs callables) over several event-loop turns.

    Parameters
    ----------
    viewer
        The napari viewer (or ``ViewerModel``).
    """

    def __init__(self, viewer: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.viewer = viewer
        self._queue: list[tuple] = []
        self._done: Callable[[], None] | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._turn)

    @property
    def busy(self) -> bool:
        """Whether layers are still waiting to be added."""
        return bool(self._queue) or self._timer.isActive()

    def feed(self, layers: Sequence[tuple | Callable[[], Any]],
             done: Callable[[], None] | None = None) -> None:
        """Queue layers and small changes; ``done`` is called after the last one."""
        self._queue.extend(layers)
        self._done = done
        self._timer.start()

    def cancel(self) -> None:
        """Forget the queued layers."""
        self._queue.clear()
        self._timer.stop()

    def _add(self, data: Any, kwargs: dict, kind: str) -> None:
        name = kwargs.get("name")
        if name in self.viewer.layers:
            self.viewer.layers.remove(name)  # a rerun replaces its results
        getattr(self.viewer, f"add_{kind}")(data, **kwargs)

    def _turn(self) -> None:
        import time

        t0 = time.perf_counter()
        while self._queue:
            item = self._queue.pop(0)
            if callable(item):
                item()
            else:
                self._add(*item)
            if time.perf_counter() - t0 > TURN_BUDGET_S:
                break
        if self._queue:
            self._timer.start()
        elif self._done is not None:
            done, self._done = self._done, None
            done()
