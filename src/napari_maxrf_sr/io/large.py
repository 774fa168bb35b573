"""Results bigger than memory: an element stack written tile by tile into a mapped file.

A whole painting at photo resolution can exceed the computer's memory (20000 x 20000
pixels x 21 elements is 31 GiB of float32). Such a result is never held in memory:
the output TIFF is created on disk with its header first (same format as
:func:`~napari_maxrf_sr.io.writers.write_element_stack`: an ImageJ hyperstack with
element names), its pixel data are memory-mapped, and inference fills them band by
band. The file is uncompressed and contiguous, so it can be memory-mapped again when
it is read (:func:`open_element_stack_lazily`), and napari shows it without loading it.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_path
from ..errors import InputError
from .tiff import mapped_pixels
from .writers import check_stack_path, stack_metadata

#: Results above this many bytes go to disk tile by tile instead of into memory.
IN_MEMORY_LIMIT = 2 * 2**30


def result_nbytes(n_maps: int, height: int, width: int) -> int:
    """Bytes of a float32 ``(n_maps, height, width)`` result."""
    return 4 * int(n_maps) * int(height) * int(width)


def available_memory() -> int | None:
    """Bytes of memory free for new allocations now, or ``None`` where unknown."""
    try:
        import psutil  # a napari dependency; optional for the core
    except ImportError:
        return None
    return int(psutil.virtual_memory().available)


def check_result_fits(n_maps: int, height: int, width: int, *, copies: float = 2.0) -> None:
    """Refuse, before training, a result that memory cannot hold ``copies`` times.

    For the napari widget, whose results become layers in memory: running out of
    memory there would end napari, and the user's unsaved work with it.
    """
    need = copies * result_nbytes(n_maps, height, width)
    free = available_memory()
    if free is None or need <= free:
        return
    raise InputError(
        f"The result would be {n_maps} maps of {width} x {height} px "
        f"({result_nbytes(n_maps, height, width) / 2**30:.1f} GiB), more than the free "
        f"memory ({free / 2**30:.1f} GiB) can hold in napari. Run it from the command line, "
        "which writes results of any size to disk band by band (maxrf-sr run MAPS PHOTO "
        "--out result.tif), then open result.tif in napari: it opens without loading. Or "
        "select fewer elements, or work on a crop of the painting."
    )


#: Memory of the program itself before any data (Python, NumPy, torch), in bytes.
BASE_MEMORY = 400 * 2**20


def check_memory_for(parts: Mapping[str, int], advice: str) -> None:
    """Refuse, before any work, work whose memory would not fit in what is free now.

    Parameters
    ----------
    parts
        What will be held in memory -> its bytes (the photo as decoded, the maps...).
    advice
        What to do instead.

    Raises
    ------
    InputError
        "This will need about N GiB ...; this computer has M GiB free", with ``advice``.
    """
    need = BASE_MEMORY + sum(int(n) for n in parts.values())
    free = available_memory()
    if free is None or need <= free:
        return
    detail = ", ".join(f"{what} {n / 2**30:.1f} GiB" for what, n in parts.items()
                       if n >= 2**26)
    raise InputError(
        f"This will need about {need / 2**30:.1f} GiB of memory"
        + (f" ({detail})" if detail else "")
        + f"; this computer has {free / 2**30:.1f} GiB free. {advice}"
    )


@contextlib.contextmanager
def element_stack_on_disk(
    path: str | Path,
    shape: tuple[int, int, int],
    elements: Sequence[str],
    *,
    scale: Any = None,
    role: str = "sr_map",
    provenance: Mapping[str, Any] | None = None,
    force: bool = False,
) -> Iterator[np.memmap]:
    """Create an element-stack TIFF and yield its pixels as a writable memory map.

    The file appears at ``path`` only when the block ends without an error (it is
    written under a temporary name, then renamed); an error or an interruption leaves
    nothing behind.

    Parameters
    ----------
    path
        ``.tif`` file to create.
    shape
        ``(B, H, W)``.
    elements
        One name per map.
    scale, role, provenance
        As for :func:`~napari_maxrf_sr.io.writers.write_element_stack`.
    force
        Replace an existing file.
    """
    import tifffile

    path = check_stack_path(path)
    names = [str(e) for e in elements]
    if len(shape) != 3 or len(names) != shape[0]:
        raise InputError(f"{len(names)} element names for maps of shape {tuple(shape)}.")
    metadata = stack_metadata(names, scale=scale, role=role, provenance=provenance)
    with atomic_path(path, force=force) as tmp, warnings.catch_warnings():
        # Above 4 GiB tifffile writes ImageJ's own large-file layout (one header, the
        # pages back to back) and says so; ImageJ, Fiji and tifffile read it.
        warnings.filterwarnings("ignore", message=".*truncat.*")
        mm = tifffile.memmap(tmp, shape=tuple(int(n) for n in shape), dtype=np.float32,
                             imagej=True, metadata=metadata)
        try:
            yield mm
            mm.flush()
        finally:
            del mm


def open_element_stack_lazily(path: str | Path) -> np.memmap:
    """The pixels of an uncompressed element-stack TIFF as a read-only memory map.

    Raises
    ------
    ValueError
        When the file's pixels cannot be memory-mapped (compressed, tiled, not float32).
    """
    mm = mapped_pixels(Path(path))
    if mm is None:
        raise ValueError(f"{str(path)!r} holds no uncompressed float32 stack to map.")
    return mm
