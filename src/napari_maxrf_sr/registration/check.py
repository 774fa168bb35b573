"""The registration check of a photo that is already on the scan's grid."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..errors import InputError
from . import geometry
from .geometry import Warp, lr_to_hr
from .inputs import check_kind, check_maps, check_photo, check_scale
from .register import (
    ALPHA,
    finish,
    fit_colours,
    placement_test,
    polish,
    prepare,
    refine_levels,
    refusal,
    reweight_bands,
)
from .result import Registration
from .search import significance

#: Residual (photo pixels, RMS over the scan) below which an on-grid photo is left as is.
TOLERANCE = 0.1
#: ... and below this many of the refinement's estimated standard errors (RMS).
SIGNIFICANT_ERRORS = 3.0
#: ... and below this many times the RMS disagreement of the two checkerboard halves'
#: estimates (each half's error is about 0.7 of it; the whole scan's about half of it).
HALVES_FACTOR = 1.5


@dataclass
class RegistrationCheck:
    """What the check found.

    Attributes
    ----------
    verdict
        ``"ok"``: the photo lies on the grid (residual below ``tolerance``); ``"refine"``:
        it is off by more, and ``registration.apply(photo)`` gives the photo on the grid;
        ``"refuse"``: the photo does not explain the scan (``message`` says what to do).
    message
        A plain sentence for the user (or the provenance's notes).
    residual_rms_px, residual_corner_px
        How far the photo is from the grid, photo pixels: RMS over the scan and at its
        worst corner (``nan`` when refused).
    shift_px, rotation_deg
        The residual's shift at the scan's centre ``(x, y)`` and its rotation.
    registration
        The refined registration (``None`` when refused).
    quality
        The test against unrelated content (see :class:`Registration`).
    """

    verdict: Literal["ok", "refine", "refuse"]
    message: str
    residual_rms_px: float
    residual_corner_px: float
    shift_px: tuple[float, float]
    rotation_deg: float
    registration: Registration | None
    quality: dict


def check_registration(lr_maps, photo_on_grid, scale: int, *, transform: str = "similarity",
                       tolerance: float = TOLERANCE, alpha: float = ALPHA) -> RegistrationCheck:
    """Check that a photo on the scan's grid (``scale`` times the maps) really lies on it.

    The photo must explain the scan significantly better than turned, mirrored and
    rolled copies of itself at the same place (refused otherwise: another painting, a
    mirrored photo, a crop of another area). Its residual misplacement is then
    estimated by the same sub-pixel refinement as :func:`register_photo`, starting on
    the grid.

    Parameters
    ----------
    lr_maps
        ``(B, h, w)`` element maps.
    photo_on_grid
        ``(scale*h, scale*w, 3)`` photo.
    scale
        Its whole-number scale.
    transform
        Kind of the refinement (``"similarity"``, ``"affine"``, ``"homography"``).
    tolerance
        Residual (photo pixels, RMS over the scan) below which the verdict is ``"ok"``.
    alpha
        Significance level of the test.
    """
    kind = check_kind(transform)
    s = check_scale(scale)
    if s is None:
        raise InputError("check_registration needs the photo's scale (a whole number).")
    maps = check_maps(lr_maps)
    photo = check_photo(photo_on_grid)
    h, w = maps.shape[-2:]
    if photo.shape[:2] != (s * h, s * w):
        raise InputError(
            f"The photo ({photo.shape[0]} x {photo.shape[1]}) is not {s} times the maps "
            f"({h} x {w}), so it is not on the scan's grid at scale {s}. Register it with "
            "register_photo, which takes a photo of any size."
        )
    ctx = prepare(maps, photo)
    grid = Warp.from_lr_matrix(lr_to_hr(s), (h, w))
    sig, best_variant, variant_scores = placement_test(ctx, grid)
    significant = sig.significant(alpha) and best_variant == "as is"
    quality = {**sig.to_dict(), "significant": significant, "alpha": alpha,
               "variant_scores": variant_scores}
    if not significant:
        if best_variant != "as is" and not significance(
                variant_scores[best_variant], sig.null_scores).significant(alpha):
            best_variant = "as is"  # a turned copy beat it by chance: no claim of a turn
        return RegistrationCheck("refuse", refusal(sig, best_variant, variant_scores),
                                 float("nan"), float("nan"), (float("nan"), float("nan")),
                                 float("nan"), None, quality)
    fit_colours(ctx, grid)
    reweight_bands(ctx, grid)
    sol, log = refine_levels(ctx, grid, kind)
    reg = finish(ctx, sol, kind, s, sig, significant, alpha, {"levels": log, "search": {
        "test": "placement", "variant_scores": variant_scores}})
    pts = geometry.grid_points((h, w), 17)
    rms, worst, shift, rotation = _offset(reg, grid, pts)
    detail = (f"shift ({shift[0]:+.2f}, {shift[1]:+.2f}) photo px at the centre, rotation "
              f"{rotation:+.3f} degrees; {rms:.2f} px RMS, {worst:.2f} px at the worst corner")
    limit = _limit(ctx, grid, kind, pts, reg, rms, tolerance)
    if rms < limit:
        verdict, message = "ok", (f"The photo lies on the scan's grid ({detail}; within "
                                  f"{limit:.2f} px, left as it is).")
    else:
        verdict = "refine"
        # placed by the whole-scan fit of fine detail, as register_photo places a photo
        final, last = polish(ctx, sol.warp, kind)
        reg = finish(ctx, final, kind, s, sig, significant, alpha, {
            **reg.details, "levels": [*log, last]})
        message = (f"The photo was off the scan's grid ({detail}); it was registered again "
                   f"({reg.error_text()}).")
    reg.notes = (*reg.notes, message)
    return RegistrationCheck(verdict, message, rms, worst, (float(shift[0]), float(shift[1])),
                             rotation, reg, quality)


def _offset(reg: Registration, grid: Warp, pts: np.ndarray
            ) -> tuple[float, float, np.ndarray, float]:
    """How far ``reg`` is from the grid: RMS and worst corner (photo px), shift, rotation."""
    diff = geometry.displacement(reg.lr_matrix, grid.lr_matrix, pts)
    corner = geometry.displacement(reg.lr_matrix, grid.lr_matrix, geometry.corners(grid.shape))
    h, w = grid.shape
    centre = np.array([[(w - 1) / 2, (h - 1) / 2]])
    shift = geometry.apply(reg.lr_matrix, centre)[0] - geometry.apply(grid.lr_matrix, centre)[0]
    m = reg.matrix
    rotation = float(np.degrees(np.arctan2(m[1, 0] - m[0, 1], m[0, 0] + m[1, 1])))
    return float(np.sqrt(np.mean(diff**2))), float(corner.max()), shift, rotation


def _limit(ctx, grid: Warp, kind: str, pts: np.ndarray, reg: Registration, rms: float,
           tolerance: float) -> float:
    """The residual (photo px RMS) below which an on-grid photo is left as it is.

    An offset the refinement cannot tell from its own error is no reason to resample
    the photo: that would add the refinement's error to a photo that was right.
    """
    limit = max(tolerance, SIGNIFICANT_ERRORS * reg.error_rms_px)
    if rms >= limit:
        # the estimated error misses the colour model's misfit, which follows the
        # painting's content: the two halves of the checkerboard, fitted apart, show it
        limit = max(limit, HALVES_FACTOR * _halves_disagree(ctx, grid, kind, pts))
    return limit


def _halves_disagree(ctx, grid: Warp, kind: str, pts: np.ndarray) -> float:
    """RMS distance (photo px) between the placements fitted on each checkerboard half.

    The halves share no scan pixels, so their disagreement measures the estimate's
    real error, the colour model's misfit included (which the curvature-based
    estimate leaves out).
    """
    placed = []
    for half in (0, 1):
        sol, _ = refine_levels(ctx, grid, kind, half=half)
        placed.append(geometry.apply(sol.warp.lr_matrix, pts))
    return float(np.sqrt(np.mean(np.sum((placed[0] - placed[1]) ** 2, axis=1))))
