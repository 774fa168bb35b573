"""Folders written atomically (OME-Zarr pyramids): built under a hidden name, then renamed.

A pyramid is written into a hidden temporary folder next to its final name and renamed
when every chunk is on disk, so a failed, cancelled or killed write leaves nothing under
the final name. The temporary folder's name says which computer and process made it: a
later write removes those of killed processes (:func:`~..atomic.clean_stale_temporaries`).
When the disk fills up, the writer's threads are stopped and waited for before the
temporary folder is removed, so none of them makes it again.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..atomic import (
    FORCE_PYTHON,
    check_writable_folder,
    clean_stale_temporaries,
    full_disk_said,
    give_normal_permissions,
    temporary_folder,
)

__all__ = ["atomic_folder", "check_replaceable", "compute_here"]


@contextlib.contextmanager
def atomic_folder(path: Path, *, force: bool = False) -> Iterator[Path]:
    """Yield a hidden temporary folder next to ``path``; rename it to ``path`` on success.

    Without ``force`` an existing ``path`` is refused, before and at the rename. With
    ``force`` an existing OME-Zarr (or file) is replaced, but never a folder that is not
    a zarr: a wrong ``--out`` must not delete someone's folder. Temporary folders that a
    killed writer left there are removed first (:func:`~..atomic.clean_stale_temporaries`);
    a write that runs out of room says so (:class:`~..errors.OutputWriteError`).
    """
    folder = check_writable_folder(path.parent if str(path.parent) else Path("."))
    check_replaceable(path, force)
    clean_stale_temporaries(folder)
    with full_disk_said(path):
        tmp = temporary_folder(path)
    give_normal_permissions(tmp, 0o777)  # mkdtemp makes it private
    try:
        with full_disk_said(path):
            yield tmp
        _move_into_place(tmp, path, force)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def check_replaceable(path: Path, force: bool, how: str = FORCE_PYTHON) -> None:
    """Refuse an existing ``path`` without ``force``, and any folder that is not a zarr.

    ``how``: how the caller's user asks to replace (:data:`~..atomic.FORCE_PYTHON`).
    """
    if not (path.exists() or path.is_symlink()):
        return
    if not force:
        raise FileExistsError(
            f"Not overwriting existing {str(path)!r}. Choose another name, or {how} to "
            "replace it."
        )
    if path.is_dir() and not any((path / f).is_file() for f in (".zattrs", ".zgroup",
                                                                  "zarr.json")):
        raise IsADirectoryError(
            f"{str(path)!r} is a folder that is not an OME-Zarr: it is not replaced, even "
            "with --force. Give the name of a new *.ome.zarr."
        )


def _move_into_place(tmp: Path, path: Path, force: bool) -> None:
    if not (path.exists() or path.is_symlink()):
        try:
            os.rename(tmp, path)  # fails on a non-empty folder that appeared meanwhile
            return
        except OSError:
            if not force:
                check_replaceable(path, False)
                raise
    check_replaceable(path, force)
    old = temporary_folder(path, "old")
    os.rename(path, old / "previous")
    os.rename(tmp, path)
    shutil.rmtree(old, ignore_errors=True)


def compute_here(tasks: list):
    """Compute dask objects on local threads; after a failure, wait for those in flight.

    dask's own pool would leave them running: a full disk's writes would go on into the
    temporary folder after it was removed, and make it again.
    """
    import dask

    pool = ThreadPoolExecutor(min(8, os.cpu_count() or 1))
    try:
        return dask.compute(*tasks, scheduler="threads", pool=pool)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
