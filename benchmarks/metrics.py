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


#: The flat part of a map for :func:`seam_ratio`: pixels whose truth's local step energy is
#: at most this quantile of that map's (0.5: the flatter half of every map).
SEAM_FLAT_QUANTILE = 0.5


def seam_flat_mask(truth: np.ndarray, scale: int,
                   quantile: float = SEAM_FLAT_QUANTILE) -> np.ndarray:
    """``(B, H, W)`` bool: where the truth is flattest, for :func:`seam_ratio`.

    The truth's squared gradient (``np.gradient``, both axes), averaged with a Gaussian of
    sigma = ``scale`` pixels, at most its ``quantile`` over the map, map by map. The mask
    knows nothing of the scan grid (the Gaussian is shift-invariant), so it takes pairs
    across and inside blocks alike.
    """
    _, t = normalise_by_truth(truth.astype(np.float64), truth.astype(np.float64))
    gy, gx = np.gradient(t, axis=(1, 2))
    energy = gaussian_filter(gx**2 + gy**2, sigma=(0, scale, scale))
    limit = np.quantile(energy.reshape(len(t), -1), quantile, axis=1)
    return energy <= limit[:, None, None]


def seam_ratio(maps: np.ndarray, truth: np.ndarray, scale: int,
               where: str = "flat") -> float:
    """How much more the values jump across scan-pixel borders than inside scan pixels.

    Definition. Every map is divided by its truth's maximum. For every pair of
    horizontally or vertically adjacent pixels, the *step* is the difference of their
    values. A pair is *across* a border when its two pixels lie in different ``s x s``
    blocks of the scan grid (block ``k`` covers pixels ``s k .. s k + s - 1``, so the pairs
    ``(s k - 1, s k)``), and *inside* otherwise. Then

        seam ratio = sqrt( mean(step^2 over across pairs) / mean(step^2 over inside pairs) )

    with all maps pooled: the RMS jump across a scan-pixel border in units of the RMS jump
    between neighbours inside a block. ``where="flat"`` counts only pairs whose first pixel
    lies in :func:`seam_flat_mask` (the flatter half of each map, where a grid is what the
    eye sees); ``"all"``: every pair.

    Reading it: a map with no trace of the scan grid gives about 1 (a smooth image, or the
    truth itself: print the truth's row to see what 1 means on a case); an answer that
    adds one constant per block (nearest-neighbour upsampling, or a projection whose
    correction shows) gives more; below 1, smoother across borders than inside. Unlike
    :func:`block_artefact_index` it is not divided by the truth's value, and it uses the
    RMS (a ratio of jumps, not of energies). Issue 34's target: at most 1.3.
    """
    x, t = normalise_by_truth(maps.astype(np.float64), truth.astype(np.float64))
    if where == "flat":
        flat = seam_flat_mask(truth, scale)
    elif where == "all":
        flat = np.ones(x.shape, bool)
    else:
        raise ValueError(f"where must be 'flat' or 'all', got {where!r}")
    gx = np.diff(x, axis=-1) ** 2
    gy = np.diff(x, axis=-2) ** 2
    mx, my = flat[..., :, :-1], flat[..., :-1, :]
    bx = np.zeros(gx.shape[-1], bool)
    bx[scale - 1 :: scale] = True
    by = np.zeros(gy.shape[-2], bool)
    by[scale - 1 :: scale] = True
    across_x, inside_x = mx & bx[None, None, :], mx & ~bx[None, None, :]
    across_y, inside_y = my & by[None, :, None], my & ~by[None, :, None]
    across = (gx[across_x].sum() + gy[across_y].sum()) / max(across_x.sum() + across_y.sum(), 1)
    inside = (gx[inside_x].sum() + gy[inside_y].sum()) / max(inside_x.sum() + inside_y.sum(), 1)
    return float(np.sqrt(across / inside)) if inside > 0 else float("inf")


def measure_row(maps: np.ndarray, raw: np.ndarray, case) -> dict:
    """Every quality measure of one answer on one case (``raw``: before its projection).

    The keys are the columns of ``benchmarks.run``'s table; ``maps`` may be the truth
    itself (what a perfect answer scores).
    """
    rmse, psnr = rmse_psnr(maps, case.hr_maps)
    return {"rmse": rmse, "psnr": psnr, "ssim": mean_ssim(maps, case.hr_maps),
            "false_detail": false_detail(maps, case.hr_maps, case.edge_mask, case.scale),
            "false_detail_flat": false_detail_flat(maps, case.hr_maps, case.edge_mask,
                                                   case.scale),
            "hidden_detail": hidden_detail(maps, case.hr_maps, case.hidden_mask, case.scale),
            "seam": seam_ratio(maps, case.hr_maps, case.scale, "flat"),
            "seam_all": seam_ratio(maps, case.hr_maps, case.scale, "all"),
            "blocks": block_artefact_index(maps, case.hr_maps, case.scale),
            "scan_error": block_mean_error(raw, case.lr_maps, case.scale),
            "detail_energy": detail_energy(maps, case.hr_maps, case.scale)}
