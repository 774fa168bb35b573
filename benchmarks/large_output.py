"""Whole-painting results bigger than memory: written band by band into a TIFF, or as a pyramid.

Usage::

    python -m benchmarks.large_output --sizes 4096,8192 --elements 21
    xvfb-run -a python -m benchmarks.large_output --compare --sizes 8192 --elements 21

``--compare`` measures the old and the new output path of ``maxrf-sr run/apply`` on the
same trained model: the single-resolution memory-mapped TIFF
(:mod:`napari_maxrf_sr.io.large`) and the OME-Zarr resolution pyramid computed as a
dask graph over tiles (:func:`napari_maxrf_sr.to_file.apply_to_file`). For each: the
time and peak extra anonymous memory of writing it, its size on disk, and, in a fresh
process with a real napari viewer (1366 x 768, under Xvfb), the time from opening the
file with this plugin's reader to the first drawn view of the whole painting, with that
process's peak resident memory (all of it, and the anonymous part). The page cache is
not dropped (that needs root on the host): the file was just written, so the times are
those of a warm cache, the most favourable case for the old path.

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
from napari_maxrf_sr.core.trained_model import apply_model
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
    p.add_argument("--compare", action="store_true",
                   help="old (TIFF) and new (OME-Zarr pyramid) output paths, with napari")
    p.add_argument("--view", help=argparse.SUPPRESS)  # internal: time napari's first view
    args = p.parse_args(argv)
    if args.view:
        return _first_view(Path(args.view))
    if args.compare:
        return _compare(args)
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


def _disk_bytes(path: Path) -> int:
    """Bytes the file or folder takes on disk (allocated blocks)."""
    if path.is_file():
        return path.stat().st_blocks * 512
    return sum(f.stat().st_blocks * 512 for f in path.rglob("*") if f.is_file())


def _status_mib(key: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _first_view(path: Path) -> int:
    """In this (fresh) process: open ``path`` in napari, time the first whole view."""
    import json

    import napari

    viewer = napari.Viewer(show=True)
    viewer.window._qt_window.resize(1366, 768)
    viewer.window._qt_window.showNormal()
    napari.qt.get_qapp().processEvents()
    import numpy as np

    warm = viewer.add_image(np.zeros((2, 2), np.float32))  # OpenGL set up before timing
    viewer.screenshot(canvas_only=True)
    viewer.layers.remove(warm)
    with PeakAnon() as mem:
        t0 = time.perf_counter()
        layers = viewer.open(str(path), plugin="napari-maxrf-sr")
        viewer.reset_view()
        viewer.screenshot(canvas_only=True)  # draws: every visible layer is read
        seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "layers": len(layers),
                      "peak_rss_mib": _status_mib("VmHWM"), "peak_extra_anon_mib": mem.extra,
                      "multiscale": bool(getattr(layers[0], "multiscale", False))}))
    viewer.close()
    return 0


def _view_in_fresh_process(path: Path) -> dict:
    import json
    import subprocess

    run = subprocess.run([sys.executable, "-m", "benchmarks.large_output", "--view", str(path)],
                         capture_output=True, text=True, check=True)
    return json.loads(run.stdout.strip().splitlines()[-1])


def _compare(args) -> int:
    from napari_maxrf_sr.to_file import apply_to_file

    folder = Path(args.folder or tempfile.mkdtemp(prefix="maxrf-large-"))
    print("| photo size | output path | write (s) | peak extra anonymous RAM, write (MiB) | "
          "on disk (GiB) | napari: open to first whole view (s) | napari: peak RSS (MiB) | "
          "napari: peak extra anonymous (MiB) |")
    print("|---|---|---|---|---|---|---|---|")
    for size in (int(s) for s in args.sizes.split(",")):
        lr, rgb = inputs(size, args.elements, args.scale)
        res = super_resolve(lr, rgb, args.scale, device="cpu", infer=False,
                            config={"stage1_steps": 30, "stage2_steps": 10})
        model = res.diagnostics["model"]
        for name, out in (("TIFF, one resolution (old)", folder / f"sr_{size}.tif"),
                          ("OME-Zarr pyramid (new)", folder / f"sr_{size}.ome.zarr")):
            with PeakAnon() as mem:
                t0 = time.perf_counter()
                apply_to_file(model, lr, rgb, out)
                t_write = time.perf_counter() - t0
            disk = _disk_bytes(out) / 2**30
            view = _view_in_fresh_process(out)
            print(f"| {size} x {size} x {args.elements} | {name} | {t_write:.1f} | "
                  f"{mem.extra:.0f} | {disk:.2f} | {view['seconds']:.1f} | "
                  f"{view['peak_rss_mib']:.0f} | {view['peak_extra_anon_mib']:.0f} |",
                  flush=True)
            if out.is_dir():
                import shutil

                shutil.rmtree(out)
            else:
                out.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
