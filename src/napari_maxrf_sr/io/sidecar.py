"""JSON sidecars: what a small ``.json`` file next to the data says about it.

A sidecar is written by people (or other programs), so every value is checked for its
type before it is used: a wrong type is an :class:`~napari_maxrf_sr.errors.InputError`
naming the key and the fix, never a ``TypeError`` from deep inside a reader.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ..errors import InputError

#: Largest sidecar read (a sidecar is a few lines of text).
MAX_SIDECAR_BYTES = 1 << 20


def sidecar_path(path: str | Path) -> Path | None:
    """The sidecar of a file: ``<stem>.json`` or ``<name>.json`` next to it, if any."""
    p = Path(path)
    for cand in (p.with_suffix(".json"), p.with_name(p.name + ".json")):
        if cand.is_file() and cand != p:
            return cand
    return None


def read_json(path: Path, what: str = "sidecar") -> Any:
    """A small JSON file's content; InputError for one that is too large or not JSON."""
    try:
        if path.stat().st_size > MAX_SIDECAR_BYTES:
            raise InputError(
                f"The {what} {str(path)!r} is {path.stat().st_size:,} bytes, far more than a "
                "description of the data needs: is it the right file? Remove it or rename it."
            )
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
        raise InputError(
            f"The {what} {str(path)!r} is not valid JSON ({exc}). Correct it (a JSON "
            "validator shows where), or remove it."
        ) from exc


def read_sidecar(path: str | Path) -> dict[str, Any] | None:
    """JSON sidecar of a file as a dict, or ``None`` when there is none."""
    cand = sidecar_path(path)
    if cand is None:
        return None
    data = read_json(cand)
    return data if isinstance(data, dict) else None


def _where(source: str | Path, key: str) -> str:
    return f"{key!r} in {str(source)!r}"


def text_list(value: Any, source: str | Path, key: str) -> list[str] | None:
    """A list of texts (element names), or ``None`` when absent."""
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(
            f"{_where(source, key)} must be a list of names such as [\"Pb L\", \"Hg L\"], "
            f"got {json.dumps(value)[:80]}. Correct the file."
        )
    return list(value)


def number(value: Any, source: str | Path, key: str, *, positive: bool = False) -> float | None:
    """A finite number (not a text, not true/false, not Infinity), or ``None`` when absent."""
    if value is None:
        return None
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or (positive and value <= 0):
        kind = "a positive number" if positive else "a finite number"
        raise InputError(
            f"{_where(source, key)} must be {kind} (without quotes), got "
            f"{json.dumps(value)[:80]}. Correct the file."
        )
    return float(value)


def plain_file_name(value: Any, source: str | Path, key: str) -> str | None:
    """A file name in the sidecar's own folder (no folders, no '..'), or ``None``."""
    if value is None:
        return None
    if (not isinstance(value, str) or not value or value in (".", "..")
            or Path(value).name != value or "\\" in value):
        raise InputError(
            f"{_where(source, key)} must be the name of a file in the same folder, got "
            f"{json.dumps(value)[:120]}: data outside the folder you opened are not read. "
            "Copy the file next to the sidecar and give its name alone."
        )
    return value


def line_energies(value: Any, source: str | Path, key: str) -> dict[str, float] | None:
    """``{"name": keV}`` for lines not in the built-in table, or ``None``."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InputError(
            f"{_where(source, key)} must map names to energies in keV, such as "
            f"{{\"Pb M\": 2.345}}, got {json.dumps(value)[:80]}. Correct the file."
        )
    return {str(k): number(v, source, f"{key}.{k}", positive=True) for k, v in value.items()}


def rpl_options(rpl: str | Path) -> dict[str, Any]:
    """Reader options for a ``.rpl`` cube from its JSON sidecar, every value checked.

    Keys (all optional): ``zero_ev``, ``ev_per_channel``, ``window_ev`` (numbers),
    ``elements`` (names), ``lines`` (``{"name": keV}``) and ``raw`` (or ``raw_path``:
    the ``.raw``'s name, in the same folder).

    Returns
    -------
    dict
        Keyword arguments of :func:`~napari_maxrf_sr.io.rpl.read_rpl_element_maps`.
    """
    source = sidecar_path(rpl)
    side = read_sidecar(rpl) or {}
    out: dict[str, Any] = {}
    for key in ("zero_ev", "ev_per_channel", "window_ev"):
        value = number(side.get(key), source, key, positive=key != "zero_ev")
        if value is not None:
            out[key] = value
    elements = text_list(side.get("elements"), source, "elements")
    if elements:
        out["elements"] = tuple(elements)
    lines = line_energies(side.get("lines"), source, "lines")
    if lines:
        out["lines"] = lines
    raw_key = "raw_path" if "raw_path" in side else "raw"
    raw = plain_file_name(side.get(raw_key), source, raw_key)
    if raw is not None:
        out["raw_path"] = Path(rpl).parent / raw
    return out
