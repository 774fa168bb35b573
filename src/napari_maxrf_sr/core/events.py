"""What the training loop hands out: its stages, an event per report, and the result.

:class:`Stage` and :class:`EventKind` are ``str`` enums: each member equals its value
(``Stage.STAGE1 == "stage 1"``), prints as it, and is written to histories,
checkpoints and provenance records as that plain string, so files written before the
enums existed still read the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from .config import SRConfig
    from .trained_model import TrainedModel

#: The network must beat interpolation on the held-out blocks by this much (dB) to pass
#: the "learned something" check.
MIN_GAIN_DB = 0.2


class _StrEnum(str, Enum):
    """A ``str`` enum that prints and formats as its value (on every Python version)."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


class Stage(_StrEnum):
    """Where a run is, in the order a run passes them."""

    PREPARE = "prepare"
    STAGE1 = "stage 1"
    STAGE2 = "stage 2"
    FINALISE = "finalise"
    DONE = "done"


class EventKind(_StrEnum):
    """What a :class:`TrainEvent` reports."""

    #: Steps done since the previous event (events are throttled: see ``EVENT_INTERVAL``).
    PROGRESS = "progress"
    #: The run enters a part of its course (set-up, stage 2, the maps, the end); the
    #: message says which, for the user.
    PHASE = "phase"
    #: The loop has halted on a pause; the step is the last one done before it (ordinary
    #: events are throttled, so the last one may be steps behind).
    PAUSED = "paused"


@dataclass(frozen=True)
class TrainEvent:
    """One progress report of the training loop.

    Attributes
    ----------
    stage
        Where the run is (:class:`Stage`; equal to its string value).
    step, total
        Global step (both stages) and the planned total.
    stage_step, stage_total
        Step within the stage and the stage's planned steps.
    losses
        Loss terms averaged since the previous event (names as in ``history``).
    elapsed
        Seconds of training so far (pauses excluded).
    eta
        Estimated seconds left, or ``None`` when unknown.
    device
        Where training runs, in words.
    message
        A human-readable status line.
    kind
        What the event reports (:class:`EventKind`).
    """

    stage: Stage
    step: int
    total: int
    stage_step: int
    stage_total: int
    losses: dict[str, float]
    elapsed: float
    eta: float | None
    device: str
    message: str = ""
    kind: EventKind = EventKind.PROGRESS


@dataclass(frozen=True)
class QualityCheck:
    """The "learned nothing" guard: whether the network beat plain interpolation.

    Measured on held-out blocks of the one-scale-down problem, where the answer is
    known, with both answers projected onto that problem's scan. The final projection
    makes any answer agree with the scan, so a network that learned nothing still looks
    plausible; this check says so.

    Attributes
    ----------
    passed
        True when the network beat interpolation by at least :data:`MIN_GAIN_DB`.
    gain_db
        The network's PSNR minus the interpolation's on those blocks.
    message
        One plain sentence for the user (with what to try when it did not pass).
    """

    passed: bool
    gain_db: float
    message: str

    @classmethod
    def from_gain(cls, gain: float) -> QualityCheck:
        """Judge the network's gain over interpolation on held-out blocks (dB)."""
        if gain >= MIN_GAIN_DB:
            return cls(True, gain, f"On held-out parts of the scan, where the answer is "
                                   f"known, the network is {gain:.2f} dB better than plain "
                                   "interpolation.")
        return cls(False, gain, (
            "The network did not learn more than plain interpolation: on held-out parts "
            f"of the scan, where the answer is known, it is {gain:+.2f} dB against "
            "interpolation. Its maps agree with the scan, but their fine detail is not "
            "trustworthy. Try a longer run (a larger time budget, or the 'default' preset), "
            "check that the photo is aligned with the scan, or use the "
            "'bicubic_projected' method."))


@dataclass
class TrainResult:
    """What a finished (or stopped-early) run hands back.

    Attributes
    ----------
    maps
        ``(B, H, W)`` float32 super-resolved maps in the input's units, projected
        onto the scan (``block_mean(maps) == lr_maps``) and non-negative; ``None``
        when training was asked not to compute them (``infer=False``).
    elements
        One name per map.
    config
        The settings used.
    history
        One dict per logged step: ``step``, ``stage`` (a plain string), ``elapsed`` and
        the loss terms (``validation`` is the stage-1 held-out loss).
    device
        Where it ran, in words.
    seconds
        Training time (pauses excluded), without the final inference.
    stopped_early
        True when the user stopped the run before all steps were done.
    model
        The trained model, for :func:`~napari_maxrf_sr.core.modelio.save_model`.
    notes
        Messages about the input and the run (alpha dropped, stage skipped, ...).
    inference_seconds
        Time the final maps took.
    diagnostics
        Step counts, the held-out losses and the thread count, for reports.
    quality_check
        Whether the network beat interpolation on held-out blocks (``None`` without a
        down problem).
    """

    maps: np.ndarray | None
    elements: tuple[str, ...]
    config: SRConfig
    history: list[dict]
    device: str
    seconds: float
    stopped_early: bool
    model: TrainedModel
    notes: tuple[str, ...] = ()
    inference_seconds: float = 0.0
    diagnostics: dict = field(default_factory=dict)
    quality_check: QualityCheck | None = None
