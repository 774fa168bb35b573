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

#: Dictionary weights below this are 0 in the forward pass: far below float32's
#: resolution of any output (about 1e-8 of a map's range), yet far above its
#: denormal range (below 1.2e-38), where CPU arithmetic is many times slower.
NEGLIGIBLE_ATOM_WEIGHT = 1e-20


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
    atoms_xrf_only, atoms_rgb_only
        The coupled dictionary of the paper: the last ``atoms_xrf_only + atoms_rgb_only``
        atoms belong to one modality only (their rows of the other modality are zero),
        the others are common to both. ``0, 0`` gives one dense dictionary.
    residual
        Add the XRF channels of the input (the interpolated scan) to the XRF output,
        so the network predicts only what the interpolation misses (ours); the
        output then has no final sigmoid.
    linear_path
        Add a learned linear function of the input to the XRF output, before the
        final sigmoid: ``D A - lambda + L X0``. Initialised by least squares on the
        one-scale-down problem (:meth:`fit_linear_path`), the network starts from the
        best per-pixel linear prediction, and the unfolded layers learn what it
        misses (ours).

    Attributes
    ----------
    W : nn.Parameter
        ``(K, M, M)``, one ``W(k)`` per layer.
    S : nn.Parameter
        ``(K, M, C)``, one ``S(k)`` per layer.
    lam : nn.Parameter
        ``(K, M)``, the bias vectors ``lambda(k)``.
    D_raw : nn.Parameter
        ``(C, M)``; the dictionary is ``D = D_raw ** 2 * mask``, non-negative.
    lam_out : nn.Parameter
        ``(C,)``, ``lambda(K)``.
    out_blend : buffer
        0: linear output ``D A - lambda`` (stage 1), 1: ``sigmoid(D A - lambda)``; in
        between, a blend of the two, so the sigmoid is switched on without a jump.
    """

    def __init__(self, n_channels: int, n_atoms: int = 64, n_layers: int = 5, *,
                 atoms_xrf_only: int = 0, atoms_rgb_only: int = 0,
                 residual: bool = False, linear_path: bool = False) -> None:
        super().__init__()
        self.n_channels = int(n_channels)
        self.n_maps = self.n_channels - 3
        self.n_atoms = int(n_atoms)
        self.n_layers = int(n_layers)
        self.residual = bool(residual)
        k, m, c = self.n_layers, self.n_atoms, self.n_channels
        if atoms_xrf_only < 0 or atoms_rgb_only < 0 or atoms_xrf_only + atoms_rgb_only >= m:
            raise ValueError("the modality-only atoms must leave at least one common atom")
        self.atoms_xrf_only, self.atoms_rgb_only = int(atoms_xrf_only), int(atoms_rgb_only)
        self.W = nn.Parameter(torch.zeros(k, m, m))
        self.S = nn.Parameter(torch.zeros(k, m, c))
        self.lam = nn.Parameter(torch.zeros(k, m))
        self.D_raw = nn.Parameter(torch.zeros(c, m))
        self.lam_out = nn.Parameter(torch.zeros(c))
        self.linear_path = bool(linear_path)
        if self.linear_path:
            self.L = nn.Parameter(torch.zeros(self.n_maps, c))
        mask = torch.ones(c, m)
        common = m - atoms_xrf_only - atoms_rgb_only
        mask[self.n_maps :, common : common + atoms_xrf_only] = 0.0  # XRF-only atoms
        mask[: self.n_maps, common + atoms_xrf_only :] = 0.0  # photo-only atoms
        self.register_buffer("atom_mask", mask, persistent=False)
        self.register_buffer("eye", torch.eye(m), persistent=False)
        # The hand-over of stage 1 to stage 2: blend weight and the calibration that
        # maps the sigmoid's input back to the linear output (see calibrate_sigmoid_output).
        self.register_buffer("out_blend", torch.tensor(0.0 if residual else 1.0))
        self.register_buffer("out_gain", torch.ones(c))
        self.register_buffer("out_offset", torch.zeros(c))

    @classmethod
    def from_config(cls, n_channels: int, cfg) -> ListaGenerator:
        """The generator that the settings ``cfg`` (an ``SRConfig``) describe."""
        xrf_only, rgb_only = cfg.atom_split()
        return cls(n_channels, cfg.n_atoms, cfg.n_layers, atoms_xrf_only=xrf_only,
                   atoms_rgb_only=rgb_only, residual=cfg.residual,
                   linear_path=cfg.linear_path)

    @property
    def final_sigmoid(self) -> bool:
        """Whether the output goes through the final sigmoid (fully or in part)."""
        return bool(self.out_blend > 0)

    @final_sigmoid.setter
    def final_sigmoid(self, on: bool) -> None:
        self.out_blend.fill_(1.0 if on and not self.residual else 0.0)
        self.out_gain.fill_(1.0)
        self.out_offset.fill_(0.0)

    @property
    def raw_dictionary(self) -> torch.Tensor:
        """``D_raw ** 2 * mask``, shape ``(C, M)``, before negligible weights are snapped."""
        return self.D_raw * self.D_raw * self.atom_mask

    @property
    def dictionary(self) -> torch.Tensor:
        """The non-negative dictionary ``D = D_raw ** 2 * mask``, shape ``(C, M)``.

        Entries below :data:`NEGLIGIBLE_ATOM_WEIGHT` are given as exactly 0 (their
        gradient is kept, so they can grow back): training drives unused weights
        geometrically towards 0, and once ``D_raw ** 2`` reaches the CPU's denormal
        range every product with ``D`` runs many times slower (``python -m
        benchmarks.denormals`` shows it).
        """
        d = self.raw_dictionary
        return d - torch.where(d < NEGLIGIBLE_ATOM_WEIGHT, d, 0.0).detach()

    def codes(self, x0: torch.Tensor) -> torch.Tensor:
        """Sparse codes ``A(K)`` for pixels ``x0`` of shape ``(N, C)``; returns ``(N, M)``.

        ``I - W(k)`` is formed once for all layers. (One product for the input terms
        of all layers was measured no faster on a CPU: its backward has to assemble
        the gradient of the whole ``(N, K M)`` product.)
        """
        iw_t = (self.eye - self.W).transpose(1, 2)  # A - W A = A (I - W)^T, per pixel row
        a = torch.sigmoid(torch.addmm(-self.lam[0], x0, self.S[0].t()))  # A(0) = 0
        for k in range(1, self.n_layers):
            drive = torch.addmm(-self.lam[k], x0, self.S[k].t())  # S X0 - lambda
            a = torch.sigmoid(torch.addmm(drive, a, iw_t[k]))
        return a

    def preactivation(self, x0: torch.Tensor) -> torch.Tensor:
        """``D A(K) - lambda(K)`` for pixels ``(N, C)``: the output before the final sigmoid.

        With the linear path, ``L X0`` is added to the XRF channels.
        """
        z = torch.addmm(-self.lam_out, self.codes(x0), self.dictionary.t())
        if not self.linear_path:
            return z
        b = self.n_maps
        return torch.cat([z[:, :b] + x0 @ self.L.t(), z[:, b:]], dim=1)

    @torch.no_grad()
    def fit_linear_path(self, x0: torch.Tensor, y: torch.Tensor, ridge: float = 1e-4) -> None:
        """Least-squares fit of ``L`` (and the XRF biases) on pixels with known answers.

        ``x0`` ``(N, C)`` inputs and ``y`` ``(N, B)`` targets (the down problem); the
        unfolded layers' current output is kept, so the XRF output afterwards is the
        best linear correction of it. Ridge-regularised, in float64.
        """
        if not self.linear_path:
            return
        b = self.n_maps
        rest = torch.addmm(-self.lam_out, self.codes(x0), self.dictionary.t())[:, :b]
        target = (y - (rest - self.out_offset[:b]) / self.out_gain[:b]).double()
        feats = torch.cat([x0.double(), torch.ones(len(x0), 1, dtype=torch.float64)], 1)
        gram = feats.t() @ feats
        gram += ridge * torch.trace(gram) / len(gram) * torch.eye(len(gram),
                                                                 dtype=torch.float64)
        coef = torch.linalg.solve(gram, feats.t() @ target)  # (C + 1, B)
        gain = self.out_gain[:b].double()
        self.L.copy_((coef[:-1] * gain).t().float())
        self.lam_out[:b] -= (coef[-1] * gain).float()

    def forward(self, x0: torch.Tensor) -> torch.Tensor:
        """``X_hat`` for pixels ``(N, C)``; ``(N, C)``."""
        z = self.preactivation(x0)
        t = float(self.out_blend)
        if t >= 1.0:
            out = torch.sigmoid(z)
        elif t <= 0.0:
            out = (z - self.out_offset) / self.out_gain
        else:
            out = (1.0 - t) * (z - self.out_offset) / self.out_gain + t * torch.sigmoid(z)
        if self.residual:
            b = self.n_maps
            out = torch.cat([x0[:, :b] + out[:, :b], out[:, b:]], dim=1)
        return out

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
        # Output: D A(K) with A ~ 0.5 gives 0.5 * sum_j D_cj; aim at the channel mean
        # (for a residual output, at a small correction around zero).
        d = (torch.rand(c, m, generator=generator) * 0.5 + 0.5) * self.atom_mask
        d = d * (mean / (0.5 * d.sum(dim=1).clamp_min(1e-6))).unsqueeze(1)
        if self.residual:
            d[: self.n_maps] *= 0.1
        self.D_raw.copy_(d.sqrt().clamp(max=1.0))
        a = self.codes(x_sample)
        target = mean.clone()
        if self.residual:
            target[: self.n_maps] = 0.0
        self.lam_out.copy_((a @ self.dictionary.t()).mean(0) - target)

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
        d = (dictionary * code_scale.unsqueeze(0)).clamp_min(0) * self.atom_mask
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
        target = x_sample.mean(0)
        if self.residual:  # the output is a correction of the input's interpolation
            dmat[: self.n_maps] *= 0.1
            target[: self.n_maps] = 0.0
        self.D_raw.copy_(dmat.sqrt())
        self.lam_out.copy_((a @ self.dictionary.t()).mean(0) - target)

    @torch.no_grad()
    def calibrate_sigmoid_output(self, x_sample: torch.Tensor) -> dict[str, float]:
        """Prepare the switch to the final sigmoid (stage 1 -> 2) without a jump.

        Fits, per channel, ``logit(z) ~ a z + b`` over the current linear outputs
        ``z``, then folds ``a`` into ``D`` (``D_raw *= sqrt(a)``) and ``b`` into
        ``lambda(K)``, so ``sigmoid(D' A - lambda') ~ z``, and keeps ``a, b`` so that the
        linear output is unchanged: with ``out_blend = 0`` the network still gives
        exactly what it gave before; raising ``out_blend`` to 1 over the first steps of
        stage 2 fades the sigmoid in. Returns the worst and mean absolute change the
        sigmoid alone would make over the sample (the jump that the blend avoids).
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
        if self.linear_path:
            self.L.mul_(a[: self.n_maps].unsqueeze(1))
        self.out_gain.copy_(a)
        self.out_offset.copy_(b)
        self.out_blend.fill_(1.0)
        change = (self.forward(x_sample) - z).abs()
        self.out_blend.fill_(0.0)
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
