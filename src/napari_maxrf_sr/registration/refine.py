"""Sub-pixel refinement: Gauss-Newton (Levenberg-Marquardt) on the explained variance.

At each level of a coarse-to-fine schedule, every scan pixel (or, on big scans, every
pixel of a set of tiles spread over the scan, corners included) is covered by
``n x n`` points of the photo; the points are mapped through the warp, the photo's
colours and slopes are read there (:func:`.pyramid.sample`) and averaged per scan
pixel. The colour model is fitted in closed form, and the warp's step solves the
linearised least-squares problem of the residual (variable projection).

The last, whole-scan fit of a registration (``register.polish``) high-passes the
residual over the scan's grid before squaring it (:func:`highpass`: a Gaussian mean of
:data:`HIGHPASS_SIGMA` level pixels taken off): what the photo cannot explain (hidden
layers, retouchings, pigments the colours do not tell apart) is mostly broad shapes, and
broad misfit pulls the placement as much as the edges that fix it. That fit places the
photo by the scan's fine detail, where the registration's information is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter

from . import model
from .geometry import Warp, frame
from .model import ColourModel
from .pyramid import PhotoPyramid, level_coords, sample
from .scan import ScanData

_SAMPLES_PER_CHUNK = 65536  # photo points read at a time (bounds the memory)
_CLUSTER = 8  # scan pixels per side of a block of the error estimate's clusters
_ROW, _TILE = 100003, 10**10  # pixel id = tile * _TILE + row * _ROW + column
#: Gaussian (level pixels) whose local mean the last fit takes off the residual.
HIGHPASS_SIGMA = 1.0


@dataclass
class LevelSpec:
    """Where and how finely one level of the schedule reads the scan and the photo."""

    d: int  # scan block-mean factor
    photo_level: int
    n: int  # photo points per scan pixel side
    tiles: list[tuple[int, int, int, int]]  # (r0, r1, c0, c1) in level pixels
    half: int | None = None  # read only the squares of this colour of the checkerboard

    @property
    def n_pixels(self) -> int:
        """Scan pixels (of the level) read."""
        return sum((r1 - r0) * (c1 - c0) for r0, r1, c0, c1 in self.tiles)


def plan_level(shape: tuple[int, int], d: int, rho: float, max_pixels: int,
               n_target: int | None = 2, max_n: int = 8, grid: int = 4) -> LevelSpec:
    """Choose the photo level, the points per pixel and the tiles for scan level ``d``.

    ``rho``: photo pixels per scan pixel. The photo level is the coarsest with at least
    ``n_target`` of its pixels across a level pixel (``None``: the finest with at most
    ``max_n``, i.e. the photo's full resolution where it allows); above ``max_pixels``
    scan pixels a ``grid x grid`` set of tiles (corners included) stands for the scan.
    """
    a = d * max(rho, 1e-6)
    if n_target is None:
        lev = max(0, int(np.ceil(np.log2(a / max_n) - 0.05)))
    else:
        lev = max(0, int(np.floor(np.log2(a / n_target) + 0.05))) if a > n_target else 0
    n = int(np.clip(np.ceil(a / 2.0**lev - 0.05), 1, max_n))
    hl, wl = shape[0] // d, shape[1] // d
    if hl * wl <= max_pixels:
        return LevelSpec(d, lev, n, [(0, hl, 0, wl)])
    t = int(np.sqrt(max_pixels / grid**2))
    th, tw = min(t, hl // grid), min(t, wl // grid)
    rows = np.linspace(0, hl - th, grid).round().astype(int)
    cols = np.linspace(0, wl - tw, grid).round().astype(int)
    return LevelSpec(d, lev, n, [(r, r + th, c, c + tw) for r in rows for c in cols])


#: Squares of the checkerboard that splits the scan in two halves (per side).
SQUARES = 8


def checkerboard(xy: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Colour (0 or 1) of the checkerboard square under LR points ``(n, 2)``.

    The registration is fitted on one colour and tested on the other: a placement
    fitted to one half of the scan has not been chosen for the other half's detail.
    """
    h, w = shape
    i = np.floor((xy[:, 1] + 0.5) * SQUARES / h).astype(int)
    j = np.floor((xy[:, 0] + 0.5) * SQUARES / w).astype(int)
    return (i + j) % 2


@dataclass
class Evaluation:
    """Per scan pixel (valid ones only): features, their derivatives, the scan, positions."""

    f: np.ndarray  # (N, 10)
    g: np.ndarray | None  # (N, 10, P)
    z: np.ndarray  # (N, k)
    q: np.ndarray  # (N, 2) normalised positions of the pixel centres
    cluster: np.ndarray  # (N,) block ids for the error estimate
    ids: np.ndarray  # (N,) pixel ids (tile, row, column)
    n_total: int  # pixels looked at, valid or not


def evaluate(warp: Warp, scan: ScanData, pyr: PhotoPyramid, colour: ColourModel,
             spec: LevelSpec, *, jac: bool = True) -> Evaluation:
    """Read the photo through ``warp`` for every pixel of ``spec``'s tiles."""
    d, lev, n = spec.d, spec.photo_level, spec.n
    fr = frame(scan.shape)
    off = d * ((np.arange(n) + 0.5) / n - 0.5)
    oy, ox = np.meshgrid(off, off, indexing="ij")
    sub = np.stack([ox.ravel(), oy.ravel()], axis=1)  # (n*n, 2)
    fs, gs, zs, qs, cs, ids = [], [], [], [], [], []
    total = 0
    for ti, (r0, r1, c0, c1) in enumerate(spec.tiles):
        z_tile = scan.region(d, r0, r1, c0, c1)
        step = max(1, _SAMPLES_PER_CHUNK // max(1, (c1 - c0) * n * n))
        for a0 in range(r0, r1, step):
            a1 = min(r1, a0 + step)
            rr, cc = np.meshgrid(np.arange(a0, a1), np.arange(c0, c1), indexing="ij")
            centres = np.stack([d * cc.ravel() + (d - 1) / 2, d * rr.ravel() + (d - 1) / 2], 1)
            pts = (centres[:, None, :] + sub[None]).reshape(-1, 2)
            q = pts @ fr[:2, :2].T + fr[:2, 2]
            p = warp.photo_points(q)
            rgb, grad, inside = sample(pyr, lev, level_coords(p, lev), slopes=jac)
            f, df = colour.features(rgb, grad)
            npix = len(centres)
            qc = centres @ fr[:2, :2].T + fr[:2, 2]
            valid = inside.reshape(npix, n * n).all(axis=1)
            if spec.half is not None:
                valid &= checkerboard(centres, scan.shape) == spec.half
            total += npix
            fs.append(f.reshape(npix, n * n, -1).mean(axis=1)[valid])
            if jac:
                # the warp's Jacobian hardly changes inside a pixel: taken at its centre
                _, dp = warp.jacobian(qc[valid])
                dxy = df.reshape(npix, n * n, *df.shape[1:]).mean(axis=1)[valid]
                gs.append(np.einsum("nxf,nxp->nfp", dxy, dp / 2.0**lev).astype(np.float32))
            zs.append(z_tile[:, a0 - r0 : a1 - r0].reshape(z_tile.shape[0], -1).T[valid])
            qs.append(qc[valid])
            block = (rr.ravel() // _CLUSTER) * _ROW + cc.ravel() // _CLUSTER + ti * _TILE
            cs.append(block[valid])
            ids.append((rr.ravel() * _ROW + cc.ravel() + ti * _TILE)[valid])
    return Evaluation(np.concatenate(fs), np.concatenate(gs) if jac else None,
                      np.concatenate(zs), np.concatenate(qs), np.concatenate(cs),
                      np.concatenate(ids), total)


def highpass(values: np.ndarray, ids: np.ndarray, spec: LevelSpec,
             sigma: float = HIGHPASS_SIGMA) -> np.ndarray:
    """``values`` ``(N, ...)`` per pixel minus their local mean over each tile's grid.

    The local mean is a Gaussian of ``sigma`` level pixels over the valid pixels only
    (normalised convolution), so pixels outside the photo or on the other half of the
    checkerboard do not leak in. Linear: applied to the scan and to the model's
    regressors and derivatives alike, it high-passes the residual.
    """
    if sigma <= 0:
        return values
    flat = values.reshape(len(values), -1)
    out = np.empty(flat.shape, np.float64)
    tile, rem = np.divmod(ids, _TILE)
    row, col = np.divmod(rem, _ROW)
    for ti, (r0, r1, c0, c1) in enumerate(spec.tiles):
        sel = np.flatnonzero(tile == ti)
        if len(sel) == 0:
            continue
        rr, cc = row[sel] - r0, col[sel] - c0
        mask = np.zeros((r1 - r0, c1 - c0))
        mask[rr, cc] = 1.0
        weight = np.maximum(gaussian_filter(mask, sigma, mode="constant"), 1e-6)
        grid = np.zeros((flat.shape[1], r1 - r0, c1 - c0))
        grid[:, rr, cc] = flat[sel].T
        local = gaussian_filter(grid, (0, sigma, sigma), mode="constant")[:, rr, cc]
        out[sel] = flat[sel] - (local / weight[rr, cc]).T
    return out.reshape(values.shape)


@dataclass
class Solution:
    """A converged level: the warp, its fit and what the error estimate needs."""

    warp: Warp
    fit: model.Fit
    jac: np.ndarray  # (N, k, P) residual Jacobian at the solution
    cluster: np.ndarray
    iterations: int
    n_valid: int
    n_total: int
    ids: np.ndarray
    sw: np.ndarray  # square roots of the pixels' weights

    @property
    def r2(self) -> float:
        """Share of the scan's variance the photo explains."""
        return self.fit.r2

    def covariance(self) -> np.ndarray:
        """Cluster-robust (sandwich) covariance of the warp's parameters.

        Residuals of neighbouring pixels are correlated (the model's misfit follows the
        painting's shapes); summing the scores over blocks of pixels before taking their
        spread accounts for that.
        """
        j, r = self.jac, self.fit.resid
        bread = np.einsum("nbp,nbq->pq", j, j)
        scores = np.einsum("nbp,nb->np", j, r)
        _, inv = np.unique(self.cluster, return_inverse=True)
        per = np.zeros((inv.max() + 1, scores.shape[1]))
        np.add.at(per, inv, scores)
        m = len(per)
        meat = per.T @ per * (m / max(m - 1, 1))
        b_inv = np.linalg.pinv(bread)
        return b_inv @ meat @ b_inv


class Weights:
    """Per-pixel weights of the criterion, looked up by pixel id (1 where unknown)."""

    def __init__(self, ids: np.ndarray, values: np.ndarray):
        order = np.argsort(ids)
        self.ids, self.values = ids[order], values[order]

    def __call__(self, ids: np.ndarray) -> np.ndarray:
        """The weights of pixels ``ids``."""
        pos = np.clip(np.searchsorted(self.ids, ids), 0, len(self.ids) - 1)
        return np.where(self.ids[pos] == ids, self.values[pos], 1.0)

    @classmethod
    def robust(cls, ids: np.ndarray, resid: np.ndarray, c: float = 2.0) -> Weights:
        """Cauchy weights of the residual: pixels the photo cannot explain count less.

        Hidden layers, retouchings and damage are in the scan and not in the photo; they
        carry no information on the placement but pull on it. ``c``: in units of the
        median residual (about the typical misfit).
        """
        e = np.einsum("nb,nb->n", resid, resid)
        return cls(ids, 1.0 / (1.0 + e / (c**2 * max(float(np.median(e)), 1e-12))))


def _solve(warp, scan, pyr, colour, spec, shading, hp, weights=None):
    ev = evaluate(warp, scan, pyr, colour, spec, jac=True)
    if len(ev.z) < 2 * (colour.n_features * 2 + model.N_SHADED * model.N_SHADING):
        return None, ev, None
    sw = np.ones(len(ev.z)) if weights is None else np.sqrt(weights(ev.ids))
    f = highpass(model.design(ev.f, ev.q, shading), ev.ids, spec, hp) * sw[:, None]
    fitted = model.fit(f, highpass(ev.z, ev.ids, spec, hp) * sw[:, None])
    return fitted, ev, sw


def _jacobian(ev, fitted, spec, shading, hp, sw):
    """The residual's derivative by the warp, high-passed and weighted as the residual."""
    a = model.design_jac_times(ev.g, ev.q, fitted.beta, shading)
    return model.residual_jacobian(fitted, highpass(a, ev.ids, spec, hp) * sw[:, None, None])


def refine(warp: Warp, scan: ScanData, pyr: PhotoPyramid, colour: ColourModel,
           spec: LevelSpec, *, max_iter: int = 15, tol: float = 0.02,
           shading: bool = True, robust: int = 0,
           highpass_sigma: float = 0.0) -> Solution | None:
    """Levenberg-Marquardt on the warp at one level; ``None`` if too little overlaps.

    ``tol``: stop when a step moves no point by more than this fraction of a photo
    pixel of the level being read. ``robust``: rounds of re-weighting (Cauchy weights
    of the residual at the previous round's solution) after the unweighted fit.
    ``highpass_sigma``: the residual's high-pass (:func:`highpass`; 0: none).
    """
    opts = (max_iter, tol, shading, highpass_sigma)
    sol = _lm(warp, scan, pyr, colour, spec, *opts, None)
    for _ in range(robust):
        if sol is None:
            break
        # the weights follow the pixels' residuals without weights
        unweighted = sol.fit.resid / sol.sw[:, None]
        w = Weights.robust(sol.ids, unweighted)
        sol = _lm(sol.warp, scan, pyr, colour, spec, *opts, w)
    return sol


def _lm(warp, scan, pyr, colour, spec, max_iter, tol, shading, hp,
        weights) -> Solution | None:
    unit = 2.0**spec.photo_level  # level-0 photo pixels per pixel of the level read
    max_step = spec.d * warp.rho / (max(warp.shape) / 2)  # about one level pixel
    fitted, ev, sw = _solve(warp, scan, pyr, colour, spec, shading, hp, weights)
    if fitted is None:
        return None
    cost = fitted.rss / float(np.sum(sw**2))
    lam = 1e-3
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007
        jac = _jacobian(ev, fitted, spec, shading, hp, sw)
        jtj = np.einsum("nbp,nbq->pq", jac, jac)
        jtr = np.einsum("nbp,nb->p", jac, fitted.resid)
        accepted = False
        while lam < 1e8:
            a = jtj + lam * np.diag(np.diag(jtj) + 1e-12)
            delta = -np.linalg.solve(a, jtr)
            big = np.abs(delta).max()
            if big > max_step:
                delta *= max_step / big
            trial = warp.updated(delta)
            t_fit, t_ev, t_sw = _solve(trial, scan, pyr, colour, spec, shading, hp, weights)
            if t_fit is not None and t_fit.rss / float(np.sum(t_sw**2)) < cost:
                warp, fitted, ev, sw = trial, t_fit, t_ev, t_sw
                cost = t_fit.rss / float(np.sum(t_sw**2))
                lam = max(lam / 4, 1e-7)
                accepted = True
                break
            lam *= 8
        if not accepted or np.abs(delta).max() < tol * unit:
            break
    jac = _jacobian(ev, fitted, spec, shading, hp, sw)
    return Solution(warp, fitted, jac, ev.cluster, it, len(ev.z), ev.n_total, ev.ids, sw)
