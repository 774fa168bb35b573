"""Element maps from any supported source: chooses the reader by what the path is.

One module per format: :mod:`.tiff`, :mod:`.folder` (and single images),
:mod:`.npy` (``.npy``/``.npz``), :mod:`.hdf5` and :mod:`.rpl` (spectral cubes), and
:mod:`.fieldformats` for other programs' files. Each returns ``(maps, elements, meta)``
(:data:`~napari_maxrf_sr.io.common.MapsResult`). :func:`maps_format` is the one place
that decides which of them reads a path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import InputError
from .common import MapsFormat, MapsResult
from .filecheck import unreadable
from .folder import read_element_folder, read_single_image
from .hdf5 import H5_SUFFIXES, read_h5_maps
from .npy import read_npy_maps, read_npz_maps
from .paths import check_regular_file
from .tiff import TIFF_SUFFIXES, read_element_stack


def read_element_maps(path: str | Path, **kwargs: Any) -> MapsResult:
    """Read element maps from any supported source, chosen by what ``path`` is.

    Folder -> :func:`read_element_folder`; ``.tif``/``.tiff`` ->
    :func:`read_element_stack`; ``.png`` -> one map; ``.npy``/``.npz``;
    ``.h5``/``.hdf5`` -> :func:`read_h5_maps` (keyword ``dataset``); ``.rpl`` ->
    :func:`napari_maxrf_sr.io.rpl.read_rpl_element_maps`, which needs the
    energy calibration: ``zero_ev`` and ``ev_per_channel`` (or
    ``calibration=(zero_ev, ev_per_channel)``), and the elements to map
    (``elements=("Pb L", "Hg L", ...)``; ``lines={"name": keV}`` for lines
    not in the built-in table).

    Returns
    -------
    maps, elements, meta
        ``(B, h, w)`` float32, the names and a
        :class:`~napari_maxrf_sr.io.common.MapsMeta` (its ``notes`` list anything
        that was assumed or skipped).
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(
            f"{str(p)!r} does not exist. Check the path (and that the drive is connected)."
        )
    check_regular_file(p, "maps file")  # a pipe would hang the reader
    try:
        return _dispatch(p, kwargs)
    except PermissionError as exc:
        raise unreadable(p, exc) from exc


#: The package's own readers, by the suffix of the file they read.
SUFFIX_FORMATS: dict[str, MapsFormat] = {
    **dict.fromkeys(TIFF_SUFFIXES, "tiff"), ".png": "image", ".npy": "npy", ".npz": "npz",
    **dict.fromkeys(H5_SUFFIXES, "hdf5"), ".rpl": "rpl",
}


def maps_format(path: str | Path) -> str | None:
    """Which reader reads the element maps at ``path``: the one dispatcher of the package.

    Other programs' formats and OME-Zarr first (:func:`~.fieldformats.field_format`, which
    looks at headers), then ``"folder"``, or the file's suffix (:data:`SUFFIX_FORMATS`).
    ``None`` for anything else. :func:`read_element_maps` (the CLI and the API) and the
    napari reader both choose their reader here.
    """
    from .fieldformats import field_format

    p = Path(path)
    kind = field_format(p)  # PyMca, .dms, maxrf4u, OME-Zarr
    if kind is not None:
        return kind
    if p.is_dir():
        return "folder"
    return SUFFIX_FORMATS.get(p.suffix.lower())


def _dispatch(p: Path, kwargs: dict[str, Any]) -> MapsResult:
    kind = maps_format(p)

    def no_kwargs(what: str) -> None:
        if kwargs:
            raise InputError(
                f"{what} take no options, got {', '.join(kwargs)}: those apply to other "
                "formats (dataset to HDF5 files, the calibration to .rpl cubes)."
            )

    if kind == "folder":
        only = kwargs.pop("only_elements", False)
        no_kwargs("Folders")
        return read_element_folder(p, only_elements=only)
    if kind == "tiff":
        no_kwargs("TIFF stacks")
        return read_element_stack(p)
    if kind == "image":
        no_kwargs("PNG images")
        return read_single_image(p)
    if kind == "npy":
        no_kwargs(".npy files")
        return read_npy_maps(p)
    if kind == "npz":
        no_kwargs(".npz files")
        return read_npz_maps(p)
    if kind == "hdf5":
        return read_h5_maps(p, **kwargs)
    if kind == "rpl":
        return _read_rpl(p, kwargs)
    if kind is not None:
        from .fieldformats import read_field_kind

        return read_field_kind(p, kind, kwargs)
    raise InputError(
        f"Cannot read element maps from {p.name!r}: supported are folders of TIFF/PNG maps, "
        ".tif/.tiff stacks, .npy, .npz, .h5/.hdf5 and Bruker/Lispix .rpl + .raw cubes, "
        "PyMca .edf and .h5, Datamuncher/XRF-Explorer .dms, maxrf4u .datastack and OME-Zarr."
    )


def _read_rpl(p: Path, kwargs: dict[str, Any]) -> MapsResult:
    """A spectral cube, its calibration given as ``calibration=(zero, eV)`` or by name."""
    from .rpl import read_rpl_element_maps

    cal = kwargs.pop("calibration", None)
    if cal is not None:
        kwargs.setdefault("zero_ev", cal[0])
        kwargs.setdefault("ev_per_channel", cal[1])
    lines = kwargs.get("lines")
    if lines is not None and not isinstance(lines, dict):  # lines=("Pb L", ...)
        kwargs.setdefault("elements", tuple(kwargs.pop("lines")))
    return read_rpl_element_maps(p, **kwargs)
