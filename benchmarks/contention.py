"""Training on a shared machine: seconds per step with N busy processes beside it.

Usage::

    python -m benchmarks.contention                    # N = 0, 1, 2; auto and fixed threads
    python -m benchmarks.contention --busy 0,1,2,3 --steps 400

Each row trains the default network's stage 1 for ``--steps`` steps (after a warm-up)
on a 512 x 512, B = 21 synthetic painting while N other processes spin on the CPU,
and prints the seconds per step and the ratio to the same setting with nothing beside
it. "auto" is the default (threads chosen from the free cores when the run starts);
"fixed N" pins torch's thread count, as the package did before (torch's default is
one thread per core). Run it on an otherwise idle machine: the busy processes are the
only load it should see.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import numpy as np

#: A busy process: one core, spinning in the interpreter.
_SPIN = "while True:\n    pass\n"


def synthetic_case(size: int = 512, n_maps: int = 21, scale: int = 4, seed: int = 0):
    """Maps following random coloured rectangles of a photo (no shared data needed)."""
    from .fingerprint import toy_case

    return toy_case(size, n_maps, scale, seed)


def seconds_per_step(lr: np.ndarray, rgb: np.ndarray, steps: int, threads: int) -> float:
    """Stage-1 seconds per step, timed between two progress events after a warm-up."""
    from napari_maxrf_sr.core import train as training
    from napari_maxrf_sr.core.config import config_from_preset

    training.EVENT_INTERVAL = 0.0
    cfg = config_from_preset("default", stage1_steps=steps + 30, adversarial=False,
                             check_every=10**6, device="cpu", cpu_threads=threads)
    marks = {}
    for event in training.train(lr, rgb, cfg, scale=4, infer=False):
        if event.stage == "stage 1" and event.stage_step in (30, steps + 30):
            marks[event.stage_step] = time.perf_counter()
    return (marks[steps + 30] - marks[30]) / steps


def run(busy_counts: list[int], steps: int, settings: list[int]) -> list[dict]:
    lr, rgb = synthetic_case()
    rows, idle = [], {}
    for n_busy in busy_counts:
        spinners = [subprocess.Popen([sys.executable, "-c", _SPIN]) for _ in range(n_busy)]
        try:
            time.sleep(1.0 if n_busy else 0.0)  # let the load show before a run measures it
            for threads in settings:
                per_step = seconds_per_step(lr, rgb, steps, threads)
                idle.setdefault(threads, per_step)
                rows.append({"busy": n_busy, "threads": threads, "per_step": per_step,
                             "ratio": per_step / idle[threads]})
                print(_fmt(rows[-1]), file=sys.stderr, flush=True)
        finally:
            for p in spinners:
                p.kill()
                p.wait()
    return rows


def _label(threads: int) -> str:
    return "auto (default)" if threads == 0 else f"fixed {threads}"


def _fmt(row: dict) -> str:
    return (f"| {row['busy']} | {_label(row['threads'])} | {1e3 * row['per_step']:.1f} | "
            f"{row['ratio']:.2f} |")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.contention", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--busy", default="0,1,2", help="numbers of busy processes beside it")
    p.add_argument("--steps", type=int, default=300, help="timed stage-1 steps per row")
    p.add_argument("--threads", default=f"0,{os.cpu_count() or 2}",
                   help="thread settings to compare (0: automatic)")
    args = p.parse_args(argv)
    os.environ.pop("MAXRF_SR_CPU_THREADS", None)
    rows = run([int(x) for x in args.busy.split(",")], args.steps,
               [int(x) for x in args.threads.split(",")])
    print("| busy processes | threads | ms per step | ratio to idle |\n|---|---|---|---|")
    print("\n".join(_fmt(r) for r in rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
