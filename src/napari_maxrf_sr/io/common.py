"""What every element-map reader shares: the result's type, its metadata, and helpers.

Every reader returns ``(maps, elements, meta)``: ``maps`` is ``(B, h, w)``
float32, ``elements`` one name per map and ``meta`` a :class:`MapsMeta`.
Negative values are kept (fitted peak areas may dip below zero); the
super-resolution entry points decide what to do with them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..core import validation
from ..core.validation import default_element_names
from ..errors import InputError
from .elements import normalise_element_name

if TYPE_CHECKING:
    from .spectrum import RplWindows

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
    details
        Other programs' formats: what their reader adds (PyMca's fit group, an
        OME-Zarr's contrast limits, ...).
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
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, meta: dict[str, Any]) -> MapsMeta:
        """From the plain dictionary that the readers of other programs' formats return."""
        known = {f for f in cls.__dataclass_fields__ if f != "details"}
        return cls(**{k: v for k, v in meta.items() if k in known},
                   details={k: v for k, v in meta.items() if k not in known})


MapsResult = tuple[np.ndarray, tuple[str, ...], MapsMeta]


def as_float32_stack(arr: np.ndarray, source: str) -> np.ndarray:
    """``(h, w)`` or ``(B, h, w)`` real numbers -> ``(B, h, w)`` float32, all at once.

    For the readers of other programs' files, which hold their maps in memory.

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


#: Largest block of a file decoded at once while it is copied into the float32 maps.
BAND_BYTES = 64 << 20


def check_number_type(dtype: np.dtype, source: str) -> None:
    """Refuse values that are not real numbers (before any of them is read)."""
    if dtype.kind == "c":
        raise InputError(f"{source} holds complex numbers; store their magnitude (np.abs).")
    if dtype.kind not in "biuf" or dtype.fields is not None:
        raise InputError(
            f"{source} holds values of type {dtype}, not numbers. Save the maps as "
            "numbers, e.g. maps.astype(np.float32)."
        )


def new_stack(shape: tuple[int, ...], source: str) -> np.ndarray:
    """An empty ``(B, h, w)`` float32 stack, after checking its size against the limit."""
    validation.check_map_size(shape, name=f"maps in {source}")
    return np.empty(tuple(int(n) for n in shape), dtype=np.float32)


def put(out: np.ndarray, values: np.ndarray, source: str) -> None:
    """Copy a block of a file's values into (part of) the float32 maps.

    Float values too large for float32 are refused first (the cast would make them
    infinite), so each block is checked as it arrives and no float64 copy of the
    whole stack is ever made.
    """
    values = np.asarray(values)
    if values.dtype.kind == "f" and values.size:
        # one block at a time, as one "map": the check then copies no more than the block
        validation.check_magnitude(values.reshape(1, -1), name=f"maps in {source}")
    out[...] = values


def row_bands(height: int, row_bytes: int):
    """``(r0, r1)`` bands of rows of about :data:`BAND_BYTES` each."""
    rows = max(1, BAND_BYTES // max(1, row_bytes))
    for r0 in range(0, height, rows):
        yield r0, min(height, r0 + rows)


def copy_bands(out: np.ndarray, stack, source: str) -> None:
    """Copy an array-like (a memory map, an HDF5 dataset) into ``out``, a band at a time.

    ``stack`` is ``(B, h, w)`` like ``out``, or ``(h, w)`` for an ``out`` of one map.
    """
    b, h, w = out.shape
    row_bytes = w * np.dtype(stack.dtype).itemsize
    for k in range(b):
        for r0, r1 in row_bands(h, row_bytes):
            band = stack[r0:r1] if len(stack.shape) == 2 else stack[k, r0:r1]
            put(out[k, r0:r1], band, source)
