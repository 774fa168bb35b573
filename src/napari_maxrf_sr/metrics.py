"""Quality measures of super-resolved maps, in one place (no Qt).

Importing it loads no torch: the bicubic reference is computed with
:func:`~napari_maxrf_sr.core.operators.upsample_bicubic_np` (torch), imported when a
comparison is made.

- With ground truth: PSNR and SSIM per element, for the network and for plain bicubic
  interpolation side by side (:func:`compare_with_bicubic`).
- Without: how much detail the photo added beyond bicubic interpolation, and where
  (:func:`detail_added`), in words a conservator can read.

PSNR takes the ground truth's maximum as the peak (maps are in counts, not in
``[0, 1]``), so it matches the paper's PSNR on maps normalised to ``[0, 1]`` from zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: A change larger than this share of a map's range counts as "changed" in the summary.
CHANGED_SHARE = 0.10
#: Names of the nine parts of a picture, row by row, used to say where detail was added.
_REGIONS = (("top left", "top", "top right"),
            ("left", "centre", "right"),
            ("bottom left", "bottom", "bottom right"))


@dataclass(frozen=True)
class ElementMetrics:
    """Quality of one map against its ground truth: PSNR (dB) and SSIM."""

    element: str
    psnr: float
    ssim: float


@dataclass(frozen=True)
class Comparison:
    """One element's quality for the network and for bicubic interpolation."""

    element: str
    network: ElementMetrics
    bicubic: ElementMetrics

    @property
    def gain_db(self) -> float:
        """How many dB the network is above bicubic (negative: below)."""
        return self.network.psnr - self.bicubic.psnr


@dataclass(frozen=True)
class DetailAdded:
    """How much the result differs from bicubic interpolation of the scan, and where.

    Attributes
    ----------
    element
        The map's name.
    typical_pct
        Root-mean-square of ``result - bicubic`` as a percentage of the map's range.
    changed_pct
        Percentage of the area where the result differs from bicubic by more than
        :data:`CHANGED_SHARE` of the map's range.
    where
        The part of the picture holding most of the added detail (``"top left"``,
        ``"centre"`` ...), or ``"everywhere"`` when it is spread evenly.
    """

    element: str
    typical_pct: float
    changed_pct: float
    where: str

    def sentence(self) -> str:
        """The summary in words."""
        if self.changed_pct < 0.5:
            return (f"{self.element}: the photo added little detail (typically "
                    f"{self.typical_pct:.1f} % of the map's range).")
        place = "all over the map" if self.where == "everywhere" else f"mostly {self.where}"
        return (f"{self.element}: the photo sharpened {self.changed_pct:.0f} % of the area, "
                f"{place} (typical change {self.typical_pct:.1f} % of the map's range).")


def psnr(result: np.ndarray, truth: np.ndarray) -> float:
    """PSNR in dB with the truth's maximum as the peak (``inf`` for identical maps)."""
    result = np.asarray(result, np.float64)
    truth = np.asarray(truth, np.float64)
    mse = float(np.mean((result - truth) ** 2))
    if mse == 0:
        return float("inf")
    peak = float(truth.max()) or 1.0
    return float(10.0 * np.log10(peak**2 / mse))


def ssim(result: np.ndarray, truth: np.ndarray) -> float:
    """Structural similarity with the truth's maximum as the data range (NaN below 3 px)."""
    from skimage.metrics import structural_similarity

    truth = np.asarray(truth, np.float64)
    win = min(7, *truth.shape)
    win = win if win % 2 else win - 1  # skimage needs an odd window
    if win < 3:
        return float("nan")
    peak = float(truth.max()) or 1.0
    return float(structural_similarity(truth, np.asarray(result, np.float64),
                                       data_range=peak, win_size=win))


def compute_metrics(maps: np.ndarray, truth: np.ndarray,
                    elements: Sequence[str]) -> list[ElementMetrics]:
    """PSNR and SSIM of each map against its truth (both ``(B, H, W)``)."""
    return [ElementMetrics(str(name), psnr(m, t), ssim(m, t))
            for m, t, name in zip(maps, truth, elements, strict=True)]


def _bicubic(lr: np.ndarray, scale: int) -> np.ndarray:
    """Bicubic interpolation of one ``(h, w)`` map (torch is imported here, on first use)."""
    from napari_maxrf_sr.core.operators import upsample_bicubic_np

    return upsample_bicubic_np(np.asarray(lr, np.float32)[None], scale)[0]


def compare_with_bicubic(maps: np.ndarray, lr_maps: np.ndarray, truth: np.ndarray,
                         scale: int, elements: Sequence[str]) -> list[Comparison]:
    """The network's maps and bicubic interpolation of the scan, each against the truth.

    Works one element at a time, so no second ``(B, H, W)`` stack is held.
    """
    out = []
    for m, lr, t, name in zip(maps, lr_maps, truth, elements, strict=True):
        up = _bicubic(lr, scale)
        out.append(Comparison(str(name), ElementMetrics(str(name), psnr(m, t), ssim(m, t)),
                              ElementMetrics(str(name), psnr(up, t), ssim(up, t))))
    return out


def mean_gain_db(rows: Sequence[Comparison]) -> float:
    """Mean of the finite PSNR gains over bicubic (NaN when there is none)."""
    gains = [r.gain_db for r in rows if np.isfinite(r.gain_db)]
    return float(np.mean(gains)) if gains else float("nan")


def _where(weight: np.ndarray) -> str:
    """The ninth of the picture with most of ``weight``, or ``everywhere``."""
    h, w = weight.shape
    rows = np.array_split(np.arange(h), 3)
    cols = np.array_split(np.arange(w), 3)
    shares = np.array([[weight[np.ix_(r, c)].sum() for c in cols] for r in rows])
    total = shares.sum()
    if total <= 0:
        return "everywhere"
    shares = shares / total
    i, j = np.unravel_index(int(np.argmax(shares)), shares.shape)
    # Spread evenly (no ninth holds even twice its fair share): no single place to name.
    return "everywhere" if shares[i, j] < 2.0 / 9.0 else _REGIONS[i][j]


def detail_added(maps: np.ndarray, lr_maps: np.ndarray, scale: int,
                 elements: Sequence[str]) -> list[DetailAdded]:
    """How much detail the photo added to each map beyond bicubic interpolation, and where."""
    out = []
    for m, lr, name in zip(maps, lr_maps, elements, strict=True):
        m = np.asarray(m, np.float32)
        up = _bicubic(lr, scale)
        diff = m - up
        span = float(np.max(lr) - np.min(lr)) or float(np.max(np.abs(m))) or 1.0
        typical = 100.0 * float(np.sqrt(np.mean(diff.astype(np.float64) ** 2))) / span
        changed = np.abs(diff) > CHANGED_SHARE * span
        out.append(DetailAdded(str(name), typical, 100.0 * float(changed.mean()),
                               _where(changed.astype(np.float64))))
    return out
