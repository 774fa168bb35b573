"""A trained network with what it needs to answer again, and its application to new data.

:class:`TrainedModel` is what training returns and :mod:`.modelio` saves;
:func:`apply_model` checks maps and a photo against it and answers with the band
inference of :mod:`.inference`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from .config import INFERENCE_SETTINGS, SRConfig
from .device import resolve_device
from .inference import predict
from .model import ListaGenerator
from .normalisation import MapNormaliser, PhotoNormaliser
from .operators import AcquisitionOperator
from .validation import prepare_inputs


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
