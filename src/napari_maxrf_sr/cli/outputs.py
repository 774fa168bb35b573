"""The command's outputs: checked before any work, and never lost after it.

Before reading or training: each output must be writable, of the right kind, within the
file system's name length, and never one of the inputs (or another output). After
training, a result that cannot be written where asked (a full disk, a lost drive) is
kept under a safe name elsewhere, and the message says where. An ``--out`` named
``.ome.zarr`` gets a resolution pyramid, computed tile by tile (``--scheduler``: on a
dask cluster).
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..atomic import FORCE_CLI, check_writable_folder, name_bytes, name_max, refuse_overwrite
from ..errors import USER_ERRORS, ClusterError, InputError, OutputWriteError, ResultDisagrees
from ..io.atomic_folder import check_replaceable
from ..io.omezarr import is_ome_zarr_name
from ..io.paths import check_name_length, refuse_same_files
from ..method_names import NETWORK

_CHECKPOINT_SUFFIX = ".checkpoint.pt"


def checkpoint_path(out: Path) -> Path:
    """Where ``run`` keeps the checkpoint of the run that writes ``out``.

    ``OUT.tif.checkpoint.pt``; for a name so long that this would pass the file
    system's limit, the name is cut and a short hash of the whole name added (the same
    every time, so ``--resume`` finds it).
    """
    out = Path(out)
    name = out.name + _CHECKPOINT_SUFFIX
    limit = name_max(out.parent if str(out.parent) else ".")
    if name_bytes(name) <= limit:
        return out.with_name(name)
    tag = "-" + hashlib.blake2b(os.fsencode(out.name), digest_size=4).hexdigest()
    keep = out.name
    while keep and name_bytes(keep + tag + _CHECKPOINT_SUFFIX) > limit:
        keep = keep[:-1]
    return out.with_name(keep + tag + _CHECKPOINT_SUFFIX)


def check_outputs(outputs: Mapping[str, Path | None], inputs: Mapping[str, Path | None],
                  force: bool, *, tiff: tuple[str, ...] = ("--out",),
                  replaced: tuple[str, ...] = ()) -> None:
    """Fail before any work when an output cannot be written, or would hit an input.

    Parameters
    ----------
    outputs, inputs
        Option name -> path (``None``: not given).
    force
        Existing outputs may be replaced (inputs never).
    tiff
        The outputs that hold maps: a TIFF file, or an OME-Zarr pyramid (a folder that
        ``force`` may replace only when it is an OME-Zarr).
    replaced
        Outputs that the command replaces itself (a checkpoint), not refused for existing.
    """
    for label, path in outputs.items():
        if path is None:
            continue
        check_name_length(path, f"The {label} file")  # first: a longer name fails any stat
        if label in tiff and is_ome_zarr_name(path):
            check_replaceable(path, force, FORCE_CLI)
        elif label not in replaced:
            refuse_overwrite([path], force, FORCE_CLI)
        check_writable_folder(path.parent if str(path.parent) else Path("."))
    refuse_same_files(outputs, inputs)  # first: an input at risk matters most
    for label in tiff:
        path = outputs.get(label)
        if path is not None and not is_ome_zarr_name(path) and \
                path.suffix.lower() not in (".tif", ".tiff"):
            raise InputError(
                f"The maps are written as a multi-page TIFF (.tif) or an OME-Zarr resolution "
                f"pyramid (.ome.zarr, for large paintings): give {label} such a name, not "
                f"{path.name!r} (e.g. {path.with_suffix('.tif').name!r})."
            )


def _stamp() -> str:
    return time.strftime("%Y%m%d-%H%M%S")


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or (exc.strerror if isinstance(exc, OSError) else None)
    return str(text or exc or type(exc).__name__)


def rescue_places(out: Path) -> list[Path]:
    """Where a result that could not be written is kept: beside the output, then elsewhere."""
    places = [out.parent if str(out.parent) else Path("."), Path(tempfile.gettempdir()),
              Path.home()]
    seen, unique = set(), []
    for p in places:
        key = os.path.abspath(p)
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def keep_somewhere(out: Path, suffix: str, write: Callable[[Path], Any]) -> Path | None:
    """Write with ``write(path)`` under a safe new name in the first place that takes it."""
    for folder in rescue_places(out):
        target = folder / f"maxrf-sr-rescued-{_stamp()}{suffix}"
        try:
            write(target)
            return target
        except Exception:  # noqa: BLE001 - try the next place; the caller reports
            continue
    return None


def _they_were_kept(kept: Path) -> str:
    return f" They were kept as {str(kept)!r} instead: move or rename that file."


def write_or_keep(what: str, target: Path, write: Callable[[], Any],
                  keep: Callable[[], Path | None], problems: list[str],
                  kept_as: Callable[[Path], str] = _they_were_kept) -> bool:
    """Write an output; when that fails, keep it somewhere with ``keep`` and say where.

    ``kept_as`` says what was kept (the maps, or only the model that makes them).
    Returns whether ``target`` was written. Unexpected errors are logged. A result that
    does not agree with the scan (:class:`~..errors.ResultDisagrees`) is never kept.
    """
    try:
        write()
        return True
    except ResultDisagrees:
        raise
    except (Exception, KeyboardInterrupt) as exc:  # the work is done: keep it, then report
        from ..errorlog import write_traceback_log

        kept = keep()
        said = f"Could not write {what} to {str(target)!r} ({_reason(exc)})."
        if not isinstance(exc, (OSError, *USER_ERRORS)):
            log = write_traceback_log(exc, f"writing {target}")
            said += f" (Details for a bug report: {log}.)" if log else ""
        if kept is not None:
            said += kept_as(kept)
        else:
            said += (" They could not be kept anywhere else either: free some space and "
                     "run the same command again.")
        problems.append(said)
        if isinstance(exc, KeyboardInterrupt):
            raise
        return False


def raise_problems(problems: list[str]) -> None:
    """One error for all outputs that could not be written where asked."""
    if problems:
        raise OutputWriteError(" ".join(problems))


# -------------------------------------------------------------- OME-Zarr pyramids


#: Seconds to wait for a dask scheduler and its first worker (tests lower it).
SCHEDULER_TIMEOUT = 30.0


def pyramid_requested(out: Path, args) -> bool:
    """Whether ``out`` asks for an OME-Zarr pyramid; ``--scheduler`` needs one.

    A ``--scheduler`` is tried now, before any work: ``dask.distributed`` installed, the
    scheduler reachable, workers with this package's version.
    """
    pyramid = is_ome_zarr_name(out)
    if getattr(args, "scheduler", None):
        if not pyramid:
            raise InputError(
                "--scheduler writes a resolution pyramid: give --out a .ome.zarr name "
                f"(e.g. {out.with_suffix('').name + '.ome.zarr'!r}), not {out.name!r}."
            )
        if getattr(args, "method", NETWORK) != NETWORK:
            raise InputError("--scheduler applies to the network (--method network) only.")
        check_scheduler(args.scheduler)
    return pyramid


def check_scheduler(address: str) -> None:
    """Connect to the dask scheduler at ``address`` and check its workers, then leave.

    Raises
    ------
    ClusterError
        When ``dask.distributed`` is missing, the scheduler cannot be reached, or it has
        no suitable workers; the message says what to do.
    """
    from ..core.tiled import computer

    try:
        with computer(address, timeout=SCHEDULER_TIMEOUT):
            pass
    except ImportError as exc:
        raise ClusterError(f"{exc} Or leave --scheduler out to compute here.") from None


def apply_to_pyramid(model, maps, photo, out: Path, elements, args, provenance: dict,
                      negative: str = "error", verify=None) -> None:
    """Apply the model tile by tile into an OME-Zarr pyramid (here, or on a cluster).

    ``verify`` checks the full-resolution maps before the pyramid gets its name.
    """
    from ..to_file import apply_to_file

    where = f"the dask cluster at {args.scheduler}" if args.scheduler else "this computer"
    print(f"writing an OME-Zarr resolution pyramid tile by tile, computed on {where}",
          file=sys.stderr)
    t0 = time.perf_counter()
    apply_to_file(model, maps, photo, out, elements=elements, scale=model.scale,
                  negative=negative, scheduler=args.scheduler, provenance=provenance,
                  force=args.force, verify=verify)
    print(f"inference took {time.perf_counter() - t0:.1f} s", file=sys.stderr)


def write_pyramid(out: Path, maps, elements, scale: int, force: bool,
                  provenance: dict) -> None:
    """Write maps already in memory (a baseline's) as an OME-Zarr pyramid."""
    from ..io.omezarr import write_ome_zarr

    write_ome_zarr(out, maps, elements, scale=scale, role="sr_map",
                   provenance=provenance, force=force)
