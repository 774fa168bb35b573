"""Automatic registration of a photo of any size onto the scan's grid."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError
from . import geometry, model
from .geometry import Warp, lr_to_hr
from .inputs import check_kind, check_maps, check_pair, check_photo, check_scale
from .model import ColourModel
from .pyramid import PhotoPyramid, level_coords, sample
from .refine import HIGHPASS_SIGMA, Solution, checkerboard, plan_level, refine
from .result import Registration
from .scan import ScanData
from .search import (
    DIHEDRAL,
    Significance,
    coarse_factor,
    coarse_search,
    detrended,
    features_on_grid,
    placement_significance,
)

#: Significance level of the test that the photo shows the scanned area.
ALPHA = 1e-3
#: A photo supports scale ``s`` if it has at least ``s / (1 + SCALE_SLACK)`` pixels per scan pixel.
SCALE_SLACK = 0.05
#: Scan pixels read per level of the refinement (tiles beyond that).
MAX_PIXELS = 16384
MAX_PIXELS_FINAL = 40000
#: Photo pixels (at least) across a scan pixel before the final level (which reads the
#: photo at full resolution, up to 8 x 8 points per scan pixel).
N_TARGET = 2
#: Colour clusters of the search's and of the refinement's colour model.
CENTRES_SEARCH, CENTRES_FIT = 12, 24

#: How to undo each turn or mirror of the photo, in NumPy.
UNDO = {
    "mirrored left-right": "np.fliplr(photo)",
    "upside down (mirrored top-bottom)": "np.flipud(photo)",
    "turned 180 degrees": "np.rot90(photo, 2)",
    "transposed": "np.swapaxes(photo, 0, 1)",
    "turned 90 degrees clockwise": "np.rot90(photo, 1)",
    "turned 90 degrees anticlockwise": "np.rot90(photo, -1)",
    "transposed and turned 180 degrees": "np.rot90(np.swapaxes(photo, 0, 1), 2)",
}


@dataclass
class Context:
    """Everything the steps share: the inputs as the registration reads them."""

    maps: np.ndarray
    photo: np.ndarray
    scan: ScanData
    pyr: PhotoPyramid
    colour_search: ColourModel
    colour_fit: ColourModel
    d_coarse: int
    z_coarse: np.ndarray


def prepare(lr_maps, photo) -> Context:
    """Check the inputs and build the scan's and the photo's working forms.

    The colour model of the search is fitted to the photo's central part (where the
    painting is; a wall or a colour chart in the margin would take its clusters), and
    is refitted to the scanned area once it is found (:func:`fit_colours`).
    """
    maps = check_maps(lr_maps)
    img = check_photo(photo)
    check_pair(maps, img)
    scan = ScanData(maps)
    pyr = PhotoPyramid(img)
    k = 0
    while min(pyr.level(k).shape[:2]) > 384 and k < pyr.n_levels() - 1:
        k += 1
    small = pyr.level(k)
    rows, cols = small.shape[:2]
    centre = small[int(0.2 * rows) : int(0.8 * rows) + 1, int(0.2 * cols) : int(0.8 * cols) + 1]
    pixels = centre.reshape(-1, 3).astype(np.float32) / pyr.white
    d = coarse_factor(scan.shape)
    return Context(maps, img, scan, pyr, ColourModel.from_pixels(pixels, CENTRES_SEARCH),
                   ColourModel.from_pixels(pixels, CENTRES_FIT), d,
                   scan.search_level(d))


def fit_colours(ctx: Context, warp: Warp) -> None:
    """Refit the refinement's colour model to the photo's colours over the scanned area."""
    pts = geometry.grid_points(ctx.scan.shape, 160)
    p = geometry.apply(warp.lr_matrix, pts)
    lev = max(0, int(np.floor(np.log2(max(rho_lr(warp) * max(ctx.scan.shape) / 320, 1)))))
    rgb, _, inside = sample(ctx.pyr, lev, level_coords(p, lev), slopes=False, margin=0.0)
    if inside.sum() > 1000:
        ctx.colour_fit = ColourModel.from_pixels(rgb[inside], CENTRES_FIT)


def features_at_level(ctx: Context, warp: Warp, max_pixels: int
                      ) -> tuple[int, tuple[int, int], np.ndarray]:
    """The finest scan level of at most ``max_pixels`` and the photo's features on it.

    Returns the level's factor ``d``, its shape and the features at ``warp``.
    """
    d = 1
    while ctx.scan.level_shape(d)[0] * ctx.scan.level_shape(d)[1] > max_pixels:
        d *= 2
    shape = ctx.scan.level_shape(d)
    m = warp.lr_matrix @ coarse_to_lr(d)
    return d, shape, features_on_grid(ctx.pyr, ctx.colour_fit, m, shape, d * rho_lr(warp))


def reweight_bands(ctx: Context, warp: Warp, max_pixels: int = 65536) -> np.ndarray:
    """Weigh each map by how well the photo explains it (its misfit, in its noise units).

    The misfit of the colour model, not the counting noise, is what limits the
    registration; a map the photo explains well (lead white in a painting) places the
    photo more truly than one it hardly explains. This is the maximum-likelihood
    weighting of maps with independent misfits. Returns the misfit ratios applied.
    """
    d, (hl, wl), feats = features_at_level(ctx, warp, max_pixels)
    inside = feats[0].ravel() > 0.999
    yy, xx = np.mgrid[0:hl, 0:wl]
    half = max(hl, wl) / 2
    q = np.stack([(xx.ravel() - (wl - 1) / 2) / half, (yy.ravel() - (hl - 1) / 2) / half], 1)
    f = model.design(feats.reshape(len(feats), -1).T[inside], q[inside])
    y = ctx.scan.weighted_level(d).reshape(len(ctx.scan.bands), -1).T[inside]
    if len(y) < 4 * f.shape[1]:
        return np.ones(len(ctx.scan.bands))
    resid = model.fit(f, y).resid
    ratio = np.sqrt((resid**2).mean(axis=0))
    ctx.scan.reweight(ratio)
    return ratio


def coarse_to_lr(d: int) -> np.ndarray:
    """3x3: level-``d`` scan ``(x, y)`` -> LR ``(x, y)``."""
    return np.array([[d, 0, (d - 1) / 2], [0, d, (d - 1) / 2], [0, 0, 1.0]])


def rho_lr(warp: Warp) -> float:
    """Photo pixels per scan pixel (mean linear scale)."""
    return warp.rho / (max(warp.shape) / 2.0)


def refine_levels(ctx: Context, warp: Warp, kind: str, d_start: int | None = None,
                  half: int | None = None) -> tuple[Solution, list[dict]]:
    """Coarse-to-fine refinement from ``warp``: one Levenberg-Marquardt run per level.

    ``half``: fit on that colour of the checkerboard only (:func:`.refine.checkerboard`).
    """
    d = ctx.d_coarse if d_start is None else d_start
    levels = []
    while d >= 1:
        levels.append(d)
        d //= 2
    log, sol = [], None
    for i, d in enumerate(levels):
        last = i == len(levels) - 1
        k = kind if last else ("similarity" if i == 0 else
                               ("affine" if kind == "homography" else kind))
        if last and i > 0:
            reweight_bands(ctx, warp)
        spec = plan_level(ctx.scan.shape, d, rho_lr(warp),
                          MAX_PIXELS_FINAL if last else MAX_PIXELS,
                          n_target=None if last else N_TARGET)
        spec.half = half
        t0 = time.perf_counter()
        new = refine(warp.with_kind(k), ctx.scan, ctx.pyr, ctx.colour_fit, spec)
        if new is None:
            raise InputError(
                "Too little of the scan lies on the photo to register it. The photo must "
                "show the whole scanned area (a margin around it is fine)."
            )
        sol, warp = new, new.warp
        log.append({"d": d, "kind": k, "photo_level": spec.photo_level, "n": spec.n,
                    "pixels": spec.n_pixels, "valid": sol.n_valid, "iterations": sol.iterations,
                    "r2": sol.r2, "half": half, "seconds": time.perf_counter() - t0})
    return sol, log


def polish(ctx: Context, warp: Warp, kind: str) -> tuple[Solution, dict]:
    """The final level again, on the whole scan (after a fit on one half)."""
    spec = plan_level(ctx.scan.shape, 1, rho_lr(warp), MAX_PIXELS_FINAL, n_target=None)
    t0 = time.perf_counter()
    sol = refine(warp.with_kind(kind), ctx.scan, ctx.pyr, ctx.colour_fit, spec,
                 highpass_sigma=HIGHPASS_SIGMA)
    if sol is None:  # pragma: no cover - the half fitted, so the whole does
        raise InputError("Too little of the scan lies on the photo to register it.")
    return sol, {"d": 1, "kind": kind, "photo_level": spec.photo_level, "n": spec.n,
                 "pixels": spec.n_pixels, "valid": sol.n_valid, "iterations": sol.iterations,
                 "r2": sol.r2, "half": None, "seconds": time.perf_counter() - t0}


def error_estimate(sol: Solution) -> tuple[float, float]:
    """Standard error of the placement (photo pixels): RMS over the scan, worst corner."""
    cov = sol.covariance()
    warp = sol.warp
    fr = geometry.frame(warp.shape)
    pts = np.concatenate([geometry.grid_points(warp.shape, 9), geometry.corners(warp.shape)])
    q = pts @ fr[:2, :2].T + fr[:2, 2]
    _, jac = warp.jacobian(q)
    var = np.einsum("nip,pq,niq->n", jac, cov, jac)
    var = np.maximum(var, 0)
    return float(np.sqrt(var[:-4].mean())), float(np.sqrt(var[-4:].max()))


def detail_scale(warp: Warp) -> float:
    """Photo pixels per scan pixel along the least resolved direction, over the scan."""
    pts = np.concatenate([geometry.corners(warp.shape), geometry.grid_points(warp.shape, 5)])
    return float(geometry.local_scales(warp.lr_matrix, pts)[:, 1].min())


def choose_scale(warp: Warp, scale: int | None) -> tuple[int, float, list[str]]:
    """The HR grid's scale: the user's, or the largest whole number the photo supports."""
    rho = detail_scale(warp)
    notes = []
    if scale is None:
        s = max(1, int(np.floor(rho * (1 + SCALE_SLACK))))
        notes.append(f"scale {s}: the photo has {rho:.2f} pixels per scan pixel")
    else:
        s = scale
        if s > rho * (1 + SCALE_SLACK):
            notes.append(f"scale {s} asked for, but the photo has only {rho:.2f} pixels per "
                         "scan pixel: the aligned photo is enlarged and adds no detail beyond "
                         f"scale {max(1, int(np.floor(rho * (1 + SCALE_SLACK))))}")
    return s, rho, notes


def outside_fraction(matrix: np.ndarray, out_shape: tuple[int, int],
                     photo_shape: tuple[int, int]) -> float:
    """Share of the HR grid's pixels that fall off the photo (on at most 1e6 of them)."""
    rows, cols = out_shape
    step = max(1, int(np.ceil(np.sqrt(rows * cols / 1e6))))
    yy, xx = np.mgrid[0:rows:step, 0:cols:step]
    p = geometry.apply(matrix, np.stack([xx.ravel(), yy.ravel()], 1).astype(np.float64))
    big_h, big_w = photo_shape
    inside = (p[:, 0] >= -0.5) & (p[:, 0] <= big_w - 0.5) & (p[:, 1] >= -0.5) & (
        p[:, 1] <= big_h - 0.5)
    return float(1.0 - inside.mean())


def refusal(sig: Significance, best_variant: str, variant_scores: dict[str, float]) -> str:
    """The message that says why the photo was refused and what to do."""
    if best_variant != "as is":
        return (
            f"The photo does not match the scan as it is, but a copy of it {best_variant} "
            f"does better: it seems to be {best_variant}. Turn or mirror it back "
            f"({UNDO.get(best_variant, '')}, or in an image editor) and try again."
        )
    return (
        "The photo does not explain the scan: at its best placement the detail of its "
        f"colours explains the maps no better than copies of the photo that cannot match "
        f"(turned, mirrored, rolled; score {max(sig.score, 0):.3f} against up to "
        f"{max(sig.null_max, 0):.3f}, p = {sig.p_value:.2g}). Check that the photo shows "
        "the scanned painting and the scanned area (a photo of the whole painting, with a "
        "margin, is fine; a detail elsewhere is not). If it does, give a starting placement "
        "(initial=...), e.g. from a few point pairs."
    )


def _initial_warp(initial, scale: int | None, shape) -> Warp:
    if isinstance(initial, dict):
        initial = Registration.from_dict(initial)
    if isinstance(initial, Registration):
        if tuple(initial.map_shape) != tuple(shape):
            raise InputError(
                f"The starting registration was made for {initial.map_shape[0]} x "
                f"{initial.map_shape[1]} maps; these are {shape[0]} x {shape[1]}."
            )
        return Warp.from_lr_matrix(initial.lr_matrix, shape)
    m = np.asarray(initial, dtype=np.float64)
    if m.shape != (3, 3) or not np.isfinite(m).all():
        raise InputError(
            "initial must be a Registration, its to_dict(), or a 3x3 matrix from the HR "
            f"grid (x, y) to the photo (x, y); got an array of shape {m.shape}."
        )
    if scale is None:
        raise InputError(
            "A starting matrix maps the HR grid of a given scale: give that scale too "
            "(scale=...)."
        )
    return Warp.from_lr_matrix(m @ lr_to_hr(scale), shape)


def register_photo(lr_maps, photo, scale: int | None = None, *,
                   transform: str = "similarity", initial: Any = None,
                   scale_range: tuple[float, float] = (0.5, 1.1), max_rotation: float = 6.0,
                   alpha: float = ALPHA, refuse: bool = True) -> Registration:
    """Register a photo of any size onto the scan's grid, automatically.

    Parameters
    ----------
    lr_maps
        ``(B, h, w)`` element maps (or one ``(h, w)`` map).
    photo
        ``(H, W, 3)`` photo (uint8, uint16 or float in ``[0, 1]``) of the painting: any
        size, a margin, a small rotation, its own light.
    scale
        Whole-number scale of the aligned photo; ``None`` takes the largest that the
        photo's resolution supports (never its outer size: margins do not count).
    transform
        ``"similarity"`` (default: a photo taken square-on), ``"affine"`` or
        ``"homography"`` (perspective, for a photo taken at a slant).
    initial
        Optional starting placement: a :class:`Registration`, its ``to_dict()``, or a
        3x3 HR-grid -> photo matrix (with ``scale``), e.g. from point pairs
        (:func:`napari_maxrf_sr.io.align_photo`'s ``matrix``). Skips the coarse search.
    scale_range
        Photo pixels per scan pixel searched, relative to a photo that just covers the
        scan (``min(H/h, W/w)``): ``(0.5, 1.1)`` allows margins of up to a quarter of the
        photo on each side and a photo cropped 10 % inside the scan.
    max_rotation
        Rotations searched, degrees either way.
    alpha
        Significance level of the test that the photo shows the scanned area.
    refuse
        Raise :class:`~napari_maxrf_sr.errors.InputError` when the test fails (default);
        ``False`` returns the registration with ``quality["significant"] = False``.

    Returns
    -------
    Registration
    """
    kind = check_kind(transform)
    s_user = check_scale(scale)
    t0 = time.perf_counter()
    ctx = prepare(lr_maps, photo)
    warp, search = _start(ctx, initial, s_user, scale_range, max_rotation)
    search["seconds"] = time.perf_counter() - t0
    details: dict[str, Any] = {"search": search}
    search_variant = search.get("best_variant", "as is")
    fit_colours(ctx, warp)
    reweight_bands(ctx, warp)
    # fitted on one half of the scan, tested on the other: the test's detail was not
    # used to choose the placement; then fitted again on the whole
    sol, log = refine_levels(ctx, warp, kind, half=0)
    t1 = time.perf_counter()
    sig, best_variant, variant_scores = placement_test(ctx, sol.warp, half=1)
    details["test_seconds"] = time.perf_counter() - t1
    sol, last = polish(ctx, sol.warp, kind)
    details["levels"] = [*log, last]
    details["test_variants"] = variant_scores
    # The fine test decides: at the refined placement a turned or mirrored copy cannot
    # beat the photo by chance, while the coarse search (unturned, 32 px) can when the
    # photo is turned by a few degrees.
    significant = sig.significant(alpha) and best_variant == "as is"
    if refuse and not significant:
        if best_variant == "as is" and search_variant != "as is" and initial is None:
            # the coarse search saw a turned or mirrored copy fit better, which a photo
            # of another painting does too by chance: say so only if that copy registers
            best_variant = search_variant if _copy_registers(
                lr_maps, photo, search_variant, kind, scale_range, max_rotation,
                alpha) else "as is"
        raise InputError(refusal(sig, best_variant, variant_scores))
    return finish(ctx, sol, kind, s_user, sig, significant, alpha, details)


def _start(ctx: Context, initial, s_user, scale_range, max_rotation) -> tuple[Warp, dict]:
    """The starting placement: the user's, or the coarse search's (and what it found)."""
    if initial is not None:
        return _initial_warp(initial, s_user, ctx.scan.shape), {"initial": True}
    h, w = ctx.scan.shape
    rho0 = min(ctx.photo.shape[0] / h, ctx.photo.shape[1] / w)
    found = coarse_search(ctx.pyr, ctx.colour_search, ctx.scan, ctx.scan.shape, rho0,
                          scale_range=scale_range, max_rotation=max_rotation)
    return found.warp, {"rho": found.rho, "rotation_deg": found.phi, "score": found.score,
                        "test": found.significance.to_dict(),
                        "best_variant": found.best_variant}


def _copy_registers(lr_maps, photo, variant: str, kind: str, scale_range, max_rotation,
                    alpha: float) -> bool:
    """Whether the photo, turned or mirrored as ``variant``, registers significantly."""
    img = np.asarray(photo)
    turned = np.ascontiguousarray(np.moveaxis(DIHEDRAL[variant](np.moveaxis(img, -1, 0)), 0, -1))
    try:
        reg = register_photo(lr_maps, turned, transform=kind, scale_range=scale_range,
                             max_rotation=max_rotation, alpha=alpha, refuse=False)
    except InputError:
        return False
    return bool(reg.quality["significant"])


def placement_test(ctx: Context, warp: Warp, max_pixels: int = 16384,
                   half: int | None = None):
    """The test at a fixed placement, on a fine level of the scan (see :mod:`.search`).

    Run on the maps weighted by their noise only (not by how well this placement
    explains them) and on the photo's detail (high-pass). ``half``: only that colour of
    the checkerboard counts (the placement was fitted on the other).
    """
    d, (hl, wl), feats = features_at_level(ctx, warp, max_pixels)
    z = detrended(ctx.scan.weighted_level(d, noise_only=True))
    mask = None
    if half is not None:
        yy, xx = np.mgrid[0:hl, 0:wl]
        centres = np.stack([d * xx.ravel() + (d - 1) / 2, d * yy.ravel() + (d - 1) / 2], 1)
        mask = (checkerboard(centres, ctx.scan.shape) == half).reshape(hl, wl)
    return placement_significance(feats, z, mask=mask)


def finish(ctx: Context, sol: Solution, kind: str, s_user: int | None, sig: Significance,
           significant: bool, alpha: float, details: dict) -> Registration:
    """The :class:`Registration` of a converged refinement."""
    warp = sol.warp
    s, rho, notes = choose_scale(warp, s_user)
    err_rms, err_corner = error_estimate(sol)
    matrix = warp.hr_matrix(s)
    out_shape = (s * ctx.scan.shape[0], s * ctx.scan.shape[1])
    quality = {**sig.to_dict(), "r2": sol.r2, "significant": significant, "alpha": alpha}
    outside = outside_fraction(matrix, out_shape, ctx.photo.shape[:2])
    if outside > 0.01:
        notes.append(f"{outside:.1%} of the aligned photo lies off the photo (black)")
    return Registration(matrix, s, kind, tuple(ctx.scan.shape), tuple(ctx.photo.shape[:2]),
                        err_rms, err_corner, quality, outside, rho, tuple(notes), details)


__all__ = ["DIHEDRAL", "register_photo"]
