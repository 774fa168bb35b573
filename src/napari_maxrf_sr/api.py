"""The Python API: one call from arrays to super-resolved maps.

>>> import napari_maxrf_sr as sr
>>> result = sr.super_resolve(lr_maps, rgb, scale=4, max_seconds=120)  # doctest: +SKIP
>>> result.maps.shape, result.diagnostics["device"]                    # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from .core.checkpoint import CheckpointPlan
from .core.config import SRConfig, config_from_preset
from .core.control import RunControl
from .core.events import TrainEvent, TrainResult
from .core.train import train
from .core.validation import prepare_inputs
from .errors import InputError
from .method_names import NETWORK, canonical_method


class SRResult(NamedTuple):
    """Super-resolved maps and how they were made.

    Attributes
    ----------
    maps
        ``(B, H, W)`` float32 maps in the input's units, on the photo's grid.
    diagnostics
        ``method``, ``seconds``, ``device``, ``elements``, ``notes`` and
        ``provenance`` (the record to store with the maps, see
        :mod:`napari_maxrf_sr.provenance`); for the network also ``history`` (losses
        per logged step), ``config``, ``stopped_early`` and ``model`` (to save with
        :func:`napari_maxrf_sr.save_model`).
    """

    maps: np.ndarray
    diagnostics: dict[str, Any]


def available_methods() -> list[str]:
    """Names accepted by ``method=``: the network first, then the baselines."""
    from .baselines import METHODS

    return [NETWORK, *METHODS]


def super_resolve(
    lr_maps,
    rgb,
    scale: int | None = 4,
    method: str = NETWORK,
    *,
    elements: Sequence[str] | None = None,
    config: SRConfig | dict | None = None,
    preset: str = "default",
    seed: int | None = None,
    max_seconds: float | None = None,
    device: str | None = None,
    negative: str = "error",
    callback: Callable[[TrainEvent], Any] | None = None,
    stop: RunControl | None = None,
    checkpoint: CheckpointPlan | None = None,
    infer: bool = True,
    align: bool = True,
) -> SRResult:
    """Super-resolve element maps with a photo of the same painting.

    Parameters
    ----------
    lr_maps
        ``(B, h, w)`` measured element maps (counts or fitted areas, ``>= 0``).
    rgb
        ``(H, W, 3)`` photo, uint8, uint16 or float in ``[0, 1]``, of any size (see
        ``align``).
    scale
        Whole-number ratio between photo and scan pixels; ``None`` detects it.
    method
        ``"network"`` (the network; ``"adun"`` is accepted too) or a baseline name
        (:func:`available_methods`).
    elements
        One name per map (kept in the diagnostics and model).
    config
        Network settings: an :class:`~napari_maxrf_sr.core.config.SRConfig`, or a dict
        of the settings that differ from the ``preset``'s; default: the ``preset``.
    preset
        ``"default"`` (minutes on a CPU), ``"fast"`` or ``"paper"`` (days on a CPU).
    seed, max_seconds, device
        Override the config's seed, time budget (s), device (auto, cpu, cuda, mps).
    negative
        ``"error"`` refuses negative counts; ``"clip"`` sets them to zero.
    callback, stop
        Called with every :class:`~.core.events.TrainEvent`; a
        :class:`~.core.control.RunControl` to stop or cancel from another thread.
    checkpoint
        Network only: save the run's state regularly to ``checkpoint.path`` and, with
        ``checkpoint.resume``, continue the interrupted run saved there
        (:class:`~napari_maxrf_sr.core.checkpoint.CheckpointPlan`).
    infer
        Network only: ``False`` trains without computing the maps (``maps`` is ``None``;
        apply ``diagnostics["model"]`` tile by tile into a file instead).
    align
        Register or check the photo first (:func:`~.registration.photo_on_grid`; a note,
        the provenance's ``registration``); ``False``: it must be ``scale`` times the maps.

    Returns
    -------
    SRResult
        Maps and diagnostics.

    Raises
    ------
    InputError
        For unusable input, another painting's photo, an unknown method (says what to do).
    RuntimeError
        When the run was cancelled through ``stop``.
    """
    method, started = _begin(canonical_method(method), lr_maps, rgb, infer)
    on_grid = _on_grid(lr_maps, rgb, scale, align)  # may refuse: then nothing runs
    rgb, scale = on_grid.photo, on_grid.scale
    if method == NETWORK:
        result = _run_network(lr_maps, rgb, scale, elements, config, preset, seed,
                              max_seconds, device, negative, callback, stop, checkpoint, infer)
    else:
        result = _run_baseline(lr_maps, rgb, scale, method, elements, seed, negative)
    _record(result, lr_maps, rgb, on_grid, started)
    return result


def _on_grid(lr_maps, rgb, scale, align: bool):
    """The photo on the scan's grid (:func:`~.registration.photo_on_grid`)."""
    from .registration.auto import photo_on_grid

    return photo_on_grid(lr_maps, rgb, scale, align=align)


def _record(result: SRResult, lr_maps, rgb, on_grid, started: str) -> None:
    """The notes, the registration and the provenance of a finished run."""
    diag = result.diagnostics
    diag["notes"] = [*on_grid.notes, *diag.get("notes", ())]
    if on_grid.record is not None:
        diag["registration"] = on_grid.record
    diag["provenance"] = _provenance(lr_maps, rgb, result, started, on_grid.record)


def _begin(method: str, lr_maps, rgb, infer: bool) -> tuple[str, str]:
    """``(method, start time)``, once a result held in memory is known to fit (see below)."""
    from .provenance import timestamp

    if method != NETWORK or infer:
        _check_result_memory(lr_maps, rgb)
    return method, timestamp()


def _check_result_memory(lr_maps, rgb) -> None:
    """Refuse, before any work, a result the free memory cannot hold (inputs are in memory).

    Shapes that are not those of maps and a photo are left to :func:`prepare_inputs`.
    """
    from .io import large

    maps_shape, photo_shape = np.shape(lr_maps), np.shape(rgb)
    if len(maps_shape) != 3 or len(photo_shape) < 2:
        return
    large.check_memory_for(
        {"the result": 2 * large.result_nbytes(maps_shape[0], *photo_shape[:2])},
        "Train without computing the maps in memory (infer=False), then write them tile by "
        "tile with napari_maxrf_sr.apply_to_file(result.diagnostics['model'], maps, photo, "
        "'result.ome.zarr'); or work on a crop of the painting.")


def _provenance(lr_maps, rgb, result: SRResult, started: str,
                registration=None) -> dict[str, Any]:
    """The result's record; it finished now."""
    from .provenance import build_provenance, describe_array, timestamp

    diag = result.diagnostics
    maps = np.asarray(lr_maps)
    shape = None if result.maps is None else result.maps.shape
    return build_provenance(
        made_by="python api", method=diag["method"], elements=diag["elements"],
        scale=diag.get("scale"), inputs={"maps": describe_array(maps)},
        photo=describe_array(rgb), settings=diag.get("config"), output_shape=shape,
        device=diag["device"], seconds=diag["seconds"],
        stopped_early=bool(diag.get("stopped_early")), history=diag.get("history", ()),
        notes=diag.get("notes", ()), started=started, finished=timestamp(),
        extra=None if registration is None else {"registration": registration})


def _run_baseline(lr_maps, rgb, scale, method, elements, seed, negative) -> SRResult:
    from .baselines import METHODS

    if method not in METHODS:
        raise InputError(
            f"Unknown method {method!r}. Choose one of: {', '.join(available_methods())}."
        )
    prepared = prepare_inputs(lr_maps, rgb, scale, elements=elements, negative=negative)
    t0 = time.perf_counter()
    maps = METHODS[method](prepared.lr_maps, np.asarray(prepared.rgb), prepared.scale,
                           seed=0 if seed is None else seed)
    return SRResult(
        np.asarray(maps, dtype=np.float32),
        {"method": method, "seconds": time.perf_counter() - t0, "device": "CPU",
         "elements": prepared.elements, "scale": prepared.scale, "notes": prepared.notes},
    )


def _run_network(lr_maps, rgb, scale, elements, config, preset, seed, max_seconds, device,
                 negative, callback, stop, checkpoint=None, infer=True) -> SRResult:
    if config is None:
        cfg = config_from_preset(preset)
    elif isinstance(config, dict):  # settings changed from the preset's
        cfg = config_from_preset(preset, **config)
    else:
        cfg = config
    overrides = {k: v for k, v in
                 {"seed": seed, "max_seconds": max_seconds, "device": device}.items()
                 if v is not None}
    if overrides:
        cfg = cfg.replace(**overrides)
    gen = train(lr_maps, rgb, cfg, scale=scale, stop=stop, elements=elements,
                negative=negative, checkpoint=checkpoint, infer=infer)
    started = time.time()
    try:
        result = run_to_end(gen, callback)
    except Exception as exc:
        from .core.device import free_accelerator_memory, is_out_of_memory, resolve_device

        device_used = resolve_device(cfg.device)
        if device_used.type == "cpu" or not is_out_of_memory(exc):
            raise
        # The GPU ran out of memory: say so, and do the run again on the CPU.
        free_accelerator_memory(device_used)
        warnings.warn(
            f"The GPU ran out of memory ({exc}); training again on the CPU, which is slower. "
            "Lower the batch or patch size to stay on the GPU.", UserWarning, stacklevel=3,
        )
        if checkpoint is not None:
            # Continue from what the GPU run saved, if it saved anything.
            saved = checkpoint.path.is_file() and checkpoint.path.stat().st_mtime >= started
            checkpoint = dataclasses.replace(checkpoint, resume=checkpoint.resume or saved)
        gen = train(lr_maps, rgb, cfg.replace(device="cpu"), scale=scale, stop=stop,
                    elements=elements, negative=negative, checkpoint=checkpoint, infer=infer)
        result = run_to_end(gen, callback)
    if result is None:
        raise RuntimeError("The run was cancelled; no maps were produced.")
    return SRResult(result.maps, diagnostics_of(result))


def run_to_end(gen, callback: Callable[[TrainEvent], Any] | None = None) -> TrainResult | None:
    """Drive a training generator to its end, passing events to ``callback``."""
    while True:
        try:
            event = next(gen)
        except StopIteration as stop:
            return stop.value
        if callback is not None:
            callback(event)


def diagnostics_of(result: TrainResult) -> dict[str, Any]:
    """The diagnostics dict of a network run."""
    return {
        "method": NETWORK,
        "seconds": result.seconds,
        "inference_seconds": result.inference_seconds,
        "device": result.device,
        "elements": result.elements,
        "scale": result.model.scale,
        "notes": result.notes,
        "history": result.history,
        "config": result.config.to_dict(),
        "stopped_early": result.stopped_early,
        "model": result.model,
        **result.diagnostics,
    }
