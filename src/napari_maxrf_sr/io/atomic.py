"""Safe file writing: never overwrite by accident, never leave half-written files.

A file is first written to a hidden temporary file in the destination folder
(same file system, so the final rename is atomic) and only then moved into
place. If anything fails, the temporary file is removed.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path


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


def refuse_overwrite(paths: Iterable[str | Path], force: bool) -> None:
    """Raise :class:`FileExistsError` naming the files that exist, unless ``force``.

    A folder in the way is refused even with ``force``: it cannot be replaced by a file.
    """
    for p in paths:
        if Path(p).is_dir():
            raise IsADirectoryError(
                f"{str(p)!r} is a folder, not a file: give the name of a file to write "
                "(a new name inside that folder, for example)."
            )
    if force:
        return
    existing = [str(p) for p in paths if Path(p).exists()]
    if existing:
        shown = ", ".join(repr(p) for p in existing[:5])
        more = f" and {len(existing) - 5} more" if len(existing) > 5 else ""
        raise FileExistsError(
            f"Not overwriting existing file(s) {shown}{more}. Choose another name, or pass "
            "force=True (--force on the command line) to replace them."
        )


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
    """
    path = Path(path)
    folder = check_writable_folder(path.parent if str(path.parent) else Path("."))
    refuse_overwrite([path], force)
    try:
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=folder
        )
    except PermissionError as exc:
        raise PermissionError(
            f"Cannot create a file in {str(folder)!r}: {exc.strerror}. Choose another folder."
        ) from exc
    os.close(fd)
    tmp = Path(tmp_name)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; give it normal permissions
    try:
        yield tmp
        if force:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # fails if path appeared meanwhile: no silent overwrite
            except FileExistsError:
                refuse_overwrite([path], False)
                raise
            except OSError:  # file systems without hard links
                refuse_overwrite([path], False)
                os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
