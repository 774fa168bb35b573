"""The training loop of METHOD.md as a plain generator of progress events (no Qt).

``train(...)`` validates its input at once (raising
:class:`~napari_maxrf_sr.core.validation.InputError`) and returns a generator. Iterate
it to run; each item is a :class:`TrainEvent`; its return value
(``StopIteration.value``, napari's ``returned`` signal) is a :class:`TrainResult`, or
``None`` when the run was cancelled.

Stage 1 (self-supervised pretraining, no final sigmoid, weights bounded): each batch
holds pixels of the one-scale-down copy of the problem (input ``[up(Y_lr U); Z U]``,
target ``Y_lr``) and ``s x s`` blocks of the real problem, whose block means must
match the scan, plus ``alpha1`` times the photo reconstruction. The generator is
per-pixel, so batches are pixels, not patches: far more signal per second on a CPU.
Stage 2 (adversarial): ``patch_size`` patches with flips, the projection onto the
scan inside the loss, pseudo-real patches, and the misclassification-focused
least-squares GAN of :mod:`napari_maxrf_sr.core.losses`.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from .checkpoint import CheckpointPlan, load_checkpoint, run_fingerprint, save_checkpoint
from .config import SRConfig, config_from_preset
from .control import StopToken
from .device import describe_device, resolve_device
from .inference import TrainedModel, predict
from .init import ista_initialisation
from .losses import (
    best_guide_channels,
    discriminator_loss,
    generator_adversarial_loss,
    pseudo_real_patches,
)
from .model import ListaGenerator, PatchDiscriminator
from .normalisation import MapNormaliser
from .operators import AcquisitionOperator
from .sampling import TrainingData, flip_batch
from .validation import PreparedInputs, prepare_inputs

#: Seconds between progress events (a GUI needs no more than a few per second).
EVENT_INTERVAL = 0.1
#: A loss above this (on maps normalised to [0, 1]) means training has blown up.
DIVERGENCE_LIMIT = 1e4


class TrainingDiverged(RuntimeError):
    """The loss became NaN/Inf or exploded; the message says what to try."""


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


def train(
    lr_maps,
    rgb,
    config: SRConfig | None = None,
    *,
    scale: int | None = None,
    stop: StopToken | None = None,
    elements: Sequence[str] | None = None,
    negative: str = "error",
    checkpoint: CheckpointPlan | None = None,
    infer: bool = True,
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
    return _run(prepared, cfg, device, stop or StopToken(), saver, infer)


# ----------------------------------------------------------------------------------------
class _Clock:
    """Training time that excludes pauses."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.paused = 0.0

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start - self.paused


class _Saver:
    """Writes checkpoints at most every ``plan.every_seconds`` and holds a state to resume."""

    def __init__(self, plan: CheckpointPlan, fingerprint: str, resumed: dict | None) -> None:
        self.plan = plan
        self.fingerprint = fingerprint
        self.resumed = resumed
        self.last = float(resumed["elapsed"]) if resumed else 0.0

    def due(self, elapsed: float) -> bool:
        return elapsed - self.last >= self.plan.every_seconds

    def save(self, elapsed: float, state: dict) -> None:
        save_checkpoint(self.plan.path, self.fingerprint, state)
        self.last = elapsed


def _cpu_copy(value):
    """``value`` with every tensor in it replaced by a CPU copy.

    Safe to save while training goes on; dicts, lists and tuples are copied, anything
    else is kept as it is.
    """
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().clone()
    if isinstance(value, dict):
        return {k: _cpu_copy(x) for k, x in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cpu_copy(x) for x in value)
    return value


def _cpu_state(module_or_opt) -> dict:
    """The state dict of a module or optimiser, as CPU copies."""
    return _cpu_copy(module_or_opt.state_dict())


class _Meter:
    """Running means of the loss terms between two events.

    Terms may be detached tensors: they are summed where they live and read once per
    event, because reading a GPU value every step would stall the GPU's queue.
    """

    def __init__(self) -> None:
        self.sums: dict[str, float | torch.Tensor] = {}
        self.counts: dict[str, int] = {}

    def add(self, terms: dict[str, float | torch.Tensor]) -> None:
        for k, v in terms.items():
            self.sums[k] = self.sums.get(k, 0.0) + v
            self.counts[k] = self.counts.get(k, 0) + 1  # terms may be logged at other rates

    def pop(self) -> dict[str, float]:
        out = self.peek()
        self.sums, self.counts = {}, {}
        return out

    def peek(self) -> dict[str, float]:
        """The means so far, without starting a new interval."""
        return {k: float(v) / self.counts[k] for k, v in self.sums.items()}


def _adam(params, lr: float, device: torch.device) -> torch.optim.Adam:
    """Adam; on a GPU its fused form, one kernel for all parameters.

    The network is small, so a step's cost on a GPU is mostly kernel launches.
    """
    return torch.optim.Adam(params, lr=lr, fused=device.type == "cuda")


def _lr_factor(schedule: str, progress: float) -> float:
    """Learning-rate multiplier at ``progress`` in [0, 1] of a stage (cosine to 5 %)."""
    if schedule == "constant":
        return 1.0
    p = min(max(progress, 0.0), 1.0)
    return 0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * p))


def _control(token: StopToken, clock: _Clock) -> str | None:
    """Wait out a pause, then report ``"cancel"``, ``"stop"`` or ``None`` (go on)."""
    clock.paused += token.wait_while_paused()
    if token.cancelled:
        return "cancel"
    return "stop" if token.should_end else None


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


def _stage1_batch_loss(
    model: ListaGenerator, data: TrainingData, cfg: SRConfig, gen: torch.Generator
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Stage 1 loss on one batch of down-problem pixels and HR blocks."""
    b = data.n_maps
    s = data.s
    n_total = cfg.stage1_batch_pixels
    terms: dict[str, float] = {}
    loss = torch.zeros((), device=data.device)
    n_down = n_total // 2 if data.has_down_problem and cfg.down_weight > 0 else 0
    if n_down:
        x, y = data.down_pixels(n_down, gen)
        out = model(x)
        xrf = F.mse_loss(out[:, :b], y)
        rgb = F.mse_loss(out[:, b:], x[:, b:])
        loss = loss + cfg.down_weight * xrf + cfg.alpha1 * rgb
        terms["down_xrf"] = xrf.detach()
        terms["down_rgb"] = rgb.detach()
    # The real problem: whole s x s blocks (with the operator's margin), whose
    # block means must reproduce the scan.
    n_blocks = max(1, (n_total - n_down) // (s * s * (1 + 2 * data.margin) ** 2))
    i, j = data.random_lr_corners(n_blocks, 1, gen)
    batch = data.hr_patches(i, j, 1)
    out = model.forward_image(batch.x0)
    m = batch.margin
    y_down = data.op.down(out[:, :b])[..., m : m + 1, m : m + 1]
    cons = F.mse_loss(y_down, batch.y_lr)
    rgb_hr = F.mse_loss(out[:, b:], batch.x0[:, b:])
    loss = loss + cfg.consistency_weight * cons + cfg.alpha1 * rgb_hr
    terms["consistency"] = cons.detach()
    terms["rgb"] = rgb_hr.detach()
    terms["total"] = loss.detach()
    return loss, terms


@torch.no_grad()
def _validation_loss(model: ListaGenerator, data: TrainingData) -> float | None:
    """Held-out MSE of the down problem (answer known), or ``None`` without one."""
    if not data.has_down_problem or len(data.val_idx) == 0:
        return None
    x, y = data.down_validation()
    total, n = 0.0, 0
    for k in range(0, x.shape[0], 1 << 15):
        out = model(x[k : k + (1 << 15)])[:, : data.n_maps]
        total += float(((out - y[k : k + (1 << 15)]) ** 2).sum())
        n += out.numel()
    return total / max(1, n)


def _run(
    prepared: PreparedInputs, cfg: SRConfig, device: torch.device, token: StopToken,
    saver: _Saver | None = None,
    infer: bool = True,
) -> Generator[TrainEvent, None, TrainResult | None]:
    clock = _Clock()
    dev_name = describe_device(device)
    notes = list(prepared.notes)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    # Batches are drawn by a generator on the GPU itself: a CPU draw would be copied to
    # the GPU, and each copy waits for the GPU's queue to empty.
    gen_batch = (torch.Generator(device=device).manual_seed(cfg.seed)
                 if device.type == "cuda" else gen)
    s = prepared.scale
    op = AcquisitionOperator(s, cfg.operator, cfg.psf_sigma)
    normaliser = MapNormaliser.fit(prepared.lr_maps, cfg.zero_level, cfg.peak_level)
    y_n = normaliser.forward(prepared.lr_maps)
    data = TrainingData(y_n, prepared.rgb, op, device, cfg.validation_fraction, cfg.seed,
                        rgb_range=(cfg.rgb_low, cfg.rgb_high))
    del y_n  # shared with the tensor in data
    b = data.n_maps
    if not data.has_down_problem:
        notes.append(
            "The scan is too small for the one-scale-down copy of the problem "
            f"(needs at least {2 * s} x {2 * s} scan pixels); stage 1 uses the scan only."
        )

    # Stage 2 patch geometry: whole blocks, inside the scan.
    p_lr = max(1, round(cfg.patch_size / s))
    p_lr = min(p_lr, data.h - 2 * data.margin, data.w - 2 * data.margin)
    run_stage2 = cfg.adversarial and cfg.stage2_steps > 0 and p_lr >= 1
    if cfg.adversarial and cfg.stage2_steps > 0 and not run_stage2:
        notes.append("The scan is smaller than one patch: the adversarial stage was skipped.")
    if run_stage2 and p_lr * s != cfg.patch_size:
        notes.append(f"Stage 2 patches are {p_lr * s} px (whole scan pixels), not "
                     f"{cfg.patch_size}.")

    n1 = cfg.stage1_steps
    n2 = cfg.stage2_steps if run_stage2 else 0
    total = n1 + n2
    budget = cfg.max_seconds
    budget1 = None if budget is None else (budget * (cfg.stage1_time_share if n2 else 1.0))
    history: list[dict] = []
    meter = _Meter()

    def event(stage: str, step: int, stage_step: int, stage_total: int, eta, msg="") -> TrainEvent:
        losses = meter.pop()
        if losses:
            history.append({"step": step, "stage": stage, "elapsed": clock.elapsed, **losses})
        return TrainEvent(stage, step, total, stage_step, stage_total, losses,
                          clock.elapsed, eta, dev_name, msg)

    resumed = saver.resumed if saver is not None else None
    yield event("prepare", 0, 0, 0, None,
                f"Initialising the network on {dev_name}" if resumed is None else
                f"Resuming from step {resumed['step']} of {resumed['total']} on {dev_name}")

    # Initialise on the CPU (the seeded generator lives there), then move to the device.
    # The init sample is drawn even when resuming: the hand-over to stage 2 uses it.
    model = ListaGenerator(b + 3, cfg.n_atoms, cfg.n_layers)
    x_sample = data.sample_pixels_for_init(16384, gen)
    if resumed is not None:
        model.load_state_dict(resumed["model"])
    elif cfg.init == "ista":
        info = ista_initialisation(model, x_sample.cpu(), gen)
        notes.append(f"ISTA initialisation, NMF relative error {info['nmf_relative_error']:.3f}")
    else:
        model.init_random(x_sample.cpu(), gen)
    model.to(device)
    if resumed is None:
        model.clamp_weights(cfg.stage1_weight_bound)
        model.final_sigmoid = cfg.stage1_final_sigmoid

    # -------------------------------- stage 1 --------------------------------------------
    opt = _adam(model.parameters(), cfg.stage1_lr, device)
    phase = "stage 1"
    start1 = 1
    if resumed is None:
        best_val = initial_val = _validation_loss(model, data)
        best_state = copy.deepcopy(model.state_dict())
        since_best = 0
        t_stage = clock.elapsed
    else:
        # Everything the rest of the run depends on, as it was when the state was saved.
        phase = resumed["phase"]
        model.final_sigmoid = bool(resumed["final_sigmoid"])
        if phase == "stage 1":
            opt.load_state_dict(resumed["opt"])
        gen.set_state(resumed["rng"])
        if gen_batch is not gen and resumed.get("rng_batch") is not None:
            gen_batch.set_state(resumed["rng_batch"])
        torch.set_rng_state(resumed["torch_rng"])
        clock.start = time.perf_counter() - float(resumed["elapsed"])
        history[:] = resumed["history"]
        pending_step, pending_stage, pending = resumed.get("pending", (0, phase, {}))
        if pending:
            history.append({"step": pending_step, "stage": pending_stage,
                            "elapsed": float(resumed["elapsed"]), **pending})
        notes[:] = [*resumed["notes"], f"Resumed from a checkpoint at step {resumed['step']}."]
        best_val, initial_val = resumed["best_val"], resumed["initial_val"]
        best_state = {k: v.to(device) for k, v in resumed["best_state"].items()}
        since_best = int(resumed["since_best"])
        t_stage = float(resumed["t_stage1"])
        start1 = int(resumed["step1"]) + 1 if phase == "stage 1" else n1 + 1
    t_stage1 = t_stage

    def snapshot(phase: str, step1: int, step2: int, step: int, t_stage2: float = 0.0,
                 **extra) -> dict:
        """Everything needed to continue the run exactly from here."""
        return {"phase": phase, "step": step, "total": total, "step1": step1, "step2": step2,
                "elapsed": clock.elapsed, "t_stage1": t_stage1, "t_stage2": t_stage2,
                "model": _cpu_state(model), "final_sigmoid": bool(model.final_sigmoid),
                "best_state": _cpu_copy(best_state),
                "best_val": best_val, "initial_val": initial_val, "since_best": since_best,
                # Losses of the steps since the last event, so that a resumed run's
                # history has them too.
                "history": list(history), "pending": (step, phase, meter.peek()),
                "notes": list(notes), "rng": gen.get_state(),
                "rng_batch": gen_batch.get_state() if gen_batch is not gen else None,
                "torch_rng": torch.get_rng_state(), **extra}

    last_event = time.perf_counter()
    step = 0 if resumed is None else int(resumed["step"])
    stopped = False
    for step1 in range(start1, n1 + 1):
        request = _control(token, clock)
        if request == "cancel":
            return None
        if request == "stop":
            stopped = True
            break
        progress = _progress(step1, n1, clock.elapsed - t_stage, budget1)
        lr = cfg.stage1_lr * _lr_factor(cfg.lr_schedule, progress)
        for group in opt.param_groups:
            group["lr"] = lr
        loss, terms = _stage1_batch_loss(model, data, cfg, gen_batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        model.clamp_weights(cfg.stage1_weight_bound)
        meter.add(terms)
        step = step1
        if step1 % cfg.check_every == 0 or step1 == n1:
            val = _validation_loss(model, data)
            if val is not None:
                meter.add({"validation": val})
                if best_val is None or val < best_val:
                    best_val, since_best = val, 0
                    best_state = copy.deepcopy(model.state_dict())
                else:
                    since_best += 1
            if cfg.plateau_patience and since_best >= cfg.plateau_patience:
                notes.append(f"Stage 1 stopped at step {step1}: the held-out loss stopped "
                             "improving.")
                break
        if saver is not None and saver.due(clock.elapsed):
            saver.save(clock.elapsed, snapshot("stage 1", step1, 0, step, opt=_cpu_state(opt)))
        out_of_time = budget1 is not None and clock.elapsed - t_stage >= budget1
        now = time.perf_counter()
        if now - last_event >= EVENT_INTERVAL or step1 == n1 or out_of_time:
            last_event = now
            per_step = (clock.elapsed - t_stage) / max(1, step1)
            # A stage-2 step costs about 5 stage-1 steps of 8192 pixels when its batch
            # holds 32 x 32 x 32 pixels (measured on a CPU); scale by the pixels.
            ratio = 5.0 * (8192 / cfg.stage1_batch_pixels) * (
                cfg.batch_size * cfg.patch_size**2 / 32768)
            eta = per_step * (n1 - step1) + per_step * ratio * n2
            if budget is not None:
                eta = min(eta, max(0.0, budget - clock.elapsed))
            ev = event("stage 1", step, step1, n1, eta)
            _check_finite(ev, lr)
            yield ev
        if out_of_time:
            notes.append(f"Stage 1 used its time budget after {step1} of {n1} steps.")
            break
    # Keep the best held-out state of stage 1 (the last one if never checked).
    if best_val is not None and phase == "stage 1":
        model.load_state_dict(best_state)

    # ----------------------------- hand-over ---------------------------------------------
    if phase == "stage 1" and not model.final_sigmoid and (run_stage2 and not stopped):
        change = model.calibrate_sigmoid_output(x_sample.to(device))
        notes.append(
            "Adversarial stage: the network's bounded (sigmoid) output was switched on; "
            f"the maps moved by at most {change['max_change']:.2g} on a 0-1 scale "
            f"(mean {change['mean_change']:.1g})."
        )

    # -------------------------------- stage 2 --------------------------------------------
    if run_stage2 and not stopped:
        disc = PatchDiscriminator().to(device)
        opt_g = _adam(model.parameters(), cfg.lr_g, device)
        opt_d = _adam(disc.parameters(), cfg.lr_d, device)
        with torch.no_grad():
            guide, sign = best_guide_channels(data.y_lr, data.rgb_lr,
                                              cfg.abs_correlation_guide)
        guide, sign = guide.to(device), sign.to(device)
        start2 = 1
        if phase == "stage 2":
            disc.load_state_dict(resumed["disc"])
            opt_g.load_state_dict(resumed["opt_g"])
            opt_d.load_state_dict(resumed["opt_d"])
            start2 = int(resumed["step2"]) + 1
            t_stage = float(resumed["t_stage2"])
        else:
            t_stage = clock.elapsed
        t_stage2 = t_stage

        def snapshot2(step2: int) -> dict:
            return snapshot("stage 2", n1, step2, step, t_stage2, disc=_cpu_state(disc),
                            opt_g=_cpu_state(opt_g), opt_d=_cpu_state(opt_d))

        if saver is not None and phase == "stage 1":
            saver.save(clock.elapsed, snapshot2(0))  # the hand-over is worth keeping
        budget2 = None if budget is None else max(0.0, budget - t_stage)
        m = data.margin
        yield event("stage 2", step, start2 - 1, n2, None, "Adversarial stage")
        for step2 in range(start2, n2 + 1):
            request = _control(token, clock)
            if request == "cancel":
                return None
            if request == "stop":
                stopped = True
                break
            factor = _lr_factor(cfg.lr_schedule,
                                _progress(step2, n2, clock.elapsed - t_stage, budget2))
            for group in opt_g.param_groups:
                group["lr"] = cfg.lr_g * factor
            i, j = data.random_lr_corners(cfg.batch_size, p_lr, gen_batch)
            batch = data.hr_patches(i, j, p_lr)
            if cfg.flips:
                batch = flip_batch(batch, gen_batch)  # flips inputs and scan values together
            out = model.forward_image(batch.x0)
            y_hat, z_hat = out[:, :b], out[:, b:]
            down = op.down(y_hat)[..., m : m + p_lr, m : m + p_lr]
            cons = F.mse_loss(down, batch.y_lr)
            rgb_term = F.mse_loss(z_hat, batch.x0[:, b:])
            # Proj(g(X0)) on the patch: exact for the block mean; for a wide beam
            # the whole window's scan values are needed (a few CG steps).
            if op.is_block:
                y_proj = op.project(y_hat, batch.y_lr)
            else:
                y_proj = op.project(y_hat, batch.y_window, cg_iters=30)
            channels = torch.randint(b, (cfg.batch_size,), generator=gen_batch,
                                     device=gen_batch.device).to(device)
            beta = float(torch.rand((), generator=gen)) * cfg.beta_max
            rows = torch.arange(cfg.batch_size, device=device)
            fake = y_proj[rows, channels].unsqueeze(1)
            real = pseudo_real_patches(
                batch.x0[:, :b], batch.x0[:, b:], channels, guide, sign, beta,
                (cfg.rgb_low, cfg.rgb_high),
            )
            # Discriminator step (generator output detached).
            d_fake, d_real = discriminator_loss(disc(real), disc(fake.detach()))
            opt_d.zero_grad(set_to_none=True)
            (d_fake + d_real).backward()
            opt_d.step()
            # Generator step.
            adv = generator_adversarial_loss(disc(fake))
            loss = cfg.consistency_weight * cons + cfg.alpha1 * rgb_term + cfg.alpha2 * adv
            terms = {"consistency": cons.detach(), "rgb": rgb_term.detach(),
                     "adv_g": adv.detach(), "d_fake": d_fake.detach(),
                     "d_real": d_real.detach()}
            if cfg.stage2_down_weight > 0 and data.has_down_problem:
                x, y = data.down_pixels(cfg.stage1_batch_pixels // 4, gen_batch)
                down_xrf = F.mse_loss(model(x)[:, :b], y)
                loss = loss + cfg.stage2_down_weight * down_xrf
                terms["down_xrf"] = down_xrf.detach()
            terms["total"] = loss.detach()
            opt_g.zero_grad(set_to_none=True)
            loss.backward()
            opt_g.step()
            meter.add(terms)
            step = n1 + step2
            if step2 % cfg.check_every == 0 or step2 == n2:
                val = _validation_loss(model, data)
                if val is not None:
                    meter.add({"validation": val})
            if saver is not None and saver.due(clock.elapsed):
                saver.save(clock.elapsed, snapshot2(step2))
            out_of_time = budget2 is not None and clock.elapsed - t_stage >= budget2
            now = time.perf_counter()
            if now - last_event >= EVENT_INTERVAL or step2 == n2 or out_of_time:
                last_event = now
                per_step = (clock.elapsed - t_stage) / step2
                eta = per_step * (n2 - step2)
                if budget is not None:
                    eta = min(eta, max(0.0, budget - clock.elapsed))
                ev = event("stage 2", step, step2, n2, eta)
                _check_finite(ev, cfg.lr_g * factor)
                yield ev
            if out_of_time:
                notes.append(f"Stage 2 used its time budget after {step2} of {n2} steps.")
                break

    # ------------------------------- finalise --------------------------------------------
    if token.cancelled:
        return None
    seconds = clock.elapsed
    model.eval()
    del data  # its tables are not needed to apply the network
    t0 = time.perf_counter()
    maps = None
    if infer:
        yield event("finalise", step, 0, 0, None, "Computing the super-resolved maps")
        maps = predict(model, normaliser, prepared.lr_maps, prepared.rgb, op, cfg,
                       device=device)
    inference_seconds = time.perf_counter() - t0
    trained = TrainedModel(
        generator=model.cpu(), normaliser=normaliser, config=cfg,
        elements=prepared.elements, scale=s,
        info={"steps": step, "seconds": seconds, "device": dev_name},
    )
    if stopped:
        notes.append(f"Stopped by the user after {step} of {total} steps.")
    yield event("done", step, 0, 0, 0.0, "Done")
    return TrainResult(
        maps=maps, elements=prepared.elements, config=cfg, history=history, device=dev_name,
        seconds=seconds, stopped_early=stopped, model=trained, notes=tuple(notes),
        inference_seconds=inference_seconds,
        diagnostics={"steps": step, "planned_steps": total, "best_validation": best_val,
                     "initial_validation": initial_val,
                     "resumed_from_step": None if resumed is None else int(resumed["step"])},
    )
