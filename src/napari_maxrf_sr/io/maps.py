"""Readers for element maps: TIFF stacks, folders of images, NumPy and HDF5 files.

Every reader returns ``(maps, elements, meta)``: ``maps`` is ``(B, h, w)``
float32, ``elements`` one name per map, ``meta`` a dict with at least
``source``, ``format`` and ``notes`` (and ``scale``/``provenance`` when the
file carries them). Negative values are kept (fitted peak areas may dip below
zero); the super-resolution entry points decide what to do with them.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np

from ..core import validation
from ..core.validation import InputError, default_element_names
from .elements import element_name_from_path, is_element_name, normalise_element_name
from .filecheck import (
    check_npy_data,
    check_tiff,
    damaged,
    npy_header,
    png_size,
    unreadable,
)

#: Marker stored in the files this package writes (ImageJ "Info" / sidecar JSON).
STACK_FORMAT = "napari-maxrf-sr element stack"
#: Sidecar that :func:`~napari_maxrf_sr.io.writers.write_element_images` puts in a folder.
FOLDER_SIDECAR = "elements.json"
IMAGE_SUFFIXES = (".tif", ".tiff", ".png")
_TIFF = (".tif", ".tiff")

MapsResult = tuple[np.ndarray, tuple[str, ...], dict[str, Any]]


class NotElementMaps(InputError):
    """The file can be read but does not hold element maps (e.g. an RGB photo)."""


def _as_stack(arr: np.ndarray, source: str) -> np.ndarray:
    """``(h, w)`` or ``(B, h, w)`` numeric array -> ``(B, h, w)`` float32."""
    arr = np.asarray(arr)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise InputError(
            f"{source} holds values of type {arr.dtype}, not numbers. Save the maps as "
            "numbers, e.g. maps.astype(np.float32)."
        )
    if np.iscomplexobj(arr):
        raise InputError(f"{source} holds complex numbers; store their magnitude (np.abs).")
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise InputError(
            f"{source} holds an array of shape {arr.shape}; element maps must be (h, w) or "
            f"(B, h, w) (element, rows, columns). {validation.stack_shape_hint(arr.shape)}"
        )
    # float64 values beyond float32's range would turn into inf in the cast below
    validation.check_magnitude(arr, name=f"maps in {source}")
    return arr.astype(np.float32, copy=False)


def _names_or_default(names, n: int, source: str, notes: list[str]) -> tuple[str, ...]:
    if names is None:
        notes.append(f"no element names in {source}: using 'map 1' ... 'map {n}'")
        return default_element_names(n)
    names = tuple(normalise_element_name(str(x)) for x in names)
    if len(names) != n:
        notes.append(
            f"{source} names {len(names)} elements for {n} maps; using 'map 1' ... 'map {n}'"
        )
        return default_element_names(n)
    return names


def read_sidecar(path: str | Path) -> dict[str, Any] | None:
    """JSON sidecar of a file: ``<stem>.json`` or ``<name>.json`` next to it, if any."""
    p = Path(path)
    for cand in (p.with_suffix(".json"), p.with_name(p.name + ".json")):
        if cand.is_file() and cand != p:
            try:
                data = json.loads(cand.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise InputError(f"The sidecar {str(cand)!r} is not valid JSON: {exc}") from exc
            if isinstance(data, dict):
                return data
    return None


# --------------------------------------------------------------------------- TIFF


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
        ``(B, h, w)`` float32 maps, their names and a dict with ``source``,
        ``format``, ``scale``, ``translate``, ``provenance``, ``layer_names``
        and ``notes``.
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
        maps = _as_stack(arr, repr(str(path)))
    notes: list[str] = []
    info = desc["info"] or {}
    sidecar = desc["sidecar"] or {}
    names = desc["names"]
    if names is None and maps.shape[0] == 1:  # one map: the file name says what it is
        names = [element_name_from_path(path)]
    elements = _names_or_default(names, maps.shape[0], repr(path.name), notes)
    meta = {
        "source": str(path),
        "format": "tiff",
        "scale": info.get("scale", sidecar.get("scale")),
        "translate": info.get("translate"),
        "layer_names": info.get("layer_names"),
        "role": info.get("role", "lr_map"),
        "provenance": info.get("provenance", sidecar.get("provenance")),
        "notes": notes,
    }
    return maps, elements, meta


# --------------------------------------------------------------------------- folders


def _read_image_file(path: Path) -> np.ndarray:
    """One image file's pixels; InputError for a damaged, unreadable or enormous file."""
    try:
        if path.suffix.lower() in _TIFF:
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
    return (
        np.stack(maps),
        tuple(names),
        {
            "source": str(folder),
            "format": "folder",
            "files": [str(p) for p, _, _ in entries],
            "scale": scale,
            "provenance": provenance,
            "notes": notes,
        },
    )


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
        _as_stack(img, repr(str(path))),
        (element_name_from_path(path),),
        {"source": str(path), "format": "image", "notes": []},
    )


# --------------------------------------------------------------------------- NumPy


def read_npy_maps(path: str | Path) -> MapsResult:
    """Read a ``.npy`` array ``(B, h, w)`` or ``(h, w)``; names from a sidecar ``<stem>.json``."""
    path = Path(path)
    arr = _load_npy(path)
    maps = _as_stack(arr, repr(str(path)))
    notes: list[str] = []
    side = read_sidecar(path) or {}
    elements = _names_or_default(side.get("elements"), maps.shape[0], repr(path.name), notes)
    meta = {
        "source": str(path),
        "format": "npy",
        "scale": side.get("scale"),
        "provenance": side.get("provenance"),
        "notes": notes,
    }
    return maps, elements, meta


def npy_info(path: str | Path, *, numbers_only: bool = True) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of a ``.npy`` file, after checking its header against its size.

    Raises
    ------
    InputError
        For a damaged or truncated file, a header that promises more data than the
        file holds, more values than fit in memory or (``numbers_only``) values that
        are not numbers.
    """
    path = Path(path)
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            shape, dtype, head = npy_header(fh, repr(str(path)))
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise unreadable(path, exc) from exc
    check_npy_data(shape, dtype, size - head, repr(str(path)), numbers_only=numbers_only)
    return shape, dtype


def _load_npy(path: Path) -> np.ndarray:
    npy_info(path)  # nothing is allocated before the header has been checked
    try:
        return np.load(path, allow_pickle=False)
    except Exception as exc:
        raise damaged(path, exc, "NumPy .npy") from exc


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    """All arrays of a ``.npz``, each member's header checked before it is read."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            total = 0
            for info in zf.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                source = f"{path.name}[{info.filename[:-4]!r}]"
                with zf.open(info) as fh:
                    shape, dtype, head = npy_header(fh, source)
                check_npy_data(shape, dtype, info.file_size - head, source, numbers_only=False)
                if dtype.kind in "biuf":
                    total += int(np.prod(shape, dtype=object))
            validation.check_map_size((total,), name=f"arrays in {path.name!r}")
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except InputError:
        raise
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        raise damaged(path, exc, "NumPy .npz (zip)") from exc
    except Exception as exc:  # zlib.error, EOFError, CRC errors: a damaged archive
        raise damaged(path, exc, "NumPy .npz (zip)") from exc


_STACK_KEYS = ("maps", "lr_maps", "element_maps", "data")
_NAME_KEYS = ("elements", "element_names", "names", "labels")


def read_npz_maps(path: str | Path) -> MapsResult:
    """Read a ``.npz`` file: one 2-D array per element (keys are the names), or a 3-D stack.

    A stack is taken from the key ``maps`` (or ``lr_maps``, ``element_maps``,
    ``data``, or the only 3-D array), its names from ``elements`` (or
    ``element_names``, ``names``, ``labels``) or a sidecar JSON.
    """
    path = Path(path)
    notes: list[str] = []
    arrays = _load_npz(path)
    names = next((arrays[k] for k in _NAME_KEYS if k in arrays), None)
    stack_key = next((k for k in _STACK_KEYS if k in arrays and arrays[k].ndim == 3), None)
    if stack_key is None:
        three_d = [k for k, a in arrays.items() if a.ndim == 3]
        stack_key = three_d[0] if len(three_d) == 1 else None
    scale = None
    if "scale" in arrays and arrays["scale"].size == 1:
        scale = arrays["scale"].item()
    if stack_key is not None:
        maps = _as_stack(arrays[stack_key], f"{path.name}[{stack_key!r}]")
        if names is None:
            names = (read_sidecar(path) or {}).get("elements")
        elements = _names_or_default(
            None if names is None else [str(x) for x in np.ravel(names)],
            maps.shape[0],
            repr(path.name),
            notes,
        )
    else:
        two_d = {
            k: a
            for k, a in arrays.items()
            if a.ndim == 2 and np.issubdtype(a.dtype, np.number) and k not in _NAME_KEYS
        }
        if not two_d:
            raise InputError(
                f"{str(path)!r} holds no element maps: store one 2-D array per element "
                "(np.savez(path, **{'Pb L': pb, 'Hg L': hg})) or a (B, h, w) array under "
                "'maps' with names under 'elements'."
            )
        shapes = {a.shape for a in two_d.values()}
        if len(shapes) > 1:
            raise InputError(
                f"The arrays in {str(path)!r} have different shapes {sorted(shapes)}; element "
                "maps must all have the same size."
            )
        maps = np.stack([a.astype(np.float32) for a in two_d.values()])
        elements = tuple(normalise_element_name(k) for k in two_d)
    return maps, elements, {"source": str(path), "format": "npz", "scale": scale, "notes": notes}


# --------------------------------------------------------------------------- HDF5


def _import_h5py():
    try:
        import h5py
    except ImportError as exc:  # optional dependency
        raise ImportError(
            "Reading HDF5 maps needs h5py, which is not installed. Install it with "
            "pip install napari-maxrf-sr[hdf5]  (or: pip install h5py)."
        ) from exc
    return h5py


def _decode_names(value) -> list[str] | None:
    if value is None:
        return None
    out = []
    for x in np.ravel(np.asarray(value)):
        out.append(x.decode("utf-8") if isinstance(x, bytes) else str(x))
    return out


def read_h5_maps(path: str | Path, *, dataset: str | None = None) -> MapsResult:
    """Element maps from an HDF5 file (needs the optional ``h5py``).

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


def _read_h5(h5py, path: Path, dataset: str | None) -> MapsResult:
    notes: list[str] = []
    with h5py.File(path, "r") as f:
        found: dict[str, Any] = {}

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and obj.ndim in (2, 3):
                if np.issubdtype(obj.dtype, np.number):
                    found[name] = obj

        f.visititems(visit)
        if dataset is not None:
            if dataset not in f:
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
                    f"{str(path)!r} holds several 3-D datasets ({', '.join(three)}); choose "
                    "one with dataset='...'."
                )
        if chosen:
            ds = f[chosen[0]]
            validation.check_map_size(ds.shape, name=f"maps in {path.name}:{chosen[0]}")
            maps = _as_stack(ds[()], f"{path.name}:{chosen[0]}")
            names = None
            for key in _NAME_KEYS:
                if key in ds.attrs:
                    names = _decode_names(ds.attrs[key])
                    break
            parent = ds.parent
            if names is None:
                for key in _NAME_KEYS:
                    if key in parent and isinstance(parent[key], h5py.Dataset):
                        names = _decode_names(parent[key][()])
                        break
            elements = _names_or_default(names, maps.shape[0], repr(path.name), notes)
            scale = ds.attrs.get("scale")
        else:
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
                    f"{sorted(shapes)}; choose one with dataset='...'."
                )
            validation.check_map_size((len(two), *shapes.pop()), name=f"maps in {path.name}")
            maps = np.stack([np.asarray(d[()], dtype=np.float32) for d in two.values()])
            elements = tuple(normalise_element_name(k.rsplit("/", 1)[-1]) for k in two)
            scale = None
    if scale is not None:
        scale = np.asarray(scale).item()
    return maps, elements, {"source": str(path), "format": "hdf5", "scale": scale, "notes": notes}


# --------------------------------------------------------------------------- dispatch


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
        ``(B, h, w)`` float32, the names and a dict of metadata (``notes`` lists
        anything that was assumed or skipped).
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(
            f"{str(p)!r} does not exist. Check the path (and that the drive is connected)."
        )
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
            raise TypeError(f"{kind} take no options, got {', '.join(kwargs)}.")

    if p.is_dir():
        only = kwargs.pop("only_elements", False)
        no_kwargs("Folders")
        return read_element_folder(p, only_elements=only)
    if suffix in _TIFF:
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
