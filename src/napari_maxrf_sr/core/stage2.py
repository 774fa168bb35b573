"""Stage 2 of METHOD.md, one step at a time: adversarial fine-tuning.

``patch_size`` patches with flips, the projection onto the scan inside the loss,
pseudo-real patches, and the misclassification-focused least-squares GAN of
:mod:`napari_maxrf_sr.core.losses`.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from .config import SRConfig
from .events import Stage
from .losses import (
    best_guide_channels,
    discriminator_loss,
    generator_adversarial_loss,
    matched_pseudo_real_patches,
    pseudo_real_patches,
    scan_crop_patches,
)
from .model import ListaGenerator, PatchDiscriminator
from .operators import AcquisitionOperator
from .run_state import cpu_copy
from .sampling import HRBatch, TrainingData
from .stage1 import Terms, adam, down_answer, draw_down_batch, lr_factor


def scan_windows_fit(data: TrainingData, patch_lr: int) -> bool:
    """Whether windows of the scan as large as a stage 2 patch fit in the scan.

    A patch of ``patch_lr`` scan pixels covers ``patch_lr * s`` photo pixels, and its
    real counterpart is a window of that many *scan* pixels (``pseudo_real='scan'``).
    """
    return patch_lr * data.s <= min(data.h, data.w)


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

    name = Stage.STAGE2
    #: Its part of a checkpoint.
    checkpoint_key = "stage2"

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
        # Too small a scan for windows: the matched mixture stands in (train says so).
        self.scan_windows = cfg.pseudo_real == "scan" and scan_windows_fit(data, patch_lr)

    def lr(self, progress: float) -> float:
        """The generator's learning rate at ``progress``."""
        return self.cfg.lr_g * lr_factor(self.cfg.lr_schedule, progress)

    def step(self, progress: float, gen_batch: torch.Generator,
             gen: torch.Generator) -> Terms:
        """One discriminator step and one generator step.

        The generator's gradient is taken on its output first, for the content terms
        and the adversarial term separately, so the adversarial term's share of it can
        be set (``adversarial_share``) and reported; the network then back-propagates
        their sum once.
        """
        model, data, cfg, op = self.model, self.data, self.cfg, self.op
        b, m, p_lr = data.n_maps, data.margin, self.p_lr
        for group in self.opt_g.param_groups:
            group["lr"] = self.lr(progress)
        self._fade_in_sigmoid(progress)
        i, j = data.random_lr_corners(cfg.batch_size, p_lr, gen_batch)
        batch = data.hr_patches(i, j, p_lr)
        if cfg.flips:
            batch = flip_batch(batch, gen_batch)  # flips inputs and scan values together
        out_graph = model.forward_image(batch.x0)
        out = out_graph.detach().requires_grad_(True)
        y_hat, z_hat = out[:, :b], out[:, b:]
        down = op.down(y_hat)[..., m : m + p_lr, m : m + p_lr]
        cons = F.mse_loss(down, batch.y_lr)
        rgb_term = F.mse_loss(z_hat, batch.x0[:, b:])
        content = cfg.consistency_weight * cons + cfg.alpha1 * rgb_term
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
        m_hr = m * data.s
        inner = (slice(None), slice(None), slice(m_hr, m_hr + p_lr * data.s),
                 slice(m_hr, m_hr + p_lr * data.s))
        fake = y_proj[rows, channels].unsqueeze(1)[inner]
        real = self._pseudo_real(batch, channels, beta, gen_batch, inner)
        # The discriminator judges fine detail: block means (the scan's, in a generated
        # patch) are taken out of both kinds; what is left is scaled to unit size.
        real, fake = self._detail(real), self._detail(fake, reference=real)
        # Discriminator step (generator output detached).
        real_scores, fake_scores = self.disc(real), self.disc(fake.detach())
        d_fake, d_real = discriminator_loss(real_scores, fake_scores)
        self.opt_d.zero_grad(set_to_none=True)
        (d_fake + d_real).backward()
        self.opt_d.step()
        # Generator step: content and adversarial gradients on the output, weighed.
        adv = generator_adversarial_loss(self.disc(fake))
        (g_content,) = torch.autograd.grad(content, out)
        (g_adv,) = torch.autograd.grad(adv, out, allow_unused=True)
        if g_adv is None:
            g_adv = torch.zeros_like(out)
        weight, share = self._adversarial_weight(g_content, g_adv)
        self.opt_g.zero_grad(set_to_none=True)
        out_graph.backward(g_content + weight * g_adv)
        loss = content + weight * adv.detach()
        terms = {"consistency": cons.detach(), "rgb": rgb_term.detach(),
                 "adv_g": adv.detach(), "d_fake": d_fake.detach(), "d_real": d_real.detach(),
                 "d_score_real": real_scores.detach().mean(),
                 "d_score_fake": fake_scores.detach().mean(), "adv_share": share}
        if cfg.stage2_down_weight > 0 and data.has_down_problem:
            down = draw_down_batch(data, cfg.stage1_batch_pixels // 4, gen_batch)
            down_xrf = F.mse_loss(down_answer(model(down.x)[:, :b], down.group), down.y)
            (cfg.stage2_down_weight * down_xrf).backward()
            loss = loss + cfg.stage2_down_weight * down_xrf.detach()
            terms["down_xrf"] = down_xrf.detach()
        terms["total"] = loss.detach()
        self.opt_g.step()
        return terms

    def _detail(self, patches: torch.Tensor, reference: torch.Tensor | None = None
                ) -> torch.Tensor:
        """Patches minus their block means, divided by the pseudo-real detail's RMS.

        ``reference`` (already transformed real patches) sets the scale for generated
        ones, so both kinds are scaled alike; without it the scale is measured here.
        """
        s = self.data.s
        means = F.avg_pool2d(patches, s)
        detail = patches - means.repeat_interleave(s, -2).repeat_interleave(s, -1)
        if reference is None:
            self._scale = detail.detach().square().mean().sqrt().clamp_min(1e-6)
        return detail / self._scale

    def _adversarial_weight(self, g_content: torch.Tensor, g_adv: torch.Tensor
                            ) -> tuple[torch.Tensor | float, torch.Tensor]:
        """The adversarial term's weight, and its realised share of the output gradient."""
        cfg = self.cfg
        norm_c, norm_a = g_content.norm(), g_adv.norm()
        if cfg.adversarial_weighting == "fixed":
            weight = cfg.alpha2
        else:
            ratio = cfg.adversarial_share / (1.0 - cfg.adversarial_share)
            weight = torch.where(norm_a > 0, ratio * norm_c / norm_a.clamp_min(1e-30),
                                 torch.zeros_like(norm_a))
        part = weight * norm_a
        return weight, part / (norm_c + part).clamp_min(1e-30)

    def _pseudo_real(self, batch, channels: torch.Tensor, beta: float,
                     generator: torch.Generator, inner: tuple[slice, ...]) -> torch.Tensor:
        """Pseudo-real patches (the interior, as large as the generated ones).

        Windows of the scan (``'scan'``, ours), or the paper's mixture of interpolated scan
        and photo, as it is (``'paper'``) or matched to the scan (``'matched'``, ours);
        where the scan is smaller than a patch, the matched mixture stands in.
        """
        cfg, data = self.cfg, self.data
        b = data.n_maps
        if self.scan_windows:
            return scan_crop_patches(data.y_lr, channels, self.p_lr * data.s, generator)
        if cfg.pseudo_real == "paper":
            centre = data.photo_normaliser.centre
            return pseudo_real_patches(batch.x0[:, :b], batch.x0[:, b:], channels, self.guide,
                                       self.sign, beta, (centre, centre))[inner]
        scan = batch.y_window if batch.y_window is not None else batch.y_lr
        return matched_pseudo_real_patches(batch.x0[:, :b], batch.x0[:, b:], scan, channels,
                                           self.guide, beta, data.s,
                                           project=self.op.is_block)[inner]

    def _fade_in_sigmoid(self, progress: float) -> None:
        """Raise the final sigmoid's blend from 0 to 1 over ``handover_fraction``."""
        model = self.model
        if model.residual or not self.cfg.stage2_final_sigmoid:
            return
        fraction = self.cfg.handover_fraction
        t = 1.0 if fraction <= 0 else min(1.0, progress / fraction)
        model.out_blend.fill_(max(float(model.out_blend), t))

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


def flip_batch(batch: HRBatch, generator: torch.Generator) -> HRBatch:
    """Random horizontal and vertical flips, the same for the input and the LR target."""
    x0, y, win = batch.x0, batch.y_lr, batch.y_window
    for dim in (-1, -2):
        flip = torch.rand(x0.shape[0], generator=generator, device=generator.device) < 0.5
        f = flip.to(x0.device)[:, None, None, None]
        x0 = torch.where(f, x0.flip(dim), x0)
        y = torch.where(f, y.flip(dim), y)
        win = None if win is None else torch.where(f, win.flip(dim), win)
    return HRBatch(x0, y, batch.margin, win)
