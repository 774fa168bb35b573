"""Element maps in HDF5 files (``.h5``, ``.hdf5``, ``.nxs``), read with h5py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..core import validation
from ..core.validation import InputError
from .common import NAME_KEYS, MapsMeta, MapsResult, as_stack, names_or_default
from .elements import normalise_element_name
from .filecheck import damaged


def _import_h5py():
    try:
        import h5py
    except ImportError as exc:  # optional dependency
        raise ImportError(
            "Reading HDF5 maps needs h5py, which is not installed. Install it with "
            "pip install napari-maxrf-sr[hdf5]  (or: pip install h5py)."
        ) from exc
    return h5py


def _decode_names(value) -> list[str] | None:
    if value is None:
        return None
    out = []
    for x in np.ravel(np.asarray(value)):
        out.append(x.decode("utf-8") if isinstance(x, bytes) else str(x))
    return out


def read_h5_maps(path: str | Path, *, dataset: str | None = None) -> MapsResult:
    """Element maps from an HDF5 file (needs the optional ``h5py``).

    Either one ``(B, h, w)`` dataset (chosen with ``dataset=``, or the only 3-D
    one) whose names are in an attribute ``elements`` (or ``names``/``labels``)
    or a sibling dataset ``elements``; or several 2-D datasets of the same
    shape, named by element (``/maps/Pb L``, ``/Fe_K``...).
    """
    h5py = _import_h5py()
    path = Path(path)
    try:
        return _read_h5(h5py, path, dataset)
    except (InputError, FileNotFoundError):
        raise
    except Exception as exc:  # h5py reports damaged files as OSError or KeyError
        raise damaged(path, exc, "HDF5") from exc


def _read_h5(h5py, path: Path, dataset: str | None) -> MapsResult:
    notes: list[str] = []
    with h5py.File(path, "r") as f:
        found: dict[str, Any] = {}

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and obj.ndim in (2, 3):
                if np.issubdtype(obj.dtype, np.number):
                    found[name] = obj

        f.visititems(visit)
        if dataset is not None:
            if dataset not in f:
                raise InputError(
                    f"{str(path)!r} has no dataset {dataset!r}; it has: "
                    f"{', '.join(sorted(found)) or 'no numeric 2-D/3-D datasets'}."
                )
            chosen = [dataset] if f[dataset].ndim == 3 else None
        else:
            three = [k for k, d in found.items() if d.ndim == 3]
            chosen = three if len(three) == 1 else None
            if len(three) > 1:
                raise InputError(
                    f"{str(path)!r} holds several 3-D datasets ({', '.join(three)}); choose "
                    "one with dataset='...'."
                )
        if chosen:
            ds = f[chosen[0]]
            validation.check_map_size(ds.shape, name=f"maps in {path.name}:{chosen[0]}")
            maps = as_stack(ds[()], f"{path.name}:{chosen[0]}")
            names = None
            for key in NAME_KEYS:
                if key in ds.attrs:
                    names = _decode_names(ds.attrs[key])
                    break
            parent = ds.parent
            if names is None:
                for key in NAME_KEYS:
                    if key in parent and isinstance(parent[key], h5py.Dataset):
                        names = _decode_names(parent[key][()])
                        break
            elements = names_or_default(names, maps.shape[0], repr(path.name), notes)
            scale = ds.attrs.get("scale")
        else:
            two = {k: d for k, d in found.items() if d.ndim == 2}
            if dataset is not None:
                two = {dataset: f[dataset]}
            if not two:
                raise InputError(
                    f"{str(path)!r} holds no element maps (no numeric 2-D or 3-D datasets)."
                )
            shapes = {d.shape for d in two.values()}
            if len(shapes) > 1:
                raise InputError(
                    f"The 2-D datasets in {str(path)!r} have different shapes "
                    f"{sorted(shapes)}; choose one with dataset='...'."
                )
            validation.check_map_size((len(two), *shapes.pop()), name=f"maps in {path.name}")
            maps = np.stack([np.asarray(d[()], dtype=np.float32) for d in two.values()])
            elements = tuple(normalise_element_name(k.rsplit("/", 1)[-1]) for k in two)
            scale = None
    if scale is not None:
        scale = np.asarray(scale).item()
    return maps, elements, MapsMeta(source=str(path), format="hdf5", notes=notes, scale=scale)
