"""Which reader of another program's format (or of an OME-Zarr) takes a path.

:func:`~napari_maxrf_sr.io.maps.maps_format` asks :func:`field_format` first; it
returns ``None`` for anything that is not one of these formats.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .common import MapsMeta

#: File suffixes of the formats read here (OME-Zarr and PyMca's IMAGES are folders).
SUFFIXES = (".edf", ".dms", ".datastack")


def field_format(path: str | Path) -> str | None:
    """The format of ``path`` among these, from what it is (headers only), or ``None``.

    One of ``"ome-zarr"``, ``"edf-folder"``, ``"edf"``, ``"dms"``, ``"datastack"``,
    ``"pymca-hdf5"``.
    """
    from .omezarr import is_ome_zarr
    from .pymca import folder_has_edf, is_pymca_h5

    p = Path(path)
    if p.is_dir():
        if is_ome_zarr(p):
            return "ome-zarr"
        if folder_has_edf(p) and not any(
                f.suffix.lower() in (".tif", ".tiff", ".png") for f in p.iterdir()):
            return "edf-folder"
        return None
    suffix = p.suffix.lower()
    if suffix in SUFFIXES:
        return suffix[1:]
    if suffix in (".h5", ".hdf5", ".nxs") and is_pymca_h5(p):
        return "pymca-hdf5"
    return None


def read_field_format(path: str | Path, kwargs: dict[str, Any]):
    """``(maps, elements, meta)`` when ``path`` is one of these formats, else ``None``.

    ``meta`` is a :class:`~napari_maxrf_sr.io.common.MapsMeta`, like every reader's
    behind :func:`~napari_maxrf_sr.io.read_element_maps`.

    ``kwargs``: ``group`` for PyMca files (``"parameters"``, ``"massfractions"``...),
    ``process`` for a PyMca HDF5 file with several fits.
    """
    kind = field_format(path)
    if kind is None:
        return None
    return read_field_kind(path, kind, kwargs)


def read_field_kind(path: str | Path, kind: str, kwargs: dict[str, Any]):
    """``(maps, elements, meta)`` of a file whose :func:`field_format` is ``kind``."""
    maps, elements, meta = _read(path, kind, kwargs)
    return maps, elements, MapsMeta.from_dict(meta)


def _read(path, kind: str, kwargs: dict[str, Any]):

    def only(*names: str) -> dict[str, Any]:
        extra = set(kwargs) - set(names)
        if extra:
            raise TypeError(f"{kind} files take no option {', '.join(sorted(extra))}.")
        return kwargs

    if kind == "ome-zarr":
        from .omezarr import read_ome_zarr_maps

        only()
        return read_ome_zarr_maps(path)
    if kind in ("edf", "edf-folder"):
        from .pymca import read_pymca_edf, read_pymca_edf_folder

        reader = read_pymca_edf if kind == "edf" else read_pymca_edf_folder
        return reader(path, **only("group"))
    if kind == "pymca-hdf5":
        from .pymca import read_pymca_h5

        return read_pymca_h5(path, **only("group", "process"))
    if kind == "dms":
        from .dms import read_dms_maps

        only()
        return read_dms_maps(path)
    from .datastack import read_datastack_maps

    only()
    return read_datastack_maps(path)
