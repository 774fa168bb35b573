"""One training step of each stage of METHOD.md, with its optimisers.

Stage 1 (self-supervised pretraining, no final sigmoid, weights bounded): each batch
holds pixels of the one-scale-down copy of the problem (input ``[up(Y_lr U); Z U]``,
target ``Y_lr``; with ``down_colours="pixels"`` each such pixel is answered through
its ``s x s`` photo pixels, the answers averaged, ours) and ``s x s`` blocks of the
real problem, whose block means must match the scan, plus ``alpha1`` times the photo
reconstruction. The generator is per-pixel, so batches are pixels, not patches: far
more signal per second on a CPU.

Stage 2 (adversarial): ``patch_size`` patches with flips, the projection onto the
scan inside the loss, pseudo-real patches, and the misclassification-focused
least-squares GAN of :mod:`napari_maxrf_sr.core.losses`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F

from .config import SRConfig
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
from .sampling import TrainingData, flip_batch

Terms = dict[str, torch.Tensor]


def adam(params, lr: float, device: torch.device) -> torch.optim.Adam:
    """Adam; on a GPU its fused form, on the CPU its multi-tensor (foreach) form.

    The network is small, so a step's cost is mostly per-operation overhead.
    """
    if device.type == "cuda":
        return torch.optim.Adam(params, lr=lr, fused=True)
    return torch.optim.Adam(params, lr=lr, foreach=True)


def lr_factor(schedule: str, progress: float) -> float:
    """Learning-rate multiplier at ``progress`` in [0, 1] of a stage (cosine to 5 %)."""
    if schedule == "constant":
        return 1.0
    p = min(max(progress, 0.0), 1.0)
    return 0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * p))


class DownBatch(NamedTuple):
    """Rows of the one-scale-down problem for one step.

    Attributes
    ----------
    x
        ``(rows, C)`` network inputs.
    y
        ``(rows / group, B)`` targets: the scan.
    group
        How many consecutive rows' answers are averaged to meet one target: ``s^2``
        when the down problem sees the photo's own pixels, 1 for mean colours.
    """

    x: torch.Tensor
    y: torch.Tensor
    group: int


def draw_down_batch(data: TrainingData, n_rows: int, gen: torch.Generator) -> DownBatch:
    """About ``n_rows`` rows of the down problem, as ``data.down_colours`` asks."""
    if data.down_colours == "pixels":
        ss = data.s * data.s
        x, y = data.down_blocks(max(1, n_rows // ss), gen)
        return DownBatch(x.reshape(-1, x.shape[-1]), y, ss)
    x, y = data.down_pixels(n_rows, gen)
    return DownBatch(x, y, 1)


def down_answer(out_xrf: torch.Tensor, group: int) -> torch.Tensor:
    """The network's answer to each down-problem target: ``group`` rows averaged."""
    if group == 1:
        return out_xrf
    return out_xrf.reshape(-1, group, out_xrf.shape[-1]).mean(1)


@dataclass(frozen=True)
class HeldOutCheck:
    """The network against plain interpolation on held-out blocks of the down problem.

    Both answers are projected onto the (known) scan of the down problem, as the final
    answer is, and compared with the known answer.
    """

    network_mse: float
    interpolation_mse: float

    @property
    def gain_db(self) -> float:
        """How much better the network is than interpolation, in dB (PSNR difference)."""
        return 10.0 * math.log10(max(self.interpolation_mse, 1e-30)
                                 / max(self.network_mse, 1e-30))


@torch.no_grad()
def held_out_check(model: ListaGenerator, data: TrainingData) -> HeldOutCheck | None:
    """Projected MSE of the network and of interpolation on the held-out blocks.

    ``None`` without a down problem (a scan too small for one).
    """
    if not data.has_down_problem or len(data.held_out_idx) == 0:
        return None
    x, y = data.down_held_out()
    b, ss = data.n_maps, data.s * data.s
    net_err = interp_err = 0.0
    # Whole held-out blocks at a time; photo pixels hold s^2 rows per down-problem pixel.
    step = ss * (4096 if data.down_colours == "mean" else max(1, 4096 // ss))
    for k in range(0, x.shape[0], step):
        xk, yk = x[k : k + step], y[k : k + step]
        target = yk.reshape(-1, ss, b)
        scan = target.mean(1, keepdim=True)  # the down problem's scan, known exactly
        if data.down_colours == "pixels":  # answered as in training: photo pixels averaged
            xp, _ = data.down_blocks_at(data.held_out_idx[k : k + step])
            net = down_answer(model(xp.reshape(-1, xp.shape[-1]))[:, :b], ss)
        else:
            net = model(xk)[:, :b]
        for answer, is_net in ((net, True), (xk[:, :b], False)):
            a = answer.reshape(-1, ss, b)
            if data.op.is_block:  # project onto the scan, as the final answer is
                a = a - a.mean(1, keepdim=True) + scan
            err = float(((a - target) ** 2).sum())
            if is_net:
                net_err += err
            else:
                interp_err += err
    n = y.numel()
    return HeldOutCheck(net_err / n, interp_err / n)


def held_out_loss(model: ListaGenerator, data: TrainingData) -> float | None:
    """Held-out MSE of the down problem (answer known), or ``None`` without one."""
    check = held_out_check(model, data)
    return None if check is None else check.network_mse


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
        """Stage 1 loss on one batch of down-problem pixels and HR blocks.

        Both kinds of pixels go through the network in one pass (fewer, larger matrix
        products); the HR blocks are whole ``s x s`` blocks whose means must reproduce
        the scan.
        """
        model, data, cfg = self.model, self.data, self.cfg
        b, s = data.n_maps, data.s
        n_down = (cfg.stage1_batch_pixels // 2
                  if data.has_down_problem and cfg.down_weight > 0 else 0)
        n_blocks = max(1, (cfg.stage1_batch_pixels - n_down)
                       // (s * s * (1 + 2 * data.margin) ** 2))
        down = draw_down_batch(data, n_down, gen) if n_down else None
        blocks = data.hr_blocks(n_blocks, gen)
        if blocks is None:  # a wide beam or a huge painting: windows, then the operator
            return self._image_batch_loss(gen, down, n_blocks)
        xh, y_scan = blocks
        c = xh.shape[-1]
        xh = xh.reshape(-1, c)
        n_rows = 0 if down is None else down.x.shape[0]
        x = xh if down is None else torch.cat([down.x, xh])
        out = model(x)
        oh = out[n_rows:]
        block_means = oh[:, :b].reshape(n_blocks, s * s, b).mean(1)
        cons = F.mse_loss(block_means, y_scan)
        rgb_hr = F.mse_loss(oh[:, b:], xh[:, b:])
        loss = cfg.consistency_weight * cons + cfg.alpha1 * rgb_hr
        terms: Terms = {"consistency": cons.detach(), "rgb": rgb_hr.detach()}
        if down is not None:
            loss = self._add_down_loss(loss, out[:n_rows], down, terms)
        terms["total"] = loss.detach()
        return loss, terms

    def _add_down_loss(self, loss: torch.Tensor, out: torch.Tensor, down: DownBatch,
                       terms: Terms) -> torch.Tensor:
        """``loss`` plus the down problem's terms on the network's output ``out``."""
        b, cfg = self.data.n_maps, self.cfg
        xrf = F.mse_loss(down_answer(out[:, :b], down.group), down.y)
        rgb = F.mse_loss(out[:, b:], down.x[:, b:])
        terms.update(down_xrf=xrf.detach(), down_rgb=rgb.detach())
        return loss + cfg.down_weight * xrf + cfg.alpha1 * rgb

    def _image_batch_loss(self, gen: torch.Generator, down: DownBatch | None, n_blocks: int
                          ) -> tuple[torch.Tensor, Terms]:
        """:meth:`batch_loss` with the HR blocks cut as windows (any operator, any size)."""
        model, data, cfg = self.model, self.data, self.cfg
        b = data.n_maps
        terms: Terms = {}
        loss = torch.zeros((), device=data.device)
        if down is not None:
            loss = self._add_down_loss(loss, model(down.x), down, terms)
        i, j = data.random_lr_corners(n_blocks, 1, gen)
        batch = data.hr_patches(i, j, 1)
        out = model.forward_image(batch.x0)
        m = batch.margin
        y_down = data.op.down(out[:, :b])[..., m : m + 1, m : m + 1]
        cons = F.mse_loss(y_down, batch.y_lr)
        rgb_hr = F.mse_loss(out[:, b:], batch.x0[:, b:])
        loss = loss + cfg.consistency_weight * cons + cfg.alpha1 * rgb_hr
        terms.update(consistency=cons.detach(), rgb=rgb_hr.detach(), total=loss.detach())
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
