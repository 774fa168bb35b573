"""Element maps in TIFF files: multi-page stacks, ImageJ hyperstacks, OME-TIFF.

Names come from this package's own metadata, ImageJ slice labels, OME channel
names or a sidecar JSON. Results written band by band (:mod:`.large`) can be
memory-mapped instead of loaded.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np

from ..core import validation
from ..errors import InputError, NotElementMaps
from .common import (
    STACK_FORMAT,
    MapsMeta,
    MapsResult,
    as_stack,
    names_or_default,
    read_sidecar,
)
from .elements import element_name_from_path
from .filecheck import check_tiff, damaged

TIFF_SUFFIXES = (".tif", ".tiff")


def _ome_channel_names(xml: str | None) -> list[str] | None:
    if not xml:
        return None
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return None
    names = [el.get("Name") for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "Channel"]
    return names if names and all(names) else None


def _our_info(ij_meta: dict | None) -> dict[str, Any] | None:
    info = (ij_meta or {}).get("Info")
    if not isinstance(info, str):
        return None
    try:
        data = json.loads(info)
    except ValueError:
        return None
    return data if isinstance(data, dict) and data.get("format") == STACK_FORMAT else None


def inspect_tiff(path: str | Path) -> dict[str, Any]:
    """Look at a TIFF's structure without reading its pixels.

    Returns a dict with ``shape`` (the stack shape ``(B, h, w)``), ``names``
    (from our metadata, ImageJ labels, OME channels or a sidecar; ``None`` if
    none), ``info`` (our JSON metadata or ``None``) and ``rgb`` (True for a
    colour photo).
    """
    import tifffile

    with tifffile.TiffFile(path) as tif:
        series = tif.series
        if not series:
            raise InputError(f"{str(path)!r} holds no images.")
        first = series[0]
        page = tif.pages[0]
        rgb = int(getattr(page, "photometric", 1)) in (2, 6) or (
            "S" in first.axes
            and first.shape[first.axes.index("S")] in (3, 4)
            and first.axes.index("S") == len(first.axes) - 1
        )
        if len(series) > 1 and all(len(s.shape) == 2 for s in series):
            shapes = {tuple(s.shape) for s in series}
            if len(shapes) != 1:
                raise InputError(
                    f"{str(path)!r} holds pages of different sizes {sorted(shapes)}; "
                    "element maps must all have the same size."
                )
            shape = (len(series), *series[0].shape)
        else:
            squeezed = tuple(n for n in first.shape if n != 1) or (1,)
            if len(squeezed) == 2:
                shape = (1, *squeezed)
            elif len(squeezed) == 3:
                shape = squeezed
            else:
                shape = tuple(first.shape)
        ij = tif.imagej_metadata if tif.is_imagej else None
        info = _our_info(ij)
        names = None
        if info and info.get("elements"):
            names = list(info["elements"])
        elif ij and isinstance(ij.get("Labels"), list | tuple) and ij["Labels"]:
            names = list(ij["Labels"])
        elif tif.is_ome:
            names = _ome_channel_names(tif.ome_metadata)
    sidecar = read_sidecar(path)
    if names is None and sidecar and sidecar.get("elements"):
        names = list(sidecar["elements"])
    return {
        "shape": tuple(int(n) for n in shape),
        "names": names,
        "info": info,
        "sidecar": sidecar,
        "rgb": bool(rgb),
    }


def mapped_pixels(path: Path) -> np.ndarray | None:
    """The file's float32 pixels as a read-only memory map, or ``None`` if not mappable."""
    import tifffile

    try:
        mm = tifffile.memmap(path, mode="r")
    except (ValueError, OSError):  # compressed, tiled, or pages not back to back
        return None
    if mm.dtype != np.dtype(np.float32) or mm.ndim not in (2, 3):
        return None
    return mm if mm.ndim == 3 else mm[None]


def read_element_stack(path: str | Path, *, lazy: bool = False) -> MapsResult:
    """Read a multi-page TIFF of element maps.

    Names come, in this order, from this package's own metadata, ImageJ slice
    labels, OME channel names or a sidecar ``<name>.json`` with an
    ``"elements"`` list; otherwise maps are called ``map 1 .. map B``.

    With ``lazy``, an uncompressed float32 stack (as written by
    :mod:`napari_maxrf_sr.io.large` for results bigger than memory) is returned as a
    read-only memory map: nothing is loaded, and there is no size limit.

    Returns
    -------
    maps, elements, meta
        ``(B, h, w)`` float32 maps, their names and a
        :class:`~napari_maxrf_sr.io.common.MapsMeta` (with the ``scale``,
        ``translate``, ``layer_names``, ``role`` and ``provenance`` stored by
        :func:`~napari_maxrf_sr.io.writers.write_element_stack`).
    """
    import tifffile

    path = Path(path)
    check_tiff(path)  # truncated or lying headers: an error now, not garbage or a huge array
    try:
        desc = inspect_tiff(path)
    except InputError:
        raise
    except Exception as exc:
        raise damaged(path, exc, "TIFF") from exc
    mapped = mapped_pixels(path) if lazy and not desc["rgb"] else None
    if mapped is None:
        validation.check_map_size(desc["shape"], name=f"maps in {path.name!r}")
    if desc["rgb"]:
        with tifffile.TiffFile(path) as tif:
            planar = tif.pages[0].planarconfig == 2
        # A colour image, (h, w, 3) or (3, h, w): refused unless it is named planes.
        if not (planar and desc["names"]):
            raise NotElementMaps(
                f"{str(path)!r} is a colour (RGB) image, not element maps. Open it as the "
                "photo (napari_maxrf_sr.io.read_photo)."
            )
    if mapped is not None:
        maps = mapped
    else:
        try:
            with tifffile.TiffFile(path) as tif:
                if len(tif.series) > 1 and all(len(s.shape) == 2 for s in tif.series):
                    arr = np.stack([s.asarray() for s in tif.series])
                else:
                    arr = np.squeeze(tif.series[0].asarray())
        except Exception as exc:  # a decoder error (zlib, LZW...) in damaged compressed data
            raise damaged(path, exc, "TIFF") from exc
        if arr.ndim not in (2, 3):
            raise InputError(
                f"{str(path)!r} holds an image of shape {arr.shape}; element maps must be a "
                "stack of 2-D maps (B, h, w)."
            )
        maps = as_stack(arr, repr(str(path)))
    notes: list[str] = []
    info = desc["info"] or {}
    sidecar = desc["sidecar"] or {}
    names = desc["names"]
    if names is None and maps.shape[0] == 1:  # one map: the file name says what it is
        names = [element_name_from_path(path)]
    elements = names_or_default(names, maps.shape[0], repr(path.name), notes)
    meta = MapsMeta(
        source=str(path),
        format="tiff",
        notes=notes,
        scale=info.get("scale", sidecar.get("scale")),
        translate=info.get("translate"),
        layer_names=info.get("layer_names"),
        role=info.get("role", "lr_map"),
        provenance=info.get("provenance", sidecar.get("provenance")),
    )
    return maps, elements, meta
