"""Result layers, quality maps and provenance for the dock widget (no Qt here).

Everything the panel shows after a run is computed by these pure functions (most of
it in the worker thread), so they are tested without a viewer and the panel only adds
what they return. Layer data follow napari's ``LayerData`` convention:
``(data, add_kwargs, "image")``. Quality numbers (PSNR, SSIM, detail added) live in
:mod:`napari_maxrf_sr.metrics`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from napari_maxrf_sr import provenance as _provenance
from napari_maxrf_sr._napari.layer_style import MAP_BLENDING
from napari_maxrf_sr.core.operators import block_mean_np, upsample_bicubic_np
from napari_maxrf_sr.metrics import ElementMetrics
from napari_maxrf_sr.provenance import describe_array, sha256_array  # noqa: F401 - kept here

LayerData = tuple[np.ndarray, dict[str, Any], str]

#: Role stored in ``layer.metadata["maxrf_sr"]["role"]`` of every layer this module builds.
ROLE_SR = "sr_map"
ROLE_ERROR = "error_map"
ROLE_CONSISTENCY = "consistency_map"
ROLE_DETAIL = "detail_map"


@dataclass(frozen=True)
class InputStyle:
    """How an input element map is displayed, copied onto its results.

    Attributes
    ----------
    colormap
        napari colormap name (or object) of the input layer.
    contrast_limits
        ``(low, high)`` of the input layer, in the maps' units.
    """

    colormap: Any = "gray"
    contrast_limits: tuple[float, float] | None = None


@dataclass(frozen=True)
class Grid:
    """Placement of the photo (and so of every result) in napari world coordinates."""

    scale: tuple[float, float] = (1.0, 1.0)
    translate: tuple[float, float] = (0.0, 0.0)


def _meta(role: str, element: str, method: str) -> dict[str, Any]:
    return {"maxrf_sr": {"role": role, "element": element, "method": method}}


def _limits(img: np.ndarray) -> tuple[float, float]:
    lo, hi = float(np.min(img)), float(np.max(img))
    return (lo, hi) if hi > lo else (lo, lo + 1.0)


def sr_layers(
    maps: np.ndarray,
    elements: Sequence[str],
    *,
    method_label: str = "SR",
    styles: Sequence[InputStyle] | None = None,
    grid: Grid = Grid(),
) -> list[LayerData]:
    """One image layer per super-resolved map, named ``<element> (<method_label>)``.

    Only the first is visible: one element at a time, as the panel's Show row shows them.

    Parameters
    ----------
    maps
        ``(B, H, W)`` results on the photo's grid.
    elements
        One name per map.
    method_label
        ``"SR"`` for the network, the method name for a baseline.
    styles
        Colormap and contrast of each input map (defaults: grey, data range).
        The input's contrast is kept so that the result reads on the same scale.
    grid
        The photo layer's scale and translate.
    """
    maps = np.asarray(maps, dtype=np.float32)
    styles = list(styles) if styles is not None else [InputStyle()] * len(elements)
    out: list[LayerData] = []
    for i, (img, name, style) in enumerate(zip(maps, elements, styles, strict=True)):
        kwargs = {
            "name": f"{name} ({method_label})",
            "colormap": style.colormap,
            "contrast_limits": style.contrast_limits or _limits(img),
            "blending": MAP_BLENDING,
            "visible": i == 0,  # one element at a time (the panel's Show row)
            "scale": grid.scale,
            "translate": grid.translate,
            "metadata": _meta(ROLE_SR, name, method_label),
        }
        out.append((img, kwargs, "image"))
    return out


def _quality_layer(
    img: np.ndarray, name: str, role: str, element: str, method: str, grid: Grid, *,
    visible: bool, signed: bool,
) -> LayerData:
    if signed:  # symmetric limits so that zero sits in the middle of the diverging map
        peak = float(np.max(np.abs(img))) or 1.0
        limits, cmap = (-peak, peak), "PiYG"
    else:
        limits, cmap = _limits(img), "inferno"
    kwargs = {
        "name": name,
        "colormap": cmap,
        "contrast_limits": limits,
        "visible": visible,
        "scale": grid.scale,
        "translate": grid.translate,
        "metadata": _meta(role, element, method),
    }
    return (img.astype(np.float32, copy=False), kwargs, "image")


def consistency_maps(maps: np.ndarray, lr_maps: np.ndarray, scale: int) -> np.ndarray:
    """``|blockmean(SR) - LR|`` repeated over each block: where the result disagrees with the scan.

    After the final projection this is zero up to rounding; anything larger shows
    where the result would not reproduce what the scanner measured.
    """
    lr = np.asarray(lr_maps, np.float32)
    resid = np.abs(block_mean_np(np.asarray(maps, np.float32), scale) - lr)
    return np.repeat(np.repeat(resid, scale, axis=-2), scale, axis=-1)


def detail_maps(maps: np.ndarray, lr_maps: np.ndarray, scale: int) -> np.ndarray:
    """``SR - bicubic(LR)``: the detail the method added beyond plain interpolation."""
    up = upsample_bicubic_np(np.asarray(lr_maps, np.float32), scale)
    return np.asarray(maps, np.float32) - up


#: Diagnostic layers the panel adds on request: kind -> (name suffix, role, signed).
DIAGNOSTICS: dict[str, tuple[str, str, bool]] = {
    "detail": ("detail added", ROLE_DETAIL, True),
    "error": ("error", ROLE_ERROR, False),
    "consistency": ("consistency", ROLE_CONSISTENCY, False),
}


def diagnostic_layer(kind: str, element: str, result: np.ndarray, lr_map: np.ndarray,
                     scale: int, *, truth: np.ndarray | None = None,
                     method_label: str = "SR", grid: Grid = Grid()) -> LayerData:
    """One quality map of one element, named ``<element> (<what>)``.

    Parameters
    ----------
    kind
        ``"detail"`` (result minus bicubic interpolation: what the photo added),
        ``"error"`` (``|result - truth|``, needs ``truth``) or ``"consistency"``
        (``|block mean(result) - scan|``: zero where the result agrees with the scan).
    element
        The element's name.
    result, lr_map, truth
        ``(H, W)`` result, ``(h, w)`` scan and ``(H, W)`` ground truth of the element.
    """
    suffix, role, signed = DIAGNOSTICS[kind]
    if kind == "detail":
        img = detail_maps(result[None], lr_map[None], scale)[0]
    elif kind == "consistency":
        img = consistency_maps(result[None], lr_map[None], scale)[0]
    else:
        if truth is None:
            raise ValueError("an error map needs the ground truth")
        img = np.abs(np.asarray(result, np.float32) - np.asarray(truth, np.float32))
    return _quality_layer(img, f"{element} ({suffix})", role, element, method_label, grid,
                          visible=True, signed=signed)


# -- provenance ---------------------------------------------------------------------------
def build_provenance(
    *,
    inputs: Mapping[str, np.ndarray],
    photo_name: str,
    photo: np.ndarray,
    elements: Sequence[str],
    method: str,
    scale: int,
    settings: Mapping[str, Any],
    device: str = "",
    history: Sequence[Mapping[str, Any]] = (),
    seconds: float | None = None,
    stopped_early: bool = False,
    started: str = "",
    finished: str = "",
    metrics: Sequence[ElementMetrics] = (),
    digests: Mapping[str, str] | None = None,
    notes: Sequence[str] = (),
) -> dict[str, Any]:
    """Build a JSON-ready record of how a result was made (inputs, settings, versions, times).

    A thin call into :func:`napari_maxrf_sr.provenance.build_provenance`, the one
    schema shared with the command line, the API and the writers.

    Parameters
    ----------
    inputs
        Input layer name -> the array that was used.
    photo_name, photo
        The photo layer's name and array.
    settings
        Every setting (``SRConfig.to_dict()`` for the network).
    digests
        SHA-256 of the inputs by layer name (and ``photo_name``) when already
        computed, so that each input is hashed once per run.
    notes
        What the run reported about its input and its course.
    """
    known = dict(digests or {})

    def describe(arr: np.ndarray, name: str) -> dict[str, Any]:
        if name in known:  # hashed already in this run: each input is hashed once
            arr = np.asarray(arr)
            return {"shape": list(arr.shape), "dtype": str(arr.dtype), "sha256": known[name]}
        return describe_array(arr)

    return _provenance.build_provenance(
        made_by="napari panel", method=method, scale=scale, elements=elements,
        inputs={name: describe(a, name) for name, a in inputs.items()},
        photo={"name": photo_name, **describe(photo, photo_name)}, settings=settings,
        device=device, history=history, seconds=seconds, stopped_early=stopped_early,
        started=started, finished=finished, metrics=metrics, notes=notes)
