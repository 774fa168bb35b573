"""Super-resolve MA-XRF element maps of paintings with a high-resolution photograph.

The public Python API::

    import napari_maxrf_sr as sr
    result = sr.super_resolve(lr_maps, rgb, scale=4)      # (B, H, W) maps + diagnostics
    model = sr.load_model("painting.pt")                   # apply a saved model again
    sr.apply_to_file(model, lr_maps, rgb, "sr.ome.zarr")   # tile by tile into a pyramid

Heavy modules (torch) are imported on first use, so that napari starts quickly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["SRResult", "__version__", "apply_model", "apply_to_file", "load_model",
           "save_model", "super_resolve"]

if TYPE_CHECKING:  # pragma: no cover
    from .api import SRResult, super_resolve
    from .core.modelio import load_model, save_model
    from .core.trained_model import apply_model
    from .to_file import apply_to_file

_LAZY = {
    "super_resolve": "napari_maxrf_sr.api",
    "SRResult": "napari_maxrf_sr.api",
    "apply_model": "napari_maxrf_sr.core.trained_model",
    "load_model": "napari_maxrf_sr.core.modelio",
    "save_model": "napari_maxrf_sr.core.modelio",
    "apply_to_file": "napari_maxrf_sr.to_file",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'napari_maxrf_sr' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
