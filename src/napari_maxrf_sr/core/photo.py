"""The photo kept in its own pixel type, converted to floats a band at a time.

An 8-bit RGB photo of a whole painting (20000 x 20000 px) takes 1.2 GB; as float32
it would take 4.8 GB, and every full-size float copy another 4.8 GB. The core keeps
the photo as it was read and converts only the rows it is working on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is imported where tensors are made: readers need no torch
    import torch

#: Value of full intensity for each pixel type the core accepts.
_UNIT = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0,
         np.dtype(np.float32): 1.0}


class PhotoPixels:
    """A validated ``(H, W, 3)`` photo, read as float32 in ``[0, 1]`` where indexed.

    Indexing returns float32 in ``[0, 1]`` (``photo[r0:r1]`` is a band of rows), and
    ``np.asarray(photo)`` the whole photo so; neither changes ``raw``.

    Parameters
    ----------
    raw
        ``(H, W, 3)`` uint8, uint16 or float32 (already in ``[0, 1]``); not copied.
    """

    def __init__(self, raw: np.ndarray) -> None:
        raw = np.asarray(raw)
        if raw.ndim != 3 or raw.shape[-1] != 3 or raw.dtype not in _UNIT:
            raise ValueError(f"expected an (H, W, 3) uint8, uint16 or float32 photo, got "
                             f"{raw.dtype} {raw.shape}")
        self.raw = raw
        self.unit = _UNIT[raw.dtype]

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(H, W, 3)``."""
        return self.raw.shape

    def __getitem__(self, key) -> np.ndarray:
        return to_unit_float(self.raw[key], self.unit)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = to_unit_float(self.raw, self.unit)
        return out if dtype is None else out.astype(dtype, copy=False)

    def channels_first_tensor(self) -> tuple[torch.Tensor, float]:
        """``(3, H, W)`` tensor of the raw values, and the value of full intensity.

        8-bit photos stay 8-bit (torch has few uint16 operations, so 16-bit
        photos become float32 in ``[0, 1]``, unit 1).
        """
        import torch

        if self.raw.dtype == np.uint8:
            return torch.from_numpy(np.ascontiguousarray(np.moveaxis(self.raw, -1, 0))), 255.0
        planes = np.empty((3, *self.raw.shape[:2]), dtype=np.float32)
        for c in range(3):  # one channel at a time: no (H, W, 3) float copy
            planes[c] = to_unit_float(self.raw[..., c], self.unit)
        return torch.from_numpy(planes), 1.0


def to_unit_float(values: np.ndarray, unit: float) -> np.ndarray:
    """Raw photo values as float32 in ``[0, 1]`` (the same rounding as ``x / unit``)."""
    out = np.asarray(values).astype(np.float32)
    if unit != 1.0:
        out /= np.float32(unit)
    return out
