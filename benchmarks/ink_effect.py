"""What the drawing's element-free ink strokes change in each method's answer.

Usage::

    python -m benchmarks.ink_effect                                # 512 px, the default
    python -m benchmarks.ink_effect --size 256 --set stage1_steps=3000
    python -m benchmarks.ink_effect --methods guided,bicubic_projected

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
from .run import apply_network, parse_settings


def ink_effect(with_ink: np.ndarray, without_ink: np.ndarray, case: Case) -> float:
    """Fine-detail energy of the two answers' difference in the mask, over the truth's.

    The false-detail measure of the difference: normalising and high-passing are linear.
    """
    diff = with_ink.astype(np.float64) - without_ink
    return false_detail(diff, case.hr_maps, case.edge_mask, case.scale)


def answers(method: str, case: Case, clean: Case, settings: dict | None = None
            ) -> tuple[np.ndarray, np.ndarray]:
    """A method's answer with the inked photo and without the strokes."""
    res = super_resolve(case.lr_maps, case.rgb, case.scale, method, elements=case.elements,
                        config=(settings or None) if method == "adun" else None)
    if method != "adun":
        other = super_resolve(clean.lr_maps, clean.rgb, clean.scale, method,
                              elements=clean.elements).maps
        return res.maps, other
    return res.maps, apply_network(res, clean, project=True)  # the same trained network


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ink_effect", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--methods", default="adun,guided,colour_regression,bicubic_projected")
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="change a setting of the network (JSON value)")
    args = p.parse_args(argv)
    case = rijksmuseum_case(size=args.size)
    clean = rijksmuseum_case(size=args.size, ink=False)
    print("| method | PSNR (dB) | false detail | ink effect |\n|---|---|---|---|")
    for method in args.methods.split(","):
        inked, plain = answers(method, case, clean, parse_settings(args.set))
        print(f"| {method} | {rmse_psnr(inked, case.hr_maps)[1]:.2f} | "
              f"{false_detail(inked, case.hr_maps, case.edge_mask, case.scale):.3f} | "
              f"{ink_effect(inked, plain, case):.4f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
