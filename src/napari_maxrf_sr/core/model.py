"""The unfolded LISTA generator ``g`` and the patch discriminator ``d`` (METHOD.md).

The generator is per-pixel: every product is a 1x1 convolution, so we run it as
plain matrix products on ``(N, C)`` pixel batches (``N`` pixels, ``C = B + 3``
channels), which keeps the CPU's matrix units busy and lets stage 1 train on
random pixels instead of patches.

    A(0) = 0
    A(k+1) = sigmoid( A(k) - W(k) A(k) + S(k) X0 - lambda(k) ),   k = 0 .. K-1
    X_hat  = sigmoid( D A(K) - lambda(K) ),   D = D_raw ** 2 >= 0
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn


class ListaGenerator(nn.Module):
    """Unfolded LISTA network mapping ``X0 = [Y_lr_up; Z]`` to ``X_hat = [Y_hat; Z_hat]``.

    Parameters
    ----------
    n_channels
        ``C = B + 3`` (element maps plus the photo's three channels).
    n_atoms
        ``M``, the number of dictionary atoms.
    n_layers
        ``K``, the number of unfolded iterations.

    Attributes
    ----------
    W : nn.Parameter
        ``(K, M, M)``, one ``W(k)`` per layer.
    S : nn.Parameter
        ``(K, M, C)``, one ``S(k)`` per layer.
    lam : nn.Parameter
        ``(K, M)``, the bias vectors ``lambda(k)``.
    D_raw : nn.Parameter
        ``(C, M)``; the dictionary is ``D = D_raw ** 2`` (element-wise), non-negative.
    lam_out : nn.Parameter
        ``(C,)``, ``lambda(K)``.
    final_sigmoid : bool
        Whether the output goes through the final sigmoid (stage 2 and inference)
        or stays linear (stage 1, to avoid vanishing gradients).
    """

    def __init__(self, n_channels: int, n_atoms: int = 64, n_layers: int = 5) -> None:
        super().__init__()
        self.n_channels = int(n_channels)
        self.n_atoms = int(n_atoms)
        self.n_layers = int(n_layers)
        k, m, c = self.n_layers, self.n_atoms, self.n_channels
        self.W = nn.Parameter(torch.zeros(k, m, m))
        self.S = nn.Parameter(torch.zeros(k, m, c))
        self.lam = nn.Parameter(torch.zeros(k, m))
        self.D_raw = nn.Parameter(torch.zeros(c, m))
        self.lam_out = nn.Parameter(torch.zeros(c))
        self.final_sigmoid = True

    @property
    def dictionary(self) -> torch.Tensor:
        """The non-negative dictionary ``D = D_raw ** 2``, shape ``(C, M)``."""
        return self.D_raw * self.D_raw

    def codes(self, x0: torch.Tensor) -> torch.Tensor:
        """Sparse codes ``A(K)`` for pixels ``x0`` of shape ``(N, C)``; returns ``(N, M)``."""
        a = None
        for k in range(self.n_layers):
            drive = torch.addmm(-self.lam[k], x0, self.S[k].t())  # S X0 - lambda
            if a is not None:
                # A - W A, as one product with (I - W)^T.
                eye = torch.eye(self.n_atoms, device=a.device, dtype=a.dtype)
                drive = torch.addmm(drive, a, (eye - self.W[k]).t())
            a = torch.sigmoid(drive)
        assert a is not None
        return a

    def preactivation(self, x0: torch.Tensor) -> torch.Tensor:
        """``D A(K) - lambda(K)`` for pixels ``(N, C)``: the output before the final sigmoid."""
        return torch.addmm(-self.lam_out, self.codes(x0), self.dictionary.t())

    def forward(self, x0: torch.Tensor) -> torch.Tensor:
        """``X_hat`` for pixels ``(N, C)``; ``(N, C)``."""
        z = self.preactivation(x0)
        return torch.sigmoid(z) if self.final_sigmoid else z

    def forward_image(self, x0: torch.Tensor) -> torch.Tensor:
        """``X_hat`` for an image or a batch of patches ``(..., C, H, W)``."""
        c, h, w = x0.shape[-3:]
        lead = x0.shape[:-3]
        pix = x0.reshape(-1, c, h * w).transpose(1, 2).reshape(-1, c)
        out = self.forward(pix)
        return out.reshape(-1, h * w, c).transpose(1, 2).reshape(*lead, c, h, w)

    @torch.no_grad()
    def clamp_weights(self, bound: float) -> None:
        """Keep ``W``, ``S`` and ``D_raw`` in ``[-bound, bound]`` (stage 1's constraint)."""
        for p in (self.W, self.S, self.D_raw):
            p.clamp_(-bound, bound)

    # -- initialisation --------------------------------------------------------------------
    @torch.no_grad()
    def init_random(self, x_sample: torch.Tensor, generator: torch.Generator) -> None:
        """Small random weights, with biases centred on the data.

        Every pre-activation starts near zero with a spread of about one, so all
        sigmoids start in their responsive range; ``D`` and ``lambda(K)`` are set so
        that the initial output is the mean pixel (no jump, nothing saturated).

        Parameters
        ----------
        x_sample
            ``(N, C)`` representative input pixels.
        generator
            Seeded random generator.
        """
        k, m, c = self.n_layers, self.n_atoms, self.n_channels
        std = x_sample.std(dim=0).clamp_min(1e-3)
        mean = x_sample.mean(dim=0)
        # Weights scaled by 1/std would give unit spread but break the |w| < 1 bound
        # for flat channels, so they are capped at 1 (the stage 1 constraint).
        s = torch.randn(k, m, c, generator=generator) / math.sqrt(c)
        s = (s / std).clamp(-1.0, 1.0)
        self.S.copy_(s)
        self.lam.copy_(torch.einsum("kmc,c->km", s, mean))
        self.W.copy_(torch.eye(m).expand(k, m, m) * 1.0)  # A - W A = 0 at start
        self.W.add_(torch.randn(k, m, m, generator=generator) * (0.1 / math.sqrt(m)))
        # Output: D A(K) with A ~ 0.5 gives 0.5 * sum_j D_cj; aim at the channel mean.
        d = torch.rand(c, m, generator=generator) * 0.5 + 0.5
        d = d * (mean / (0.5 * d.sum(dim=1))).unsqueeze(1)
        self.D_raw.copy_(d.sqrt().clamp(max=1.0))
        a = self.codes(x_sample)
        self.lam_out.copy_((a @ self.dictionary.t()).mean(0) - mean)

    @torch.no_grad()
    def init_ista(
        self, dictionary: torch.Tensor, x_sample: torch.Tensor, code_scale: torch.Tensor
    ) -> None:
        """Initialise the layers from ISTA for a given non-negative dictionary.

        For ``min ||D A - X||^2 + lambda |A|_1`` ISTA iterates
        ``A <- shrink(A - D^T D A / L + D^T X / L)``, i.e. ``W = D^T D / L`` and
        ``S = D^T / L`` with ``L`` the largest eigenvalue of ``D^T D``. Our
        sigmoid replaces the shrinkage, so the codes live in (0, 1): atoms are
        rescaled by ``code_scale`` (the typical size of each NMF code) so that
        codes of typical pixels sit mid-range, and the biases are set so that the
        first layer's pre-activations are centred.

        Parameters
        ----------
        dictionary
            ``(C, M)`` non-negative dictionary (e.g. from NMF of the input pixels).
        x_sample
            ``(N, C)`` representative input pixels.
        code_scale
            ``(M,)`` positive scale of each atom's codes in the NMF.
        """
        k, m, _ = self.n_layers, self.n_atoms, self.n_channels
        # D' = D * scale so that codes A' = A / scale are O(1), mid-sigmoid.
        d = (dictionary * code_scale.unsqueeze(0)).clamp_min(0)
        gram = d.t() @ d
        lip = float(torch.linalg.eigvalsh(gram.double()).max().clamp_min(1e-6))
        w = gram / lip
        s = d.t() / lip
        # Keep within the stage 1 bound while preserving the ratio W : S.
        big = float(max(w.abs().max(), s.abs().max()))
        if big > 1.0:
            w, s = w / big, s / big
        self.W.copy_(w.expand(k, m, m))
        self.S.copy_(s.expand(k, m, -1))
        # Centre each layer's drive on the data so sigmoids start responsive.
        a = None
        for layer in range(k):
            drive = x_sample @ s.t()
            if a is not None:
                drive = drive + a @ (torch.eye(m) - w).t()
            self.lam[layer].copy_(drive.mean(0))
            a = torch.sigmoid(drive - self.lam[layer])
        assert a is not None
        # Output layer: least-squares fit of the pixels from the final codes,
        # kept non-negative and within the bound, then the bias absorbs the offset.
        # Ridge normal equations in float64: lstsq's LAPACK driver gave different
        # answers from run to run on the same input (the same seed must give the same maps).
        a_c = (a - a.mean(0)).double()
        x_c = (x_sample - x_sample.mean(0)).double()
        gram = a_c.t() @ a_c + 1e-4 * torch.eye(m, dtype=torch.float64)
        sol = torch.linalg.solve(gram, a_c.t() @ x_c).float()  # (M, C)
        dmat = sol.t().clamp(0.0, 1.0)
        self.D_raw.copy_(dmat.sqrt())
        self.lam_out.copy_((a @ self.dictionary.t()).mean(0) - x_sample.mean(0))

    @torch.no_grad()
    def calibrate_sigmoid_output(self, x_sample: torch.Tensor) -> dict[str, float]:
        """Switch on the final sigmoid without a jump in the output (stage 1 -> 2).

        Fits, per channel, ``logit(z) ~ a z + b`` over the current linear outputs
        ``z``, then folds ``a`` into ``D`` (``D_raw *= sqrt(a)``) and ``b`` into
        ``lambda(K)``, so ``sigmoid(D' A - lambda') ~ z``. Returns the worst and
        mean absolute change of the output over the sample.
        """
        self.final_sigmoid = False
        z = self.forward(x_sample)
        zc = z.clamp(0.01, 0.99)
        target = torch.log(zc) - torch.log1p(-zc)
        zm = zc.mean(0)
        tm = target.mean(0)
        var = ((zc - zm) ** 2).mean(0).clamp_min(1e-8)
        a = (((zc - zm) * (target - tm)).mean(0) / var).clamp(0.5, 50.0)
        b = tm - a * zm
        self.D_raw.mul_(a.sqrt().unsqueeze(1))
        self.lam_out.copy_(a * self.lam_out - b)
        self.final_sigmoid = True
        change = (self.forward(x_sample) - z).abs()
        return {"max_change": float(change.max()), "mean_change": float(change.mean())}


class PatchDiscriminator(nn.Module):
    """Small strided-convolution discriminator: a single-channel patch to one score.

    Four 4x4 convolutions with stride 2 and leaky ReLUs (a DCGAN/pix2pix-style
    stack, ours), global average pooling, and a linear score with no sigmoid (the
    least-squares GAN loss works on the raw score).
    """

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        w = width
        self.features = nn.Sequential(
            nn.Conv2d(1, w, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(w, 2 * w, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(2 * w, 4 * w, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(4 * w, 4 * w, 3, stride=1, padding=1),
            nn.LeakyReLU(0.2),
        )
        self.score = nn.Linear(4 * w, 1)

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        """Scores ``(N,)`` for patches ``(N, 1, P, P)``."""
        f = self.features(patches).mean(dim=(-2, -1))
        return self.score(f).squeeze(-1)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return int(sum(np.prod(p.shape) for p in module.parameters() if p.requires_grad))
