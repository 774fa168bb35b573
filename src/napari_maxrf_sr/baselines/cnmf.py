"""Coupled non-negative matrix factorisation (CNMF) fusion baseline.

Reference: N. Yokoya, T. Yairi and A. Iwasaki, "Coupled nonnegative matrix
factorization unmixing for hyperspectral and multispectral data fusion", IEEE
Trans. Geoscience and Remote Sensing 50(2), 2012.

The paper fuses a hyperspectral image (many bands, coarse pixels) with a
multispectral one (few bands, fine pixels). Here the "hyperspectral" image is the
scan ``Y_lr`` (``B`` element maps, each divided by its maximum) and the
"multispectral" image is the photo ``Z`` (3 bands). Both are unmixed with
multiplicative NMF updates into shared endmembers and abundances:

* ``Y_lr ~ E A_lr`` (``E``: ``B x M`` element signatures, ``A_lr``: scan abundances);
* ``Z ~ E_m A_hr`` (``E_m``: ``3 x M`` colours, ``A_hr``: photo abundances);
* coupling: ``E_m = R E`` with the spectral response ``R`` (``3 x B``), and
  ``A_lr = U A_hr`` with the acquisition operator ``U`` (the spatial response).

There is no physical ``R`` from elements to colour, so it is estimated by
non-negative least squares between the photo's block means and the scan,
``U Z ~ R Y_lr`` (one NNLS problem per colour channel).

Algorithm (the paper's alternation, with fixed iteration counts):

1. Initialise ``E`` with endmembers picked from the scan (successive projections,
   SPA, among a seeded random sample of scan pixels) and unmix ``Y_lr`` (both factors).
2. Photo step: ``E_m = R E``; update ``A_hr`` with ``E_m`` fixed, then both.
   ``A_hr`` starts from the upsampled scan abundances (ours: the paper starts from a
   constant; this converges in fewer steps).
3. Scan step: ``A_lr = U A_hr``; update ``E`` with ``A_lr`` fixed (so that the
   element signatures stay tied to the photo's abundances).
4. Repeat 2-3 ``n_outer`` times; the answer is ``Y = E A_hr``, the maps' scale
   restored, then the exact non-negative projection onto the scan.

As in the paper, the abundances are softly asked to sum to one by appending a
row of ``delta`` to the data and to the endmembers.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import nnls

from napari_maxrf_sr.baselines.interpolation import (
    check_inputs,
    down_np,
    finish,
    normalise_maps,
    upsample_np,
)
from napari_maxrf_sr.core.operators import AcquisitionOperator
from napari_maxrf_sr.errors import InputError

__all__ = ["cnmf", "spectral_response", "spa"]

_TINY = 1e-9
#: Scan pixels considered when picking the initial endmembers.
_SPA_SAMPLE = 20000


def spectral_response(z_lr: np.ndarray, y_lr: np.ndarray) -> np.ndarray:
    """Non-negative ``R`` (``3 x B``) minimising ``||z_lr - R y_lr||^2``.

    ``z_lr`` is ``(3, N)`` (the photo's block means), ``y_lr`` ``(B, N)``.
    """
    # NNLS on the B x B normal equations (N can be large): with G = Y Y^T = L L^T,
    # ||z - R y||^2 = ||L^T r - L^-1 Y z||^2 + const for every row r of R.
    y = np.asarray(y_lr, dtype=np.float64)
    gram = y @ y.T
    gram += (1e-10 * np.trace(gram) + 1e-30) * np.eye(len(gram))
    chol = np.linalg.cholesky(gram)
    rhs = np.linalg.solve(chol, y @ np.asarray(z_lr, dtype=np.float64).T)  # (B, 3)
    return np.stack([nnls(chol.T, rhs[:, c])[0] for c in range(rhs.shape[1])])


def spa(x: np.ndarray, m: int) -> np.ndarray:
    """Successive projection algorithm: indices of ``m`` columns of ``x`` spanning it well.

    Picks the column of largest norm, projects every column off it, and repeats
    (Araujo et al. 2001; Gillis and Vavasis 2014). Deterministic.
    """
    r = np.array(x, dtype=np.float64, copy=True)
    picked: list[int] = []
    for _ in range(min(m, r.shape[1])):
        norms = (r * r).sum(axis=0)
        j = int(np.argmax(norms))
        if norms[j] <= 1e-20 and picked:
            break
        picked.append(j)
        u = r[:, j] / max(np.sqrt(norms[j]), 1e-20)
        r -= np.outer(u, u @ r)
    return np.asarray(picked, dtype=np.int64)


def _augment(x: torch.Tensor, delta: float) -> torch.Tensor:
    """Append a row of ``delta`` (the soft sum-to-one constraint of the paper)."""
    return torch.cat([x, torch.full((1, x.shape[1]), delta, dtype=x.dtype)])


def _update_a(e: torch.Tensor, xa: torch.Tensor, a: torch.Tensor, delta: float, n: int):
    """``n`` multiplicative updates of abundances ``a`` for ``x ~ e a`` (with sum-to-one).

    ``xa`` is the data with the ``delta`` row already appended (see :func:`_augment`).
    """
    ea = _augment(e, delta)
    num = ea.T @ xa
    g = ea.T @ ea
    for _ in range(n):
        den = torch.mm(g, a).add_(_TINY)
        a = a.mul_(num).div_(den)  # in place: a is M x N, memory traffic dominates
    return a


def _update_e(e: torch.Tensor, x: torch.Tensor, a: torch.Tensor, n: int) -> torch.Tensor:
    """``n`` multiplicative updates of endmembers ``e`` for ``x ~ e a``."""
    num = x @ a.T
    g = a @ a.T
    for _ in range(n):
        e = e * num / (e @ g + _TINY)
    return e


def _update_both(e, x, xa, a, delta: float, n: int):
    """``n`` alternating updates of both factors (``xa``: ``x`` with the delta row)."""
    for _ in range(n):
        a = _update_a(e, xa, a, delta, 1)
        e = _update_e(e, x, a, 1)
    return e, a


def cnmf(
    lr_maps: np.ndarray,
    rgb: np.ndarray,
    scale: int,
    *,
    op: AcquisitionOperator | None = None,
    seed: int = 0,
    n_endmembers: int | None = None,
    n_outer: int = 3,
    n_inner: int = 100,
    delta: float = 0.1,
    project: bool = True,
) -> np.ndarray:
    """Coupled NMF fusion (Yokoya et al. 2012) of the scan and the photo.

    Parameters
    ----------
    lr_maps
        ``(B, h, w)`` element maps, ``>= 0``, any units.
    rgb
        ``(H, W, 3)`` photo in ``[0, 1]``.
    scale
        Integer ratio ``H / h``.
    op
        Acquisition operator ``U`` (default: ``s x s`` block mean): the spatial response.
    seed
        Picks the scan pixels among which the initial endmembers are chosen, and
        the small jitter added to them.
    n_endmembers
        Number of endmembers ``M``; default ``min(max(B + 3, 6), 24)``.
    n_outer, n_inner
        Outer alternations and multiplicative updates per sub-step.
    delta
        Weight of the soft sum-to-one constraint on the abundances (0 turns it off).
    project
        Finish with the exact non-negative projection onto the scan.

    Returns
    -------
    numpy.ndarray
        ``(B, H, W)`` float32, ``>= 0``, in the units of ``lr_maps``.
    """
    maps, photo, s, op = check_inputs(lr_maps, rgb, scale, op)
    b, h, w = maps.shape
    m, delta = _checked_options(b, n_endmembers, n_outer, n_inner, delta)
    rng = np.random.default_rng(seed)

    norm, peaks = normalise_maps(maps)
    z_hr = np.moveaxis(photo, -1, 0)  # (3, H, W)
    z_lr = down_np(z_hr, op).reshape(3, -1)
    y_lr = norm.reshape(b, -1)
    r_resp = spectral_response(z_lr, y_lr)  # (3, B)

    with torch.no_grad():
        yl = torch.from_numpy(y_lr.astype(np.float64))
        zh = torch.from_numpy(np.ascontiguousarray(z_hr, dtype=np.float32)).reshape(3, -1)
        rr = torch.from_numpy(r_resp)

        # 1. Unmix the scan; endmembers start at SPA picks (seeded sample of pixels).
        e = torch.from_numpy(_spa_start(y_lr, m, rng).astype(np.float64)) + _TINY
        a_lr = torch.full((m, y_lr.shape[1]), 1.0 / m, dtype=torch.float64)
        yla, zha = _augment(yl, delta), _augment(zh, delta)
        e, a_lr = _update_both(e, yl, yla, a_lr, delta, n_inner)

        # Photo abundances start from the upsampled scan abundances.
        a_hr = upsample_np(a_lr.numpy().reshape(m, h, w).astype(np.float32), s, "bilinear")
        a_hr = torch.from_numpy(a_hr).reshape(m, -1).clamp_min(1e-4)
        for _ in range(int(n_outer)):
            # 2. Photo step: colours from the element signatures, then both factors.
            e_m = (rr @ e).float() + _TINY
            a_hr = _update_a(e_m, zha, a_hr, delta, n_inner)
            e_m, a_hr = _update_both(e_m, zh, zha, a_hr, delta, n_inner)
            # 3. Scan step: abundances from the photo's, update the signatures only.
            a_lr = op.down(a_hr.reshape(m, s * h, s * w)).reshape(m, -1).double()
            e = _update_e(e, yl, a_lr, n_inner)
        y = (e.float() @ a_hr).reshape(b, s * h, s * w).numpy()
    return finish(y, peaks, maps, op, project=bool(project))


def _checked_options(b: int, n_endmembers: int | None, n_outer: int, n_inner: int,
                     delta: float) -> tuple[int, float]:
    """The number of endmembers (default for ``b`` maps) and ``delta``, checked."""
    m = min(max(b + 3, 6), 24) if n_endmembers is None else n_endmembers
    for key, val in {"n_endmembers": m, "n_outer": n_outer, "n_inner": n_inner}.items():
        if isinstance(val, bool) or int(val) != val or val < (1 if key != "n_outer" else 0):
            raise InputError(f"{key} must be a positive whole number, got {val!r}")
    if not (np.isfinite(delta) and delta >= 0):
        raise InputError(f"delta must be a number >= 0, got {delta!r}")
    return int(m), float(delta)


def _spa_start(y_lr: np.ndarray, m: int, rng: np.random.Generator) -> np.ndarray:
    """``(B, M)`` first endmembers: SPA picks among a seeded sample of scan pixels, jittered.

    A rank-deficient scan gives fewer picks; random pixels fill them up.
    """
    b, n_lr = y_lr.shape
    sample = np.sort(rng.choice(n_lr, size=min(n_lr, _SPA_SAMPLE), replace=False))
    picks = sample[spa(y_lr[:, sample], m)]
    if picks.size < m:
        extra = rng.choice(n_lr, size=m - picks.size, replace=True)
        picks = np.concatenate([picks, extra])
    return y_lr[:, picks] + 0.01 * rng.random((b, m))
