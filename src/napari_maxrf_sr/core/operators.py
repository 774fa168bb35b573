"""The acquisition operator ``U``, its adjoint, the exact projection and upsampling.

Pixel convention (used everywhere in the package): a low-resolution (LR) pixel
``(i, j)`` covers the ``s x s`` block of high-resolution (HR) pixels
``[s*i : s*(i+1), s*j : s*(j+1)]``. Its centre is at HR coordinate
``s*i + (s - 1) / 2``, which is what ``align_corners=False`` interpolation assumes.

All functions take ``torch`` tensors shaped ``(..., H, W)``; the ``*_np`` helpers
wrap them for NumPy arrays. Nothing here imports Qt or napari.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

OperatorKind = Literal["block", "gaussian"]


def _as_4d(x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, ...]]:
    """Reshape ``(..., H, W)`` to ``(N, 1, H, W)`` and return the leading shape."""
    lead = tuple(x.shape[:-2])
    return x.reshape(-1, 1, x.shape[-2], x.shape[-1]), lead


def _from_4d(x: torch.Tensor, lead: tuple[int, ...]) -> torch.Tensor:
    return x.reshape(*lead, x.shape[-2], x.shape[-1])


def block_mean(y: torch.Tensor, scale: int) -> torch.Tensor:
    """Mean over non-overlapping ``scale x scale`` blocks: ``(..., H, W) -> (..., H/s, W/s)``."""
    if scale == 1:
        return y
    x, lead = _as_4d(y)
    return _from_4d(F.avg_pool2d(x, scale), lead)


def block_repeat(r: torch.Tensor, scale: int) -> torch.Tensor:
    """Copy every LR value to its ``scale x scale`` block: ``(..., h, w) -> (..., s*h, s*w)``."""
    if scale == 1:
        return r
    return r.repeat_interleave(scale, dim=-2).repeat_interleave(scale, dim=-1)


def gaussian_kernel1d(sigma: float) -> torch.Tensor:
    """Normalised 1-D Gaussian with radius ``ceil(3 sigma)`` (a delta for ``sigma <= 0``)."""
    if sigma <= 0:
        return torch.ones(1)
    radius = max(1, int(math.ceil(3.0 * sigma)))
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    return (k / k.sum()).float()


def gaussian_blur(y: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur with reflected borders, on ``(..., H, W)``."""
    if sigma <= 0:
        return y
    k = gaussian_kernel1d(sigma).to(y.device, y.dtype)
    r = (k.numel() - 1) // 2
    x, lead = _as_4d(y)
    mode = "reflect" if min(x.shape[-2:]) > r else "replicate"
    x = F.pad(x, (r, r, 0, 0), mode=mode)
    x = F.conv2d(x, k.view(1, 1, 1, -1))
    x = F.pad(x, (0, 0, r, r), mode=mode)
    x = F.conv2d(x, k.view(1, 1, -1, 1))
    return _from_4d(x, lead)


def upsample_bilinear(y_lr: torch.Tensor, scale: int) -> torch.Tensor:
    """Bilinear upsampling by ``scale`` under the block-centre pixel convention."""
    if scale == 1:
        return y_lr
    x, lead = _as_4d(y_lr)
    up = F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False)
    return _from_4d(up, lead)


def upsample_bicubic(y_lr: torch.Tensor, scale: int) -> torch.Tensor:
    """Bicubic upsampling by ``scale`` (may overshoot; callers clip if they need to)."""
    if scale == 1:
        return y_lr
    x, lead = _as_4d(y_lr)
    up = F.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False)
    return _from_4d(up, lead)


def _phase_weights(s: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Source rows (in the halo-padded band) and weights of bilinear x ``s`` upsampling.

    Output pixel ``i`` sits at ``(i + 0.5) / s - 0.5`` in input pixels (pixel centres,
    ``align_corners=False``), i.e. at ``+1`` in the padded band.
    """
    i = np.arange(s * n)
    pos = (i + 0.5) / s - 0.5 + 1.0
    lo = np.floor(pos).astype(np.int64)
    return torch.from_numpy(lo), torch.from_numpy((pos - lo).astype(np.float32))


def upsample_halo_band(band: torch.Tensor, s: int) -> torch.Tensor:
    """Bilinear x ``s`` upsampling of the inside of a band with a one-pixel halo.

    ``(B, r + 2, w + 2)`` -> ``(B, s r, s w)``: the values of
    ``F.interpolate(..., mode="bilinear", align_corners=False)`` on the whole scan with
    replicated borders, up to rounding. Built from gathers and element-wise products
    only, so the result is the same bit for bit whatever the number of threads (torch's
    own bilinear kernel rounds differently on one thread and on several), and a band's
    pixels equal the whole image's.
    """
    rows, wr = _phase_weights(s, band.shape[-2] - 2)
    cols, wc = _phase_weights(s, band.shape[-1] - 2)
    dev, dt = band.device, band.dtype
    rows, cols, wr, wc = rows.to(dev), cols.to(dev), wr.to(dev, dt), wc.to(dev, dt)
    top, bottom = band.index_select(-2, rows), band.index_select(-2, rows + 1)
    wr = wr[:, None]
    y = top * (1 - wr) + bottom * wr
    left, right = y.index_select(-1, cols), y.index_select(-1, cols + 1)
    return left * (1 - wc) + right * wc


def bilinear_taps(n_out: int, s: int, device) -> tuple[torch.Tensor, ...]:
    """Source pixels and weights of an upsampling by ``s`` to ``n_out`` pixels.

    ``(i0, i1, weight of i1)`` per output pixel, under the same convention as
    ``F.interpolate(..., mode="bilinear", align_corners=False)`` (block centres,
    replicated borders).
    """
    n_in = n_out // s
    src = ((torch.arange(n_out, dtype=torch.float64) + 0.5) / s - 0.5).clamp_(min=0)
    i0 = src.floor().long().clamp_(max=n_in - 1)
    i1 = (i0 + 1).clamp_(max=n_in - 1)
    w1 = (src - i0).float()
    return i0.to(device), i1.to(device), w1.to(device)


def bilinear_block_weights(scale: int) -> tuple[float, float]:
    """How the block mean of a bilinear upsampling weighs an LR pixel and each neighbour.

    Upsampling by ``scale`` (block-centre convention) and averaging each block again
    gives, along one axis, ``neighbour * y[i-1] + centre * y[i] + neighbour * y[i+1]``
    (``1/8, 3/4, 1/8`` for any even scale).
    """
    offsets = (np.arange(scale) + 0.5) / scale - 0.5  # HR pixel centres, in LR pixels
    neighbour = float(np.abs(offsets[offsets < 0]).sum() / scale)
    return 1.0 - 2.0 * neighbour, neighbour


def consistent_source(y_lr: np.ndarray, scale: int) -> np.ndarray:
    """LR values whose bilinear upsampling has exactly the block means ``y_lr``.

    Bilinear interpolation blurs: its block means differ from the scan where the maps
    curve. Solving the (tridiagonal, well-conditioned) block-mean-of-bilinear system
    along rows and columns gives values ``y'`` with ``block_mean(bilinear(y')) ==
    y_lr`` (to rounding): a smooth interpolation that already agrees with the scan, so
    the final projection has nothing block-shaped to add (ours).

    Parameters
    ----------
    y_lr
        ``(B, h, w)`` maps (any units).
    scale
        The upsampling factor.

    Returns
    -------
    numpy.ndarray
        ``(B, h, w)`` float32, map by map (no float64 copy of the whole stack).
    """
    from scipy.linalg import solve_banded

    if scale == 1:
        return np.asarray(y_lr, dtype=np.float32)
    centre, neighbour = bilinear_block_weights(scale)

    def solve(y: np.ndarray, axis: int) -> np.ndarray:
        n = y.shape[axis]
        if n == 1:
            return y
        bands = np.zeros((3, n))
        bands[0, 1:] = bands[2, :-1] = neighbour
        bands[1] = centre
        bands[1, [0, -1]] += neighbour  # replicated border: the outside neighbour is itself
        moved = np.moveaxis(y, axis, 0)
        out = solve_banded((1, 1), bands, moved.reshape(n, -1), check_finite=False)
        return np.moveaxis(out.reshape(moved.shape), 0, axis)

    out = np.empty(y_lr.shape, dtype=np.float32)
    for b in range(y_lr.shape[0]):
        out[b] = solve(solve(np.asarray(y_lr[b], dtype=np.float64), 0), 1)
    return out


@dataclass(frozen=True)
class AcquisitionOperator:
    """The downsampling operator ``U`` of the acquisition model ``Y_lr = Y U``.

    Parameters
    ----------
    scale
        Integer ratio between the HR and LR grids.
    kind
        ``"block"``: mean over ``s x s`` blocks (a beam that integrates over the
        pixel; the default). ``"gaussian"``: a Gaussian beam spot of standard
        deviation ``psf_sigma`` HR pixels, then the block mean (``psf_sigma = 0``
        gives back ``"block"``).
    psf_sigma
        Standard deviation of the beam spot in HR pixels, for ``kind="gaussian"``.
    """

    scale: int
    kind: OperatorKind = "block"
    psf_sigma: float = 0.0

    def __post_init__(self) -> None:
        if int(self.scale) != self.scale or self.scale < 1:
            raise ValueError(f"scale must be a positive whole number, got {self.scale!r}")
        if self.kind not in ("block", "gaussian"):
            raise ValueError(f"operator kind must be 'block' or 'gaussian', got {self.kind!r}")
        if self.psf_sigma < 0:
            raise ValueError(f"psf_sigma must be >= 0, got {self.psf_sigma}")

    @property
    def is_block(self) -> bool:
        """True when ``U`` is the plain block mean (closed-form projection)."""
        return self.kind == "block" or self.psf_sigma == 0

    # -- U and U^T ------------------------------------------------------------------
    def down(self, y: torch.Tensor) -> torch.Tensor:
        """Apply ``U``: HR maps ``(..., H, W)`` to LR maps ``(..., H/s, W/s)``."""
        if not self.is_block:
            y = gaussian_blur(y, self.psf_sigma)
        return block_mean(y, self.scale)

    def adjoint(self, r: torch.Tensor) -> torch.Tensor:
        """Apply ``U^T`` (the exact adjoint of :meth:`down`)."""
        up = block_repeat(r, self.scale) / float(self.scale**2)
        if self.is_block:
            return up
        # The reflected-border blur is not self-adjoint: take its vector-Jacobian
        # product so that <U y, r> == <y, U^T r> holds exactly.
        shape = up.shape
        with torch.enable_grad():
            probe = torch.zeros(shape, dtype=up.dtype, device=up.device, requires_grad=True)
            out = gaussian_blur(probe, self.psf_sigma)
            (grad,) = torch.autograd.grad(out, probe, grad_outputs=up)
        return grad

    # -- projection -----------------------------------------------------------------
    def residual(self, y: torch.Tensor, y_lr: torch.Tensor) -> torch.Tensor:
        """``U y - y_lr``: how far ``y`` is from agreeing with the measurement."""
        return self.down(y) - y_lr

    def project(
        self, y: torch.Tensor, y_lr: torch.Tensor, *, cg_iters: int = 500, tol: float = 1e-20
    ) -> torch.Tensor:
        """Project ``y`` onto ``{Y : U Y = y_lr}``: ``Y - U^T (U U^T)^-1 (U Y - y_lr)``.

        For the block mean ``U U^T = I / s^2``, so this adds back, to every HR
        pixel of a block, the difference between the measured LR value and the
        block mean of ``y``. Differentiable (used inside the adversarial loss).
        For the Gaussian operator ``(U U^T)^-1`` is applied with conjugate gradients
        (in float64): a beam much wider than the step makes ``U U^T`` ill-conditioned,
        and exact agreement then needs large corrections.
        """
        res = self.residual(y, y_lr)
        if self.is_block:
            return y - block_repeat(res, self.scale)
        z = _conjugate_gradient(
            lambda v: self.down(self.adjoint(v)), res.double(), cg_iters, tol
        ).to(y.dtype)
        return y - self.adjoint(z)


def _conjugate_gradient(apply_a, b: torch.Tensor, iters: int, tol: float) -> torch.Tensor:
    """Solve ``A x = b`` for symmetric positive definite ``A``, batched over leading dims."""
    x = torch.zeros_like(b)
    r = b.clone()
    p = r.clone()
    dims = (-2, -1)
    rs = (r * r).sum(dim=dims, keepdim=True)
    b_norm = (b * b).sum(dim=dims, keepdim=True).clamp_min(1e-30)
    for _ in range(iters):
        ap = apply_a(p)
        alpha = rs / (p * ap).sum(dim=dims, keepdim=True).clamp_min(1e-30)
        x = x + alpha * p
        r = r - alpha * ap
        rs_new = (r * r).sum(dim=dims, keepdim=True)
        if bool((rs_new / b_norm).max() < tol):
            break
        p = r + (rs_new / rs.clamp_min(1e-30)) * p
        rs = rs_new
    return x


def project_nonnegative_block(y: torch.Tensor, y_lr: torch.Tensor, scale: int) -> torch.Tensor:
    """Exact projection onto ``{Y >= 0, block_mean(Y) = y_lr}`` for ``y_lr >= 0``.

    Each ``s x s`` block is projected independently onto the scaled simplex
    ``{v >= 0, mean(v) = y_lr}`` (Euclidean projection, sort-based), so the answer
    both agrees with the measurement exactly and has no negative counts. Blocks
    whose additive correction already stays non-negative are unchanged by it.
    """
    s = scale
    lead = y.shape[:-2]
    h, w = y_lr.shape[-2:]
    # (..., h, w, s*s): the pixels of each block as one vector.
    v = y.reshape(*lead, h, s, w, s).movedim(-3, -2).reshape(*lead, h, w, s * s)
    target = (y_lr * (s * s)).unsqueeze(-1)  # required block sum
    u, _ = torch.sort(v, dim=-1, descending=True)
    css = torch.cumsum(u, dim=-1) - target
    k = torch.arange(1, s * s + 1, device=y.device, dtype=y.dtype)
    cond = (u - css / k) > 0
    rho = cond.to(torch.int64).cumsum(-1).argmax(-1, keepdim=True)  # last True index
    theta = css.gather(-1, rho) / (rho + 1).to(y.dtype)
    out = (v - theta).clamp_min(0.0)
    out = out.reshape(*lead, h, w, s, s).movedim(-2, -3).reshape(*lead, h * s, w * s)
    return out


def project_consistent(
    op: AcquisitionOperator, y: torch.Tensor, y_lr: torch.Tensor, *, nonnegative: bool = True
) -> torch.Tensor:
    """Final-answer projection: exact agreement with ``y_lr`` and, optionally, ``Y >= 0``.

    With the block operator and ``nonnegative=True`` the exact non-negative
    projection of :func:`project_nonnegative_block` is used (it equals the plain
    projection wherever that has no negative pixel). With the Gaussian operator,
    negatives are clipped between projections (a few alternating steps) and the
    last step is the exact affine projection, so agreement with the scan holds
    exactly while negatives are reduced (not always removed).
    """
    if op.is_block:
        out = op.project(y, y_lr)
        if nonnegative and bool((out < 0).any()):
            out = project_nonnegative_block(y, y_lr.clamp_min(0.0), op.scale)
        return out
    out = op.project(y, y_lr)
    if nonnegative:
        for _ in range(10):
            if not bool((out < 0).any()):
                break
            out = op.project(out.clamp_min(0.0), y_lr)
    return out


# -- NumPy conveniences ---------------------------------------------------------------
def _np_call(fn, *arrays: np.ndarray, **kw) -> np.ndarray:
    tensors = [torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)) for a in arrays]
    with torch.no_grad():
        return fn(*tensors, **kw).numpy()


def block_mean_np(y: np.ndarray, scale: int) -> np.ndarray:
    """NumPy version of :func:`block_mean` (float32)."""
    return _np_call(block_mean, y, scale=scale)


def upsample_bilinear_np(y_lr: np.ndarray, scale: int) -> np.ndarray:
    """NumPy version of :func:`upsample_bilinear` (float32)."""
    return _np_call(upsample_bilinear, y_lr, scale=scale)


def upsample_bicubic_np(y_lr: np.ndarray, scale: int) -> np.ndarray:
    """NumPy version of :func:`upsample_bicubic` (float32)."""
    return _np_call(upsample_bicubic, y_lr, scale=scale)


def project_np(
    y: np.ndarray, y_lr: np.ndarray, op: AcquisitionOperator, *, nonnegative: bool = True
) -> np.ndarray:
    """NumPy version of :func:`project_consistent` (float32)."""
    return _np_call(lambda a, b: project_consistent(op, a, b, nonnegative=nonnegative), y, y_lr)
