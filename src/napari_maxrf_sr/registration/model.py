"""The criterion: how much of the scan a function of the photo's colours explains.

The method's premise is that the element maps are, to a first approximation, a
per-pixel function of the photo's colours averaged over each scan pixel. The function
is modelled as a sum of linear terms and Gaussian bumps of the (whitened) colour, plus
low-frequency
shading terms (the linear colour terms and a constant times a quadratic in the scan
position) that absorb vignetting, uneven light and slow trends in the scan. For a
given warp it is fitted in closed form (least squares), so the warp is optimised
against the scan's explained variance alone (variable projection): the photo's gamma,
white balance and light change the fitted function, not the optimum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Colour features that the shading terms multiply (1, c1, c2, c3).
N_SHADED = 4
#: Shading polynomials of the normalised scan position: qx, qy, qx^2, qx qy, qy^2.
N_SHADING = 5
#: Colour clusters (bumps of the colour function) by default.
N_CENTRES = 24


class ColourModel:
    """Whitened colour ``c`` and the features ``[1, c1, c2, c3, bump_1(c) .. bump_K(c)]``.

    The bumps are Gaussians in whitened colour space centred on the photo's main
    colours (k-means), of the width of the typical distance between neighbouring
    centres: together with the linear terms they span smooth, piecewise functions of
    the colour, such as the mapping from pigments to elements.
    """

    def __init__(self, mean, whiten, centres, width: float):
        self.mean = np.asarray(mean, np.float32)
        self.whiten = np.asarray(whiten, np.float32)
        self.centres = np.asarray(centres, np.float32).reshape(-1, 3)
        self.width = float(width)

    @property
    def n_features(self) -> int:
        """Features per pixel: constant, three colours, one bump per centre."""
        return 4 + len(self.centres)

    @classmethod
    def from_pixels(cls, rgb: np.ndarray, n_centres: int = N_CENTRES,
                    seed: int = 0) -> ColourModel:
        """Fit the whitening and the centres to ``(n, 3)`` colours in ``[0, 1]``."""
        from scipy.cluster.vq import kmeans2

        rgb = np.asarray(rgb, np.float64).reshape(-1, 3)
        rng = np.random.default_rng(seed)
        if len(rgb) > 20000:
            rgb = rgb[rng.choice(len(rgb), 20000, replace=False)]
        mean = rgb.mean(axis=0)
        val, vec = np.linalg.eigh(np.cov((rgb - mean).T) + 1e-12 * np.eye(3))
        val = np.maximum(val, 1e-3 * max(val.max(), 1e-8))  # a grey photo: no blow-up
        whiten = (vec / np.sqrt(val)).T
        c = (rgb - mean) @ whiten.T
        k = int(min(n_centres, max(1, len(np.unique(c.round(3), axis=0)) - 1)))
        centres, _ = kmeans2(c, k, seed=seed, minit="++")
        dist = np.sqrt(((centres[:, None] - centres[None]) ** 2).sum(-1))
        np.fill_diagonal(dist, np.inf)
        width = float(np.median(dist.min(axis=1))) if k > 1 else 1.0
        return cls(mean, whiten, centres, 0.5 * max(width, 1e-3))

    def features(self, rgb: np.ndarray, grad: np.ndarray | None = None):
        """Features ``(n, F)`` of colours ``(n, 3)``, and their derivatives ``(n, P, F)``.

        ``grad`` ``(n, 3, P)``: derivatives of the colours by ``P`` variables (e.g. the
        slopes along the photo's ``x`` and ``y``).
        """
        c = ((rgb - self.mean) @ self.whiten.T).astype(np.float32)
        mu = self.centres
        n, k = len(c), len(mu)
        d2 = (c * c).sum(1)[:, None] - 2.0 * (c @ mu.T) + (mu * mu).sum(1)[None]
        bump = np.exp(np.float32(-0.5 / self.width**2) * np.maximum(d2, 0))
        f = np.empty((n, 4 + k), np.float32)
        f[:, 0] = 1.0
        f[:, 1:4] = c
        f[:, 4:] = bump
        if grad is None:
            return f, None
        df = np.zeros((n, grad.shape[2], 4 + k), np.float32)
        bw = bump * np.float32(-1.0 / self.width**2)
        for axis in range(grad.shape[2]):
            cx = grad[:, :, axis] @ self.whiten.T  # (n, 3)
            df[:, axis, 1:4] = cx
            # d bump_k = -bump_k / w^2 (c - mu_k) . dc
            np.multiply(bw, (c * cx).sum(1)[:, None] - cx @ mu.T, out=df[:, axis, 4:])
        return f, df

    def to_dict(self) -> dict:
        """JSON-able parameters."""
        return {"mean": self.mean.tolist(), "whiten": self.whiten.tolist(),
                "centres": self.centres.tolist(), "width": self.width}


def shading_terms(q: np.ndarray) -> np.ndarray:
    """``(n, 5)`` low-order polynomials of normalised scan positions ``q`` ``(n, 2)``."""
    x, y = q[:, 0], q[:, 1]
    return np.stack([x, y, x * x, x * y, y * y], axis=1)


def design(f_col: np.ndarray, q: np.ndarray, shading: bool = True) -> np.ndarray:
    """The model's regressors ``(N, K)``: colour features, then shading terms."""
    if not shading:
        return f_col.astype(np.float64)
    g = shading_terms(q)
    sh = (f_col[:, :N_SHADED, None] * g[:, None, :]).reshape(len(f_col), -1)
    return np.concatenate([f_col, sh], axis=1).astype(np.float64)


def design_jac_times(g_col: np.ndarray, q: np.ndarray, beta: np.ndarray,
                     shading: bool = True) -> np.ndarray:
    """``(N, k, P)``: the derivatives of :func:`design` contracted with ``beta`` ``(K, k)``.

    ``g_col`` ``(N, F, P)``: derivatives of the colour features by the warp's ``P``
    parameters. :func:`design` is linear in the features, so its derivative along
    parameter ``p`` is ``design(g_col[:, :, p], q)``; the contraction is done without
    forming that ``(N, K, P)`` array (several times the refinement's working set).
    """
    n_col = g_col.shape[1]
    a = np.einsum("nfp,fb->nbp", g_col, beta[:n_col])
    if shading:
        g = shading_terms(q)
        b_sh = beta[n_col:].reshape(N_SHADED, N_SHADING, -1)
        for j in range(N_SHADING):
            a += np.einsum("nfp,fb->nbp", g_col[:, :N_SHADED], b_sh[:, j]) * g[:, j, None, None]
    return a


@dataclass
class Fit:
    """A least-squares fit of the scan's components ``Z`` ``(N, k)`` by regressors ``F``."""

    basis: np.ndarray  # (N, r) orthonormal basis of F's columns
    beta: np.ndarray  # (K, k) coefficients
    resid: np.ndarray  # (N, k)
    rss: float
    tss: float

    @property
    def r2(self) -> float:
        """Share of the scan's variance explained by the photo."""
        return 1.0 - self.rss / self.tss if self.tss > 0 else 0.0


def fit(f: np.ndarray, z: np.ndarray) -> Fit:
    """Least squares ``z ~ f beta`` (rank-revealing: a flat photo region does no harm)."""
    scale = np.linalg.norm(f, axis=0)
    scale[scale == 0] = 1.0
    fs = f / scale
    val, vec = np.linalg.eigh(fs.T @ fs)
    keep = val > val.max() * 1e-10
    val, vec = val[keep], vec[:, keep]
    u = fs @ (vec / np.sqrt(val))  # orthonormal basis of the columns
    cu = u.T @ z
    beta = (vec @ (cu / np.sqrt(val)[:, None])) / scale[:, None]
    resid = z - u @ cu
    zc = z - z.mean(axis=0)
    return Fit(u, beta, resid, float(np.sum(resid**2)), float(np.sum(zc**2)))


def residual_jacobian(fitted: Fit, a: np.ndarray) -> np.ndarray:
    """``(N, k, P)``: derivative of the residual by the warp (variable projection).

    Kaufman's form ``-P_perp (dF/dtheta) beta``, from ``a = (dF/dtheta) beta``
    (:func:`design_jac_times`); its product with the residual is the exact gradient
    of the reduced criterion.
    """
    proj = np.einsum("nr,nbp->rbp", fitted.basis, a)
    return -(a - np.einsum("nr,rbp->nbp", fitted.basis, proj))
