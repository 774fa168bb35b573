"""Safe file writing: never overwrite by accident, never leave half-written files.

Used by every layer that writes (core for models and checkpoints, io for maps, the
command line), so it imports nothing of the package but :mod:`.errors`.

A file is first written to a hidden temporary file in the destination folder
(same file system, so the final rename is atomic) and only then moved into
place. If anything fails, the temporary file is removed; if the process is killed
before it can be, the next write into that folder removes it (its name says which
process wrote it, and that process is gone). A write that fails because the disk
is full says so, and how much room there is.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import socket
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from .errors import OutputWriteError

#: Temporary files end with this (then the final suffix), e.g. ``.sr.tif.3f2a-811.x7.part.tif``.
TMP_MARK = ".part"
_TMP_NAME = re.compile(r"^\..*\.(?P<host>[0-9a-f]{4})-(?P<pid>\d+)\.[^.]*\.part(\.[^.]*)?$")
#: Temporary folders (OME-Zarr pyramids being written, or the one being replaced).
_TMP_FOLDER = re.compile(r"^\..*\.(?P<host>[0-9a-f]{4})-(?P<pid>\d+)\.[^.]*\.(tmp|old)$")
#: What a temporary folder of ours may hold at its top: zarr metadata, levels, the
#: replaced folder; anything else means it is not ours, and it is left alone.
_OURS_IN_FOLDER = re.compile(r"^(\.zarray|\.zattrs|\.zgroup|zarr\.json|\d+|previous)$")
#: Longest file name (bytes) most file systems take, where the system does not say.
DEFAULT_NAME_MAX = 255
#: How a user of the Python API asks to replace an output; the command line says its own.
FORCE_PYTHON = "pass force=True"
#: The same for the command line.
FORCE_CLI = "add --force to the command"
#: errno values that mean "no room" (a full disk, a full quota, a file too large).
_NO_ROOM = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def _host_tag() -> str:
    """Four hex digits for this computer (temporary files on a shared drive differ by host)."""
    return f"{zlib.crc32(socket.gethostname().encode()) & 0xFFFF:04x}"


def name_max(folder: str | Path) -> int:
    """The longest file name (in bytes) the file system of ``folder`` takes."""
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):  # Windows, or a folder not there yet
        return DEFAULT_NAME_MAX


def name_bytes(name: str) -> int:
    """Length of a file name as the file system stores it."""
    return len(os.fsencode(name))


def check_writable_folder(folder: str | Path) -> Path:
    """Return ``folder`` as a Path if files can be created in it, else raise a clear error."""
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(
            f"The folder {str(folder)!r} does not exist. Create it first or choose another "
            "output location."
        )
    if not folder.is_dir():
        raise NotADirectoryError(
            f"{str(folder)!r} is a file, not a folder. Choose another output location."
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(
            f"Cannot write to the folder {str(folder)!r} (no write permission). "
            "Choose another output folder."
        )
    return folder


def refuse_overwrite(paths: Iterable[str | Path], force: bool,
                     how: str = FORCE_PYTHON) -> None:
    """Raise :class:`FileExistsError` naming the files that exist, unless ``force``.

    A symbolic link counts as existing even when what it points to does not (writing
    through it would fail only after the work). A folder in the way is refused even
    with ``force``: it cannot be replaced by a file. ``how`` says how to ask for
    replacing (:data:`FORCE_PYTHON`, :data:`FORCE_CLI`).
    """
    paths = [Path(p) for p in paths]
    for p in paths:
        if p.is_dir():
            raise IsADirectoryError(
                f"{str(p)!r} is a folder, not a file: give the name of a file to write "
                "(a new name inside that folder, for example)."
            )
    if force:
        return
    existing = []
    for p in paths:
        if p.is_symlink() and not p.exists():
            existing.append(f"{str(p)!r} (a link to {os.readlink(p)!r}, which is missing)")
        elif p.exists():
            existing.append(repr(str(p)))
    if existing:
        shown = ", ".join(existing[:5])
        more = f" and {len(existing) - 5} more" if len(existing) > 5 else ""
        raise FileExistsError(
            f"Not overwriting existing file(s) {shown}{more}. Choose another name, or {how} "
            "to replace them."
        )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):  # someone else's process: alive
        return True
    return True


def clean_stale_temporaries(folder: str | Path) -> list[Path]:
    """Remove temporary files and folders that a killed writer left in ``folder``.

    Only those of this package's naming, written on this computer by a process that no
    longer runs, are removed; a folder only when it holds nothing but a pyramid's parts.
    Returns what was removed.
    """
    removed = []
    host = _host_tag()
    try:
        candidates = [p for p in Path(folder).iterdir() if p.name.startswith(".")]
    except OSError:
        return removed
    for p in candidates:
        m = _TMP_NAME.match(p.name)
        is_file = bool(m) and p.is_file() and not p.is_symlink()
        if not m:
            m = _TMP_FOLDER.match(p.name)
            if not m or not _only_ours(p):
                continue
        if m["host"] != host or _alive(int(m["pid"])):
            continue
        with contextlib.suppress(OSError):
            if is_file:
                p.unlink()
            else:
                shutil.rmtree(p)
            removed.append(p)
    return removed


def _only_ours(p: Path) -> bool:
    """Whether ``p`` is a real folder holding only what our pyramid writer puts there."""
    if p.is_symlink() or not p.is_dir():
        return False
    try:
        return all(_OURS_IN_FOLDER.match(c.name) for c in p.iterdir())
    except OSError:
        return False


def temporary_folder(path: Path, kind: str = "tmp") -> Path:
    """Create the hidden temporary folder for ``path`` (``kind``: ``tmp`` or ``old``).

    Its name says which computer and process made it, so a later write removes it if
    that process was killed (:func:`clean_stale_temporaries`).
    """
    folder = path.parent if str(path.parent) else Path(".")
    tag = f".{_host_tag()}-{os.getpid()}."
    room = name_max(folder) - name_bytes(tag + "." + kind) - 1 - 8
    stem = path.name
    while name_bytes(stem) > room:
        stem = stem[: max(1, len(stem) - max(1, (name_bytes(stem) - room) // 4))]
    return Path(tempfile.mkdtemp(prefix=f".{stem}{tag}", suffix=f".{kind}", dir=folder))


def _temporary(path: Path, folder: Path) -> Path:
    """Create the hidden temporary file for ``path``; its name fits the file system."""
    tag = f".{_host_tag()}-{os.getpid()}."
    suffix = TMP_MARK + path.suffix
    room = name_max(folder) - name_bytes(tag + suffix) - 1 - 8  # '.' + mkstemp's 8 chars
    stem = path.name
    while name_bytes(stem) > room:  # long (non-ASCII) names: cut by bytes, not characters
        stem = stem[: max(1, len(stem) - max(1, (name_bytes(stem) - room) // 4))]
    fd, name = tempfile.mkstemp(prefix=f".{stem}{tag}", suffix=suffix, dir=folder)
    os.close(fd)
    return Path(name)


def no_room(exc: BaseException) -> bool:
    """Whether a write failed for lack of room (numpy says "N requested and M written")."""
    if isinstance(exc, OSError) and exc.errno in _NO_ROOM:
        return True
    return isinstance(exc, OSError) and "requested and" in str(exc) and "written" in str(exc)


def full_disk_error(path: Path, exc: BaseException) -> OutputWriteError:
    """The message for a write that ran out of room."""
    try:
        free = f"{shutil.disk_usage(path.parent).free / 2**30:.1f} GiB free"
    except OSError:
        free = "free space unknown"
    return OutputWriteError(
        f"Could not write {str(path)!r}: the disk is full ({free} there). Nothing was "
        "left behind. Free some space, or choose a folder on another drive, and try again.",
        errno.ENOSPC,
    )


@contextlib.contextmanager
def full_disk_said(path: Path) -> Iterator[None]:
    """Inside the block, "no space left" becomes an :class:`OutputWriteError` on ``path``."""
    try:
        yield
    except OSError as exc:
        if no_room(exc):
            raise full_disk_error(path, exc) from exc
        raise


def give_normal_permissions(path: Path, mode: int) -> None:
    """``mode`` less the umask, as for a file made by ``open`` (temporaries are private)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, mode & ~umask)


@contextlib.contextmanager
def atomic_path(path: str | Path, *, force: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write; move it to ``path`` when the block succeeds.

    Parameters
    ----------
    path
        Final destination. Its folder must exist and be writable.
    force
        Replace ``path`` if it exists. Without it an existing file raises
        :class:`FileExistsError`, checked before writing and again at the final
        move (a hard link, which cannot replace a file, closes the race).

    Raises
    ------
    OutputWriteError
        When the disk is full (``errno.ENOSPC``); nothing is left behind.
    """
    path = Path(path)
    folder = check_writable_folder(path.parent if str(path.parent) else Path("."))
    refuse_overwrite([path], force)
    clean_stale_temporaries(folder)
    try:
        tmp = _temporary(path, folder)
    except PermissionError as exc:
        raise PermissionError(
            f"Cannot create a file in {str(folder)!r}: {exc.strerror}. Choose another folder."
        ) from exc
    except OSError as exc:
        if no_room(exc):
            raise full_disk_error(path, exc) from exc
        raise
    give_normal_permissions(tmp, 0o666)  # mkstemp makes it private
    try:
        with full_disk_said(path):
            yield tmp
        _move_into_place(tmp, path, force)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _move_into_place(tmp: Path, path: Path, force: bool) -> None:
    if force:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)  # fails if path appeared meanwhile: no silent overwrite
    except FileExistsError:
        refuse_overwrite([path], False)
        raise
    except OSError:  # file systems without hard links
        refuse_overwrite([path], False)
        os.replace(tmp, path)
