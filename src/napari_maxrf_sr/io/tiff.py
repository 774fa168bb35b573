"""Element maps in TIFF files: multi-page stacks, ImageJ hyperstacks, OME-TIFF.

Names come from this package's own metadata, ImageJ slice labels, OME channel
names or a sidecar JSON. Pixels are decoded one strip or tile at a time straight
into the float32 maps, so a small compressed file that declares a large float64
image never needs more memory than the maps themselves. Results written band by
band (:mod:`.large`) can be memory-mapped instead of loaded.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, NotElementMaps
from .common import (
    STACK_FORMAT,
    MapsMeta,
    MapsResult,
    check_number_type,
    copy_bands,
    names_or_default,
    new_stack,
    put,
)
from .elements import element_name_from_path
from .filecheck import damaged, open_checked_tiff, open_tiff
from .sidecar import read_sidecar, text_list

TIFF_SUFFIXES = (".tif", ".tiff")


@dataclass(frozen=True)
class TiffLayout:
    """A TIFF's structure, from its headers alone (no pixels are read).

    Attributes
    ----------
    shape
        ``(B, h, w)``: the maps the file holds (colour samples count as maps).
    names
        From our metadata, ImageJ labels, OME channels or a sidecar; ``None`` if none.
    info
        This package's own JSON metadata, or ``None``.
    sidecar
        The sidecar JSON, or ``None``.
    photo
        True for a colour photo (8-bit colour, or interleaved integer colour).
    notes
        How the file was read, where that is not plain (colour planes, several series).
    """

    shape: tuple[int, int, int]
    names: list[str] | None
    info: dict[str, Any] | None
    sidecar: dict[str, Any] | None
    photo: bool
    notes: tuple[str, ...] = ()


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


def _series_maps(series) -> tuple[int, int, int] | None:
    """``(B, h, w)`` of one image series read as maps (colour samples first), or None."""
    kept = [(a, int(n)) for a, n in zip(series.axes, series.shape, strict=True)
            if n != 1 or a in "YX"]  # axes of length 1 say nothing
    kept.sort(key=lambda an: an[0] != "S")  # colour samples first (a stable sort)
    axes = "".join(a for a, _ in kept)
    if not axes.endswith("YX") or len(kept) > 3:
        return None
    return (kept[0][1] if len(kept) == 3 else 1, kept[-2][1], kept[-1][1])


def _colour(series, path: Path, names) -> tuple[bool, str | None]:
    """Whether a series is a colour photo, and a note when colour planes are read as maps.

    8-bit colour, and 16-bit colour with interleaved samples, is a photo. Float values,
    or more than 8 bits in separate planes (as ``tifffile.imwrite`` stores a ``(3, h, w)``
    array), are element maps that a writer tagged as colour.
    """
    page = series.keyframe
    samples = int(series.shape[series.axes.index("S")]) if "S" in series.axes else 1
    tagged = int(getattr(page, "photometric", 1)) in (2, 5, 6)  # RGB, CMYK, YCbCr
    if not (tagged or samples in (3, 4)) or samples < 2:
        return False, None
    planar = int(getattr(page, "planarconfig", 1)) == 2
    dtype = np.dtype(series.dtype)
    if dtype.kind == "f" or (dtype.itemsize > 1 and planar):
        how = "in separate planes" if planar else "as colour channels"
        return False, (
            f"{path.name} is tagged as a colour image but holds {dtype} values {how}, which "
            f"a photo does not: its {samples} planes were read as {samples} element maps"
        )
    return not (planar and names), None  # named 8-bit planes are maps (old files)


def _ome_other_files(xml: str | None, path: Path) -> list[str]:
    """Files other than ``path`` that an OME-XML header takes image data from."""
    try:
        root = ET.fromstring(xml or "")
    except ET.ParseError:
        return []
    named = {el.get("FileName") for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "UUID"}
    return sorted(n for n in named if n and n != path.name)


def _stack_shape(series_list, path: Path) -> tuple[tuple[int, int, int], list[str]]:
    """The ``(B, h, w)`` of all series one after another, and a note when there are several."""
    shapes = []
    for s in series_list:
        sh = _series_maps(s)
        if sh is None:
            raise InputError(
                f"{str(path)!r} holds an image of shape {tuple(s.shape)} (axes {s.axes}); "
                "element maps must be a stack of 2-D maps (B, h, w). Save the maps alone: "
                "tifffile.imwrite(path, maps) with maps shaped (B, h, w)."
            )
        shapes.append(sh)
    sizes = sorted({sh[1:] for sh in shapes})
    if len(sizes) > 1:
        raise InputError(
            f"{str(path)!r} holds pages of different sizes {sizes}; element maps must all "
            "have the same size. Save the maps of one scan alone in a file."
        )
    n = sum(sh[0] for sh in shapes)
    notes = []
    if len(shapes) > 1 and any(sh[0] > 1 for sh in shapes):
        parts = " + ".join(str(sh[0]) for sh in shapes)
        notes.append(f"{path.name} holds {len(shapes)} image series ({parts} pages): all were "
                     f"read, one after the other, as {n} maps")
    return (n, *sizes[0]), notes


def _names(tif, info) -> list | None:
    ij = tif.imagej_metadata if tif.is_imagej else None
    if info and info.get("elements"):
        return list(info["elements"])
    if ij and isinstance(ij.get("Labels"), list | tuple) and ij["Labels"]:
        return list(ij["Labels"])
    if tif.is_ome:
        return _ome_channel_names(tif.ome_metadata)
    return None


def inspect_tiff(path: str | Path) -> TiffLayout:
    """Check a TIFF and look at its structure without reading its pixels (:class:`TiffLayout`).

    Raises
    ------
    InputError
        For a damaged or truncated file (:func:`~.filecheck.check_tiff`), a file without
        images, with pages of different sizes or more than three dimensions, or an
        OME-TIFF whose data live in other files.
    """
    path = Path(path)
    with open_checked_tiff(path) as tif:
        return tiff_layout(tif, path)


def tiff_layout(tif, path: Path) -> TiffLayout:
    """The :class:`TiffLayout` of an open TIFF (:func:`~.filecheck.open_checked_tiff`).

    Raises
    ------
    InputError
        As :func:`inspect_tiff`, for the file's structure.
    """
    series = tif.series
    if not series:
        raise InputError(f"{str(path)!r} holds no images.")
    if tif.is_ome and _ome_other_files(tif.ome_metadata, path):
        others = ", ".join(_ome_other_files(tif.ome_metadata, path)[:3])
        raise InputError(
            f"{str(path)!r} is one file of a multi-file OME-TIFF set (its images are also "
            f"in {others}); data outside the file you opened are not read. Save the set "
            "as one TIFF (in Fiji: open it, then File > Save As > Tiff)."
        )
    info = _our_info(tif.imagej_metadata if tif.is_imagej else None)
    names = _names(tif, info)
    shape, notes = _stack_shape(series, path)
    photo = False
    for s in series:
        is_photo, note = _colour(s, path, names)
        photo = photo or is_photo
        notes += [note] if note else []
    sidecar = read_sidecar(path)
    if names is None and sidecar:
        names = text_list(sidecar.get("elements"), f"{path.name}'s sidecar", "elements")
    return TiffLayout(shape, names, info, sidecar, photo, tuple(notes))


def mapped_pixels(path: Path) -> np.ndarray | None:
    """The file's float32 pixels as a read-only memory map, or ``None`` if not mappable."""
    with open_tiff(path) as tif:
        return _mapped(tif, path)


def _mapped(tif, path: Path) -> np.ndarray | None:
    """:func:`mapped_pixels` of an open TIFF: its first series, if back to back on disk."""
    try:
        series = tif.series[0].levels[0]
        if series.dataoffset is None:  # compressed, tiled, or pages not back to back
            return None
        dtype = np.dtype(tif.byteorder + series.dtype.char)
        mm = np.memmap(path, dtype, "r", series.dataoffset, series.shape, "C")
    except (ValueError, OSError):
        return None
    if mm.dtype != np.dtype(np.float32) or mm.ndim not in (2, 3):
        return None
    return mm if mm.ndim == 3 else mm[None]


def _page_view(out: np.ndarray, shaped: tuple[int, ...]) -> np.ndarray:
    """``out`` (the page's maps) seen in the page's own layout ``(S, D, H, W, C)``."""
    s, d, h, w, c = (int(n) for n in shaped)
    if c > 1:  # interleaved colour samples: each sample is a map
        if s * d != 1:
            raise InputError("A TIFF page with both interleaved and separate samples.")
        return np.moveaxis(out, 0, -1)[None, None]
    return out.reshape(s, d, h, w)[..., None]


def _decode_page(page, view: np.ndarray, source: str) -> None:
    """Decode a page strip by strip (or tile by tile) into ``view``, converting each one."""
    for data, index, shape in page.segments(maxworkers=1):
        s, d, y, x = (int(i) for i in index[:4])
        target = view[s, d : d + shape[0], y : y + shape[1], x : x + shape[2]]
        if data is None:  # a strip or tile without data reads as zeros
            target[...] = 0
            continue
        put(target, data[: target.shape[0], : target.shape[1], : target.shape[2]], source)


def _read_series(series, out: np.ndarray, tif, path: Path, source: str) -> None:
    """Decode one image series into ``out`` (its ``(B, h, w)`` maps)."""
    check_number_type(np.dtype(series.dtype), source)
    pages = [p for p in series.pages if p is not None]
    per_page = int(np.prod([n for i, n in enumerate(pages[0].shaped) if i in (0, 1, 4)]))
    if per_page * len(pages) != out.shape[0]:
        # ImageJ's layout for files above 4 GiB: one header, the pages back to back.
        if series.dataoffset is None:
            raise InputError(f"{str(path)!r} has a page layout this reader does not know.")
        dtype = np.dtype(series.dtype).newbyteorder(tif.byteorder)
        stack = np.memmap(path, dtype=dtype, mode="r", offset=series.dataoffset,
                          shape=out.shape)
        copy_bands(out, stack, source)
        return
    for k, page in enumerate(pages):
        _decode_page(page, _page_view(out[k * per_page : (k + 1) * per_page], page.shaped),
                     source)


def read_element_stack(path: str | Path, *, lazy: bool = False) -> MapsResult:
    """Read a multi-page TIFF of element maps.

    Names come, in this order, from this package's own metadata, ImageJ slice
    labels, OME channel names or a sidecar ``<name>.json`` with an
    ``"elements"`` list; otherwise maps are called ``map 1 .. map B``. Every page
    of every image series is a map (or, in colour-tagged float or 16-bit planes,
    every plane; a note says so); an 8-bit colour image is refused as a photo.

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
    path = Path(path)
    with open_checked_tiff(path) as tif:  # truncated or lying headers: an error now
        return read_tiff_maps(tif, path, tiff_layout_or_damaged(tif, path), lazy=lazy)


def tiff_layout_or_damaged(tif, path: Path) -> TiffLayout:
    """:func:`tiff_layout`, with any error but an :class:`InputError` said as damage."""
    try:
        return tiff_layout(tif, path)
    except InputError:
        raise
    except Exception as exc:
        raise damaged(path, exc, "TIFF") from exc


def read_tiff_maps(tif, path: Path, layout: TiffLayout, *, lazy: bool = False) -> MapsResult:
    """The maps of an open, checked TIFF whose layout is known (:func:`read_element_stack`).

    Raises
    ------
    NotElementMaps
        For a colour photo.
    InputError
        For pixels that cannot be decoded, or values that are not real numbers.
    """
    if layout.photo:
        raise NotElementMaps(
            f"{str(path)!r} is a colour (RGB) image, not element maps. Open it as the "
            "photo (napari_maxrf_sr.io.read_photo)."
        )
    maps = _mapped(tif, path) if lazy else None
    if maps is None:
        maps = new_stack(layout.shape, repr(path.name))
        try:
            b = 0
            for series in tif.series:
                n = _series_maps(series)[0]
                _read_series(series, maps[b : b + n], tif, path, repr(str(path)))
                b += n
        except InputError:
            raise
        except Exception as exc:  # a decoder error (zlib, LZW...) in damaged compressed data
            raise damaged(path, exc, "TIFF") from exc
    return maps, *_names_and_meta(path, layout, maps.shape[0])


def _names_and_meta(path: Path, layout: TiffLayout, n: int) -> tuple[tuple[str, ...], MapsMeta]:
    notes = list(layout.notes)
    info = layout.info or {}
    sidecar = layout.sidecar or {}
    names = layout.names
    if names is None and n == 1:  # one map: the file name says what it is
        names = [element_name_from_path(path)]
    elements = names_or_default(names, n, repr(path.name), notes)
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
    return elements, meta
