"""Training data drawn on the fly: pixels, blocks and patches of ``X0 = [Y_lr_up; Z]``.

Nothing of size ``H x W`` is built besides the photo itself: the bilinear
upsampling is computed per window from the LR maps (with a one-pixel halo, which
reproduces full-image interpolation exactly), so training memory does not grow
with the painting beyond its inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .operators import AcquisitionOperator, gaussian_kernel1d, upsample_bilinear


@dataclass
class HRBatch:
    """Patches of the HR problem.

    Attributes
    ----------
    x0
        ``(N, C, P, P)`` network input ``[Y_lr_up; Z]`` (with ``P = s * (p + 2 m)``).
    y_lr
        ``(N, B, p, p)`` measured LR values under the patch interior.
    margin
        ``m``: LR pixels of context on each side that ``U`` needs (0 for the block mean).
    y_window
        ``(N, B, p + 2m, p + 2m)`` measured LR values of the whole window, when
        ``m > 0`` (the projection of a wide-beam operator needs them).
    """

    x0: torch.Tensor
    y_lr: torch.Tensor
    margin: int
    y_window: torch.Tensor | None = None


class TrainingData:
    """Normalised LR maps and photo, with samplers for both training problems.

    Parameters
    ----------
    y_lr
        ``(B, h, w)`` normalised LR maps.
    rgb
        ``(3, H, W)`` normalised photo, ``H = s h``.
    op
        The acquisition operator ``U``.
    device
        Where batches are built.
    validation_fraction
        Share of the down-problem pixels held out for the stage 1 check.
    seed
        Seeds the held-out split.
    """

    def __init__(
        self,
        y_lr: np.ndarray,
        rgb: np.ndarray,
        op: AcquisitionOperator,
        device: torch.device,
        validation_fraction: float = 0.05,
        seed: int = 0,
    ) -> None:
        self.op = op
        self.s = op.scale
        self.device = device
        self.y_lr = torch.from_numpy(np.ascontiguousarray(y_lr)).to(device)
        self.rgb = torch.from_numpy(np.ascontiguousarray(rgb)).to(device)
        self.n_maps, self.h, self.w = self.y_lr.shape
        # Context needed around a block for U: the Gaussian's radius, in whole LR pixels.
        radius = 0 if op.is_block else (gaussian_kernel1d(op.psf_sigma).numel() - 1) // 2
        self.margin = -(-radius // self.s)
        # Replicate-padded LR maps: windows of it interpolate exactly like the full image.
        pad = 1
        self._pad = pad
        self._y_pad = F.pad(self.y_lr[None], (pad, pad, pad, pad), mode="replicate")[0]
        self._build_down_problem(validation_fraction, seed)

    # -- the one-scale-down copy -----------------------------------------------------------
    def _build_down_problem(self, validation_fraction: float, seed: int) -> None:
        """Input ``[up(U Y_lr); U Z]`` on the LR grid, target ``Y_lr`` (answer known)."""
        s = self.s
        hc, wc = (self.h // s) * s, (self.w // s) * s  # crop to whole blocks
        self.has_down_problem = hc >= 2 * s and wc >= 2 * s
        if not self.has_down_problem:
            self.down_x = self.down_y = None
            self.train_idx = self.val_idx = torch.zeros(0, dtype=torch.long)
            return
        y = self.y_lr[:, :hc, :wc]
        with torch.no_grad():
            y_down = self.op.down(y)
            y_down_up = upsample_bilinear(y_down, s)
            z_down = self.op.down(self.rgb)
            z_down = z_down[:, :hc, :wc]
        x = torch.cat([y_down_up, z_down], dim=0)  # (C, hc, wc)
        self.down_x = x.reshape(x.shape[0], -1).t().contiguous()  # (n, C)
        self.down_y = y.reshape(self.n_maps, -1).t().contiguous()  # (n, B)
        n = self.down_x.shape[0]
        rng = np.random.default_rng(seed + 7919)
        perm = torch.from_numpy(rng.permutation(n))
        n_val = int(round(validation_fraction * n))
        n_val = min(n_val, n - 1)
        self.val_idx = perm[:n_val].to(self.device)
        self.train_idx = perm[n_val:].to(self.device)

    def down_pixels(
        self, n: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` random pixels of the down problem: inputs ``(n, C)``, targets ``(n, B)``."""
        pick = torch.randint(len(self.train_idx), (n,), generator=generator)
        idx = self.train_idx[pick.to(self.device)]
        return self.down_x[idx], self.down_y[idx]

    def down_validation(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The held-out pixels of the down problem."""
        return self.down_x[self.val_idx], self.down_y[self.val_idx]

    # -- the HR problem ------------------------------------------------------------------
    def random_lr_corners(
        self, n: int, p: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Top-left LR coordinates of ``n`` windows of ``p + 2 m`` LR pixels inside the image."""
        size = p + 2 * self.margin
        if size > self.h or size > self.w:
            raise ValueError(
                f"patches of {size} scan pixels do not fit in maps of {self.h} x {self.w}; "
                "use a smaller patch size"
            )
        i = torch.randint(self.h - size + 1, (n,), generator=generator)
        j = torch.randint(self.w - size + 1, (n,), generator=generator)
        return i, j

    def hr_patches(self, i: torch.Tensor, j: torch.Tensor, p: int) -> HRBatch:
        """HR input patches whose interior covers LR windows ``[i+m, i+m+p) x [j+m, j+m+p)``.

        Parameters
        ----------
        i, j
            ``(N,)`` top-left LR coordinates (including the margin).
        p
            Interior size in LR pixels (the loss is computed there).
        """
        s, m, pad = self.s, self.margin, self._pad
        size = p + 2 * m  # LR window without halo
        win = size + 2 * pad
        ar = torch.arange(win, device=self.device)
        rows = (i.to(self.device)[:, None] + ar[None, :])  # padded coordinates
        cols = (j.to(self.device)[:, None] + ar[None, :])
        lr_win = self._y_pad[:, rows[:, :, None], cols[:, None, :]]  # (B, N, win, win)
        lr_win = lr_win.permute(1, 0, 2, 3)
        up = F.interpolate(lr_win, scale_factor=s, mode="bilinear", align_corners=False)
        up = up[..., s * pad : s * (pad + size), s * pad : s * (pad + size)]
        big = s * size
        hr_ar = torch.arange(big, device=self.device)
        hr_rows = (i.to(self.device) * s)[:, None] + hr_ar[None, :]
        hr_cols = (j.to(self.device) * s)[:, None] + hr_ar[None, :]
        z = self.rgb[:, hr_rows[:, :, None], hr_cols[:, None, :]].permute(1, 0, 2, 3)
        x0 = torch.cat([up, z], dim=1)
        inner = torch.arange(p, device=self.device)
        lr_rows = (i.to(self.device) + m)[:, None] + inner[None, :]
        lr_cols = (j.to(self.device) + m)[:, None] + inner[None, :]
        y = self.y_lr[:, lr_rows[:, :, None], lr_cols[:, None, :]].permute(1, 0, 2, 3)
        window = None
        if m:
            ar = torch.arange(size, device=self.device)
            w_rows = i.to(self.device)[:, None] + ar[None, :]
            w_cols = j.to(self.device)[:, None] + ar[None, :]
            window = self.y_lr[:, w_rows[:, :, None], w_cols[:, None, :]].permute(1, 0, 2, 3)
        return HRBatch(x0.contiguous(), y.contiguous(), m, window)

    def sample_pixels_for_init(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``(n, C)`` HR input pixels drawn across the image (for initialisation)."""
        blocks = max(1, n // (self.s * self.s))
        i, j = self.random_lr_corners(blocks, 1, generator)
        x0 = self.hr_patches(i, j, 1).x0
        return x0.permute(0, 2, 3, 1).reshape(-1, x0.shape[1])


def flip_batch(batch: HRBatch, generator: torch.Generator) -> HRBatch:
    """Random horizontal and vertical flips, the same for the input and the LR target."""
    x0, y, win = batch.x0, batch.y_lr, batch.y_window
    for dim in (-1, -2):
        flip = torch.rand(x0.shape[0], generator=generator) < 0.5
        if bool(flip.any()):
            f = flip.to(x0.device)[:, None, None, None]
            x0 = torch.where(f, x0.flip(dim), x0)
            y = torch.where(f, y.flip(dim), y)
            win = None if win is None else torch.where(f, win.flip(dim), win)
    return HRBatch(x0, y, batch.margin, win)
