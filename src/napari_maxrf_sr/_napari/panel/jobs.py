"""What the worker thread runs for the panel: training, a baseline, a saved model (no Qt).

The panel checks the input once, in the GUI thread, before a job starts (so a
refused input never starts a thread, and its notes are said once), and the job works
on what that check prepared, after the registration check (:func:`checked_photo`, in
the worker: it takes seconds); each job hashes the input once (for the checkpoint's name
and the provenance record) and ends by building the :class:`~.outcome.RunOutcome` in
the worker thread. The training job is a generator:
it yields one :class:`Started` (the checkpoint file and the input notes), then the
core's progress events, and returns the outcome (``None`` when cancelled).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from napari_maxrf_sr._napari.panel.inputs import RunInputs
from napari_maxrf_sr._napari.panel.outcome import (
    APPLY,
    NETWORK,
    RunOutcome,
    build_outcome,
    checkpoint_name,
    input_digests,
    now,
)
from napari_maxrf_sr.errors import InputError


@dataclass(frozen=True)
class Started:
    """First message of a training job: where it keeps its state, and the input notes."""

    checkpoint: Path | None
    notes: tuple[str, ...]


@dataclass(frozen=True)
class TrainingPlan:
    """How to train: the settings, and where and how often to keep checkpoints.

    Attributes
    ----------
    config
        The network's settings (an ``SRConfig``).
    negative
        ``"error"`` or ``"clip"`` for negative map values.
    resume
        Continue the interrupted run of these inputs and settings.
    folder
        Checkpoint folder (``None``: no checkpoints).
    every_seconds
        Training seconds between checkpoints.
    """

    config: Any
    negative: str = "error"
    resume: bool = False
    folder: Path | None = None
    every_seconds: float = 120.0


def _checkpoint(plan: TrainingPlan, digests: dict, inputs: RunInputs,
                notes: list[str]) -> Any:
    """The core's checkpoint plan for this run, or ``None`` (with a note) without one."""
    from napari_maxrf_sr.core.checkpoint import CheckpointPlan

    if plan.folder is None:
        return None
    path = Path(plan.folder) / checkpoint_name(digests, inputs, plan.config.to_dict(),
                                               plan.negative)
    if plan.resume and not path.is_file():
        raise InputError(
            "No interrupted run of these maps, photo and settings was found. Select exactly "
            "the layers and settings of the interrupted run, or press Start for a new run. "
            f"(Checkpoints are kept in {plan.folder}.)"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        notes.append(f"Training without checkpoints: cannot create {plan.folder} ({exc}).")
        return None
    return CheckpointPlan(path, plan.every_seconds, plan.resume)


def validate(inputs: RunInputs, negative: str) -> tuple[Any, tuple[str, ...]]:
    """Check the inputs together (sizes, values, scale); return them prepared, and notes.

    Raises
    ------
    InputError
        With a message saying what to fix.
    """
    from napari_maxrf_sr.core.validation import prepare_inputs

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        prepared = prepare_inputs(inputs.lr_maps, inputs.rgb, inputs.scale,
                                  elements=inputs.elements, negative=negative)
    said = (*inputs.notes, *(str(w.message) for w in caught))
    return prepared, tuple(dict.fromkeys(said))


def checked_photo(prepared: Any) -> tuple[Any, tuple[str, ...]]:
    """The registration check, in the worker thread (seconds: napari must not wait).

    The photo must explain the scan (another painting's, a mirrored one, are refused
    with :class:`InputError`, before anything is trained); one measurably off the
    scan's grid is registered again, and a note says so.
    """
    import dataclasses

    from napari_maxrf_sr.core.photo_pixels import PhotoPixels
    from napari_maxrf_sr.registration import photo_on_grid

    raw = prepared.rgb.raw  # the validated photo (alpha dropped), in its pixel type
    on_grid = photo_on_grid(prepared.lr_maps, raw, prepared.scale)
    if on_grid.photo is not raw:
        prepared = dataclasses.replace(prepared, rgb=PhotoPixels(on_grid.photo))
    return prepared, tuple(on_grid.notes)


def training_job(inputs: RunInputs, plan: TrainingPlan, prepared: Any, control: Any,
                 train_fn: Callable | None = None, notes: tuple[str, ...] = (),
                 check: Callable | None = None) -> Generator[Any, None, RunOutcome | None]:
    """Train the network on the inputs; yields :class:`Started`, then progress events.

    Parameters
    ----------
    inputs
        The layer copies.
    plan
        Settings and checkpoints.
    prepared
        The inputs as :func:`validate` prepared them: training uses these and does not
        check the inputs again.
    control
        The core's ``RunControl`` (stop, cancel, pause).
    train_fn
        The core's ``train_prepared`` (tests pass another one).
    notes
        What :func:`validate` said about the inputs.
    check
        The registration check (default :func:`checked_photo`; tests pass another one).
    """
    if train_fn is None:
        from napari_maxrf_sr.core.train import train_prepared as train_fn
    from napari_maxrf_sr.core.checkpoint import remove_checkpoint

    started = now()
    prepared, checked = (check or checked_photo)(prepared)
    digests = input_digests(inputs)
    said: list[str] = list(checked)
    checkpoint = _checkpoint(plan, digests, inputs, said)
    # One core stays free for napari's own thread, so the viewer keeps responding.
    gen = train_fn(prepared, plan.config, stop=control, checkpoint=checkpoint, reserve_cores=1)
    yield Started(None if checkpoint is None else checkpoint.path, tuple(said))
    result = yield from gen
    if result is None or getattr(control, "cancelled", False):
        return None
    outcome = build_outcome(inputs, result.maps, method=NETWORK, settings=plan.config.to_dict(),
                            started=started, digests=digests, result=result,
                            notes=(*notes, *said))
    if checkpoint is not None:
        remove_checkpoint(checkpoint.path)  # the run is finished: nothing left to resume
    return outcome


def baseline_job(method: str, inputs: RunInputs, prepared: Any,
                 notes: tuple[str, ...] = ()) -> RunOutcome:
    """Run a comparison method (bicubic, guided filter ...) on the validated inputs."""
    from napari_maxrf_sr.baselines import run_baseline

    started = now()
    prepared, checked = checked_photo(prepared)
    maps = run_baseline(method, prepared.lr_maps, prepared.rgb, prepared.scale)
    return build_outcome(inputs, maps, method=method, settings={"method": method},
                         started=started, digests=input_digests(inputs),
                         notes=(*notes, *checked))


def apply_job(model: Any, model_file: str, inputs: RunInputs, negative: str) -> RunOutcome:
    """Apply a saved network to the inputs.

    Raises
    ------
    ResultDisagrees
        When the result does not give back the scan (a damaged model file): no layer.
    """
    import numpy as np

    from napari_maxrf_sr.core.trained_model import apply_model
    from napari_maxrf_sr.io.agreement import check_agreement

    started = now()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        maps = apply_model(model, inputs.lr_maps, inputs.rgb, negative=negative)
    if model.operator.is_block:  # a beam's blocks overlap: their means are not the scan
        lr = np.asarray(inputs.lr_maps, dtype=np.float32)
        check_agreement(maps, np.clip(lr, 0, None) if negative == "clip" else lr, model.scale,
                        list(model.elements), advice=(
                            f"The model {str(model_file)!r} is damaged or does not fit these "
                            "maps: train a new one (Start), then save it again."))
    settings = {"model_file": str(model_file), **model.config.to_dict()}
    return build_outcome(inputs, maps, method=APPLY, settings=settings, started=started,
                         digests=input_digests(inputs),
                         notes=tuple(str(w.message) for w in caught))
