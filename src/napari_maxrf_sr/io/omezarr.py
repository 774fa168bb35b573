"""OME-Zarr element stacks: resolution pyramids written tile by tile, read lazily.

A result is written as an OME-Zarr image (NGFF 0.4, https://ngff.openmicroscopy.org/0.4/):
a folder ``NAME.ome.zarr`` holding one zarr array per resolution level (``0`` is full
resolution), axes ``c, y, x`` with one channel per element, the element names as the
channels' labels (``omero`` metadata, as Fiji, QuPath and napari-ome-zarr show them)
and this package's own metadata (names, units, scale, provenance) under the key
``napari_maxrf_sr``.

The folder is built under a hidden temporary name next to the final one and renamed
when every chunk of every level is on disk, so a failed, cancelled or killed run leaves
nothing under the final name. Readers open the levels as dask arrays: nothing is read
until it is shown.

Level ``k + 1`` is level ``k`` averaged over blocks of 2 x 2 pixels (the maps are in
the input's units, so an average keeps their meaning); an odd last row or column is
averaged with itself, so every level covers the whole painting. Levels are added
until the longer side is at most :data:`TOP_LEVEL_MAX` pixels, which is about what
a screen shows: the whole painting then comes from the smallest level.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..core import validation
from ..core.validation import default_element_names
from ..errors import ClusterError, InputError
from . import zarrstore
from .atomic_folder import atomic_folder, compute_here
from .common import STACK_FORMAT
from .elements import normalise_element_name, parse_element_name
from .writers import _jsonable

NGFF_VERSION = "0.4"
#: Key of this package's metadata in the image's attributes.
META_KEY = "napari_maxrf_sr"
SUFFIXES = (".ome.zarr", ".zarr")
#: Width (pixels) of the full-resolution chunks; their height is the tile's.
LEVEL0_CHUNK_WIDTH = 1024
#: Levels halve until the longer side of the smallest one is at most this many pixels.
TOP_LEVEL_MAX = 1024
#: Chunk side (pixels) of the levels below full resolution.
LEVEL_CHUNK = 512


def is_ome_zarr_name(path: str | Path) -> bool:
    """Whether ``path`` is named like an OME-Zarr (``.ome.zarr`` or ``.zarr``)."""
    return str(path).lower().rstrip("/\\").endswith(SUFFIXES)


# ------------------------------------------------------------------- pyramid levels


def level_shapes(shape: tuple[int, int, int], top: int = TOP_LEVEL_MAX) -> list[tuple[int, ...]]:
    """``(B, h, w)`` of every level, full resolution first."""
    n, h, w = (int(v) for v in shape)
    out = [(n, h, w)]
    while max(h, w) > top:
        h, w = (h + 1) // 2, (w + 1) // 2
        out.append((n, h, w))
    return out


def half(block: np.ndarray) -> np.ndarray:
    """``(B, h, w)`` -> ``(B, ceil(h/2), ceil(w/2))`` float32 means of 2 x 2 pixels.

    An odd last row or column is repeated, so its pixels average with themselves.
    """
    b = np.asarray(block, dtype=np.float32)
    h, w = b.shape[-2:]
    if h % 2 or w % 2:
        b = np.pad(b, ((0, 0), (0, h % 2), (0, w % 2)), mode="edge")
    s = (b[:, 0::2, 0::2] + b[:, 1::2, 0::2]) + (b[:, 0::2, 1::2] + b[:, 1::2, 1::2])
    return s * np.float32(0.25)


def downsample(arr, chunk: int = LEVEL_CHUNK):
    """The next pyramid level of a ``(B, h, w)`` dask array, in chunks of ``chunk`` pixels.

    The input is regrouped into chunks of ``2 * chunk`` (even, except at the far
    edges), so each output chunk comes from one input chunk.
    """
    a = arr.rechunk((1, 2 * chunk, 2 * chunk))
    out_chunks = (a.chunks[0], tuple((c + 1) // 2 for c in a.chunks[1]),
                  tuple((c + 1) // 2 for c in a.chunks[2]))
    return a.map_blocks(half, chunks=out_chunks, dtype=np.float32)


# ----------------------------------------------------------------------------- zarr


def _zarr():
    try:
        import zarr
    except ImportError as exc:  # a dependency; say how to get it back
        raise ImportError(
            "OME-Zarr files need the zarr package: pip install 'zarr>=3'."
        ) from exc
    return zarr


# --------------------------------------------------------------------------- writing


def write_ome_zarr(
    path: str | Path,
    data,
    elements: Sequence[str],
    *,
    scale: Any = None,
    role: str = "sr_map",
    provenance: Mapping[str, Any] | None = None,
    units: str = "input units (counts or fitted peak areas, as the scan)",
    force: bool = False,
    compute: Callable[[list], Any] | None = None,
    verify: Callable[[Any], None] | None = None,
) -> Path:
    """Write a ``(B, H, W)`` stack as an OME-Zarr resolution pyramid, atomically.

    Parameters
    ----------
    path
        Folder to create, named ``*.ome.zarr``.
    data
        ``(B, H, W)`` dask array (or NumPy array). Its row chunks become the
        full-resolution level's chunk height: each chunk is computed once and
        written straight to disk, never held whole.
    elements
        One name per map.
    scale, role, provenance, units
        Recorded in the metadata (``scale``: photo pixels per scan pixel).
    force
        Replace an existing OME-Zarr at ``path`` (never a folder of anything else).
    compute
        Called with a list of dask delayed objects to compute them (the scheduler:
        :func:`napari_maxrf_sr.core.tiled.computer`); default: dask's local threads.
    verify
        Called with the full-resolution level (a zarr array) once it is on disk, before
        the pyramid gets its final name; what it raises leaves nothing behind (the
        command line checks there that the result agrees with the scan).

    Returns
    -------
    pathlib.Path
        The folder written.
    """
    import dask.array as da

    path = Path(path)
    if not is_ome_zarr_name(path):
        raise InputError(f"An OME-Zarr is a folder named *.ome.zarr, not {path.name!r}.")
    names = [str(e) for e in elements]
    arr = data if isinstance(data, da.Array) else da.from_array(
        np.asarray(data, dtype=np.float32), chunks=(-1, min(1024, np.shape(data)[1]), -1))
    if arr.ndim != 3 or len(names) != arr.shape[0]:
        raise InputError(f"{len(names)} element names for maps of shape {tuple(arr.shape)}.")
    arr = arr.astype(np.float32).rechunk({0: -1, 2: -1})
    compute = compute or compute_here
    shapes = level_shapes(arr.shape)
    with atomic_folder(path, force=force) as tmp:
        zarr = _zarr()
        root = zarr.open_group(str(tmp), mode="w", zarr_format=2)
        rows = arr.chunks[1][0]
        chunks = (1, rows, min(LEVEL0_CHUNK_WIDTH, shapes[0][2]))
        z = _create_level(root, "0", shapes[0], chunks)
        # One zarr chunk per task: a failed write (a full disk) leaves no sibling write of
        # the same task running in zarr's own event loop after the folder is removed.
        compute([da.store(arr.rechunk(chunks), z, lock=False, compute=False)])
        if verify is not None:
            verify(z)
        for k, shape in enumerate(shapes[1:], start=1):
            level = downsample(da.from_zarr(z), LEVEL_CHUNK)
            z = _create_level(root, str(k), shape, (1, LEVEL_CHUNK, LEVEL_CHUNK))
            compute([da.store(level, z, lock=False, compute=False)])
        check_complete(tmp, len(shapes))
        top = np.asarray(z[...])
        root.attrs.update(_attributes(names, shapes, top, scale=scale, role=role,
                                      provenance=provenance, units=units))
    return path


def _create_level(root, name: str, shape, chunks):
    from numcodecs import Blosc

    return root.create_array(
        name, shape=shape, chunks=tuple(int(c) for c in chunks), dtype="float32",
        compressors=Blosc(cname="zstd", clevel=3, shuffle=Blosc.SHUFFLE), fill_value=0.0,
        chunk_key_encoding={"name": "v2", "separator": "/"},
        config={"write_empty_chunks": True},  # every chunk on disk: completeness is checkable
    )


#: Display colour per element symbol in the ``omero`` metadata (as the napari layers).
_COLOURS = {"Hg": "FF0000", "Fe": "FF8000", "Cu": "00FF00", "Co": "0000FF", "Cd": "FFFF00",
            "Ca": "00FFFF", "Ba": "FF00FF", "Zn": "0080FF", "Mn": "8000FF", "Cr": "008000",
            "As": "FFA500", "S": "FFFF00", "Sr": "FF00FF", "Au": "FFD700"}


def channel_color(name: str) -> str:
    """Hex RGB colour of an element's channel (white for lead and unknown names)."""
    parsed = parse_element_name(name)
    return _COLOURS.get(parsed[0], "FFFFFF") if parsed else "FFFFFF"


def _attributes(names, shapes, top: np.ndarray, *, scale, role, provenance, units) -> dict:
    """NGFF ``multiscales`` and ``omero`` metadata, and ours."""
    # Level k's pixel is the mean of 2^k x 2^k full-resolution pixels: its centre lies
    # (2^k - 1) / 2 pixels further in than the first of them.
    datasets = [
        {"path": str(k), "coordinateTransformations": [
            {"type": "scale", "scale": [1.0, 2.0**k, 2.0**k]},
            *([{"type": "translation",
                "translation": [0.0, (2**k - 1) / 2, (2**k - 1) / 2]}] if k else [])]}
        for k in range(len(shapes))
    ]
    channels = []
    for name, plane in zip(names, top, strict=True):
        finite = plane[np.isfinite(plane)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        channels.append({"label": name, "color": channel_color(name), "active": True,
                         "window": {"start": lo, "end": hi if hi > lo else lo + 1,
                                    "min": lo, "max": hi}})
    return {
        "multiscales": [{
            "version": NGFF_VERSION,
            "name": "element maps",
            "axes": [{"name": "c", "type": "channel"}, {"name": "y", "type": "space"},
                     {"name": "x", "type": "space"}],
            "datasets": datasets,
            "type": "mean of 2 x 2 pixels",
        }],
        "omero": {"version": NGFF_VERSION, "channels": channels,
                  "rdefs": {"model": "greyscale"}},
        META_KEY: {
            "format": STACK_FORMAT, "version": 1, "elements": list(names), "units": units,
            "role": str(role), "scale": _jsonable(scale),
            "provenance": _jsonable(provenance or {}),
        },
    }


def check_complete(folder: Path, n_levels: int) -> None:
    """Refuse a pyramid with a chunk missing (a worker that wrote elsewhere, a lost file).

    Raises
    ------
    ClusterError
        Naming the level and how many chunks are missing.
    """
    for k in range(n_levels):
        found, expected = chunk_count(folder / str(k))
        if found < expected:
            raise ClusterError(
                f"Level {k} of the result has {expected - found} of its {expected} chunks "
                "missing, so it was not written. On a cluster every worker must see the "
                "output folder at the same path (a shared file system)."
            )


def chunk_count(level: Path) -> tuple[int, int]:
    """``(chunk files found, chunks expected)`` of one zarr array folder.

    Only files named as the array's chunk keys count (not ``.DS_Store`` or notes).
    """
    arr = _zarr().open_array(str(level), mode="r")
    grid = zarrstore.chunk_grid(arr.shape, arr.chunks)
    return zarrstore.walk_level(level, level, grid), int(np.prod(grid, dtype=np.int64))


# --------------------------------------------------------------------------- reading


def is_ome_zarr(path: str | Path) -> bool:
    """Whether ``path`` is a folder holding NGFF multiscales metadata (0.4 or 0.5)."""
    p = Path(path)
    if not p.is_dir():
        return False
    try:
        return _multiscales(_read_attrs(p)) is not None
    except InputError:  # metadata that is a link or a pipe: its reader says why
        return True
    except (OSError, ValueError):
        return False


def _read_attrs(p: Path) -> dict:
    zarrstore.check_metadata_files(p, p)  # links and pipes refused before anything is opened
    for name in (".zattrs", "zarr.json"):
        f = p / name
        if f.is_file():
            data = json.loads(f.read_text(encoding="utf-8"))
            if name == "zarr.json":
                data = data.get("attributes", {}) if isinstance(data, dict) else {}
            return data if isinstance(data, dict) else {}
    return {}


def _multiscales(attrs: dict) -> dict | None:
    ome = attrs.get("ome") if isinstance(attrs.get("ome"), dict) else attrs  # 0.5 or 0.4
    ms = ome.get("multiscales")
    if isinstance(ms, list) and ms and isinstance(ms[0], dict):
        return {**ms[0], "omero": ome.get("omero") or attrs.get("omero")}
    return None


def open_ome_zarr(path: str | Path) -> tuple[list, tuple[str, ...], dict[str, Any]]:
    """The levels of an OME-Zarr image as lazy ``(B, h, w)`` dask arrays.

    Returns
    -------
    levels, elements, meta
        Full resolution first; one name per channel; ``meta`` with ``source``,
        ``format``, ``role``, ``scale``, ``provenance``, ``units``,
        ``contrast_limits`` (per channel, from the metadata) and ``notes``.

    Raises
    ------
    InputError
        For a folder that is not an OME-Zarr image of 2-D channels, whose levels do
        not fit together, or (for files of this package) with chunks missing.
    """
    import dask.array as da

    p = Path(path)
    try:
        attrs = _read_attrs(p)
    except InputError:
        raise
    except (OSError, ValueError) as exc:
        raise InputError(f"{str(p)!r} has unreadable zarr metadata ({exc}).") from exc
    ms = _multiscales(attrs)
    if ms is None:
        raise InputError(f"{str(p)!r} is not an OME-Zarr image (no 'multiscales' metadata).")
    axes = [a.get("name") if isinstance(a, dict) else str(a) for a in ms.get("axes") or []]
    paths = [d.get("path") for d in ms.get("datasets") or [] if isinstance(d, dict)]
    if not paths:
        raise InputError(f"{str(p)!r} lists no resolution levels ('datasets').")
    zarr = _zarr()
    ours = attrs.get(META_KEY) if isinstance(attrs.get(META_KEY), dict) else {}
    levels = []
    for sub in paths:  # inside the folder, no links or pipes, chunks within bounds
        arr, found, expected = zarrstore.open_level(p, sub, zarr)
        if ours and found < expected:  # our own pyramids have every chunk on disk
            raise InputError(
                f"{str(p)!r} is incomplete: level {sub} has {found} of its {expected} chunk "
                "files. Copy the whole folder again from its source."
            )
        levels.append(_as_cyx(da.from_zarr(arr), axes, p))
    _check_levels(levels, p)
    return levels, _channel_names(ms, ours, levels[0].shape[0]), {
        "source": str(p), "format": "ome-zarr", "role": ours.get("role", "sr_map"),
        "scale": ours.get("scale"), "provenance": ours.get("provenance"),
        "units": ours.get("units"), "contrast_limits": _windows(ms), "notes": [],
    }


def _as_cyx(arr, axes: list, p: Path):
    if len(axes) != arr.ndim:
        axes = ["c", "y", "x"][-arr.ndim:] if arr.ndim <= 3 else axes
    index = []
    for name, n in zip(axes, arr.shape, strict=False):
        if name in ("y", "x", "c"):
            index.append(slice(None))
        elif n == 1:
            index.append(0)
        else:
            raise InputError(
                f"{str(p)!r} has {n} planes along axis {name!r}: element maps are 2-D images, "
                "one channel per element. Save one time point and one z plane."
            )
    out = arr[tuple(index)]
    if out.ndim == 2:
        out = out[None]
    if out.ndim != 3 or not np.issubdtype(out.dtype, np.number):
        raise InputError(f"{str(p)!r} holds {out.dtype} data of shape {out.shape}, not maps.")
    return out


def _check_levels(levels: list, p: Path) -> None:
    n, h, w = levels[0].shape
    for k, lvl in enumerate(levels[1:], start=1):
        if lvl.shape[0] != n or lvl.shape[1] > h or lvl.shape[2] > w:
            raise InputError(
                f"{str(p)!r}: level {k} has shape {lvl.shape}, which does not fit level 0 "
                f"{(n, h, w)}. The pyramid is damaged: export it again."
            )


def _channel_names(ms: dict, ours: dict, n: int) -> tuple[str, ...]:
    if ours.get("elements") and len(ours["elements"]) == n:
        return tuple(str(e) for e in ours["elements"])
    channels = (ms.get("omero") or {}).get("channels") or []
    labels = [c.get("label") for c in channels if isinstance(c, dict)]
    if len(labels) == n and all(labels):
        return tuple(normalise_element_name(str(x)) for x in labels)
    return default_element_names(n)


def _windows(ms: dict) -> list | None:
    channels = (ms.get("omero") or {}).get("channels") or []
    out = []
    for c in channels:
        win = c.get("window") if isinstance(c, dict) else None
        if not (isinstance(win, dict) and "start" in win and "end" in win):
            return None
        out.append((float(win["start"]), float(win["end"])))
    return out or None


def read_ome_zarr_maps(path: str | Path) -> tuple[np.ndarray, tuple[str, ...], dict[str, Any]]:
    """Full-resolution maps of an OME-Zarr, loaded (after the size check) as float32."""
    levels, elements, meta = open_ome_zarr(path)
    validation.check_map_size(levels[0].shape, name=f"maps in {Path(path).name!r}")
    try:
        maps = np.asarray(levels[0].compute(), dtype=np.float32)
    except Exception as exc:  # a damaged chunk: a codec error
        raise InputError(
            f"{str(path)!r} is damaged: a chunk cannot be decoded ({exc}). Copy the folder "
            "again from its source."
        ) from exc
    return maps, elements, meta
