"""The ``maxrf-sr`` command line: the same core as the napari plugin, for scripts and batches.

Its options are used by scripts outside this repository: keep them stable. No user
sees a Python traceback: :func:`main` prints what went wrong and what to do, and keeps
the traceback of an unexpected error in a log file whose path it prints. SIGTERM (sent
by ``timeout``, batch schedulers, ``docker stop``) is handled like Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import warnings
from collections.abc import Iterator

from .outputs import checkpoint_path
from .parser import build_parser
from .progress import ProgressBar
from .runs import forget_notes, note, resume_command

__all__ = ["ProgressBar", "build_parser", "checkpoint_path", "main"]

#: Exit codes: interrupted with Ctrl-C, stopped by SIGTERM (128 + the signal's number).
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 128 + int(signal.SIGTERM)


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: the run stops as for Ctrl-C (checkpoint kept, message, exit)."""


@contextlib.contextmanager
def _signals_as_interrupt(request) -> Iterator[None]:
    """Ctrl-C and SIGTERM: while a run trains, a checkpoint first (``request``), then stop.

    ``request`` is the run's :class:`~napari_maxrf_sr.core.checkpoint.InterruptRequest`:
    when the training loop can take the signal, it saves at the end of its step and
    raises :class:`~napari_maxrf_sr.errors.RunInterrupted`; otherwise (reading, writing,
    or a second signal) the command stops at once.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may handle signals
        return

    def stop(signum, frame):
        if request.ask(signum):
            return  # the training loop saves a checkpoint at the end of its step, then stops
        raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _interrupted(exc: KeyboardInterrupt, argv: list[str]) -> int:
    """Say how the command was stopped, and how to continue; the exit code."""
    from ..errors import RunInterrupted

    term = isinstance(exc, Terminated) or getattr(exc, "signum", None) == signal.SIGTERM
    how = "stopped by a termination signal (SIGTERM)" if term else "interrupted (Ctrl-C)"
    code = EXIT_TERMINATED if term else EXIT_INTERRUPTED
    if not isinstance(exc, RunInterrupted):
        print(f"\n{how}: no output was written", file=sys.stderr)
        return code
    if exc.checkpoint is None:
        print(f"\n{how} at step {exc.step} of {exc.total}; the training so far could not be "
              f"saved ({exc.reason}). No output was written.", file=sys.stderr)
        return code
    print(f"\n{how} at step {exc.step} of {exc.total}: no output was written, but the "
          f"training so far was saved in {exc.checkpoint}. To continue it, run:\n"
          f"  {resume_command(argv)}", file=sys.stderr)
    return code


def _exit_if_threads_hang(code: int, grace: float = 5.0) -> None:
    """After an interruption, end the process even if a thread is stuck (a hung read).

    Python waits for its threads at exit: one blocked in a read would keep the process
    alive after its message, and a batch scheduler would kill it later without one.
    """
    import time

    deadline = time.monotonic() + grace
    for t in threading.enumerate():
        if t is not threading.current_thread() and not t.daemon:
            t.join(max(0.0, deadline - time.monotonic()))
    if any(t.is_alive() and not t.daemon for t in threading.enumerate()
           if t is not threading.current_thread()):
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(code)


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
    from ..core.control import InterruptRequest

    parser = build_parser()
    real = argv is None  # the command itself, not a call from Python (tests)
    words = list(sys.argv[1:] if real else argv)
    args = parser.parse_args(words)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    context = "maxrf-sr " + " ".join(words)
    args.argv, args.interrupt = words, InterruptRequest()
    forget_notes()
    with _signals_as_interrupt(args.interrupt), warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = _warning_as_note  # one 'note:' line, no source line
        try:
            return int(args.func(args) or 0)
        except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM (Terminated), RunInterrupted
            code = _interrupted(exc, words)
            if real:  # never hang on a stuck thread after the message
                _exit_if_threads_hang(code)
            return code
        except Exception as exc:  # noqa: BLE001 - the one place that turns errors into words
            return report_failure(exc, context)


def _warning_as_note(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings (the API's notes) as the command's ``note:`` lines, each said once."""
    note(str(message))
