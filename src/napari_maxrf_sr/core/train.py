"""The training loop of METHOD.md as a plain generator of progress events (no Qt).

``train(...)`` checks its input at once (raising
:class:`~napari_maxrf_sr.errors.InputError`) and returns a generator. Iterate it to
run; each item is a :class:`~.events.TrainEvent`; its return value
(``StopIteration.value``, napari's ``returned`` signal) is a
:class:`~.events.TrainResult`, or ``None`` when the run was cancelled. A caller that
has checked its input already (the panel) passes the prepared input to
:func:`train_prepared` instead.

Read :func:`_run` top to bottom: set-up, stage 1, the optional stage 2, the result,
each block a few lines. Every step of both stages goes through :func:`_run_stage`
(control, step, held-out check, checkpoint, event). The steps themselves are in
:mod:`.stage1` and :mod:`.stage2`, the held-out check in :mod:`.held_out`, the set-up
in :mod:`.problem`; the run's state and its events in :mod:`.run_state`, checkpoints
in :mod:`.checkpoint`, the batches in :mod:`.sampling`.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np
import torch

from ..errors import TrainingDiverged
from .checkpoint import (
    CheckpointPlan,
    CheckpointSaver,
    check_saved_state,
    load_checkpoint,
    run_fingerprint,
)
from .config import SRConfig, config_from_preset
from .control import RunControl
from .device import describe_device, resolve_device
from .events import EventKind, QualityCheck, Stage, TrainEvent, TrainResult
from .held_out import HeldOutCheck, held_out_check, held_out_loss
from .inference import predict
from .model import ListaGenerator
from .problem import TrainingProblem, build_network, hand_over, start_or_resume
from .run_state import Reporter, RunState
from .stage1 import PretrainingStage
from .stage2 import AdversarialStage
from .threads import choose_cpu_threads
from .trained_model import TrainedModel
from .validation import PreparedInputs, prepare_inputs

#: Seconds between progress events (a GUI needs no more than a few per second).
EVENT_INTERVAL = 0.1
#: A loss above this (on maps normalised to [0, 1]) means training has blown up.
DIVERGENCE_LIMIT = 1e4


class _Ended(Enum):
    """Why a stage's steps ended before all of them were done (by a request)."""

    STOP = "stop"
    CANCEL = "cancel"


def train(
    lr_maps,
    rgb,
    config: SRConfig | None = None,
    *,
    scale: int | None = None,
    stop: RunControl | None = None,
    elements: Sequence[str] | None = None,
    negative: str = "error",
    checkpoint: CheckpointPlan | None = None,
    infer: bool = True,
    reserve_cores: int = 0,
) -> Generator[TrainEvent, None, TrainResult | None]:
    """Check the input now and return the training generator.

    Parameters
    ----------
    lr_maps
        ``(B, h, w)`` measured element maps (counts or fitted areas, ``>= 0``).
    rgb
        ``(H, W, 3)`` photo (uint8, uint16 or float in ``[0, 1]``), ``H = s h``.
    config
        Settings (default: the ``default`` preset).
    scale
        ``s``; detected from the shapes when ``None``.
    stop
        A :class:`~.control.RunControl` to stop, cancel or pause the run from
        another thread.
    elements
        One name per map (default ``map 1 ..``).
    negative
        ``"error"`` refuses negative counts, ``"clip"`` sets them to zero.
    checkpoint
        Save the run's state every ``checkpoint.every_seconds`` to ``checkpoint.path``
        and, with ``checkpoint.resume``, continue the run saved there.
    infer
        Compute the maps at the end. ``False`` returns only the model (``maps`` is
        ``None``), for results too big for memory that the caller writes tile by tile
        (:func:`~napari_maxrf_sr.core.trained_model.apply_model` with ``out``).
    reserve_cores
        CPU cores to leave free when the thread count is chosen automatically
        (``cpu_threads = 0``): 1 inside napari, whose drawing thread shares the process.

    Raises
    ------
    InputError
        Immediately, for input that cannot be used (the message says how to fix it).
    CheckpointError
        Immediately, when resuming from a checkpoint that is missing, damaged or
        belongs to other input or settings.
    """
    prepared = prepare_inputs(lr_maps, rgb, scale, elements=elements, negative=negative)
    return train_prepared(prepared, config, stop=stop, checkpoint=checkpoint, infer=infer,
                          reserve_cores=reserve_cores)


def train_prepared(
    prepared: PreparedInputs,
    config: SRConfig | None = None,
    *,
    stop: RunControl | None = None,
    checkpoint: CheckpointPlan | None = None,
    infer: bool = True,
    reserve_cores: int = 0,
) -> Generator[TrainEvent, None, TrainResult | None]:
    """:func:`train` on inputs that were checked already (they are not checked again).

    ``prepared`` is what :func:`~napari_maxrf_sr.core.validation.prepare_inputs`
    returned for them.

    Raises
    ------
    CheckpointError
        Immediately, as for :func:`train`.
    """
    cfg = (config or config_from_preset("default")).validate()
    device = resolve_device(cfg.device)
    saver = None
    if checkpoint is not None:
        fingerprint = run_fingerprint(prepared.lr_maps, prepared.rgb, prepared.scale,
                                      prepared.elements, cfg)
        resumed = load_checkpoint(checkpoint.path, fingerprint) if checkpoint.resume else None
        if resumed is not None:  # weights that fit and are finite, before anything is built
            check_saved_state(checkpoint.path, resumed, prepared.lr_maps.shape[0] + 3, cfg)
        saver = CheckpointSaver(checkpoint, fingerprint, resumed)
    return _run_with_threads(prepared, cfg, device, stop or RunControl(), saver, infer,
                             reserve_cores)


def _run_with_threads(prepared: PreparedInputs, cfg: SRConfig, device: torch.device,
                      control: RunControl, saver: CheckpointSaver | None, infer: bool,
                      reserve: int) -> Generator[TrainEvent, None, TrainResult | None]:
    """:func:`_run` with the CPU thread count of the run, restored afterwards.

    The count is chosen when the run starts (from the cores free then), or taken from
    the checkpoint it resumes, and recorded in the result's settings: the maps depend
    on it, and a rerun from the provenance must use the same count.
    """
    if device.type != "cpu":
        return (yield from _run(prepared, cfg, device, control, saver, infer))
    resumed = saver.resumed if saver is not None else None
    threads = int(resumed.get("cpu_threads", 0)) if resumed else 0
    threads = threads or choose_cpu_threads(cfg.cpu_threads, reserve)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        result = yield from _run(prepared, cfg.replace(cpu_threads=threads), device, control,
                                 saver, infer)
    finally:
        torch.set_num_threads(before)
    return result


# ============================================================================= the loop
def _run(prepared: PreparedInputs, cfg: SRConfig, device: torch.device, control: RunControl,
         saver: CheckpointSaver | None, infer: bool
         ) -> Generator[TrainEvent, None, TrainResult | None]:
    # -- set-up: normalised data and samplers, the plan of both stages, the network --
    problem = TrainingProblem.build(prepared, cfg, device)
    state = problem.new_state()
    resumed = saver.resumed if saver is not None else None
    report = Reporter(state, describe_device(device), EVENT_INTERVAL)
    yield report.event(Stage.PREPARE, 0, 0, None, _opening(report.device, resumed),
                       EventKind.PHASE)
    model, x_sample = build_network(problem, state, cfg, device, resumed)
    stage1 = PretrainingStage(model, problem.data, cfg, device)
    start_or_resume(state, stage1, model, problem, resumed, device)
    loop = _Loop(state, report, cfg, control, saver, model, problem)

    # -- stage 1: the one-scale-down problem; the best held-out state is kept --
    ended = None
    if state.phase is Stage.STAGE1:
        ended = yield from _run_stage(loop, stage1, problem.n1, problem.budget1, problem.eta1)
        if ended is _Ended.CANCEL:
            return None
        if state.best_held_out is not None:
            model.load_state_dict(state.best_state)
    stopped = ended is _Ended.STOP

    # -- stage 2 (optional): adversarial fine-tuning from the stage-1 network --
    if problem.n2 and not stopped:
        stage2 = hand_over(problem, state, model, x_sample, resumed, saver)
        yield report.event(Stage.STAGE2, state.step2, problem.n2, None, "Adversarial stage",
                           EventKind.PHASE)
        ended = yield from _run_stage(loop, stage2, problem.n2, _budget2(cfg, state),
                                      problem.eta2)
        if ended is _Ended.CANCEL:
            return None
        stopped = ended is _Ended.STOP
        del stage2

    # -- the result: the held-out comparison, the maps, what the run did --
    if control.cancelled:
        return None
    seconds = state.elapsed
    model.eval()
    check = held_out_check(model, problem.data)
    quality = None if check is None else QualityCheck.from_gain(check.gain_db)
    if quality is not None and not quality.passed:
        state.notes.append(quality.message)  # the "learned nothing" guard
    del stage1, loop
    problem.data = None  # its tables are not needed to apply the network
    t0 = time.perf_counter()
    maps = None
    if infer:
        yield report.event(Stage.FINALISE, 0, 0, None, "Computing the super-resolved maps",
                           EventKind.PHASE)
        maps = predict(model, problem.normaliser, prepared.lr_maps, prepared.rgb, problem.op,
                       cfg, device=device, photo_normaliser=problem.photo_normaliser)
    inference_seconds = time.perf_counter() - t0
    if stopped:
        state.notes.append(f"Stopped by the user after {state.step} of {state.total} steps.")
    yield report.event(Stage.DONE, 0, 0, 0.0, "Done", EventKind.PHASE)
    return _result(state, problem, prepared, cfg, model, maps, report.device, seconds,
                   inference_seconds, stopped, check, quality)


@dataclass
class _Loop:
    """What every step of both stages reads and writes."""

    state: RunState
    report: Reporter
    cfg: SRConfig
    control: RunControl
    saver: CheckpointSaver | None
    model: ListaGenerator
    problem: TrainingProblem


def _run_stage(loop: _Loop, stage: PretrainingStage | AdversarialStage, n: int,
               budget: float | None, eta_fn) -> Generator[TrainEvent, None, _Ended | None]:
    """Steps of ``stage`` until its end, its time budget, a plateau or a request.

    Returns how a request ended it (:class:`_Ended`), or ``None`` when it ended by itself.
    """
    state, cfg, report = loop.state, loop.cfg, loop.report
    first = stage.name is Stage.STAGE1
    t_stage = state.t_stage1 if first else state.t_stage2

    def time_left(k: int) -> float:
        """Estimated seconds left after ``k`` steps of the stage (within the budget)."""
        eta = eta_fn((state.elapsed - t_stage) / max(1, k), k)
        if cfg.max_seconds is not None:
            eta = min(eta, max(0.0, cfg.max_seconds - state.elapsed))
        return eta

    report.mark()
    with contextlib.ExitStack() as armed:
        if loop.saver is not None:  # a signal now: a checkpoint at the end of the step
            armed.enter_context(loop.saver.armed())
        return (yield from _steps(loop, stage, n, budget, first, t_stage, time_left))


def _steps(loop: _Loop, stage, n: int, budget: float | None, first: bool, t_stage: float,
           time_left) -> Generator[TrainEvent, None, _Ended | None]:
    """The steps of :func:`_run_stage` (a signal meanwhile: see :meth:`CheckpointSaver.armed`)."""
    state, control, report = loop.state, loop.control, loop.report
    for k in range((state.step1 if first else state.step2) + 1, n + 1):
        # A pause: say exactly where training halts (events are throttled), then wait.
        if control.paused:
            report.mark()
            yield report.event(stage.name, k - 1, n, time_left(k - 1) if k > 1 else None,
                               "paused", EventKind.PAUSED)
        state.clock.paused += control.wait_while_paused()
        if control.cancelled:
            return _Ended.CANCEL
        if control.should_end:
            return _Ended.STOP
        # One step, its losses kept for the next event.
        progress = _progress(k, n, state.elapsed - t_stage, budget)
        if first:
            terms = stage.step(progress, state.rng_batch)
            state.step1 = k
        else:
            terms = stage.step(progress, state.rng_batch, state.rng)
            state.step2 = k
        state.meter.add(terms)
        # The held-out check (stage 1 may end on a plateau), a checkpoint, an event.
        if (k % loop.cfg.check_every == 0 or k == n) and _held_out_step(loop, first, k):
            return None
        if loop.saver is not None:  # due, or asked for by a signal (then: stop)
            loop.saver.after_step(state, loop.model, stage)
        out_of_time = budget is not None and state.elapsed - t_stage >= budget
        if k == n or out_of_time or report.due():
            report.mark()
            event = report.event(stage.name, k, n, time_left(k))
            _check_finite(event, stage.lr(progress))
            yield event
        if out_of_time:
            state.notes.append(f"{stage.name.value.capitalize()} used its time budget after "
                               f"{k} of {n} steps.")
            return None
    return None


def _held_out_step(loop: _Loop, first: bool, k: int) -> bool:
    """The held-out check; True when stage 1 should end (a plateau)."""
    state, cfg = loop.state, loop.cfg
    value = held_out_loss(loop.model, loop.problem.data)
    if value is not None:
        state.meter.add({"validation": value})  # the history's name for the held-out loss
        if first:
            state.record_held_out(value, loop.model)
    if first and cfg.plateau_patience and state.since_best >= cfg.plateau_patience:
        state.notes.append(f"Stage 1 stopped at step {k}: the held-out loss stopped "
                           "improving.")
        return True
    return False


# ======================================================================= the pieces
def _opening(device: str, resumed: dict | None) -> str:
    """The first event's message."""
    if resumed is None:
        return f"Initialising the network on {device}"
    return f"Resuming from step {resumed['step']} of {resumed['total']} on {device}"


def _budget2(cfg: SRConfig, state: RunState) -> float | None:
    """What is left of the time budget for stage 2."""
    return None if cfg.max_seconds is None else max(0.0, cfg.max_seconds - state.t_stage2)


def _progress(step: int, steps: int, spent: float, budget: float | None) -> float:
    """Share of a stage done: by steps, or by time when a (non-zero) budget runs out first."""
    return step / steps if not budget else max(step / steps, spent / budget)


def _check_finite(event: TrainEvent, lr: float) -> None:
    """Raise :class:`TrainingDiverged` when the event's mean total loss is not sane."""
    value = event.losses.get("total", 0.0)
    stage, step = event.stage, event.stage_step
    if not math.isfinite(value) or value > DIVERGENCE_LIMIT:
        raise TrainingDiverged(
            f"Training diverged in {stage} at step {step} (loss = {value:.3g}). "
            f"Try a lower learning rate (now {lr:.2g}), the 'default' preset, or check the "
            "input for extreme outliers (a few hot pixels can dominate the normalisation)."
        )


def _result(state: RunState, problem: TrainingProblem, prepared: PreparedInputs,
            cfg: SRConfig, model: ListaGenerator, maps: np.ndarray | None, device: str,
            seconds: float, inference_seconds: float, stopped: bool, check: HeldOutCheck | None,
            quality: QualityCheck | None) -> TrainResult:
    """The result: the trained model, the maps, the history and the diagnostics."""
    trained = TrainedModel(
        generator=model.cpu(), normaliser=problem.normaliser, config=cfg,
        elements=prepared.elements, scale=prepared.scale,
        photo_normaliser=problem.photo_normaliser,
        info={"steps": state.step, "seconds": seconds, "device": device},
    )
    diagnostics: dict[str, Any] = {
        "cpu_threads": cfg.cpu_threads if problem.device.type == "cpu" else None,
        "steps": state.step, "stage1_steps": state.step1, "stage2_steps": state.step2,
        "planned_steps": state.total, "best_validation": state.best_held_out,
        "initial_validation": state.initial_held_out, "resumed_from_step": state.resumed_from,
    }
    if check is not None:
        diagnostics.update(heldout_network_mse=check.network_mse,
                           heldout_interpolation_mse=check.interpolation_mse,
                           heldout_gain_db=check.gain_db)
    return TrainResult(
        maps=maps, elements=prepared.elements, config=cfg, history=state.history,
        device=device, seconds=seconds, stopped_early=stopped, model=trained,
        notes=tuple(state.notes), inference_seconds=inference_seconds,
        diagnostics=diagnostics, quality_check=quality,
    )
