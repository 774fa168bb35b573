"""Coordinates and the warp's parameters.

Conventions (the package's, as in :mod:`napari_maxrf_sr.io.align`): points are
``(x, y) = (column, row)`` with pixel centres at whole numbers. Scan (LR) pixel
``(i, j)`` covers HR pixels ``s*i .. s*i+s-1``, so a point at LR coordinate ``u``
lies at HR coordinate ``s*u + (s-1)/2``. Internally the warp maps *normalised*
scan coordinates ``q = (u - centre) / half_size`` (about ``[-1, 1]``) to photo
pixels, which keeps its parameters well conditioned at every size.
"""

from __future__ import annotations

import numpy as np

#: Number of parameters of each kind of warp.
N_PARAMS = {"translation": 2, "similarity": 4, "affine": 6, "homography": 8}


def lr_to_hr(scale: int) -> np.ndarray:
    """3x3 matrix: LR ``(x, y)`` -> HR ``(x, y)``: ``s*u + (s-1)/2``."""
    s = float(scale)
    c = (s - 1.0) / 2.0
    return np.array([[s, 0.0, c], [0.0, s, c], [0.0, 0.0, 1.0]])


def hr_to_lr(scale: int) -> np.ndarray:
    """Inverse of :func:`lr_to_hr`."""
    return np.linalg.inv(lr_to_hr(scale))


def frame(shape: tuple[int, int]) -> np.ndarray:
    """3x3 matrix: LR ``(x, y)`` -> normalised ``q`` (centre 0, half the longer side 1)."""
    h, w = shape
    half = max(h, w) / 2.0
    return np.array([[1 / half, 0, -(w - 1) / 2 / half], [0, 1 / half, -(h - 1) / 2 / half],
                     [0, 0, 1.0]])


def apply(matrix: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Map ``(n, 2)`` points through a 3x3 homogeneous matrix."""
    xy = np.asarray(xy, dtype=np.float64)
    w = xy @ matrix[:, :2].T + matrix[:, 2]
    return w[:, :2] / w[:, 2:3]


def corners(shape: tuple[int, int]) -> np.ndarray:
    """The four outer corners of a scan of ``shape`` in LR ``(x, y)`` (pixel edges)."""
    h, w = shape
    return np.array([[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, h - 0.5], [-0.5, h - 0.5]])


def grid_points(shape: tuple[int, int], n: int = 17) -> np.ndarray:
    """An ``n x n`` grid of LR ``(x, y)`` points spanning the scan, edges included."""
    h, w = shape
    xs, ys = np.meshgrid(np.linspace(-0.5, w - 0.5, n), np.linspace(-0.5, h - 0.5, n))
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


def local_scales(lr_matrix: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Singular values ``(n, 2)`` (large first) of the warp's Jacobian at LR points ``xy``.

    Photo pixels per scan pixel along the warp's most and least stretched directions.
    """
    eps = 0.5
    xy = np.asarray(xy, dtype=np.float64)
    dx = (apply(lr_matrix, xy + [eps, 0]) - apply(lr_matrix, xy - [eps, 0])) / (2 * eps)
    dy = (apply(lr_matrix, xy + [0, eps]) - apply(lr_matrix, xy - [0, eps])) / (2 * eps)
    jac = np.stack([dx, dy], axis=-1)  # (n, 2, 2)
    return np.linalg.svd(jac, compute_uv=False)


def _unit(i: int, j: int) -> np.ndarray:
    e = np.zeros((3, 3))
    e[i, j] = 1.0
    return e


def basis(kind: str) -> list[np.ndarray]:
    """Generators of a small change of the warp, in normalised scan coordinates."""
    shift = [_unit(0, 2), _unit(1, 2)]
    if kind == "translation":
        return shift
    if kind == "similarity":
        return shift + [_unit(0, 0) + _unit(1, 1), _unit(1, 0) - _unit(0, 1)]
    lin = [_unit(0, 0), _unit(0, 1), _unit(1, 0), _unit(1, 1)]
    if kind == "affine":
        return shift + lin
    if kind == "homography":
        return shift + lin + [_unit(2, 0), _unit(2, 1)]
    raise ValueError(kind)


class Warp:
    """A warp: normalised scan coordinates -> photo pixels, and its small changes.

    ``delta`` (one value per parameter of ``kind``) changes the warp compositionally,
    ``H <- H (I + sum delta_k E_k)``, with the generators ``E_k`` scaled so that a unit
    of every parameter moves the scan's edge by about one photo pixel.
    """

    def __init__(self, h: np.ndarray, shape: tuple[int, int], kind: str = "similarity"):
        self.h = np.asarray(h, dtype=np.float64) / float(h[2, 2])
        self.shape = tuple(int(n) for n in shape)
        self.kind = kind
        self.n_params = N_PARAMS[kind]
        self._frame = frame(self.shape)

    @classmethod
    def from_lr_matrix(cls, m: np.ndarray, shape, kind="similarity") -> Warp:
        """From a 3x3 LR ``(x, y)`` -> photo ``(x, y)`` matrix."""
        return cls(np.asarray(m) @ np.linalg.inv(frame(tuple(shape))), shape, kind)

    def with_kind(self, kind: str) -> Warp:
        """The same warp, changed through the parameters of another kind."""
        return Warp(self.h, self.shape, kind)

    @property
    def lr_matrix(self) -> np.ndarray:
        """3x3: LR ``(x, y)`` -> photo ``(x, y)``."""
        return self.h @ self._frame

    def hr_matrix(self, scale: int) -> np.ndarray:
        """3x3: HR-grid ``(x, y)`` -> photo ``(x, y)`` for the grid at ``scale``."""
        return self.lr_matrix @ hr_to_lr(scale)

    @property
    def rho(self) -> float:
        """Photo pixels per normalised unit (the warp's mean linear scale)."""
        return float(np.sqrt(abs(np.linalg.det(self.h[:2, :2]))))

    def generators(self) -> list[np.ndarray]:
        """The small changes, scaled to about one photo pixel at the scan's edge."""
        return [e / self.rho for e in basis(self.kind)]

    def updated(self, delta: np.ndarray) -> Warp:
        """The warp changed by ``delta`` (compositionally)."""
        d = np.eye(3) + sum(float(v) * e for v, e in zip(delta, self.generators(), strict=True))
        return Warp(self.h @ d, self.shape, self.kind)

    def photo_points(self, q: np.ndarray) -> np.ndarray:
        """``(n, 2)`` normalised points -> ``(n, 2)`` photo pixels."""
        return apply(self.h, q)

    def jacobian(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Photo points ``(n, 2)`` and their derivatives ``(n, 2, P)`` for ``q`` ``(n, 2)``."""
        qh = np.concatenate([q, np.ones((len(q), 1))], axis=1)
        w = qh @ self.h.T
        p = w[:, :2] / w[:, 2:3]
        mats = np.stack([self.h @ e for e in self.generators()])  # (P, 3, 3)
        dw = np.einsum("nj,pij->npi", qh, mats)  # (n, P, 3)
        dp = (dw[:, :, :2] - p[:, None, :] * dw[:, :, 2:3]) / w[:, None, 2:3]
        return p, np.transpose(dp, (0, 2, 1))


def displacement(m_a: np.ndarray, m_b: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Distance ``(n,)`` between where two 3x3 matrices send the same points."""
    return np.hypot(*(apply(m_a, xy) - apply(m_b, xy)).T)
