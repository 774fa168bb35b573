"""Bruker M6 / Lispix "ripple" spectral cubes (``.rpl`` header + ``.raw`` data).

The cube is memory-mapped and summed in bands of rows, so a cube of several
gigabytes never has to fit in memory. Element maps are the counts in an energy
window around each element's emission line; the energy calibration (the
energy of channel 0 and the eV per channel) is not in a plain M6 ``.rpl`` and
must be given by the user.

Summed windows are not fitted peak areas: overlapping lines (Pb L-alpha and
As K-alpha, for example, are 7 eV apart) share their counts, and a warning
says so.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.validation import check_map_size
from ..errors import InputError
from .common import MapsMeta, MapsResult
from .elements import normalise_element_name
from .spectrum import (
    DEFAULT_ELEMENTS,
    RPL_DTYPES,
    TOTAL_COUNTS,
    EnergyWindow,
    RplHeader,
    RplWindows,
    checked_elements,
    checked_ev,
    energy_windows,
    sum_windows,
)

_REQUIRED = ("width", "height", "depth", "offset", "data-length", "data-type")
#: A .rpl is a few hundred bytes of text; anything this large is not a header.
_MAX_HEADER_BYTES = 1 << 20


def parse_rpl_header(path: str | Path) -> RplHeader:
    """Parse a ``.rpl`` header file (``key <tab> value`` lines, any line ends).

    Raises
    ------
    InputError
        When a required key is missing or a value is not understood.
    """
    path = Path(path)
    fields = _header_fields(path)
    missing = [k for k in _REQUIRED if k not in fields]
    if missing:
        raise InputError(
            f"The header {str(path)!r} lacks {', '.join(missing)}; a .rpl needs width, height, "
            "depth, offset, data-length, data-type, byte-order and record-by."
        )
    width, height, depth, offset, length = _sizes(fields, path)
    data_type = fields["data-type"].lower()
    if (data_type, length) not in RPL_DTYPES:
        raise InputError(
            f"The header {str(path)!r} gives data-type {data_type!r} with data-length {length}; "
            "supported are unsigned/signed with 1, 2, 4 or 8 bytes and float with 4 or 8. "
            "Correct the header."
        )
    notes: list[str] = []
    order = _byte_order(fields, path, length, notes)
    record_by = _record_by(fields, path, depth)
    known = {*_REQUIRED, "byte-order", "record-by"}
    extra = {k: v for k, v in fields.items() if k not in known}
    return RplHeader(
        width, height, depth, offset, length, data_type, order, record_by, extra, tuple(notes)
    )


def _header_fields(path: Path) -> dict[str, str]:
    """``key value`` lines of a header, keys in lower case."""
    try:
        size = os.path.getsize(path)
        if size > _MAX_HEADER_BYTES:  # never read a multi-gigabyte .raw as text
            raise InputError(
                f"{str(path)!r} is {size / 2**20:.0f} MiB, far too large for a .rpl text "
                "header: is it the .raw data? Give the small .rpl file that describes it."
            )
        text = path.read_bytes().decode("latin-1")
    except OSError as exc:
        raise InputError(
            f"Cannot read the header {str(path)!r}: {exc.strerror or exc}. Check the path and "
            "the file's permissions."
        ) from exc
    if "\x00" in text[:4096]:
        raise InputError(
            f"{str(path)!r} is binary, not a text .rpl header. Give the .rpl file (the .raw "
            "beside it holds the data)."
        )
    fields: dict[str, str] = {}
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line or line.startswith((";", "#")):
            continue
        parts = line.split(None, 1)
        key = parts[0].strip().lower()
        value = parts[1].strip() if len(parts) > 1 else ""
        if key == "key" and value.lower() == "value":  # the column-title line
            continue
        fields[key] = value
    return fields


def _sizes(fields: dict[str, str], path: Path) -> tuple[int, int, int, int, int]:
    """Width, height, depth, offset and data-length, checked."""
    try:
        width, height, depth, offset, length = (
            int(fields[k]) for k in ("width", "height", "depth", "offset", "data-length")
        )
    except ValueError as exc:
        raise InputError(
            f"The header {str(path)!r} has a size that is not a whole number ({exc}). Correct "
            "the header: width, height, depth, offset and data-length are whole numbers."
        ) from exc
    if min(width, height, depth) < 1 or offset < 0:
        raise InputError(
            f"The header {str(path)!r} gives impossible sizes: width {width}, height {height}, "
            f"depth {depth}, offset {offset}. Correct the header, or copy it again from the "
            "scanner's export."
        )
    return width, height, depth, offset, length


def _byte_order(fields: dict[str, str], path: Path, length: int, notes: list[str]) -> str:
    order = fields.get("byte-order", "dont-care").lower().replace("_", "-")
    if order not in ("little-endian", "big-endian", "dont-care"):
        raise InputError(
            f"The header {str(path)!r} gives byte-order {order!r}; expected little-endian, "
            "big-endian or dont-care. Correct the header."
        )
    if order == "dont-care" and length > 1:
        notes.append("byte-order 'dont-care' with multi-byte values: assuming little-endian")
    return order


def _record_by(fields: dict[str, str], path: Path, depth: int) -> str:
    record_by = fields.get("record-by", "vector").lower().replace("_", "-")
    if record_by in ("dontcare", "dont-care"):
        if depth != 1:
            raise InputError(
                f"The header {str(path)!r} says record-by dont-care, which is only valid for "
                f"depth 1, but depth is {depth}. Set record-by to vector or image."
            )
        record_by = "vector"
    if record_by not in ("vector", "image"):
        raise InputError(
            f"The header {str(path)!r} gives record-by {record_by!r}; expected vector, image "
            "or dont-care. Correct the header."
        )
    return record_by


def find_raw(rpl_path: str | Path, raw_path: str | Path | None = None) -> Path:
    """Find the ``.raw`` of ``rpl_path``: ``raw_path`` or the same stem with ``.raw``."""
    rpl_path = Path(rpl_path)
    if raw_path is not None:
        raw = Path(raw_path)
        if not raw.is_file():
            what = "is not a regular file" if raw.exists() else "does not exist"
            raise InputError(
                f"The data file {str(raw)!r} {what}. Check raw_path (the .raw that belongs "
                "to the .rpl)."
            )
        return raw
    for suffix in (".raw", ".RAW", ".Raw"):
        cand = rpl_path.with_suffix(suffix)
        if cand.is_file():
            return cand
    raise InputError(
        f"No data file {rpl_path.with_suffix('.raw').name!r} next to {str(rpl_path)!r}. "
        "Put the .raw beside the .rpl with the same name, or pass raw_path=..."
    )


def open_rpl_cube(
    rpl_path: str | Path, raw_path: str | Path | None = None
) -> tuple[np.memmap, RplHeader]:
    """Memory-map the cube of a ``.rpl``/``.raw`` pair (read-only, nothing is loaded).

    The ``.raw``'s size is checked against the header first, so a truncated copy
    or a header that does not belong to the data gives an error, not garbage.

    Returns
    -------
    cube, header
        ``cube`` is shaped ``header.shape``: ``(h, w, depth)`` for record-by
        vector, ``(depth, h, w)`` for record-by image.
    """
    header = parse_rpl_header(rpl_path)
    raw = find_raw(rpl_path, raw_path)
    size = os.path.getsize(raw)
    if size != header.nbytes:
        with open(raw, "rb") as fh:
            start = fh.read(64)
        if start.startswith(b"version https://git-lfs"):
            raise InputError(
                f"{str(raw)!r} is a Git LFS pointer ({size} bytes), not the data: fetch the "
                "real file with 'git lfs pull'."
            )
        per_value = header.width * header.height * header.data_length
        hint = ""
        if size > header.offset and (size - header.offset) % per_value == 0:
            hint = f" The file would fit depth {(size - header.offset) // per_value}."
        what = "shorter" if size < header.nbytes else "longer"
        raise InputError(
            f"{str(raw)!r} has {size} bytes but the header {Path(rpl_path).name!r} describes "
            f"{header.nbytes} bytes (offset {header.offset} + {header.width} x "
            f"{header.height} x {header.depth} values x {header.data_length} bytes): the file is "
            f"{what} than the header says, so it is truncated or the header does not belong to "
            f"it.{hint} Copy the file again or correct the header."
        )
    cube = np.memmap(raw, dtype=header.dtype, mode="r", offset=header.offset, shape=header.shape)
    return cube, header


def read_rpl_element_maps(
    rpl_path: str | Path,
    elements: Sequence[str] | None = None,
    *,
    zero_ev: float | None = None,
    ev_per_channel: float | None = None,
    window_ev: float = 300.0,
    lines: Mapping[str, float] | None = None,
    raw_path: str | Path | None = None,
    chunk_bytes: int = 64 << 20,
    progress: Callable[[int, int], None] | None = None,
) -> MapsResult:
    """Element maps from a Bruker/Lispix ``.rpl`` + ``.raw`` spectral cube.

    Parameters
    ----------
    rpl_path
        The ``.rpl`` header.
    elements
        Names such as ``"Pb L"``, ``"Hg L"``, ``"Fe K"`` (``"total counts"`` sums
        every channel). Default: :data:`DEFAULT_ELEMENTS`.
    zero_ev, ev_per_channel
        Energy calibration: channel ``c`` is at ``zero_ev + c * ev_per_channel``
        eV. Taken from the header when it has them, otherwise required.
    window_ev
        Full width of each summing window in eV (about twice the detector's
        resolution, 150 eV FWHM at Mn K-alpha for an SDD, is a good start).
    lines
        Extra line energies in keV for names not in the built-in table.
    raw_path
        The ``.raw`` if it does not have the header's name.
    chunk_bytes
        Largest band of the cube read at once.
    progress
        Called as ``progress(rows_done, rows_total)``.

    Returns
    -------
    maps, elements, meta
        ``(B, h, w)`` float32 counts, the names and a
        :class:`~napari_maxrf_sr.io.common.MapsMeta` whose ``rpl``
        (:class:`RplWindows`) gives the windows in channels and eV, the
        calibration and the header.
    """
    plan = plan_rpl_maps(rpl_path, elements, zero_ev=zero_ev, ev_per_channel=ev_per_channel,
                         window_ev=window_ev, lines=lines, raw_path=raw_path)
    return sum_rpl_maps(plan, chunk_bytes=chunk_bytes, progress=progress)


@dataclass(frozen=True)
class RplPlan:
    """Everything about reading a cube's maps that is known before summing its counts."""

    path: Path
    raw: Path | None
    summary: RplWindows
    windows: list[tuple[str, int, int, float]]
    notes: tuple[str, ...]


def plan_rpl_maps(
    rpl_path: str | Path,
    elements: Sequence[str] | None = None,
    *,
    zero_ev: float | None = None,
    ev_per_channel: float | None = None,
    window_ev: float = 300.0,
    lines: Mapping[str, float] | None = None,
    raw_path: str | Path | None = None,
) -> RplPlan:
    """Check a cube and its options, and find the windows, without reading any counts.

    Takes the arguments of :func:`read_rpl_element_maps`; every check of that reader
    (the header, the ``.raw``'s size, the calibration, the elements, the size of the
    maps) happens here, so a napari reader can decline before it claims the file.
    """
    _, header = open_rpl_cube(rpl_path, raw_path)
    notes = list(header.notes)
    names = checked_elements(DEFAULT_ELEMENTS if elements is None else elements)
    head_zero, head_ev = header.calibration()
    zero_ev = checked_ev(head_zero if zero_ev is None else zero_ev, "zero_ev")
    ev_per_channel = checked_ev(head_ev if ev_per_channel is None else ev_per_channel,
                                "ev_per_channel", positive=True)
    window_ev = checked_ev(window_ev, "window_ev", positive=True)
    only_total = all(normalise_element_name(n) == TOTAL_COUNTS for n in names)
    if ev_per_channel is None and not only_total:
        raise InputError(
            f"The energy calibration of {Path(rpl_path).name!r} is unknown: pass "
            "ev_per_channel=... and zero_ev=... (the energy in eV of channel 0; find both from "
            "two known peaks, e.g. the zero peak and Fe K-alpha at 6404 eV), or "
            f"elements=('{TOTAL_COUNTS}',) for a map of all counts."
        )
    if zero_ev is None:
        zero_ev = 0.0
        if not only_total:
            notes.append("zero_ev not given: assuming channel 0 is at 0 eV")
    windows = energy_windows(names, zero_ev=zero_ev, ev_per_channel=ev_per_channel or 1.0,
                             depth=header.depth, window_ev=window_ev, lines=lines)
    check_map_size((len(windows), header.height, header.width),
                   name=f"maps summed from {Path(rpl_path).name!r}")
    summary = RplWindows(
        zero_ev=zero_ev, ev_per_channel=ev_per_channel, window_ev=window_ev,
        windows=tuple(EnergyWindow(n, c0, c1, None if np.isnan(e) else e)
                      for n, c0, c1, e in windows),
        header=header,
    )
    return RplPlan(Path(rpl_path), None if raw_path is None else Path(raw_path), summary,
                   windows, tuple(notes))


def sum_rpl_maps(plan: RplPlan, *, chunk_bytes: int = 64 << 20,
                 progress: Callable[[int, int], None] | None = None) -> MapsResult:
    """Sum the counts of a planned cube (:func:`plan_rpl_maps`) into element maps."""
    cube, header = open_rpl_cube(plan.path, plan.raw)
    maps = sum_windows(cube, header, plan.windows, chunk_bytes=chunk_bytes, progress=progress)
    del cube  # close the memory map
    meta = MapsMeta(source=str(plan.path), format="rpl", notes=list(plan.notes),
                    rpl=plan.summary)
    return maps, tuple(n for n, *_ in plan.windows), meta
