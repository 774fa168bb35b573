"""Tiled inference: the trained generator applied to a whole painting with bounded memory.

The generator is per-pixel once its input ``X0 = [Y_lr_up; Z]`` is built, and the
bilinear upsampling only needs one LR pixel of context, so the painting is cut into
bands of LR rows with a one-row halo. Each band is upsampled, run through the
network, brought back to the input's units and projected onto the scan (the block
projection acts block by block, so per-band projection is exact). Memory is the
output array plus one band, whatever the painting's size.

With the local calibration (``config.calibration_radius > 0``,
:mod:`~napari_maxrf_sr.core.calibration`) this takes two passes over the bands: the
first writes the network's maps and gathers their block means (and the photo's, for
the noise estimate), from which the
calibration's coefficients are computed on the scan's grid; the second calibrates and
projects each band.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from ..errors import InputError
from .calibration import apply_calibration, calibration_coefficients, photo_block_means
from .config import SRConfig
from .correction import correct_band, correction_source
from .model import ListaGenerator
from .normalisation import MapNormaliser, PhotoNormaliser, photo_normaliser_for
from .operators import (
    AcquisitionOperator,
    block_mean,
    consistent_source,
    project_consistent,
    upsample_halo_band,
)

#: Pixels per forward pass inside a band (bounds the network's activations).
_CHUNK_PIXELS = 1 << 16


def _bands(h: int, rows: int) -> Iterator[tuple[int, int]]:
    for r0 in range(0, h, rows):
        yield r0, min(h, r0 + rows)


@torch.no_grad()
def predict_normalised_band(
    generator: ListaGenerator,
    lr_band: torch.Tensor,
    rgb_band: torch.Tensor,
    scale: int,
) -> torch.Tensor:
    """Network output for a band of LR rows: ``(B, s (r1 - r0), W)`` normalised maps.

    Parameters
    ----------
    lr_band
        ``(B, r1 - r0 + 2, w + 2)`` normalised LR maps of the band's rows with one
        pixel of halo all round, replicated at the scan's borders (so the band's
        upsampling equals the full image's exactly).
        Its XRF values are :func:`network_source`'s, not necessarily the scan's; the
        upsampling is :func:`upsample_halo_band`.
    rgb_band
        ``(3, s (r1 - r0), W)`` normalised photo rows of the band.
    """
    s = scale
    n_maps = lr_band.shape[0]
    up = upsample_halo_band(lr_band, s)
    x0 = torch.cat([up, rgb_band], dim=0)
    c, hh, ww = x0.shape
    pix = x0.reshape(c, -1).t()
    out = torch.empty(pix.shape[0], n_maps, dtype=pix.dtype, device=pix.device)
    for k in range(0, pix.shape[0], _CHUNK_PIXELS):
        out[k : k + _CHUNK_PIXELS] = generator(pix[k : k + _CHUNK_PIXELS])[:, :n_maps]
    return out.t().reshape(n_maps, hh, ww)


def network_source(normaliser: MapNormaliser, lr_maps: np.ndarray, config: SRConfig,
                   scale: int) -> np.ndarray:
    """The normalised LR values that the network's XRF input interpolates, ``(B, h, w)``.

    The normalised scan itself (``interpolation="bilinear"``), or its consistent
    version (:func:`~napari_maxrf_sr.core.operators.consistent_source`), as in training.
    One LR-sized float32 array: the scan is ``s^2`` times smaller than the result.
    """
    normalised = normaliser.forward(lr_maps)
    if config.interpolation == "consistent":
        return consistent_source(normalised, scale)
    return normalised


def band_rows(config: SRConfig, scale: int, width: int) -> int:
    """LR rows per band of :func:`predict` for a photo ``width`` pixels wide.

    Tiled and distributed inference (:mod:`napari_maxrf_sr.core.tiled`) cuts the
    painting at the same rows, so that its maps equal :func:`predict`'s bit for bit.
    """
    return max(1, config.tile_pixels // max(1, scale * width))


def lr_rows_with_halo(lr_maps: np.ndarray, r0: int, r1: int) -> np.ndarray:
    """LR rows ``[r0 - 1, r1 + 1)`` in input units, border rows replicated."""
    rows = np.clip(np.arange(r0 - 1, r1 + 1), 0, lr_maps.shape[1] - 1)
    return np.asarray(lr_maps[:, rows])


def with_halo_columns(rows: np.ndarray) -> torch.Tensor:
    """``(B, r + 2, w)`` rows with a halo row each side -> ``(B, r + 2, w + 2)`` tensor.

    The columns are replicated at the scan's left and right borders: the one-pixel halo
    of :func:`upsample_halo_band`.
    """
    return torch.from_numpy(np.pad(rows, ((0, 0), (0, 0), (1, 1)), mode="edge"))


@torch.no_grad()
def predict_band(
    generator: ListaGenerator,
    normaliser: MapNormaliser,
    source_rows: np.ndarray,
    lr_rows: np.ndarray,
    rgb01_band: np.ndarray,
    op: AcquisitionOperator,
    photo_normaliser: PhotoNormaliser,
    *,
    device: torch.device | None = None,
    project: bool = True,
) -> np.ndarray:
    """One band of :func:`predict`: ``(B, s (r1 - r0), W)`` float32 maps in input units.

    Parameters
    ----------
    source_rows
        ``(B, r1 - r0 + 2, w)`` rows of :func:`network_source` with one row of halo
        above and below (:func:`lr_rows_with_halo`).
    lr_rows
        ``(B, r1 - r0, w)`` scan rows of the band in input units (for the projection).
    rgb01_band
        ``(s (r1 - r0), W, 3)`` photo rows, float in ``[0, 1]``.
    photo_normaliser
        The photo's normalisation used in training.
    project
        Apply the block projection onto the band's scan rows (block operator only).
    """
    dev = device or next(generator.parameters()).device
    s = op.scale
    gains = torch.from_numpy(normaliser.gains.astype(np.float64)).to(dev)
    rgb_band = photo_normaliser.apply(rgb01_band)
    pred = predict_normalised_band(generator, with_halo_columns(source_rows).to(dev),
                                   torch.from_numpy(rgb_band).to(dev), s)
    # Back to input units in float64, where the projection is exact to rounding.
    maps = (pred.double() - normaliser.zero_level) / gains[:, None, None]
    if project:
        lr = torch.from_numpy(np.ascontiguousarray(lr_rows)).to(dev).double()
        maps = project_consistent(op, maps, lr, nonnegative=True)
    return maps.float().cpu().numpy()


@torch.no_grad()
def calibrate_band(
    raw: np.ndarray,
    gain_rows: np.ndarray,
    offset_rows: np.ndarray,
    lr_rows: np.ndarray,
    op: AcquisitionOperator,
    *,
    project: bool = True,
) -> np.ndarray:
    """The second pass of a band: calibrated and projected maps, ``(B, s r, W)`` float32.

    Parameters
    ----------
    raw
        ``(B, s r, W)`` float32 maps of :func:`predict_band` without projection.
    gain_rows, offset_rows
        ``(B, r + 2, w)`` the band's rows of :func:`calibration_coefficients` with one
        row of halo above and below (:func:`lr_rows_with_halo`).
    lr_rows
        ``(B, r, w)`` scan rows of the band (for the projection).
    project
        Apply the block projection onto the band's scan rows (block operator only).
    """
    maps = apply_calibration(torch.from_numpy(np.asarray(raw)).double(),
                             with_halo_columns(gain_rows), with_halo_columns(offset_rows),
                             op.scale)
    if project:
        lr = torch.from_numpy(np.ascontiguousarray(lr_rows)).double()
        maps = project_consistent(op, maps, lr, nonnegative=True)
    return maps.float().numpy()


def band_block_means(raw: np.ndarray, op: AcquisitionOperator) -> np.ndarray:
    """``(B, r, w)`` float64 block means of a band of unprojected maps (block operator)."""
    return block_mean(torch.from_numpy(np.asarray(raw)).double(), op.scale).numpy()


@torch.no_grad()
def predict(
    generator: ListaGenerator,
    normaliser: MapNormaliser,
    lr_maps: np.ndarray,
    rgb01: np.ndarray,
    op: AcquisitionOperator,
    config: SRConfig,
    *,
    device: torch.device | None = None,
    project: bool = True,
    out: np.ndarray | None = None,
    photo_normaliser: PhotoNormaliser | None = None,
) -> np.ndarray:
    """Super-resolved maps in the input's units, tile by tile.

    Parameters
    ----------
    generator, normaliser
        The trained network and the normalisation it was trained with.
    lr_maps
        ``(B, h, w)`` validated float32 maps in input units.
    rgb01
        ``(H, W, 3)`` validated photo whose row slices are float in ``[0, 1]`` (a
        :class:`~napari_maxrf_sr.core.photo_pixels.PhotoPixels`, or a float array).
    op
        Acquisition operator (its scale must be ``H / h``).
    config
        Settings: ``interpolation``, ``photo_normalisation``, ``tile_pixels``,
        ``calibration_radius``, ``correction``.
    device
        Where to compute (default: the generator's device).
    project
        Apply the exact, non-negative projection onto the scan (the final answer).
    out
        Optional preallocated ``(B, H, W)`` float32 array (e.g. a NumPy memmap).
    photo_normaliser
        The photo's normalisation used in training (default: what ``config`` asks
        for, fitted on ``rgb01``).

    Returns
    -------
    numpy.ndarray
        ``(B, H, W)`` float32; with ``project`` its block means equal ``lr_maps``.
    """
    s = op.scale
    n_maps, h, w = lr_maps.shape
    big_h, big_w = rgb01.shape[:2]
    if (big_h, big_w) != (s * h, s * w):
        raise InputError(
            f"photo {big_h} x {big_w} is not {s} x the maps' {h} x {w}; resample the photo."
        )
    dev = device or next(generator.parameters()).device
    generator = generator.to(dev).eval()
    if out is None:
        out = np.empty((n_maps, big_h, big_w), dtype=np.float32)
    calibrate = config.calibration_radius > 0
    smooth = project and op.is_block and config.correction == "smooth"
    bands = list(_bands(h, band_rows(config, s, big_w)))
    # First pass: the network's maps (projected at once unless more passes follow).
    g, photo_lr = _network_pass(
        generator, normaliser, lr_maps, rgb01, op, config, out, bands, dev,
        photo_normaliser or photo_normaliser_for(config, rgb01),
        project=project and op.is_block and not calibrate and not smooth,
        gather=calibrate or smooth)
    coefficients = None
    if calibrate:
        # Second pass: the local calibration against the scan (then the projection).
        coefficients = _calibration_pass(out, g, photo_lr, lr_maps, op,
                                         config.calibration_radius, bands,
                                         project=project and op.is_block and not smooth)
    if smooth:
        # Last pass: the scan's remaining difference spread smoothly, then the projection.
        _correction_pass(out, correction_source(lr_maps, g, coefficients, s), lr_maps, op,
                         bands)
    if project and not op.is_block:
        # A wide beam couples neighbouring blocks: project the whole image at once.
        full = torch.from_numpy(np.asarray(out)).double()
        lr = torch.from_numpy(lr_maps).double()
        out[...] = project_consistent(op, full, lr, nonnegative=True).float().numpy()
    return out


def _network_pass(generator: ListaGenerator, normaliser: MapNormaliser, lr_maps: np.ndarray,
                  rgb01, op: AcquisitionOperator, config: SRConfig, out: np.ndarray,
                  bands: list[tuple[int, int]], dev: torch.device,
                  photo_normaliser: PhotoNormaliser, *, project: bool, gather: bool
                  ) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The network's maps into ``out``, band by band.

    With ``gather`` (the calibration follows) it also returns the maps' block means
    (block operator; ``None`` for a wide beam) and the photo's (for the noise estimate).
    """
    s = op.scale
    n_maps, h, w = lr_maps.shape
    source = network_source(normaliser, lr_maps, config, s)
    g = np.empty((n_maps, h, w)) if gather and op.is_block else None
    photo_lr = np.empty((3, h, w)) if gather else None
    for r0, r1 in bands:
        out[:, s * r0 : s * r1] = predict_band(
            generator, normaliser, lr_rows_with_halo(source, r0, r1), lr_maps[:, r0:r1],
            rgb01[s * r0 : s * r1], op, photo_normaliser, device=dev, project=project,
        )
        if g is not None:
            g[:, r0:r1] = band_block_means(out[:, s * r0 : s * r1], op)
        if photo_lr is not None:
            photo_lr[:, r0:r1] = photo_block_means(rgb01[s * r0 : s * r1], s)
    return g, photo_lr


def _calibration_pass(out: np.ndarray, g: np.ndarray | None, photo_lr: np.ndarray | None,
                      lr_maps: np.ndarray, op: AcquisitionOperator, radius: int,
                      bands: list[tuple[int, int]], *, project: bool
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Calibrate the maps in ``out`` against the scan, band by band (and project them).

    Returns the calibration's ``(gain, offset)``, ``(B, h, w)`` each.
    """
    s = op.scale
    if g is None:  # a wide beam: its blur reaches across bands, so the whole image
        g = op.down(torch.from_numpy(np.asarray(out)).double()).numpy()
    gain, offset = calibration_coefficients(g, lr_maps, radius, photo_lr)
    for r0, r1 in bands:
        out[:, s * r0 : s * r1] = calibrate_band(
            out[:, s * r0 : s * r1], lr_rows_with_halo(gain, r0, r1),
            lr_rows_with_halo(offset, r0, r1), lr_maps[:, r0:r1], op, project=project,
        )
    return gain, offset


def _correction_pass(out: np.ndarray, source: np.ndarray, lr_maps: np.ndarray,
                     op: AcquisitionOperator, bands: list[tuple[int, int]]) -> None:
    """Add the smooth correction to the maps in ``out`` and project them, band by band."""
    s = op.scale
    for r0, r1 in bands:
        out[:, s * r0 : s * r1] = correct_band(
            out[:, s * r0 : s * r1], with_halo_columns(lr_rows_with_halo(source, r0, r1)),
            lr_maps[:, r0:r1], op)
