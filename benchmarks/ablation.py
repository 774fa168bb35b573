"""Ablations of the network: each variant changes one thing of the default.

Usage::

    python -m benchmarks.ablation                        # equal steps, the ablation cases
    python -m benchmarks.ablation --equal time           # every variant gets the same seconds
    python -m benchmarks.ablation --steps-scale 0.33     # all step counts scaled (quicker)
    python -m benchmarks.ablation --variants "default,consistent interpolation"
    python -m benchmarks.ablation --variants default --set seed=1   # a setting in every run
    python -m benchmarks.ablation --steps-scale 0.25 --set stage2_steps=200  # kept unscaled

"Equal steps" runs each variant with the default's step counts (times the scale);
"equal time" gives every variant, the default included, the same time budget
(``--seconds``, or the default run's own seconds when not given) and unlimited steps,
so a variant whose steps are cheaper gets more of them. Every measure of
``benchmarks.run`` is reported, as means over the cases.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from napari_maxrf_sr.api import super_resolve
from napari_maxrf_sr.core.config import SRConfig

from .cases import painting_case, rijksmuseum_case
from .run import HEADER, PeakRSS, evaluate, parse_settings

#: Each variant changes exactly one thing of the default (its config overrides).
VARIANTS: dict[str, dict] = {
    "default": {},
    "adversarial stage (the paper's stage 2)": {"adversarial": True},
    "consistent interpolation": {"interpolation": "consistent"},
    "coupled dictionary (the paper's D, 0.125 modality-only atoms each)": {
        "xrf_only_atoms": 0.125, "rgb_only_atoms": 0.125},
    "whitened photo colours": {"photo_normalisation": "whitened"},
    "photo clipped to the scan's colours": {"photo_range": "scan"},
    "mean colours in the down problem (paper)": {"down_colours": "mean"},
    "linear path": {"linear_path": True},
    "more atoms (M = 128)": {"n_atoms": 128},
    "deeper (K = 8)": {"n_layers": 8},
    "scan agreement weight 0.25": {"consistency_weight": 0.25},
    "scan agreement weight 4": {"consistency_weight": 4.0},
    "photo weight alpha1 x 10": {"alpha1": 0.03},
    "residual output": {"residual": True},
    "local calibration R = 1": {"calibration_radius": 1},
    "calibration windows 5 x 5": {"calibration_radius": 2},
    "weights below one (the paper's bound)": {"stage1_weight_bound": 1.0},
    "weight bound 16": {"stage1_weight_bound": 16.0},
    # Variants of the adversarial stage: each changes one thing of "adversarial stage"
    # (the other shares: one thing of "adversarial stage, share 0.1").
    "adversarial stage, share 0 (no GAN gradient)": {
        "adversarial": True, "adversarial_weighting": "share", "adversarial_share": 0.0},
    "adversarial stage, share 0.1": {"adversarial": True, "adversarial_weighting": "share"},
    "adversarial stage, share 0.3": {
        "adversarial": True, "adversarial_weighting": "share", "adversarial_share": 0.3},
    "adversarial stage, share 0.9": {
        "adversarial": True, "adversarial_weighting": "share", "adversarial_share": 0.9},
    "adversarial stage, matched pseudo-real patches": {"adversarial": True,
                                                        "pseudo_real": "matched"},
    "adversarial stage, paper's pseudo-real patches": {"adversarial": True,
                                                        "pseudo_real": "paper"},
    "adversarial stage, sigmoid on at once (no fade-in)": {"adversarial": True,
                                                            "handover_fraction": 0.0},
}


def parse_variants(text: str) -> list[str]:
    """Comma-separated variant names; a name may itself hold commas ("a, b")."""
    tokens, names, i = text.split(","), [], 0
    while i < len(tokens):
        for j in range(len(tokens), i, -1):  # the longest known name first
            name = ",".join(tokens[i:j]).strip()
            if name in VARIANTS:
                names.append(name)
                i = j
                break
        else:
            raise SystemExit(f"unknown variant {tokens[i].strip()!r}; the variants are:\n  "
                             + "\n  ".join(VARIANTS))
    return names


def ablation_cases(size: int = 256) -> list:
    """Two paintings and the drawing with element-free ink strokes (false detail)."""
    return [painting_case("vermeer_the_milkmaid", 9, size=size),
            painting_case("munch_the_scream", 7, size=size),
            rijksmuseum_case(size=size)]


def variant_config(overrides: dict, steps_scale: float, budget: float | None) -> dict:
    """The variant's settings, with scaled steps, or unlimited steps within a budget."""
    base = SRConfig()
    cfg = {**overrides}
    if budget is not None:
        adversarial = cfg.get("adversarial", base.adversarial)
        cfg.update(stage1_steps=10**7, stage2_steps=10**7 if adversarial else 0,
                   max_seconds=budget)
    elif steps_scale != 1.0:  # a step count set by hand (--set) is kept as it is
        for field in ("stage1_steps", "stage2_steps"):
            cfg.setdefault(field, max(1, round(getattr(base, field) * steps_scale)))
    return cfg


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ablation", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--equal", choices=("steps", "time"), default="steps")
    p.add_argument("--seconds", type=float, help="the budget of --equal time")
    p.add_argument("--steps-scale", type=float, default=1.0)
    p.add_argument("--size", type=int, default=256, help="photo size of the cases")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="change a setting in every variant (JSON value), e.g. --set n_atoms=96")
    args = p.parse_args(argv)
    names = parse_variants(args.variants)  # before any run: a typo fails at once
    common = parse_settings(args.set)
    cases = ablation_cases(args.size)
    budget = args.seconds
    if args.equal == "time" and budget is None:
        t0 = time.perf_counter()
        super_resolve(cases[0].lr_maps, cases[0].rgb, cases[0].scale,
                      config=variant_config({}, args.steps_scale, None))
        budget = time.perf_counter() - t0
        print(f"equal time: {budget:.0f} s per run (the default's own time)", file=sys.stderr)
    print(HEADER.replace("| case |", "| variant |").replace("| method |", "| runs |"))
    for name in names:
        rows = []
        for case in cases:
            cfg = variant_config({**common, **VARIANTS[name]}, args.steps_scale,
                                 budget if args.equal == "time" else None)
            with PeakRSS() as mem:
                t0 = time.perf_counter()
                res = super_resolve(case.lr_maps, case.rgb, case.scale, config=cfg,
                                    elements=case.elements)
                seconds = time.perf_counter() - t0
            rows.append(evaluate(case, "network", res, seconds, mem.extra))
        mean = {k: float(np.nanmean([r[k] for r in rows])) for k in rows[0]
                if isinstance(rows[0][k], float)}
        from .run import _fmt_row

        print(_fmt_row({**mean, "case": name, "method": str(len(rows))}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
