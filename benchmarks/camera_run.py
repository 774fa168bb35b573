"""The camera-style case of issue 36 through the command line, one command per photo.

Usage::

    python -m benchmarks.camera_run            # 5 network runs at the default steps
    python -m benchmarks.camera_run --steps 1500   # quicker, for a look

A painting from ``maxrf-sr simulate --size 512 --elements 7 --scale 4 --seed 0`` (128 x 128
scan pixels); its photo re-photographed as a camera would (enlarged 1.37x, turned 2 degrees,
a 60 px margin, JPEG quality 75: ``benchmarks.registration.camera_photo``). Each photo goes
to ``maxrf-sr run`` as a user would give it, ``--seed 0 --device cpu`` at equal steps:

- the true photo, exactly on the grid;
- *before*: the margin cropped and the photo resized to 4x by hand (what the old refusal
  told users to do), ``--no-align``;
- *after*: the camera photo as it is, ``--scale 4`` (registered automatically);
- and, to tell the registration's part of the loss from JPEG's: the true photo saved as
  JPEG 75 (on the grid), and the camera photo without JPEG (registered automatically).

PSNR of all maps against the known truth (``benchmarks.metrics.rmse_psnr``), and the share
of the true photo's gain over bicubic + projection that each keeps.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import sys
import tempfile
from pathlib import Path

import numpy as np

from .metrics import rmse_psnr
from .registration import DISTORTIONS, camera_photo


def _hand_aligned(photo: np.ndarray, truth: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The old advice: crop the photo to the painting's bounding box and resize it."""
    from skimage.transform import resize

    from napari_maxrf_sr.registration.geometry import apply, corners

    edge = apply(truth, corners(shape))
    x0, y0 = np.floor(edge.min(axis=0)).astype(int)
    x1, y1 = np.ceil(edge.max(axis=0)).astype(int)
    crop = photo[max(0, y0) : y1 + 1, max(0, x0) : x1 + 1]
    return (resize(crop, shape, anti_aliasing=True) * 255).round().astype(np.uint8)


def _run(args: list[str]) -> None:
    from napari_maxrf_sr.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = main(args)
    if rc != 0:
        raise RuntimeError(f"maxrf-sr {' '.join(args)} failed ({rc}):\n{err.getvalue()}")


def main(argv: list[str] | None = None) -> int:
    import imageio.v3 as iio

    from napari_maxrf_sr.io import read_element_stack

    p = argparse.ArgumentParser(prog="python -m benchmarks.camera_run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=None,
                   help="stage-1 steps of each run (default: the default's)")
    args = p.parse_args(argv)
    steps = [] if args.steps is None else ["--set", f"stage1_steps={args.steps}"]
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        _run(["simulate", "--out", str(d / "sim"), "--size", "512", "--elements", "7",
              "--scale", "4", "--seed", "0"])
        sim = d / "sim"
        truth_maps = read_element_stack(sim / "truth.tif")[0]
        rgb = iio.imread(sim / "photo.png")
        camera = next(x for x in DISTORTIONS if x.name.startswith("camera"))
        photo, m = camera_photo(rgb, 4, camera)
        iio.imwrite(d / "camera.png", photo)
        no_jpeg = dataclasses.replace(camera, jpeg=None)
        iio.imwrite(d / "camera_no_jpeg.png", camera_photo(rgb, 4, no_jpeg)[0])
        iio.imwrite(d / "true.jpg", rgb, quality=75)
        iio.imwrite(d / "hand.png", _hand_aligned(photo, m, rgb.shape[:2]))
        runs = {
            "bicubic + projection (no photo detail)":
                ["--rgb", str(sim / "photo.png"), "--method", "bicubic_projected"],
            "the true photo, exactly on the grid": ["--rgb", str(sim / "photo.png")],
            "before: the margin cropped and the photo resized to 4x by hand, --no-align":
                ["--rgb", str(d / "hand.png"), "--no-align"],
            "after: the camera photo as it is, --scale 4 (registered automatically)":
                ["--rgb", str(d / "camera.png"), "--scale", "4"],
            "the true photo saved as JPEG 75 (on the grid)": ["--rgb", str(d / "true.jpg")],
            "the camera photo without JPEG, --scale 4 (registered automatically)":
                ["--rgb", str(d / "camera_no_jpeg.png"), "--scale", "4"],
        }
        psnr = {}
        for i, (label, extra) in enumerate(runs.items()):
            out = d / f"out{i}.tif"
            _run(["run", "--xrf", str(sim / "lr_maps.tif"), "--out", str(out), "--seed", "0",
                  "--device", "cpu", "--quiet", *extra,
                  *(steps if "--method" not in extra else [])])
            psnr[label] = rmse_psnr(read_element_stack(out)[0], truth_maps)[1]
            print(f"{label}: {psnr[label]:.2f} dB", file=sys.stderr, flush=True)
    labels = list(psnr)
    bic, true = psnr[labels[0]], psnr[labels[1]]
    print("| photo given to `maxrf-sr run` | PSNR (dB) | gain over bicubic kept |")
    print("|---|---|---|")
    for label, v in psnr.items():
        kept = "" if label == labels[0] else f"{(v - bic) / (true - bic):.0%}"
        print(f"| {label} | {v:.2f} | {kept} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
