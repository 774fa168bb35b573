"""Energy windows of a spectral cube: which channels are summed into each element's map.

Also the types :mod:`.rpl` fills in (:class:`RplHeader`, what a ``.rpl`` header says;
:class:`RplWindows`, how a cube became maps), here so that :mod:`.common`'s
:class:`~.common.MapsMeta` can name them without importing the reader.

Summed windows are not fitted peak areas: overlapping lines (Pb L-alpha and As
K-alpha, for example, are 7 eV apart) share their counts, and a warning says so.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from .elements import line_energy_kev, normalise_element_name

#: Elements mapped when none are named: the usual suspects in paintings.
DEFAULT_ELEMENTS: tuple[str, ...] = (
    "S K", "Cl K", "K K", "Ca K", "Ti K", "Cr K", "Mn K", "Fe K", "Co K", "Ni K", "Cu K",
    "Zn K", "As K", "Sr K", "Cd L", "Sn L", "Sb L", "Ba L", "Au L", "Hg L", "Pb L",
)  # fmt: skip
#: Name of the map that sums every channel (useful when no calibration is known).
TOTAL_COUNTS = "total counts"


@dataclass(frozen=True)
class EnergyWindow:
    """The channels summed into one element's map."""

    element: str
    #: First channel in the window.
    first: int
    #: One past the last channel in the window.
    stop: int
    #: Energy of the element's line in eV (``None`` for the total counts).
    line_ev: float | None


#: NumPy type codes of the ``.rpl`` header's ``(data-type, data-length)``.
RPL_DTYPES = {
    ("unsigned", 1): "u1", ("unsigned", 2): "u2", ("unsigned", 4): "u4", ("unsigned", 8): "u8",
    ("signed", 1): "i1", ("signed", 2): "i2", ("signed", 4): "i4", ("signed", 8): "i8",
    ("float", 4): "f4", ("float", 8): "f8",
}  # fmt: skip


@dataclass(frozen=True)
class RplHeader:
    """The fields of a ``.rpl`` header (see the Lispix ripple format)."""

    width: int
    height: int
    depth: int
    offset: int
    data_length: int
    data_type: str
    byte_order: str
    record_by: str
    extra: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def dtype(self) -> np.dtype:
        """NumPy dtype of one value, with its byte order."""
        code = RPL_DTYPES[(self.data_type, self.data_length)]
        if self.data_length == 1:
            return np.dtype(code)
        return np.dtype((">" if self.byte_order == "big-endian" else "<") + code)

    @property
    def shape(self) -> tuple[int, int, int]:
        """Array shape in the file: ``(h, w, depth)`` by vector, ``(depth, h, w)`` by image."""
        if self.record_by == "image":
            return (self.depth, self.height, self.width)
        return (self.height, self.width, self.depth)

    @property
    def nbytes(self) -> int:
        """Bytes of ``.raw`` the header describes (offset included)."""
        return self.offset + self.width * self.height * self.depth * self.data_length

    def calibration(self) -> tuple[float | None, float | None]:
        """``(zero_ev, ev_per_channel)`` from optional header keys, ``None`` where absent."""
        ev = self.extra.get("ev-per-chan") or self.extra.get("ev-per-channel")
        zero = self.extra.get("zero-ev") or self.extra.get("energy-offset-ev")
        if ev is None and self.extra.get("depth-units", "").lower() in ("ev", "kev"):
            factor = 1000.0 if self.extra["depth-units"].lower() == "kev" else 1.0
            if "depth-scale" in self.extra:
                ev = str(float(self.extra["depth-scale"]) * factor)
            if "depth-origin" in self.extra:
                zero = str(float(self.extra["depth-origin"]) * factor)
        try:
            return (
                None if zero is None else float(zero),
                None if ev is None else float(ev),
            )
        except ValueError:
            return None, None


@dataclass(frozen=True)
class RplWindows:
    """How a spectral cube was turned into maps (:attr:`MapsMeta.rpl <.common.MapsMeta>`)."""

    zero_ev: float
    ev_per_channel: float | None
    window_ev: float
    windows: tuple[EnergyWindow, ...]
    header: RplHeader


def energy_windows(
    elements: Sequence[str],
    *,
    zero_ev: float,
    ev_per_channel: float,
    depth: int,
    window_ev: float = 300.0,
    lines: Mapping[str, float] | None = None,
) -> list[tuple[str, int, int, float]]:
    """Channel ranges ``[c0, c1)`` of the windows around each element's line.

    Channel ``c`` is centred at ``zero_ev + c * ev_per_channel``; a channel is in
    the window when its centre lies within ``window_ev / 2`` of the line.
    ``lines`` gives energies (keV) for names not in the built-in table.

    Returns
    -------
    list of ``(name, c0, c1, energy_ev)``
    """
    if not np.isfinite(ev_per_channel) or ev_per_channel <= 0:
        raise InputError(f"ev_per_channel must be a positive number, got {ev_per_channel}.")
    if not np.isfinite(window_ev) or window_ev <= 0:
        raise InputError(f"window_ev must be a positive width in eV, got {window_ev}.")
    custom = {normalise_element_name(k): float(v) for k, v in (lines or {}).items()}
    out = []
    outside = []
    for raw_name in elements:
        name = normalise_element_name(raw_name)
        if name == TOTAL_COUNTS:
            out.append((name, 0, depth, float("nan")))
            continue
        try:
            kev = custom[name] if name in custom else line_energy_kev(name)
        except KeyError as exc:
            raise InputError(exc.args[0]) from None
        e = kev * 1000.0
        # clipped as floats first: a tiny eV per channel must not overflow an integer
        c0 = int(np.clip(np.ceil((e - window_ev / 2 - zero_ev) / ev_per_channel), 0, depth))
        c1 = int(np.clip(np.floor((e + window_ev / 2 - zero_ev) / ev_per_channel) + 1, 0,
                         depth))
        if c1 <= c0:
            outside.append(f"{name} ({kev:.3f} keV)")
        out.append((name, c0, c1, e))
    if outside:
        top = zero_ev + (depth - 1) * ev_per_channel
        raise InputError(
            f"These lines fall outside the spectrum ({zero_ev:.0f} to {top:.0f} eV with this "
            f"calibration): {', '.join(outside)}. Check zero_ev and ev_per_channel, or drop "
            "those elements."
        )
    spans = sorted((c0, c1, n) for n, c0, c1, _ in out if n != TOTAL_COUNTS)
    clashes = [f"{a[2]} / {b[2]}" for a, b in zip(spans, spans[1:], strict=False) if b[0] < a[1]]
    if clashes:
        more = f" and {len(clashes) - 8} more" if len(clashes) > 8 else ""
        warnings.warn(
            "These energy windows overlap, so their maps share counts (a window sum cannot "
            "separate overlapping lines; use fitted maps if that matters): "
            f"{', '.join(clashes[:8])}{more}.",
            UserWarning,
            stacklevel=3,
        )
    return out


def sum_windows(
    cube: np.ndarray,
    header: RplHeader,
    windows: Sequence[tuple[str, int, int, float]],
    *,
    chunk_bytes: int = 64 << 20,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Sum each window's channels, a band of rows at a time: returns ``(B, h, w)`` float32.

    ``progress(rows_done, rows_total)`` is called after each band.
    """
    h, w = header.height, header.width
    out = np.zeros((len(windows), h, w), dtype=np.float32)
    row_bytes = w * header.depth * header.data_length
    rows = max(1, int(chunk_bytes // max(row_bytes, 1)))
    for r0 in range(0, h, rows):
        r1 = min(h, r0 + rows)
        if header.record_by == "image":
            band = cube[:, r0:r1, :]
            for k, (_, c0, c1, _) in enumerate(windows):
                out[k, r0:r1] = band[c0:c1].sum(axis=0, dtype=np.float64)
        else:
            band = np.asarray(cube[r0:r1])  # one read of the band, then in-memory slices
            for k, (_, c0, c1, _) in enumerate(windows):
                out[k, r0:r1] = band[..., c0:c1].sum(axis=-1, dtype=np.float64)
        if progress is not None:
            progress(r1, h)
    return out


def checked_ev(value, name: str, *, positive: bool = False) -> float | None:
    """An energy in eV: a finite number (positive where it is a width), or ``None``."""
    if value is None:
        return None
    number = isinstance(value, int | float | np.number) and not isinstance(value, bool)
    if not number or not np.isfinite(value) or (positive and value <= 0):
        kind = "a positive number" if positive else "a finite number"
        raise InputError(
            f"{name} must be {kind} of eV (such as {300 if positive else 0}), got "
            f"{value!r}. Correct it (in the call, the .rpl header or its .json sidecar)."
        )
    return float(value)


def checked_elements(elements) -> tuple[str, ...]:
    """The element names asked for: a non-empty list of texts, each element once."""
    if isinstance(elements, str) or not isinstance(elements, Sequence) or not all(
            isinstance(e, str) for e in elements):
        raise InputError(
            f"elements must be a list of names such as ('Pb L', 'Hg L'), got {elements!r}."
        )
    if not elements:
        raise InputError("No elements were named: give elements=('Pb L', 'Hg L', ...).")
    counts = Counter(normalise_element_name(e) for e in elements)
    twice = sorted(n for n, k in counts.items() if k > 1)
    if twice:
        raise InputError(
            f"{', '.join(map(repr, twice))} named more than once in elements: give each "
            "element (line) once."
        )
    return tuple(elements)
