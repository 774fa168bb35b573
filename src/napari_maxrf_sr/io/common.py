"""What every element-map reader shares: the result's type, its metadata, and helpers.

Every reader returns ``(maps, elements, meta)``: ``maps`` is ``(B, h, w)``
float32, ``elements`` one name per map and ``meta`` a :class:`MapsMeta`.
Negative values are kept (fitted peak areas may dip below zero); the
super-resolution entry points decide what to do with them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..core import validation
from ..core.validation import InputError, default_element_names
from .elements import normalise_element_name

if TYPE_CHECKING:
    from .rpl import RplWindows

#: Marker stored in the files this package writes (ImageJ "Info" / sidecar JSON).
STACK_FORMAT = "napari-maxrf-sr element stack"
#: Sidecar that :func:`~napari_maxrf_sr.io.writers.write_element_images` puts in a folder.
FOLDER_SIDECAR = "elements.json"
#: Where NumPy and HDF5 files keep the element names of a stack.
NAME_KEYS = ("elements", "element_names", "names", "labels")

MapsFormat = Literal["tiff", "folder", "image", "npy", "npz", "hdf5", "rpl"]


@dataclass
class MapsMeta:
    """What a reader learned about the maps besides their pixels.

    Attributes
    ----------
    source
        The file or folder read.
    format
        Which reader read it.
    notes
        What was assumed or skipped, in words for the user (a map name made up, a
        file skipped, a calibration assumed). Entry points show them.
    scale
        As stored by the writer: a whole number ``s`` (maps ``s`` times coarser than
        the photo) or a layer's ``(sy, sx)``; ``None`` when the file does not say.
    translate
        A layer's ``(ty, tx)``, as stored by the writer, or ``None``.
    layer_names
        Display names stored by the writer, if they differ from the element names.
    role
        ``"lr_map"`` (measured maps) or ``"sr_map"`` (super-resolved).
    provenance
        How the maps were made, as stored in the file, or ``None``.
    files
        Folders: the image files that were listed.
    rpl
        Spectral cubes: the calibration, the energy windows and the header.
    """

    source: str
    format: MapsFormat
    notes: list[str] = field(default_factory=list)
    scale: Any = None
    translate: Any = None
    layer_names: list[str] | None = None
    role: str = "lr_map"
    provenance: dict[str, Any] | None = None
    files: list[str] | None = None
    rpl: RplWindows | None = None


MapsResult = tuple[np.ndarray, tuple[str, ...], MapsMeta]


def as_stack(arr: np.ndarray, source: str) -> np.ndarray:
    """``(h, w)`` or ``(B, h, w)`` numeric array -> ``(B, h, w)`` float32."""
    arr = np.asarray(arr)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise InputError(
            f"{source} holds values of type {arr.dtype}, not numbers. Save the maps as "
            "numbers, e.g. maps.astype(np.float32)."
        )
    if np.iscomplexobj(arr):
        raise InputError(f"{source} holds complex numbers; store their magnitude (np.abs).")
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise InputError(
            f"{source} holds an array of shape {arr.shape}; element maps must be (h, w) or "
            f"(B, h, w) (element, rows, columns). {validation.stack_shape_hint(arr.shape)}"
        )
    # float64 values beyond float32's range would turn into inf in the cast below
    validation.check_magnitude(arr, name=f"maps in {source}")
    return arr.astype(np.float32, copy=False)


def names_or_default(names, n: int, source: str, notes: list[str]) -> tuple[str, ...]:
    """``names`` normalised, or ``map 1 .. map n`` (with a note) when absent or miscounted."""
    if names is None:
        notes.append(f"no element names in {source}: using 'map 1' ... 'map {n}'")
        return default_element_names(n)
    names = tuple(normalise_element_name(str(x)) for x in names)
    if len(names) != n:
        notes.append(
            f"{source} names {len(names)} elements for {n} maps; using 'map 1' ... 'map {n}'"
        )
        return default_element_names(n)
    return names


def read_sidecar(path: str | Path) -> dict[str, Any] | None:
    """JSON sidecar of a file: ``<stem>.json`` or ``<name>.json`` next to it, if any."""
    p = Path(path)
    for cand in (p.with_suffix(".json"), p.with_name(p.name + ".json")):
        if cand.is_file() and cand != p:
            try:
                data = json.loads(cand.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise InputError(f"The sidecar {str(cand)!r} is not valid JSON: {exc}") from exc
            if isinstance(data, dict):
                return data
    return None
