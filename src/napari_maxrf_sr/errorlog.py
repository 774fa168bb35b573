"""Tracebacks of unexpected errors, kept in a log file that a message can point to.

Users of the command line and the panel never see a Python traceback: the entry points
print what went wrong and what to do, and keep the traceback here for a bug report.
No Qt and no torch: any entry point can import this module.
"""

from __future__ import annotations

import os
import platform
import sys
import traceback
from datetime import datetime
from pathlib import Path

#: Environment variable that moves the log folder (tests set it).
LOG_DIR_ENV = "MAXRF_SR_LOGS"


def log_dir() -> Path:
    """Folder of the error logs: ``$MAXRF_SR_LOGS`` or ``~/.cache/napari-maxrf-sr/logs``."""
    env = os.environ.get(LOG_DIR_ENV)
    if env:
        return Path(env)
    return Path.home() / ".cache" / "napari-maxrf-sr" / "logs"


def write_traceback_log(exc: BaseException, context: str = "") -> Path | None:
    """Write ``exc``'s traceback, with what was being done, to a new log file.

    Parameters
    ----------
    exc
        The unexpected exception.
    context
        One line saying what was being done (a command line, a button's name).

    Returns
    -------
    pathlib.Path or None
        The file written, or ``None`` when no log could be written (a read-only home,
        a full disk): reporting the error must never fail in its turn.
    """
    from . import __version__

    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    try:
        folder = log_dir()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"maxrf-sr-{stamp}-{os.getpid()}.log"
        lines = [
            f"napari-maxrf-sr {__version__}, Python {platform.python_version()}, "
            f"{platform.platform()}",
            f"when: {datetime.now().isoformat(timespec='seconds')}",
            f"doing: {context or ' '.join(sys.argv)}",
            "",
            *traceback.format_exception(type(exc), exc, exc.__traceback__),
        ]
        path.write_text("\n".join(line.rstrip("\n") for line in lines) + "\n",
                        encoding="utf-8")
        return path
    except OSError:
        return None
