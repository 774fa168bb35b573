"""Paint-layer stack and its XRF emission with energy-dependent absorption.

Model (deliberately simple, but with the effects that matter for MA-XRF maps):
a layer ``k`` of thickness ``t_k`` has the attenuation coefficient
``mu_k(E) = a(E) * rho_k`` with ``a(E) = MU_REF * (E_REF / E) ** ABSORPTION_POWER``
(photo-absorption falls steeply with energy) and ``rho_k = BINDER + sum_e c_e w_e``
(heavy elements absorb more; ``w_e`` from :data:`.pigments.ABSORPTION_WEIGHT`). A line
at energy ``E`` of element ``e`` then contributes, per layer,

``c_e * (1 - exp(-mu_k t_k)) / mu_k * exp(-a(E) * sum_{j above k} rho_j t_j)``

i.e. self-absorption inside the emitting layer and attenuation by everything
above it. Excitation and detection geometry are folded into ``a(E)``;
absorption edges are ignored. Low-energy lines (Pb M, S K, P K, Si K) therefore
come from near the surface only, while Pb L, Hg L and Sr K see deep layers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .pigments import ABSORPTION_WEIGHT, line_element

MU_REF = 0.15
E_REF = 10.0
ABSORPTION_POWER = 2.8
BINDER = 0.4


def absorption_scale(energy_kev: float) -> float:
    """``a(E)``: attenuation per unit thickness and unit density at ``energy_kev``."""
    return MU_REF * (E_REF / float(energy_kev)) ** ABSORPTION_POWER


@dataclass
class Layer:
    """One layer of the painting.

    Attributes
    ----------
    name
        For provenance only (``"ground"``, ``"paint"`` ...).
    thickness
        ``(H, W)`` thickness in arbitrary units (0 where the layer is absent).
    concentrations
        Element symbol -> concentration, a scalar or an ``(H, W)`` map.
    """

    name: str
    thickness: np.ndarray
    concentrations: Mapping[str, np.ndarray | float] = field(default_factory=dict)

    def density(self) -> np.ndarray | float:
        """``rho``: binder plus absorption-weighted element content."""
        rho: np.ndarray | float = BINDER
        for el, c in self.concentrations.items():
            rho = rho + ABSORPTION_WEIGHT.get(el, 1.0) * np.asarray(c, dtype=np.float32)
        return rho


def render_lines(
    layers: Sequence[Layer], lines: Sequence[tuple[str, float]], shape: tuple[int, int]
) -> np.ndarray:
    """XRF intensity of each element line for a layer stack.

    Parameters
    ----------
    layers
        Bottom to top (the last layer is the surface).
    lines
        ``(name, energy_keV)`` pairs, e.g. ``("Pb L", 10.55)``.
    shape
        ``(H, W)``.

    Returns
    -------
    numpy.ndarray
        ``(B, H, W)`` float32, non-negative, arbitrary units.
    """
    h, w = shape
    dens = [np.broadcast_to(np.asarray(ly.density(), np.float32), shape) for ly in layers]
    thick = [np.broadcast_to(np.asarray(ly.thickness, np.float32), shape) for ly in layers]
    # Optical depth (per unit a(E)) of everything above layer k: energy independent.
    above: list[np.ndarray] = [np.zeros(shape, np.float32)] * len(layers)
    acc = np.zeros(shape, np.float32)
    for k in range(len(layers) - 1, -1, -1):
        above[k] = acc
        acc = acc + dens[k] * thick[k]
    out = np.zeros((len(lines), h, w), np.float32)
    for b, (name, energy) in enumerate(lines):
        el = line_element(name)
        a = np.float32(absorption_scale(energy))
        for k, ly in enumerate(layers):
            c = ly.concentrations.get(el)
            if c is None or not np.any(c):
                continue
            mu = a * dens[k]
            emitted = -np.expm1(-mu * thick[k]) / mu  # self-absorbed emission
            out[b] += np.asarray(c, np.float32) * emitted * np.exp(-a * above[k])
    return out
