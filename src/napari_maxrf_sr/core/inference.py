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

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import InputError
from .calibration import apply_calibration, calibration_coefficients, photo_block_means
from .config import INFERENCE_SETTINGS, SRConfig
from .device import resolve_device
from .model import ListaGenerator
from .normalisation import MapNormaliser, PhotoNormaliser, photo_normaliser_for
from .operators import (
    AcquisitionOperator,
    block_mean,
    consistent_source,
    project_consistent,
    upsample_halo_band,
)
from .validation import prepare_inputs

#: Pixels per forward pass inside a band (bounds the network's activations).
_CHUNK_PIXELS = 1 << 16


@dataclass
class TrainedModel:
    """Everything needed to apply a trained network again.

    Attributes
    ----------
    generator
        The trained :class:`~napari_maxrf_sr.core.model.ListaGenerator` (on the CPU).
    normaliser
        Per-map normalisation of the training scan.
    config
        Settings it was trained with.
    elements
        Element names, one per map, in order.
    scale
        Ratio between photo and scan grids it was trained for.
    photo_normaliser
        How the training photo's colours were normalised (``None``: the settings'
        fixed range, as models written before version 2 did).
    """

    generator: ListaGenerator
    normaliser: MapNormaliser
    config: SRConfig
    elements: tuple[str, ...]
    scale: int
    info: dict = field(default_factory=dict)
    photo_normaliser: PhotoNormaliser | None = None

    @property
    def operator(self) -> AcquisitionOperator:
        """The acquisition operator of the training run."""
        return AcquisitionOperator(self.scale, self.config.operator, self.config.psf_sigma)

    def answering_with(self, **settings: object) -> TrainedModel:
        """The same trained network with settings that act after training changed.

        Only :data:`~napari_maxrf_sr.core.config.INFERENCE_SETTINGS` may change (e.g.
        ``calibration_radius=0``: the network without the local calibration).

        Raises
        ------
        InputError
            For a setting that changes how the network is trained.
        """
        training = sorted(set(settings) - set(INFERENCE_SETTINGS))
        if training:
            raise InputError(
                f"{', '.join(training)} changes how the network is trained, so a saved "
                f"model cannot be applied with another value; after training only "
                f"{', '.join(INFERENCE_SETTINGS)} can change. Train again with the new "
                "value ('maxrf-sr run --set ...')."
            )
        if not settings:
            return self
        return dataclasses.replace(self, config=self.config.replace(**settings))


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


def _with_halo_columns(rows: np.ndarray) -> torch.Tensor:
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
    pred = predict_normalised_band(generator, _with_halo_columns(source_rows).to(dev),
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
                             _with_halo_columns(gain_rows), _with_halo_columns(offset_rows),
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
        ``calibration_radius``.
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
    whole_image_projection = project and not op.is_block
    calibrate = config.calibration_radius > 0
    source = network_source(normaliser, lr_maps, config, s)
    photo_norm = photo_normaliser or photo_normaliser_for(config, rgb01)
    bands = list(_bands(h, band_rows(config, s, big_w)))
    g = np.empty((n_maps, h, w)) if calibrate and op.is_block else None
    photo_lr = np.empty((3, h, w)) if calibrate else None  # for the noise estimate
    for r0, r1 in bands:
        out[:, s * r0 : s * r1] = predict_band(
            generator, normaliser, lr_rows_with_halo(source, r0, r1), lr_maps[:, r0:r1],
            rgb01[s * r0 : s * r1], op, photo_norm, device=dev,
            project=project and op.is_block and not calibrate,
        )
        if g is not None:
            g[:, r0:r1] = band_block_means(out[:, s * r0 : s * r1], op)
        if photo_lr is not None:
            photo_lr[:, r0:r1] = photo_block_means(rgb01[s * r0 : s * r1], s)
    if calibrate:
        if g is None:  # a wide beam: its blur reaches across bands, so the whole image
            g = op.down(torch.from_numpy(np.asarray(out)).double()).numpy()
        gain, offset = calibration_coefficients(g, lr_maps, config.calibration_radius,
                                                photo_lr)
        for r0, r1 in bands:
            out[:, s * r0 : s * r1] = calibrate_band(
                out[:, s * r0 : s * r1], lr_rows_with_halo(gain, r0, r1),
                lr_rows_with_halo(offset, r0, r1), lr_maps[:, r0:r1], op,
                project=project and op.is_block,
            )
    if whole_image_projection:
        # A wide beam couples neighbouring blocks: project the whole image at once.
        full = torch.from_numpy(np.asarray(out)).double()
        lr = torch.from_numpy(lr_maps).double()
        out[...] = project_consistent(op, full, lr, nonnegative=True).float().numpy()
    return out


def apply_model(
    model: TrainedModel,
    lr_maps,
    rgb,
    *,
    scale: int | None = None,
    device: str | None = None,
    negative: str = "error",
    elements=None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Apply a trained (or loaded) model to maps and a photo; returns ``(B, H, W)`` float32.

    The maps are normalised with their own peaks (a new scan may have other count
    levels). With ``elements`` (one name per map) maps given in another order than
    the model's are matched by name, and the answer comes back in the input's
    order; without names the order must be the model's. ``out`` is an optional
    preallocated ``(B, H, W)`` float32 array to fill (a memory-mapped file for results
    bigger than memory); it then holds the maps in the model's element order.

    Raises
    ------
    InputError
        When the maps, their names or the scale do not fit the model.
    """
    prepared, normaliser, order = prepare_for_model(model, lr_maps, rgb, scale=scale,
                                                    negative=negative, elements=elements)
    dev = resolve_device(device or "cpu")
    out = predict(
        model.generator, normaliser, prepared.lr_maps, prepared.rgb, model.operator,
        model.config, device=dev, out=out, photo_normaliser=model.photo_normaliser,
    )
    if order is not None and not isinstance(out, np.memmap):
        out = out[np.argsort(order)]  # back to the input's order
    return out


def prepare_for_model(model: TrainedModel, lr_maps, rgb, *, scale: int | None = None,
                      negative: str = "error", elements=None):
    """Validate maps and photo for ``model``: ``(prepared, normaliser, order)``.

    ``prepared.lr_maps`` are in the model's element order (``order`` maps them from
    the input's order, ``None`` when it is the same), and ``normaliser`` is fitted to
    them with the model's levels (a new scan may have other count levels).

    Raises
    ------
    InputError
        When the maps, their names or the scale do not fit the model.
    """
    prepared = prepare_inputs(lr_maps, rgb, scale or model.scale, negative=negative)
    order = None
    if elements is not None:
        names = [str(e) for e in elements]
        if len(names) == len(model.elements) and names != list(model.elements):
            if sorted(names) != sorted(model.elements) or len(set(names)) != len(names):
                raise InputError(
                    f"This model was trained on {', '.join(model.elements)}; the maps are "
                    f"{', '.join(names)}. Give the same elements, or train a new model."
                )
            order = [names.index(e) for e in model.elements]
            prepared = dataclasses.replace(prepared, lr_maps=prepared.lr_maps[order])
    if prepared.lr_maps.shape[0] != len(model.elements):
        raise InputError(
            f"This model was trained on {len(model.elements)} maps "
            f"({', '.join(model.elements)}), but {prepared.lr_maps.shape[0]} were given. "
            "Give the same elements in the same order, or train a new model."
        )
    if prepared.scale != model.scale:
        raise InputError(
            f"This model was trained for scale {model.scale}, the data have scale "
            f"{prepared.scale}. Train a new model for this scale."
        )
    normaliser = MapNormaliser.fit(
        prepared.lr_maps, model.normaliser.zero_level, model.normaliser.peak_level
    )
    return prepared, normaliser, order
