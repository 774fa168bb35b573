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

from dataclasses import dataclass, replace

import numpy as np
import torch


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


@dataclass(frozen=True)
class PhotoNormaliser:
    """The photo's colours mapped affinely into the network's input range.

    ``z' = matrix @ z + offset`` per pixel, for colours ``z`` in ``[0, 1]``. Two kinds:

    * :meth:`fixed`: ``[0, 1]`` onto ``[low, high]`` per channel, the same for any photo.
    * :meth:`whitened`: the photo's own colours decorrelated and scaled to a common
      spread (ZCA whitening about the mean colour, ours). A subtle colour difference
      that marks an element (a faint copper-green stain on brown ink and paper) is
      then as large an input as the light-dark contrast, instead of a few percent of
      it: the network's weights are kept below one in stage 1, so small inputs would
      stay small all the way through. A component's spread is floored
      (:data:`MIN_COLOUR_STD`), so a grey photo's empty colour directions are not
      blown up into noise.

    Either kind can also clip the normalised colours to a range (:meth:`clipped`).

    Attributes
    ----------
    matrix
        ``3 x 3``, row by row.
    offset
        ``(3,)``.
    clip_low, clip_high
        ``(3,)`` bounds of the normalised colours, or ``None`` for no clipping.
    """

    matrix: tuple[tuple[float, float, float], ...]
    offset: tuple[float, float, float]
    clip_low: tuple[float, float, float] | None = None
    clip_high: tuple[float, float, float] | None = None

    @classmethod
    def fixed(cls, low: float = 0.1, high: float = 0.9) -> PhotoNormaliser:
        """``[0, 1]`` onto ``[low, high]``, channel by channel."""
        g = float(high - low)
        return cls(((g, 0.0, 0.0), (0.0, g, 0.0), (0.0, 0.0, g)), (low, low, low))

    @classmethod
    def whitened(cls, photo, target_std: float = 0.15,
                 max_samples: int = 1 << 20) -> PhotoNormaliser:
        """Fit the whitening on ``photo`` (``(H, W, 3)``, indexable as ``[0, 1]`` floats).

        Pixels are sampled on a regular grid (at most ``max_samples``), so a whole
        painting's photo is never converted at once. The mean colour maps to 0.5 and
        each decorrelated component to a spread of ``target_std``.
        """
        h, w = photo.shape[:2]
        step = max(1, int(np.ceil(np.sqrt(h * w / max_samples))))
        z = np.asarray(photo[::step, ::step], dtype=np.float64).reshape(-1, 3)
        mean = z.mean(axis=0)
        cov = np.cov(z, rowvar=False) if len(z) > 1 else np.zeros((3, 3))
        values, vectors = np.linalg.eigh(cov)
        std = np.sqrt(np.maximum(values, 0.0))
        gains = target_std / np.maximum(std, MIN_COLOUR_STD)
        matrix = vectors @ np.diag(gains) @ vectors.T  # ZCA: channels keep their meaning
        offset = 0.5 - matrix @ mean
        return cls(tuple(tuple(float(v) for v in row) for row in matrix),
                   tuple(float(v) for v in offset))

    def clipped(self, low, high) -> PhotoNormaliser:
        """The same normalisation, its output clipped to ``[low, high]`` per channel.

        Used to keep the network's photo input within the colours it was trained on
        (those of the photo averaged over scan pixels, see ``SRConfig.photo_range``).
        """
        lo, hi = np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
        if lo.shape != (3,) or hi.shape != (3,) or not (
                np.isfinite(lo).all() and np.isfinite(hi).all()):
            raise ValueError("photo clip range must be two finite vectors of 3 values")
        if not (lo <= hi).all():
            raise ValueError("each clip range needs low <= high")
        return replace(self, clip_low=tuple(float(v) for v in lo),
                       clip_high=tuple(float(v) for v in hi))

    @property
    def centre(self) -> float:
        """The normalised value around which a colour channel is inverted."""
        return float(np.mean(np.asarray(self.matrix).sum(axis=1) * 0.5 + self.offset))

    def apply(self, rgb01: np.ndarray) -> np.ndarray:
        """``(H, W, 3)`` colours in ``[0, 1]`` to channels-first ``(3, H, W)`` float32."""
        m = np.asarray(self.matrix, dtype=np.float32)
        out = np.einsum("ij,hwj->ihw", m, np.asarray(rgb01, dtype=np.float32))
        out += np.asarray(self.offset, dtype=np.float32)[:, None, None]
        if self.clip_low is not None:
            np.clip(out, np.asarray(self.clip_low, dtype=np.float32)[:, None, None],
                    np.asarray(self.clip_high, dtype=np.float32)[:, None, None], out=out)
        return np.ascontiguousarray(out, dtype=np.float32)

    def apply_channels_first(self, z: torch.Tensor) -> torch.Tensor:
        """A channels-first tensor ``(3, ...)`` of colours in ``[0, 1]``, normalised."""
        m = torch.tensor(self.matrix, dtype=z.dtype, device=z.device)
        off = torch.tensor(self.offset, dtype=z.dtype, device=z.device)
        flat = m @ z.reshape(3, -1) + off[:, None]
        if self.clip_low is not None:
            lo = torch.tensor(self.clip_low, dtype=z.dtype, device=z.device)
            hi = torch.tensor(self.clip_high, dtype=z.dtype, device=z.device)
            flat = torch.maximum(torch.minimum(flat, hi[:, None]), lo[:, None])
        return flat.reshape(z.shape)

    def to_dict(self) -> dict:
        """Plain-JSON form, for model files and provenance."""
        d = {"matrix": [list(r) for r in self.matrix], "offset": list(self.offset)}
        if self.clip_low is not None:
            d.update(clip_low=list(self.clip_low), clip_high=list(self.clip_high))
        return d

    @classmethod
    def from_dict(cls, d: dict) -> PhotoNormaliser:
        """Inverse of :meth:`to_dict`, with checks (model files may be untrusted)."""
        m = np.asarray(d["matrix"], dtype=np.float64)
        off = np.asarray(d["offset"], dtype=np.float64)
        if m.shape != (3, 3) or off.shape != (3,) or not (
                np.isfinite(m).all() and np.isfinite(off).all()):
            raise ValueError("photo normalisation must be a finite 3 x 3 matrix and offset")
        out = cls(tuple(tuple(float(v) for v in row) for row in m),
                  tuple(float(v) for v in off))
        if d.get("clip_low") is not None:
            out = out.clipped(d["clip_low"], d["clip_high"])
        return out


#: Smallest spread a colour component is scaled as (photo units, 0-1): about 2.5 levels
#: of an 8-bit photo, so JPEG noise in an empty colour direction is not amplified.
MIN_COLOUR_STD = 0.01


def photo_normaliser_for(config, photo) -> PhotoNormaliser:
    """The photo normalisation that ``config.photo_normalisation`` asks for."""
    if getattr(config, "photo_normalisation", "fixed") == "whitened":
        return PhotoNormaliser.whitened(photo)
    return PhotoNormaliser.fixed(config.rgb_low, config.rgb_high)


def normalise_rgb(rgb01: np.ndarray, low: float = 0.1, high: float = 0.9) -> np.ndarray:
    """Photo in ``[0, 1]`` (H, W, 3) to channels-first ``(3, H, W)`` in ``[low, high]``."""
    return PhotoNormaliser.fixed(low, high).apply(rgb01)
