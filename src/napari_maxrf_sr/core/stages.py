"""One training step of each stage of METHOD.md, with its optimisers.

Stage 1 (self-supervised pretraining, no final sigmoid, weights bounded): each batch
holds pixels of the one-scale-down copy of the problem (input ``[up(Y_lr U); Z U]``,
target ``Y_lr``) and ``s x s`` blocks of the real problem, whose block means must
match the scan, plus ``alpha1`` times the photo reconstruction. The generator is
per-pixel, so batches are pixels, not patches: far more signal per second on a CPU.

Stage 2 (adversarial): ``patch_size`` patches with flips, the projection onto the
scan inside the loss, pseudo-real patches, and the misclassification-focused
least-squares GAN of :mod:`napari_maxrf_sr.core.losses`.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from .config import SRConfig
from .losses import (
    best_guide_channels,
    discriminator_loss,
    generator_adversarial_loss,
    pseudo_real_patches,
)
from .model import ListaGenerator, PatchDiscriminator
from .operators import AcquisitionOperator
from .run_state import cpu_copy
from .sampling import TrainingData, flip_batch

Terms = dict[str, torch.Tensor]


def adam(params, lr: float, device: torch.device) -> torch.optim.Adam:
    """Adam; on a GPU its fused form, one kernel for all parameters.

    The network is small, so a step's cost on a GPU is mostly kernel launches.
    """
    return torch.optim.Adam(params, lr=lr, fused=device.type == "cuda")


def lr_factor(schedule: str, progress: float) -> float:
    """Learning-rate multiplier at ``progress`` in [0, 1] of a stage (cosine to 5 %)."""
    if schedule == "constant":
        return 1.0
    p = min(max(progress, 0.0), 1.0)
    return 0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * p))


@torch.no_grad()
def validation_loss(model: ListaGenerator, data: TrainingData) -> float | None:
    """Held-out MSE of the down problem (answer known), or ``None`` without one."""
    if not data.has_down_problem or len(data.val_idx) == 0:
        return None
    x, y = data.down_validation()
    total, n = 0.0, 0
    for k in range(0, x.shape[0], 1 << 15):
        out = model(x[k : k + (1 << 15)])[:, : data.n_maps]
        total += float(((out - y[k : k + (1 << 15)]) ** 2).sum())
        n += out.numel()
    return total / max(1, n)


class PretrainingStage:
    """Stage 1: the one-scale-down problem and agreement with the scan.

    Parameters
    ----------
    model
        The generator (already on ``device``).
    data
        Normalised training data.
    cfg
        Settings (``stage1_*``, ``alpha1``, ``down_weight``, ``consistency_weight``).
    device
        Where training runs.
    """

    name = "stage 1"

    def __init__(self, model: ListaGenerator, data: TrainingData, cfg: SRConfig,
                 device: torch.device) -> None:
        self.model, self.data, self.cfg = model, data, cfg
        self.opt = adam(model.parameters(), cfg.stage1_lr, device)

    def batch_loss(self, gen: torch.Generator) -> tuple[torch.Tensor, Terms]:
        """Stage 1 loss on one batch of down-problem pixels and HR blocks."""
        model, data, cfg = self.model, self.data, self.cfg
        b, s = data.n_maps, data.s
        terms: Terms = {}
        loss = torch.zeros((), device=data.device)
        n_down = (cfg.stage1_batch_pixels // 2
                  if data.has_down_problem and cfg.down_weight > 0 else 0)
        if n_down:
            x, y = data.down_pixels(n_down, gen)
            out = model(x)
            xrf = F.mse_loss(out[:, :b], y)
            rgb = F.mse_loss(out[:, b:], x[:, b:])
            loss = loss + cfg.down_weight * xrf + cfg.alpha1 * rgb
            terms["down_xrf"] = xrf.detach()
            terms["down_rgb"] = rgb.detach()
        # The real problem: whole s x s blocks (with the operator's margin), whose
        # block means must reproduce the scan.
        n_blocks = max(1, (cfg.stage1_batch_pixels - n_down)
                       // (s * s * (1 + 2 * data.margin) ** 2))
        i, j = data.random_lr_corners(n_blocks, 1, gen)
        batch = data.hr_patches(i, j, 1)
        out = model.forward_image(batch.x0)
        m = batch.margin
        y_down = data.op.down(out[:, :b])[..., m : m + 1, m : m + 1]
        cons = F.mse_loss(y_down, batch.y_lr)
        rgb_hr = F.mse_loss(out[:, b:], batch.x0[:, b:])
        loss = loss + cfg.consistency_weight * cons + cfg.alpha1 * rgb_hr
        terms["consistency"] = cons.detach()
        terms["rgb"] = rgb_hr.detach()
        terms["total"] = loss.detach()
        return loss, terms

    def step(self, progress: float, gen: torch.Generator) -> Terms:
        """One Adam step at ``progress`` (0 to 1) through the stage."""
        lr = self.lr(progress)
        for group in self.opt.param_groups:
            group["lr"] = lr
        loss, terms = self.batch_loss(gen)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.model.clamp_weights(self.cfg.stage1_weight_bound)
        return terms

    def lr(self, progress: float) -> float:
        """The learning rate at ``progress``."""
        return self.cfg.stage1_lr * lr_factor(self.cfg.lr_schedule, progress)

    def state_dict(self) -> dict[str, Any]:
        """The optimiser's state, as CPU copies."""
        return {"opt": cpu_copy(self.opt.state_dict())}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from :meth:`state_dict`'s output."""
        self.opt.load_state_dict(state["opt"])


class AdversarialStage:
    """Stage 2: patches, the projection inside the loss, and the least-squares GAN.

    Parameters
    ----------
    model, data, cfg, device
        As for :class:`PretrainingStage`.
    op
        The acquisition operator ``U``.
    patch_lr
        Patch size in scan pixels (whole blocks).
    """

    name = "stage 2"

    def __init__(self, model: ListaGenerator, data: TrainingData, cfg: SRConfig,
                 device: torch.device, op: AcquisitionOperator, patch_lr: int) -> None:
        self.model, self.data, self.cfg, self.op = model, data, cfg, op
        self.device, self.p_lr = device, patch_lr
        self.disc = PatchDiscriminator().to(device)
        self.opt_g = adam(model.parameters(), cfg.lr_g, device)
        self.opt_d = adam(self.disc.parameters(), cfg.lr_d, device)
        with torch.no_grad():
            guide, sign = best_guide_channels(data.y_lr, data.rgb_lr, cfg.abs_correlation_guide)
        self.guide, self.sign = guide.to(device), sign.to(device)

    def lr(self, progress: float) -> float:
        """The generator's learning rate at ``progress``."""
        return self.cfg.lr_g * lr_factor(self.cfg.lr_schedule, progress)

    def step(self, progress: float, gen_batch: torch.Generator,
             gen: torch.Generator) -> Terms:
        """One discriminator step and one generator step."""
        model, data, cfg, op = self.model, self.data, self.cfg, self.op
        b, m, p_lr = data.n_maps, data.margin, self.p_lr
        for group in self.opt_g.param_groups:
            group["lr"] = self.lr(progress)
        i, j = data.random_lr_corners(cfg.batch_size, p_lr, gen_batch)
        batch = data.hr_patches(i, j, p_lr)
        if cfg.flips:
            batch = flip_batch(batch, gen_batch)  # flips inputs and scan values together
        out = model.forward_image(batch.x0)
        y_hat, z_hat = out[:, :b], out[:, b:]
        down = op.down(y_hat)[..., m : m + p_lr, m : m + p_lr]
        cons = F.mse_loss(down, batch.y_lr)
        rgb_term = F.mse_loss(z_hat, batch.x0[:, b:])
        # Proj(g(X0)) on the patch: exact for the block mean; for a wide beam
        # the whole window's scan values are needed (a few CG steps).
        if op.is_block:
            y_proj = op.project(y_hat, batch.y_lr)
        else:
            y_proj = op.project(y_hat, batch.y_window, cg_iters=30)
        channels = torch.randint(b, (cfg.batch_size,), generator=gen_batch,
                                 device=gen_batch.device).to(self.device)
        beta = float(torch.rand((), generator=gen)) * cfg.beta_max
        rows = torch.arange(cfg.batch_size, device=self.device)
        fake = y_proj[rows, channels].unsqueeze(1)
        real = pseudo_real_patches(batch.x0[:, :b], batch.x0[:, b:], channels, self.guide,
                                   self.sign, beta, (cfg.rgb_low, cfg.rgb_high))
        # Discriminator step (generator output detached).
        d_fake, d_real = discriminator_loss(self.disc(real), self.disc(fake.detach()))
        self.opt_d.zero_grad(set_to_none=True)
        (d_fake + d_real).backward()
        self.opt_d.step()
        # Generator step.
        adv = generator_adversarial_loss(self.disc(fake))
        loss = cfg.consistency_weight * cons + cfg.alpha1 * rgb_term + cfg.alpha2 * adv
        terms = {"consistency": cons.detach(), "rgb": rgb_term.detach(),
                 "adv_g": adv.detach(), "d_fake": d_fake.detach(), "d_real": d_real.detach()}
        if cfg.stage2_down_weight > 0 and data.has_down_problem:
            x, y = data.down_pixels(cfg.stage1_batch_pixels // 4, gen_batch)
            down_xrf = F.mse_loss(model(x)[:, :b], y)
            loss = loss + cfg.stage2_down_weight * down_xrf
            terms["down_xrf"] = down_xrf.detach()
        terms["total"] = loss.detach()
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        return terms

    def state_dict(self) -> dict[str, Any]:
        """The discriminator and both optimisers, as CPU copies."""
        return {"disc": cpu_copy(self.disc.state_dict()),
                "opt_g": cpu_copy(self.opt_g.state_dict()),
                "opt_d": cpu_copy(self.opt_d.state_dict())}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from :meth:`state_dict`'s output."""
        self.disc.load_state_dict(state["disc"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
