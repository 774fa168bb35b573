"""The viewer side of the results: what is visible, quality maps on request, comparison.

No Qt here: these functions change the napari viewer model only.

- :func:`hide_inputs`: steps that hide the input maps and photo, so the results show.
- :func:`show_diagnostic`: one quality map of one element, replacing the previous one
  of its kind, so that their number stays small.
- :class:`ComparisonView`: four labelled tiles (photo, scan, result, bicubic) of one
  element in napari's grid, view reset to fit; leaving it restores what was visible.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from napari_maxrf_sr._napari import results as res
from napari_maxrf_sr._napari.panel.inputs import RunInputs, layer_role
from napari_maxrf_sr._napari.panel.outcome import RunOutcome
from napari_maxrf_sr.core.operators import upsample_bicubic_np

ROLE_COMPARISON = "comparison"


def _grid(viewer: Any) -> Any:
    canvas = getattr(viewer, "canvas", None)  # napari >= 0.9 moved the grid there
    return getattr(canvas, "grid", None) or viewer.grid


def hide_inputs(viewer: Any, inputs: RunInputs) -> list[Callable[[], None]]:
    """Steps that hide the input maps and the photo, so the results are what is visible.

    One step per layer: each visibility change makes napari redraw, and the panel
    runs them a few per event-loop turn.
    """
    def hide(name: str) -> Callable[[], None]:
        def step() -> None:
            if name in viewer.layers:
                viewer.layers[name].visible = False
        return step

    names = [*inputs.map_layer_names, inputs.photo_name]
    return [hide(n) for n in names if n in viewer.layers and viewer.layers[n].visible]


def show_diagnostic(viewer: Any, kind: str, element: str, outcome: RunOutcome,
                    inputs: RunInputs) -> Any:
    """Add one quality map of ``element`` on top (see ``results.DIAGNOSTICS``).

    The previous quality map of the same kind is removed first.
    """
    i = outcome.elements.index(element)
    truth = inputs.truth.get(element)
    data, kwargs, _ = res.diagnostic_layer(
        kind, element, outcome.maps[i], inputs.lr_maps[i], outcome.scale,
        truth=None if truth is None else np.asarray(truth), method_label=outcome.label,
        grid=inputs.grid)
    role = kwargs["metadata"]["maxrf_sr"]["role"]
    for layer in [x for x in viewer.layers if layer_role(x) == role]:
        viewer.layers.remove(layer)
    return viewer.add_image(data, **kwargs)


class ComparisonView:
    """Photo, scan, result and bicubic interpolation of one element, side by side."""

    def __init__(self, viewer: Any) -> None:
        self.viewer = viewer
        self._visible: dict[str, bool] | None = None
        self._tiles: list[Any] = []

    @property
    def active(self) -> bool:
        """Whether the comparison is shown."""
        return self._visible is not None

    def _temporary(self, data: np.ndarray, name: str, style: dict, scale: tuple,
                   translate: tuple) -> Any:
        if name in self.viewer.layers:
            self.viewer.layers.remove(name)
        return self.viewer.add_image(
            data, name=name, scale=scale, translate=translate,
            metadata={"maxrf_sr": {"role": ROLE_COMPARISON}}, **style)

    def show(self, element: str, outcome: RunOutcome, inputs: RunInputs) -> list[str]:
        """Show the four tiles of ``element``; returns their layer names."""
        if self.active:
            self.leave()
        i = outcome.elements.index(element)
        result = self.viewer.layers[f"{element} ({outcome.label})"]
        style = {"colormap": result.colormap, "contrast_limits": result.contrast_limits,
                 "blending": "translucent"}
        s = outcome.scale
        gs, gt = inputs.grid.scale, inputs.grid.translate
        lr_scale = tuple(g * s for g in gs)
        lr_translate = tuple(t + g * (s - 1) / 2 for g, t in zip(gs, gt, strict=True))
        bicubic = upsample_bicubic_np(np.asarray(inputs.lr_maps[i], np.float32)[None], s)[0]
        tiles = [self.viewer.layers[inputs.photo_name],
                 self._temporary(inputs.lr_maps[i], f"{element} (scan)", style, lr_scale,
                                 lr_translate),
                 self._temporary(bicubic, f"{element} (bicubic)", style, gs, gt),
                 result]
        self._visible = {layer.name: layer.visible for layer in self.viewer.layers}
        keep = {layer.name for layer in tiles}
        for layer in self.viewer.layers:
            layer.visible = layer.name in keep
        for layer in tiles:
            layer.name_overlay.visible = True
        self._tiles = tiles
        grid = _grid(self.viewer)
        grid.shape = (2, 2)
        grid.spacing = 4
        grid.enabled = True
        # fit the tiles only: a hidden camera photo or point layer must not set the view
        self.viewer.reset_view(layers=tiles)
        return [layer.name for layer in tiles]

    def leave(self) -> None:
        """Back to the single view, with the layers visible as they were before."""
        if not self.active:
            return
        grid = _grid(self.viewer)
        grid.enabled = False
        grid.shape = (-1, -1)
        for layer in self._tiles:
            if layer in self.viewer.layers:
                layer.name_overlay.visible = False
        for layer in [x for x in self.viewer.layers if layer_role(x) == ROLE_COMPARISON]:
            self.viewer.layers.remove(layer)
        visible = self._visible or {}
        for layer in self.viewer.layers:
            if layer.name in visible:
                layer.visible = visible[layer.name]
        self._visible, self._tiles = None, []
        self.viewer.reset_view(layers=[x for x in self.viewer.layers if x.visible] or None)
