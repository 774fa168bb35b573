"""Quality measures of the benchmark (every map normalised by its true maximum, peak 1)."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter
from skimage.metrics import structural_similarity


def normalise_by_truth(maps: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Divide each map and its truth by the truth's maximum (the paper's convention)."""
    peaks = truth.reshape(truth.shape[0], -1).max(axis=1)
    peaks[~(peaks > 0)] = 1.0
    return maps / peaks[:, None, None], truth / peaks[:, None, None]


def rmse_psnr(maps: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """RMSE over all elements and pixels, and ``PSNR = 20 log10(1 / RMSE)``."""
    x, t = normalise_by_truth(maps.astype(np.float64), truth.astype(np.float64))
    rmse = float(np.sqrt(np.mean((x - t) ** 2)))
    return rmse, float(20 * np.log10(1.0 / max(rmse, 1e-12)))


def mean_ssim(maps: np.ndarray, truth: np.ndarray) -> float:
    """SSIM averaged over elements (data range 1 after normalisation)."""
    x, t = normalise_by_truth(maps.astype(np.float64), truth.astype(np.float64))
    scores = [structural_similarity(a, b, data_range=1.0) for a, b in zip(x, t, strict=True)]
    return float(np.mean(scores))


def high_pass(x: np.ndarray, sigma: float) -> np.ndarray:
    """Fine detail: the map minus its Gaussian blur, per map."""
    return x - gaussian_filter(x, sigma=(0, sigma, sigma))


def false_detail(maps: np.ndarray, truth: np.ndarray, edge_mask: np.ndarray, scale: int) -> float:
    """Fine-detail energy put where the photo has an edge and the truth is flat.

    Mean squared high-pass of the answer inside ``edge_mask`` (``(B, H, W)``: photo
    edge, flat truth), divided by the truth's mean squared high-pass over the whole
    map: 0 is ideal; 1 means as much false texture as the painting has real texture.
    """
    x, t = normalise_by_truth(maps.astype(np.float64), truth.astype(np.float64))
    sigma = scale / 2
    hx, ht = high_pass(x, sigma), high_pass(t, sigma)
    if not edge_mask.any():
        return float("nan")
    return float(np.mean(hx[edge_mask] ** 2) / max(np.mean(ht**2), 1e-12))


#: A mask pixel counts as flat truth at the measure's scale when the truth's local
#: fine-detail energy (smoothed over sigma = s/2) is below this share of its mean.
FLAT_SHARE = 0.1


def flat_at_scale(truth: np.ndarray, edge_mask: np.ndarray, scale: int,
                  share: float = FLAT_SHARE) -> np.ndarray:
    """The part of ``edge_mask`` where the truth has no fine detail within the measure's reach.

    :func:`false_detail` high-passes with sigma = s/2, so a mask pixel a few pixels from
    a true edge picks up that edge's fine detail: the cases' masks check flatness over
    3 x 3 pixels only (and the drawing's not at all), and the truth itself then scores
    0.013 to 1.05 (docs/benchmarks.md). This keeps the pixels whose truth fine-detail
    energy, averaged with the same Gaussian, is below ``share`` of that map's mean.
    """
    _, t = normalise_by_truth(truth.astype(np.float64), truth.astype(np.float64))
    sigma = scale / 2
    ht2 = high_pass(t, sigma) ** 2
    local = gaussian_filter(ht2, sigma=(0, sigma, sigma))
    ref = np.maximum(ht2.mean(axis=(1, 2), keepdims=True), 1e-30)
    return edge_mask & (local < share * ref)


def false_detail_flat(maps: np.ndarray, truth: np.ndarray, edge_mask: np.ndarray,
                      scale: int) -> float:
    """:func:`false_detail` inside :func:`flat_at_scale` of the mask (0 for the truth)."""
    return false_detail(maps, truth, flat_at_scale(truth, edge_mask, scale), scale)


def detail_energy(maps: np.ndarray, truth: np.ndarray, scale: int) -> float:
    """The answer's fine-detail energy over the truth's (the realism of its texture).

    Mean squared high-pass (sigma = s/2, as :func:`false_detail`) of the answer over
    that of the truth, all maps together: 1 means as much fine detail as the painting
    has; below 1, smoother than the truth (interpolation is far below); above 1,
    busier. It says nothing about where the detail is: PSNR and false detail do.
    """
    x, t = normalise_by_truth(maps.astype(np.float64), truth.astype(np.float64))
    sigma = scale / 2
    return float(np.mean(high_pass(x, sigma) ** 2) / max(np.mean(high_pass(t, sigma) ** 2),
                                                          1e-12))


def hidden_detail(maps: np.ndarray, truth: np.ndarray, hidden_mask: np.ndarray,
                  scale: int) -> float:
    """Correlation of the answer's fine detail with the truth's inside the hidden layer.

    1 means the detail that only the scan can see survived; 0 means it was lost.
    """
    if hidden_mask is None or not hidden_mask.any():
        return float("nan")
    x, t = normalise_by_truth(maps.astype(np.float64), truth.astype(np.float64))
    sigma = scale / 2
    hx = high_pass(x, sigma)[:, hidden_mask]
    ht = high_pass(t, sigma)[:, hidden_mask]
    num = float(np.sum(hx * ht))
    den = float(np.sqrt(np.sum(hx**2) * np.sum(ht**2)))
    return num / den if den > 0 else float("nan")


def _border_ratio(x: np.ndarray, scale: int) -> float:
    """Mean squared step across block borders over the mean squared step inside blocks."""
    gx = np.diff(x, axis=-1) ** 2
    gy = np.diff(x, axis=-2) ** 2
    bx = np.zeros(gx.shape[-1], bool)
    bx[scale - 1 :: scale] = True  # the step from the last pixel of a block to the next
    by = np.zeros(gy.shape[-2], bool)
    by[scale - 1 :: scale] = True
    across = gx[..., bx].mean() + gy[..., by, :].mean()
    inside = gx[..., ~bx].mean() + gy[..., ~by, :].mean()
    return float(across / max(inside, 1e-30))


def block_artefact_index(maps: np.ndarray, truth: np.ndarray, scale: int) -> float:
    """Gradient energy across block borders over that inside blocks, relative to the truth's.

    1 means the answer's block borders are no more visible than the painting's own
    structure makes them; above 1, the scan's blocks show through (a step at every
    block border, as nearest-neighbour upsampling or a projection adding one constant
    per block gives).
    """
    x, t = normalise_by_truth(maps.astype(np.float64), truth.astype(np.float64))
    return _border_ratio(x, scale) / max(_border_ratio(t, scale), 1e-30)


def block_mean_error(raw: np.ndarray, lr_maps: np.ndarray, scale: int) -> float:
    """How far an unprojected answer is from the scan: relative RMS of its block means' error.

    ``||U raw - Y_lr|| / ||Y_lr||`` (block-mean ``U``): 0 means the answer already
    agrees with the scan before any projection, so the projection has nothing to add.
    """
    b, hh, ww = raw.shape
    h, w = hh // scale, ww // scale
    means = raw.astype(np.float64).reshape(b, h, scale, w, scale).mean(axis=(2, 4))
    diff = means - lr_maps.astype(np.float64)
    return float(np.sqrt(np.mean(diff**2)) / max(np.sqrt(np.mean(lr_maps.astype(np.float64) ** 2)),
                                                1e-30))
