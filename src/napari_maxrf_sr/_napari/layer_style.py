"""Layer keyword helpers shared by the reader, sample data and widgets.

Element maps (LR) get ``scale=(s, s)`` and ``translate=((s-1)/2, (s-1)/2)``:
LR pixel ``(i, j)`` covers the photo's HR block ``[s*i : s*i+s, s*j : s*j+s]``,
whose centre is at ``s*i + (s-1)/2``, so the maps overlay the photo exactly.
Each element gets its own colormap. Maps are shown one element at a time over the
photo (the panel's Show row steps through them): a stack of maps blended together
over a photo is a saturated collage that no one can read. So a map layer covers what
is under it (``translucent`` blending at full opacity: lower its opacity to see the
photo through it), and a reader shows only the first map of a file. No napari import
happens here.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

from ..io.elements import parse_element_name

#: Colormap per element symbol (napari built-in names), chosen after the pigment
#: the element usually betrays: Hg vermilion red, Cu green, Co blue, Cd/Sn yellow...
#: Only colormaps that are black at zero, so that "no element" reads as dark in every
#: map (and a user who switches maps to additive blending to overlay a few gets no
#: white wash from napari's inverted "I ..." colormaps).
ELEMENT_COLORMAPS: dict[str, str] = {
    "Pb": "gray",
    "Hg": "red",
    "Fe": "bop orange",
    "Cu": "green",
    "Co": "blue",
    "Cd": "yellow",
    "As": "magma",
    "Cr": "green",
    "Ca": "cyan",
    "Zn": "bop blue",
    "Mn": "bop purple",
    "Ti": "bop blue",
    "Ba": "magenta",
    "Sn": "yellow",
    "Sb": "bop purple",
    "K": "inferno",
    "S": "yellow",
    "Sr": "magenta",
    "Au": "yellow",
    "Ag": "gray",
    "Ni": "green",
}
#: Used in turn (by a stable hash of the name) for everything else; all black at zero.
FALLBACK_COLORMAPS: tuple[str, ...] = (
    "magenta",
    "cyan",
    "yellow",
    "green",
    "bop orange",
    "bop blue",
    "bop purple",
    "magma",
    "inferno",
)

LR_ROLE = "lr_map"
#: Blending of element-map layers (see the module's docstring).
MAP_BLENDING = "translucent"


def element_colormap(element: str) -> str:
    """Colormap name for an element map (stable for unknown names too)."""
    parsed = parse_element_name(element)
    if parsed is not None and parsed[0] in ELEMENT_COLORMAPS:
        return ELEMENT_COLORMAPS[parsed[0]]
    return FALLBACK_COLORMAPS[zlib.crc32(str(element).encode()) % len(FALLBACK_COLORMAPS)]


def lr_scale_translate(scale: int | None) -> dict[str, tuple[float, float]]:
    """``scale``/``translate`` layer keywords placing LR pixels over their s x s HR blocks."""
    if scale is None:
        return {}
    s = float(scale)
    return {"scale": (s, s), "translate": ((s - 1) / 2, (s - 1) / 2)}


def lr_layer_kwargs(
    element: str,
    scale: int | None = None,
    *,
    source: str | None = None,
    name: str | None = None,
    role: str = LR_ROLE,
    extra_metadata: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Keyword arguments for ``viewer.add_image`` of one LR element map.

    Parameters
    ----------
    element
        Element name; also the layer name unless ``name`` is given.
    scale
        SR scale ``s`` if known: sets ``scale``/``translate`` to overlay the photo.
    source
        File the map came from (kept in the metadata).
    name
        Layer name, if not the element.
    role
        ``metadata['maxrf_sr']['role']``.
    extra_metadata
        More entries for ``metadata['maxrf_sr']``.
    """
    info: dict[str, Any] = {"role": role, "element": element, "source": source}
    if scale is not None:
        info["scale"] = int(scale)
    info.update(extra_metadata or {})
    kwargs: dict[str, Any] = {
        "name": name or element,
        "colormap": element_colormap(element),
        "blending": MAP_BLENDING,
        "metadata": {"maxrf_sr": info},
    }
    kwargs.update(lr_scale_translate(scale))
    return kwargs


def hr_layer_kwargs(
    element: str,
    *,
    name: str | None = None,
    role: str = "sr_map",
    source: str | None = None,
    extra_metadata: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Keyword arguments for an HR (photo-grid) element map: unit scale, element colormap."""
    info: dict[str, Any] = {"role": role, "element": element, "source": source}
    info.update(extra_metadata or {})
    return {
        "name": name or element,
        "colormap": element_colormap(element),
        "blending": MAP_BLENDING,
        "metadata": {"maxrf_sr": info},
    }
