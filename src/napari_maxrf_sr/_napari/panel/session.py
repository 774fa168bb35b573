"""The panel's runs as a Qt-free model: the inputs chosen, the settings, the state, the result.

The dock widget (``sr_widget.py``) wraps a :class:`RunSession` as napari-animation's
widget wraps its ``Animation``: the widget reads the chosen layers and the settings
from its views and hands them here; the session checks them once (:meth:`RunSession.check`,
which prepares the inputs the job then trains on), keeps the run's state
(:class:`RunStatus`) and the latest result, and says in words what the panel shows at
each turn. Starting the worker, the buttons and the layers stay with the widget.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from napari_maxrf_sr._napari.panel import texts
from napari_maxrf_sr._napari.panel.inputs import RunInputs
from napari_maxrf_sr._napari.panel.jobs import TrainingPlan, validate
from napari_maxrf_sr._napari.panel.outcome import NETWORK, NETWORK_LABEL, RunOutcome
from napari_maxrf_sr.core.events import EventKind, Stage
from napari_maxrf_sr.errors import InputError


class RunStatus(str, Enum):
    """Where the panel's job is."""

    IDLE = "idle"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPING = "stopping"
    CANCELLING = "cancelling"
    FINISHED = "finished"
    CANCELLED = "cancelled"
    FAILED = "failed"


@dataclass(frozen=True)
class Job:
    """A checked request to run: what runs, on which inputs, with which settings.

    Attributes
    ----------
    method
        ``"network"`` or a baseline's name.
    inputs
        The layer copies.
    plan
        The network's settings and checkpoints (also kept for a baseline, unused).
    prepared
        The inputs as the core checked them (``PreparedInputs``): the job trains on
        these, so they are checked and read once per Start.
    notes
        What the readers and the check said about the inputs.
    """

    method: str
    inputs: RunInputs
    plan: TrainingPlan
    prepared: Any
    notes: tuple[str, ...]

    @property
    def trains(self) -> bool:
        """Whether the job trains the network."""
        return self.method == NETWORK

    @property
    def said(self) -> str:
        """The notes as sentences."""
        return " ".join(f"{n.rstrip('.')}." for n in self.notes)


class RunSession:
    """One panel's runs: the job being run, its state, and the latest result.

    Attributes
    ----------
    job
        The job started last (``None`` before the first).
    status
        Where that job is.
    last
        The latest finished run (:class:`~.outcome.RunOutcome`), or ``None``.
    network
        The network trained last (a ``TrainedModel``), kept to answer again with other
        settings that act after training.
    shown_inputs
        The inputs of the result shown (for the quality maps and the comparison).
    """

    def __init__(self) -> None:
        self.job: Job | None = None
        self.status = RunStatus.IDLE
        self.last: RunOutcome | None = None
        self.network: Any = None
        self.shown_inputs: RunInputs | None = None
        self._said_stage: Stage | None = None

    # -- starting ------------------------------------------------------------------------
    def check(self, inputs: RunInputs, method: str, resume: bool, settings,
              negative: str, folder: Path | None, every_seconds: float) -> Job:
        """Check a request to start (once per Start) and plan its job.

        ``settings`` is called for the network's settings (an ``SRConfig``), after the
        method is known to fit ``resume``.

        Raises
        ------
        InputError, ValueError
            With a message saying what to change.
        """
        if resume and method != NETWORK:
            raise InputError(f"Only the network's training can be resumed. Choose the "
                             f"method '{NETWORK_LABEL}', or press Start.")
        plan = TrainingPlan(settings(), negative, resume, folder, every_seconds)
        prepared, notes = validate(inputs, plan.negative)
        return Job(method, inputs, plan, prepared, notes)

    def begin(self, job: Job) -> str:
        """The job starts; returns the status line to show."""
        self.job, self.status, self._said_stage = job, RunStatus.RUNNING, None
        said = job.said
        if job.trains:
            warning = texts.budget_warning(job.plan.config.max_seconds)
            return " ".join(x for x in (
                "Starting:" if said else "Starting the training...", said, warning) if x)
        return f"Running {job.method}... {said}".strip()

    # -- while it runs -------------------------------------------------------------------
    def event_status(self, event: Any) -> str | None:
        """The status line a training event asks for (``None``: keep the current one)."""
        if event.kind is EventKind.PAUSED:
            return None
        stage, said = event.stage, self._said_stage
        self._said_stage = stage
        if event.kind is EventKind.PHASE:
            return event.message
        if stage is Stage.STAGE1 and said != stage:
            return "Training: the curves below fall as the network learns."
        return None

    def paused(self, paused: bool) -> str:
        """Pause was pressed (or Resume); returns the status line."""
        self.status = RunStatus.PAUSED if paused else RunStatus.RUNNING
        return "Paused: press Resume to continue." if paused else "Resumed."

    def stopping(self) -> str:
        """Stop and keep was pressed; returns the status line."""
        self.status = RunStatus.STOPPING
        return "Stopping: computing the result reached so far..."

    def cancelling(self) -> str:
        """Cancel was pressed; returns the status line."""
        self.status = RunStatus.CANCELLING
        return "Cancelling..."

    @staticmethod
    def retrying() -> str:
        """The GPU ran out of memory and training starts again on the CPU."""
        return ("The GPU ran out of memory: training again on the CPU, which is slower (from "
                "the last saved state, if any). To stay on the GPU, lower the patches per "
                "step or patch size under Advanced.")

    # -- the result ----------------------------------------------------------------------
    def finished(self, outcome: RunOutcome) -> str:
        """A job's result arrived (its layers are added next); returns the status line."""
        self.last = outcome
        if outcome.has_model:
            self.network = outcome.result.model
        return f"Adding {len(outcome.layers)} result layers..."

    def shown(self, outcome: RunOutcome, inputs: RunInputs | None) -> tuple[str, str]:
        """The result's layers are in the viewer: the status line and the notification."""
        self.shown_inputs = inputs
        status = texts.done_text(len(outcome.elements), outcome.label, outcome.stopped_early)
        warning = texts.quality_warning(outcome.quality)
        early = " (stopped early)" if outcome.stopped_early else ""
        return (status + (" " + warning if warning else ""),
                f"MA-XRF super-resolution finished{early}.")

    def ended(self, cancelled: bool, failed: bool, retry: bool
              ) -> tuple[str, bool, str | None] | None:
        """A job's thread ended: the progress bar's word, success, and a status line.

        The status line is ``None`` when the current one stays (it says why the job
        failed); the whole answer is ``None`` while the run is tried again on the CPU.
        """
        if cancelled:
            self.status = RunStatus.CANCELLED
            return "cancelled", False, "Cancelled: nothing was added."
        if retry:
            return None
        self.status = RunStatus.FAILED if failed else RunStatus.FINISHED
        return ("failed", False, None) if failed else ("finished", True, None)

    def save_results(self, path: str, *, force: bool = False) -> Path:
        """Write the latest result and ``<name>.provenance.json`` next to it."""
        from napari_maxrf_sr.io.writers import write_element_stack

        last = self.last
        if last is None:
            raise InputError("There is no result to save yet: run a super-resolution first.")
        write_element_stack(path, last.maps, list(last.elements), scale=1,
                            provenance=last.provenance, force=force)
        prov = Path(path).with_suffix(".provenance.json")
        prov.write_text(json.dumps(last.provenance, indent=2, default=str), encoding="utf-8")
        return Path(path)

    def answering_again(self, config: Any) -> Any:
        """The network trained last, with ``config``'s settings that act after training."""
        from napari_maxrf_sr.core.config import INFERENCE_SETTINGS

        return self.network.answering_with(
            **{name: getattr(config, name) for name in INFERENCE_SETTINGS})
