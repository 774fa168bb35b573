"""Fingerprints of seeded training runs, to check that a refactoring changes no result.

Usage::

    python -m benchmarks.fingerprint > before.txt     # on the old commit
    python -m benchmarks.fingerprint > after.txt      # on the new one
    diff before.txt after.txt                         # empty: bit for bit the same

Each line is one small seeded run (both stages, several operators and initialisations)
with the SHA-256 of its maps and of its loss history. Runs use one thread, so the
fingerprints do not depend on the machine's load.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys

import numpy as np
import torch

#: name -> config overrides; each run is short, so the whole set takes under a minute.
RUNS: dict[str, dict] = {
    "block": {},
    "block-no-adversarial": {"adversarial": False},
    "gaussian": {"operator": "gaussian", "psf_sigma": 1.5},
    "ista-init": {"init": "ista"},
    "sigmoid-in-stage1": {"stage1_final_sigmoid": True, "abs_correlation_guide": True},
    "stage2-down": {"stage2_down_weight": 0.5, "lr_schedule": "constant"},
}
BASE = {"n_atoms": 16, "stage1_steps": 60, "stage2_steps": 12, "stage1_batch_pixels": 512,
        "batch_size": 4, "patch_size": 16, "check_every": 20}


def toy_case(size: int = 64, n_maps: int = 3, scale: int = 4, seed: int = 0):
    """Piecewise-constant maps following coloured rectangles of a photo (seeded)."""
    rng = np.random.default_rng(seed)
    labels = np.zeros((size, size), dtype=int)
    for k in range(1, 8):
        r, c = rng.integers(0, size - 8, 2)
        hh, ww = rng.integers(6, size // 2, 2)
        labels[r : r + hh, c : c + ww] = k
    colours = rng.uniform(0.05, 0.95, (8, 3))
    comp = rng.uniform(0, 100, (8, n_maps)) * (rng.uniform(0, 1, (8, n_maps)) > 0.3)
    hr = np.moveaxis(comp[labels], -1, 0)
    h = size // scale
    lr = hr.reshape(n_maps, h, scale, h, scale).mean(axis=(2, 4)).astype(np.float32)
    return lr, colours[labels].astype(np.float32)


def digest(array: np.ndarray) -> str:
    """Short SHA-256 of an array's bytes."""
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()[:16]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.fingerprint", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", help="run only the runs whose name contains this text")
    p.add_argument("--adversarial", action="store_true",
                   help="switch stage 2 on in every run but 'block-no-adversarial' (it is "
                        "off by default, so the plain runs never reach it)")
    args = p.parse_args(argv)
    from napari_maxrf_sr.api import run_to_end
    from napari_maxrf_sr.core import train as training
    from napari_maxrf_sr.core.config import SRConfig

    torch.set_num_threads(1)
    training.EVENT_INTERVAL = 0.0  # one event per step: the history does not depend on speed
    lr, rgb = toy_case()
    for name, overrides in RUNS.items():
        if args.only and args.only not in name:
            continue
        on = args.adversarial and name != "block-no-adversarial"
        stage2 = {"adversarial": True} if on else {}
        cfg = SRConfig.from_dict({**BASE, **overrides, **stage2, "device": "cpu", "seed": 3})
        result = run_to_end(training.train(lr, rgb, cfg, scale=4))
        history = [{k: v for k, v in row.items() if k != "elapsed"} for row in result.history]
        hist = hashlib.sha256(json.dumps(history, sort_keys=True).encode()).hexdigest()[:16]
        print(f"{name:22s} maps {digest(result.maps)}  history {hist}  "
              f"steps {result.diagnostics['steps']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
