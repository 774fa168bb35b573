"""Element maps as one image per element: a folder of TIFF/PNG files, or one image.

Names come from the file names (``Pb-L.tif`` -> ``"Pb L"``) or from the
``elements.json`` that :func:`~napari_maxrf_sr.io.writers.write_element_images`
writes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..core import validation
from ..core.validation import InputError
from ..errors import NotElementMaps
from .common import FOLDER_SIDECAR, MapsMeta, MapsResult, as_stack
from .elements import element_name_from_path, is_element_name
from .filecheck import check_tiff, damaged, png_size
from .tiff import TIFF_SUFFIXES

IMAGE_SUFFIXES = (".tif", ".tiff", ".png")


def _read_image_file(path: Path) -> np.ndarray:
    """One image file's pixels; InputError for a damaged, unreadable or enormous file."""
    try:
        if path.suffix.lower() in TIFF_SUFFIXES:
            import tifffile

            check_tiff(path)
            with tifffile.TiffFile(path) as tif:
                validation.check_map_size(tif.series[0].shape, name=repr(path.name))
                return tif.series[0].asarray()
        hw = png_size(path)
        if hw is not None:
            validation.check_map_size(hw, name=repr(path.name))
        import imageio.v3 as iio

        return iio.imread(path)
    except InputError:
        raise
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise damaged(path, exc, "TIFF or PNG image") from exc
    except Exception as exc:  # Pillow reports broken PNG chunks as SyntaxError, and so on
        raise damaged(path, exc, "TIFF or PNG image") from exc


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


def read_element_folder(folder: str | Path, *, only_elements: bool = False) -> MapsResult:
    """Read a folder of per-element images (TIFF or PNG; 8/16-bit or float).

    Names come from the file names (``Pb-L.tif`` -> ``"Pb L"``; other names are
    kept as given) or from the ``elements.json`` that
    :func:`~napari_maxrf_sr.io.writers.write_element_images` writes, which also
    restores the values of 16-bit PNGs to their original units. Colour images
    (the photo, say) are skipped with a note.

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
    sidecar_path = folder / FOLDER_SIDECAR
    entries: list[tuple[Path, str, float]] = []
    provenance = None
    scale = None
    if sidecar_path.is_file():
        try:
            side = json.loads(sidecar_path.read_text(encoding="utf-8"))
            files = side["files"]
            for item in files:
                factor = float(item.get("value_scale", 1))
                entries.append((folder / item["file"], str(item["element"]), factor))
            provenance = side.get("provenance")
            scale = side.get("scale")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(
                f"{str(sidecar_path)!r} is damaged ({exc}); delete it to read the images by "
                "their file names."
            ) from exc
    else:
        for p in list_element_images(folder):
            name = element_name_from_path(p)
            if only_elements and not is_element_name(name):
                continue
            entries.append((p, name, 1.0))
    maps: list[np.ndarray] = []
    names: list[str] = []
    shapes: dict[tuple[int, ...], list[str]] = {}
    for p, name, value_scale in entries:
        try:
            img = np.squeeze(_read_image_file(p))
        except FileNotFoundError as exc:
            raise InputError(f"{str(p)!r}, listed in {FOLDER_SIDECAR}, is missing.") from exc
        except Exception as exc:
            notes.append(f"skipped {p.name}: not a readable image ({exc})")
            continue
        if img.ndim != 2:
            notes.append(f"skipped {p.name}: a {img.shape} image (colour?), not a single map")
            continue
        m = img.astype(np.float32)
        if value_scale != 1.0:
            m *= np.float32(value_scale)
        maps.append(m)
        names.append(name)
        shapes.setdefault(img.shape, []).append(p.name)
    if not maps:
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
    meta = MapsMeta(
        source=str(folder),
        format="folder",
        notes=notes,
        scale=scale,
        provenance=provenance,
        files=[str(p) for p, _, _ in entries],
    )
    return np.stack(maps), tuple(names), meta


def read_single_image(path: str | Path) -> MapsResult:
    """One single-channel image file as a one-map stack named after the file."""
    path = Path(path)
    img = np.squeeze(_read_image_file(path))
    if img.ndim != 2:
        raise NotElementMaps(
            f"{str(path)!r} is a {img.shape} image, not a single-channel element map. If it "
            "is the photo, give it as the photo; element maps are one grey image per element."
        )
    return (
        as_stack(img, repr(str(path))),
        (element_name_from_path(path),),
        MapsMeta(source=str(path), format="image"),
    )
