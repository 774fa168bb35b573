"""The ``maxrf-sr`` command line: the same core as the napari plugin, for scripts and batches.

Its options are used by scripts outside this repository: keep them stable. No user
sees a Python traceback: :func:`main` prints what went wrong and what to do, and keeps
the traceback of an unexpected error in a log file whose path it prints. SIGTERM (sent
by ``timeout``, batch schedulers, ``docker stop``) is handled like Ctrl-C.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator

from .outputs import checkpoint_path
from .parser import build_parser
from .progress import ProgressBar

__all__ = ["ProgressBar", "build_parser", "checkpoint_path", "main"]

#: Exit codes: interrupted with Ctrl-C, stopped by SIGTERM (128 + the signal's number).
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 128 + int(signal.SIGTERM)


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: the run stops as for Ctrl-C (checkpoint kept, message, exit)."""


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may handle signals
        return

    def stop(signum, frame):
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _loaded(module: str, name: str):
    """``module.name`` if that module is loaded already (no torch import just to check)."""
    return getattr(sys.modules.get(module), name, None)


def report_failure(exc: BaseException, context: str) -> int:
    """Print what went wrong and what to do; keep an unexpected error's traceback in a log."""
    from ..errorlog import write_traceback_log
    from ..errors import USER_ERRORS

    diverged = _loaded("napari_maxrf_sr.core.train", "TrainingDiverged")
    if isinstance(exc, USER_ERRORS) or (diverged and isinstance(exc, diverged)):
        print(f"error: {exc}", file=sys.stderr)
        return 1
    out_of_memory = _loaded("napari_maxrf_sr.core.device", "is_out_of_memory")
    log = write_traceback_log(exc, context)
    where = (f" The details are in {log}; please attach that file to a bug report."
             if log else " (The details could not be written to a log file either.)")
    if isinstance(exc, MemoryError) or (out_of_memory and out_of_memory(exc)):
        print("error: the computer ran out of memory. Work on a crop of the painting or on "
              "fewer elements, close other programs, or use a computer with more memory."
              + where, file=sys.stderr)
    elif isinstance(exc, OSError) and exc.errno is not None:
        print(f"error: {exc.strerror or exc}"
              + (f": {exc.filename}" if exc.filename else "")
              + ". Check the drive and the path, then run the command again." + where,
              file=sys.stderr)
    else:
        print(f"error: an unexpected problem stopped the command ({type(exc).__name__}: "
              f"{exc}). This is a bug in napari-maxrf-sr." + where, file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``maxrf-sr``; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    context = "maxrf-sr " + " ".join(sys.argv[1:] if argv is None else argv)
    with _sigterm_as_interrupt():
        try:
            return int(args.func(args) or 0)
        except Terminated:
            print("\nstopped by a termination signal (SIGTERM): no output was written",
                  file=sys.stderr)
            return EXIT_TERMINATED
        except KeyboardInterrupt:
            print("\ninterrupted: no output was written", file=sys.stderr)
            return EXIT_INTERRUPTED
        except Exception as exc:  # noqa: BLE001 - the one place that turns errors into words
            return report_failure(exc, context)
