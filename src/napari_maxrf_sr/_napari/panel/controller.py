"""The run controller: one job at a time in a napari worker thread, and its controls.

Start, pause, stop-and-keep, cancel, abort on close, and one retry on the CPU after a
GPU out-of-memory error. Only the worker's signals (delivered in the GUI thread)
reach the panel; the job itself (:mod:`.jobs`) touches neither Qt nor the viewer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from qtpy.QtCore import QObject, Qt, Signal

from napari_maxrf_sr._napari.panel.jobs import Started, TrainingPlan, training_job
from napari_maxrf_sr._napari.panel.outcome import NETWORK


@dataclass
class Run:
    """One job: its worker, its run control, and a flag set when its thread is done."""

    method: str
    inputs: Any
    plan: TrainingPlan | None = None
    control: Any = None
    worker: Any = None
    done: threading.Event = field(default_factory=threading.Event)
    cancelled: bool = False
    failed: bool = False
    checkpoint: Any = None
    retry_on_cpu: bool = False
    notes: tuple[str, ...] = ()
    prepared: Any = None

    def abort(self, wait_s: float = 10.0) -> bool:
        """Cancel and wait for the thread to end; True when it ended in time."""
        self.cancelled = True
        if self.control is not None:
            self.control.cancel()
        ended = self.done.wait(wait_s)
        if self.worker is not None and not ended:
            self.worker.quit()
        return ended


class WorkerError(Exception):
    """Carries an exception out of a worker thread to the ``errored`` signal.

    superqt's generator worker takes a RuntimeError for a deleted Qt object: it only
    warns, and emits neither ``errored`` nor ``finished``, so the panel would wait
    forever. torch's out-of-memory error and TrainingDiverged are RuntimeErrors.
    """

    def __init__(self, original: BaseException) -> None:
        super().__init__(str(original))
        self.original = original


def _drive(gen, done: threading.Event):
    """Worker body of a generator job: hand on its events and its return value."""
    try:
        return (yield from gen)
    except RuntimeError as exc:
        raise WorkerError(exc) from exc
    finally:
        done.set()


def _call(fn: Callable, done: threading.Event, *args, **kwargs):
    """Worker body of a plain function job."""
    try:
        return fn(*args, **kwargs)
    except RuntimeError as exc:
        raise WorkerError(exc) from exc
    finally:
        done.set()


def abort_held_run(holder: list) -> None:
    """End the run a panel held when the panel was garbage-collected."""
    if holder[0] is not None:
        holder[0].abort(10.0)


class RunController(QObject):
    """Runs one job at a time.

    Signals
    -------
    started(Started)
        A training job's checkpoint file and input notes.
    progress(TrainEvent)
        A progress event of the training loop.
    outcome(RunOutcome)
        A finished job's result (not emitted when cancelled).
    failed(BaseException)
        A job failed (not emitted for the GPU error that is retried on the CPU).
    retrying()
        The GPU ran out of memory: the run starts again on the CPU.
    ended(Run)
        A job's thread is done (after ``outcome`` or ``failed``).

    Attributes
    ----------
    train_fn
        The core's ``train_prepared``; tests put another one here.
    """

    started = Signal(object)
    progress = Signal(object)
    outcome = Signal(object)
    failed = Signal(object)
    retrying = Signal()
    ended = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.run: Run | None = None
        self.holder: list = [None]  # read by a finalizer when the panel goes away
        self.train_fn: Callable | None = None
        self.closing = False

    @property
    def running(self) -> bool:
        """Whether a job is running."""
        return self.run is not None

    @property
    def worker(self) -> Any:
        """The running job's worker (None when idle)."""
        return None if self.run is None else self.run.worker

    @property
    def trains(self) -> bool:
        """Whether the running job trains the network (it can be paused and stopped)."""
        return self.run is not None and self.run.control is not None

    @property
    def paused(self) -> bool:
        """Whether the running training is paused now."""
        return self.trains and bool(self.run.control.paused)

    # -- starting --------------------------------------------------------------------------
    def start_training(self, inputs: Any, plan: TrainingPlan, prepared: Any,
                       notes: tuple[str, ...] = ()) -> None:
        """Train the network on the prepared inputs in a worker thread."""
        from napari.qt.threading import create_worker
        from superqt.utils import GeneratorWorker

        from napari_maxrf_sr.core.control import RunControl

        control = RunControl()
        run = Run(NETWORK, inputs, plan, control=control, notes=tuple(notes), prepared=prepared)
        job = training_job(inputs, plan, prepared, control, self.train_fn, notes)
        self._begin(run, create_worker(_drive, job, run.done, _worker_class=GeneratorWorker,
                                       _start_thread=False, _connect=self._slots(run)))

    def start_function(self, method: str, inputs: Any, fn: Callable, *args: Any) -> None:
        """Run a plain function job (a baseline, a saved model) in a worker thread."""
        from napari.qt.threading import create_worker
        from superqt.utils import FunctionWorker

        run = Run(method, inputs)
        slots = self._slots(run)
        slots.pop("yielded")
        self._begin(run, create_worker(_call, fn, run.done, *args, _worker_class=FunctionWorker,
                                       _start_thread=False, _connect=slots))

    def _slots(self, run: Run) -> dict[str, Callable]:
        # After abort() (napari closing) the panel may be gone: late signals are dropped.
        def live(fn: Callable) -> Callable:
            return lambda *args: None if self.closing else fn(run, *args)

        return {"yielded": live(self._on_yield), "returned": live(self._on_returned),
                "errored": live(self._on_error), "finished": live(self._on_finished)}

    def _begin(self, run: Run, worker: Any) -> None:
        run.worker = worker
        # Set `done` in the worker's own thread when it ends, also after worker.quit()
        # (which leaves the generator suspended, so its `finally` would not run).
        worker.finished.connect(run.done.set, Qt.DirectConnection)
        self.run = run
        self.holder[0] = run
        worker.start()

    # -- controls --------------------------------------------------------------------------
    def toggle_pause(self) -> bool | None:
        """Pause or resume training; returns whether it is paused now (None when idle)."""
        run = self.run
        if run is None or run.control is None:
            return None
        if run.control.paused:
            run.control.resume()
        else:
            run.control.pause()
        return bool(run.control.paused)

    def stop(self) -> None:
        """Finish the current step and keep the result reached so far."""
        if self.run is not None and self.run.control is not None:
            self.run.control.stop()

    def cancel(self) -> None:
        """Abandon the run: nothing is added."""
        run = self.run
        if run is not None:
            run.cancelled = True
            if run.control is not None:
                run.control.cancel()

    def abort(self, wait_s: float = 10.0) -> None:
        """Cancel and wait for the thread (napari is closing)."""
        self.closing = True
        if self.run is not None:
            self.run.abort(wait_s)

    def wait(self, timeout_s: float = 60.0) -> bool:
        """Block (processing no events) until the job's thread ended; for scripts."""
        run = self.run
        return True if run is None else run.done.wait(timeout_s)

    # -- worker signals --------------------------------------------------------------------
    def _on_yield(self, run: Run, item: Any) -> None:
        if isinstance(item, Started):
            run.checkpoint = item.checkpoint
            self.started.emit(item)
        else:
            self.progress.emit(item)

    def _on_returned(self, run: Run, value: Any) -> None:
        if value is not None and not run.cancelled and not self.closing:
            self.outcome.emit(value)

    def _on_error(self, run: Run, exc: BaseException) -> None:
        from napari_maxrf_sr.core.device import is_out_of_memory

        exc = getattr(exc, "original", exc)
        run.failed = True
        if self.closing:
            return
        config = getattr(run.plan, "config", None)
        if (run.method == NETWORK and not run.cancelled and is_out_of_memory(exc)
                and config is not None and config.device != "cpu"):
            run.retry_on_cpu = True  # started again once this run's thread ended
            self.retrying.emit()
            return
        self.failed.emit(exc)

    def _on_finished(self, run: Run) -> None:
        if self.run is run:
            self.run = None
            self.holder[0] = None
        if self.closing:
            return
        self.ended.emit(run)
        if run.retry_on_cpu and not run.cancelled and self.run is None:
            # The same run on the CPU, from its checkpoint if it saved one (a checkpoint
            # does not depend on the device).
            resume = run.checkpoint is not None and run.checkpoint.is_file()
            plan = replace(run.plan, config=run.plan.config.replace(device="cpu"),
                           resume=resume)
            self.start_training(run.inputs, plan, run.prepared, run.notes)
