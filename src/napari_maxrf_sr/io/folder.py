"""Element maps as one image per element: a folder of TIFF/PNG files, or one image.

Names come from the file names (``Pb-L.tif`` -> ``"Pb L"``) or from the
``elements.json`` that :func:`~napari_maxrf_sr.io.writers.write_element_images`
writes.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, NotElementMaps
from .common import FOLDER_SIDECAR, MapsMeta, MapsResult, new_stack, put
from .elements import element_name_from_path, is_element_name
from .filecheck import damaged, png_size
from .sidecar import number, plain_file_name, read_json
from .tiff import TIFF_SUFFIXES, inspect_tiff

IMAGE_SUFFIXES = (".tif", ".tiff", ".png")


def _png_grey_size(path: Path) -> tuple[tuple[int, int], bool] | None:
    """``((h, w), grey)`` from a PNG's header, or ``None`` if it is not a PNG."""
    hw = png_size(path)
    if hw is None:
        return None
    with open(path, "rb") as fh:
        colour_type = fh.read(26)[25]
    return hw, colour_type == 0  # grey (no palette, no alpha)


def _image_shape(path: Path) -> tuple[tuple[int, int] | None, str | None]:
    """``(h, w)`` of a single-map image from its header, or ``None`` and why it is not one.

    Raises
    ------
    InputError
        For a damaged or unreadable file: a map must not go missing in silence.
    """
    try:
        if path.suffix.lower() in TIFF_SUFFIXES:
            layout = inspect_tiff(path)  # checked as it is opened
            if layout.photo or layout.shape[0] != 1:
                return None, f"a {layout.shape[0]}-channel or multi-page image, not one map"
            return layout.shape[1:], None
        png = _png_grey_size(path)
        if png is None:
            raise InputError(f"{str(path)!r} is not a PNG file.")
        if not png[1]:
            return None, "a colour image, not a single map"
        return png[0], None
    except InputError:
        raise
    except (FileNotFoundError, PermissionError):
        raise
    except Exception as exc:  # OSError, tifffile's own errors
        raise damaged(path, exc, "TIFF or PNG image") from exc


def _read_into(out: np.ndarray, path: Path, value_scale: float) -> None:
    """Read a single-map image into ``out`` ``(h, w)``, in its original units."""
    try:
        if path.suffix.lower() in TIFF_SUFFIXES:
            from .tiff import read_element_stack

            img = read_element_stack(path)[0][0]
        else:
            import imageio.v3 as iio

            img = np.squeeze(iio.imread(path))
    except InputError:
        raise
    except Exception as exc:  # Pillow reports broken PNG chunks as SyntaxError, and so on
        raise damaged(path, exc, "TIFF or PNG image") from exc
    put(out, img, repr(path.name))
    if value_scale != 1.0:
        out *= np.float32(value_scale)


def list_element_images(folder: str | Path) -> list[Path]:
    """Image files (TIFF/PNG) directly in ``folder``, sorted by name, hidden files skipped."""
    folder = Path(folder)
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    )


def folder_has_element_images(folder: str | Path) -> bool:
    """Whether ``folder`` holds an image named after an element, or our sidecar."""
    folder = Path(folder)
    if (folder / FOLDER_SIDECAR).is_file():
        return True
    return any(is_element_name(element_name_from_path(p)) for p in list_element_images(folder))


def _sidecar_entries(folder: Path) -> tuple[list[tuple[Path, str, float]], dict[str, Any]]:
    """The images an ``elements.json`` lists, every value checked; and the sidecar."""
    path = folder / FOLDER_SIDECAR
    side = read_json(path, "element list")
    fix = "Correct it, or delete it to read the images by their file names."
    if not isinstance(side, dict) or not isinstance(side.get("files"), list):
        raise InputError(f"{str(path)!r} does not list the images ('files': [...]). {fix}")
    entries = []
    for i, item in enumerate(side["files"]):
        where = f"files[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("element"), str):
            raise InputError(
                f"{where} in {str(path)!r} must be {{\"file\": \"Pb-L.tif\", \"element\": "
                f"\"Pb L\"}}, got {json.dumps(item)[:80]}. {fix}"
            )
        name = plain_file_name(item.get("file"), path, f"{where}.file")
        if name is None:
            raise InputError(f"{where} in {str(path)!r} names no file. {fix}")
        factor = number(item.get("value_scale", 1), path, f"{where}.value_scale", positive=True)
        entries.append((folder / name, item["element"], factor))
    return entries, side


def _folder_entries(folder: Path, only_elements: bool) -> tuple[list, dict[str, Any]]:
    if (folder / FOLDER_SIDECAR).is_file():
        return _sidecar_entries(folder)
    entries = []
    for p in list_element_images(folder):
        name = element_name_from_path(p)
        if not only_elements or is_element_name(name):
            entries.append((p, name, 1.0))
    return entries, {}


def _refuse_duplicates(chosen: list[tuple[Path, str, float]], folder: Path) -> None:
    seen: dict[str, Path] = {}
    for p, name, _ in chosen:
        if name in seen:
            twins = unicodedata.normalize("NFC", seen[name].name) == \
                unicodedata.normalize("NFC", p.name)
            raise InputError(
                f"{seen[name].name} and {p.name} in {str(folder)!r} are both read as "
                f"{name!r}" + (" (the same name, its letters encoded in two ways, as "
                               "different systems write accents)" if twins else "")
                + ": one scan has one map per element. Move one of them out of the "
                "folder, or rename it after its line (e.g. 'Pb-M.tif')."
            )
        seen[name] = p


def read_element_folder(folder: str | Path, *, only_elements: bool = False) -> MapsResult:
    """Read a folder of per-element images (TIFF or PNG; 8/16-bit or float).

    Names come from the file names (``Pb-L.tif`` -> ``"Pb L"``; other names are
    kept as given) or from the ``elements.json`` that
    :func:`~napari_maxrf_sr.io.writers.write_element_images` writes, which also
    restores the values of 16-bit PNGs to their original units. Colour images
    (the photo, say) are skipped with a note; a damaged image is an error, so that
    no map goes missing in silence.

    Parameters
    ----------
    folder
        The folder.
    only_elements
        Skip images whose names are not element names.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{str(folder)!r} is not a folder.")
    notes: list[str] = []
    entries, side = _folder_entries(folder, only_elements)
    chosen, shapes = [], {}
    for p, name, value_scale in entries:
        if not p.is_file():
            what = "is missing" if not p.exists() else "is not a regular file"
            raise InputError(f"{str(p)!r}, listed in {FOLDER_SIDECAR}, {what}.")
        hw, why = _image_shape(p)
        if hw is None:
            notes.append(f"skipped {p.name}: {why}")
            continue
        chosen.append((p, name, value_scale))
        shapes.setdefault(tuple(hw), []).append(p.name)
    if not chosen:
        skipped = f" ({'; '.join(notes)})" if notes else ""
        raise InputError(
            f"No element maps found in {str(folder)!r}{skipped}: expected single-channel "
            "TIFF or PNG images named by element, such as 'Pb-L.tif' or 'Fe K.png'."
        )
    if len(shapes) > 1:
        desc = "; ".join(f"{s[0]} x {s[1]}: {', '.join(f[:3])}" for s, f in shapes.items())
        raise InputError(
            f"The maps in {str(folder)!r} have different sizes ({desc}). All element maps of "
            "one scan must have the same size: move the others out of the folder."
        )
    _refuse_duplicates(chosen, folder)
    maps = new_stack((len(chosen), *next(iter(shapes))), repr(folder.name))
    for k, (p, _, value_scale) in enumerate(chosen):
        _read_into(maps[k], p, value_scale)
    meta = MapsMeta(
        source=str(folder),
        format="folder",
        notes=notes,
        scale=side.get("scale"),
        provenance=side.get("provenance"),
        files=[str(p) for p, _, _ in entries],
    )
    return maps, tuple(name for _, name, _ in chosen), meta


def read_single_image(path: str | Path) -> MapsResult:
    """One single-channel image file as a one-map stack named after the file."""
    path = Path(path)
    hw, why = _image_shape(path)
    if hw is None:
        raise NotElementMaps(
            f"{str(path)!r} is {why}. If it is the photo, give it as the photo; element "
            "maps are one grey image per element."
        )
    maps = new_stack((1, *hw), repr(path.name))
    _read_into(maps[0], path, 1.0)
    return maps, (element_name_from_path(path),), MapsMeta(source=str(path), format="image")
