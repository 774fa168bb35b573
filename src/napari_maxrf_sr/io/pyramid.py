"""Resolution pyramids of element stacks: level shapes and 2 x 2 averaging over dask arrays.

Level ``k + 1`` is level ``k`` averaged over blocks of 2 x 2 pixels (the maps are in
the input's units, so an average keeps their meaning); an odd last row or column is
averaged with itself, so every level covers the whole painting. Levels are added
until the longer side is at most :data:`TOP_LEVEL_MAX` pixels, which is about what
a screen shows: the whole painting then comes from the smallest level.
"""

from __future__ import annotations

import numpy as np

#: Levels halve until the longer side of the smallest one is at most this many pixels.
TOP_LEVEL_MAX = 1024
#: Chunk side (pixels) of the levels below full resolution.
LEVEL_CHUNK = 512


def level_shapes(shape: tuple[int, int, int], top: int = TOP_LEVEL_MAX) -> list[tuple[int, ...]]:
    """``(B, h, w)`` of every level, full resolution first."""
    n, h, w = (int(v) for v in shape)
    out = [(n, h, w)]
    while max(h, w) > top:
        h, w = (h + 1) // 2, (w + 1) // 2
        out.append((n, h, w))
    return out


def half(block: np.ndarray) -> np.ndarray:
    """``(B, h, w)`` -> ``(B, ceil(h/2), ceil(w/2))`` float32 means of 2 x 2 pixels.

    An odd last row or column is repeated, so its pixels average with themselves.
    """
    b = np.asarray(block, dtype=np.float32)
    h, w = b.shape[-2:]
    if h % 2 or w % 2:
        b = np.pad(b, ((0, 0), (0, h % 2), (0, w % 2)), mode="edge")
    s = (b[:, 0::2, 0::2] + b[:, 1::2, 0::2]) + (b[:, 0::2, 1::2] + b[:, 1::2, 1::2])
    return s * np.float32(0.25)


def downsample(arr, chunk: int = LEVEL_CHUNK):
    """The next pyramid level of a ``(B, h, w)`` dask array, in chunks of ``chunk`` pixels.

    The input is regrouped into chunks of ``2 * chunk`` (even, except at the far
    edges), so each output chunk comes from one input chunk.
    """
    a = arr.rechunk((1, 2 * chunk, 2 * chunk))
    out_chunks = (a.chunks[0], tuple((c + 1) // 2 for c in a.chunks[1]),
                  tuple((c + 1) // 2 for c in a.chunks[2]))
    return a.map_blocks(half, chunks=out_chunks, dtype=np.float32)
