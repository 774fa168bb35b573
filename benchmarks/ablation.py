"""Ablations of the network on the quick cases: which parts and settings matter.

Usage::

    python -m benchmarks.ablation            # every variant on the two quick cases
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from napari_maxrf_sr.api import super_resolve

from .cases import all_cases
from .metrics import false_detail, hidden_detail, rmse_psnr

VARIANTS: dict[str, dict] = {
    "default": {},
    "no adversarial stage": {"adversarial": False},
    "no stage 1": {"stage1_steps": 0, "stage2_steps": 800},
    "stage 1 x2 (3000 steps)": {"stage1_steps": 3000},
    "K = 3": {"n_layers": 3},
    "K = 8": {"n_layers": 8},
    "M = 32": {"n_atoms": 32},
    "M = 128": {"n_atoms": 128},
    "alpha1 = 0": {"alpha1": 0.0},
    "alpha1 = 0.03": {"alpha1": 0.03},
    "alpha2 = 5e-4": {"alpha2": 5e-4},
    "ISTA/NMF initialisation": {"init": "ista"},
    "stage 1 lr 1e-3": {"stage1_lr": 1e-3},
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ablation", description=__doc__)
    p.add_argument("--variants", default=",".join(VARIANTS))
    args = p.parse_args(argv)
    cases = all_cases(quick=True)
    print("| variant | mean PSNR (dB) | mean false detail | mean hidden detail | seconds |")
    print("|---|---|---|---|---|")
    for name in args.variants.split(","):
        psnr, fd, hd, sec = [], [], [], []
        for case in cases:
            res = super_resolve(case.lr_maps, case.rgb, case.scale, config=VARIANTS[name],
                                elements=case.elements)
            psnr.append(rmse_psnr(res.maps, case.hr_maps)[1])
            fd.append(false_detail(res.maps, case.hr_maps, case.edge_mask, case.scale))
            hd.append(hidden_detail(res.maps, case.hr_maps, case.hidden_mask, case.scale))
            sec.append(res.diagnostics["seconds"])
        print(f"| {name} | {np.mean(psnr):.2f} | {np.nanmean(fd):.3f} | {np.nanmean(hd):.3f} | "
              f"{np.mean(sec):.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
