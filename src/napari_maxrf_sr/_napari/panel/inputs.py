"""Which layers are element maps, which is the photo, which hold ground truth (no Qt).

Works on anything that looks like a napari image layer (``name``, ``data``, ``rgb``,
``metadata``, ``scale``, ``translate``, ``colormap``, ``contrast_limits``), so it is
tested without a viewer. The panel copies the chosen layers' data into a
:class:`RunInputs` in the GUI thread; everything slower (validation, hashing,
training) happens in the worker thread.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from napari_maxrf_sr._napari.results import Grid, InputStyle
from napari_maxrf_sr.core.photo_pixels import check_photo_size
from napari_maxrf_sr.core.validation import check_map_size, infer_scale
from napari_maxrf_sr.errors import InputError

TRUTH_SUFFIX = " (truth)"


def _metadata(layer: Any) -> tuple[dict, dict]:
    """A layer's metadata and its ``maxrf_sr`` part (``{}`` when there is none)."""
    meta = getattr(layer, "metadata", None) or {}
    sub = meta.get("maxrf_sr") if isinstance(meta, dict) else None
    return meta, sub if isinstance(sub, dict) else {}


def layer_role(layer: Any) -> str | None:
    """The ``maxrf_sr`` role a layer was tagged with by our reader, sample or panel."""
    meta, sub = _metadata(layer)
    if "role" in sub:
        return str(sub["role"])
    role = meta.get("maxrf_sr_role", meta.get("role"))
    return None if role is None else str(role)


def element_names(layer: Any) -> list[str]:
    """Element names of an element-map layer (one per plane of a stack)."""
    meta, sub = _metadata(layer)
    if np.ndim(layer.data) == 2:
        return [str(sub.get("element") or meta.get("element") or layer.name)]
    names = sub.get("elements") or meta.get("elements")
    n = np.shape(layer.data)[0]
    if names and len(names) == n:
        return [str(e) for e in names]
    return [f"{layer.name} {i + 1}" for i in range(n)]


def is_photo(layer: Any) -> bool:
    """An RGB image layer."""
    return bool(getattr(layer, "rgb", False))


def is_map_candidate(layer: Any) -> bool:
    """A greyscale layer that may be an input map (not a result, truth or quality map)."""
    if is_photo(layer):
        return False
    role = layer_role(layer)
    if role not in (None, "lr_map"):
        return False
    # "<element> (SR)", "(truth)", ...: our own output naming, without a role tag.
    return not (role is None and str(layer.name).endswith(")"))


def truth_element(layer: Any) -> str | None:
    """The element a ground-truth layer belongs to, or ``None`` for other layers."""
    meta = (getattr(layer, "metadata", None) or {}).get("maxrf_sr", {})
    if layer_role(layer) == "truth" and isinstance(meta, dict) and meta.get("element"):
        return str(meta["element"])
    name = str(layer.name)
    return name[: -len(TRUTH_SUFFIX)] if name.endswith(TRUTH_SUFFIX) else None


def find_truth(layers: Iterable[Any], elements: Sequence[str],
               hr_shape: tuple[int, int]) -> dict[str, Any]:
    """Ground-truth layers of these elements that are as large as the photo."""
    found = {}
    for layer in layers:
        element = truth_element(layer)
        if element in elements and tuple(np.shape(layer.data)[-2:]) == tuple(hr_shape):
            found[element] = layer
    return found


@dataclass
class RunInputs:
    """Copies of the layer data that a run uses (taken in the GUI thread).

    Attributes
    ----------
    lr_maps
        ``(B, h, w)`` element maps.
    rgb
        The photo's pixels as the layer holds them.
    scale
        Photo pixels per scan pixel.
    elements
        One name per map.
    layer_arrays
        Input layer name -> its array (for the provenance record).
    photo_name
        The photo layer's name.
    styles
        Colormap and contrast of each input map, copied onto its result.
    grid
        Where the photo (and so every result) sits in the viewer.
    truth
        Ground-truth maps by element name (empty without).
    map_layer_names
        The chosen map layers (hidden when the results arrive).
    notes
        What the file readers noted about the chosen layers (a file skipped, a name
        made up), shown with the run's other notes.
    """

    lr_maps: np.ndarray
    rgb: np.ndarray
    scale: int
    elements: tuple[str, ...]
    layer_arrays: dict[str, np.ndarray]
    photo_name: str
    styles: list[InputStyle]
    grid: Grid
    truth: dict[str, np.ndarray] = field(default_factory=dict)
    map_layer_names: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def reader_notes(layers: Iterable[Any]) -> tuple[str, ...]:
    """The readers' notes stored in the layers' metadata, each once, in order."""
    found: list[str] = []
    for layer in layers:
        found.extend(str(n) for n in _metadata(layer)[1].get("reader_notes", ()) or ())
    return tuple(dict.fromkeys(found))


def photo_file_notes(photo: Any) -> tuple[str, ...]:
    """Notes about the file a photo layer came from: a JPEG compressed hard.

    napari's own reader opens the photo, so the panel reads the file's header itself
    (:mod:`napari_maxrf_sr.io.jpeg_quality`); an aligned photo carries its source's
    notes in its metadata instead.
    """
    from pathlib import Path

    from napari_maxrf_sr.io.jpeg_quality import jpeg_compression, jpeg_note

    path = getattr(getattr(photo, "source", None), "path", None)
    note = jpeg_note(jpeg_compression(path)) if path else None
    return (f"{Path(str(path)).name}: {note}",) if note else ()


def input_notes(map_layers: Sequence[Any], photo: Any) -> tuple[str, ...]:
    """Every note about a run's inputs, each once, in order.

    The readers' notes of the layers, then what the photo's file says
    (:func:`photo_file_notes`).
    """
    return tuple(dict.fromkeys([*reader_notes([*map_layers, photo]),
                                *photo_file_notes(photo)]))


def check_choice(map_layers: Sequence[Any], photo: Any) -> tuple[tuple, tuple, int]:
    """Check the chosen layers' sizes; return the map shape, photo shape and scale.

    Raises
    ------
    InputError
        With a message saying what to choose differently.
    """
    if not map_layers:
        raise InputError("Select at least one element-map layer in the list.")
    shapes = {tuple(np.shape(layer.data)[-2:]) for layer in map_layers}
    if len(shapes) > 1:
        raise InputError(
            "The selected element maps differ in size ("
            + ", ".join(f"{s[1]} x {s[0]}" for s in sorted(shapes))
            + " px): select maps from one scan."
        )
    if photo is None:
        raise InputError(
            "Choose a photo: open the colour photo of the painting as an RGB image layer."
        )
    lr_shape, hr_shape = shapes.pop(), tuple(np.shape(photo.data)[:2])
    return lr_shape, hr_shape, infer_scale(lr_shape, hr_shape)


def scale_text(map_layers: Sequence[Any], photo: Any) -> tuple[str, bool]:
    """The panel's "Scale" line, and whether it is an error."""
    try:
        lr, hr, s = check_choice(map_layers, photo)
    except InputError as exc:
        return str(exc), True
    return f"{s}x (maps {lr[1]} x {lr[0]} px, photo {hr[1]} x {hr[0]} px)", False


def _planes(layer: Any) -> np.ndarray:
    data = np.asarray(layer.data)  # readers may hand over dask or xarray arrays
    if data.ndim not in (2, 3):
        raise InputError(
            f"Layer '{layer.name}' has {data.ndim} dimensions; element maps must be "
            "2D images or a (B, h, w) stack."
        )
    return data


def collect_inputs(map_layers: Sequence[Any], photo: Any,
                   truth_layers: Iterable[Any] | None = None) -> RunInputs:
    """Copy and size-check the chosen layers' data.

    Parameters
    ----------
    map_layers
        The chosen element-map layers, in the viewer's order.
    photo
        The photo layer.
    truth_layers
        Layers to search for ground truth (``None``: do not compare).

    Raises
    ------
    InputError
        With a message saying what to choose differently.
    """
    from napari_maxrf_sr.io.large import check_result_fits

    lr_shape, hr_shape, scale = check_choice(map_layers, photo)
    planes, elements, styles, arrays = [], [], [], {}
    for layer in map_layers:
        data = _planes(layer)
        arrays[layer.name] = data
        stack = data[None] if data.ndim == 2 else data
        planes.extend(stack)
        elements.extend(element_names(layer))
        style = InputStyle(layer.colormap, tuple(map(float, layer.contrast_limits)))
        styles.extend([style] * stack.shape[0])
    if len(set(elements)) != len(elements):
        raise InputError("Two selected maps have the same element name; rename one layer.")
    # Sizes first, before np.stack copies the maps.
    check_photo_size(tuple(np.shape(photo.data)))
    check_map_size((len(planes), *lr_shape))
    check_result_fits(len(planes), *hr_shape)  # results are layers, held in memory
    truth: dict[str, np.ndarray] = {}
    if truth_layers is not None:
        found = find_truth(truth_layers, elements, hr_shape)
        if not found:
            raise InputError(
                "No ground-truth layers were found: they must be named '<element> (truth)' "
                "and be as large as the photo. Untick 'Compare with ground truth' for "
                "real data."
            )
        truth = {element: np.asarray(layer.data) for element, layer in found.items()}
    grid = Grid(tuple(map(float, photo.scale[-2:])), tuple(map(float, photo.translate[-2:])))
    return RunInputs(np.stack(planes), np.asarray(photo.data), scale, tuple(elements), arrays,
                     str(photo.name), styles, grid, truth,
                     tuple(str(layer.name) for layer in map_layers),
                     input_notes(map_layers, photo))
