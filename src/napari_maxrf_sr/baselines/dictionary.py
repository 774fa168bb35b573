"""Coupled-dictionary baselines ``ssr`` and ``ssrcu`` (non-negative sparse coding).

References: Q. Dai, E. Pouyet, O. Cossairt, M. Walton, A. K. Katsaggelos,
"Spatial-spectral representation for X-ray fluorescence image super-resolution",
IEEE Trans. Computational Imaging 3(3), 2017 (SSR); S. Yan et al., ICASSP 2023:
XRF super-resolution with coupled dictionaries that have parts common to the photo
and the maps and parts unique to each (SSRCU). Both model the
photo ``Z`` and the maps ``Y`` as sparse non-negative combinations of dictionary
atoms; these are practical re-implementations from the papers' descriptions, not
their code.

Formulation used here
---------------------
1. **Learning, on the scan's grid.** Every scan pixel gives a stacked vector
   ``x = [y_lr ; w z_lr]`` (``B + 3`` rows): the maps (each divided by its maximum)
   and the photo's block mean ``z_lr = U z``, weighted by ``w = sqrt(B / 3)`` so both
   modalities weigh the same. A non-negative dictionary ``D`` (``(B+3) x M``) and
   codes ``A >= 0`` minimise ``||D A - X||^2 + lam |A|_1`` by multiplicative updates
   (Lee and Seung, with the L1 weight in the denominator), atoms renormalised to unit
   length after each dictionary update. Block means of linear mixtures are linear
   mixtures, so the model learned on the scan also holds on the photo's grid.

   * ``ssr``: one shared dictionary, every atom has XRF and RGB rows (SSR's spectral
     dictionary, coupled spatially through the photo).
   * ``ssrcu``: atoms in three blocks, ``[[Dc_xrf, Du_xrf, 0], [Dc_rgb, 0, Du_rgb]]``:
     common atoms (a pigment seen by both), XRF-unique atoms (an element invisible in
     the photo) and RGB-unique atoms (a colour without an XRF signature). Multiplicative
     updates keep the zero blocks at zero.

2. **Coding on the photo's grid.** With ``D`` fixed, the codes of every photo pixel
   minimise::

       ||D_rgb A - w z||^2 + mu ||D_xrf A - y_up||^2
           + gamma s^2 ||U(D_xrf A) - y_lr||^2 + lam |A|_1,   A >= 0,

   where ``y_up`` is the bilinear upsampling of the maps (a weak prior: the only
   thing that drives XRF-unique atoms besides the scan) and the ``gamma`` term asks
   the block means of the answer to match the scan. Pixels are independent except
   through ``U``, so all of them are updated at once as ``(M, H*W)`` matrices by a
   fixed number of projected FISTA steps (or multiplicative updates), starting from
   the scan-grid codes. A photo pixel may only use atoms that the nearby scan pixels
   use (``support``): three colour channels cannot pick one of ``M`` atoms alone,
   and this keeps far-away pigments of similar colour out.

3. ``Y = D_xrf A``, the maps' scale restored, then the exact non-negative projection
   onto the scan (``U Y = y_lr``).

Everything is deterministic for a given ``seed`` (which picks the initial atoms).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch

from napari_maxrf_sr.baselines.interpolation import (
    check_inputs,
    down_np,
    finish,
    normalise_maps,
    upsample_np,
)
from napari_maxrf_sr.core.operators import AcquisitionOperator
from napari_maxrf_sr.errors import InputError

__all__ = ["code_hr", "coupled_dictionary", "learn_dictionary", "ssr", "ssrcu"]

#: Keeps multiplicative updates away from 0/0.
_TINY = 1e-12


def _local_start(a_lr: np.ndarray, scale: int, support: int) -> np.ndarray:
    """Start the photo-grid codes from the scan codes, restricted to a local support.

    An atom may be used at a photo pixel only if some scan pixel within ``support``
    scan pixels uses it (multiplicative updates keep zeros at zero), which keeps
    the ill-posed colour-to-code step from picking far-away pigments of similar
    colour. Returns ``(M, H, W)`` float32.
    """
    a = torch.from_numpy(np.ascontiguousarray(a_lr, dtype=np.float32))[None]
    if support > 0:
        k = 2 * support + 1
        local = torch.nn.functional.max_pool2d(a, k, stride=1, padding=support)
    else:
        local = a
    used = local[0] > 1e-3 * local.amax(dim=(0, 2, 3), keepdim=True)[0].clamp_min(_TINY)
    start = torch.where(used, 0.5 * local[0] + 0.5 * a[0], torch.zeros_like(a[0]))
    start = start + used.to(start.dtype) * 1e-3
    start = start.repeat_interleave(scale, -2).repeat_interleave(scale, -1)
    return start.numpy()


def _atom_mask(n_rows_xrf: int, n_common: int, n_xrf: int, n_rgb: int) -> np.ndarray:
    """``(B+3, M)`` 0/1 mask of the allowed entries: common, XRF-unique, RGB-unique blocks."""
    m = n_common + n_xrf + n_rgb
    mask = np.ones((n_rows_xrf + 3, m))
    mask[n_rows_xrf:, n_common : n_common + n_xrf] = 0.0  # XRF-unique: no colour
    mask[:n_rows_xrf, n_common + n_xrf :] = 0.0  # RGB-unique: no element
    return mask


def _normalise_atoms(d: torch.Tensor, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit-length atoms, the codes rescaled so that ``D A`` is unchanged."""
    norms = d.norm(dim=0).clamp_min(_TINY)
    return d / norms, a * norms[:, None]


def learn_dictionary(
    x: np.ndarray,
    mask: np.ndarray,
    *,
    lam: float,
    n_iter: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Non-negative sparse dictionary learning by multiplicative updates.

    Parameters
    ----------
    x
        ``(R, N)`` non-negative data, one column per sample.
    mask
        ``(R, M)`` 0/1 mask of the dictionary entries allowed to be non-zero.
    lam
        L1 weight on the codes.
    n_iter
        Number of alternating (codes, dictionary) updates.
    seed
        Picks the samples that initialise the atoms.

    Returns
    -------
    D, A
        ``(R, M)`` unit-length non-negative atoms and ``(M, N)`` codes (float64).
    """
    rng = np.random.default_rng(seed)
    r, n = x.shape
    m = mask.shape[1]
    # Atoms start as randomly chosen samples (masked), plus a little positive jitter so
    # that no allowed entry starts at exactly 0 (multiplicative updates keep zeros).
    pick = rng.choice(n, size=m, replace=n < m)
    d0 = (x[:, pick] + 0.05 * rng.random((r, m)) * (x.mean() + _TINY)) * mask
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64))
    mt = torch.from_numpy(mask.astype(np.float64))
    d = torch.from_numpy(d0) + _TINY * mt
    d = d / d.norm(dim=0).clamp_min(_TINY)
    # Least-squares-like start for the codes: non-negative part of D^T X, scaled.
    a = (d.T @ xt).clamp_min(0.0) / m + 1e-3
    for _ in range(n_iter):
        a = a * (d.T @ xt) / (d.T @ (d @ a) + lam + _TINY)
        d = d * (xt @ a.T) / (d @ (a @ a.T) + _TINY) * mt
        d, a = _normalise_atoms(d, a)
    return d.numpy(), a.numpy()


def code_hr(
    d: np.ndarray,
    n_xrf: int,
    rgb_target: np.ndarray,
    y_up: np.ndarray,
    y_lr: np.ndarray,
    a0: np.ndarray,
    op: AcquisitionOperator,
    *,
    mu: float,
    gamma: float,
    lam: float,
    n_iter: int,
    solver: Literal["fista", "mu"] = "fista",
) -> np.ndarray:
    """Codes of every photo pixel with the dictionary fixed (FISTA or multiplicative).

    Parameters
    ----------
    d
        ``(B+3, M)`` dictionary; rows ``:n_xrf`` are the maps, the rest the photo.
    n_xrf
        ``B``, the number of map rows.
    rgb_target
        ``(3, H, W)`` weighted photo ``w z``.
    y_up
        ``(B, H, W)`` upsampled maps (the weak prior).
    y_lr
        ``(B, h, w)`` scan.
    a0
        ``(M, H, W)`` positive starting codes.
    op
        Acquisition operator ``U``.
    mu, gamma, lam
        Weights of the prior, the scan agreement and the L1 term.
    n_iter
        Number of steps.
    solver
        ``"fista"`` (accelerated projected gradient on the support of ``a0``) or
        ``"mu"`` (multiplicative updates, which keep zeros of ``a0`` at zero).

    Returns
    -------
    numpy.ndarray
        ``(M, H, W)`` non-negative codes (float32).
    """
    dt = torch.from_numpy(np.ascontiguousarray(d, dtype=np.float32))
    dx, dz = dt[:n_xrf], dt[n_xrf:]
    m = dt.shape[1]
    _, hh, ww = rgb_target.shape
    s2 = float(op.scale**2)
    with torch.no_grad():
        z = torch.from_numpy(np.ascontiguousarray(rgb_target, dtype=np.float32)).reshape(3, -1)
        yu = torch.from_numpy(np.ascontiguousarray(y_up, dtype=np.float32)).reshape(n_xrf, -1)
        yl = torch.from_numpy(np.ascontiguousarray(y_lr, dtype=np.float32))
        # Constant part of the gradient (numerator of the multiplicative step).
        back = s2 * op.adjoint(yl).reshape(n_xrf, -1)  # s^2 U^T y_lr, >= 0
        num = dz.T @ z + mu * (dx.T @ yu) + gamma * (dx.T @ back) + _TINY
        gx = dx.T @ dx
        g = dz.T @ dz + mu * gx  # per-pixel Gram matrix, (M, M)
        a = torch.from_numpy(np.array(a0, dtype=np.float32)).reshape(m, -1)
        positive_grad = _positive_gradient(g, gx, gamma, op, hh, ww)
        if solver == "mu":  # Lee-Seung: a <- a * (negative part) / (positive part)
            for _ in range(n_iter):
                den = positive_grad(a, lam + _TINY)  # before a changes in place
                a.mul_(num).div_(den)
        else:
            a = _fista(a, num - lam, g, gx, gamma, positive_grad, n_iter)
        return a.reshape(m, hh, ww).numpy()


def _positive_gradient(g: torch.Tensor, gx: torch.Tensor, gamma: float,
                       op: AcquisitionOperator, hh: int, ww: int):
    """The part of the coding objective's gradient that depends on the codes.

    ``positive_grad(v, shift)``: ``G v + gamma s^2 U^T U (Dx^T Dx v) + shift`` for
    ``(M, H*W)`` codes ``v``, with ``G`` the per-pixel Gram matrix.
    """
    m, sc = g.shape[0], op.scale
    h, w, s2 = hh // sc, ww // sc, float(sc**2)

    def positive_grad(v: torch.Tensor, shift: float) -> torch.Tensor:
        """Return the part of the gradient that depends on the codes, plus ``shift``."""
        out = torch.mm(g, v)
        if shift:
            out.add_(shift)
        if gamma > 0 and op.is_block:
            # s^2 U^T U (Dx^T Dx A) for the block mean: the block mean of the codes,
            # mixed by the Gram matrix on the scan grid (it commutes with U), added
            # back to every pixel of the block by broadcasting (no copies).
            low = torch.nn.functional.avg_pool2d(v.view(m, 1, hh, ww), sc).view(m, -1)
            low = torch.mm(gx, low).mul_(gamma).view(m, h, 1, w, 1)
            out.view(m, h, sc, w, sc).add_(low)
        elif gamma > 0:
            low = torch.mm(gx, op.down(v.view(m, hh, ww)).reshape(m, -1))
            out.add_(op.adjoint(low.view(m, h, w)).reshape(m, -1), alpha=gamma * s2)
        return out

    return positive_grad


def _fista(a: torch.Tensor, target: torch.Tensor, g: torch.Tensor, gx: torch.Tensor,
           gamma: float, positive_grad, n_iter: int) -> torch.Tensor:
    """Projected FISTA from codes ``a``, restricted to their support.

    The gradient is ``positive_grad(v) - target``.
    """
    allowed = (a > 0).to(a.dtype)
    # Lipschitz bound: ||G|| + gamma ||Gx|| (s^2 U^T U has norm <= 1).
    eig = torch.linalg.eigvalsh
    lip = float(eig(g.double()).max() + gamma * eig(gx.double()).max())
    step = 1.0 / max(lip, _TINY)
    v, t = a.clone(), 1.0
    for _ in range(n_iter):
        # In-place arithmetic: these arrays are M x H*W, memory traffic dominates.
        new = positive_grad(v, 0.0).sub_(target).mul_(-step).add_(v)
        new.clamp_min_(0.0).mul_(allowed)
        t_new = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * t * t))
        v = a.sub_(new).mul_(-(t - 1.0) / t_new).add_(new)  # new + c (new - a)
        a, t = new, t_new
    return a


def coupled_dictionary(
    lr_maps: np.ndarray, rgb: np.ndarray, scale: int, *,
    op: AcquisitionOperator | None = None, seed: int = 0,
    n_common: int = 32, n_xrf: int = 0, n_rgb: int = 0,
    lam: float = 0.1, mu: float = 0.01, gamma: float = 1.0,
    n_learn: int = 200, n_code: int = 150, support: int = 1,
    solver: Literal["fista", "mu"] = "fista", project: bool = True,
) -> np.ndarray:
    """Coupled non-negative dictionary super-resolution (shared by ``ssr`` and ``ssrcu``).

    Parameters
    ----------
    lr_maps
        ``(B, h, w)`` element maps, ``>= 0``, any units.
    rgb
        ``(H, W, 3)`` photo in ``[0, 1]``.
    scale
        Integer ratio ``H / h``.
    op
        Acquisition operator (default: ``s x s`` block mean).
    seed
        Picks the initial atoms.
    n_common, n_xrf, n_rgb
        Atoms common to both modalities, unique to the maps, unique to the photo.
    lam
        L1 weight on the codes (data are in ``[0, 1]``).
    mu
        Weight of the upsampled maps as a prior when coding photo pixels.
    gamma
        Weight of the agreement of the block means with the scan while coding.
    n_learn, n_code
        Iterations of dictionary learning (scan grid) and of coding (photo grid).
    support
        A photo pixel may use only the atoms used within ``support`` scan pixels
        of its own (``0``: its scan pixel only).
    solver
        How the photo pixels are coded: ``"fista"`` or ``"mu"`` (multiplicative).
    project
        Finish with the exact non-negative projection onto the scan.

    Returns
    -------
    numpy.ndarray
        ``(B, H, W)`` float32, ``>= 0``, in the units of ``lr_maps``.
    """
    maps, photo, s, op = check_inputs(lr_maps, rgb, scale, op)
    _check_options({"n_common": n_common, "n_xrf": n_xrf, "n_rgb": n_rgb},
                   {"lam": lam, "mu": mu, "gamma": gamma}, solver,
                   {"n_learn": n_learn, "n_code": n_code, "support": support})

    norm, peaks = normalise_maps(maps)
    b, h, w = norm.shape
    weight = math.sqrt(b / 3.0)  # both modalities weigh the same in ||D A - X||^2
    z_hr = np.moveaxis(photo, -1, 0) * weight  # (3, H, W)
    z_lr = down_np(z_hr, op)  # what the scan's pixels see of the photo

    # 1. Learn the coupled dictionary on the scan's grid.
    x_lr = np.concatenate([norm, z_lr]).reshape(b + 3, -1).astype(np.float64)
    mask = _atom_mask(b, int(n_common), int(n_xrf), int(n_rgb))
    d, a_lr = learn_dictionary(x_lr, mask, lam=float(lam), n_iter=int(n_learn), seed=seed)

    # 2. Code every photo pixel, starting from the nearby scan-grid codes.
    m = d.shape[1]
    a0 = _local_start(a_lr.reshape(m, h, w), s, support)
    y_up = upsample_np(norm, s, "bilinear")
    a_hr = code_hr(
        d, b, z_hr, y_up, norm, a0, op,
        mu=float(mu), gamma=float(gamma), lam=float(lam), n_iter=int(n_code), solver=solver,
    )  # fmt: skip

    # 3. Maps from the codes, then the exact projection onto the scan.
    y = (d[:b].astype(np.float32) @ a_hr.reshape(m, -1)).reshape(b, s * h, s * w)
    return finish(y, peaks, maps, op, project=bool(project))



def _check_options(counts: dict[str, int], weights: dict[str, float], solver: str,
                   iterations: dict[str, int]) -> None:
    """Refuse atom counts, weights, a solver or iteration counts that cannot be used."""
    for key, val in counts.items():
        if isinstance(val, bool) or int(val) != val or val < 0:
            raise InputError(f"{key} must be a whole number >= 0, got {val!r}")
    if sum(counts.values()) < 1:
        raise InputError("The dictionary needs at least one atom: raise n_common.")
    for key, val in weights.items():
        if not (np.isfinite(val) and val >= 0):
            raise InputError(f"{key} must be a number >= 0, got {val!r}")
    if solver not in ("fista", "mu"):
        raise InputError(f"solver must be 'fista' or 'mu', got {solver!r}")
    for key, val in iterations.items():
        if isinstance(val, bool) or int(val) != val or val < 0:
            raise InputError(f"{key} must be a whole number >= 0, got {val!r}")

def ssr(
    lr_maps: np.ndarray,
    rgb: np.ndarray,
    scale: int,
    *,
    op: AcquisitionOperator | None = None,
    seed: int = 0,
    n_atoms: int = 32,
    **options,
) -> np.ndarray:
    """SSR-style baseline: one non-negative dictionary shared by the maps and the photo.

    ``n_atoms`` common atoms; other ``options`` (``lam``, ``mu``, ``gamma``,
    ``n_learn``, ``n_code``, ``project``) as in :func:`coupled_dictionary`.
    Returns ``(B, H, W)`` float32 maps ``>= 0`` in the units of ``lr_maps``.
    """
    for key in ("n_common", "n_xrf", "n_rgb"):
        if key in options:
            raise InputError(f"ssr has only common atoms: use n_atoms, not {key} (or 'ssrcu').")
    return coupled_dictionary(
        lr_maps, rgb, scale, op=op, seed=seed, n_common=n_atoms, n_xrf=0, n_rgb=0, **options
    )


def ssrcu(
    lr_maps: np.ndarray,
    rgb: np.ndarray,
    scale: int,
    *,
    op: AcquisitionOperator | None = None,
    seed: int = 0,
    n_common: int = 24,
    n_xrf: int = 4,
    n_rgb: int = 4,
    **options,
) -> np.ndarray:
    """SSRCU-style baseline: dictionary with common, XRF-unique and RGB-unique atoms.

    Other ``options`` (``lam``, ``mu``, ``gamma``, ``n_learn``, ``n_code``,
    ``project``) as in :func:`coupled_dictionary`. Returns ``(B, H, W)`` float32
    maps ``>= 0`` in the units of ``lr_maps``.
    """
    return coupled_dictionary(
        lr_maps, rgb, scale, op=op, seed=seed,
        n_common=n_common, n_xrf=n_xrf, n_rgb=n_rgb, **options,
    )  # fmt: skip
