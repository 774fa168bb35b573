"""Coarse search: scale, rotation and offset, with the same criterion, by FFT.

On a coarse level of the scan (about 64 pixels across), the photo is resampled onto a
canvas of coarse-scan-sized pixels for each candidate scale and rotation; the colour
features' explained variance of the scan is then computed for *every* offset at once:
the cross terms (scan x feature) by FFT correlation, the feature Gram matrices by
summed-area tables, and one small least-squares solve per offset. The same search run
on mirrored, turned and rolled copies of the photo gives the null: what a photo that
does not show the scanned area explains after the same search.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import fft as sfft
from scipy import stats
from scipy.ndimage import gaussian_filter

from . import model
from .geometry import Warp
from .model import ColourModel, shading_terms
from .pyramid import PhotoPyramid, level_coords, sample

#: Coarse scan size (pixels along the longer side) of the search.
COARSE_SIDE = 64
#: Share of the scan that the photo must cover at a candidate offset.
MIN_COVER = 0.8


def coarse_factor(shape: tuple[int, int], side: int = COARSE_SIDE) -> int:
    """Power-of-two block factor that brings the scan to about ``side`` pixels."""
    d = 1
    while max(shape) / (2 * d) >= side:
        d *= 2
    return d


def detrended(z: np.ndarray) -> np.ndarray:
    """``(k, h, w)`` minus its best constant-plus-quadratic fit in the position."""
    k, h, w = z.shape
    yy, xx = np.mgrid[0:h, 0:w]
    half = max(h, w) / 2
    q = np.stack([(xx.ravel() - (w - 1) / 2) / half, (yy.ravel() - (h - 1) / 2) / half], 1)
    a = np.concatenate([np.ones((h * w, 1)), shading_terms(q)], axis=1)
    flat = z.reshape(k, -1).T
    coef, *_ = np.linalg.lstsq(a, flat, rcond=None)
    return (flat - a @ coef).T.reshape(k, h, w)


@dataclass
class Canvas:
    """Colour features of the photo on a grid of coarse-scan-sized pixels."""

    feats: np.ndarray  # (10, Hc, Wc): coverage, then coverage-weighted features
    a: float  # photo pixels per canvas pixel
    phi: float  # rotation, radians
    centre_photo: np.ndarray  # photo (x, y) of the canvas centre
    inner: tuple[int, int, int, int]  # rows/cols of the canvas fully on the photo (phi=0)

    def matrix(self) -> np.ndarray:
        """3x3: canvas ``(x, y)`` -> photo ``(x, y)``."""
        hc, wc = self.feats.shape[1:]
        c, s = np.cos(self.phi), np.sin(self.phi)
        lin = self.a * np.array([[c, -s], [s, c]])
        cc = np.array([(wc - 1) / 2, (hc - 1) / 2])
        m = np.eye(3)
        m[:2, :2] = lin
        m[:2, 2] = self.centre_photo - lin @ cc
        return m


#: Photo points read at a time by :func:`features_on_grid` (bounds its memory).
_POINTS_PER_BAND = 131072


def features_on_grid(pyr: PhotoPyramid, colour: ColourModel, m: np.ndarray,
                     shape: tuple[int, int], a: float, n_target: int = 2) -> np.ndarray:
    """The photo's colour features averaged over the pixels of a grid.

    ``m``: 3x3, grid ``(x, y)`` -> photo ``(x, y)``; ``a``: photo pixels per grid pixel.
    Returns ``(F, rows, cols)``; feature 0 is the share of the pixel on the photo, the
    others are weighted by it (zero off the photo).
    """
    hc, wc = shape
    lev = max(0, int(np.floor(np.log2(a / n_target) + 0.05))) if a > n_target else 0
    n = int(np.clip(np.ceil(a / 2.0**lev), 1, 6))
    off = (np.arange(n) + 0.5) / n - 0.5
    oy, ox = np.meshgrid(off, off, indexing="ij")
    out = np.empty((colour.n_features, hc, wc), np.float32)
    # bands of rows: the points' features are n * n times the result's size
    step = max(1, _POINTS_PER_BAND // (wc * n * n))
    for r0 in range(0, hc, step):
        r1 = min(hc, r0 + step)
        yy, xx = np.mgrid[r0:r1, 0:wc]
        pts = np.stack([xx.ravel()[:, None] + ox.ravel(), yy.ravel()[:, None] + oy.ravel()],
                       -1).reshape(-1, 2)
        w = pts @ m[:, :2].T + m[:, 2]
        p = w[:, :2] / w[:, 2:3]
        rgb, _, inside = sample(pyr, lev, level_coords(p, lev), slopes=False, smooth=0.0,
                                margin=0.0)
        f, _ = colour.features(rgb)
        f *= inside[:, None]
        out[:, r0:r1] = f.reshape(-1, n * n, f.shape[1]).mean(axis=1).T.reshape(-1, r1 - r0, wc)
    return out


def make_canvas(pyr: PhotoPyramid, colour: ColourModel, a: float, phi: float = 0.0,
                pad: int = 8) -> Canvas:
    """Resample the photo's features to pixels of ``a`` photo pixels, turned by ``phi``."""
    big_h, big_w = pyr.shape
    c, s = abs(np.cos(phi)), abs(np.sin(phi))
    wc = int(np.ceil((big_w * c + big_h * s) / a)) + 2 * pad
    hc = int(np.ceil((big_w * s + big_h * c) / a)) + 2 * pad
    centre = np.array([(big_w - 1) / 2, (big_h - 1) / 2])
    canvas = Canvas(np.zeros((1, hc, wc)), a, phi, centre, (0, 0, 0, 0))
    feats = features_on_grid(pyr, colour, canvas.matrix(), (hc, wc), a)
    # rows/cols wholly on the photo (for rolling the photo's content, at phi = 0)
    full = feats[0] > 0.999
    rows, cols = np.flatnonzero(full.any(axis=1)), np.flatnonzero(full.any(axis=0))
    inner = (int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1) \
        if full.any() else (0, hc, 0, wc)
    canvas.feats, canvas.inner = feats, inner
    return canvas


def _running(img: np.ndarray, n: int) -> np.ndarray:
    """Sums of ``n`` consecutive entries along axis 1 of ``(P, H, W)``: ``(P, H-n+1, W)``.

    A loop over rows of whole slabs: much faster than ``np.cumsum`` on a middle axis.
    """
    c = np.zeros((img.shape[0], img.shape[1] + 1, img.shape[2]), img.dtype)
    for r in range(img.shape[1]):
        np.add(c[:, r], img[:, r], out=c[:, r + 1])
    return c[:, n:] - c[:, :-n]


def _box_sums(img: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """Sums of ``(P, H, W)`` over every ``hw`` window: ``(P, H-h+1, W-w+1)``."""
    rows = np.ascontiguousarray(np.swapaxes(_running(img, hw[0]), 1, 2))
    return np.swapaxes(_running(rows, hw[1]), 1, 2)


def highpass(a: np.ndarray, sigma: float) -> np.ndarray:
    """``(c, h, w)`` minus its Gaussian blur of ``sigma`` pixels (per channel)."""
    if sigma <= 0:
        return a
    return a - gaussian_filter(a, (0, sigma, sigma), mode="nearest")


def shift_search(feats: np.ndarray, z: np.ndarray, min_cover: float = MIN_COVER,
                 sigma: float | None = None) -> np.ndarray:
    """Explained variance of ``z`` ``(k, h, w)`` at every offset of it on ``feats``.

    ``feats``: coverage, then features (:func:`features_on_grid`). Both are high-pass
    filtered first (``sigma``, default: a twentieth of the scan's longer side): the
    broad shapes of a painting (a dark half, a light sky) are matched by chance in many
    places, its detail only in the right one. Returns ``(Hc-h+1, Wc-w+1)``; offsets
    where the photo covers less than ``min_cover`` of the scan hold ``-inf``.
    """
    k, h, w = z.shape
    sigma = max(h, w) / 21.0 if sigma is None else sigma
    z = highpass(z, sigma)
    feats = np.concatenate([feats[:1], highpass(feats[1:], sigma)])
    _, hc, wc = feats.shape
    if hc < h or wc < w:
        ph, pw = max(0, h - hc), max(0, w - wc)
        feats = np.pad(feats, [(0, 0), (ph // 2 + 1, ph - ph // 2 + 1),
                               (pw // 2 + 1, pw - pw // 2 + 1)])
        hc, wc = feats.shape[1:]
    f = np.concatenate([np.ones((1, hc, wc)), feats]).astype(np.float64)
    nf = len(f)
    iu = np.triu_indices(nf)
    gram_flat = _box_sums(f[iu[0]] * f[iu[1]], (h, w))  # float64: differences of sums
    ny, nx = gram_flat.shape[1:]
    shape = (hc, wc)
    fh = sfft.rfft2(f, s=shape, workers=-1)
    zh = sfft.rfft2(z.astype(np.float32), s=shape, workers=-1)
    cross = sfft.irfft2(fh[:, None] * np.conj(zh[None]), s=shape, workers=-1)[:, :, :ny, :nx]
    gram = np.empty((ny, nx, nf, nf))
    gram[:, :, iu[0], iu[1]] = np.moveaxis(gram_flat, 0, -1)
    gram[:, :, iu[1], iu[0]] = np.moveaxis(gram_flat, 0, -1)
    rhs = np.moveaxis(cross, (0, 1), (2, 3)).astype(np.float64)  # (ny, nx, nf, k)
    diag = np.einsum("...ii->...i", gram)
    gram = gram + (1e-6 * diag + 1e-9)[..., None] * np.eye(nf)
    beta = np.linalg.solve(gram, rhs)
    return _score(np.einsum("yxfk,yxfk->yxk", beta, rhs), np.sum(z**2, axis=(1, 2)),
                  gram_flat[1] / (h * w) >= min_cover)


def _score(explained: np.ndarray, total: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Mean over the maps of ``-log(1 - R^2)``: the criterion of the search.

    With each map's misfit variance unknown, this is the log-likelihood gain of the
    colour model (per map and pixel, up to a factor): a map that the photo explains
    well counts much more than one it hardly explains (hidden layers, retouchings).
    """
    keep = total > 0
    r2 = explained[..., keep] / total[keep]
    score = -np.log(np.clip(1.0 - r2, 1e-3, None)).mean(axis=-1)
    score[~ok | ~np.all(r2 <= 1.0 + 1e-9, axis=-1)] = -np.inf
    return score


def peak(r2: np.ndarray) -> tuple[float, float, float]:
    """``(row, col, value)`` of the maximum, with a parabolic sub-pixel estimate."""
    i, j = np.unravel_index(int(np.argmax(r2)), r2.shape)
    best = float(r2[i, j])

    def _vertex(lo, mid, hi):
        den = lo - 2 * mid + hi
        if not (np.isfinite(lo) and np.isfinite(hi)) or den >= 0:
            return 0.0
        return float(np.clip(0.5 * (lo - hi) / den, -0.5, 0.5))

    di = _vertex(r2[i - 1, j], best, r2[i + 1, j]) if 0 < i < r2.shape[0] - 1 else 0.0
    dj = _vertex(r2[i, j - 1], best, r2[i, j + 1]) if 0 < j < r2.shape[1] - 1 else 0.0
    return i + di, j + dj, best


def warp_from_peak(canvas: Canvas, row: float, col: float, d: int,
                   shape: tuple[int, int]) -> Warp:
    """The warp that puts coarse scan pixel ``(0, 0)`` on canvas ``(row, col)``."""
    # LR (x, y) -> coarse (x, y): (u - (d-1)/2) / d ; coarse -> canvas: + (col, row)
    to_coarse = np.array([[1 / d, 0, -(d - 1) / 2 / d + col], [0, 1 / d, -(d - 1) / 2 / d + row],
                          [0, 0, 1.0]])
    return Warp.from_lr_matrix(canvas.matrix() @ to_coarse, shape, "similarity")


#: The eight turns and mirrors of an image, as functions of a ``(..., H, W)`` array.
DIHEDRAL = {
    "as is": lambda a: a,
    "mirrored left-right": lambda a: a[..., ::-1],
    "upside down (mirrored top-bottom)": lambda a: a[..., ::-1, :],
    "turned 180 degrees": lambda a: a[..., ::-1, ::-1],
    "transposed": lambda a: np.swapaxes(a, -1, -2),
    "turned 90 degrees clockwise": lambda a: np.swapaxes(a, -1, -2)[..., ::-1],
    "turned 90 degrees anticlockwise": lambda a: np.swapaxes(a, -1, -2)[..., ::-1, :],
    "transposed and turned 180 degrees": lambda a: np.swapaxes(a, -1, -2)[..., ::-1, ::-1],
}


def rolled(feats: np.ndarray, inner: tuple[int, int, int, int], fy: float,
           fx: float) -> np.ndarray:
    """The photo's part of the canvas rolled (cyclically) by fractions of its size."""
    r0, r1, c0, c1 = inner
    out = feats.copy()
    part = out[:, r0:r1, c0:c1]
    out[:, r0:r1, c0:c1] = np.roll(part, (int(fy * (r1 - r0)), int(fx * (c1 - c0))),
                                   axis=(1, 2))
    return out


@dataclass
class Significance:
    """How the found placement compares with placements of unrelated content."""

    score: float
    null_scores: list[float]
    t: float
    p_value: float

    @property
    def null_max(self) -> float:
        """The best score of content that cannot match."""
        return float(np.max(self.null_scores))

    def significant(self, alpha: float) -> bool:
        """Significant at level ``alpha``, and above every null score."""
        return self.p_value < alpha and self.score > self.null_max

    def to_dict(self) -> dict:
        """JSON-able summary."""
        return {"score": self.score,
                "null_score_mean": float(np.mean(self.null_scores)),
                "null_score_max": self.null_max,
                "n_null": len(self.null_scores), "t": self.t, "p_value": self.p_value}


def significance(score: float, null_scores) -> Significance:
    """One-sided test of ``score`` against ``null_scores`` (logarithms, Student's t).

    The null values are a sample of the statistic for content that cannot match (the
    same search on turned, mirrored and rolled copies of the photo); the observed
    value is tested as a new draw from their distribution (prediction interval), so the
    test needs no constant fitted to our cases, only its significance level.
    """
    null = np.asarray([v for v in null_scores if np.isfinite(v) and v > 0], np.float64)
    if len(null) < 3 or not (np.isfinite(score) and score > 0):
        return Significance(float(score), null.tolist() or [0.0], float("nan"), 1.0)
    ln = np.log(null)
    sd = max(float(ln.std(ddof=1)), 1e-6)
    t = float((np.log(score) - ln.mean()) / (sd * np.sqrt(1 + 1 / len(ln))))
    return Significance(float(score), null.tolist(), t, float(stats.t.sf(t, len(ln) - 1)))


def _variants(canvas: Canvas) -> dict[str, np.ndarray]:
    """The canvas's features as they are, and 15 copies that cannot match the scan.

    The seven other turns and mirrors of the photo, and the eight turns and mirrors of
    the photo rolled cyclically by half its size.
    """
    roll = rolled(canvas.feats, canvas.inner, 0.5, 0.5)
    out = {name: op(canvas.feats) for name, op in DIHEDRAL.items()}
    out.update({f"rolled, {name}": op(roll) for name, op in DIHEDRAL.items()})
    return out


@dataclass
class SearchResult:
    """The coarse search's best placement and the test against the nulls."""

    warp: Warp
    score: float
    rho: float  # photo pixels per scan pixel
    phi: float  # rotation, degrees
    significance: Significance
    best_variant: str  # the turn/mirror of the photo that explains the scan best
    variant_scores: dict[str, float]


def coarse_search(pyr: PhotoPyramid, colour: ColourModel, scan, shape: tuple[int, int],
                  rho0: float, *, scale_range: tuple[float, float] = (0.5, 1.1),
                  scale_step: float = 1.06, max_rotation: float = 6.0,
                  rotation_step: float = 2.0) -> SearchResult:
    """Search scale, offset and rotation of the photo over coarse levels of the scan.

    Parameters
    ----------
    scan
        The :class:`~.scan.ScanData`.
    shape
        ``(h, w)`` of the full scan.
    rho0
        Photo pixels per scan pixel if the photo just covered the scan; the search
        looks at ``rho0 * scale_range``.

    First, on the scan brought to about 32 pixels, every scale and offset (unturned) for
    the photo and for 15 copies of it that cannot match (turned, mirrored, rolled by
    half): the test compares the photo's best explained variance with theirs, found by
    the same search. Then, on the scan at about 64 pixels, the photo alone: the best
    scale and its neighbours, turned by up to ``max_rotation`` degrees.
    """
    d_a = coarse_factor(shape, COARSE_SIDE // 2)
    z_a = scan.search_level(d_a)
    lo, hi = scale_range
    n = max(1, int(np.ceil(np.log(hi / lo) / np.log(scale_step))) + 1)
    rhos = rho0 * np.geomspace(lo, hi, n)
    variant_scores: dict[str, float] = {}
    best_rho: dict[str, float] = {}
    for rho in rhos:
        canvas = make_canvas(pyr, colour, d_a * rho, pad=4)
        for name, feats in _variants(canvas).items():
            r2 = shift_search(feats, z_a)
            val = float(r2.max()) if np.isfinite(r2).any() else -np.inf
            if val > variant_scores.get(name, -np.inf):
                variant_scores[name], best_rho[name] = val, float(rho)
    sig = significance(variant_scores["as is"],
                       [v for k, v in variant_scores.items() if k != "as is"])
    dihedral = {k: variant_scores[k] for k in DIHEDRAL}
    best_variant = max(dihedral, key=dihedral.get)
    # finer: around the best scale, turned
    d_b = coarse_factor(shape, COARSE_SIDE)
    z_b = scan.search_level(d_b)
    angles = np.arange(-max_rotation, max_rotation + 1e-9, rotation_step)
    cands = []
    for k in (-1.0, -0.5, 0.0, 0.5, 1.0):
        rho = best_rho["as is"] * scale_step**k
        for ang in angles:
            canvas = make_canvas(pyr, colour, d_b * rho, np.radians(ang))
            r2 = shift_search(canvas.feats, z_b)
            if np.isfinite(r2).any():
                pi, pj, val = peak(r2)
                cands.append((val, rho, float(ang), pi, pj))
    val, rho, ang, i, j = max(cands, key=lambda c: c[0])
    canvas = make_canvas(pyr, colour, d_b * rho, np.radians(ang))
    warp = warp_from_peak(canvas, i, j, d_b, shape)
    return SearchResult(warp, float(val), float(rho), float(ang), sig, best_variant,
                        variant_scores)


def window_score(feats: np.ndarray, z: np.ndarray, sigma: float,
                 mask: np.ndarray | None = None) -> float:
    """The search's score of ``z`` ``(k, h, w)`` by features on the same grid (no offsets).

    ``mask`` ``(h, w)``: the pixels that count (after the high-pass filter).
    """
    z = highpass(z, sigma).reshape(len(z), -1).T
    f = np.concatenate([np.ones((1, *feats.shape[1:])), feats[:1],
                        highpass(feats[1:], sigma)]).reshape(len(feats) + 1, -1).T
    keep = feats[0].ravel() > 0.999
    if mask is not None:
        keep &= mask.ravel()
    if keep.sum() < 4 * f.shape[1]:
        return -np.inf
    z, f = z[keep], f[keep]
    total = np.sum((z - z.mean(axis=0)) ** 2, axis=0)
    fit = model.fit(f, z)
    explained = total - np.sum(fit.resid**2, axis=0)
    return float(_score(explained[None], total, np.array([True]))[0])


#: Offsets (level pixels) of the shifted copies that make the null of the placement test.
NULL_RADII = (6, 8, 10, 12, 14, 16)
NULL_DIRECTIONS = 12


def placement_significance(feats: np.ndarray, z: np.ndarray, sigma: float = 1.0,
                           mask: np.ndarray | None = None
                           ) -> tuple[Significance, str, dict[str, float]]:
    """Test a fixed placement: ``feats`` ``(F, h, w)`` is the photo on a level of the scan.

    The score is that of the finest detail (high-pass ``sigma`` pixels). The null is
    the same photo shifted by a few pixels (:data:`NULL_RADII`, in
    :data:`NULL_DIRECTIONS` directions): it keeps where the photo's busy and quiet
    parts lie (which a search over the broad shapes may have lined up with the scan's
    by chance) but not the match of the detail. The turned and mirrored copies (those
    with the scan's shape) are scored too, to tell a mirrored photo. ``mask``: the
    scan pixels that count.
    """
    h, w = z.shape[1:]
    obs = window_score(feats, z, sigma, mask)
    null = []
    for r in NULL_RADII:
        for k in range(NULL_DIRECTIONS):
            a = 2 * np.pi * (k + 0.5 * (r % 2)) / NULL_DIRECTIONS
            dy, dx = int(round(r * np.sin(a))), int(round(r * np.cos(a)))
            null.append(window_score(np.roll(feats, (dy, dx), axis=(1, 2)), z, sigma, mask))
    variant_scores = {"as is": obs}
    for name, op in DIHEDRAL.items():
        base = op(feats)
        if name != "as is" and base.shape[1:] == (h, w):
            variant_scores[name] = window_score(base, z, sigma, mask)
    best_variant = max(variant_scores, key=variant_scores.get)
    return significance(obs, null), best_variant, variant_scores
