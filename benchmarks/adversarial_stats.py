"""What the adversarial stage does in a default run: discriminator scores, gradient share, PSNR.

Usage::

    python -m benchmarks.adversarial_stats              # Vermeer B = 9 at 256 x 256, 4x
    python -m benchmarks.adversarial_stats --size 512
    python -m benchmarks.adversarial_stats --set adversarial_weighting=share \
        --set adversarial_share=0.9 --set pseudo_real=matched

Trains the default settings twice on the same case and seed, with and without the
adversarial stage (``adversarial=True``: the paper's stage 2 after the same stage 1),
and prints:

- through stage 2, the discriminator's mean score on pseudo-real and on generated
  patches (targets +1 and -1) and the adversarial term's share of the generator's
  output gradient (``adv_share``, the setting ``adversarial_share``);
- PSNR (peak 1, as the benchmark) of both runs and of bicubic + projection, their
  fine-detail energy over the truth's (1: as much texture as the painting), and the
  held-out quality check (network against interpolation on the one-scale-down
  problem).

``--set`` changes a setting of both runs (as in ``benchmarks.run``).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from napari_maxrf_sr.api import run_to_end
from napari_maxrf_sr.baselines import run_baseline
from napari_maxrf_sr.core.config import SRConfig
from napari_maxrf_sr.core.train import train

from .cases import painting_case
from .metrics import detail_energy, rmse_psnr
from .run import parse_settings


def _train(case, adversarial: bool, seed: int, settings: dict | None = None):
    cfg = SRConfig(**{**(settings or {}), "adversarial": adversarial, "seed": seed})
    t0 = time.perf_counter()
    result = run_to_end(train(case.lr_maps, case.rgb, cfg, scale=case.scale))
    return result, time.perf_counter() - t0


def stage2_rows(history: list[dict], n_rows: int = 8) -> list[dict]:
    """About ``n_rows`` evenly spaced logged steps of stage 2 (the last one included)."""
    rows = [h for h in history if h.get("stage") == "stage 2" and "adv_share" in h]
    if not rows:
        return []
    pick = np.unique(np.linspace(0, len(rows) - 1, min(n_rows, len(rows))).round().astype(int))
    return [rows[i] for i in pick]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.adversarial_stats",
                                description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=256, help="photo size of the Vermeer case")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="change a setting of both runs (JSON value)")
    args = p.parse_args(argv)
    settings = parse_settings(args.set)
    case = painting_case("vermeer_the_milkmaid", 9, size=args.size)
    with_adv, t_adv = _train(case, True, args.seed, settings)
    without, t_plain = _train(case, False, args.seed, settings)
    print(f"case: {case.name} ({args.size} px), seed {args.seed}")
    print("\nstage 2 of the run with the adversarial stage:\n")
    print("| step | D score, pseudo-real (target +1) | D score, generated (target -1) "
          "| adversarial share of the gradient |")
    print("|---|---|---|---|")
    for h in stage2_rows(with_adv.history):
        print(f"| {h['step']} | {float(h['d_score_real']):+.3f} | "
              f"{float(h['d_score_fake']):+.3f} | {float(h['adv_share']):.3f} |")
    bic = run_baseline("bicubic_projected", case.lr_maps, case.rgb.astype(np.float32) / 255.0,
                       case.scale)
    print("\n| run | PSNR (dB) | fine detail vs truth | held-out check (dB over "
          "interpolation) | seconds |")
    print("|---|---|---|---|---|")
    for name, res, secs in (("adversarial stage", with_adv, t_adv),
                            ("no adversarial stage (default)", without, t_plain)):
        qc = res.quality_check
        gain = f"{qc.gain_db:+.2f}" if qc is not None else "n/a"
        print(f"| {name} | {rmse_psnr(res.maps, case.hr_maps)[1]:.2f} | "
              f"{detail_energy(res.maps, case.hr_maps, case.scale):.2f} | {gain} | {secs:.1f} |")
    print(f"| bicubic + projection | {rmse_psnr(bic, case.hr_maps)[1]:.2f} | "
          f"{detail_energy(bic, case.hr_maps, case.scale):.2f} | | |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
