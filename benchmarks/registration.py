"""Registration benchmark: photos warped by known transforms, registered automatically.

Usage::

    python -m benchmarks.registration                 # three paintings at 4x, one at 8x
    python -m benchmarks.registration --quick         # one case, two distortions
    python -m benchmarks.registration --large --network-steps 0   # 2,048 px scan, 24 Mpx
    python -m benchmarks.registration --network-steps 0   # no network runs
    python -m benchmarks.registration --network-only      # the network line only (5 min)

Every case of ``benchmarks.cases`` (a synthetic painting with known truth, its photo
exactly on the scan's grid) is photographed again by a virtual camera: enlarged or
shrunk, turned, shifted, with a margin (a plain wall around the painting), a
keystone, another light (gamma 1.3, a warm cast, 15 % vignetting) and JPEG at
quality 75. The photo is then registered with ``register_photo`` and the recovered
transform is compared with the camera's, in photo pixels: RMS over the scanned area
and the worst of its four corners. Seconds and the process's peak memory (resident
set, polled every 10 ms; ``benchmarks.run.PeakRSS``) are measured around
``register_photo`` + ``apply``.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from napari_maxrf_sr.errors import InputError
from napari_maxrf_sr.registration import register_photo
from napari_maxrf_sr.registration.geometry import apply, corners, grid_points, lr_to_hr
from napari_maxrf_sr.registration.resample import warp_photo

from .cases import PAINTINGS, Case, painting_case
from .run import PeakRSS

WALL = np.array([72, 62, 52], np.float32)  # the wall around the painting


@dataclass
class Distortion:
    """A virtual camera: how the photo differs from the scan's grid."""

    name: str
    zoom: float = 1.0  # camera pixels per HR pixel
    rotation: float = 0.0  # degrees
    shift: tuple[float, float] = (0.0, 0.0)  # scan pixels (x, y), beyond the margin
    keystone: float = 0.0  # the top edge this much narrower than the bottom
    margin: float = 0.08  # of the painting's width (<= 1) or camera pixels (> 1)
    light: bool = False
    jpeg: int | None = None
    transform: str = "similarity"
    extra: dict = field(default_factory=dict)


DISTORTIONS = [
    Distortion("shift 2.6, -1.8 scan px", shift=(2.6, -1.8)),
    Distortion("rotation 3 deg", rotation=3.0, shift=(0.4, 0.3)),
    Distortion("zoom 1.4, rot -1 deg", zoom=1.4, rotation=-1.0, shift=(1.2, 0.7)),
    Distortion("zoom 0.6, rot 1.5 deg", zoom=0.6, rotation=1.5, shift=(-0.9, 1.3), margin=0.1),
    Distortion("keystone 2 %", zoom=1.1, rotation=0.5, keystone=0.02, transform="homography"),
    Distortion("camera: 1.37x, 2 deg, 60 px, JPEG", zoom=1.37, rotation=2.0, margin=60,
               jpeg=75),
    Distortion("light + JPEG, 0.35 deg", rotation=0.35, shift=(0.37, 0.2), light=True, jpeg=75),
    Distortion("all: 1.25x, -2.5 deg, keystone, light, JPEG", zoom=1.25, rotation=-2.5,
               shift=(-2.2, 1.4), keystone=0.015, light=True, jpeg=75, transform="homography"),
]


def camera_matrix(hr_shape: tuple[int, int], scale: int, dist: Distortion
                  ) -> tuple[np.ndarray, tuple[int, int]]:
    """The camera's 3x3 HR ``(x, y)`` -> photo ``(x, y)``, and the photo's ``(rows, cols)``."""
    from skimage.transform import ProjectiveTransform

    big_h, big_w = hr_shape
    c_hr = np.array([(big_w - 1) / 2, (big_h - 1) / 2])
    centre = np.array([[1, 0, -c_hr[0]], [0, 1, -c_hr[1]], [0, 0, 1.0]])
    zoom = np.diag([dist.zoom, dist.zoom, 1.0])
    hw, hh = dist.zoom * big_w / 2, dist.zoom * big_h / 2
    src = np.array([[-hw, -hh], [hw, -hh], [hw, hh], [-hw, hh]])
    dst = src.copy()
    dst[:2, 0] *= 1 - dist.keystone
    key = ProjectiveTransform.from_estimate(src, dst).params if dist.keystone else np.eye(3)
    a = np.radians(dist.rotation)
    rot = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1.0]])
    m = rot @ key @ zoom @ centre
    edge = apply(m, corners((big_h, big_w)))
    margin = dist.margin * dist.zoom * big_w if dist.margin <= 1 else dist.margin
    shift = np.asarray(dist.shift) * scale * dist.zoom
    lo = edge.min(axis=0)
    size = edge.max(axis=0) - lo
    m = np.array([[1, 0, margin + shift[0] - lo[0]], [0, 1, margin + shift[1] - lo[1]],
                  [0, 0, 1.0]]) @ m
    cols, rows = (int(np.ceil(v + 2 * margin)) for v in size)
    return m, (rows, cols)


def relight(img: np.ndarray) -> np.ndarray:
    """Another camera and light: gamma 1.3, a warm cast, 15 % vignetting."""
    v = (img.astype(np.float32) / 255.0) ** 1.3
    v *= np.array([1.08, 1.0, 0.86], np.float32)
    rows, cols = img.shape[:2]
    yy, xx = np.mgrid[0:rows, 0:cols].astype(np.float32)
    r2 = ((xx - (cols - 1) / 2) ** 2 + (yy - (rows - 1) / 2) ** 2)
    v *= (1 - 0.15 * r2 / r2.max())[..., None]
    return (np.clip(v, 0, 1) * 255).round().astype(np.uint8)


def jpeg(img: np.ndarray, quality: int, subsampling: int | None = None) -> np.ndarray:
    """The image after a round trip through a JPEG file.

    ``subsampling``: Pillow's code (0 = 4:4:4, 2 = 4:2:0); ``None``: Pillow's default, 4:2:0.
    """
    import imageio.v3 as iio

    buf = io.BytesIO()
    extra = {} if subsampling is None else {"subsampling": subsampling}
    iio.imwrite(buf, img, extension=".jpg", quality=quality, **extra)
    return np.asarray(iio.imread(buf.getvalue(), extension=".jpg"))


def camera_photo(rgb_hr: np.ndarray, scale: int, dist: Distortion, seed: int = 0
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Photograph the on-grid photo again; returns the photo and the true HR -> photo matrix."""
    m, shape = camera_matrix(rgb_hr.shape[:2], scale, dist)
    photo, _ = warp_photo(rgb_hr, np.linalg.inv(m), shape, order=3)
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    src = apply(np.linalg.inv(m), np.stack([xx.ravel(), yy.ravel()], 1).astype(float))
    big_h, big_w = rgb_hr.shape[:2]
    wall = ((src[:, 0] < -0.5) | (src[:, 0] > big_w - 0.5) | (src[:, 1] < -0.5)
            | (src[:, 1] > big_h - 0.5)).reshape(shape)
    rng = np.random.default_rng(seed)
    noise = rng.normal(0, 3, (*shape, 3)).astype(np.float32)
    photo[wall] = np.clip(WALL + noise[wall], 0, 255).astype(np.uint8)
    if dist.light:
        photo = relight(photo)
    if dist.jpeg:
        photo = jpeg(photo, dist.jpeg)
    return photo, m


def transform_error(reg, truth_hr: np.ndarray, case_scale: int, map_shape) -> tuple[float, float]:
    """RMS over the scanned area and worst corner of the distance (photo pixels)."""
    truth_lr = truth_hr @ lr_to_hr(case_scale)
    pts = grid_points(map_shape, 17)
    d = np.hypot(*(apply(reg.lr_matrix, pts) - apply(truth_lr, pts)).T)
    c = corners(map_shape)
    dc = np.hypot(*(apply(reg.lr_matrix, c) - apply(truth_lr, c)).T)
    return float(np.sqrt(np.mean(d**2))), float(dc.max())


def run_case(case: Case, dist: Distortion) -> tuple[dict, np.ndarray]:
    """Register one camera photo of ``case``; the table's row and the aligned photo."""
    photo, truth = camera_photo(case.rgb, case.scale, dist)
    with PeakRSS() as mem:
        t0 = time.perf_counter()
        reg = register_photo(case.lr_maps, photo, transform=dist.transform)
        aligned = reg.with_scale(case.scale).apply(photo)
        secs = time.perf_counter() - t0
    rms, corner = transform_error(reg, truth, case.scale, case.lr_maps.shape[1:])
    row = {"case": case.name, "distortion": dist.name, "transform": dist.transform,
           "photo": f"{photo.shape[1]}x{photo.shape[0]}", "rms": rms, "corner": corner,
           "est_rms": reg.error_rms_px, "est_corner": reg.error_corner_px,
           "scale": reg.scale, "t": reg.quality["t"], "seconds": secs,
           "peak_mib": mem.extra, "photo_mib": photo.nbytes / 2**20}
    return row, aligned


def network_psnr(case: Case, aligned: np.ndarray, steps: int) -> dict:
    """PSNR (dB) of the network on the registered photo and on the true one, and bicubic.

    The default settings at ``steps`` stage-1 steps, seed 0, for each photo: equal steps,
    so that a busy machine changes the seconds, not the comparison.
    """
    from napari_maxrf_sr import super_resolve

    from .metrics import rmse_psnr

    out = {}
    for label, rgb in (("auto", aligned), ("true", case.rgb)):
        res = super_resolve(case.lr_maps, rgb, scale=case.scale, seed=0, align=False,
                            config={"stage1_steps": steps})
        out[label] = rmse_psnr(res.maps, case.hr_maps)[1]
    res = super_resolve(case.lr_maps, case.rgb, scale=case.scale, method="bicubic_projected",
                        align=False)
    out["bicubic"] = rmse_psnr(res.maps, case.hr_maps)[1]
    return out


#: The large case of issue 36: a 2,048 px scan (7 maps, 2x) and a camera photo of about
#: 24 Mpx (about 4,900 x 4,900 px: the painting 1.13 times the HR grid, turned, a margin).
LARGE = (painting_case, ("vermeer_the_milkmaid", 7), {"size": 4096, "scale": 2},
         Distortion("large: 1.13x, 2 deg, 60 px, JPEG 90", zoom=1.13, rotation=2.0, margin=60,
                    jpeg=90))


def default_cases(quick: bool, large: bool = False) -> list[tuple[Case, list[Distortion]]]:
    """Three paintings at 4x with every distortion, one at 8x with three (about 15 min).

    ``large``: only :data:`LARGE` (time and memory of a photo of camera size).
    """
    if large:
        make, args, kwargs, dist = LARGE
        return [(make(*args, **kwargs), [dist])]
    if quick:
        return [(painting_case("vermeer_the_milkmaid", 9), DISTORTIONS[:2])]
    out = [(painting_case(stem, b), DISTORTIONS) for stem, b in PAINTINGS
           if stem.split("_")[0] in ("vermeer", "hokusai", "munch")]
    out.append((painting_case("van_gogh_self_portrait_1887", 9, scale=8),
                [DISTORTIONS[i] for i in (1, 2, 5)]))
    return out


def fmt_table(rows: list[dict]) -> str:
    head = ("| case | distortion | transform | photo | error RMS (px) | worst corner (px) | "
            "estimated RMS / corner | scale | t | s | peak MiB (x photo) |")
    lines = [head, "|" + "---|" * 11]
    for r in rows:
        lines.append(
            f"| {r['case']} | {r['distortion']} | {r['transform']} | {r['photo']} | "
            f"{r['rms']:.3f} | {r['corner']:.3f} | {r['est_rms']:.3f} / "
            f"{r['est_corner']:.3f} | {r['scale']} | {r['t']:.1f} | {r['seconds']:.1f} | "
            f"{r['peak_mib']:.0f} ({r['peak_mib'] / r['photo_mib']:.1f}x) |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.registration", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="one case, two distortions")
    p.add_argument("--large", action="store_true",
                   help="one 2,048 px scan with a 24 Mpx camera photo (time and memory)")
    p.add_argument("--network-steps", type=int, default=12000,
                   help="stage-1 steps of each network run (default: the default's; 0: no "
                        "network runs)")
    p.add_argument("--network-only", action="store_true",
                   help="only the camera photo of the first case, and its network runs")
    args = p.parse_args(argv)
    rows, psnr = [], None
    plan = default_cases(args.quick, args.large)
    if args.network_only:
        case, dists = plan[0]
        plan = [(case, [d for d in dists if d.name.startswith("camera")] or DISTORTIONS[5:6])]
    for case, dists in plan:
        for dist in dists:
            try:
                row, aligned = run_case(case, dist)
            except InputError as exc:  # a refusal is a result too: the table says so
                print(f"{case.name} {dist.name}: refused: {exc}", file=sys.stderr)
                continue
            rows.append(row)
            print(f"{row['case']:<34} {row['distortion']:<44} rms {row['rms']:.3f} corner "
                  f"{row['corner']:.3f} est {row['est_rms']:.3f} t {row['t']:.1f} "
                  f"{row['seconds']:.1f} s", file=sys.stderr, flush=True)
            if psnr is None and dist.name.startswith("camera") and args.network_steps > 0:
                psnr = (case.name, network_psnr(case, aligned, args.network_steps))
    print(fmt_table(rows))
    if psnr is not None:
        name, v = psnr
        print(f"\nnetwork PSNR on {name}, camera-style photo ({args.network_steps} steps "
              f"each): registered automatically {v['auto']:.2f} dB, true photo "
              f"{v['true']:.2f} dB, bicubic + projection {v['bicubic']:.2f} dB; gain over "
              f"bicubic kept: {(v['auto'] - v['bicubic']) / (v['true'] - v['bicubic']):.0%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
