"""Element names and the X-ray emission lines used to make maps from spectra.

Names are normalised to ``"<Symbol> <line>"``: ``"Pb-L"``, ``"pb_la"`` and
``"Pb La1"`` all become ``"Pb L"``; ``"Ca Ka.tiff"`` becomes ``"Ca K"``; a beta
line keeps its letter (``"Pb Lb1"`` -> ``"Pb Lb"``). Names that are not an
element (``"total counts"``, ``"scan 3"``) are kept exactly as given.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

#: Chemical symbols, Z = 1..92 (enough to recognise any name in an MA-XRF file).
SYMBOLS: tuple[str, ...] = (
    "H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn "
    "Ga Ge As Se Br Kr Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce "
    "Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn "
    "Fr Ra Ac Th Pa U"
).split()
_SYMBOL_BY_LOWER = {s.lower(): s for s in SYMBOLS}

#: Emission-line energies in keV (K-alpha1, K-beta1, L-alpha1, L-beta1, M-alpha1)
#: from the X-ray Data Booklet (LBNL, table 1-2), for the elements met in paintings.
LINE_ENERGIES_KEV: dict[str, dict[str, float]] = {
    "Na": {"K": 1.041},
    "Mg": {"K": 1.254},
    "Al": {"K": 1.487},
    "Si": {"K": 1.740},
    "P": {"K": 2.013},
    "S": {"K": 2.308, "Kb": 2.464},
    "Cl": {"K": 2.622, "Kb": 2.816},
    "Ar": {"K": 2.958},
    "K": {"K": 3.314, "Kb": 3.590},
    "Ca": {"K": 3.692, "Kb": 4.013},
    "Ti": {"K": 4.511, "Kb": 4.932},
    "V": {"K": 4.952, "Kb": 5.427},
    "Cr": {"K": 5.415, "Kb": 5.947},
    "Mn": {"K": 5.899, "Kb": 6.490},
    "Fe": {"K": 6.404, "Kb": 7.058},
    "Co": {"K": 6.930, "Kb": 7.649},
    "Ni": {"K": 7.478, "Kb": 8.265},
    "Cu": {"K": 8.048, "Kb": 8.905},
    "Zn": {"K": 8.639, "Kb": 9.572, "L": 1.012},
    "As": {"K": 10.544, "Kb": 11.726, "L": 1.282},
    "Se": {"K": 11.222, "Kb": 12.496, "L": 1.379},
    "Br": {"K": 11.924, "Kb": 13.291, "L": 1.480},
    "Rb": {"K": 13.395, "Kb": 14.961, "L": 1.694},
    "Sr": {"K": 14.165, "Kb": 15.836, "L": 1.806},
    "Zr": {"K": 15.775, "Kb": 17.668, "L": 2.042},
    "Mo": {"K": 17.479, "Kb": 19.608, "L": 2.293},
    "Rh": {"K": 20.216, "Kb": 22.724, "L": 2.697},
    "Ag": {"K": 22.163, "Kb": 24.942, "L": 2.984, "Lb": 3.151},
    "Cd": {"K": 23.174, "Kb": 26.096, "L": 3.134, "Lb": 3.317},
    "Sn": {"K": 25.271, "Kb": 28.486, "L": 3.444, "Lb": 3.663},
    "Sb": {"K": 26.359, "Kb": 29.726, "L": 3.605, "Lb": 3.843},
    "I": {"K": 28.612, "L": 3.938, "Lb": 4.221},
    "Ba": {"K": 32.194, "L": 4.466, "Lb": 4.828},
    "W": {"L": 8.398, "Lb": 9.672, "M": 1.775},
    "Pt": {"L": 9.442, "Lb": 11.071, "M": 2.051},
    "Au": {"L": 9.713, "Lb": 11.443, "M": 2.123},
    "Hg": {"L": 9.989, "Lb": 11.823, "M": 2.195},
    "Pb": {"L": 10.551, "Lb": 12.614, "M": 2.346},
    "Bi": {"L": 10.839, "Lb": 13.024, "M": 2.423},
    "U": {"L": 13.615, "Lb": 17.220, "M": 3.171},
}

_SEP = re.compile(r"[\s_\-.,:;]+")
_LINE = re.compile(r"^(?P<fam>[klm])(?P<sub>a|alpha|α|b|beta|β)?(?P<num>\d*)$", re.IGNORECASE)


def _parse_line(token: str) -> str | None:
    """``"Ka"`` -> ``"K"``, ``"Lb1"`` -> ``"Lb"``, anything else -> ``None``."""
    m = _LINE.match(token)
    if not m:
        return None
    fam = m.group("fam").upper()
    sub = (m.group("sub") or "").lower()
    return fam if sub in ("", "a", "alpha", "α") else fam + "b"


def parse_element_name(name: str) -> tuple[str, str | None] | None:
    """Split a map name into ``(symbol, line)``, or ``None`` if it is not an element.

    ``line`` is ``"K"``, ``"L"``, ``"M"`` (alpha) or ``"Kb"``, ``"Lb"``, ``"Mb"``,
    or ``None`` when the name is a bare symbol (``"Fe"``).
    """
    text = str(name).strip()
    tokens = [t for t in _SEP.split(text) if t]
    if len(tokens) == 3:  # "Cu K-alpha", "Pb L a"
        tokens = [tokens[0], tokens[1] + tokens[2]]
    if not tokens or len(tokens) > 2:
        return None
    if len(tokens) == 1:
        tok = tokens[0]
        if tok.lower() in _SYMBOL_BY_LOWER and (tok[0].isupper() or len(tok) > 1):
            return _SYMBOL_BY_LOWER[tok.lower()], None
        # glued forms such as "PbL", "FeKa": need the symbol's own capitalisation
        m = re.match(r"^([A-Z][a-z]?)([KLM].*)$", tok)
        if m and m.group(1) in _SYMBOL_BY_LOWER.values():
            line = _parse_line(m.group(2))
            if line is not None:
                return m.group(1), line
        return None
    sym, line_tok = tokens
    symbol = _SYMBOL_BY_LOWER.get(sym.lower())
    line = _parse_line(line_tok)
    if symbol is None or line is None:
        return None
    return symbol, line


def normalise_element_name(name: str) -> str:
    """Canonical spelling of an element map's name; unknown names are returned as given.

    Every name is in Unicode's composed form (NFC): ``"é"`` typed as one character or
    as ``e`` and an accent (NFD, as macOS writes file names) is the same name, so the
    duplicate-name checks see look-alikes.

    Examples
    --------
    >>> normalise_element_name("Pb-L"), normalise_element_name("Hg_L")
    ('Pb L', 'Hg L')
    >>> normalise_element_name("Ca Ka"), normalise_element_name("total counts")
    ('Ca K', 'total counts')
    """
    name = unicodedata.normalize("NFC", str(name))
    parsed = parse_element_name(name)
    if parsed is None:
        return name.strip()
    symbol, line = parsed
    return symbol if line is None else f"{symbol} {line}"


def _latin1_bytes(text: str) -> str:
    """Bytes of a file name that were not UTF-8, read as Latin-1 (byte E9 -> ``"é"``).

    Python keeps such bytes as lone surrogates, which no file format can store; older
    Windows and Mac systems wrote names in Latin-1 (or cp1252, the same for letters).
    """
    return "".join(chr(ord(c) - 0xDC00) if 0xDC80 <= ord(c) <= 0xDCFF else c for c in text)


def element_name_from_path(path: str | Path) -> str:
    """Element name from a file name (``Pb-L.tif`` -> ``"Pb L"``), or its stem as given."""
    p = Path(path)
    stem = _latin1_bytes(p.name)
    for suffix in reversed(p.suffixes):  # "Ca Ka.tiff", but keep "Pb L.1" style names whole
        if suffix.lower() in (".tif", ".tiff", ".png", ".npy", ".jpg", ".jpeg"):
            stem = stem[: -len(suffix)]
            break
    return normalise_element_name(stem)


def is_element_name(name: str) -> bool:
    """Whether ``name`` parses as a chemical element (with or without a line)."""
    return parse_element_name(name) is not None


def default_line(symbol: str) -> str:
    """Line used when only the symbol is given: K up to Z = 46 (Pd), L above."""
    table = LINE_ENERGIES_KEV.get(symbol, {})
    if "K" in table and SYMBOLS.index(symbol) < 46:
        return "K"
    if "L" in table:
        return "L"
    return "K"


def line_energy_kev(name: str) -> float:
    """Energy (keV) of the emission line behind a map name such as ``"Pb L"`` or ``"Fe"``.

    Raises
    ------
    KeyError
        If the name is not an element or its line is not in :data:`LINE_ENERGIES_KEV`
        (the message lists what is available).
    """
    parsed = parse_element_name(name)
    if parsed is None:
        raise KeyError(
            f"{name!r} is not an element line name; use names such as 'Pb L', 'Hg L', "
            "'Fe K' or 'Ca K'."
        )
    symbol, line = parsed
    line = line or default_line(symbol)
    table = LINE_ENERGIES_KEV.get(symbol)
    if table is None or line not in table:
        have = ", ".join(f"{symbol} {k}" for k in (table or {})) or "none"
        raise KeyError(
            f"No {line} line energy for {symbol} in the built-in table (available for "
            f"{symbol}: {have}). Give the energy yourself: lines={{'{name}': energy_keV}}."
        )
    return table[line]
