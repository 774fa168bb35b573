"""Element maps in NumPy files: ``.npy`` arrays and ``.npz`` archives.

Every header is checked against the file's size and the memory limit before any
array is read, and nothing is unpickled.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..core import validation
from ..core.validation import InputError
from .common import (
    NAME_KEYS,
    MapsMeta,
    MapsResult,
    as_stack,
    names_or_default,
    read_sidecar,
)
from .elements import normalise_element_name
from .filecheck import check_npy_data, damaged, npy_header, unreadable


def read_npy_maps(path: str | Path) -> MapsResult:
    """Read a ``.npy`` array ``(B, h, w)`` or ``(h, w)``; names from a sidecar ``<stem>.json``."""
    path = Path(path)
    arr = _load_npy(path)
    maps = as_stack(arr, repr(str(path)))
    notes: list[str] = []
    side = read_sidecar(path) or {}
    elements = names_or_default(side.get("elements"), maps.shape[0], repr(path.name), notes)
    meta = MapsMeta(
        source=str(path),
        format="npy",
        notes=notes,
        scale=side.get("scale"),
        provenance=side.get("provenance"),
    )
    return maps, elements, meta


def npy_info(path: str | Path, *, numbers_only: bool = True) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of a ``.npy`` file, after checking its header against its size.

    Raises
    ------
    InputError
        For a damaged or truncated file, a header that promises more data than the
        file holds, more values than fit in memory or (``numbers_only``) values that
        are not numbers.
    """
    path = Path(path)
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            shape, dtype, head = npy_header(fh, repr(str(path)))
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise unreadable(path, exc) from exc
    check_npy_data(shape, dtype, size - head, repr(str(path)), numbers_only=numbers_only)
    return shape, dtype


def _load_npy(path: Path) -> np.ndarray:
    npy_info(path)  # nothing is allocated before the header has been checked
    try:
        return np.load(path, allow_pickle=False)
    except Exception as exc:
        raise damaged(path, exc, "NumPy .npy") from exc


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    """All arrays of a ``.npz``, each member's header checked before it is read."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            total = 0
            for info in zf.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                source = f"{path.name}[{info.filename[:-4]!r}]"
                with zf.open(info) as fh:
                    shape, dtype, head = npy_header(fh, source)
                check_npy_data(shape, dtype, info.file_size - head, source, numbers_only=False)
                if dtype.kind in "biuf":
                    total += int(np.prod(shape, dtype=object))
            validation.check_map_size((total,), name=f"arrays in {path.name!r}")
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except InputError:
        raise
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        raise damaged(path, exc, "NumPy .npz (zip)") from exc
    except Exception as exc:  # zlib.error, EOFError, CRC errors: a damaged archive
        raise damaged(path, exc, "NumPy .npz (zip)") from exc


_STACK_KEYS = ("maps", "lr_maps", "element_maps", "data")


def read_npz_maps(path: str | Path) -> MapsResult:
    """Read a ``.npz`` file: one 2-D array per element (keys are the names), or a 3-D stack.

    A stack is taken from the key ``maps`` (or ``lr_maps``, ``element_maps``,
    ``data``, or the only 3-D array), its names from ``elements`` (or
    ``element_names``, ``names``, ``labels``) or a sidecar JSON.
    """
    path = Path(path)
    notes: list[str] = []
    arrays = _load_npz(path)
    names = next((arrays[k] for k in NAME_KEYS if k in arrays), None)
    stack_key = next((k for k in _STACK_KEYS if k in arrays and arrays[k].ndim == 3), None)
    if stack_key is None:
        three_d = [k for k, a in arrays.items() if a.ndim == 3]
        stack_key = three_d[0] if len(three_d) == 1 else None
    scale = None
    if "scale" in arrays and arrays["scale"].size == 1:
        scale = arrays["scale"].item()
    if stack_key is not None:
        maps = as_stack(arrays[stack_key], f"{path.name}[{stack_key!r}]")
        if names is None:
            names = (read_sidecar(path) or {}).get("elements")
        elements = names_or_default(
            None if names is None else [str(x) for x in np.ravel(names)],
            maps.shape[0],
            repr(path.name),
            notes,
        )
    else:
        two_d = {
            k: a
            for k, a in arrays.items()
            if a.ndim == 2 and np.issubdtype(a.dtype, np.number) and k not in NAME_KEYS
        }
        if not two_d:
            raise InputError(
                f"{str(path)!r} holds no element maps: store one 2-D array per element "
                "(np.savez(path, **{'Pb L': pb, 'Hg L': hg})) or a (B, h, w) array under "
                "'maps' with names under 'elements'."
            )
        shapes = {a.shape for a in two_d.values()}
        if len(shapes) > 1:
            raise InputError(
                f"The arrays in {str(path)!r} have different shapes {sorted(shapes)}; element "
                "maps must all have the same size."
            )
        maps = np.stack([a.astype(np.float32) for a in two_d.values()])
        elements = tuple(normalise_element_name(k) for k in two_d)
    return maps, elements, MapsMeta(source=str(path), format="npz", notes=notes, scale=scale)
