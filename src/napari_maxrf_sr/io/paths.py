"""Paths given by the user: which files an input reads, and whether an output would hit one.

An output (result, model, checkpoint) must never be written over an input, with or
without ``--force``: files are compared by identity (device and inode), so a link,
``./scan.tif`` or another spelling on a case-insensitive disk are all caught.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

from ..atomic import name_bytes, name_max
from ..errors import InputError, SameFileError


def files_read_from(path: str | Path) -> list[Path]:
    """The files a reader may read for ``path``: the file, its sidecars, a folder's files.

    For a ``.rpl`` header, its ``.raw`` beside it too. A folder (an OME-Zarr, a folder
    of images) is listed itself, then its files; what lies deeper is covered by
    :func:`refuse_same_files`' check that no output contains an input.
    """
    p = Path(path)
    if p.is_dir():
        return [p, *(c for c in p.iterdir() if c.is_file())]
    out = [p, p.with_suffix(".json"), p.with_name(p.name + ".json")]
    if p.suffix.lower() == ".rpl":
        out += [p.with_suffix(s) for s in (".raw", ".RAW", ".Raw")]
    return [c for c in out if c.exists()]


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)  # follows links: a link to the scan is the scan
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _spelling(path: Path) -> str:
    return os.path.normcase(os.path.abspath(path))


def _inside(out: Path, ident: tuple[int, int] | None, f: Path) -> bool:
    """Whether the input ``f`` lies inside the folder ``out`` (by any spelling or link)."""
    if ident is None:
        return False
    for start in {Path(os.path.abspath(f)), Path(os.path.realpath(f))}:
        for parent in start.parents:
            if _identity(parent) == ident:
                return True
    return False


def refuse_same_files(outputs: Mapping[str, str | Path | None],
                      inputs: Mapping[str, str | Path | None]) -> None:
    """Refuse outputs that are inputs, that contain inputs, or that are each other.

    Files and folders are compared by identity (device and inode): an output folder
    that is an input (an OME-Zarr replaced with ``--force``) or that holds one (a
    ``--force`` would delete it) is refused.

    Parameters
    ----------
    outputs, inputs
        What to call each path in the message (an option such as ``"--out"``) mapped
        to the path; ``None`` paths are left out.

    Raises
    ------
    SameFileError
        Naming the two options and saying what to do.
    """
    known: list[tuple[str, Path, tuple[int, int] | None, bool]] = []
    for label, given in inputs.items():
        if given is not None:
            known += [(label, f, _identity(f), True) for f in files_read_from(given)]
    for label, given in outputs.items():
        if given is None:
            continue
        out = Path(given)
        ident = _identity(out)
        for other, f, f_ident, is_input in known:
            what = ("an input, which would be destroyed" if is_input
                    else f"the output of {other}")
            if (ident is not None and ident == f_ident) or _spelling(out) == _spelling(f):
                raise SameFileError(
                    f"{label} {str(out)!r} is the {'folder' if f.is_dir() else 'file'} "
                    f"{str(f)!r} of {other}: writing it would replace {what}, --force or "
                    f"not. Choose another name for {label}."
                )
            if is_input and out.is_dir() and _inside(out, ident, f):
                raise SameFileError(
                    f"{label} {str(out)!r} holds {str(f)!r}, the input of {other}: writing "
                    f"{label} would replace the folder and delete the input, --force or "
                    f"not. Move the input out of it, or choose another name for {label}."
                )
        known.append((label, out, ident, False))


def check_name_length(path: str | Path, label: str = "The output") -> None:
    """Refuse a file name longer than its file system takes (before any work is done)."""
    p = Path(path)
    limit = name_max(p.parent if str(p.parent) else ".")
    if name_bytes(p.name) > limit:
        raise InputError(
            f"{label} name {p.name[:40]!r}... is {name_bytes(p.name)} bytes long, more than "
            f"the file system takes ({limit}). Choose a shorter name."
        )


def check_regular_file(path: str | Path, what: str = "file") -> None:
    """Refuse a pipe, a device or a socket: reading one can hang or never end."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return  # the reader says what is wrong with a path that is not there
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise InputError(
            f"The {what} {str(path)!r} is not a regular file (a pipe, a device or a socket), "
            "and is not read. Give a file saved on disk."
        )
