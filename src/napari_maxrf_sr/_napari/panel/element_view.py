"""One element at a time: which map layers are visible, alone or beside the photo (no Qt).

A stack of element maps laid over the photo at once is a saturated collage. The panel's
*Show* row steps through the elements instead: the chosen element's map is shown (its
result when there is one, else its scan) and every other element's maps are hidden.
*Beside the photo* puts the photo, the scan, the result and (for the sample) the truth
of that element side by side in napari's grid, labelled and fitted to the canvas.

Layers are recognised by the ``metadata['maxrf_sr']`` that the reader, the sample and
the results give them (``role`` and ``element``); layers without it are left alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

#: Roles of layers that show one element's values, and the order in which they are
#: shown beside the photo (a grid cell each).
MAP_ROLES = ("lr_map", "sr_map", "truth")
#: Roles that are quality maps of one element (hidden when another element is shown).
QUALITY_ROLES = ("error", "consistency", "detail")


def _info(layer: Any) -> dict:
    info = getattr(layer, "metadata", {}).get("maxrf_sr", {})
    return info if isinstance(info, dict) else {}


def element_of(layer: Any) -> str | None:
    """The element a map layer shows, or ``None`` for other layers (the photo, points)."""
    info = _info(layer)
    if info.get("role") in (*MAP_ROLES, *QUALITY_ROLES) and info.get("element") is not None:
        return str(info["element"])
    return None


def elements(layers: Iterable[Any]) -> list[str]:
    """The elements that map layers show, each once, in the order they were added.

    That is a file's order: the first added is at the bottom of napari's layer list.
    """
    seen: dict[str, None] = {}
    for layer in layers:
        name = element_of(layer)
        if name is not None:
            seen.setdefault(name, None)
    return list(seen)


def layers_of(layers: Iterable[Any], element: str) -> dict[str, Any]:
    """The element's map layers by role (the topmost of each role)."""
    found: dict[str, Any] = {}
    for layer in reversed(list(layers)):
        role = _info(layer).get("role")
        if element_of(layer) == element and role in MAP_ROLES:
            found.setdefault(role, layer)
    return found


def step(names: Sequence[str], current: str, by: int) -> str:
    """The element ``by`` places after ``current`` (wrapping round); '' for no elements."""
    if not names:
        return ""
    i = names.index(current) if current in names else -1
    return names[(i + by) % len(names)]


def _grid(viewer: Any) -> Any:
    canvas = getattr(viewer, "canvas", None)  # napari >= 0.9 moved the grid there
    return getattr(canvas, "grid", None) or viewer.grid


class ElementView:
    """Shows one element at a time in a viewer, alone or beside the photo.

    Parameters
    ----------
    viewer
        The napari viewer (or ``ViewerModel``).
    """

    def __init__(self, viewer: Any) -> None:
        self.viewer = viewer
        #: Layers that are neither maps nor the photo, hidden for the grid beside the
        #: photo, shown again when it is left.
        self._hidden: list[Any] = []
        self._grid_is_ours = False

    @property
    def beside(self) -> bool:
        """Whether the grid beside the photo is on."""
        return self._grid_is_ours

    def show(self, element: str, *, photo: Any = None, beside: bool = False) -> list[Any]:
        """Show ``element`` alone (its result, else its scan), or beside the photo.

        Parameters
        ----------
        element
            The element to show.
        photo
            The photo layer (left as it is when the element is shown alone; the first
            grid cell beside).
        beside
            Photo, scan, result and truth of the element side by side in napari's grid.

        Returns
        -------
        list
            The layers now showing the element (the grid's cells, photo first, beside).
        """
        layers = self.viewer.layers
        mine = layers_of(layers, element)
        if beside:
            shown = [x for x in (photo, *(mine.get(r) for r in MAP_ROLES)) if x is not None]
        else:
            top = mine.get("sr_map") or mine.get("lr_map") or mine.get("truth")
            shown = [top] if top is not None else []
            self.leave_beside()
        for layer in layers:
            if element_of(layer) is not None:
                layer.visible = layer in shown
            elif beside and layer is not photo and layer.visible:
                self._hidden.append(layer)
                layer.visible = False
        if beside and shown:
            if photo is not None:
                photo.visible = True
            for layer in layers:
                layer.name_overlay.visible = layer in shown
            grid = _grid(self.viewer)
            grid.shape, grid.spacing = (-1, -1), 4
            grid.enabled, self._grid_is_ours = True, True
            self.viewer.reset_view(layers=shown)
        return shown

    def leave_beside(self) -> None:
        """Back to one canvas: the grid off, labels hidden, the other layers shown again."""
        if not self._grid_is_ours:
            return
        self._grid_is_ours = False
        _grid(self.viewer).enabled = False
        for layer in self.viewer.layers:
            layer.name_overlay.visible = False
        for layer in self._hidden:
            if layer in self.viewer.layers:
                layer.visible = True
        self._hidden = []
        self.viewer.reset_view()
