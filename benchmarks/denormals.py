"""What vanishing dictionary weights cost a training step on a CPU.

Usage::

    python -m benchmarks.denormals                    # Vermeer B=7, one default training
    python -m benchmarks.denormals munch_the_scream   # another painting of the cases

Training drives the dictionary weights it does not use geometrically towards zero, and
``D = D_raw ** 2`` then falls into float32's denormal range (below 1.2e-38), where a
CPU computes many times more slowly. The generator gives weights below
:data:`~napari_maxrf_sr.core.model.NEGLIGIBLE_ATOM_WEIGHT` as exactly zero. This trains
the default network once and counts the raw weights in each range, then times a
training-like forward and backward pass (2,048 pixels, the default batch) of the trained
network with the raw dictionary and with the one it uses, alternating, in one process.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch

from napari_maxrf_sr.api import run_to_end
from napari_maxrf_sr.core.config import config_from_preset
from napari_maxrf_sr.core.model import NEGLIGIBLE_ATOM_WEIGHT, ListaGenerator
from napari_maxrf_sr.core.train import train

from .cases import painting_case

#: float32's smallest normal number; non-zero values below it are denormal.
FLOAT32_TINY = float(np.finfo(np.float32).tiny)


def weight_counts(g: ListaGenerator) -> dict[str, int]:
    """Entries of the raw ``D_raw ** 2`` (under the atom mask): denormal, negligible, all."""
    with torch.no_grad():
        raw = g.raw_dictionary[g.atom_mask > 0]
    return {
        "denormal": int(((raw > 0) & (raw < FLOAT32_TINY)).sum()),
        "negligible": int((raw < NEGLIGIBLE_ATOM_WEIGHT).sum()),
        "total": int(raw.numel()),
    }


def step_ms(g: ListaGenerator, x: torch.Tensor, raw: bool, reps: int = 100) -> float:
    """Milliseconds of a forward and backward pass with the raw or the snapped dictionary."""

    def once() -> None:
        g.zero_grad(set_to_none=True)
        d = g.raw_dictionary if raw else g.dictionary
        z = torch.addmm(-g.lam_out, g.codes(x), d.t())
        z.square().mean().backward()

    for _ in range(5):
        once()
    t0 = time.perf_counter()
    for _ in range(reps):
        once()
    return (time.perf_counter() - t0) / reps * 1e3


def measure(stem: str, n_maps: int = 7, rounds: int = 5) -> dict[str, float]:
    """Train the default network on one case; weight counts and step times."""
    case = painting_case(stem, n_maps)
    result = run_to_end(train(case.lr_maps, case.rgb, config_from_preset("default"),
                              scale=case.scale))
    g = result.model.generator
    counts = weight_counts(g)
    x = 0.1 + 0.8 * torch.rand(2048, g.n_channels, generator=torch.Generator().manual_seed(0))
    raw_ms, now_ms = [], []
    for _ in range(rounds):  # alternating, so that a busier minute hits both
        raw_ms.append(step_ms(g, x, raw=True))
        now_ms.append(step_ms(g, x, raw=False))
    return {**counts, "raw_ms": float(np.median(raw_ms)), "now_ms": float(np.median(now_ms)),
            "seconds": result.seconds}


def main(argv: list[str] | None = None) -> int:
    stems = (sys.argv[1:] if argv is None else argv) or ["vermeer_the_milkmaid"]
    print("| case | D entries denormal / below 1e-20 / all | forward + backward, raw D (ms) "
          "| with negligible weights 0 (ms) | ratio | training (s) |")
    print("|---|---|---|---|---|---|")
    for stem in stems:
        r = measure(stem)
        print(f"| {stem} B=7 | {r['denormal']} / {r['negligible']} / {r['total']} "
              f"| {r['raw_ms']:.2f} | {r['now_ms']:.2f} | {r['raw_ms'] / r['now_ms']:.2f} "
              f"| {r['seconds']:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
