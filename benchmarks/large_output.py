"""Whole-painting results bigger than memory: inference written band by band into a TIFF.

Usage::

    python -m benchmarks.large_output --sizes 4096,8192 --elements 21

For each photo size: train briefly (the model's quality does not matter here; the
memory of preparing the training data does), then apply it into an element-stack
TIFF created on disk and memory-mapped
(:mod:`napari_maxrf_sr.io.large`, the path ``maxrf-sr run/apply`` take for results
above 2 GiB). Prints seconds, the output's size, and the peak *anonymous* memory
(what cannot be paged out; mapped file pages are written back to disk by the kernel),
then reopens the file lazily and checks one block mean against the scan.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

from napari_maxrf_sr.api import super_resolve
from napari_maxrf_sr.core.inference import apply_model
from napari_maxrf_sr.io.large import element_stack_on_disk, open_element_stack_lazily

from .scaling import inputs


def _anon_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class PeakAnon:
    """Peak anonymous resident memory while a block runs, sampled every 10 ms (MiB)."""

    def __enter__(self) -> PeakAnon:
        self.base = self.peak = _anon_mib()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def _poll(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, _anon_mib())

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def extra(self) -> float:
        """Peak minus the memory in use at the start."""
        return self.peak - self.base


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.large_output", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="4096,8192")
    p.add_argument("--elements", type=int, default=21)
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--folder", help="where to write the outputs (default: a temporary folder)")
    args = p.parse_args(argv)
    folder = Path(args.folder or tempfile.mkdtemp(prefix="maxrf-large-"))
    print("| photo size | inputs (GiB) | output (GiB) | training, 40 steps (s) | "
          "peak extra anonymous RAM in training (MiB) | inference to disk (s) | "
          "peak extra anonymous RAM in inference (MiB) | lazy reopen + check (s) |")
    print("|---|---|---|---|---|---|---|---|")
    for size in (int(s) for s in args.sizes.split(",")):
        lr, rgb = inputs(size, args.elements, args.scale)
        in_gib = (lr.nbytes + rgb.nbytes) / 2**30
        with PeakAnon() as mem_train:
            t0 = time.perf_counter()
            res = super_resolve(lr, rgb, args.scale, device="cpu", infer=False,
                                config={"stage1_steps": 30, "stage2_steps": 10})
            t_train = time.perf_counter() - t0
        model = res.diagnostics["model"]
        out = folder / f"sr_{size}.tif"
        shape = (args.elements, size, size)
        with PeakAnon() as mem:
            t0 = time.perf_counter()
            with element_stack_on_disk(out, shape, model.elements, scale=args.scale) as mm:
                apply_model(model, lr, rgb, device="cpu", out=mm)
            t_inf = time.perf_counter() - t0
        t0 = time.perf_counter()
        lazy = open_element_stack_lazily(out)
        block = lazy[-1, -args.scale:, -args.scale:].mean()
        assert abs(block - lr[-1, -1, -1]) <= 1e-3 * max(1.0, abs(lr[-1, -1, -1])), block
        t_open = time.perf_counter() - t0
        gib = out.stat().st_size / 2**30
        print(f"| {size} x {size} | {in_gib:.2f} | {gib:.2f} | {t_train:.1f} | "
              f"{mem_train.extra:.0f} | {t_inf:.1f} | {mem.extra:.0f} | {t_open:.2f} |",
              flush=True)
        del lazy
        out.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
