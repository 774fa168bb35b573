"""Small seeded k-means for colour clustering of the photo (NumPy only)."""

from __future__ import annotations

import numpy as np

# Lightness counts half: shading of one paint should not split it into clusters.
LAB_WEIGHTS = np.array([1.0, 1.0, 1.0], dtype=np.float64)


def _sq_dist(x: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Squared distances ``(N, K)`` between rows of ``x`` and ``c``."""
    return (x * x).sum(1)[:, None] - 2.0 * x @ c.T + (c * c).sum(1)[None, :]


def kmeans(
    x: np.ndarray, k: int, rng: np.random.Generator, *, iters: int = 30
) -> np.ndarray:
    """Lloyd's k-means with k-means++ seeding.

    Parameters
    ----------
    x
        ``(N, D)`` samples.
    k
        Wanted number of clusters; fewer are returned when ``x`` has fewer
        distinct points.
    rng
        Random generator (seeding is the only random step).
    iters
        Maximum number of Lloyd iterations.

    Returns
    -------
    numpy.ndarray
        ``(K', D)`` centres, ``K' <= k``.
    """
    x = np.asarray(x, dtype=np.float64)
    centres = [x[rng.integers(len(x))]]
    d2 = _sq_dist(x, centres[0][None])[:, 0].clip(0)
    while len(centres) < k:
        total = d2.sum()
        if total <= 1e-12:
            break  # all points already coincide with a centre
        nxt = x[rng.choice(len(x), p=d2 / total)]
        centres.append(nxt)
        d2 = np.minimum(d2, _sq_dist(x, nxt[None])[:, 0].clip(0))
    c = np.array(centres)
    for _ in range(iters):
        lab = _sq_dist(x, c).argmin(1)
        new = c.copy()
        for j in range(len(c)):
            members = x[lab == j]
            if len(members):
                new[j] = members.mean(0)
        if np.allclose(new, c, atol=1e-4):
            c = new
            break
        c = new
    return c


def cluster_image(
    lab: np.ndarray,
    k: int,
    rng: np.random.Generator,
    *,
    n_samples: int = 8000,
    n_init: int = 4,
) -> tuple[np.ndarray, np.ndarray]:
    """Cluster the colours of a CIELAB image.

    Returns
    -------
    labels
        ``(H, W)`` int32 labels ``0..K'-1`` (every label is used).
    centres
        ``(K', 3)`` CIELAB centres (unweighted), ordered from light to dark.
    """
    h, w, _ = lab.shape
    flat = lab.reshape(-1, 3).astype(np.float64) * LAB_WEIGHTS
    idx = rng.choice(len(flat), size=min(n_samples, len(flat)), replace=False)
    sample = flat[idx]
    # A few restarts, keeping the tightest clustering: small but distinct areas
    # (a yellow meadow next to ochre earth) are then found more reliably.
    best, best_cost = None, np.inf
    for _ in range(n_init):
        c = kmeans(sample, k, rng)
        cost = float(_sq_dist(sample, c).min(1).clip(0).sum())
        if cost < best_cost:
            best, best_cost = c, cost
    c = best
    labels = _sq_dist(flat, c).argmin(1)
    used = np.unique(labels)
    centres = np.array([flat[labels == u].mean(0) for u in used]) / LAB_WEIGHTS
    order = np.argsort(-centres[:, 0], kind="stable")
    remap = np.empty(len(used), dtype=np.int32)
    remap[order] = np.arange(len(used), dtype=np.int32)
    labels = remap[np.searchsorted(used, labels)]
    return labels.reshape(h, w), centres[order]
