"""Element lines and historical pigments used by the synthetic painting generator.

The numbers are plausible, not measured: they are chosen so that simulated maps
behave like real MA-XRF maps (which elements go together, which lines are
absorbed most), not to reproduce any instrument.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

# Element-line name -> emission energy in keV (Kα / Lα / Mα). The order matters:
# ``make_synthetic_painting(n_elements=n)`` uses the first ``n`` lines, so the
# most informative lines for old-master paintings come first.
ELEMENT_LINES: MappingProxyType[str, float] = MappingProxyType(
    {
        "Pb L": 10.55,
        "Hg L": 9.99,
        "Fe K": 6.40,
        "Cu K": 8.05,
        "Sn L": 3.44,
        "Mn K": 5.90,
        "Ca K": 3.69,
        "Co K": 6.93,
        "As K": 10.54,
        "Pb M": 2.35,
        "Hg M": 2.20,
        "K K": 3.31,
        "P K": 2.01,
        "Ti K": 4.51,
        "Zn K": 8.64,
        "Ba L": 4.47,
        "Cr K": 5.41,
        "Sr K": 14.16,
        "Cl K": 2.62,
        "S K": 2.31,
        "Si K": 1.74,
    }
)

# Relative X-ray absorption per unit concentration (heavier elements absorb more).
ABSORPTION_WEIGHT: MappingProxyType[str, float] = MappingProxyType(
    {
        "Pb": 3.0, "Hg": 3.0, "Ba": 2.0, "Sn": 1.8, "Sr": 1.4, "As": 1.2, "Cu": 1.0,
        "Zn": 1.0, "Co": 0.9, "Fe": 0.8, "Mn": 0.8, "Cr": 0.7, "Ti": 0.6, "Ca": 0.5,
        "K": 0.4, "Cl": 0.3, "S": 0.3, "P": 0.3, "Si": 0.2,
    }
)


def line_element(line: str) -> str:
    """Element symbol of a line name: ``"Pb L" -> "Pb"``."""
    return line.split()[0]


@dataclass(frozen=True)
class Pigment:
    """A pigment: its colour, its elements and how it behaves in a paint.

    Attributes
    ----------
    name
        Common name, e.g. ``"vermilion"``.
    rgb
        Typical sRGB colour of the pure pigment in oil (0..255).
    elements
        Element symbol -> concentration weight (about a mass fraction). Empty for
        pigments with no XRF signal (organic lakes, carbon black, indigo).
    historical
        Used for old-master paint layers; modern pigments only appear in retouchings.
    mixes_with_white
        Whether lighter tones of this paint are mixed with lead white (glazes
        and blacks are not).
    """

    name: str
    rgb: tuple[int, int, int]
    elements: dict[str, float] = field(default_factory=dict)
    historical: bool = True
    mixes_with_white: bool = True

    @property
    def has_xrf(self) -> bool:
        """Whether the pigment contains any element that the simulated scanner sees."""
        return any(v > 0 for v in self.elements.values())


PIGMENTS: tuple[Pigment, ...] = (
    Pigment("lead white", (242, 238, 226), {"Pb": 1.0, "Ca": 0.03}, mixes_with_white=False),
    Pigment("vermilion", (196, 44, 32), {"Hg": 0.85, "S": 0.15}),
    Pigment("lead-tin yellow", (236, 206, 84), {"Pb": 0.8, "Sn": 0.2, "Si": 0.03}),
    Pigment(
        "yellow ochre", (196, 148, 62),
        {"Fe": 0.5, "Si": 0.3, "K": 0.05, "Ca": 0.05, "Ti": 0.02, "Mn": 0.01},
    ),
    Pigment("red ochre", (150, 62, 42), {"Fe": 0.7, "Si": 0.2, "Ti": 0.02, "Mn": 0.01}),
    Pigment(
        "raw umber", (104, 78, 52),
        {"Fe": 0.45, "Mn": 0.25, "Si": 0.2, "Ba": 0.02, "Ti": 0.01},
    ),
    Pigment("azurite", (42, 82, 160), {"Cu": 0.55}),
    Pigment("malachite", (62, 140, 92), {"Cu": 0.55, "Cl": 0.03}),
    Pigment("smalt", (70, 78, 150), {"Co": 0.08, "As": 0.1, "K": 0.15, "Si": 0.6}),
    Pigment("bone black", (34, 32, 30), {"Ca": 0.4, "P": 0.2}, mixes_with_white=False),
    Pigment("carbon black", (20, 20, 22), {}, mixes_with_white=False),
    Pigment("red lake", (150, 26, 58), {}, mixes_with_white=False),
    Pigment("yellow lake", (196, 168, 52), {}, mixes_with_white=False),
    Pigment("indigo", (44, 54, 86), {}, mixes_with_white=False),
    # Modern pigments: only in retouchings (colour-matched, so the photo hides them).
    Pigment("zinc white", (246, 246, 240), {"Zn": 0.8}, historical=False),
    Pigment("titanium white", (250, 250, 250), {"Ti": 0.6}, historical=False),
    Pigment("barium sulfate", (240, 240, 236), {"Ba": 0.6, "S": 0.14}, historical=False),
    Pigment("viridian", (40, 120, 96), {"Cr": 0.5}, historical=False),
)

PIGMENT_BY_NAME: MappingProxyType[str, Pigment] = MappingProxyType({p.name: p for p in PIGMENTS})

# The chalk-glue ground (gypsum, clay and salt traces): Ca K seen everywhere through
# the paint, Sr as the trace that natural chalk carries.
GROUND_ELEMENTS: MappingProxyType[str, float] = MappingProxyType(
    {"Ca": 0.8, "S": 0.1, "Sr": 0.02, "Si": 0.05, "K": 0.02, "Cl": 0.01, "Fe": 0.01}
)


def historical_pigments() -> tuple[Pigment, ...]:
    """Return the pigments that may be assigned to colour clusters of the photo."""
    return tuple(p for p in PIGMENTS if p.historical)


def pigment_lab(pigments: tuple[Pigment, ...]) -> np.ndarray:
    """CIELAB colours ``(P, 3)`` of ``pigments``."""
    from skimage.color import rgb2lab

    rgb = np.array([p.rgb for p in pigments], dtype=np.float64)[None] / 255.0
    return rgb2lab(rgb)[0]


def assign_pigments(
    cluster_lab: np.ndarray, candidates: tuple[Pigment, ...] | None = None
) -> list[Pigment]:
    """Match colour clusters to distinct pigments by colour.

    A pigment that mixes with white matches any of its tints: the distance is to
    the CIELAB segment from the pure pigment towards lead white (up to 85 % white),
    so a pale blue sky is azurite or smalt with white, not indigo. Each cluster
    gets a different pigment (optimal assignment), so similar clusters become,
    say, azurite and smalt rather than azurite twice.

    Parameters
    ----------
    cluster_lab
        ``(K, 3)`` CIELAB cluster centres.
    candidates
        Pigments to choose from (default: the historical ones). Needs at least
        ``K`` of them.

    Returns
    -------
    list of Pigment
        One pigment per cluster.
    """
    from scipy.optimize import linear_sum_assignment

    cands = historical_pigments() if candidates is None else tuple(candidates)
    if len(cands) < len(cluster_lab):
        raise ValueError(f"{len(cluster_lab)} clusters but only {len(cands)} pigments")
    lab = pigment_lab(cands)
    white = pigment_lab((PIGMENT_BY_NAME["lead white"],))[0]
    c = np.asarray(cluster_lab, dtype=np.float64)[:, None, :]  # (K, 1, 3)
    seg = np.where(np.array([p.mixes_with_white for p in cands])[:, None], white - lab, 0.0)
    t = ((c - lab) * seg).sum(-1) / np.maximum((seg * seg).sum(-1), 1e-9)
    nearest = lab + np.clip(t, 0.0, 0.85)[..., None] * seg
    d = np.sqrt(((c - nearest) ** 2).sum(-1))
    rows, cols = linear_sum_assignment(d)
    out: list[Pigment] = [cands[0]] * len(cluster_lab)
    for r, col in zip(rows, cols, strict=True):
        out[r] = cands[col]
    return out
