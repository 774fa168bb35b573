"""Speed and memory against image size: training steps and tiled inference.

Usage::

    python -m benchmarks.scaling                    # 512, 1024, 2048, 4096; B = 21; 4x
    python -m benchmarks.scaling --sizes 512,1024   # fewer sizes

Training samples pixels and patches, so a step costs the same at any size; only the one-off
preparation (the down-scaled copy, the photo in memory) grows with the painting. Inference
works in bands, so its extra memory is bounded by the band, beside the output array.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

from napari_maxrf_sr.api import run_to_end
from napari_maxrf_sr.core.config import config_from_preset
from napari_maxrf_sr.core.inference import predict
from napari_maxrf_sr.core.train import train

from .run import PeakRSS


def inputs(size: int, n_maps: int, scale: int, seed: int = 0):
    """Smooth random maps and a photo correlated with them (content does not matter here)."""
    rng = np.random.default_rng(seed)
    h = size // scale
    lr = np.empty((n_maps, h, h), dtype=np.float32)
    for k in range(n_maps):  # map by map: no float64 copy of a whole-painting stack
        lr[k] = rng.gamma(2.0, 20.0, (h, h))
    rgb = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    return lr, rgb


def measure(size: int, n_maps: int, scale: int, steps1: int, steps2: int,
            device: str = "cpu") -> dict:
    lr, rgb = inputs(size, n_maps, scale)
    cfg = config_from_preset("default", stage1_steps=steps1, stage2_steps=steps2, device=device)
    events = []
    with PeakRSS() as mem_train:
        t0 = time.perf_counter()
        result = run_to_end(train(lr, rgb, cfg), events.append)
        total = time.perf_counter() - t0
    first = next(e for e in events if e.stage == "stage 1")
    s1 = [e for e in events if e.stage == "stage 1"]
    s2 = [e for e in events if e.stage == "stage 2" and e.stage_step > 0]
    t_step1 = (s1[-1].elapsed - first.elapsed) / max(1, s1[-1].stage_step - first.stage_step)
    t_step2 = ((s2[-1].elapsed - s1[-1].elapsed) / max(1, s2[-1].stage_step)) if s2 else 0.0
    model = result.model
    from napari_maxrf_sr.core.validation import prepare_inputs

    prepared = prepare_inputs(lr, rgb, scale)
    out_mib = n_maps * size * size * 4 / 2**20
    with PeakRSS() as mem_inf:
        out = np.empty((n_maps, size, size), np.float32)
        t0 = time.perf_counter()
        predict(model.generator, model.normaliser, prepared.lr_maps, prepared.rgb,
                model.operator, model.config, device=torch.device(device), out=out)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t_inf = time.perf_counter() - t0
    return {"size": size, "stage1_ms": 1e3 * t_step1, "stage2_ms": 1e3 * t_step2,
            "train_total_s": total, "train_peak_mib": mem_train.extra,
            "infer_s": t_inf, "infer_peak_mib": mem_inf.extra, "output_mib": out_mib}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.scaling", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="512,1024,2048,4096")
    p.add_argument("--elements", type=int, default=21)
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--steps1", type=int, default=60)
    p.add_argument("--steps2", type=int, default=10)
    p.add_argument("--device", default="cpu", help="cpu, cuda, ... (default: cpu)")
    args = p.parse_args(argv)
    print("| photo size | stage 1 step (ms) | stage 2 step (ms) | training run (s) | training "
          "peak extra (MiB) | inference (s) | inference peak extra (MiB) | output array (MiB) |")
    print("|---|---|---|---|---|---|---|---|")
    for size in (int(s) for s in args.sizes.split(",")):
        r = measure(size, args.elements, args.scale, args.steps1, args.steps2, args.device)
        print(f"| {size} x {size} | {r['stage1_ms']:.1f} | {r['stage2_ms']:.1f} | "
              f"{r['train_total_s']:.1f} | {r['train_peak_mib']:.0f} | {r['infer_s']:.1f} | "
              f"{r['infer_peak_mib']:.0f} | {r['output_mib']:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
