"""Zarr stores as untrusted input: read only from inside what the user opened, within bounds.

An OME-Zarr is a folder, and a maxrf4u ``.datastack`` a zip file, whose metadata say
where the arrays are and how they are cut into chunks. A folder copied from elsewhere,
or made to mislead, may point outside itself or declare sizes that cost hours and
gigabytes. So, before any array is read:

- a dataset path must be relative and stay inside the store (no ``..``, no absolute
  path, no link on the way);
- every entry of a level's folder must be a regular file or folder: a symbolic link
  (to ``/dev/urandom``, to another store) or a named pipe is refused, never opened;
- the declared chunks are bounded: at most :data:`MAX_CHUNK_VALUES` values each (a
  chunk is decoded whole) and at most :data:`MAX_CHUNKS` chunks per array (each is a
  task and a file; 16 million of them took minutes and gigabytes);
- our own pyramids are complete: only files named as chunk keys are counted.

Nothing here imports Qt or torch.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import InputError

#: Metadata files of zarr v2 and v3.
METADATA_FILES = (".zarray", ".zattrs", ".zgroup", "zarr.json", ".zmetadata")
#: Largest metadata file read (bytes): a few kB in practice.
MAX_METADATA_BYTES = 64 * 2**20
#: Most values in one declared chunk (64 MiB as float32): a chunk is decoded whole.
MAX_CHUNK_VALUES = 2**24
#: Most chunks in one array: each is read (and scheduled) separately.
MAX_CHUNKS = 2**17


def _shown(root: Path) -> str:
    return repr(str(root))


def dataset_path(root: Path, sub: Any) -> Path:
    """``root / sub`` for a dataset path of the metadata, refused if it leaves ``root``.

    Raises
    ------
    InputError
        For a path that is not a plain relative path inside the store.
    """
    text = sub if isinstance(sub, str) else None
    parts = PurePosixPath(text).parts if text else ()
    if (not text or "\\" in text or text.startswith("/") or PurePosixPath(text).is_absolute()
            or ".." in parts or (len(text) > 1 and text[1] == ":")):
        raise InputError(
            f"{_shown(root)} lists a resolution level at {sub!r}, outside the folder you "
            "opened; data outside it are not read. Levels are folders inside the OME-Zarr "
            "(such as '0', '1'): copy the data into the folder and correct its .zattrs."
        )
    here = root
    for part in parts:
        if part in ("", "."):
            continue
        here = here / part
        if here.is_symlink():
            raise _outside(root, here)
    return here


def _outside(root: Path, entry: Path) -> InputError:
    return InputError(
        f"{_shown(root)} holds a symbolic link ({str(entry.relative_to(root))!r} -> "
        f"{_link_target(entry)!r}); data outside the folder you opened are not read. "
        "Copy the OME-Zarr again with the files themselves (cp -rL, or rsync -L)."
    )


def _link_target(entry: Path) -> str:
    try:
        return os.readlink(entry)
    except OSError:
        return "?"


def _special(root: Path, entry: Path) -> InputError:
    return InputError(
        f"{_shown(root)} holds {str(entry.relative_to(root))!r}, which is not a regular "
        "file (a pipe, a device or a socket), and is not read. Copy the OME-Zarr again "
        "from its source."
    )


def check_entry(root: Path, entry: Path) -> None:
    """Refuse a link, a pipe, a device or a socket inside the store (``lstat``: no follow)."""
    try:
        mode = os.lstat(entry).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISLNK(mode):
        raise _outside(root, entry)
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise _special(root, entry)
    if stat.S_ISREG(mode) and entry.name in METADATA_FILES and \
            os.lstat(entry).st_size > MAX_METADATA_BYTES:
        raise InputError(f"{str(entry)!r} is far too large for zarr metadata.")


def check_metadata_files(root: Path, folder: Path) -> None:
    """The metadata files of ``folder`` (a store or a level) are plain files, if present."""
    check_entry(root, folder)
    for name in METADATA_FILES:
        check_entry(root, folder / name)


def check_chunks(shape: Sequence[int], chunks: Sequence[int], where: str) -> None:
    """Refuse declared chunks too large to decode, or too many to read.

    Parameters
    ----------
    shape, chunks
        The array's shape and its chunk shape, as declared.
    where
        The array, for the message (``"'scan.ome.zarr', level 0"``).
    """
    shape = [int(n) for n in shape]
    chunks = [max(1, int(c)) for c in chunks]
    values = 1
    for c in chunks:
        values *= c
    dims = " x ".join(map(str, chunks))
    if values > MAX_CHUNK_VALUES:
        raise InputError(
            f"{where} declares chunks of {dims} values ({values:,} each, decoded whole), "
            f"more than {MAX_CHUNK_VALUES:,}, for an array of "
            f"{' x '.join(map(str, shape))}. Save it again with smaller chunks (e.g. "
            "1 x 1024 x 1024)."
        )
    count = 1
    for n, c in zip(shape, chunks, strict=False):
        count *= -(-n // c)
    if count > MAX_CHUNKS:
        raise InputError(
            f"{where} is cut into {count:,} chunks of {dims} values, more than "
            f"{MAX_CHUNKS:,}: each is read separately, which would take very long and much "
            "memory. Save it again with larger chunks (e.g. 1 x 1024 x 1024)."
        )


def chunk_grid(shape: Sequence[int], chunks: Sequence[int]) -> tuple[int, ...]:
    """Chunks along each axis."""
    return tuple(-(-int(n) // max(1, int(c))) for n, c in zip(shape, chunks, strict=True))


def _chunk_index(rel: str, grid: tuple[int, ...]) -> tuple[int, ...] | None:
    """The chunk a file's path (relative to its array) names, or ``None`` if none.

    Zarr v2 keys are ``0.1.2`` or ``0/1/2``; v3 keys ``c/0/1/2`` (or ``c.0.1.2``).
    """
    if rel.startswith(("c/", "c.")):
        rel = rel[2:]
    parts = rel.replace(".", "/").split("/")
    if len(parts) != len(grid) or not all(p.isdigit() for p in parts):
        return None
    index = tuple(int(p) for p in parts)
    return index if all(i < n for i, n in zip(index, grid, strict=True)) else None


def walk_level(root: Path, level: Path, grid: tuple[int, ...]) -> int:
    """Check every entry of an array's folder; return how many of its chunk files exist.

    Links and special files are refused (never followed or opened); files that are not
    chunks (``.DS_Store``, notes) are not counted. The walk stops with an error when the
    folder holds far more entries than the array has chunks.
    """
    expected = 1
    for n in grid:
        expected *= n
    limit = 2 * expected + 1000
    found: set[tuple[int, ...]] = set()
    seen = 0
    stack = [level]
    while stack:
        folder = stack.pop()
        with os.scandir(folder) as entries:
            for e in entries:
                seen += 1
                if seen > limit:
                    raise InputError(
                        f"{_shown(root)}: {str(level.relative_to(root))!r} holds far more "
                        f"files than its {expected:,} chunks. Copy the OME-Zarr again from "
                        "its source."
                    )
                path = Path(e.path)
                if e.is_symlink():
                    raise _outside(root, path)
                if e.is_dir(follow_symlinks=False):
                    stack.append(path)
                elif not e.is_file(follow_symlinks=False):
                    raise _special(root, path)
                else:
                    index = _chunk_index(path.relative_to(level).as_posix(), grid)
                    if index is not None:
                        found.add(index)
    return len(found)


def open_level(root: Path, sub: Any, zarr) -> tuple[Any, int, int]:
    """A level of an OME-Zarr opened read-only, after every check of this module.

    Returns ``(zarr array, chunk files found, chunks expected)``.
    """
    folder = dataset_path(root, sub)
    if not folder.is_dir():
        raise InputError(f"{_shown(root)}: level {sub!r} is missing. Copy the whole folder "
                         "again from its source.")
    check_metadata_files(root, folder)
    try:
        arr = zarr.open_array(str(folder), mode="r")
    except Exception as exc:  # missing or damaged level metadata
        raise InputError(f"{_shown(root)}: level {sub!r} cannot be opened ({exc}).") from exc
    check_chunks(arr.shape, arr.chunks, f"{_shown(root)}, level {sub}")
    grid = chunk_grid(arr.shape, arr.chunks)
    expected = 1
    for n in grid:
        expected *= n
    return arr, walk_level(root, folder, grid), expected
