"""napari reader: element-map stacks, folders, NumPy, HDF5, .rpl cubes, other programs' maps.

Which reader reads a path is decided by :func:`napari_maxrf_sr.io.maps.maps_format`, as
for the command line and the API; PyMca (EDF, HDF5), Datamuncher/XRF-Explorer (.dms),
maxrf4u (.datastack) and OME-Zarr pyramids (opened lazily, as multiscale layers) go
through :mod:`napari_maxrf_sr.io.fieldformats`. napari offers this reader the files
that ``napari.yaml`` names; single grey PNG maps are not among them (napari's own
reader shows PNG photos), but :func:`get_reader` reads them like the command line does.

:func:`get_reader` claims a path only when it holds element maps this plugin can
read and returns ``None`` for anything else (an RGB photo, a text file named
``.tif``, an empty folder), so napari's own readers take those. It never raises:
a file that is damaged, truncated or too large gets a warning that says so (napari
shows it as a notification), and is then left to the other readers.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, NotElementMaps
from ..io import large
from ..io.common import MapsMeta
from ..io.elements import element_name_from_path, is_element_name
from ..io.filecheck import open_checked_tiff
from ..io.folder import folder_has_element_images, read_element_folder, read_single_image
from ..io.hdf5 import read_h5_maps
from ..io.maps import maps_format
from ..io.npy import npy_info, read_npy_maps, read_npz_maps
from ..io.sidecar import read_sidecar
from ..io.tiff import read_tiff_maps, tiff_layout
from .layer_style import lr_layer_kwargs

LayerData = tuple[Any, dict[str, Any], str]
ReaderFunction = Callable[[Any], list[LayerData]]
_MAX_MAPS = 256  # a "stack" with more planes than this is a volume, not element maps


def _plausible_stack(shape: tuple[int, ...]) -> bool:
    return len(shape) == 3 and 1 <= shape[0] <= _MAX_MAPS and min(shape[1:]) >= 2


def _notify(message: str) -> None:
    try:
        from napari.utils.notifications import show_info

        from napari_maxrf_sr._napari.plain_text import no_markup

        show_info(no_markup(message))
    except Exception:  # no napari (tests, scripts): a warning still reaches the user
        warnings.warn(message, UserWarning, stacklevel=3)


def maps_to_layer_data(
    maps: np.ndarray, elements: tuple[str, ...], meta: MapsMeta
) -> list[LayerData]:
    """One image :data:`LayerData` per element map, styled and placed over the photo.

    Only the first map is visible: a file's maps all shown over the photo would be a
    collage (the panel's Show row steps through them).

    The reader's notes are shown as notifications and kept in every layer's
    ``metadata['maxrf_sr']['reader_notes']``.
    """
    source = meta.source
    stored_scale = meta.scale
    stored_translate = meta.translate
    role = meta.role or "lr_map"
    int_scale = None
    if (
        role == "lr_map"
        and isinstance(stored_scale, int | float)
        and float(stored_scale).is_integer()
    ):
        int_scale = int(stored_scale)  # LR maps s times coarser than the photo grid
    names = meta.layer_names or list(elements)
    if len(names) != len(elements):
        names = list(elements)
    # The reader's notes travel with the layers, so the panel can show them at Start.
    extra = {k: v for k, v in (("provenance", meta.provenance), ("format", meta.format),
                               ("reader_notes", list(meta.notes))) if v}
    out: list[LayerData] = []
    for i, (m, element, name) in enumerate(zip(maps, elements, names, strict=True)):
        kwargs = lr_layer_kwargs(
            element, int_scale, source=source, name=name, role=role, extra_metadata=extra
        )
        kwargs["visible"] = i == 0
        if isinstance(stored_scale, list | tuple) and len(stored_scale) == 2:
            kwargs["scale"] = tuple(float(v) for v in stored_scale)
            if isinstance(stored_translate, list | tuple) and len(stored_translate) == 2:
                kwargs["translate"] = tuple(float(v) for v in stored_translate)
        out.append((m, kwargs, "image"))
    for note in meta.notes:
        _notify(f"{Path(str(source)).name}: {note}")
    return out


def _loaded(result) -> ReaderFunction:
    layers = maps_to_layer_data(*result)

    def reader(_path) -> list[LayerData]:
        return layers

    return reader


def _tiff_reader(path: Path) -> ReaderFunction | None:
    # One open: a truncated file is an error (said, rather than declined in silence).
    with open_checked_tiff(path) as tif:
        desc = tiff_layout(tif, path)
        if desc.photo:
            return None  # a photo: napari's builtin reader shows it as RGB
        shape = desc.shape
        if not _plausible_stack(shape):
            return None
        named = desc.names is not None
        if not (named or shape[0] >= 2 or is_element_name(element_name_from_path(path))):
            return None  # one unnamed grey image: nothing says it is an element map
        # Results bigger than memory (written band by band) are shown without loading them.
        lazy = 4 * int(np.prod(shape, dtype=np.int64)) > large.IN_MEMORY_LIMIT
        return _loaded(read_tiff_maps(tif, path, desc, lazy=lazy))


def _image_reader(path: Path) -> ReaderFunction | None:
    """A single grey image claimed only when its name is an element's (``Pb-L.png``)."""
    if not is_element_name(element_name_from_path(path)):
        return None
    return _loaded(read_single_image(path))  # a colour image: NotElementMaps, declined


def _npy_reader(path: Path) -> ReaderFunction | None:
    # The header only, checked against the file's size (a truncated file is an error).
    arr_shape, dtype = npy_info(path, numbers_only=False)
    if dtype.kind not in "biuf":
        return None
    shape = (1, *arr_shape) if len(arr_shape) == 2 else tuple(arr_shape)
    if not _plausible_stack(shape) or shape[0] > min(shape[1:]):
        return None
    side = read_sidecar(path) or {}
    if not (side.get("elements") or is_element_name(element_name_from_path(path))):
        if len(arr_shape) == 2:
            return None
    return _loaded(read_npy_maps(path))




def _rpl_reader(path: Path) -> ReaderFunction | None:
    from ..io.rpl import TOTAL_COUNTS, open_rpl_cube, plan_rpl_maps, sum_rpl_maps
    from ..io.sidecar import rpl_options

    kwargs = rpl_options(path)  # every value checked; a .raw outside the folder refused
    _, header = open_rpl_cube(path, kwargs.get("raw_path"))  # header and .raw size only
    message = ""
    if kwargs.get("ev_per_channel", header.calibration()[1]) is None:
        kwargs["elements"] = (TOTAL_COUNTS,)
        message = (
            f"{path.name}: the energy calibration is unknown, so only the total counts are "
            "shown. For element maps add a sidecar "
            f"{path.with_suffix('.json').name} with zero_ev, ev_per_channel and elements, or "
            "use napari_maxrf_sr.io.read_rpl_element_maps(..., zero_ev=..., ev_per_channel=...)."
        )
    plan = plan_rpl_maps(path, **kwargs)  # every check now: decline rather than fail later

    def reader(_path) -> list[LayerData]:
        if message:
            _notify(message)
        return maps_to_layer_data(*sum_rpl_maps(plan))

    return reader


def _field_reader(path: Path, kind: str) -> ReaderFunction | None:
    """PyMca, .dms, maxrf4u and OME-Zarr files (:mod:`napari_maxrf_sr.io.fieldformats`)."""
    from ..io.fieldformats import read_field_kind

    try:
        if kind == "ome-zarr":
            return _ome_zarr_reader(path)
        return _loaded(read_field_kind(path, kind, {}))
    except ImportError as exc:  # an optional reader (fabio for EDF) is missing: say so
        warnings.warn(str(exc), UserWarning, stacklevel=2)
        return None


def _ome_zarr_reader(path: Path) -> ReaderFunction:
    """One multiscale layer per element, of lazy dask arrays: nothing is read until shown."""
    from ..io.omezarr import open_ome_zarr

    levels, elements, meta = open_ome_zarr(path)
    n = levels[0].shape[0]
    maps = [[lvl[c] for lvl in levels] if len(levels) > 1 else levels[0][c] for c in range(n)]
    layers = maps_to_layer_data(maps, elements, MapsMeta.from_dict(meta))
    limits = meta.get("contrast_limits") or [None] * n
    for (_, kwargs, _), lim in zip(layers, limits, strict=True):
        kwargs["multiscale"] = len(levels) > 1
        if lim is not None:
            kwargs["contrast_limits"] = lim

    def reader(_path) -> list[LayerData]:
        return layers

    return reader


def _folder_reader(path: Path) -> ReaderFunction | None:
    if not folder_has_element_images(path):
        return None
    return _loaded(read_element_folder(path, only_elements=True))


#: How this reader claims each format of :func:`~napari_maxrf_sr.io.maps.maps_format`
#: (the dispatcher the command line and the API use too): only what holds element maps.
_CLAIMS: dict[str, Callable[[Path], ReaderFunction | None]] = {
    "folder": _folder_reader,
    "tiff": _tiff_reader,
    "image": _image_reader,
    "npy": _npy_reader,
    "npz": lambda path: _loaded(read_npz_maps(path)),
    "hdf5": lambda path: _loaded(read_h5_maps(path)),
    "rpl": _rpl_reader,
}


def _reader_for(path: Path) -> ReaderFunction | None:
    if not (path.is_dir() or path.is_file()):
        return None
    kind = maps_format(path)
    if kind is None:
        return None
    claim = _CLAIMS.get(kind)
    return _field_reader(path, kind) if claim is None else claim(path)


def get_reader(path: str | list[str]) -> ReaderFunction | None:
    """Return a reader function if ``path`` holds element maps, else ``None``.

    Several paths are claimed only if every one of them is. Anything that goes
    wrong while looking means "not ours", never an exception; when the file is
    ours but damaged, truncated or too large, a warning says so first.
    """
    try:
        paths = [path] if isinstance(path, str | Path) else list(path)
        if not paths:
            return None
        readers = []
        for p in paths:
            r = _reader_for(Path(p))
            if r is None:
                return None
            readers.append((p, r))
    except NotElementMaps:  # a photo, say: napari's own readers take it
        return None
    except InputError as exc:  # ours, but damaged or too large: say why, then step aside
        warnings.warn(str(exc), UserWarning, stacklevel=2)
        return None
    except Exception:  # foreign files are simply not ours
        return None
    if len(readers) == 1:
        return readers[0][1]

    def read_all(_path) -> list[LayerData]:
        out: list[LayerData] = []
        for p, r in readers:
            out += r(p)
        return out

    return read_all
