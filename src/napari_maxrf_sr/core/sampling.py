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

from .normalisation import PhotoNormaliser
from .operators import (
    AcquisitionOperator,
    bilinear_taps,
    consistent_source,
    gaussian_kernel1d,
    upsample_bilinear,
)
from .photo_pixels import PhotoPixels


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


#: Largest table of down-problem pixels (inputs and targets) built in memory; bigger
#: scans compute each batch's pixels from the LR maps instead (same values, to rounding).
DOWN_TABLE_BYTES = 256 << 20
#: Largest table of the network's input for every photo pixel, grouped by scan pixel;
#: bigger paintings gather each batch's blocks from the scan and the photo instead.
HR_TABLE_BYTES = 256 << 20
#: Photo pixels converted to float at a time when the photo is brought onto the scan grid.
BAND_PIXELS = 1 << 22
#: Photo pixels gathered at a time when the table of the down problem's blocks is built.
TABLE_CHUNK_PIXELS = 1 << 18


class TrainingData:
    """Normalised LR maps and photo, with samplers for both training problems.

    Memory: the LR maps, the photo in its own pixel type (8-bit stays 8-bit), and
    small LR-sized tables; nothing of size ``B x H x W``.

    Parameters
    ----------
    y_lr
        ``(B, h, w)`` normalised LR maps.
    photo
        The photo, ``H = s h``: a :class:`~napari_maxrf_sr.core.photo_pixels.PhotoPixels`
        or an ``(H, W, 3)`` float32 array in ``[0, 1]``.
    op
        The acquisition operator ``U``.
    device
        Where batches are built.
    held_out_fraction
        Share of the down-problem pixels held out for the stage 1 check.
    seed
        Seeds the held-out split.
    photo_normaliser
        How the photo's ``[0, 1]`` colours become the network's input (default: the
        fixed map onto ``[0.1, 0.9]``).
    interpolation
        ``"bilinear"``: the XRF input is the bilinear upsampling of the scan (the
        paper); ``"consistent"``: of :func:`~napari_maxrf_sr.core.operators.consistent_source`,
        a smooth interpolation whose block means equal the scan (ours).
    photo_range
        ``"full"``: the photo as the normaliser gives it; ``"scan"``: its colours
        clipped, channel by channel, to the range of the photo averaged over scan
        pixels (``U Z``, the down problem's photo), so that the HR problem asks the
        network for no colour outside what it learned from (ours). The clipped
        normaliser is :attr:`photo_normaliser` afterwards.
    down_colours
        How the down problem sees the photo. ``"mean"``: each scan pixel's mean
        colour ``U Z`` (the paper); ``"pixels"``: the photo's own pixels of each scan
        pixel, whose answers are averaged before they meet the target
        (:meth:`down_blocks`), so the network learns from the unmixed colours it is
        applied to (ours). Only for the block operator; :attr:`down_colours` says
        which one is used.
    """

    def __init__(
        self,
        y_lr: np.ndarray,
        photo: PhotoPixels | np.ndarray,
        op: AcquisitionOperator,
        device: torch.device,
        held_out_fraction: float = 0.05,
        seed: int = 0,
        photo_normaliser: PhotoNormaliser | None = None,
        interpolation: str = "bilinear",
        photo_range: str = "full",
        down_colours: str = "mean",
    ) -> None:
        self.op = op
        self.s = op.scale
        self.device = device
        self.interpolation = interpolation
        # Averaging the answers of a block's pixels is the block operator; a wide beam
        # would need each block's neighbours too, so it keeps the mean colours.
        self.down_colours = "pixels" if down_colours == "pixels" and op.is_block else "mean"
        self.y_lr = torch.from_numpy(np.ascontiguousarray(y_lr)).to(device)
        self.src = self._source(y_lr)  # what the XRF input interpolates
        if not isinstance(photo, PhotoPixels):
            photo = PhotoPixels(np.asarray(photo, dtype=np.float32))
        raw, self._rgb_unit = photo.channels_first_tensor()
        self._rgb_raw = raw.to(device)  # (3, H, W), 8-bit for 8-bit photos
        self.photo_normaliser = photo_normaliser or PhotoNormaliser.fixed()
        self.n_maps, self.h, self.w = self.y_lr.shape
        # Context needed around a block for U: the Gaussian's radius, in whole LR pixels.
        radius = 0 if op.is_block else (gaussian_kernel1d(op.psf_sigma).numel() - 1) // 2
        self.margin = -(-radius // self.s)
        self._pad = 1  # LR halo for the bilinear upsampling (replicated at the borders)
        self.rgb_lr = self._photo_down()
        if photo_range == "scan":
            flat = self.rgb_lr.reshape(3, -1)
            self.photo_normaliser = self.photo_normaliser.clipped(
                flat.amin(1).cpu().numpy(), flat.amax(1).cpu().numpy())
        self._build_down_problem(held_out_fraction, seed)
        self._build_hr_table()

    def _source(self, y: np.ndarray | torch.Tensor) -> torch.Tensor:
        """The LR values that the XRF input channels interpolate (bilinearly)."""
        if self.interpolation == "bilinear":
            return torch.as_tensor(y).to(self.device)
        arr = y.cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)
        return torch.from_numpy(consistent_source(arr, self.s)).to(self.device)

    # -- the photo -----------------------------------------------------------------------
    def rgb_values(self, raw: torch.Tensor) -> torch.Tensor:
        """Raw photo values ``(3, ...)`` as the network's normalised float input."""
        z = raw.float()
        if self._rgb_unit != 1.0:
            z = z / self._rgb_unit
        return self.photo_normaliser.apply_channels_first(z)

    def _photo_down(self) -> torch.Tensor:
        """``U Z``: the normalised photo on the scan's grid, ``(3, h, w)``, band by band.

        Each band of LR rows reads ``margin`` more rows on each side, the blur's reach,
        so the bands join exactly.
        """
        s, m = self.s, self.margin
        out = torch.empty(3, self.h, self.w, device=self.device)
        rows = max(1, BAND_PIXELS // (s * s * self.w))
        with torch.no_grad():
            for r0 in range(0, self.h, rows):
                r1 = min(self.h, r0 + rows)
                a, b = max(0, r0 - m), min(self.h, r1 + m)
                z = self.rgb_values(self._rgb_raw[:, s * a : s * b])
                out[:, r0:r1] = self.op.down(z)[:, r0 - a : r1 - a]
        return out

    # -- the one-scale-down copy -----------------------------------------------------------
    def _build_down_problem(self, held_out_fraction: float, seed: int) -> None:
        """Input ``[up(U Y_lr); U Z]`` on the LR grid, target ``Y_lr`` (answer known).

        Small scans keep the whole table of pixels; large ones keep only ``U Y_lr``
        (``s^2`` times smaller than the scan) and interpolate the drawn pixels. The
        held-out pixels are whole ``s x s`` blocks of the LR grid, so that the held-out
        check can project the answer onto its (known) scan, as the final answer is.
        """
        s = self.s
        hc, wc = (self.h // s) * s, (self.w // s) * s  # crop to whole blocks
        self._wc = wc
        self.has_down_problem = hc >= 2 * s and wc >= 2 * s
        self.down_x = self.down_y = None
        if not self.has_down_problem:
            self.train_idx = self.held_out_idx = torch.zeros(0, dtype=torch.long)
            return
        with torch.no_grad():
            self._y_down = self.op.down(self.y_lr[:, :hc, :wc])  # (B, hc / s, wc / s)
            self._src_down = self._source(self._y_down)
        n = hc * wc
        if n * (2 * self.n_maps + 3) * 4 <= DOWN_TABLE_BYTES:
            with torch.no_grad():
                y_down_up = upsample_bilinear(self._src_down, s)
            x = torch.cat([y_down_up, self.rgb_lr[:, :hc, :wc]], dim=0)  # (C, hc, wc)
            self.down_x = x.reshape(x.shape[0], -1).t().contiguous()  # (n, C)
            self.down_y = self.y_lr[:, :hc, :wc].reshape(self.n_maps, -1).t().contiguous()
        else:
            self._row_weights = bilinear_taps(hc, s, self.device)
            self._col_weights = bilinear_taps(wc, s, self.device)
        self._down_block_table = None
        if self.down_colours == "pixels":
            # The down scan interpolated straight to the photo's pixels (factor s^2).
            self._hr_row_taps = bilinear_taps(s * hc, s * s, self.device)
            self._hr_col_taps = bilinear_taps(s * wc, s * s, self.device)
            if n * s * s * (self.n_maps + 3) * 4 <= DOWN_TABLE_BYTES:  # gathers 8x faster
                # Built in chunks: the gather's index tensors would be twice the table.
                table = torch.empty(n, s * s, self.n_maps + 3, device=self.device)
                step = max(1, TABLE_CHUNK_PIXELS // (s * s))
                with torch.no_grad():
                    for k in range(0, n, step):
                        idx = torch.arange(k, min(n, k + step), device=self.device)
                        table[k : k + step] = self.down_blocks_at(idx)[0]
                self._down_block_table = table
        # Held-out blocks: each block's s * s pixels consecutive in held_out_idx.
        nbh, nbw = hc // s, wc // s
        rng = np.random.default_rng(seed + 7919)
        blocks = rng.permutation(nbh * nbw)
        n_held_out = int(round(held_out_fraction * nbh * nbw))
        if held_out_fraction > 0:  # at least one block, and at least one to train on
            n_held_out = min(max(1, n_held_out), nbh * nbw - 1)
        bi, bj = blocks // nbw, blocks % nbw
        dr, dc = np.divmod(np.arange(s * s), s)
        pix = ((bi[:, None] * s + dr[None]) * wc + bj[:, None] * s + dc[None])  # (blocks, s*s)
        self.held_out_idx = torch.from_numpy(pix[:n_held_out].reshape(-1)).to(self.device)
        self.train_idx = torch.from_numpy(pix[n_held_out:].reshape(-1)).to(self.device)
        self._held_out = None

    def _down_at(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs ``(n, C)`` and targets ``(n, B)`` of down-problem pixels ``idx``."""
        if self.down_x is not None:
            return self.down_x[idx], self.down_y[idx]
        r, c = idx // self._wc, idx % self._wc
        up = self._down_scan_at(r, c, self._row_weights, self._col_weights)  # (B, n)
        x = torch.cat([up, self.rgb_lr[:, r, c]], dim=0).t().contiguous()
        return x, self.y_lr[:, r, c].t().contiguous()

    def _down_scan_at(self, rows: torch.Tensor, cols: torch.Tensor, row_taps, col_taps
                      ) -> torch.Tensor:
        """The down problem's scan, bilinearly interpolated at ``rows, cols`` (any shape).

        ``row_taps, col_taps`` are :func:`~.operators.bilinear_taps` of the grid ``rows, cols``
        index; the result has shape ``(B, *rows.shape)``.
        """
        r0, r1, lr = (t[rows] for t in row_taps)
        c0, c1, lc = (t[cols] for t in col_taps)
        g = self._src_down
        top = g[:, r0, c0] * (1 - lc) + g[:, r0, c1] * lc
        bottom = g[:, r1, c0] * (1 - lc) + g[:, r1, c1] * lc
        return top * (1 - lr) + bottom * lr

    def _draw_train_pixels(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` random training pixels of the down problem (indices, with repeats)."""
        pick = torch.randint(len(self.train_idx), (n,), generator=generator,
                             device=generator.device)
        return self.train_idx[pick.to(self.device)]

    def down_pixels(
        self, n: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` random pixels of the down problem: inputs ``(n, C)``, targets ``(n, B)``."""
        return self._down_at(self._draw_train_pixels(n, generator))

    def down_blocks(
        self, n: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` random scan pixels of the down problem, seen through their photo pixels.

        Returns
        -------
        x
            ``(n, s^2, C)``: for each of the scan pixel's ``s x s`` photo pixels, the
            down problem's scan interpolated to that photo pixel and its own colour.
        y
            ``(n, B)``: the scan pixel, the target of the mean of the ``s^2`` answers.
        """
        return self.down_blocks_at(self._draw_train_pixels(n, generator))

    def down_blocks_at(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`down_blocks` of the down-problem pixels ``idx`` (scan pixels)."""
        s = self.s
        r, c = idx // self._wc, idx % self._wc
        if self._down_block_table is not None:
            return self._down_block_table[idx], self.y_lr[:, r, c].t().contiguous()
        k = torch.arange(s * s, device=self.device)
        rows = r[:, None] * s + (k // s)[None]  # (n, s^2) photo rows
        cols = c[:, None] * s + (k % s)[None]
        z = self.rgb_values(self._rgb_raw[:, rows, cols])  # (3, n, s^2)
        up = self._down_scan_at(rows, cols, self._hr_row_taps, self._hr_col_taps)
        x = torch.cat([up, z], dim=0).permute(1, 2, 0).contiguous()
        return x, self.y_lr[:, r, c].t().contiguous()

    def down_held_out(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The held-out pixels of the down problem."""
        if self._held_out is None:
            self._held_out = self._down_at(self.held_out_idx)
        return self._held_out

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
        # Drawn where the generator lives: a GPU generator needs no copy (and no wait).
        i = torch.randint(self.h - size + 1, (n,), generator=generator, device=generator.device)
        j = torch.randint(self.w - size + 1, (n,), generator=generator, device=generator.device)
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
        ar = torch.arange(win, device=self.device) - pad
        # Clamped indices replicate the border, as padding the whole image would.
        rows = (i.to(self.device)[:, None] + ar[None, :]).clamp_(0, self.h - 1)
        cols = (j.to(self.device)[:, None] + ar[None, :]).clamp_(0, self.w - 1)
        lr_win = self.src[:, rows[:, :, None], cols[:, None, :]]  # (B, N, win, win)
        lr_win = lr_win.permute(1, 0, 2, 3)
        up = F.interpolate(lr_win, scale_factor=s, mode="bilinear", align_corners=False)
        up = up[..., s * pad : s * (pad + size), s * pad : s * (pad + size)]
        big = s * size
        hr_ar = torch.arange(big, device=self.device)
        hr_rows = (i.to(self.device) * s)[:, None] + hr_ar[None, :]
        hr_cols = (j.to(self.device) * s)[:, None] + hr_ar[None, :]
        z = self.rgb_values(self._rgb_raw[:, hr_rows[:, :, None], hr_cols[:, None, :]])
        z = z.permute(1, 0, 2, 3)
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

    # -- whole blocks of the HR problem, as pixel rows ---------------------------------------
    def _build_hr_table(self) -> None:
        """The input of every photo pixel, grouped by its scan pixel, when it fits.

        ``(h w, s^2, C)``: a batch of blocks is then one row gather instead of windows
        cut from the scan and the photo. Only for the block operator (a wide beam needs
        context around each block) and within :data:`HR_TABLE_BYTES`.
        """
        self._hr_table = None
        s, c = self.s, self.n_maps + 3
        if self.margin or self.h * self.w * s * s * c * 4 > HR_TABLE_BYTES:
            return
        with torch.no_grad():
            x0 = torch.cat([upsample_bilinear(self.src, s),
                            self.rgb_values(self._rgb_raw)], dim=0)  # (C, H, W)
            x0 = x0.reshape(c, self.h, s, self.w, s).permute(1, 3, 2, 4, 0)
            self._hr_table = x0.reshape(self.h * self.w, s * s, c).contiguous()
        self._y_rows = self.y_lr.reshape(self.n_maps, -1).t().contiguous()  # (h w, B)

    def hr_blocks(self, n: int, generator: torch.Generator
                  ) -> tuple[torch.Tensor, torch.Tensor] | None:
        """``n`` random scan pixels: inputs ``(n, s^2, C)`` of their blocks, scan ``(n, B)``.

        ``None`` without the table (a wide beam, or a painting too large for it); use
        :meth:`hr_patches` then.
        """
        if self._hr_table is None:
            return None
        idx = torch.randint(self.h * self.w, (n,), generator=generator,
                            device=generator.device).to(self.device)
        return self._hr_table[idx], self._y_rows[idx]

    def sample_pixels_for_init(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``(n, C)`` HR input pixels drawn across the image (for initialisation)."""
        blocks = max(1, n // (self.s * self.s))
        i, j = self.random_lr_corners(blocks, 1, generator)
        x0 = self.hr_patches(i, j, 1).x0
        return x0.permute(0, 2, 3, 1).reshape(-1, x0.shape[1])
