r"""``Pb L (SR)`` of the sample painting, before and after a change of the method.

The panel's sample (File > Open Sample) is what a newcomer super-resolves first; this
draws its Pb L map as each version of the package returns it, beside the scan and
the truth, with the PSNR of each. Three steps, so that an older version of the
package (another checkout on ``PYTHONPATH``) can run the middle one on the same input::

    python -m benchmarks.sample_pb input sample.npz
    python -m benchmarks.sample_pb run sample.npz --preset fast --out after_fast.npz
    PYTHONPATH=/path/to/old/checkout/src \
        python -m benchmarks.sample_pb run sample.npz --preset fast --out before_fast.npz
    python -m benchmarks.sample_pb figure sample.npz before_fast.npz after_fast.npz \
        --labels "before, fast" "now, fast" --out docs/images/sample_pb_before_after.png

``run`` uses only :func:`napari_maxrf_sr.super_resolve`, which older versions have too.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from .metrics import rmse_psnr

ELEMENT = "Pb L"


def make_input(out: Path) -> None:
    """The sample painting of the napari plugin (256 x 256, 4x, 7 maps), as arrays."""
    from napari_maxrf_sr.simulate import make_synthetic_painting

    p = make_synthetic_painting(size=(256, 256), scale=4, n_elements=7, seed=0)
    np.savez_compressed(out, lr=p.lr_maps, rgb=p.rgb, hr=p.hr_maps,
                        elements=np.array(p.elements))


def run(inp: Path, preset: str, out: Path) -> None:
    """Super-resolve the sample with ``preset`` (seed 0) and keep the Pb L map."""
    import napari_maxrf_sr as sr

    d = np.load(inp)
    elements = [str(e) for e in d["elements"]]
    t0 = time.perf_counter()
    res = sr.super_resolve(d["lr"], d["rgb"], 4, preset=preset, seed=0)
    seconds = time.perf_counter() - t0
    k = elements.index(ELEMENT)
    np.savez_compressed(out, pb=res.maps[k], seconds=seconds, preset=preset,
                        version=getattr(sr, "__version__", "?"))
    print(f"{out}: {preset}, {seconds:.1f} s")


def figure(inp: Path, runs: list[Path], labels: list[str], out: Path,
           crop: tuple[int, int, int] = (96, 64, 128)) -> None:
    """Scan, each run's Pb L and the truth, whole and as a crop, with PSNR in the titles."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = np.load(inp)
    k = [str(e) for e in d["elements"]].index(ELEMENT)
    truth = d["hr"][k]
    scan = np.kron(d["lr"][k], np.ones((4, 4), dtype=np.float32))
    panels = [("scan (nearest)", scan)]
    for path, label in zip(runs, labels, strict=True):
        r = np.load(path)
        psnr = rmse_psnr(r["pb"][None], truth[None])[1]
        panels.append((f"{label}: {psnr:.2f} dB", r["pb"]))
    panels.append(("truth", truth))
    r0, c0, n = crop
    vmax = float(np.percentile(truth, 99.5)) or 1.0
    fig, axes = plt.subplots(2, len(panels), figsize=(3.0 * len(panels), 6.2))
    for col, (title, img) in enumerate(panels):
        axes[0, col].imshow(img, cmap="gray", vmin=0, vmax=vmax)
        axes[0, col].set_title(title, fontsize=9)
        axes[1, col].imshow(img[r0 : r0 + n, c0 : c0 + n], cmap="gray", vmin=0, vmax=vmax,
                            interpolation="nearest")
        axes[1, col].set_title(f"crop {n} x {n} px", fontsize=8)
        for ax in axes[:, col]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(f"{ELEMENT} (SR) of the sample painting (256 x 256, 4x)", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    print(f"figure written to {out}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.sample_pb", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("input")
    a.add_argument("out", type=Path)
    b = sub.add_parser("run")
    b.add_argument("input", type=Path)
    b.add_argument("--preset", default="fast")
    b.add_argument("--out", type=Path, required=True)
    c = sub.add_parser("figure")
    c.add_argument("input", type=Path)
    c.add_argument("runs", type=Path, nargs="+")
    c.add_argument("--labels", nargs="+", required=True)
    c.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    if args.cmd == "input":
        make_input(args.out)
    elif args.cmd == "run":
        run(args.input, args.preset, args.out)
    else:
        figure(args.input, args.runs, args.labels, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
