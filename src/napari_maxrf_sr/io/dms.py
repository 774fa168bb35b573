r"""Datamuncher / XRF-Explorer element cubes (``.dms``).

The layout, as XRF-Explorer writes and reads it
(``xrf_explorer/server/file_system/cubes/convert_dms.py``: ``to_dms``,
``get_elemental_datacube_dimensions``, ``get_elemental_data_cube_from_dms``,
``get_elements_from_dms``)::

    2\n                       a first line, which the readers skip
    W H C\n                   width, height and number of element maps, in ASCII
    C x H x W float32        the maps, element by element, rows of W values
    name 1\nname 2 ...       the element names, one per line (UTF-8)

The float32 values are little-endian (XRF-Explorer writes ``ndarray.tobytes()`` on
x86 computers and reads them back with ``np.fromfile(dtype=np.float32)``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..core import validation
from ..errors import InputError
from .common import as_float32_stack, names_or_default
from .filecheck import truncated, unreadable

SUFFIX = ".dms"
_MAX_LINE = 256  # the two header lines are a few bytes; anything longer is not a .dms
_MAX_NAMES_BYTES = 1 << 20


def dms_header(path: str | Path) -> tuple[int, int, int, int]:
    """``(width, height, maps, header bytes)`` of a ``.dms`` file, checked against its size.

    Raises
    ------
    InputError
        For a file whose header is not a ``.dms`` header, or that is shorter than the
        header says.
    """
    path = Path(path)
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            first = fh.readline(_MAX_LINE)
            second = fh.readline(_MAX_LINE)
            header = fh.tell()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise unreadable(path, exc) from exc
    try:
        if not (first.endswith(b"\n") and second.endswith(b"\n")):
            raise ValueError("no two short header lines")
        dims = [int(v) for v in second.decode("ascii").split()]
        if len(dims) != 3 or min(dims) < 1:
            raise ValueError(f"the size line is {second.decode('ascii').strip()!r}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(
            f"{str(path)!r} is not a Datamuncher/XRF-Explorer .dms element cube: its second "
            f"line must be 'width height maps' ({exc}). Export the cube again."
        ) from None
    w, h, c = dims
    need = header + 4 * w * h * c
    if need > size:
        raise truncated(path, f"the header's {c} maps of {w} x {h} float32 values", need, size)
    validation.check_map_size((c, h, w), name=f"maps in {path.name!r}")
    return w, h, c, header


def read_dms_maps(path: str | Path) -> tuple[np.ndarray, tuple[str, ...], dict[str, Any]]:
    """Element maps of a ``.dms`` cube: ``(B, h, w)`` float32, names, metadata.

    The header and the file's size are checked before any map is read.
    """
    path = Path(path)
    w, h, c, header = dms_header(path)
    notes: list[str] = []
    data_end = header + 4 * w * h * c
    try:
        cube = np.fromfile(path, dtype="<f4", count=c * h * w, offset=header)
        with open(path, "rb") as fh:
            fh.seek(data_end)
            tail = fh.read(_MAX_NAMES_BYTES)
    except OSError as exc:
        raise unreadable(path, exc) from exc
    names = [s.strip() for s in tail.decode("utf-8", errors="replace").split("\n")]
    names = [s for s in names if s]
    maps = as_float32_stack(cube.reshape(c, h, w), repr(path.name))
    elements = names_or_default(names or None, c, repr(path.name), notes)
    return maps, elements, {"source": str(path), "format": "dms", "notes": notes}
