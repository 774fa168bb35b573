"""Whether a result agrees with the scan it came from, checked before it is written.

Every method except plain bicubic ends with a projection onto the scan: averaged over
each ``s x s`` block, the result gives back the measured map. A model file with absurd
weights, or a damaged checkpoint, gives a result that does not (values of 1e18 for a
scan whose counts reach 190): it is refused before anything is written. The check reads
the result a band of rows at a time, so it works on a memory-mapped output file or a
pyramid level as well as on an array. NumPy only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import ResultDisagrees

#: Largest disagreement accepted, relative to the map's largest measured value (float32
#: results agree to about 1e-7; a wrong network is off by orders of magnitude).
TOLERANCE = 1e-3
#: Bytes of the result read at once.
BAND_BYTES = 32 * 2**20


def disagreement(sr, lr: np.ndarray, scale: int) -> np.ndarray:
    """Per map, the largest ``|block mean of sr - lr|`` relative to the map's largest ``|lr|``.

    ``sr`` is ``(B, s h, s w)`` (an array, a memory map or a zarr array), ``lr`` ``(B, h, w)``.
    Not finite where ``sr`` holds NaN or infinite values.
    """
    lr = np.asarray(lr, dtype=np.float64)
    b, h, w = lr.shape
    s = int(scale)
    rows = max(1, BAND_BYTES // max(1, 4 * s * s * w))
    worst = np.zeros(b)
    for i in range(b):
        peak = float(np.abs(lr[i]).max(initial=0.0)) or 1.0
        for r0 in range(0, h, rows):
            r1 = min(h, r0 + rows)
            band = np.asarray(sr[i, s * r0 : s * r1, :], dtype=np.float64)
            means = band.reshape(r1 - r0, s, w, s).mean(axis=(1, 3))
            with np.errstate(invalid="ignore", over="ignore"):
                off = np.abs(means - lr[i, r0:r1]).max(initial=0.0)
            worst[i] = off / peak if np.isfinite(off) else np.inf
            if not np.isfinite(worst[i]):
                break
    return worst


def check_agreement(sr, lr: np.ndarray, scale: int, elements: Sequence[str], *,
                    advice: str) -> None:
    """Refuse a result whose block means are not the scan (see the module's docstring).

    Parameters
    ----------
    sr, lr, scale
        As for :func:`disagreement`.
    elements
        The maps' names, for the message.
    advice
        What to do (which file to suspect, what to run instead).

    Raises
    ------
    ResultDisagrees
        Naming the worst map and how far off it is, then ``advice``.
    """
    worst = disagreement(sr, lr, scale)
    bad = int(np.argmax(np.where(np.isfinite(worst), worst, np.inf)))
    if np.isfinite(worst[bad]) and worst[bad] <= TOLERANCE:
        return
    peak = float(np.abs(np.asarray(lr[bad], dtype=np.float64)).max(initial=0.0))
    off = ("holds NaN or infinite values" if not np.isfinite(worst[bad]) else
           f"averages, over its blocks, to values up to {worst[bad] * (peak or 1.0):.3g} "
           f"away from the scan's (which reach {peak:.3g})")
    raise ResultDisagrees(
        f"The result does not agree with the scan: map {elements[bad]!r} {off}. It was "
        f"not written. {advice}"
    )
