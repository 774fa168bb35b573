"""Data-driven initialisation: a non-negative dictionary learned by NMF, then ISTA weights."""

from __future__ import annotations

import torch


def nmf(
    x: torch.Tensor, n_atoms: int, generator: torch.Generator, iters: int = 150
) -> tuple[torch.Tensor, torch.Tensor]:
    """Non-negative matrix factorisation ``x ~ codes @ dictionary.T`` (Lee & Seung updates).

    Parameters
    ----------
    x
        ``(N, C)`` non-negative pixels.
    n_atoms
        Number of atoms ``M`` (may exceed ``C``: the factorisation is then
        over-complete, which is what the unfolded network uses).
    generator
        Seeded random generator for the starting point.
    iters
        Multiplicative-update iterations.

    Returns
    -------
    dictionary, codes
        ``(C, M)`` and ``(N, M)``, both non-negative.
    """
    x = x.clamp_min(0).double()
    n, c = x.shape
    scale = float(x.mean().clamp_min(1e-6))
    d = torch.rand(c, n_atoms, generator=generator, dtype=torch.float64) * scale + 1e-3
    a = torch.rand(n, n_atoms, generator=generator, dtype=torch.float64) / n_atoms + 1e-3
    eps = 1e-12
    for _ in range(iters):
        a *= (x @ d) / (a @ (d.t() @ d) + eps)
        d *= (x.t() @ a) / (d @ (a.t() @ a) + eps)
        # Fix the scale ambiguity: unit-norm atoms, codes carry the magnitude.
        norm = d.norm(dim=0).clamp_min(eps)
        d /= norm
        a *= norm
    return d.float(), a.float()


def ista_initialisation(
    model, x_sample: torch.Tensor, generator: torch.Generator, iters: int = 150
) -> dict[str, float]:
    """Initialise a :class:`ListaGenerator` from ISTA on an NMF dictionary of ``x_sample``.

    Returns the NMF's relative reconstruction error, for the log.
    """
    dictionary, codes = nmf(x_sample, model.n_atoms, generator, iters)
    code_scale = torch.quantile(codes, 0.95, dim=0).clamp_min(1e-4)
    model.init_ista(dictionary, x_sample, code_scale)
    rel = float((codes @ dictionary.t() - x_sample).norm() / x_sample.norm().clamp_min(1e-12))
    return {"nmf_relative_error": rel}
