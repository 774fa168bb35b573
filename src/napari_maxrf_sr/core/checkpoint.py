"""Checkpoints: the whole state of a training run, so a crashed or killed run can resume.

A checkpoint is a ``torch.save`` of plain containers (tensors, numbers, strings,
lists, dicts), written atomically and read back with ``weights_only=True``, so a
checkpoint someone sent cannot run code. It holds the network, the optimisers, the
random generators, the step counters, the best stage-1 state and the loss history:
on the CPU a resumed run gives the same maps, bit for bit, as one that was never
interrupted.

A checkpoint belongs to one run: its *fingerprint* hashes the prepared maps and
photo, the scale, the element names and every setting that changes the training
(not the device, which a resumed run may change). Resuming with other data or
settings is refused, with a message saying what differs.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import __version__
from ..errors import CheckpointError, CheckpointWriteError, RunInterrupted
from .config import INFERENCE_SETTINGS, SRConfig
from .control import InterruptRequest
from .photo_pixels import PhotoPixels
from .run_state import cpu_copy

FORMAT = "napari-maxrf-sr-checkpoint"
FORMAT_VERSION = 1
#: Seconds between checkpoints unless told otherwise ("every few minutes").
DEFAULT_EVERY_SECONDS = 120.0
#: Settings that do not change what training computes (a resumed run may change them;
#: the local calibration acts on the finished network only).
_NOT_FINGERPRINTED = ("device", "cpu_threads", *INFERENCE_SETTINGS)


#: What to say to start again instead of resuming (the command line's words first).
START_AGAIN = ("Start a new run instead (on the command line: the same command without "
               "--resume, with --force to replace the checkpoint).")


@dataclass(frozen=True)
class CheckpointPlan:
    """Where and how often a run saves its state, and whether it resumes from it.

    Attributes
    ----------
    path
        The checkpoint file (rewritten atomically each time).
    every_seconds
        Training seconds between two checkpoints; also written when stage 2 starts.
    resume
        Continue from ``path`` (which must exist and belong to this run).
    interrupt
        Where a signal handler asks the run to save a checkpoint and stop
        (:class:`InterruptRequest`); ``None``: signals are left to the caller.
    """

    path: Path
    every_seconds: float = DEFAULT_EVERY_SECONDS
    resume: bool = False
    interrupt: InterruptRequest | None = None


class Fingerprint(str):
    """A run's fingerprint (a short hash), which also keeps what it was made of.

    It compares and prints as the hash; :attr:`parts` (the maps' and the photo's shapes
    and hashes, the scale, the element names and the settings) is saved with a
    checkpoint, so that a refused resume can say what differs.
    """

    parts: dict[str, Any]

    def __new__(cls, digest: str, parts: dict[str, Any]) -> Fingerprint:
        """The hash ``digest``, keeping ``parts``."""
        obj = super().__new__(cls, digest)
        obj.parts = parts
        return obj


def _array_part(arr) -> str:
    arr = np.ascontiguousarray(arr.raw if isinstance(arr, PhotoPixels) else arr)
    h = hashlib.blake2b(memoryview(arr).cast("B"), digest_size=8)
    return f"{' x '.join(map(str, arr.shape))} {arr.dtype} #{h.hexdigest()}"


def run_fingerprint(lr_maps: np.ndarray, rgb: PhotoPixels | np.ndarray, scale: int,
                    elements: tuple[str, ...], config: SRConfig) -> Fingerprint:
    """A short hash identifying one run: its prepared inputs and training settings.

    Parameters
    ----------
    lr_maps, rgb, scale, elements
        The prepared inputs (:class:`~napari_maxrf_sr.core.validation.PreparedInputs`).
    config
        The run's settings; the device and inference tile size are left out.
    """
    parts = {
        "maps": _array_part(lr_maps),
        "photo": _array_part(rgb),
        "scale": int(scale),
        "elements": [str(e) for e in elements],
        "settings": {k: v for k, v in config.to_dict().items() if k not in _NOT_FINGERPRINTED},
    }
    digest = hashlib.blake2b(json.dumps(parts, sort_keys=True).encode(), digest_size=12)
    return Fingerprint(digest.hexdigest(), parts)


def what_differs(saved: dict[str, Any] | None, now: dict[str, Any] | None) -> str:
    """The differences between two runs' fingerprint parts, in words ("" if unknown)."""
    if not isinstance(saved, dict) or not isinstance(now, dict):
        return ""
    out = []
    for key, words in (("maps", "the maps"), ("photo", "the photo"), ("scale", "the scale"),
                       ("elements", "the element names")):
        if saved.get(key) != now.get(key):
            out.append(f"{words} (saved: {saved.get(key)}; now: {now.get(key)})")
    old, new = saved.get("settings") or {}, now.get("settings") or {}
    changed = [f"{k} {old.get(k)!r} -> {new.get(k)!r}" for k in sorted({*old, *new})
               if old.get(k) != new.get(k)]
    if changed:
        out.append("the settings (" + ", ".join(changed[:8]) + ")")
    return "; ".join(out)


def save_checkpoint(path: str | os.PathLike, fingerprint: str, state: dict[str, Any]) -> Path:
    """Write ``state`` (plain containers and tensors) atomically, replacing an older one.

    Raises
    ------
    CheckpointWriteError
        When the file cannot be written (a full disk, a lost drive, no permission):
        nothing was left behind, and the run itself is unaffected, so a training loop
        can catch it, warn and carry on.
    """
    from ..atomic import atomic_path

    path = Path(path)
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION,
               "package_version": __version__, "fingerprint": str(fingerprint),
               "about": getattr(fingerprint, "parts", None), "state": state}
    try:
        with atomic_path(path, force=True) as tmp:
            torch.save(payload, tmp)
    except OSError as exc:
        reason = getattr(exc, "message", None) or exc.strerror or str(exc)
        raise CheckpointWriteError(
            f"Could not save the checkpoint {str(path)!r} ({reason}). Training goes on, but "
            "it could not be resumed from here after a crash; free space on that drive.",
            exc.errno,
        ) from exc
    return path


def read_checkpoint_info(path: str | os.PathLike) -> dict[str, Any]:
    """The fingerprint and progress of a checkpoint, without checking it against a run."""
    payload = _load(Path(path))
    state = payload["state"]
    return {"fingerprint": payload["fingerprint"], "stage": state.get("phase"),
            "step": int(state.get("step", 0)), "planned_steps": int(state.get("total", 0)),
            "elapsed": float(state.get("elapsed", 0.0))}


def load_checkpoint(path: str | os.PathLike, fingerprint: str) -> dict[str, Any]:
    """The saved state of the run with this fingerprint.

    Raises
    ------
    CheckpointError
        When the file is missing, is not a checkpoint of this package, holds objects
        other than tensors and plain values, or belongs to another run.
    """
    path = Path(path)
    payload = _load(path)
    if payload["fingerprint"] != fingerprint:
        differs = what_differs(payload.get("about"), getattr(fingerprint, "parts", None))
        raise CheckpointError(
            f"The checkpoint {str(path)!r} belongs to another run: "
            + (f"what differs: {differs}. " if differs else "the maps, the photo, the element "
               "names or the training settings differ from the ones it was made with. ")
            + "Resume with exactly the same input and settings, or start a new run (without "
            "--resume, with --force to replace the checkpoint)."
        )
    return payload["state"]


def _tensors(tree: Any, prefix: str = "") -> Iterator[tuple[str, torch.Tensor]]:
    """``(name, tensor)`` of every tensor in a checkpoint's nested containers."""
    if isinstance(tree, torch.Tensor):
        yield prefix, tree
    elif isinstance(tree, dict):
        for k, v in tree.items():
            yield from _tensors(v, f"{prefix}/{k}" if prefix else str(k))
    elif isinstance(tree, list | tuple):
        for i, v in enumerate(tree):
            yield from _tensors(v, f"{prefix}/{i}")


def check_saved_state(path: str | os.PathLike, state: dict[str, Any], n_channels: int,
                      config: SRConfig) -> None:
    """Refuse a saved state whose weights do not fit this run's networks, or are not finite.

    Checked before anything is built from it (the shapes on torch's ``meta`` device), so
    a damaged checkpoint is a :class:`CheckpointError`, not a failure in the middle.
    """
    from .model import ListaGenerator, PatchDiscriminator

    with torch.device("meta"):
        generator = ListaGenerator.from_config(n_channels, config)
        disc = PatchDiscriminator()
    nets = {"model": generator, "best_state": generator, "stage2/disc": disc}
    expected = {f"{where}/{k}": tuple(v.shape) for where, net in nets.items()
                for k, v in net.state_dict().items()}
    for where, net in (("stage1/opt", generator), ("stage2/opt_g", generator),
                       ("stage2/opt_d", disc)):
        for i, p in enumerate(net.parameters()):
            for moment in ("exp_avg", "exp_avg_sq"):
                expected[f"{where}/state/{i}/{moment}"] = tuple(p.shape)
    found = dict(_tensors(state))
    nets_saved = ["model"] + [g for g in ("best_state", "stage2/disc")
                              if any(k.startswith(g + "/") for k in found)]
    for group in nets_saved:  # every weight of each network saved, each of its shape
        names = {k for k in expected if k.startswith(group + "/")}
        names |= {k for k in found if k.startswith(group + "/")}
        for name in sorted(names):
            got = found.get(name)
            if got is None or tuple(got.shape) != expected.get(name):
                _misfit(path, name, got, expected.get(name))
    for name, got in found.items():  # optimiser moments, where saved
        if "/state/" in name and name in expected and tuple(got.shape) != expected[name]:
            _misfit(path, name, got, expected[name])
    bad = [k for k, v in found.items() if v is not None and v.is_floating_point()
           and not v.isfinite().all()]
    if bad:
        raise CheckpointError(
            f"The checkpoint {str(path)!r} holds NaN or infinite values ({', '.join(bad[:3])}"
            f"{', ...' if len(bad) > 3 else ''}): the run had already failed when it was "
            "saved, so it cannot be resumed. " + START_AGAIN)


def _misfit(path, name: str, got: torch.Tensor | None, want: tuple | None) -> None:
    raise CheckpointError(
        f"The checkpoint {str(path)!r} does not fit this run: {name!r} "
        + ("is missing" if got is None else f"has shape {tuple(got.shape)}")
        + (f", where this run's network needs {want}" if want is not None else
           ", which this run's network does not have")
        + ". It is damaged, or was written for other settings. " + START_AGAIN)


def _load(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise CheckpointError(
            f"There is no checkpoint at {str(path)!r} to resume from. Start a new run instead."
        )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated files and refused objects raise many types
        raise CheckpointError(
            f"{str(path)!r} is not a usable napari-maxrf-sr checkpoint (damaged, or holding "
            f"objects other than weights, which are refused for safety: "
            f"{type(exc).__name__}). Delete it and start a new run."
        ) from None
    if (not isinstance(payload, dict) or payload.get("format") != FORMAT
            or not isinstance(payload.get("state"), dict)
            or not isinstance(payload.get("fingerprint"), str)):
        raise CheckpointError(f"{str(path)!r} is not a napari-maxrf-sr checkpoint.")
    if payload.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{str(path)!r} was written by another version of napari-maxrf-sr "
            f"({payload.get('package_version')}); it cannot be resumed. Start a new run."
        )
    return payload


def remove_checkpoint(path: str | os.PathLike) -> None:
    """Delete a checkpoint that is no longer needed (its run finished); no error if absent."""
    try:
        Path(path).unlink()
    except FileNotFoundError:
        pass


def default_checkpoint_folder() -> Path:
    """Where the napari widget keeps checkpoints: ``$MAXRF_SR_CHECKPOINTS`` or a user cache."""
    env = os.environ.get("MAXRF_SR_CHECKPOINTS")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.environ.get("LOCALAPPDATA")
    root = Path(base) if base else Path.home() / ".cache"
    return root / "napari-maxrf-sr" / "checkpoints"


class CheckpointSaver:
    """Writes a run's checkpoints at most every ``plan.every_seconds``; holds a state to resume.

    Parameters
    ----------
    plan
        Where, how often, and whether to resume.
    fingerprint
        The run's :func:`run_fingerprint`.
    resumed
        The saved state the run continues from (:func:`load_checkpoint`), or ``None``.
    """

    def __init__(self, plan: CheckpointPlan, fingerprint: str, resumed: dict | None) -> None:
        self.plan = plan
        self.fingerprint = fingerprint
        self.resumed = resumed
        self.last = float(resumed["elapsed"]) if resumed else 0.0

    def due(self, elapsed: float) -> bool:
        """True when a checkpoint is due."""
        return elapsed - self.last >= self.plan.every_seconds

    @contextlib.contextmanager
    def armed(self) -> Iterator[None]:
        """While a stage trains: a signal asks for a checkpoint at the end of the step."""
        request = self.plan.interrupt
        if request is None:
            yield
            return
        request.armed = True
        try:
            yield
        finally:
            request.armed = False

    def after_step(self, state, model: torch.nn.Module, stage) -> None:
        """At the end of a step: a checkpoint when one is due; after a signal, save and stop.

        Raises
        ------
        RunInterrupted
            When a signal asked the run to stop (:class:`InterruptRequest`); its
            ``checkpoint`` is the file saved (``None`` if it could not be written).
        """
        request = self.plan.interrupt
        if request is not None and request.signum is not None:
            request.armed = False
            try:
                self.save(state, model, stage)
                saved, reason = self.plan.path, ""
            except CheckpointWriteError as exc:
                saved, reason = None, str(exc)
            raise RunInterrupted(request.signum, saved, state.step, state.total, reason)
        if self.due(state.elapsed):
            self.save(state, model, stage)

    def save(self, state, model: torch.nn.Module, stage) -> None:
        """Everything needed to continue the run exactly from here.

        ``state`` is the :class:`~.run_state.RunState`, ``stage`` the stage being
        trained (its optimisers go under its ``checkpoint_key``).
        """
        payload = {**state.state_dict(), "model": cpu_copy(model.state_dict()),
                   stage.checkpoint_key: stage.state_dict(),
                   "cpu_threads": torch.get_num_threads()}
        save_checkpoint(self.plan.path, self.fingerprint, payload)
        self.last = state.elapsed
