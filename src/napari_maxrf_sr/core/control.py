"""Run control shared by the training loop and its callers: stop, cancel, pause, signals."""

from __future__ import annotations

import math
import threading
import time


class RunControl:
    """A thread-safe switch board that a GUI, a CLI or a test flips while training runs.

    ``stop()`` asks the loop to finish the current step and return what it has
    ("stop and keep the result"); ``cancel()`` asks it to return nothing;
    ``pause()`` makes it wait (the waiting time is not counted as training time)
    until ``resume()``, ``stop()`` or ``cancel()``. A loop that halts on a pause says
    so with an event of kind :attr:`~.events.EventKind.PAUSED`.
    """

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._cancel = threading.Event()
        self._running = threading.Event()
        self._running.set()

    # -- requests (any thread) ----------------------------------------------------------
    def stop(self) -> None:
        """Finish the current step, then return the current result."""
        self._stop.set()
        self._running.set()

    def cancel(self) -> None:
        """Abandon the run: the loop returns ``None`` and produces no maps."""
        self._cancel.set()
        self._running.set()

    def pause(self) -> None:
        """Wait after the current step until :meth:`resume`."""
        self._running.clear()

    def resume(self) -> None:
        """Continue after :meth:`pause`."""
        self._running.set()

    # -- state (read by the loop) ---------------------------------------------------------
    @property
    def stop_requested(self) -> bool:
        """True once :meth:`stop` was called."""
        return self._stop.is_set()

    @property
    def cancelled(self) -> bool:
        """True once :meth:`cancel` was called."""
        return self._cancel.is_set()

    @property
    def paused(self) -> bool:
        """True while paused."""
        return not self._running.is_set()

    @property
    def should_end(self) -> bool:
        """True when the loop must leave its current stage (stop or cancel)."""
        return self._stop.is_set() or self._cancel.is_set()

    def wait_while_paused(self, poll: float = 0.05) -> float:
        """Block while paused; returns the seconds spent waiting."""
        if self._running.is_set():
            return 0.0
        t0 = time.perf_counter()
        while not self._running.wait(poll):
            pass
        return time.perf_counter() - t0


class InterruptRequest:
    """A stop asked for by a signal (Ctrl-C, SIGTERM) while a run trains.

    A signal handler calls :meth:`ask`. While a stage is training, the run then saves a
    checkpoint at the end of the step it is doing and raises
    :class:`~napari_maxrf_sr.errors.RunInterrupted`: a step is never cut in half, so the
    saved run resumes exactly. At any other moment (reading, set-up, writing) or when
    asked twice, :meth:`ask` returns ``False`` and the handler stops the process itself.
    """

    def __init__(self) -> None:
        self.armed = False
        self.signum: int | None = None

    def ask(self, signum: int) -> bool:
        """Ask the training run to save and stop; ``False`` when it cannot take the request."""
        if not self.armed or self.signum is not None:
            return False
        self.signum = int(signum)
        return True


def format_mmss(seconds: float | None) -> str:
    """Seconds as ``mm:ss`` for progress displays; ``--:--`` when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "--:--"
    s = int(round(max(0.0, seconds)))
    return f"{s // 60:02d}:{s % 60:02d}"
