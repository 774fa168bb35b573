"""The training loop of METHOD.md as a plain generator of progress events (no Qt).

``train(...)`` validates its input at once (raising
:class:`~napari_maxrf_sr.errors.InputError`) and returns a generator. Iterate
it to run; each item is a :class:`TrainEvent`; its return value
(``StopIteration.value``, napari's ``returned`` signal) is a :class:`TrainResult`, or
``None`` when the run was cancelled.

The two stages' steps live in :mod:`~napari_maxrf_sr.core.stages`; the loop's own
state (counters, clocks, best state, random generators, history) in
:mod:`~napari_maxrf_sr.core.run_state`. This module reads top to bottom: prepare the
data, build the network, run stage 1, hand over, run stage 2, compute the maps.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..errors import TrainingDiverged
from .checkpoint import CheckpointPlan, load_checkpoint, run_fingerprint, save_checkpoint
from .config import SRConfig, config_from_preset
from .control import PAUSED_MESSAGE, RunControl
from .device import describe_device, resolve_device
from .inference import TrainedModel, predict
from .ista_init import ista_initialisation
from .model import ListaGenerator
from .normalisation import MapNormaliser, PhotoNormaliser, photo_normaliser_for
from .operators import AcquisitionOperator
from .run_state import RunState, cpu_copy
from .sampling import TrainingData
from .stages import (
    AdversarialStage,
    HeldOutCheck,
    PretrainingStage,
    held_out_check,
    held_out_loss,
    scan_windows_fit,
)
from .threads import choose_cpu_threads
from .validation import PreparedInputs, prepare_inputs

#: Seconds between progress events (a GUI needs no more than a few per second).
EVENT_INTERVAL = 0.1
#: A loss above this (on maps normalised to [0, 1]) means training has blown up.
DIVERGENCE_LIMIT = 1e4

Stage = PretrainingStage | AdversarialStage



@dataclass(frozen=True)
class TrainEvent:
    """One progress report of the training loop.

    Attributes
    ----------
    stage
        ``"prepare"``, ``"stage 1"``, ``"stage 2"``, ``"finalise"`` or ``"done"``.
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
    """

    stage: str
    step: int
    total: int
    stage_step: int
    stage_total: int
    losses: dict[str, float]
    elapsed: float
    eta: float | None
    device: str
    message: str = ""


#: The network must beat interpolation on the held-out blocks by this much (dB) to pass
#: the "learned something" check.
MIN_GAIN_DB = 0.2


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
    def from_check(cls, check: HeldOutCheck) -> QualityCheck:
        """Judge a held-out comparison."""
        gain = check.gain_db
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
        One dict per logged step: ``step``, ``stage``, ``elapsed`` and the loss terms.
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
    """Validate the input now and return the training generator.

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
        Token to stop, cancel or pause the run from another thread.
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
        (:func:`~napari_maxrf_sr.core.inference.apply_model` with ``out``).
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
    cfg = (config or config_from_preset("default")).validate()
    prepared = prepare_inputs(lr_maps, rgb, scale, elements=elements, negative=negative)
    device = resolve_device(cfg.device)
    saver = None
    if checkpoint is not None:
        fingerprint = run_fingerprint(prepared.lr_maps, prepared.rgb, prepared.scale,
                                      prepared.elements, cfg)
        resumed = load_checkpoint(checkpoint.path, fingerprint) if checkpoint.resume else None
        saver = _Saver(checkpoint, fingerprint, resumed)
    return _run_with_threads(prepared, cfg, device, stop or RunControl(), saver, infer,
                             reserve_cores)


def _run_with_threads(prepared: PreparedInputs, cfg: SRConfig, device: torch.device,
                      token: RunControl, saver: _Saver | None, infer: bool, reserve: int
                      ) -> Generator[TrainEvent, None, TrainResult | None]:
    """:func:`_run` with the CPU thread count of the run, restored afterwards.

    The count is chosen when the run starts (from the cores free then), or taken from
    the checkpoint it resumes, and recorded in the result's settings: the maps depend
    on it, and a rerun from the provenance must use the same count.
    """
    if device.type != "cpu":
        return (yield from _run(prepared, cfg, device, token, saver, infer))
    resumed = saver.resumed if saver is not None else None
    threads = int(resumed.get("cpu_threads", 0)) if resumed else 0
    threads = threads or choose_cpu_threads(cfg.cpu_threads, reserve)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        result = yield from _run(prepared, cfg.replace(cpu_threads=threads), device, token,
                                 saver, infer)
    finally:
        torch.set_num_threads(before)
    return result


# ----------------------------------------------------------------------------- the loop
def _run(
    prepared: PreparedInputs, cfg: SRConfig, device: torch.device, token: RunControl,
    saver: _Saver | None, infer: bool,
) -> Generator[TrainEvent, None, TrainResult | None]:
    problem = _Problem.build(prepared, cfg, device)
    state = problem.new_state()
    resumed = saver.resumed if saver is not None else None
    report = _Reporter(state, describe_device(device))
    yield report.event("prepare", 0, 0, None,
                       f"Initialising the network on {report.device}" if resumed is None else
                       f"Resuming from step {resumed['step']} of {resumed['total']} on "
                       f"{report.device}")
    model, x_sample = _build_network(problem, state, cfg, device, resumed)
    stage1 = PretrainingStage(model, problem.data, cfg, device)
    if resumed is None:
        state.best_held_out = state.initial_held_out = held_out_loss(model, problem.data)
        state.best_state = copy.deepcopy(model.state_dict())
        state.t_stage1 = state.elapsed
    else:
        state.load_state_dict(resumed, device)
        if state.phase == "stage 1":
            stage1.load_state_dict(resumed["stage1"])
    loop = _StageLoop(state, report, cfg, token, saver, model, problem.data)

    # -- stage 1 --
    ended = None
    if state.phase == "stage 1":
        ended = yield from loop.run(stage1, problem.n1, problem.budget1, problem.eta1)
        if ended == "cancel":
            return None
        if state.best_held_out is not None:
            model.load_state_dict(state.best_state)  # the best held-out state of stage 1
    stopped = ended == "stop"

    # -- hand-over and stage 2 --
    if problem.n2 and not stopped:
        if (state.phase == "stage 1" and cfg.stage2_final_sigmoid and not model.residual
                and not model.final_sigmoid):
            change = model.calibrate_sigmoid_output(x_sample.to(device))
            state.notes.append(
                "Adversarial stage: the network's bounded (sigmoid) output fades in over "
                f"the first {cfg.handover_fraction:.0%} of the stage (switched on at once it "
                f"would have moved the maps by up to {change['max_change']:.2g} on a 0-1 "
                "scale)."
            )
        stage2 = AdversarialStage(model, problem.data, cfg, device, problem.op, problem.p_lr)
        if state.phase == "stage 2":
            stage2.load_state_dict(resumed["stage2"])
        else:
            state.phase, state.t_stage2 = "stage 2", state.elapsed
            if saver is not None:
                saver.save(state, model, stage2)  # the hand-over is worth keeping
        budget2 = None if cfg.max_seconds is None else max(0.0, cfg.max_seconds
                                                           - state.t_stage2)
        yield report.event("stage 2", state.step2, problem.n2, None, "Adversarial stage")
        ended = yield from loop.run(stage2, problem.n2, budget2, problem.eta2)
        if ended == "cancel":
            return None
        stopped = ended == "stop"
        del stage2

    # -- the maps --
    if token.cancelled:
        return None
    seconds = state.elapsed
    model.eval()
    check = held_out_check(model, problem.data)
    quality = None if check is None else QualityCheck.from_check(check)
    if quality is not None and not quality.passed:
        state.notes.append(quality.message)
    del stage1, loop
    problem.data = None  # its tables are not needed to apply the network
    t0 = time.perf_counter()
    maps = None
    if infer:
        yield report.event("finalise", 0, 0, None, "Computing the super-resolved maps")
        maps = predict(model, problem.normaliser, prepared.lr_maps, prepared.rgb, problem.op,
                       cfg, device=device, photo_normaliser=problem.photo_normaliser)
    inference_seconds = time.perf_counter() - t0
    if stopped:
        state.notes.append(f"Stopped by the user after {state.step} of {state.total} steps.")
    yield report.event("done", 0, 0, 0.0, "Done")
    result = _result(state, problem, prepared, cfg, model, maps, report.device, seconds,
                     inference_seconds, stopped)
    result.quality_check = quality
    if check is not None:
        result.diagnostics.update(heldout_network_mse=check.network_mse,
                                  heldout_interpolation_mse=check.interpolation_mse,
                                  heldout_gain_db=check.gain_db)
    return result


# ------------------------------------------------------------------------ the pieces
@dataclass
class _Problem:
    """What a run trains on: the operator, normalised data and the stages' plan."""

    op: AcquisitionOperator
    normaliser: MapNormaliser
    photo_normaliser: PhotoNormaliser
    data: TrainingData | None
    p_lr: int
    n1: int
    n2: int
    budget1: float | None
    notes: list[str]
    seed: int
    device: torch.device
    cfg: SRConfig

    @classmethod
    def build(cls, prepared: PreparedInputs, cfg: SRConfig, device: torch.device) -> _Problem:
        """Normalise the input, build the samplers and plan both stages."""
        notes = list(prepared.notes)
        s = prepared.scale
        op = AcquisitionOperator(s, cfg.operator, cfg.psf_sigma)
        normaliser = MapNormaliser.fit(prepared.lr_maps, cfg.zero_level, cfg.peak_level)
        photo_normaliser = photo_normaliser_for(cfg, prepared.rgb)
        data = TrainingData(normaliser.forward(prepared.lr_maps), prepared.rgb, op, device,
                            cfg.validation_fraction, cfg.seed,
                            photo_normaliser=photo_normaliser,
                            interpolation=cfg.interpolation,
                            photo_range=cfg.photo_range, down_colours=cfg.down_colours)
        photo_normaliser = data.photo_normaliser  # clipped to the scan's colours, if asked
        if cfg.down_colours != data.down_colours and data.has_down_problem:
            notes.append("With a beam wider than a scan pixel the one-scale-down copy sees "
                         "each scan pixel's mean colour, not its photo pixels.")
        if not data.has_down_problem:
            notes.append(
                "The scan is too small for the one-scale-down copy of the problem "
                f"(needs at least {2 * s} x {2 * s} scan pixels); stage 1 uses the scan only."
            )
        # Stage 2 patch geometry: whole blocks, inside the scan.
        p_lr = max(1, round(cfg.patch_size / s))
        p_lr = min(p_lr, data.h - 2 * data.margin, data.w - 2 * data.margin)
        wanted2 = cfg.adversarial and cfg.stage2_steps > 0
        if wanted2 and p_lr < 1:
            notes.append("The scan is smaller than one patch: the adversarial stage was skipped.")
        if wanted2 and p_lr >= 1 and p_lr * s != cfg.patch_size:
            notes.append(f"Stage 2 patches are {p_lr * s} px (whole scan pixels), not "
                         f"{cfg.patch_size}.")
        n2 = cfg.stage2_steps if wanted2 and p_lr >= 1 else 0
        if n2 and cfg.pseudo_real == "scan" and not scan_windows_fit(data, p_lr):
            notes.append(f"The scan is smaller than {p_lr * s} x {p_lr * s} scan pixels: the "
                         "adversarial stage's real patches are the photo-and-scan mixture "
                         "instead of windows of the scan.")
        budget = cfg.max_seconds
        budget1 = None if budget is None else budget * (cfg.stage1_time_share if n2 else 1.0)
        return cls(op, normaliser, photo_normaliser, data, p_lr, cfg.stage1_steps, n2, budget1,
                   notes, cfg.seed, device, cfg)

    def new_state(self) -> RunState:
        """A fresh run state with seeded generators."""
        torch.manual_seed(self.seed)
        gen = torch.Generator().manual_seed(self.seed)
        # Batches are drawn by a generator on the GPU itself: a CPU draw would be copied
        # to the GPU, and each copy waits for the GPU's queue to empty.
        gen_batch = (torch.Generator(device=self.device).manual_seed(self.seed)
                     if self.device.type == "cuda" else gen)
        return RunState(total=self.n1 + self.n2, rng=gen, rng_batch=gen_batch,
                        notes=list(self.notes))

    def eta1(self, per_step: float, k: int) -> float:
        """Seconds left from step ``k`` of stage 1, stage 2 included."""
        cfg = self.cfg
        # A stage-2 step costs about 5 stage-1 steps of 8192 pixels when its batch holds
        # 32 x 32 x 32 pixels (measured on a CPU); scale by the pixels.
        ratio = 5.0 * (8192 / cfg.stage1_batch_pixels) * (
            cfg.batch_size * cfg.patch_size**2 / 32768)
        return per_step * (self.n1 - k) + per_step * ratio * self.n2

    def eta2(self, per_step: float, k: int) -> float:
        """Seconds left from step ``k`` of stage 2."""
        return per_step * (self.n2 - k)


def _build_network(problem: _Problem, state: RunState, cfg: SRConfig, device: torch.device,
                   resumed: dict | None) -> tuple[ListaGenerator, torch.Tensor]:
    """The generator, initialised (or restored) on the CPU and moved to ``device``.

    The initialisation sample is drawn even when resuming: the hand-over uses it.
    """
    data = problem.data
    model = ListaGenerator.from_config(data.n_maps + 3, cfg)
    x_sample = data.sample_pixels_for_init(16384, state.rng)
    if resumed is not None:
        model.load_state_dict(resumed["model"])
    elif cfg.init == "ista":
        info = ista_initialisation(model, x_sample.cpu(), state.rng)
        state.notes.append(
            f"ISTA initialisation, NMF relative error {info['nmf_relative_error']:.3f}")
    else:
        model.init_random(x_sample.cpu(), state.rng)
    if resumed is None:
        model.clamp_weights(cfg.stage1_weight_bound)
        model.final_sigmoid = cfg.stage1_final_sigmoid
        if model.linear_path and data.has_down_problem:
            x, y = data.down_pixels(min(1 << 16, len(data.train_idx)), state.rng)
            model.fit_linear_path(x.cpu(), y.cpu())
    model.to(device)
    return model, x_sample


class _Reporter:
    """Builds progress events from the run state, and decides when one is due."""

    def __init__(self, state: RunState, device: str) -> None:
        self.state, self.device = state, device
        self.last = time.perf_counter()

    def due(self) -> bool:
        """True when the last progress event is :data:`EVENT_INTERVAL` seconds old."""
        return time.perf_counter() - self.last >= EVENT_INTERVAL

    def mark(self) -> None:
        """Start the interval to the next progress event now."""
        self.last = time.perf_counter()

    def event(self, stage: str, stage_step: int, stage_total: int, eta: float | None,
              message: str = "") -> TrainEvent:
        """An event with the loss means since the previous one."""
        s = self.state
        losses = s.log_event(stage)
        return TrainEvent(stage, s.step, s.total, stage_step, stage_total, losses, s.elapsed,
                          eta, self.device, message)


class _StageLoop:
    """The loop both stages share: control, step, checks, checkpoints and events."""

    def __init__(self, state: RunState, report: _Reporter, cfg: SRConfig, token: RunControl,
                 saver: _Saver | None, model: ListaGenerator, data: TrainingData) -> None:
        self.state, self.report, self.cfg = state, report, cfg
        self.token, self.saver, self.model, self.data = token, saver, model, data

    def run(self, stage: Stage, n: int, budget: float | None, eta_fn
            ) -> Generator[TrainEvent, None, str | None]:
        """Steps of ``stage`` until its end, its time budget, a plateau or a request.

        Returns ``"cancel"``, ``"stop"`` or ``None`` (the stage ended by itself).
        """
        state, cfg = self.state, self.cfg
        first = stage.name == "stage 1"
        t_stage = state.t_stage1 if first else state.t_stage2
        start = (state.step1 if first else state.step2) + 1

        def time_left(k: int) -> float:
            """Estimated seconds left after ``k`` steps of the stage (within the budget)."""
            eta = eta_fn((state.elapsed - t_stage) / max(1, k), k)
            if cfg.max_seconds is not None:
                eta = min(eta, max(0.0, cfg.max_seconds - state.elapsed))
            return eta

        self.report.mark()
        for k in range(start, n + 1):
            if self.token.paused:
                # Events are throttled, so the last one may be steps behind: say exactly
                # where training halts before waiting.
                self.report.mark()
                eta = time_left(k - 1) if k > 1 else None  # no step yet: unknown
                yield self.report.event(stage.name, k - 1, n, eta, message=PAUSED_MESSAGE)
            state.clock.paused += self.token.wait_while_paused()
            if self.token.cancelled:
                return "cancel"
            if self.token.should_end:
                return "stop"
            progress = _progress(k, n, state.elapsed - t_stage, budget)
            if first:
                terms = stage.step(progress, state.rng_batch)
                state.step1 = k
            else:
                terms = stage.step(progress, state.rng_batch, state.rng)
                state.step2 = k
            state.meter.add(terms)
            if (k % cfg.check_every == 0 or k == n) and self._check(first, k):
                return None
            if self.saver is not None and self.saver.due(state.elapsed):
                self.saver.save(state, self.model, stage)
            out_of_time = budget is not None and state.elapsed - t_stage >= budget
            if k == n or out_of_time or self.report.due():
                self.report.mark()
                ev = self.report.event(stage.name, k, n, time_left(k))
                _check_finite(ev, stage.lr(progress))
                yield ev
            if out_of_time:
                state.notes.append(f"{stage.name.capitalize()} used its time budget after "
                                   f"{k} of {n} steps.")
                return None
        return None

    def _check(self, first: bool, k: int) -> bool:
        """The held-out check; True when stage 1 should end (a plateau)."""
        state, cfg = self.state, self.cfg
        val = held_out_loss(self.model, self.data)
        if val is not None:
            state.meter.add({"validation": val})
            if first:
                state.record_held_out(val, self.model)
        if first and cfg.plateau_patience and state.since_best >= cfg.plateau_patience:
            state.notes.append(f"Stage 1 stopped at step {k}: the held-out loss stopped "
                               "improving.")
            return True
        return False


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


class _Saver:
    """Writes checkpoints at most every ``plan.every_seconds`` and holds a state to resume."""

    def __init__(self, plan: CheckpointPlan, fingerprint: str, resumed: dict | None) -> None:
        self.plan = plan
        self.fingerprint = fingerprint
        self.resumed = resumed
        self.last = float(resumed["elapsed"]) if resumed else 0.0

    def due(self, elapsed: float) -> bool:
        """True when a checkpoint is due."""
        return elapsed - self.last >= self.plan.every_seconds

    def save(self, state: RunState, model: ListaGenerator, stage: Stage) -> None:
        """Everything needed to continue the run exactly from here."""
        payload = {**state.state_dict(), "model": cpu_copy(model.state_dict()),
                   stage.name.replace(" ", ""): stage.state_dict(),
                   "cpu_threads": torch.get_num_threads()}
        save_checkpoint(self.plan.path, self.fingerprint, payload)
        self.last = state.elapsed


def _result(state: RunState, problem: _Problem, prepared: PreparedInputs, cfg: SRConfig,
            model: ListaGenerator, maps: np.ndarray | None, device: str, seconds: float,
            inference_seconds: float, stopped: bool) -> TrainResult:
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
    return TrainResult(
        maps=maps, elements=prepared.elements, config=cfg, history=state.history,
        device=device, seconds=seconds, stopped_early=stopped, model=trained,
        notes=tuple(state.notes), inference_seconds=inference_seconds,
        diagnostics=diagnostics,
    )
