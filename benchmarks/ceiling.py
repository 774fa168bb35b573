"""How far can any per-pixel method go on the benchmark? A ceiling fitted to the truth.

The network is per-pixel: each photo pixel's element values are a function of that
pixel's colour and of the interpolated scan there. This command fits such a function
to the **true** high-resolution maps (which no real method has), with a multilayer
perceptron far larger than the network and trained on every pixel of the answer,
then projects it onto the scan as the network's answer is projected. What it
misses is detail that the photo's colour and the smooth scan do not determine
(paint thickness, the hidden layer, noise in the scan), so no per-pixel method
trained on the painting itself can be expected to beat it.

    python -m benchmarks.ceiling              # the 9 cases of benchmarks.run (slow: 28 min here)
    python -m benchmarks.ceiling --quick      # two paintings at 256 px

Prints one row per case: the ceiling's PSNR, false and hidden detail, and the guided
filter's PSNR beside it (``ceiling - guided`` is the most that a per-pixel method
can gain over the guided filter on that case).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch
import torch.nn.functional as F

from napari_maxrf_sr.api import super_resolve
from napari_maxrf_sr.core.normalisation import PhotoNormaliser
from napari_maxrf_sr.core.operators import project_nonnegative_block, upsample_bilinear
from napari_maxrf_sr.core.stage1 import lr_factor

from .cases import all_cases
from .metrics import false_detail, hidden_detail, rmse_psnr


def per_pixel_ceiling(case, steps: int = 4000, batch: int = 2048, width: int = 256,
                      seed: int = 0, context: int = 0) -> np.ndarray:
    """Maps from a per-pixel MLP fitted to ``case.hr_maps``, projected onto the scan.

    Inputs are those of the network: the bilinear upsampling of the scan (each map
    divided by its 99.9th percentile) and the whitened photo colours; with
    ``context = r`` also the colours of the ``(2r + 1)^2`` photo pixels around each
    pixel (a ceiling for methods that look at a neighbourhood).
    """
    torch.manual_seed(seed)
    s = case.scale
    lr = torch.from_numpy(case.lr_maps.astype(np.float32))
    b = lr.shape[0]
    peak = torch.quantile(lr.reshape(b, -1), 0.999, dim=1).clamp_min(1e-6)[:, None, None]
    rgb = case.rgb.astype(np.float32) / 255.0
    photo = torch.from_numpy(PhotoNormaliser.whitened(rgb).apply(rgb))
    if context:  # the neighbours' colours as extra channels (replicated at the border)
        k = 2 * context + 1
        padded = F.pad(photo[None], (context,) * 4, mode="replicate")
        photo = F.unfold(padded, k).reshape(3 * k * k, *photo.shape[1:])
    x = torch.cat([upsample_bilinear(lr / peak, s), photo]).reshape(b + len(photo), -1).t()
    y = (torch.from_numpy(case.hr_maps.astype(np.float32)) / peak).reshape(b, -1).t()
    net = torch.nn.Sequential(
        torch.nn.Linear(x.shape[1], width), torch.nn.ReLU(),
        torch.nn.Linear(width, width), torch.nn.ReLU(),
        torch.nn.Linear(width, width), torch.nn.ReLU(),
        torch.nn.Linear(width, b))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(seed)
    for step in range(steps):
        for group in opt.param_groups:  # the network's own schedule: cosine to 5 %
            group["lr"] = 1e-3 * lr_factor("cosine", step / steps)
        idx = torch.randint(len(x), (batch,), generator=gen)
        loss = F.mse_loss(net(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        out = torch.cat([net(x[k : k + 65536]) for k in range(0, len(x), 65536)])
        maps = (out.t().reshape(b, *case.hr_maps.shape[1:]) * peak).clamp_min(0)
        return project_nonnegative_block(maps, lr, s).numpy()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ceiling", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="two paintings at 256 px")
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--context", type=int, default=0,
                   help="also give each pixel its neighbours' colours within this radius")
    p.add_argument("--cases", help="comma-separated case numbers (0-8) to run, default all")
    args = p.parse_args(argv)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    print("| case | ceiling PSNR (dB) | false detail | hidden detail | guided PSNR (dB) "
          "| ceiling - guided (dB) |\n|---|---|---|---|---|---|")
    rows = []
    chosen = all_cases(args.quick)
    if args.cases:
        chosen = [chosen[int(i)] for i in args.cases.split(",")]
    for case in chosen:
        maps = per_pixel_ceiling(case, steps=args.steps, context=args.context)
        guided = super_resolve(case.lr_maps, case.rgb, case.scale, "guided").maps
        row = (rmse_psnr(maps, case.hr_maps)[1],
               false_detail(maps, case.hr_maps, case.edge_mask, case.scale),
               hidden_detail(maps, case.hr_maps, case.hidden_mask, case.scale),
               rmse_psnr(guided, case.hr_maps)[1])
        rows.append(row)
        print(f"| {case.name} | {row[0]:.2f} | {row[1]:.3f} | {row[2]:.3f} | {row[3]:.2f} "
              f"| {row[0] - row[3]:+.2f} |", flush=True)
    m = np.nanmean(np.array(rows), axis=0)
    print(f"| **mean** | {m[0]:.2f} | {m[1]:.3f} | {m[2]:.3f} | {m[3]:.2f} | {m[0] - m[3]:+.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
