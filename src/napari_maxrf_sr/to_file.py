"""Results written straight to a file, tile by tile, in the format its name asks for.

``*.ome.zarr`` gets an OME-Zarr resolution pyramid computed as a dask graph over tiles
(:mod:`napari_maxrf_sr.core.tiled`), on this computer or on a ``dask.distributed``
cluster; ``*.tif`` the single-resolution element stack
(:mod:`napari_maxrf_sr.io.large` for results bigger than memory).

>>> import napari_maxrf_sr as sr                                  # doctest: +SKIP
>>> model = sr.load_model("painting.pt")                          # doctest: +SKIP
>>> sr.apply_to_file(model, maps, photo, "painting_sr.ome.zarr",  # doctest: +SKIP
...                  scheduler="tcp://scheduler.museum.org:8786")
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .errors import InputError

OutputFormat = Literal["ome-zarr", "tiff"]


def output_format(path: str | Path) -> OutputFormat:
    """The format an output name asks for: ``"ome-zarr"`` or ``"tiff"``.

    Raises
    ------
    InputError
        For any other name, saying which names are understood.
    """
    from .io.omezarr import is_ome_zarr_name

    name = str(path).lower().rstrip("/\\")
    if is_ome_zarr_name(name):
        return "ome-zarr"
    if name.endswith((".tif", ".tiff")):
        return "tiff"
    raise InputError(
        f"Cannot tell the output format from {Path(path).name!r}: name it *.ome.zarr for a "
        "resolution pyramid (large paintings: opens at once in napari, QuPath, Fiji) or "
        "*.tif for a multi-page TIFF (e.g. 'maps_sr.ome.zarr' or 'maps_sr.tif')."
    )


def apply_to_file(
    model,
    lr_maps,
    rgb,
    out: str | Path,
    *,
    elements: Sequence[str] | None = None,
    scale: int | None = None,
    negative: str = "error",
    scheduler: str | None = None,
    provenance: Mapping[str, Any] | None = None,
    force: bool = False,
    verify: Callable[[Any], None] | None = None,
) -> Path:
    """Apply a trained model and write the maps to ``out`` tile by tile, atomically.

    Parameters
    ----------
    model
        A :class:`~napari_maxrf_sr.core.trained_model.TrainedModel` (from training, or
        :func:`~napari_maxrf_sr.core.modelio.load_model`).
    lr_maps, rgb
        The scan ``(B, h, w)`` and the photo ``(H, W, 3)``, as for ``super_resolve``.
    out
        ``*.ome.zarr`` (a resolution pyramid) or ``*.tif``.
    elements
        One name per map, to match maps given in another order than the model's.
    scale, negative
        As for :func:`~napari_maxrf_sr.core.trained_model.apply_model`.
    scheduler
        ``None``: dask's local scheduler. Or the address of a ``dask.distributed``
        scheduler (``"tcp://HOST:PORT"``): the tiles are computed by its workers, which
        need this package and the output folder at the same path (OME-Zarr only).
    provenance
        Recorded in the file's metadata.
    force
        Replace an existing output.
    verify
        Called with the full-resolution maps (in the model's element order) once they are
        on disk, before the output gets its name; what it raises leaves nothing behind.
        Default: the maps must agree with the scan (their block means give it back), or
        :class:`~napari_maxrf_sr.errors.ResultDisagrees` is raised (a damaged model file).

    Returns
    -------
    pathlib.Path
        ``out``. The maps are in the model's element order.
    """
    from .core.trained_model import prepare_for_model

    out = Path(out)
    kind = output_format(out)
    if kind != "ome-zarr" and scheduler:
        raise InputError(
            "Computing on a cluster writes a resolution pyramid: name the output *.ome.zarr "
            f"(e.g. {out.with_suffix('').name + '.ome.zarr'!r}), not {out.name!r}."
        )
    prepared, normaliser, _order = prepare_for_model(model, lr_maps, rgb, scale=scale,
                                                     negative=negative, elements=elements)
    if verify is None:
        verify = _agrees_with(model, prepared.lr_maps)
    if kind == "tiff":
        return _to_tiff(model, prepared, normaliser, out, provenance, force, verify)
    return _to_ome_zarr(model, prepared, normaliser, out, scheduler, provenance, force, verify)


def _agrees_with(model, lr: np.ndarray) -> Callable[[Any], None]:
    """The default check of :func:`apply_to_file`: the result gives back the scan ``lr``."""
    from .io.agreement import check_agreement

    if not model.operator.is_block:  # a beam's blocks overlap: block means are not the scan
        return lambda sr: None
    advice = ("The model is damaged or does not fit these maps: train a new one "
              "(napari_maxrf_sr.super_resolve, or maxrf-sr run ... --save-model).")
    return lambda sr: check_agreement(sr, lr, model.scale, list(model.elements),
                                      advice=advice)


def _to_ome_zarr(model, prepared, normaliser, out, scheduler, provenance, force,
                 verify=None) -> Path:
    import dask.array as da

    from .core.inference import predict
    from .core.tiled import computer, tiled_prediction
    from .io.omezarr import write_ome_zarr

    op = model.operator
    if op.is_block:
        maps = tiled_prediction(model, normaliser, prepared.lr_maps, prepared.rgb,
                                ship_model=bool(scheduler))
    else:  # a wide beam couples all blocks: projected as a whole, in memory
        maps = da.from_array(predict(model.generator, normaliser, prepared.lr_maps,
                                     prepared.rgb, op, model.config,
                                     photo_normaliser=model.photo_normaliser),
                             chunks=(-1, 512, -1))
    with computer(scheduler) as compute:
        return write_ome_zarr(out, maps, model.elements, scale=model.scale, role="sr_map",
                              provenance=provenance, force=force, compute=compute,
                              verify=verify)


def _to_tiff(model, prepared, normaliser, out, provenance, force, verify=None) -> Path:
    from .core.inference import predict
    from .io.large import element_stack_on_disk

    shape = (len(model.elements), *np.shape(prepared.rgb)[:2])
    with element_stack_on_disk(out, shape, model.elements, scale=model.scale, role="sr_map",
                               provenance=provenance, force=force) as mm:
        predict(model.generator, normaliser, prepared.lr_maps, prepared.rgb, model.operator,
                model.config, out=mm, photo_normaliser=model.photo_normaliser)
        if verify is not None:
            verify(mm)
    return out
