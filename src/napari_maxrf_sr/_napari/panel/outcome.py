"""The finished run as one typed object, computed in the worker thread (no Qt).

:func:`build_outcome` turns the maps of a run into everything the panel shows: the
result layers' data, the network-versus-bicubic table (with ground truth) or the
"detail added" summary (without), the run's notes, the quality check and the
provenance record. All of it is computed before the GUI thread sees the result, so
showing it costs the GUI thread only the adding of the layers.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from napari_maxrf_sr import metrics
from napari_maxrf_sr._napari import results as res
from napari_maxrf_sr._napari.panel.inputs import RunInputs
from napari_maxrf_sr.method_names import NETWORK

#: Method key of a run that applies a saved model.
APPLY = "saved model"
#: The network's name in the panel's method list.
NETWORK_LABEL = "Network (trained here)"


@dataclass
class RunOutcome:
    """What a finished job hands to the panel.

    Attributes
    ----------
    method
        ``"network"``, a baseline's name or ``"saved model"``.
    label
        Layer-name suffix of the results: ``"SR"`` for the network, else the method.
    maps
        ``(B, H, W)`` results in the input's units.
    elements, scale
        As in the inputs.
    layers
        ``LayerData`` of the result layers, in element order.
    comparisons
        Network and bicubic against the ground truth, per element (empty without truth).
    detail
        How much detail the photo added and where, per element (empty with truth).
    notes
        What the run said about its input and its course.
    quality
        The core's held-out quality check (``TrainResult.quality_check``) or ``None``.
    provenance
        The JSON-ready record saved beside the results.
    result
        The core's ``TrainResult`` for a trained network (its model can be saved).
    stopped_early
        The user stopped training before its end.
    """

    method: str
    label: str
    maps: np.ndarray
    elements: tuple[str, ...]
    scale: int
    layers: list[res.LayerData]
    comparisons: list[metrics.Comparison] = field(default_factory=list)
    detail: list[metrics.DetailAdded] = field(default_factory=list)
    notes: tuple[str, ...] = ()
    quality: Any = None
    provenance: dict[str, Any] = field(default_factory=dict)
    result: Any = None
    stopped_early: bool = False

    @property
    def has_model(self) -> bool:
        """Whether a trained network can be saved from this outcome."""
        return self.result is not None and getattr(self.result, "model", None) is not None


def now() -> str:
    """The time of day for provenance records."""
    return datetime.now().isoformat(timespec="seconds")


def input_digests(inputs: RunInputs) -> dict[str, str]:
    """SHA-256 of every input layer and of the photo, by layer name (hashed once per run)."""
    out = {name: res.sha256_array(arr) for name, arr in inputs.layer_arrays.items()}
    out[inputs.photo_name] = res.sha256_array(inputs.rgb)
    return out


def checkpoint_name(digests: dict[str, str], inputs: RunInputs, settings: dict[str, Any],
                    negative: str) -> str:
    """File name of a run's checkpoint: the same inputs and settings give the same name.

    The device and the inference tile size are left out: a resumed run may change them.
    """
    h = hashlib.blake2b(digest_size=12)
    for name in sorted(digests):
        h.update(f"{name}={digests[name]};".encode())
    kept = {k: v for k, v in sorted(settings.items()) if k not in ("device", "tile_pixels")}
    h.update(f"{inputs.scale};{list(inputs.elements)};{negative};{kept}".encode())
    return h.hexdigest() + ".pt"


def build_outcome(inputs: RunInputs, maps: np.ndarray, *, method: str, settings: dict,
                  started: str, digests: dict[str, str], result: Any = None,
                  notes: tuple[str, ...] = ()) -> RunOutcome:
    """Everything the panel shows about a finished run (call it in the worker thread)."""
    maps = np.asarray(maps, dtype=np.float32)
    label = "SR" if method in (NETWORK, APPLY) else method
    layers = res.sr_layers(maps, inputs.elements, method_label=label, styles=inputs.styles,
                           grid=inputs.grid)
    comparisons: list[metrics.Comparison] = []
    detail: list[metrics.DetailAdded] = []
    matched = [i for i, e in enumerate(inputs.elements) if e in inputs.truth]
    if matched:
        names = [inputs.elements[i] for i in matched]
        truth = np.stack([np.asarray(inputs.truth[n], np.float32) for n in names])
        comparisons = metrics.compare_with_bicubic(maps[matched], inputs.lr_maps[matched],
                                                   truth, inputs.scale, names)
    else:
        detail = metrics.detail_added(maps, inputs.lr_maps, inputs.scale, inputs.elements)
    if result is not None:  # the core's notes repeat the input notes: keep each once
        notes = tuple(dict.fromkeys((*notes, *(getattr(result, "notes", ()) or ()))))
    provenance = res.build_provenance(
        inputs=inputs.layer_arrays, photo_name=inputs.photo_name, photo=inputs.rgb,
        elements=inputs.elements, method=method, scale=inputs.scale, settings=settings,
        started=started, finished=now(), metrics=[c.network for c in comparisons],
        device=getattr(result, "device", ""), history=getattr(result, "history", ()),
        seconds=getattr(result, "seconds", None),
        stopped_early=bool(getattr(result, "stopped_early", False)),
        digests=digests, notes=notes,
    )
    return RunOutcome(method, label, maps, inputs.elements, inputs.scale, layers, comparisons,
                      detail, tuple(notes), getattr(result, "quality_check", None), provenance,
                      result, bool(getattr(result, "stopped_early", False)))
