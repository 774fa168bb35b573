"""Per-map normalisation into the network's working range, and back to the input's units.

Each element map is mapped affinely so that zero counts land on ``zero_level`` and
the map's largest measured (LR) value on ``peak_level``. Keeping ``peak_level``
well below one leaves the bounded (sigmoid) output headroom for HR detail that is
brighter than any block mean (a thin bright line is ``s`` times brighter than
the block it falls in), and ``zero_level > 0`` keeps absent elements away from
the sigmoid's flat tail. The map is affine, so it commutes with block averaging,
bilinear upsampling and the projection.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MapNormaliser:
    """Affine per-map normalisation ``y_n = zero_level + y * gain``.

    Attributes
    ----------
    peaks
        Largest LR value of each map (input units); 1 for an all-zero map.
    zero_level, peak_level
        Normalised values of zero and of ``peaks``.
    """

    peaks: tuple[float, ...]
    zero_level: float = 0.1
    peak_level: float = 0.5

    @classmethod
    def fit(
        cls, lr_maps: np.ndarray, zero_level: float = 0.1, peak_level: float = 0.5
    ) -> MapNormaliser:
        """Measure each map's peak from the LR maps ``(B, h, w)``."""
        if not 0 <= zero_level < peak_level <= 1:
            raise ValueError("need 0 <= zero_level < peak_level <= 1")
        peaks = lr_maps.reshape(lr_maps.shape[0], -1).max(axis=1).astype(np.float64)
        peaks[~(peaks > 0)] = 1.0
        return cls(tuple(float(p) for p in peaks), float(zero_level), float(peak_level))

    @property
    def gains(self) -> np.ndarray:
        """Per-map multiplier from input units to normalised units, shape ``(B,)``."""
        return (self.peak_level - self.zero_level) / np.asarray(self.peaks, dtype=np.float64)

    def forward(self, maps: np.ndarray) -> np.ndarray:
        """Input units to normalised units, for ``(B, ...)`` arrays."""
        out = np.empty(maps.shape, dtype=np.float32)
        for i, gain in enumerate(self.gains):  # map by map: no float64 copy of the stack
            out[i] = self.zero_level + maps[i] * gain
        return out

    def inverse(self, maps: np.ndarray) -> np.ndarray:
        """Normalised units back to the input's units, for ``(B, ...)`` arrays."""
        g = self.gains.reshape(-1, *([1] * (maps.ndim - 1)))
        return ((maps.astype(np.float64) - self.zero_level) / g).astype(np.float32)

    def to_dict(self) -> dict:
        """Plain-JSON form, for model files and provenance."""
        return {
            "peaks": list(self.peaks),
            "zero_level": self.zero_level,
            "peak_level": self.peak_level,
        }

    @classmethod
    def from_dict(cls, d: dict) -> MapNormaliser:
        """Inverse of :meth:`to_dict`, with type checks (model files may be untrusted)."""
        peaks = d["peaks"]
        if not isinstance(peaks, list) or not all(
            isinstance(p, (int, float)) and np.isfinite(p) and p > 0 for p in peaks
        ):
            raise ValueError("normalisation 'peaks' must be a list of positive numbers")
        return cls(
            tuple(float(p) for p in peaks), float(d["zero_level"]), float(d["peak_level"])
        )


def normalise_rgb(rgb01: np.ndarray, low: float = 0.1, high: float = 0.9) -> np.ndarray:
    """Photo in ``[0, 1]`` (H, W, 3) to channels-first ``(3, H, W)`` in ``[low, high]``."""
    return np.ascontiguousarray(
        (low + (high - low) * np.moveaxis(rgb01, -1, 0)).astype(np.float32)
    )
