"""How a result was made, as one JSON-ready record with one schema everywhere.

The command line, the Python API, the napari panel and the napari writer all build
their record here, and the element-stack writer stores it in the output file (the
panel also writes it next to the file), so a result found years later says which
inputs, settings, software and machine made it, and what the run noted on the way.
No Qt and no torch: every layer can use it.
"""

from __future__ import annotations

import hashlib
import platform
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from importlib import metadata as importlib_metadata
from typing import Any

import numpy as np

#: Name and version of the record's layout; bump the number when a field changes meaning.
SCHEMA = "napari-maxrf-sr provenance 1"
#: Packages whose versions are recorded.
PACKAGES = ("napari-maxrf-sr", "napari", "torch", "numpy", "scikit-image", "tifffile")


def sha256_array(arr) -> str:
    """SHA-256 of an array's bytes (C order), with dtype and shape folded in.

    Read a band of rows at a time, so hashing a whole painting's photo makes no copy of it.
    """
    a = np.asarray(arr)
    h = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode())
    if a.ndim == 0 or a.flags.c_contiguous:
        h.update(memoryview(np.ascontiguousarray(a)).cast("B"))
        return h.hexdigest()
    rows = max(1, (64 << 20) // max(1, a[0].nbytes))
    for r0 in range(0, a.shape[0], rows):
        h.update(np.ascontiguousarray(a[r0 : r0 + rows]).tobytes())
    return h.hexdigest()


def describe_array(arr, **extra: Any) -> dict[str, Any]:
    """``shape``, ``dtype`` and ``sha256`` of an array (and ``extra``, e.g. its ``path``)."""
    a = np.asarray(arr)
    return {**extra, "shape": list(a.shape), "dtype": str(a.dtype), "sha256": sha256_array(a)}


def package_versions(names: Sequence[str] = PACKAGES) -> dict[str, str]:
    """Installed versions of the packages a result depends on (``"not installed"`` if absent)."""
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def summarise_history(history: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """First and last value of every logged loss, and the number of logged steps."""
    if not history:
        return {"logged_steps": 0}
    keys = [k for k in history[-1] if k not in ("step", "stage", "elapsed")]
    first, last = history[0], history[-1]
    return {
        "logged_steps": len(history),
        "last_step": last.get("step"),
        "first": {k: first.get(k) for k in keys},
        "last": {k: last.get(k) for k in keys},
    }


def _metric(m: Any) -> dict[str, Any]:
    if isinstance(m, Mapping):
        return {k: m.get(k) for k in ("element", "psnr", "ssim")}
    return {k: getattr(m, k, None) for k in ("element", "psnr", "ssim")}


def build_provenance(
    *,
    made_by: str,
    method: str | None = None,
    elements: Sequence[str] = (),
    scale: int | None = None,
    inputs: Mapping[str, Mapping[str, Any]] | None = None,
    photo: Mapping[str, Any] | None = None,
    settings: Mapping[str, Any] | None = None,
    output_shape: Sequence[int] | None = None,
    device: str = "",
    seconds: float | None = None,
    stopped_early: bool = False,
    history: Sequence[Mapping[str, Any]] = (),
    started: str = "",
    finished: str = "",
    metrics: Sequence[Any] = (),
    notes: Sequence[str] = (),
    command: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The record of how a result was made.

    Parameters
    ----------
    made_by
        Which entry point: ``"maxrf-sr run"``, ``"napari panel"``, ``"python api"``...
    method, elements, scale, output_shape
        What was made.
    inputs, photo
        Input name -> :func:`describe_array` (plus its ``path`` when it came from a
        file); the photo likewise.
    settings
        Every setting (``SRConfig.to_dict()`` for the network).
    device, seconds, stopped_early, history, started, finished
        How the run went (``history`` is summarised, see :func:`summarise_history`).
    metrics
        Per-element quality against a ground truth (``element``, ``psnr``, ``ssim``).
    notes
        What the readers and the run noted (skipped files, assumptions, clipping...).
    command
        The command line, for the command-line tool.
    extra
        Anything an entry point adds (a saved model's path, the napari layers saved).

    Returns
    -------
    dict
        JSON-ready; ``schema`` is :data:`SCHEMA`.
    """
    from . import __version__

    record: dict[str, Any] = {
        "schema": SCHEMA,
        "software": f"napari-maxrf-sr {__version__}",
        "made_by": made_by,
        "command": command,
        "method": method,
        "scale": None if scale is None else int(scale),
        "elements": [str(e) for e in elements],
        "output_shape": None if output_shape is None else [int(n) for n in output_shape],
        "inputs": {k: dict(v) for k, v in (inputs or {}).items()},
        "photo": dict(photo) if photo is not None else None,
        "settings": dict(settings or {}),
        "device": device,
        "seconds": seconds,
        "stopped_early": bool(stopped_early),
        "started": started,
        "finished": finished,
        "losses": summarise_history(history),
        "metrics": [_metric(m) for m in metrics],
        "notes": [str(n) for n in notes],
        "versions": package_versions(),
        "platform": platform.platform(),
    }
    record.update(extra or {})
    return record


def timestamp() -> str:
    """Now, as the record writes times: local time with its UTC offset, to the second."""
    return datetime.now().astimezone().isoformat(timespec="seconds")


def command_line() -> str:
    """The command line of this process, as the user typed it (near enough)."""
    return " ".join(sys.argv)
