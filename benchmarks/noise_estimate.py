"""How well the local calibration's noise estimate matches the true noise, per map.

Usage::

    python -m benchmarks.noise_estimate          # the 9 cases; no training, about a minute

Every case's scan is Poisson-noisy, so a map's true noise variance is its expected
counts: the mean of the noise-free scan (the true maps' block means; the beam blur keeps
means). For every map that is not empty the table gives the ratio estimate / truth of
Immerkaer's estimate on the scan alone and of the calibration's estimate
(:func:`~napari_maxrf_sr.core.calibration.scan_noise_variance`, which also leaves out
what the photo's colours explain): 1 is right, above 1 fades true texture, below 1
keeps noise. Immerkaer's mean-absolute form errs low where the noise changes from
place to place (Poisson noise does), so a texture-free map gives somewhat under 1.
"""

from __future__ import annotations

import sys

import numpy as np

from napari_maxrf_sr.core.calibration import (
    ColourFit,
    noise_variance,
    photo_block_means,
    scan_noise_variance,
)
from napari_maxrf_sr.core.operators import block_mean_np

from .cases import Case, all_cases


def noise_ratios(case: Case) -> tuple[np.ndarray, np.ndarray]:
    """``(plain, calibration)``: estimate / true variance for each non-empty map."""
    fit = ColourFit(photo_block_means(case.rgb / 255.0, case.scale))
    expected = block_mean_np(case.hr_maps, case.scale).astype(np.float64)
    plain, ours = [], []
    means = expected.mean(axis=(1, 2))
    for y, mean_counts in zip(case.lr_maps.astype(np.float64), means, strict=True):
        if mean_counts <= 1e-3 * max(float(expected.max()), 1e-12):
            continue  # an empty map: nothing to estimate
        plain.append(noise_variance(y[None])[0] / mean_counts)
        ours.append(scan_noise_variance(y, fit) / mean_counts)
    return np.array(plain), np.array(ours)


def _summary(r: np.ndarray) -> str:
    return f"{np.median(r):.2f} ({r.min():.2f}-{r.max():.2f})"


def main(argv: list[str] | None = None) -> int:
    print("| case | maps | Immerkaer: median (range) | calibration: median (range) "
          "| maps lowered |\n|---|---|---|---|---|")
    every = []
    for case in all_cases():
        plain, ours = noise_ratios(case)
        every.append((plain, ours))
        print(f"| {case.name} | {len(plain)} | {_summary(plain)} | {_summary(ours)} "
              f"| {int(np.sum(ours < 0.99 * plain))} |", flush=True)
    plain, ours = (np.concatenate(x) for x in zip(*every, strict=True))
    print(f"| **all** | {len(plain)} | {_summary(plain)} | {_summary(ours)} "
          f"| {int(np.sum(ours < 0.99 * plain))} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
