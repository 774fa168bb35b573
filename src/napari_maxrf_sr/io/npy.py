"""Element maps in NumPy files: ``.npy`` arrays and ``.npz`` archives.

Every header is checked against the file's size and the memory limit before any
array is read, and nothing is unpickled. Values are read a band of rows at a time
straight into the float32 maps, and an ``.npz`` member that is not needed (an extra
array, a member that is not an array) is never decompressed.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from ..core import validation
from ..errors import InputError
from .common import (
    NAME_KEYS,
    MapsMeta,
    MapsResult,
    check_number_type,
    names_or_default,
    new_stack,
    put,
    row_bands,
)
from .elements import normalise_element_name
from .filecheck import check_npy_data, damaged, npy_header, unreadable
from .sidecar import read_sidecar, text_list

_STACK_KEYS = ("maps", "lr_maps", "element_maps", "data")
#: Most names (or scale values) read from an ``.npz``: more is not a list of elements.
_MAX_SMALL_VALUES = 4096


def _stack_shape(shape: tuple[int, ...], source: str) -> tuple[int, int, int]:
    """``(B, h, w)`` of an array shaped ``(h, w)`` or ``(B, h, w)``."""
    if len(shape) == 2:
        return (1, *shape)
    if len(shape) == 3:
        return shape  # type: ignore[return-value]
    raise InputError(
        f"{source} holds an array of shape {shape}; element maps must be (h, w) or "
        f"(B, h, w) (element, rows, columns). {validation.stack_shape_hint(shape)}"
    )


def _stream_into(fh: IO[bytes], out: np.ndarray, dtype: np.dtype, fortran: bool,
                 source: str) -> None:
    """Read an array's data from ``fh`` (just past its header) into ``out``, band by band.

    C order is read as rows of the maps; a Fortran-ordered ``(B, h, w)`` array is the
    C-ordered ``(w, h, B)`` array transposed, so it is read as bands of columns.
    """
    target = out.transpose() if fortran else out.reshape(-1, out.shape[-1])
    row_items = int(np.prod(target.shape[1:], dtype=np.int64))
    for r0, r1 in row_bands(target.shape[0], row_items * dtype.itemsize):
        need = (r1 - r0) * row_items * dtype.itemsize
        buf = fh.read(need)
        if len(buf) != need:
            raise InputError(f"{source} is truncated: its data end early. Copy the file again.")
        block = np.frombuffer(buf, dtype=dtype).reshape((r1 - r0, *target.shape[1:]))
        put(target[r0:r1], block, source)


def read_npy_maps(path: str | Path) -> MapsResult:
    """Read a ``.npy`` array ``(B, h, w)`` or ``(h, w)``; names from a sidecar ``<stem>.json``."""
    path = Path(path)
    source = repr(str(path))
    shape, dtype = npy_info(path)  # nothing is allocated before the header has been checked
    maps = new_stack(_stack_shape(shape, source), source)
    try:
        with open(path, "rb") as fh:
            _stream_into(fh, maps, dtype, npy_header(fh, source).fortran, source)
    except InputError:
        raise
    except Exception as exc:
        raise damaged(path, exc, "NumPy .npy") from exc
    notes: list[str] = []
    side = read_sidecar(path) or {}
    names = text_list(side.get("elements"), f"{path.name}'s sidecar", "elements")
    elements = names_or_default(names, maps.shape[0], repr(path.name), notes)
    meta = MapsMeta(
        source=str(path),
        format="npy",
        notes=notes,
        scale=side.get("scale"),
        provenance=side.get("provenance"),
    )
    return maps, elements, meta


def npy_info(path: str | Path, *, numbers_only: bool = True) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of a ``.npy`` file, after checking its header against its size.

    Raises
    ------
    InputError
        For a damaged or truncated file, a header that promises more data than the
        file holds, more values than fit in memory or (``numbers_only``) values that
        are not numbers.
    """
    path = Path(path)
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            shape, dtype, head, _ = npy_header(fh, repr(str(path)))
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise unreadable(path, exc) from exc
    check_npy_data(shape, dtype, size - head, repr(str(path)), numbers_only=numbers_only)
    return shape, dtype


# --------------------------------------------------------------------------- .npz


@dataclass(frozen=True)
class _Member:
    """One ``.npy`` array of an ``.npz``, known from its header alone."""

    info: zipfile.ZipInfo
    shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def numeric(self) -> bool:
        return self.dtype.kind in "biuf" and self.dtype.fields is None


def _members(zf: zipfile.ZipFile, path: Path, notes: list[str]) -> dict[str, _Member]:
    """Every array of the archive by key, each header checked against the data it has."""
    out: dict[str, _Member] = {}
    for info in zf.infolist():
        if info.is_dir():
            continue
        if not info.filename.endswith(".npy"):
            notes.append(f"skipped {info.filename!r} in {path.name}: not a NumPy array")
            continue
        key = info.filename[:-4]
        source = f"{path.name}[{key!r}]"
        with zf.open(info) as fh:
            shape, dtype, head, _ = npy_header(fh, source)
        check_npy_data(shape, dtype, info.file_size - head, source, numbers_only=False)
        out[key] = _Member(info, shape, dtype)
    return out


def _read_small(zf: zipfile.ZipFile, member: _Member, source: str) -> np.ndarray | None:
    """A small array (names, scale), or ``None`` when it is too large to be one."""
    if int(np.prod(member.shape, dtype=np.int64)) > _MAX_SMALL_VALUES or member.dtype.hasobject:
        return None
    with zf.open(member.info) as fh:
        return np.lib.format.read_array(fh, allow_pickle=False)


def _read_maps(zf: zipfile.ZipFile, members: list[tuple[str, _Member]], path: Path
               ) -> np.ndarray:
    """Read 2-D members (one map each) or one 3-D member into a float32 stack."""
    first = members[0][1]
    if len(members) == 1:
        shape = _stack_shape(first.shape, f"{path.name}[{members[0][0]!r}]")
    else:
        shape = (len(members), *first.shape)
    maps = new_stack(shape, repr(path.name))
    per = maps.shape[0] // len(members)
    for k, (key, member) in enumerate(members):
        source = f"{path.name}[{key!r}]"
        check_number_type(member.dtype, source)
        with zf.open(member.info) as fh:
            fortran = npy_header(fh, source).fortran
            _stream_into(fh, maps[k * per : (k + 1) * per], member.dtype, fortran, source)
    return maps


def _choose(members: dict[str, _Member], path: Path) -> tuple[list[tuple[str, _Member]], bool]:
    """The members that hold the maps, and whether they are one 3-D stack."""
    stack_key = next((k for k in _STACK_KEYS if k in members and len(members[k].shape) == 3),
                     None)
    if stack_key is None:
        three_d = [k for k, m in members.items() if len(m.shape) == 3]
        stack_key = three_d[0] if len(three_d) == 1 else None
    if stack_key is not None:
        return [(stack_key, members[stack_key])], True
    two_d = {k: m for k, m in members.items()
             if len(m.shape) == 2 and k not in NAME_KEYS and m.numeric}
    if not two_d:
        raise InputError(
            f"{str(path)!r} holds no element maps: store one 2-D array per element "
            "(np.savez(path, **{'Pb L': pb, 'Hg L': hg})) or a (B, h, w) array under "
            "'maps' with names under 'elements'."
        )
    shapes = {m.shape for m in two_d.values()}
    if len(shapes) > 1:
        raise InputError(
            f"The arrays in {str(path)!r} have different shapes {sorted(shapes)}; element "
            "maps must all have the same size."
        )
    return list(two_d.items()), False


def read_npz_maps(path: str | Path) -> MapsResult:
    """Read a ``.npz`` file: one 2-D array per element (keys are the names), or a 3-D stack.

    A stack is taken from the key ``maps`` (or ``lr_maps``, ``element_maps``,
    ``data``, or the only 3-D array), its names from ``elements`` (or
    ``element_names``, ``names``, ``labels``) or a sidecar JSON. Other members are not
    read, and a note names them.
    """
    path = Path(path)
    notes: list[str] = []
    try:
        with zipfile.ZipFile(path) as zf:
            members = _members(zf, path, notes)
            chosen, is_stack = _choose(members, path)
            maps = _read_maps(zf, chosen, path)
            small = {k: _read_small(zf, members[k], f"{path.name}[{k!r}]")
                     for k in (*NAME_KEYS, "scale") if k in members}
    except InputError:
        raise
    except FileNotFoundError:
        raise
    except Exception as exc:  # BadZipFile, zlib.error, EOFError, CRC errors: damaged
        raise damaged(path, exc, "NumPy .npz (zip)") from exc
    used = {k for k, _ in chosen} | set(small)
    unread = [f"{k!r} ({m.dtype}, {' x '.join(map(str, m.shape))})"
              for k, m in members.items() if k not in used]
    if unread:
        notes.append(f"not read from {path.name}, as not element maps: {', '.join(unread)}")
    scale = small.get("scale")
    scale = scale.item() if scale is not None and scale.size == 1 else None
    if is_stack:
        names = next((small[k] for k in NAME_KEYS if small.get(k) is not None), None)
        if names is not None:
            names = [str(x) for x in np.ravel(names)]
        else:
            side = read_sidecar(path) or {}
            names = text_list(side.get("elements"), f"{path.name}'s sidecar", "elements")
        elements = names_or_default(names, maps.shape[0], repr(path.name), notes)
    else:
        elements = tuple(normalise_element_name(k) for k, _ in chosen)
    return maps, elements, MapsMeta(source=str(path), format="npz", notes=notes, scale=scale)
