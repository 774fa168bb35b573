"""The loop's set-up: what a training run works on, its network, and its stages.

:class:`TrainingProblem` holds the normalised data, its samplers and the plan of both
stages; :func:`build_network` makes the generator, initialised or restored;
:func:`start_or_resume` starts stage 1 (or restores a checkpoint) and
:func:`hand_over` sets stage 2 up from the stage-1 network.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch

from .checkpoint import CheckpointSaver
from .config import SRConfig
from .events import Stage
from .held_out import held_out_loss
from .ista_init import ista_initialisation
from .model import ListaGenerator
from .normalisation import MapNormaliser, PhotoNormaliser, photo_normaliser_for
from .operators import AcquisitionOperator
from .run_state import RunState
from .sampling import TrainingData
from .stage1 import PretrainingStage
from .stage2 import AdversarialStage, scan_windows_fit
from .validation import PreparedInputs

#: A stage-2 step with 32 x 32 x 32 pixels, in stage-1 steps of 8,192 pixels: only the
#: time left shown during stage 1 depends on it.
STAGE2_STEP_COST = 5.0


@dataclass
class TrainingProblem:
    """What a run trains on: the operator, normalised data and the stages' plan.

    ``n1`` and ``n2`` are the planned steps of each stage (``n2`` is 0 when stage 2 is
    off or cannot run), ``budget1`` stage 1's share of the time budget, ``p_lr`` the
    stage-2 patch size in scan pixels; ``notes`` say what was changed from the settings.
    """

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
    def build(cls, prepared: PreparedInputs, cfg: SRConfig, device: torch.device
              ) -> TrainingProblem:
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
        # Until stage 2 runs, its step is guessed from the pixels it pushes through the
        # network (stage 2 also runs the discriminator and the projection, and goes back
        # twice: STAGE2_STEP_COST); once it runs, eta2 times its own steps.
        ratio = STAGE2_STEP_COST * (8192 / cfg.stage1_batch_pixels) * (
            cfg.batch_size * cfg.patch_size**2 / 32768)
        return per_step * (self.n1 - k) + per_step * ratio * self.n2

    def eta2(self, per_step: float, k: int) -> float:
        """Seconds left from step ``k`` of stage 2."""
        return per_step * (self.n2 - k)


def build_network(problem: TrainingProblem, state: RunState, cfg: SRConfig, device: torch.device,
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


def start_or_resume(state: RunState, stage1: PretrainingStage, model: ListaGenerator,
                     problem: TrainingProblem, resumed: dict | None,
                     device: torch.device) -> None:
    """A new run's first held-out loss and best state, or a resumed run's saved state."""
    if resumed is None:
        state.best_held_out = state.initial_held_out = held_out_loss(model, problem.data)
        state.best_state = copy.deepcopy(model.state_dict())
        state.t_stage1 = state.elapsed
        return
    state.load_state_dict(resumed, device)
    if state.phase is Stage.STAGE1:
        stage1.load_state_dict(resumed["stage1"])


def hand_over(problem: TrainingProblem, state: RunState, model: ListaGenerator,
              x_sample: torch.Tensor, resumed: dict | None,
              saver: CheckpointSaver | None) -> AdversarialStage:
    """Stage 2, set up from the stage-1 network (or restored); the hand-over is saved."""
    cfg, device = problem.cfg, problem.device
    if (state.phase is Stage.STAGE1 and cfg.stage2_final_sigmoid and not model.residual
            and not model.final_sigmoid):
        change = model.calibrate_sigmoid_output(x_sample.to(device))
        moved = f"{change['max_change']:.2g} on a 0-1 scale"
        state.notes.append(
            "Adversarial stage: the network's bounded (sigmoid) output fades in over "
            f"the first {cfg.handover_fraction:.0%} of the stage (switched on at once it "
            f"would have moved the maps by up to {moved})."
            if cfg.handover_fraction > 0 else
            "Adversarial stage: the network's bounded (sigmoid) output, calibrated to "
            f"stage 1's, is switched on at once; it moved the maps by up to {moved}."
        )
    stage2 = AdversarialStage(model, problem.data, cfg, device, problem.op, problem.p_lr)
    if state.phase is Stage.STAGE2:
        stage2.load_state_dict(resumed["stage2"])
    else:
        state.phase, state.t_stage2 = Stage.STAGE2, state.elapsed
        if saver is not None:
            saver.save(state, model, stage2)  # the hand-over is worth keeping
    return stage2
