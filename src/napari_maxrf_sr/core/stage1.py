"""Stage 1 of METHOD.md, one step at a time: self-supervised pretraining.

No final sigmoid, weights bounded. Each batch holds pixels of the one-scale-down copy
of the problem (input ``[up(Y_lr U); Z U]``, target ``Y_lr``; with
``down_colours="pixels"`` each such pixel is answered through its ``s x s`` photo
pixels, the answers averaged, ours) and ``s x s`` blocks of the real problem, whose
block means must match the scan, plus ``alpha1`` times the photo reconstruction. The
generator is per-pixel, so batches are pixels, not patches: far more signal per second
on a CPU.

Also what both stages share: the optimiser, the learning-rate schedule and the rows of
the down problem.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F

from .config import SRConfig
from .events import Stage
from .model import ListaGenerator
from .run_state import cpu_copy
from .sampling import TrainingData

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

    name = Stage.STAGE1
    #: Its part of a checkpoint.
    checkpoint_key = "stage1"

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
