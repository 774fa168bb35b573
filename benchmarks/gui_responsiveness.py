"""How busy napari's GUI thread is while the panel trains, and how long it blocks at the end.

Run from the repository root (a real napari window; on a machine without a screen,
under Xvfb)::

    xvfb-run -a -s "-screen 0 1366x768x24" python -m benchmarks.gui_responsiveness

It opens napari at 1366 x 768, loads the synthetic painting sample, docks the
super-resolution panel, presses Start with the ``fast`` preset (everything else as a
newcomer finds it) and waits until the result layers are in the viewer.

The GUI thread is *busy* from the moment its event loop wakes up until it is about to
sleep again (``QAbstractEventDispatcher.awake`` / ``aboutToBlock``): everything it
runs in between (our slots, napari's redraws, waiting for Python's GIL while the
training thread holds it) is time in which napari cannot answer the mouse. Printed:

- the busy share of each whole second of training (median, mean, worst), the share
  of it that the GUI thread spent on a CPU (the rest is waiting for a core or for
  the GIL: on a shared machine the two differ), and the longest single busy stretch
  during training,
- the longest time the GUI thread could not serve a 20 ms heartbeat timer (its longest
  single block) from the end of training until the results are shown. The heartbeat
  starts only then: while the training thread runs, each tick of a Python timer waits
  for the GIL (up to 5 ms) and would itself add a quarter to the busy share,
- the training and result-adding times, the layers added and the machine's load.

``--json PATH`` also writes these numbers to a file.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path


class BusyMeter:
    """Busy stretches of the GUI thread, from the event dispatcher's awake/aboutToBlock."""

    def __init__(self) -> None:
        from qtpy.QtCore import QAbstractEventDispatcher

        self.spans: list[tuple[float, float]] = []
        self.cpu_spans: list[tuple[float, float]] = []  # (end time, CPU seconds used)
        self._awake_at: float | None = None
        self._cpu_at = 0.0
        dispatcher = QAbstractEventDispatcher.instance()
        dispatcher.awake.connect(self._awake)
        dispatcher.aboutToBlock.connect(self._block)

    def _awake(self) -> None:
        if self._awake_at is None:
            self._awake_at = time.perf_counter()
            self._cpu_at = time.thread_time()

    def _block(self) -> None:
        if self._awake_at is not None:
            now = time.perf_counter()
            self.spans.append((self._awake_at, now))
            self.cpu_spans.append((now, time.thread_time() - self._cpu_at))
            self._awake_at = None

    def cpu_between(self, t0: float, t1: float) -> float:
        """CPU seconds the GUI thread used in busy stretches ending in ``[t0, t1]``."""
        return sum(cpu for end, cpu in self.cpu_spans if t0 <= end < t1)

    def busy_between(self, t0: float, t1: float) -> float:
        """Seconds busy within ``[t0, t1]``."""
        return sum(max(0.0, min(b, t1) - max(a, t0)) for a, b in self.spans)

    def longest_between(self, t0: float, t1: float) -> float:
        """Longest busy stretch inside ``[t0, t1]`` (the event loop never slept in it)."""
        return max((min(b, t1) - max(a, t0) for a, b in self.spans if b > t0 and a < t1),
                   default=0.0)


class Heartbeat:
    """A 20 ms timer; a late tick means the GUI thread was blocked for that long."""

    def __init__(self, interval_ms: int = 20) -> None:
        from qtpy.QtCore import QTimer

        self.ticks: list[float] = [time.perf_counter()]
        self.interval = interval_ms / 1000.0
        self._timer = QTimer()
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(lambda: self.ticks.append(time.perf_counter()))
        self._timer.start()

    def longest_block(self, t0: float, t1: float) -> float:
        """Longest wait between two ticks, beyond the interval, that ends in ``[t0, t1]``."""
        gaps = [b - a - self.interval for a, b in zip(self.ticks, self.ticks[1:], strict=False)
                if t0 <= b <= t1]
        return max(gaps, default=0.0)


def _wait(app, predicate, timeout_s: float) -> bool:
    """Run Qt's event loop (which sleeps when idle) until ``predicate()`` or the timeout."""
    from qtpy.QtCore import QEventLoop, QTimer

    t0 = time.perf_counter()
    loop = QEventLoop()
    timer = QTimer()
    timer.setInterval(50)

    def check() -> None:
        if predicate() or time.perf_counter() - t0 > timeout_s:
            loop.quit()

    timer.timeout.connect(check)
    timer.start()
    if not predicate():
        loop.exec_()
    timer.stop()
    return bool(predicate())


def _run(args: argparse.Namespace) -> dict:
    os.environ["NAPARI_MAXRF_SR_SETTINGS"] = str(Path(tempfile.mkdtemp()) / "settings.json")
    os.environ["MAXRF_SR_CHECKPOINTS"] = tempfile.mkdtemp()
    # Qt's glib event dispatcher never emits awake/aboutToBlock; the plain one does.
    os.environ["QT_NO_GLIB"] = "1"
    import napari
    from qtpy.QtWidgets import QApplication

    viewer = napari.Viewer(title="gui responsiveness")
    viewer.window._qt_window.setGeometry(0, 0, 1366, 768)
    viewer.open_sample("napari-maxrf-sr", "synthetic_painting")
    _, widget = viewer.window.add_plugin_dock_widget(
        "napari-maxrf-sr", "Super-resolve element maps")
    app = QApplication.instance()
    widget.preset_combo.setCurrentText(args.preset)
    _wait(app, lambda: False, 1.0)
    n_before = len(viewer.layers)
    meter = BusyMeter()
    beats: list[Heartbeat] = []
    events: list[tuple[float, str]] = []
    returned: list[float] = []
    t_start = time.perf_counter()
    widget.start()
    worker = widget.worker

    def on_event(e) -> None:
        stage = str(getattr(e, "stage", ""))
        events.append((time.perf_counter(), stage))
        if stage in ("finalise", "done") and not beats:
            beats.append(Heartbeat())  # training is over: from now on the results

    worker.yielded.connect(on_event)
    worker.returned.connect(lambda *_: returned.append(time.perf_counter()))
    if not _wait(app, lambda: not widget.running, args.timeout):
        raise SystemExit("the run did not finish in time")
    # Results may still be added after the worker ended: wait until the layer list
    # has not changed for two seconds.
    last = [len(viewer.layers), time.perf_counter()]

    def settled() -> bool:
        if len(viewer.layers) != last[0]:
            last[:] = [len(viewer.layers), time.perf_counter()]
        return time.perf_counter() - last[1] > 2.0

    _wait(app, settled, 60)
    t_settled = last[1]
    train_times = [t for t, stage in events if stage in ("stage 1", "stage 2")]
    t_train0, t_train1 = train_times[0], train_times[-1]
    seconds = [t_train0 + k for k in range(int(t_train1 - t_train0))]
    shares = [meter.busy_between(t, t + 1.0) for t in seconds]
    cpu = [meter.cpu_between(t, t + 1.0) for t in seconds]
    out = {
        "preset": args.preset,
        "training_seconds": round(t_train1 - t_train0, 2),
        "start_to_first_step_s": round(t_train0 - t_start, 2),
        "busy_share_per_second": {
            "seconds": len(shares),
            "median": round(statistics.median(shares), 3) if shares else None,
            "mean": round(statistics.fmean(shares), 3) if shares else None,
            "max": round(max(shares), 3) if shares else None,
        },
        "gui_thread_cpu_share_per_second": {
            "median": round(statistics.median(cpu), 3) if cpu else None,
            "mean": round(statistics.fmean(cpu), 3) if cpu else None,
            "max": round(max(cpu), 3) if cpu else None,
        },
        "results_window_s": round(t_settled - t_train1, 2),
        "longest_busy_stretch_during_training_s": round(
            meter.longest_between(t_train0, t_train1), 3),
        "longest_block_when_results_arrive_s": round(
            beats[0].longest_block(t_train1, t_settled), 3) if beats else None,
        "returned_to_settled_s": round(t_settled - returned[0], 2) if returned else None,
        "layers_added": len(viewer.layers) - n_before,
        "load_average": os.getloadavg(),
    }
    viewer.close()
    return out


def main(argv: list[str] | None = None) -> dict:
    """Measure once and print the numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="fast", help="preset to train with (fast)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait")
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    args = parser.parse_args(argv)
    out = _run(args)
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return out


if __name__ == "__main__":
    main()
