"""Element maps from any supported source: chooses the reader by what the path is.

One module per format: :mod:`.tiff`, :mod:`.folder` (and single images),
:mod:`.npy` (``.npy``/``.npz``), :mod:`.hdf5` and :mod:`.rpl` (spectral cubes).
Each returns ``(maps, elements, meta)`` (:data:`~napari_maxrf_sr.io.common.MapsResult`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import InputError
from .common import MapsResult
from .filecheck import unreadable
from .folder import read_element_folder, read_single_image
from .hdf5 import read_h5_maps
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


def _dispatch(p: Path, kwargs: dict[str, Any]) -> MapsResult:
    from .fieldformats import read_field_format

    other = read_field_format(p, kwargs)  # PyMca, .dms, maxrf4u, OME-Zarr
    if other is not None:
        return other
    suffix = p.suffix.lower()

    def no_kwargs(kind: str) -> None:
        if kwargs:
            raise InputError(
                f"{kind} take no options, got {', '.join(kwargs)}: those apply to other "
                "formats (dataset to HDF5 files, the calibration to .rpl cubes)."
            )

    if p.is_dir():
        only = kwargs.pop("only_elements", False)
        no_kwargs("Folders")
        return read_element_folder(p, only_elements=only)
    if suffix in TIFF_SUFFIXES:
        no_kwargs("TIFF stacks")
        return read_element_stack(p)
    if suffix == ".png":
        no_kwargs("PNG images")
        return read_single_image(p)
    if suffix == ".npy":
        no_kwargs(".npy files")
        return read_npy_maps(p)
    if suffix == ".npz":
        no_kwargs(".npz files")
        return read_npz_maps(p)
    if suffix in (".h5", ".hdf5", ".he5", ".nxs"):
        return read_h5_maps(p, **kwargs)
    if suffix == ".rpl":
        from .rpl import read_rpl_element_maps

        cal = kwargs.pop("calibration", None)
        if cal is not None:
            kwargs.setdefault("zero_ev", cal[0])
            kwargs.setdefault("ev_per_channel", cal[1])
        lines = kwargs.get("lines")
        if lines is not None and not isinstance(lines, dict):  # lines=("Pb L", ...)
            kwargs.setdefault("elements", tuple(kwargs.pop("lines")))
        return read_rpl_element_maps(p, **kwargs)
    raise InputError(
        f"Cannot read element maps from {p.name!r}: supported are folders of TIFF/PNG maps, "
        ".tif/.tiff stacks, .npy, .npz, .h5/.hdf5 and Bruker/Lispix .rpl + .raw cubes, "
        "PyMca .edf and .h5, Datamuncher/XRF-Explorer .dms, maxrf4u .datastack and OME-Zarr."
    )
