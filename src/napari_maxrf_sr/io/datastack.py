"""maxrf4u datastacks (``.datastack``): element maps from a zarr archive in a zip file.

maxrf4u (``maxrf4u/storage.py``, ``maxrf4u/peakmaps.py``) keeps everything about one
scan in a zarr ``ZipStore``: the smoothed spectral cube ``maxrf_cube``, spectra,
calibration and, once :func:`maxrf4u.compute_nmf_element_maps` has run, the element
maps ``nmf_elementmaps`` ``(B, h, w)`` with their elements as atomic numbers in
``nmf_atomnums`` (zarr format 3 stores no strings; files written before March 2025 have
the names as strings in ``nmf_elements``). When a result is computed again, maxrf4u
appends it under the same name with an underscore more (``nmf_elementmaps_``) and reads
the latest: so does this reader.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..core import validation
from ..errors import InputError
from .common import as_float32_stack, names_or_default
from .elements import SYMBOLS
from .filecheck import damaged
from .zarrstore import MAX_METADATA_BYTES, METADATA_FILES, check_chunks

SUFFIX = ".datastack"
MAPS = "nmf_elementmaps"


def latest(name: str, names: list[str]) -> str | None:
    """maxrf4u's newest version of ``name``: the one with the most trailing underscores."""
    found = sorted(n for n in names if re.fullmatch(re.escape(name) + "_*", n))
    return found[-1] if found else None


def _open_group(path: Path):
    import zarr
    from zarr.storage import ZipStore

    try:
        with zipfile.ZipFile(path) as zf:  # a truncated zip has no central directory
            if not zf.namelist():
                raise InputError(f"{str(path)!r} is an empty archive, not a datastack.")
            big = [i.filename for i in zf.infolist() if i.file_size > MAX_METADATA_BYTES
                   and i.filename.rsplit("/", 1)[-1] in METADATA_FILES]
            if big:
                raise InputError(f"{str(path)!r} is damaged: its zarr metadata {big[0]!r} "
                                 "is far too large. Copy the file again from its source.")
        store = ZipStore(path, mode="r")
        return store, zarr.open_group(store=store, mode="r")
    except (InputError, FileNotFoundError):
        raise
    except Exception as exc:  # BadZipFile, zarr metadata errors
        raise damaged(path, exc, "maxrf4u .datastack (zarr zip)") from exc


def _names(root, keys: list[str]) -> list[str] | None:
    nums = latest("nmf_atomnums", keys)
    if nums is not None:
        if int(np.prod(root[nums].shape, dtype=np.int64)) > 1024:
            return None
        z = np.asarray(root[nums][...]).ravel()
        if z.size > 1024 or not np.all((z >= 1) & (z <= len(SYMBOLS))):
            return None
        return [SYMBOLS[int(v) - 1] for v in z]
    old = latest("nmf_elements", keys)
    if old is not None and int(np.prod(root[old].shape, dtype=np.int64)) <= 1024:
        values = np.asarray(root[old][...]).ravel()
        return [v.decode() if isinstance(v, bytes) else str(v) for v in values]
    return None


def datastack_maps_array(path: Path, root, keys: list[str]):
    """``(name, array)`` of the latest element maps, their declared sizes checked.

    Raises
    ------
    InputError
        When there are no maps yet, or their declared shape or chunks are beyond the
        limits (before anything is decoded).
    """
    name = latest(MAPS, keys)
    if name is None:
        raise InputError(
            f"{str(path)!r} holds no element maps yet (no {MAPS!r}; it has "
            f"{', '.join(keys[:8]) or 'nothing'}). Compute them in maxrf4u first "
            "(maxrf4u.compute_nmf_element_maps), then open the datastack again."
        )
    arr = root[name]
    validation.check_map_size(arr.shape, name=f"maps in {path.name!r}")
    check_chunks(arr.shape, arr.chunks, f"{str(path)!r} ({name})")
    return name, arr


def datastack_shape(path: str | Path) -> tuple[int, ...]:
    """The shape of a datastack's latest element maps, from its metadata alone."""
    path = Path(path)
    store, root = _open_group(path)
    try:
        return tuple(int(n) for n in datastack_maps_array(path, root,
                                                          sorted(root.array_keys()))[1].shape)
    finally:
        store.close()


def read_datastack_maps(path: str | Path) -> tuple[np.ndarray, tuple[str, ...], dict[str, Any]]:
    """The latest element maps of a maxrf4u datastack: ``(B, h, w)`` float32, names, metadata.

    Raises
    ------
    InputError
        For a damaged archive, one without element maps yet, or maps larger than
        what is loaded at once, or cut into chunks too large or too many (checked from
        the array's metadata, before reading).
    """
    path = Path(path)
    store, root = _open_group(path)
    try:
        keys = sorted(root.array_keys())
        name, arr = datastack_maps_array(path, root, keys)
        notes: list[str] = []
        try:
            maps = as_float32_stack(arr[...], repr(path.name))
            names = _names(root, keys)
        except InputError:
            raise
        except Exception as exc:  # a damaged chunk: CRC or codec errors
            raise damaged(path, exc, "maxrf4u .datastack (zarr zip)") from exc
    finally:
        store.close()
    elements = names_or_default(names, maps.shape[0], repr(path.name), notes)
    return maps, elements, {"source": str(path), "format": "datastack", "dataset": name,
                            "notes": notes}
