"""Adds layers to the viewer a few at a time, so napari never freezes while results arrive.

Each event-loop turn adds layers until :data:`TURN_BUDGET_S` is spent, then lets
napari draw and answer the mouse before the next turn.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from qtpy.QtCore import QObject, QTimer

#: Seconds of layer adding per event-loop turn (at least one layer is added per turn).
TURN_BUDGET_S = 0.05


class LayerFeeder(QObject):
    """Adds ``LayerData`` tuples to a viewer over several event-loop turns.

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

    def feed(self, layers: Sequence[tuple], done: Callable[[], None] | None = None) -> None:
        """Queue layers; ``done`` is called in the GUI thread after the last one."""
        self._queue.extend(layers)
        self._done = done
        self._timer.start()

    def cancel(self) -> None:
        """Forget the queued layers."""
        self._queue.clear()
        self._timer.stop()

    def _turn(self) -> None:
        import time

        t0 = time.perf_counter()
        while self._queue:
            data, kwargs, kind = self._queue.pop(0)
            name = kwargs.get("name")
            if name in self.viewer.layers:
                self.viewer.layers.remove(name)  # a rerun replaces its results
            getattr(self.viewer, f"add_{kind}")(data, **kwargs)
            if time.perf_counter() - t0 > TURN_BUDGET_S:
                break
        if self._queue:
            self._timer.start()
        elif self._done is not None:
            done, self._done = self._done, None
            done()
