"""The errors a user of the API, the command line or the panel may meet, in one place.

Each message says what is wrong and what to do. Entry points show these messages as
they are; any other exception is a bug, and its traceback goes to a log file
(:mod:`napari_maxrf_sr.errorlog`). This module imports nothing of the package, so
every layer (core, io, napari) can use it.
"""

from __future__ import annotations

import errno

__all__ = [
    "CheckpointError",
    "CheckpointWriteError",
    "ClusterError",
    "InputError",
    "ModelFileError",
    "NegativeValuesError",
    "NotElementMaps",
    "OutputExistsError",
    "OutputWriteError",
    "ResultDisagrees",
    "RunInterrupted",
    "SameFileError",
    "TrainingDiverged",
    "USER_ERRORS",
]


class InputError(ValueError):
    """Input that cannot be used as it is; the message says what is wrong and how to fix it."""


class NegativeValuesError(InputError):
    """Element maps with negative values (each entry point names its own way to clip them)."""


class NotElementMaps(InputError):
    """The file can be read but does not hold element maps (e.g. an RGB photo)."""


class SameFileError(InputError):
    """An output would be written over an input (or over another output)."""


class OutputExistsError(InputError, FileExistsError):
    """An output file exists and overwriting was not asked for."""


class ModelFileError(InputError):
    """A model file that cannot be used; the message says why."""


class ResultDisagrees(InputError):
    """A result that does not agree with its scan (a damaged model file): never written."""


class CheckpointError(InputError):
    """A checkpoint that cannot be used; the message says why and what to do."""


class OutputWriteError(OSError):
    """An output could not be written (a full disk, a lost drive); nothing was left behind.

    ``errno`` is the operating system's (``ENOSPC`` for a full disk), and the message says
    which file, why and what to do.
    """

    def __init__(self, message: str, code: int | None = errno.EIO) -> None:
        super().__init__(code, message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class CheckpointWriteError(OutputWriteError):
    """A checkpoint could not be written; training itself is unaffected.

    Raised by :func:`napari_maxrf_sr.core.checkpoint.save_checkpoint`, so a training
    loop can warn and go on instead of losing the run.
    """


class ClusterError(RuntimeError):
    """A dask cluster that cannot be used, or that failed; the message says what to do."""


class RunInterrupted(KeyboardInterrupt):
    """A signal (Ctrl-C, SIGTERM) stopped training, after the run was saved to resume.

    Attributes
    ----------
    signum
        The signal's number.
    checkpoint
        The checkpoint written at the end of the last step (a ``Path``), or ``None`` when
        it could not be written (``reason`` says why).
    step, total
        Steps done and planned.
    """

    def __init__(self, signum: int, checkpoint, step: int, total: int, reason: str = "") -> None:
        super().__init__(signum)
        self.signum, self.checkpoint = signum, checkpoint
        self.step, self.total, self.reason = step, total, reason


class TrainingDiverged(RuntimeError):
    """The loss became NaN/Inf or exploded; the message says what to try."""


#: What entry points show as a plain message (no traceback): the user can act on it.

USER_ERRORS: tuple[type[BaseException], ...] = (
    InputError,
    ClusterError,
    OutputWriteError,
    FileExistsError,
    FileNotFoundError,
    PermissionError,
    IsADirectoryError,
    NotADirectoryError,
)
