"""Result layers, quality maps, metrics and provenance for the dock widget (no Qt here).

Everything the widget shows after a run is computed by these pure functions, so
they are tested without a viewer and the widget only adds what they return.
Layer data follow napari's ``LayerData`` convention: ``(data, add_kwargs, "image")``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from napari_maxrf_sr import provenance as _provenance
from napari_maxrf_sr.core.operators import block_mean_np, upsample_bicubic_np
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


@dataclass(frozen=True)
class ElementMetrics:
    """Quality of one super-resolved map against its ground truth."""

    element: str
    psnr: float
    ssim: float


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
    for img, name, style in zip(maps, elements, styles, strict=True):
        kwargs = {
            "name": f"{name} ({method_label})",
            "colormap": style.colormap,
            "contrast_limits": style.contrast_limits or _limits(img),
            "blending": "additive",
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


def error_layers(
    maps: np.ndarray,
    truth: np.ndarray,
    elements: Sequence[str],
    *,
    method_label: str = "SR",
    grid: Grid = Grid(),
    visible_index: int | None = 0,
) -> list[LayerData]:
    """``|SR - GT|`` per element, named ``<element> (error)``; only one is visible."""
    diff = np.abs(np.asarray(maps, np.float32) - np.asarray(truth, np.float32))
    return [
        _quality_layer(d, f"{name} (error)", ROLE_ERROR, name, method_label, grid,
                       visible=i == visible_index, signed=False)
        for i, (d, name) in enumerate(zip(diff, elements, strict=True))
    ]


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


def no_truth_layers(
    maps: np.ndarray,
    lr_maps: np.ndarray,
    scale: int,
    elements: Sequence[str],
    *,
    method_label: str = "SR",
    grid: Grid = Grid(),
    visible_index: int | None = 0,
) -> list[LayerData]:
    """Consistency and "detail added" layers (used when no ground truth exists).

    Only the first element's "detail added" layer is visible; the others are
    hidden so that the results stay readable.
    """
    cons = consistency_maps(maps, lr_maps, scale)
    det = detail_maps(maps, lr_maps, scale)
    out = [
        _quality_layer(c, f"{name} (consistency)", ROLE_CONSISTENCY, name, method_label,
                       grid, visible=False, signed=False)
        for c, name in zip(cons, elements, strict=True)
    ]
    out += [
        _quality_layer(d, f"{name} (detail added)", ROLE_DETAIL, name, method_label, grid,
                       visible=i == visible_index, signed=True)
        for i, (d, name) in enumerate(zip(det, elements, strict=True))
    ]
    return out


def _ssim_window(shape: tuple[int, int]) -> int:
    """Largest odd window up to 7 that fits the image (skimage needs an odd size)."""
    w = min(7, *shape)
    return w if w % 2 else w - 1


def compute_metrics(
    maps: np.ndarray, truth: np.ndarray, elements: Sequence[str]
) -> list[ElementMetrics]:
    """PSNR (dB) and SSIM per element, with the peak taken as the ground truth's maximum."""
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    out = []
    for sr, gt, name in zip(np.asarray(maps, np.float64), np.asarray(truth, np.float64),
                            elements, strict=True):
        peak = float(gt.max()) or 1.0
        mse = float(np.mean((sr - gt) ** 2))
        psnr = float("inf") if mse == 0 else float(
            peak_signal_noise_ratio(gt, sr, data_range=peak)
        )
        win = _ssim_window(gt.shape)
        ssim = float(structural_similarity(gt, sr, data_range=peak, win_size=win)) \
            if win >= 3 else float("nan")
        out.append(ElementMetrics(name, psnr, ssim))
    return out


def result_layers(
    maps: np.ndarray,
    elements: Sequence[str],
    lr_maps: np.ndarray,
    scale: int,
    *,
    method_label: str = "SR",
    styles: Sequence[InputStyle] | None = None,
    grid: Grid = Grid(),
    truth: Mapping[str, np.ndarray] | None = None,
) -> tuple[list[LayerData], list[ElementMetrics]]:
    """Every layer a run adds, and the metrics table when ground truth is given.

    Parameters
    ----------
    maps
        ``(B, H, W)`` results.
    elements
        Element names, one per map.
    lr_maps
        ``(B, h, w)`` input maps (for the consistency and detail maps).
    scale
        Photo pixels per scan pixel.
    method_label, styles, grid
        See :func:`sr_layers`.
    truth
        Ground-truth maps by element name. Elements that have one get an error
        layer and a metrics row; when none has one, consistency and detail maps
        are built instead.

    Returns
    -------
    layers, metrics
        ``LayerData`` tuples (results first) and one :class:`ElementMetrics` per
        element with ground truth.
    """
    layers = sr_layers(maps, elements, method_label=method_label, styles=styles, grid=grid)
    matched = [i for i, e in enumerate(elements) if truth and e in truth]
    if not matched:
        layers += no_truth_layers(maps, lr_maps, scale, elements, method_label=method_label,
                                  grid=grid)
        return layers, []
    names = [elements[i] for i in matched]
    sub = np.asarray(maps)[matched]
    gt = np.stack([np.asarray(truth[n], np.float32) for n in names])  # type: ignore[index]
    if gt.shape != sub.shape:
        raise ValueError(
            f"ground truth shape {gt.shape[1:]} differs from the result's {sub.shape[1:]}"
        )
    layers += error_layers(sub, gt, names, method_label=method_label, grid=grid)
    return layers, compute_metrics(sub, gt, names)


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
    """
    return _provenance.build_provenance(
        made_by="napari panel", method=method, scale=scale, elements=elements,
        inputs={name: describe_array(a) for name, a in inputs.items()},
        photo=describe_array(photo, name=photo_name), settings=settings, device=device,
        history=history, seconds=seconds, stopped_early=stopped_early, started=started,
        finished=finished, metrics=metrics, notes=notes)
