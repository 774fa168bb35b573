"""Write a :class:`.painting.SyntheticPainting` to a folder (atomically, no silent overwrite)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..errors import InputError, OutputExistsError
from .painting import SyntheticPainting

FILE_NAMES = {
    "lr_maps": "lr_maps.tif",
    "photo": "photo.png",
    "truth": "truth.tif",
    "hidden_mask": "hidden_mask.png",
    "photo_edge_mask": "photo_edge_mask.tif",
    "info": "info.json",
}


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write via a temporary file in the same folder, then rename over ``path``."""
    # Existing files were refused (or allowed with force) for the whole set up front.
    with atomic_path(path, force=True) as tmp:
        write(tmp)


def _write_stack(path: Path, data: np.ndarray, labels: list[str]) -> None:
    import tifffile

    tifffile.imwrite(path, data, imagej=True, metadata={"Labels": labels, "axes": "ZYX"})


def _write_png(path: Path, data: np.ndarray) -> None:
    import imageio.v3 as iio

    iio.imwrite(path, data, extension=".png")


def write_synthetic_painting(
    p: SyntheticPainting, folder: str | os.PathLike, *, force: bool = False
) -> dict[str, Path]:
    """Save a synthetic painting as ordinary image files.

    Files: ``lr_maps.tif`` and ``truth.tif`` (multi-page float32, ImageJ page labels =
    element names), ``photo.png``, ``hidden_mask.png`` (0/255), ``photo_edge_mask.tif``
    (uint8 0/1, one page per element) and ``info.json``.

    Parameters
    ----------
    p
        The painting from :func:`make_synthetic_painting`.
    folder
        Output folder (created if missing).
    force
        Overwrite existing files. Without it nothing is written if any exists.

    Returns
    -------
    dict of str to Path
        Keys ``lr_maps``, ``photo``, ``truth``, ``hidden_mask``, ``photo_edge_mask``,
        ``info``.

    Raises
    ------
    OutputExistsError
        (an :class:`InputError` and a :class:`FileExistsError`) when files exist
        and ``force`` is false.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder} exists and is not a folder; choose a folder to write into.")
    paths = {key: folder / name for key, name in FILE_NAMES.items()}
    existing = [str(path) for path in paths.values() if path.exists()]
    if existing and not force:
        raise OutputExistsError(
            f"Not overwriting existing file(s): {', '.join(existing)}. Choose another folder "
            "or pass force=True (--force on the command line) to replace them."
        )
    folder.mkdir(parents=True, exist_ok=True)
    labels = list(p.elements)
    info = dict(p.info)
    info["files"] = {key: path.name for key, path in paths.items()}
    writers = {
        "lr_maps": lambda t: _write_stack(t, p.lr_maps.astype(np.float32), labels),
        "truth": lambda t: _write_stack(t, p.hr_maps.astype(np.float32), labels),
        "photo": lambda t: _write_png(t, np.asarray(p.rgb, dtype=np.uint8)),
        "hidden_mask": lambda t: _write_png(t, p.hidden_mask.astype(np.uint8) * 255),
        "photo_edge_mask": lambda t: _write_stack(t, p.photo_edge_mask.astype(np.uint8), labels),
        "info": lambda t: t.write_text(json.dumps(info, indent=2), encoding="utf-8"),
    }
    for key, path in paths.items():
        _atomic_write(path, writers[key])
    return paths
