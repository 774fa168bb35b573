"""What the readers of other programs' files share: float32 stacks and element names."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..core import validation
from ..core.validation import InputError, default_element_names
from .elements import normalise_element_name


def as_float32_stack(arr: np.ndarray, source: str) -> np.ndarray:
    """``(h, w)`` or ``(B, h, w)`` real numbers -> ``(B, h, w)`` float32.

    Raises
    ------
    InputError
        For values that are not real numbers or do not fit float32.
    """
    arr = np.asarray(arr)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.dtype.kind not in "biuf":
        raise InputError(f"{source} holds {arr.dtype} data of shape {arr.shape}, not maps.")
    validation.check_magnitude(arr, name=f"maps in {source}")
    return arr.astype(np.float32, copy=False)


def element_names(names: Sequence[str] | None, n: int, source: str,
                  notes: list[str]) -> tuple[str, ...]:
    """Normalised names, or ``map 1 .. map n`` (with a note) when they do not fit."""
    if names is None or len(names) != n:
        if names is not None:
            notes.append(f"{source} names {len(names)} elements for {n} maps; using "
                         f"'map 1' ... 'map {n}'")
        else:
            notes.append(f"no element names in {source}: using 'map 1' ... 'map {n}'")
        return default_element_names(n)
    return tuple(normalise_element_name(str(x)) for x in names)
