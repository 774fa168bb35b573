"""The training loop's own state: counters, clocks, best state, random generators, history.

Everything a run depends on besides its networks and optimisers lives in one
:class:`RunState`, written and read in one place (:meth:`RunState.state_dict`,
:meth:`RunState.load_state_dict`), so that a checkpoint cannot forget a part of it.
:class:`Reporter` turns that state into the loop's progress events.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any

import torch

from ..errors import CheckpointError
from .events import EventKind, Stage, TrainEvent


def cpu_copy(value: Any) -> Any:
    """``value`` with every tensor in it replaced by a detached CPU copy.

    Safe to save while training goes on; dicts, lists and tuples are copied, anything
    else is kept as it is.
    """
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().clone()
    if isinstance(value, dict):
        return {k: cpu_copy(x) for k, x in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(cpu_copy(x) for x in value)
    return value


class Clock:
    """Training time that excludes pauses."""

    def __init__(self, elapsed: float = 0.0) -> None:
        self.start = time.perf_counter() - elapsed
        self.paused = 0.0

    @property
    def elapsed(self) -> float:
        """Seconds of training so far."""
        return time.perf_counter() - self.start - self.paused


class LossMeter:
    """Running means of the loss terms between two progress events.

    Terms may be detached tensors: they are summed where they live and read once per
    event, because reading a GPU value every step would stall the GPU's queue.
    """

    def __init__(self) -> None:
        self.sums: dict[str, float | torch.Tensor] = {}
        self.counts: dict[str, int] = {}

    def add(self, terms: dict[str, float | torch.Tensor]) -> None:
        """Add one step's terms (terms may be logged at different rates)."""
        for k, v in terms.items():
            self.sums[k] = self.sums.get(k, 0.0) + v
            self.counts[k] = self.counts.get(k, 0) + 1

    def peek(self) -> dict[str, float]:
        """The means so far, without starting a new interval."""
        return {k: float(v) / self.counts[k] for k, v in self.sums.items()}

    def pop(self) -> dict[str, float]:
        """The means so far; starts a new interval."""
        out = self.peek()
        self.sums, self.counts = {}, {}
        return out


@dataclass
class RunState:
    """Counters, clocks, the best stage-1 state, random generators, history and notes.

    Attributes
    ----------
    total
        Planned steps of both stages.
    phase
        The stage being trained.
    step1, step2
        Steps done in each stage.
    t_stage1, t_stage2
        Training seconds at which each stage started.
    best_held_out, initial_held_out, since_best, best_state
        The stage-1 held-out loss: best so far, at the start, checks since the best,
        and the network's weights at the best (CPU or device tensors).
    history
        One dict per progress event: ``step``, ``stage``, ``elapsed`` and the loss terms.
    notes
        Messages about the input and the run, for the user.
    rng, rng_batch
        The seeded generators (``rng_batch`` draws batches; it lives on the GPU when
        training runs there, and is ``rng`` itself on the CPU).
    """

    total: int
    rng: torch.Generator
    rng_batch: torch.Generator
    phase: Stage = Stage.STAGE1
    step1: int = 0
    step2: int = 0
    t_stage1: float = 0.0
    t_stage2: float = 0.0
    best_held_out: float | None = None
    initial_held_out: float | None = None
    since_best: int = 0
    best_state: dict[str, torch.Tensor] | None = None
    history: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    clock: Clock = field(default_factory=Clock)
    meter: LossMeter = field(default_factory=LossMeter)
    resumed_from: int | None = None

    @property
    def step(self) -> int:
        """Steps done in both stages."""
        return self.step1 + self.step2

    @property
    def elapsed(self) -> float:
        """Training seconds so far (pauses excluded)."""
        return self.clock.elapsed

    # -- what happens during a run --------------------------------------------------------
    def log_event(self, stage: Stage) -> dict[str, float]:
        """Close the meter's interval: its means, also appended to the history."""
        losses = self.meter.pop()
        if losses:  # the stage as a plain string: histories are written to files
            self.history.append({"step": self.step, "stage": Stage(stage).value,
                                 "elapsed": self.elapsed, **losses})
        return losses

    def record_held_out(self, value: float, model: torch.nn.Module) -> None:
        """Keep the network's weights when the held-out loss is the best so far."""
        if self.best_held_out is None or value < self.best_held_out:
            self.best_held_out, self.since_best = value, 0
            self.best_state = copy.deepcopy(model.state_dict())
        else:
            self.since_best += 1

    # -- checkpoints ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Plain containers and CPU tensors: everything needed to continue exactly."""
        return {
            "phase": self.phase.value, "step": self.step, "total": self.total,
            "step1": self.step1, "step2": self.step2, "elapsed": self.elapsed,
            "t_stage1": self.t_stage1, "t_stage2": self.t_stage2,
            # "best_val", "initial_val": the held-out losses, under the names of older checkpoints
            "best_val": self.best_held_out, "initial_val": self.initial_held_out,
            "since_best": self.since_best, "best_state": cpu_copy(self.best_state),
            "history": list(self.history),
            # Losses of the steps since the last event, so a resumed history has them too.
            "pending": (self.step, self.phase.value, self.meter.peek()),
            "notes": list(self.notes),
            "rng": self.rng.get_state(),
            "rng_batch": self.rng_batch.get_state() if self.rng_batch is not self.rng else None,
            "torch_rng": torch.get_rng_state(),
        }

    def load_state_dict(self, state: dict[str, Any], device: torch.device) -> None:
        """Continue from :meth:`state_dict`'s output (a checkpoint).

        Raises
        ------
        CheckpointError
            When a part is missing or of the wrong kind (a damaged or foreign file).
        """
        try:
            self._load(state, device)
        except (KeyError, TypeError, ValueError, AttributeError, RuntimeError) as exc:
            raise CheckpointError(
                f"The checkpoint is incomplete or damaged ({type(exc).__name__}: {exc}). "
                "Delete it and start a new run."
            ) from None

    def _load(self, state: dict[str, Any], device: torch.device) -> None:
        phase = state["phase"]
        if phase not in (Stage.STAGE1, Stage.STAGE2):
            raise ValueError(f"unknown stage {phase!r}")
        self.phase = Stage(phase)
        self.step1, self.step2 = int(state["step1"]), int(state["step2"])
        self.t_stage1, self.t_stage2 = float(state["t_stage1"]), float(state["t_stage2"])
        self.best_held_out, self.initial_held_out = state["best_val"], state["initial_val"]
        self.since_best = int(state["since_best"])
        best = state["best_state"]
        self.best_state = None if best is None else {k: v.to(device) for k, v in best.items()}
        self.history = list(state["history"])
        pending_step, pending_stage, pending = state.get("pending", (0, self.phase.value, {}))
        if pending:
            self.history.append({"step": pending_step, "stage": pending_stage,
                                 "elapsed": float(state["elapsed"]), **pending})
        self.notes = [*state["notes"], f"Resumed from a checkpoint at step {state['step']}."]
        self.rng.set_state(state["rng"])
        if self.rng_batch is not self.rng and state.get("rng_batch") is not None:
            self.rng_batch.set_state(state["rng_batch"])
        torch.set_rng_state(state["torch_rng"])
        self.clock = Clock(float(state["elapsed"]))
        self.resumed_from = int(state["step"])


class Reporter:
    """Builds progress events from the run state, and decides when one is due.

    Parameters
    ----------
    state
        The run's state (its meter's means go into each event).
    device
        Where training runs, in words.
    interval
        Seconds between two progress events.
    """

    def __init__(self, state: RunState, device: str, interval: float) -> None:
        self.state, self.device, self.interval = state, device, interval
        self.last = time.perf_counter()

    def due(self) -> bool:
        """True when the last progress event is :attr:`interval` seconds old."""
        return time.perf_counter() - self.last >= self.interval

    def mark(self) -> None:
        """Start the interval to the next progress event now."""
        self.last = time.perf_counter()

    def event(self, stage: Stage, stage_step: int, stage_total: int, eta: float | None,
              message: str = "", kind: EventKind = EventKind.PROGRESS) -> TrainEvent:
        """An event with the loss means since the previous one."""
        s = self.state
        losses = s.log_event(stage)
        return TrainEvent(stage, s.step, s.total, stage_step, stage_total, losses, s.elapsed,
                          eta, self.device, message, kind)
