"""Figures for docs/benchmarks.md: PSNR against training time, and a crop of maps and errors.

Usage::

    python -m benchmarks.figures --budgets 10,20,40,80,160 --out docs/images
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from napari_maxrf_sr.api import super_resolve  # noqa: E402
from napari_maxrf_sr.baselines import METHODS  # noqa: E402

from .cases import painting_case  # noqa: E402
from .metrics import rmse_psnr  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.figures", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--budgets", default="10,20,40,80,160",
                   help="network time budgets in seconds")
    p.add_argument("--stem", default="vermeer_the_milkmaid")
    p.add_argument("--elements", type=int, default=21)
    p.add_argument("--out", default="docs/images")
    args = p.parse_args(argv)
    out = Path(args.out)
    case = painting_case(args.stem, args.elements)
    rgb01 = case.rgb.astype(np.float32) / 255

    base = {}
    for name, fn in METHODS.items():
        base[name] = fn(case.lr_maps, rgb01, case.scale)
        print(f"{name}: {rmse_psnr(base[name], case.hr_maps)[1]:.2f} dB", file=sys.stderr)

    # Budget-limited runs: with many planned steps the schedule is stretched to the budget.
    times, psnrs = [], []
    default = super_resolve(case.lr_maps, case.rgb, case.scale, elements=case.elements)
    d_psnr = rmse_psnr(default.maps, case.hr_maps)[1]
    print(f"default preset: {default.diagnostics['seconds']:.1f} s, {d_psnr:.2f} dB",
          file=sys.stderr)
    for budget in (float(b) for b in args.budgets.split(",")):
        t0 = time.perf_counter()
        res = super_resolve(case.lr_maps, case.rgb, case.scale, elements=case.elements,
                            config={"stage1_steps": 1_000_000, "stage2_steps": 1_000_000},
                            max_seconds=budget)
        times.append(res.diagnostics["seconds"])
        psnrs.append(rmse_psnr(res.maps, case.hr_maps)[1])
        print(f"budget {budget:.0f} s: {psnrs[-1]:.2f} dB ({time.perf_counter() - t0:.0f} s "
              "with inference)", file=sys.stderr)

    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.plot(times, psnrs, "o-", color="k", label="network, time budget")
    ax.plot([default.diagnostics["seconds"]], [d_psnr], "*", ms=14, color="tab:red",
            label="network, default preset")
    for (name, maps), col in zip(base.items(), plt.cm.tab10.colors, strict=False):
        ax.axhline(rmse_psnr(maps, case.hr_maps)[1], ls="--", color=col, label=name)
    ax.set_xscale("log")
    ax.set_xlabel("training time (s, 2-core CPU)")
    ax.set_ylabel("PSNR (dB)")
    ax.set_title(case.name)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(out / "psnr_vs_time.png", dpi=110)

    # A crop of one element: truth, bicubic, guided, network, and their errors.
    k = int(np.argmax(case.hr_maps.reshape(len(case.elements), -1).std(1)))
    r0 = c0 = 128
    crop = np.s_[r0 : r0 + 192, c0 : c0 + 192]
    panels = [("photo", case.rgb[crop]), ("truth", case.hr_maps[k][crop]),
              ("bicubic", base["bicubic"][k][crop]), ("guided", base["guided"][k][crop]),
              ("network", default.maps[k][crop])]
    vmax = float(case.hr_maps[k][crop].max())
    fig, axes = plt.subplots(2, 5, figsize=(14, 6))
    for j, (name, img) in enumerate(panels):
        ax = axes[0, j]
        ax.imshow(img, cmap=None if img.ndim == 3 else "gray", vmin=0, vmax=vmax)
        ax.set_title(f"{name}" + ("" if j == 0 else f" ({case.elements[k]})"))
        ax.axis("off")
        ax = axes[1, j]
        if j >= 2:
            ax.imshow(np.abs(img - case.hr_maps[k][crop]), cmap="magma", vmin=0,
                      vmax=0.5 * vmax)
            ax.set_title(f"|{name} - truth|")
        elif j == 1:
            ax.imshow(case.lr_maps[k][r0 // 4 : (r0 + 192) // 4, c0 // 4 : (c0 + 192) // 4],
                      cmap="gray", vmin=0, vmax=vmax)
            ax.set_title("measured scan (4x coarser)")
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(out / "crop_comparison.png", dpi=90)
    return 0


if __name__ == "__main__":
    sys.exit(main())
