"""Writing element maps: one multi-page TIFF, or one image per element.

Nothing is overwritten unless ``force=True``, and every file is written to a
temporary name in the destination folder first and renamed when complete.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..atomic import atomic_path, check_writable_folder, refuse_overwrite
from ..errors import InputError
from .common import FOLDER_SIDECAR, STACK_FORMAT
from .tiff import read_element_stack

__all__ = ["read_element_stack", "write_element_images", "write_element_stack"]


def _check_maps(maps, elements: Sequence[str]) -> tuple[np.ndarray, tuple[str, ...]]:
    arr = np.asarray(maps)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise InputError(
            f"Element maps to write must be a real (B, h, w) array, got {arr.dtype} {arr.shape}."
        )
    names = tuple(str(e) for e in elements)
    if len(names) != arr.shape[0]:
        raise InputError(
            f"{len(names)} element names for {arr.shape[0]} maps: give one name per map."
        )
    return arr.astype(np.float32, copy=False), names


def _jsonable(obj: Any) -> Any:
    """Best-effort conversion of metadata to JSON (NumPy scalars, tuples, paths)."""
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist() if obj.size <= 64 else f"<array {obj.shape} {obj.dtype}>"
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    return str(obj)


def write_element_stack(
    path: str | Path,
    maps,
    elements: Sequence[str],
    *,
    scale=None,
    translate=None,
    layer_names: Sequence[str] | None = None,
    provenance: Mapping[str, Any] | None = None,
    role: str = "lr_map",
    force: bool = False,
) -> Path:
    """Write maps as a multi-page float32 TIFF that ImageJ/Fiji and this package read back.

    The file is an ImageJ hyperstack (one channel per element, slice labels =
    element names); the names, ``scale``, ``translate`` and ``provenance`` are
    also stored as JSON in the ImageJ "Info" field so that
    :func:`read_element_stack` restores them exactly.

    Parameters
    ----------
    path
        ``.tif`` or ``.tiff`` file to create.
    maps
        ``(B, h, w)`` (or ``(h, w)``) array.
    elements
        One name per map.
    scale, translate
        Either the napari layer's ``(sy, sx)`` scale and ``(ty, tx)`` translate, or
        a whole number ``s``: for ``role="lr_map"`` it means the maps are ``s``
        times coarser than the photo, and readers place them over it (scale
        ``(s, s)``, translate ``((s-1)/2, (s-1)/2)``); for other roles it is only
        recorded.
    layer_names
        Optional display names, if different from ``elements``.
    provenance
        JSON-serialisable dict: software, settings, source files...
    role
        ``"lr_map"`` for measured maps, ``"sr_map"`` for super-resolved ones.
    force
        Replace an existing file.

    Returns
    -------
    Path
        The file written.
    """
    import tifffile

    path = check_stack_path(path)
    arr, names = _check_maps(maps, elements)
    check_stack_names([*names, *(layer_names or ())])
    metadata = stack_metadata(names, scale=scale, translate=translate,
                              layer_names=layer_names, role=role, provenance=provenance)
    with atomic_path(path, force=force) as tmp:
        tifffile.imwrite(tmp, arr, imagej=True, metadata=metadata)
    return path


def check_stack_names(names: Sequence[str]) -> None:
    """Refuse element names that a TIFF cannot store (before any work is done).

    ImageJ keeps slice labels as UTF-16 text: a name with characters that are not text
    (lone surrogates from a file name in another encoding, control characters) cannot
    be written, and the write would fail only at the very end.
    """
    for name in names:
        bad = [c for c in str(name) if 0xD800 <= ord(c) <= 0xDFFF or ord(c) < 32]
        if bad:
            raise InputError(
                f"The element name {str(name).encode('utf-8', 'backslashreplace').decode()!r} "
                "holds characters a TIFF cannot store (from a file name in another "
                "encoding?). Rename the file or the map, or give the names with --elements "
                "(elements=... in Python)."
            )


def check_stack_path(path: str | Path) -> Path:
    """``path`` as a Path, if it names a TIFF file (element stacks are TIFFs)."""
    path = Path(path)
    if path.suffix.lower() not in (".tif", ".tiff"):
        raise InputError(f"An element stack is a TIFF file: use a .tif name, not {path.name!r}.")
    return path


def stack_metadata(
    elements: Sequence[str],
    *,
    scale=None,
    translate=None,
    layer_names: Sequence[str] | None = None,
    role: str = "lr_map",
    provenance: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ImageJ metadata of an element stack: axes, slice labels, and our "Info" JSON.

    :func:`~napari_maxrf_sr.io.tiff.read_element_stack` restores names, scale,
    translate, role and provenance from it.
    """
    info = {
        "format": STACK_FORMAT,
        "version": 1,
        "elements": list(elements),
        "layer_names": list(layer_names) if layer_names is not None else None,
        "role": str(role),
        "scale": _jsonable(scale),
        "translate": _jsonable(translate),
        "provenance": _jsonable(provenance or {}),
    }
    return {"axes": "CYX", "Labels": list(elements), "Info": json.dumps(info)}


_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def element_file_stem(name: str) -> str:
    """File-name-safe stem for an element (``"Pb L"`` -> ``"Pb-L"``), which parses back."""
    stem = _UNSAFE.sub("-", str(name).strip()).strip("-.")
    return stem or "map"


def write_element_images(
    folder: str | Path,
    maps,
    elements: Sequence[str],
    *,
    fmt: Literal["tif", "png"] = "tif",
    scale=None,
    provenance: Mapping[str, Any] | None = None,
    force: bool = False,
) -> list[Path]:
    """Write one image per element into ``folder`` (created if its parent exists).

    ``fmt="tif"`` writes float32 TIFFs (exact values). ``fmt="png"`` writes
    16-bit PNGs, each map scaled so that its maximum is 65535; the factor back
    to the original units is stored in ``elements.json`` in the folder, which
    :func:`napari_maxrf_sr.io.read_element_maps` applies when reading.

    Returns
    -------
    list of Path
        The image files written (plus the ``elements.json`` sidecar).
    """
    import imageio.v3 as iio
    import tifffile

    if fmt not in ("tif", "png"):
        raise InputError(f"fmt must be 'tif' or 'png', got {fmt!r}.")
    arr, names = _check_maps(maps, elements)
    folder = Path(folder)
    if not folder.exists():
        check_writable_folder(folder.parent if str(folder.parent) else Path("."))
        folder.mkdir()
    check_writable_folder(folder)
    stems = [element_file_stem(n) for n in names]
    seen: dict[str, int] = {}
    for i, s in enumerate(stems):  # "Pb L" and "Pb-L" would collide
        if s.lower() in seen:
            stems[i] = f"{s}_{i + 1}"
        seen[s.lower()] = i
    files = [folder / f"{s}.{fmt}" for s in stems]
    sidecar = folder / FOLDER_SIDECAR
    refuse_overwrite([*files, sidecar], force)
    entries = []
    for m, name, target in zip(arr, names, files, strict=True):
        value_scale = 1.0
        with atomic_path(target, force=force) as tmp:
            if fmt == "tif":
                tifffile.imwrite(tmp, m, photometric="minisblack")
            else:
                if not np.isfinite(m).all() or m.min() < 0:
                    raise InputError(
                        f"The {name} map has negative or non-finite values, which a PNG cannot "
                        "hold; write TIFF (fmt='tif') instead."
                    )
                top = float(m.max())
                value_scale = top / 65535.0 if top > 0 else 1.0
                q = np.rint(m / np.float32(value_scale)).astype(np.uint16)
                iio.imwrite(tmp, q, extension=".png")
        entries.append({"file": target.name, "element": name, "value_scale": value_scale})
    side = {
        "format": STACK_FORMAT,
        "version": 1,
        "files": entries,
        "scale": _jsonable(scale),
        "provenance": _jsonable(provenance or {}),
        "note": "value = stored pixel value x value_scale",
    }
    with atomic_path(sidecar, force=force) as tmp:
        tmp.write_text(json.dumps(side, indent=2), encoding="utf-8")
    return files
