"""Time to quality: named training settings on fixed cases, PSNR against seconds.

Usage::

    python -m benchmarks.time_to_quality                       # default vs a 30-minute run
    python -m benchmarks.time_to_quality --runs default,previous-default  # named settings
    python -m benchmarks.time_to_quality --save-cases cases.npz      # freeze the cases
    python -m benchmarks.time_to_quality --cases cases.npz --device cuda

A "30-minute run" is the same method with the steps that 30 minutes buy on the
reference machine (2 CPU cores: about 20 ms per 8,192-pixel stage-1 step and 120 ms per
stage-2 step, from ``python -m benchmarks.scaling``), run to completion. Counting steps
instead of seconds lets a faster machine (a GPU) compute the long reference in minutes;
the result is the one the CPU would reach after half an hour. ``--runs long-budget``
runs the real thing: a 1800 s time budget on whatever machine runs it.

``--cases`` reads cases frozen by ``--save-cases``, so a machine without the shared
painting photos (a lent GPU) can run the same cases.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from napari_maxrf_sr.api import super_resolve

from .cases import Case, painting_case
from .metrics import mean_ssim, rmse_psnr
from .run import PeakRSS

#: Steps that 30 minutes buy on the reference CPU with 8,192-pixel stage-1 batches (about
#: 20 ms per stage-1 step, 120 ms per stage-2 step), split 70/30 as a time budget would.
LONG_STAGE1 = round(0.7 * 1800 / 0.020)
LONG_STAGE2 = round(0.3 * 1800 / 0.120)
#: The same with the default 2,048-pixel batches (about 6 ms per stage-1 step).
LONG_STAGE1_2048 = round(0.7 * 1800 / 0.006)
_PREVIOUS = {"stage1_batch_pixels": 8192, "stage1_steps": 3000}

#: Named settings: config overrides, or a time budget in seconds under "max_seconds".
RUNS: dict[str, dict] = {
    "default": {},
    # The default until 26 Nov 2026, and the 30-minute reference measured with its batches.
    "previous-default": dict(_PREVIOUS),
    "previous-default-no-adversarial": {**_PREVIOUS, "adversarial": False},
    "long-30min-8192": {"stage1_batch_pixels": 8192, "stage1_steps": LONG_STAGE1,
                        "stage2_steps": LONG_STAGE2},
    "long-30min": {"stage1_steps": LONG_STAGE1_2048, "stage2_steps": LONG_STAGE2},
    "long-budget": {"stage1_steps": 10**7, "stage2_steps": 10**7, "max_seconds": 1800.0},
    "no-adversarial": {"adversarial": False},
    "lr3e-3": {"stage1_lr": 3e-3},
    "b8192-x4": {"stage1_batch_pixels": 8192},
}

#: The cases of the time-to-quality target (#6): 512 x 512, 4x; B = 21 and B = 9.
CASES = [("vermeer_the_milkmaid", 21), ("hokusai_the_great_wave_off_kanagawa", 9)]


def save_cases(path: str) -> None:
    """Build the cases from the shared photos and freeze them in one ``.npz``."""
    arrays = {}
    for k, (stem, n) in enumerate(CASES):
        c = painting_case(stem, n)
        arrays.update({f"{k}_lr": c.lr_maps, f"{k}_rgb": c.rgb, f"{k}_hr": c.hr_maps,
                       f"{k}_name": np.array(c.name), f"{k}_scale": np.array(c.scale),
                       f"{k}_elements": np.array(c.elements)})
    np.savez_compressed(path, **arrays)


def load_cases(path: str | None) -> list[Case]:
    """The cases, from a frozen ``.npz`` or built from the shared photos."""
    if path is None:
        return [painting_case(stem, n) for stem, n in CASES]
    z = np.load(path)
    cases = []
    for k in range(len(CASES)):
        if f"{k}_lr" not in z:
            break
        cases.append(Case(str(z[f"{k}_name"]), z[f"{k}_lr"], z[f"{k}_rgb"], z[f"{k}_hr"],
                          int(z[f"{k}_scale"]), tuple(str(e) for e in z[f"{k}_elements"]),
                          None, np.zeros(1)))
    return cases


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.time_to_quality", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", default="default,long-30min-8192",
                   help=f"comma-separated names from: {', '.join(RUNS)}")
    p.add_argument("--device", default="cpu", help="cpu, cuda, ... (default: cpu)")
    p.add_argument("--cases", help="read cases frozen by --save-cases")
    p.add_argument("--save-cases", metavar="NPZ", help="freeze the cases to this file and exit")
    p.add_argument("--only", help="run only the cases whose name contains this text")
    p.add_argument("--warmup", action="store_true",
                   help="one short run first, so start-up costs (CUDA) are not timed")
    args = p.parse_args(argv)
    if args.save_cases:
        save_cases(args.save_cases)
        return 0
    names = [r.strip() for r in args.runs.split(",") if r.strip()]
    unknown = [n for n in names if n not in RUNS]
    if unknown:
        p.error(f"unknown run(s) {unknown}; known: {', '.join(RUNS)}")
    cases = load_cases(args.cases)
    if args.only:
        cases = [c for c in cases if args.only in c.name]
    if args.warmup:
        c = cases[0]
        super_resolve(c.lr_maps, c.rgb, c.scale, device=args.device,
                      config={"stage1_steps": 50, "stage2_steps": 5})
    print("| case | run | device | seconds (train + inference) | PSNR (dB) | SSIM | "
          "bicubic PSNR (dB) | peak extra RAM (MiB) |")
    print("|---|---|---|---|---|---|---|---|")
    for case in cases:
        bic = super_resolve(case.lr_maps, case.rgb, case.scale, method="bicubic")
        bic_psnr = rmse_psnr(bic.maps, case.hr_maps)[1]
        for name in names:
            overrides = dict(RUNS[name])
            budget = overrides.pop("max_seconds", None)
            with PeakRSS() as mem:
                t0 = time.perf_counter()
                res = super_resolve(case.lr_maps, case.rgb, case.scale, device=args.device,
                                    config=overrides, max_seconds=budget)
                seconds = time.perf_counter() - t0
            psnr = rmse_psnr(res.maps, case.hr_maps)[1]
            print(f"| {case.name} | {name} | {res.diagnostics.get('device', args.device)} | "
                  f"{seconds:.1f} | {psnr:.2f} | {mean_ssim(res.maps, case.hr_maps):.3f} | "
                  f"{bic_psnr:.2f} | {mem.extra:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
