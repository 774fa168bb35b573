"""Element maps in HDF5 files (``.h5``, ``.hdf5``, ``.nxs``), read with h5py.

Only data stored in the file itself are read: external links, external raw storage
and virtual datasets (which would read other files, or hang on a pipe) are refused.
Values are read a band of rows at a time straight into the float32 maps, so a tiny
compressed file that declares a large float64 dataset needs no float64 copy of it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from .common import (
    BAND_BYTES,
    NAME_KEYS,
    MapsMeta,
    MapsResult,
    check_number_type,
    copy_bands,
    names_or_default,
    new_stack,
)
from .elements import normalise_element_name
from .filecheck import damaged

#: Most names read from an attribute or a dataset of names.
#: Suffixes of HDF5 files (NeXus and HDF-EOS files are HDF5 too).
H5_SUFFIXES = (".h5", ".hdf5", ".he5", ".nxs")
_MAX_NAMES = 4096
_CHOOSE = "choose one with dataset='...' (--dataset on the command line)"


def _import_h5py():
    try:
        import h5py
    except ImportError as exc:  # a broken install: h5py is a dependency
        raise InputError(
            "Reading HDF5 maps needs h5py, which is missing from this Python environment. "
            "Install it with: pip install h5py"
        ) from exc
    return h5py


def _decode_names(value) -> list[str] | None:
    if value is None:
        return None
    arr = np.asarray(value)
    if arr.size > _MAX_NAMES or arr.dtype.kind not in "USO":
        return None
    return [x.decode("utf-8", "replace") if isinstance(x, bytes) else str(x)
            for x in np.ravel(arr)]


def read_h5_maps(path: str | Path, *, dataset: str | None = None) -> MapsResult:
    """Element maps from an HDF5 file.

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


def _refuse_outside_data(h5py, f, path: Path) -> None:
    """Refuse a file with links to other files (they would be read as if they were in it)."""
    outside: list[str] = []

    def visit(name, link):
        if isinstance(link, h5py.ExternalLink):
            outside.append(f"{name} -> {link.filename}:{link.path}")

    f.visititems_links(visit)
    if outside:
        raise InputError(
            f"{str(path)!r} links to data in other files ({'; '.join(outside[:3])}); data "
            "outside the file you opened are not read. Copy the data into the file (h5py: "
            "f['maps'] = other['maps'][()]) or open the file that holds them."
        )


def _check_stored_inside(ds, path: Path) -> None:
    """Refuse a dataset whose values live in other files, or in chunks too big to stream."""
    if ds.external or ds.is_virtual:
        raise InputError(
            f"The dataset {ds.name!r} of {str(path)!r} keeps its values in other files "
            "(external storage or a virtual dataset); data outside the file you opened are "
            "not read. Copy the values into the file (h5py: f.create_dataset(name, "
            "data=ds[()])) and open that."
        )
    if ds.chunks is not None:
        chunk = int(np.prod(ds.chunks, dtype=np.int64)) * ds.dtype.itemsize
        if chunk > 4 * BAND_BYTES:
            raise InputError(
                f"The dataset {ds.name!r} of {str(path)!r} is stored in chunks of "
                f"{chunk / 2**20:.0f} MiB, each read whole. Rewrite it with smaller chunks "
                "(h5py: chunks=True)."
            )


def _datasets(h5py, f) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and obj.ndim in (2, 3):
            if np.issubdtype(obj.dtype, np.number):
                found[name] = obj

    f.visititems(visit)
    return found


def _read_h5(h5py, path: Path, dataset: str | None) -> MapsResult:
    notes: list[str] = []
    with h5py.File(path, "r") as f:
        _refuse_outside_data(h5py, f, path)
        found = _datasets(h5py, f)
        if dataset is not None:
            if dataset not in f or not isinstance(f[dataset], h5py.Dataset):
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
                    f"{str(path)!r} holds several 3-D datasets ({', '.join(three)}); {_CHOOSE}."
                )
        if chosen:
            maps, elements, scale = _read_stack(h5py, f[chosen[0]], path, notes)
        else:
            maps, elements = _read_planes(f, found, dataset, path)
            scale = None
    if scale is not None:
        scale = np.asarray(scale).item() if np.size(scale) == 1 else None
    return maps, elements, MapsMeta(source=str(path), format="hdf5", notes=notes, scale=scale)


def _read_stack(h5py, ds, path: Path, notes: list[str]):
    source = f"{path.name}:{ds.name}"
    _check_stored_inside(ds, path)
    check_number_type(ds.dtype, source)
    maps = new_stack(ds.shape, source)
    copy_bands(maps, ds, source)
    names = None
    for key in NAME_KEYS:
        if key in ds.attrs:
            names = _decode_names(ds.attrs[key])
            break
    parent = ds.parent
    if names is None:
        for key in NAME_KEYS:
            item = parent.get(key)
            if isinstance(item, h5py.Dataset) and item.size <= _MAX_NAMES:
                names = _decode_names(item[()])
                break
    elements = names_or_default(names, maps.shape[0], repr(path.name), notes)
    return maps, elements, ds.attrs.get("scale")


def _read_planes(f, found: dict[str, Any], dataset: str | None, path: Path):
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
            f"{sorted(shapes)}; {_CHOOSE}."
        )
    maps = new_stack((len(two), *shapes.pop()), path.name)
    for k, (name, ds) in enumerate(two.items()):
        _check_stored_inside(ds, path)
        check_number_type(ds.dtype, f"{path.name}:{name}")
        copy_bands(maps[k : k + 1], ds, f"{path.name}:{name}")
    return maps, tuple(normalise_element_name(k.rsplit("/", 1)[-1]) for k in two)
