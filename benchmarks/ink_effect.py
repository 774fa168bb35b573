"""What the drawing's element-free ink strokes change in each method's answer.

Usage::

    python -m benchmarks.ink_effect                                # 512 px, the default
    python -m benchmarks.ink_effect --size 256 --set stage1_steps=3000
    python -m benchmarks.ink_effect --methods guided,bicubic_projected
    python -m benchmarks.ink_effect --figure ink.png   # also a picture (keep it local:
                                                       # the drawing's maps are GPL-3.0 data)

The Rijksmuseum drawing case (``benchmarks.cases.rijksmuseum_case``) draws 40 carbon-ink
strokes into the photo that no element map has. Its truth is real element maps, textured
and noisy under the strokes too, so the false-detail measure there counts true detail as
well (the truth itself scores 1.05: docs/benchmarks.md). This measure needs no flat truth:
each method answers the same scan twice, with the inked photo and with the same photo
without the strokes (the network: the *same* trained network applied to both), and the
fine detail (high-pass, sigma = s/2) of the difference inside the strokes' mask, over the
truth's mean fine detail, is what the strokes changed. 0: the strokes left the maps as
they were; it counts detail the strokes added and true detail they wiped out.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from napari_maxrf_sr.api import super_resolve

from .cases import Case, rijksmuseum_case
from .metrics import false_detail, rmse_psnr
from .run import apply_network, parse_settings, with_inference


def ink_effect(with_ink: np.ndarray, without_ink: np.ndarray, case: Case) -> float:
    """Fine-detail energy of the two answers' difference in the mask, over the truth's.

    The false-detail measure of the difference: normalising and high-passing are linear.
    """
    diff = with_ink.astype(np.float64) - without_ink
    return false_detail(diff, case.hr_maps, case.edge_mask, case.scale)


def answers(method: str, case: Case, clean: Case, settings: dict | None = None
            ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """A method's answers with the inked photo and without the strokes, by row name.

    The network gives a row per local-calibration radius from one training (it acts at
    inference only): as set first, then the others of 0 (off), 1 and 2.
    """
    res = super_resolve(case.lr_maps, case.rgb, case.scale, method, elements=case.elements,
                        config=(settings or None) if method == "network" else None)
    if method != "network":
        other = super_resolve(clean.lr_maps, clean.rgb, clean.scale, method,
                              elements=clean.elements).maps
        return {method: (res.maps, other)}
    rows = {method: (res.maps, apply_network(res, clean, project=True))}  # the same network
    for radius in (0, 1, 2):
        if radius != res.diagnostics["model"].config.calibration_radius:
            variant = with_inference(res, calibration_radius=radius)
            rows[f"{method}, calibration_radius={radius}"] = tuple(
                apply_network(variant, c, project=True) for c in (case, clean))
    return rows


def figure(rows: dict[str, tuple[np.ndarray, np.ndarray]], case: Case, clean: Case,
           path: str, crop: int = 128) -> None:
    """A crop where the strokes are densest, for the map they change most in the first row.

    Columns: the photo with and without its strokes; the truth above the scan; then each
    answer with the inked photo above what the strokes changed in it (with - without).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mask = case.edge_mask.any(axis=0).astype(np.float64)
    c = min(crop, *mask.shape)
    cum = np.pad(mask, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    sums = cum[c:, c:] - cum[:-c, c:] - cum[c:, :-c] + cum[:-c, :-c]
    r0, c0 = (int(v) for v in np.unravel_index(int(np.argmax(sums)), sums.shape))
    win = np.s_[r0 : r0 + c, c0 : c0 + c]
    diffs = {name: a.astype(np.float64) - b for name, (a, b) in rows.items()}
    first = next(iter(diffs.values()))
    level = np.maximum(case.hr_maps.mean(axis=(1, 2)), 1e-12)
    k = int(np.argmax(np.abs(first[:, r0 : r0 + c, c0 : c0 + c]).mean(axis=(1, 2)) / level))
    vmax = float(np.percentile(case.hr_maps[k][win], 99.5)) or 1.0
    dmax = max(float(np.abs(d[k][win]).max()) for d in diffs.values()) or 1.0
    s = case.scale
    n = len(rows) + 2
    fig, axes = plt.subplots(2, n, figsize=(2.5 * n, 5.4))
    panels = [(0, 0, case.rgb[win], "photo with ink", {}),
              (1, 0, clean.rgb[win], "photo without ink", {}),
              (0, 1, case.hr_maps[k][win], f"truth ({case.elements[k]})",
               {"cmap": "gray", "vmin": 0, "vmax": vmax}),
              (1, 1, case.lr_maps[k][r0 // s : (r0 + c) // s, c0 // s : (c0 + c) // s],
               "scan", {"cmap": "gray", "vmin": 0, "vmax": vmax})]
    for j, (name, (inked, _)) in enumerate(rows.items(), start=2):
        panels.append((0, j, inked[k][win], name, {"cmap": "gray", "vmin": 0, "vmax": vmax}))
        panels.append((1, j, diffs[name][k][win], "what the ink changed",
                       {"cmap": "RdBu_r", "vmin": -dmax, "vmax": dmax}))
    for row, col, img, title, kw in panels:
        axes[row, col].imshow(img, interpolation="nearest", **kw)
        axes[row, col].set_title(title, fontsize=9)
    for ax in axes.ravel():
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ink_effect", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--methods", default="network,guided,colour_regression,bicubic_projected")
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="change a setting of the network (JSON value)")
    p.add_argument("--figure", metavar="PNG", help="also draw the answers (a crop) here")
    args = p.parse_args(argv)
    case = rijksmuseum_case(size=args.size)
    clean = rijksmuseum_case(size=args.size, ink=False)
    print("| method | PSNR (dB) | false detail | ink effect |\n|---|---|---|---|")
    drawn = {}
    for method in args.methods.split(","):
        for name, (inked, plain) in answers(method, case, clean,
                                            parse_settings(args.set)).items():
            print(f"| {name} | {rmse_psnr(inked, case.hr_maps)[1]:.2f} | "
                  f"{false_detail(inked, case.hr_maps, case.edge_mask, case.scale):.3f} | "
                  f"{ink_effect(inked, plain, case):.4f} |", flush=True)
            if args.figure:
                drawn[name] = (inked, plain)
    if args.figure:
        figure(drawn, case, clean, args.figure)
    return 0


if __name__ == "__main__":
    sys.exit(main())
