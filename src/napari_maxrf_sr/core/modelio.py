"""Save and load trained models safely (no arbitrary unpickling).

A model file is a ``torch.save`` of plain containers: tensors, numbers, strings,
lists and dicts. It is read back with ``torch.load(..., weights_only=True)``, which
refuses any other object, so a file someone sent cannot run code; the config is
then re-validated field by field and the tensor shapes checked against it.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import torch

from .. import __version__
from ..errors import ModelFileError
from .config import SRConfig
from .model import ListaGenerator
from .normalisation import MapNormaliser, PhotoNormaliser
from .trained_model import TrainedModel

FORMAT = "napari-maxrf-sr-model"
FORMAT_VERSION = 2  # 2: coupled dictionary, residual output, sigmoid blend buffers


def save_model(model, path: str | os.PathLike, *, force: bool = False) -> Path:
    """Write a trained model (a :class:`TrainedModel` or a ``TrainResult``) atomically.

    Parameters
    ----------
    model
        The model, or a training result holding one in ``.model``.
    path
        Target file (``.pt`` by convention).
    force
        Overwrite an existing file. Without it an existing file is an error.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    from ..atomic import atomic_path

    path = Path(path)
    payload = _payload(model)
    with atomic_path(path, force=force) as tmp:
        torch.save(payload, tmp)
    return path


def model_to_bytes(model) -> bytes:
    """The model file's bytes, without a file (to send a model to other processes)."""
    buf = io.BytesIO()
    torch.save(_payload(model), buf)
    return buf.getvalue()


def model_from_bytes(data: bytes, source: str = "model data") -> TrainedModel:
    """Read :func:`model_to_bytes`' output, with the checks of :func:`load_model`."""
    return _from_file(io.BytesIO(data), source)


def _payload(model) -> dict:
    trained: TrainedModel = getattr(model, "model", model)
    g = trained.generator
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "package_version": __version__,
        "state_dict": {k: v.detach().cpu().clone() for k, v in g.state_dict().items()},
        "final_sigmoid": bool(g.final_sigmoid),
        "n_channels": int(g.n_channels),
        "config": trained.config.to_dict(),
        "normaliser": trained.normaliser.to_dict(),
        "photo_normaliser": (None if trained.photo_normaliser is None
                             else trained.photo_normaliser.to_dict()),
        "elements": list(trained.elements),
        "scale": int(trained.scale),
        "info": {k: v for k, v in trained.info.items() if isinstance(v, (int, float, str))},
    }


def refused_content(exc: BaseException) -> str:
    """What torch refused to load, without its advice to load it unsafely.

    torch's message suggests ``weights_only=False``, which would run any code the file
    holds: never pass that on to a user.
    """
    text = str(exc)
    found = re.search(r"(?:[Uu]nsupported global: |unsupported )GLOBAL ([\w.]+)", text)
    if found:
        return f"it refers to {found.group(1)}"
    first = text.strip().splitlines()[0] if text.strip() else ""
    if "weights_only" in first or len(first) > 160:
        return type(exc).__name__
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def load_model(path: str | os.PathLike) -> TrainedModel:
    """Read a model written by :func:`save_model`, refusing anything else.

    Raises
    ------
    ModelFileError
        When the file is not a model of this package, holds objects other than
        weights and plain values, or its contents do not fit together.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(
            f"The model {str(path)!r} does not exist or is not a file. Give a model saved by "
            "'maxrf-sr run --save-model' (or napari_maxrf_sr.save_model)."
        )
    return _from_file(path, str(path))


def _from_file(file, path: str) -> TrainedModel:
    try:
        payload = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle errors of many kinds: all mean "not ours / unsafe"
        raise ModelFileError(
            f"{str(path)!r} is not a napari-maxrf-sr model file, or it holds objects other "
            f"than weights, which are refused for safety ({refused_content(exc)}). Use "
            "a model saved by 'maxrf-sr run --save-model', or train again."
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a napari-maxrf-sr model file.")
    if payload.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"{path} has model format {payload.get('format_version')!r}; this version reads "
            f"{FORMAT_VERSION}. Update napari-maxrf-sr or retrain."
        )
    try:
        # Models saved before the local calibration existed answer as they did then.
        config = SRConfig.from_dict({"calibration_radius": 0, **payload["config"]})
        normaliser = MapNormaliser.from_dict(payload["normaliser"])
        if not 0 <= normaliser.zero_level < normaliser.peak_level <= 1:
            raise ValueError(f"its normalisation levels (zero {normaliser.zero_level}, peak "
                             f"{normaliser.peak_level}) must satisfy 0 <= zero < peak <= 1")
        elements = tuple(str(e) for e in payload["elements"])
        scale = int(payload["scale"])
        n_channels = int(payload["n_channels"])
        if n_channels != len(elements) + 3 or len(normaliser.peaks) != len(elements):
            raise ValueError("element names, normalisation and network size disagree")
        if scale < 1:
            raise ValueError(f"bad scale {scale}")
        state = payload["state_dict"]
        # Shapes first, on torch's "meta" device (no memory): the settings in the file
        # may ask for a network far larger than its weights.
        with torch.device("meta"):
            expected = {k: tuple(v.shape) for k, v in
                        ListaGenerator.from_config(n_channels, config).state_dict().items()}
        got = {k: tuple(v.shape) for k, v in state.items()}
        if expected != got:
            raise ValueError(f"weights have shapes {got}, expected {expected}")
        bad = [k for k, v in state.items() if v.is_floating_point() and not v.isfinite().all()]
        if bad:
            raise ModelFileError(
                f"{path} holds NaN or infinite weights ({', '.join(bad[:4])}): the training "
                "that made it had failed. Train the model again (maxrf-sr run --save-model)."
            )
        generator = ListaGenerator.from_config(n_channels, config)
        generator.load_state_dict(state)  # the output's sigmoid blend is a buffer in it
        photo = payload.get("photo_normaliser")
        photo_normaliser = None if photo is None else PhotoNormaliser.from_dict(photo)
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ModelFileError(f"{path} is damaged or inconsistent: {exc}") from None
    generator.eval()
    info = payload.get("info", {})
    return TrainedModel(generator, normaliser, config, elements, scale,
                        info=dict(info) if isinstance(info, dict) else {},
                        photo_normaliser=photo_normaliser)
