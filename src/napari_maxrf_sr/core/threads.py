"""How many CPU threads training uses: the cores that are actually free.

The network is small and per-pixel, so a training step is many small matrix
products. A second thread buys little on an idle 2-core machine, and when
other programs keep the cores busy, threads that wait for each other make every
step several times slower (``python -m benchmarks.contention`` measures both).
So a run measures the load when it starts and takes the free cores, at least one
and at most :data:`MAX_AUTO_THREADS`, leaving ``reserve`` cores alone (napari's
drawing thread). The count is fixed for the whole run and recorded: results depend
on it (a different split of a sum rounds differently), and a resumed run or a rerun
from the provenance uses the same count, so it gives the same maps.
"""

from __future__ import annotations

import os

#: More threads than this buy nothing measurable for the per-pixel network.
MAX_AUTO_THREADS = 4
#: Environment variable that pins the thread count (a shared server, the tests).
THREADS_ENV = "MAXRF_SR_CPU_THREADS"


def usable_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def busy_cores(sample_seconds: float = 0.25) -> float:
    """Cores kept busy by other processes, measured over a short sample.

    ``psutil`` measures the whole machine's CPU use (it comes with napari); without
    it, the one-minute load average stands in (Unix). 0 when neither is available.
    """
    try:
        import psutil

        own = psutil.Process()
        own.cpu_percent(None)
        total = psutil.cpu_percent(interval=sample_seconds) / 100.0 * (os.cpu_count() or 1)
        return max(0.0, total - own.cpu_percent(None) / 100.0)
    except (ImportError, OSError, RuntimeError):
        pass
    try:
        return float(os.getloadavg()[0])
    except (AttributeError, OSError):
        return 0.0


def choose_cpu_threads(requested: int = 0, reserve: int = 0,
                       busy: float | None = None) -> int:
    """The thread count for a training run on the CPU.

    Parameters
    ----------
    requested
        A count the user set (``SRConfig.cpu_threads``); 0 chooses automatically.
    reserve
        Cores to leave free for the rest of the program (1 inside napari).
    busy
        Cores busy with other work; measured when ``None``.

    Returns
    -------
    int
        ``requested`` if set, else ``$MAXRF_SR_CPU_THREADS`` if set, else the free
        cores (rounded, at least 1, at most :data:`MAX_AUTO_THREADS`).
    """
    if requested > 0:
        return int(requested)
    pinned = os.environ.get(THREADS_ENV, "").strip()
    if pinned.isdigit() and int(pinned) > 0:
        return int(pinned)
    cores = usable_cores()
    if busy is None:
        busy = busy_cores()
    free = cores - reserve - busy
    return int(min(MAX_AUTO_THREADS, cores, max(1, round(free))))
