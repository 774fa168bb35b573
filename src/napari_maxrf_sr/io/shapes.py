"""The sizes that files declare, read from their headers alone.

Before the command line decodes a scan of gigabytes, it checks that the photo fits it
(the scale): a photo that does not fit is refused before the maps are read, not after.
These functions never raise: ``None`` means "not known from the header", and the
readers themselves then say what is wrong.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from .filecheck import image_pixels, png_size
from .hdf5 import H5_SUFFIXES
from .tiff import TIFF_SUFFIXES


def _folder_shape(path: Path) -> tuple[int, int, int] | None:
    from .folder import _image_shape, list_element_images

    sizes = [_image_shape(p)[0] for p in list_element_images(path)]
    sizes = [s for s in sizes if s is not None]
    if not sizes or len(set(sizes)) != 1:
        return None
    return (len(sizes), *sizes[0])


def _npz_shape(path: Path) -> tuple[int, int, int] | None:
    from .npy import _choose, _members, _stack_shape

    with zipfile.ZipFile(path) as zf:
        chosen, _ = _choose(_members(zf, path, []), path)
    first = chosen[0][1].shape
    return _stack_shape(first, path.name) if len(chosen) == 1 else (len(chosen), *first)


def _h5_shape(path: Path, dataset: str | None) -> tuple[int, int, int] | None:
    import h5py

    with h5py.File(path, "r") as f:
        if dataset is not None:
            shape = f[dataset].shape
            return (1, *shape) if len(shape) == 2 else tuple(shape)
        three = []
        f.visititems(lambda n, o: three.append(o.shape)
                     if isinstance(o, h5py.Dataset) and o.ndim == 3 else None)
    return tuple(three[0]) if len(three) == 1 else None


def _field_shape(p: Path, kind: str) -> tuple[int, ...] | None:
    """Declared maps of other programs' formats and OME-Zarr (see :mod:`.fieldformats`)."""
    if kind == "ome-zarr":
        from .omezarr import open_ome_zarr

        return tuple(open_ome_zarr(p)[0][0].shape)  # metadata only: nothing is read
    if kind == "dms":
        from .dms import dms_header

        w, h, c, _ = dms_header(p)
        return c, h, w
    if kind == "edf":
        from .pymca import edf_frames

        frames = edf_frames(p)  # headers only
        return (len(frames), *frames[0].shape)
    if kind == "datastack":
        from .datastack import datastack_shape

        shape = datastack_shape(p)
        return (1, *shape) if len(shape) == 2 else shape
    return None


def maps_shape(path: str | Path, **options: Any) -> tuple[int, int, int] | None:
    """``(B, h, w)`` of the maps a file or folder declares, or ``None`` if not known.

    ``options`` are those of :func:`~napari_maxrf_sr.io.read_element_maps`. OME-Zarr,
    ``.dms``, ``.edf`` and ``.datastack`` are read from their headers and metadata too.
    """
    from .fieldformats import field_format

    p = Path(path)
    suffix = p.suffix.lower()
    try:
        kind = field_format(p)
        if kind is not None:
            shape = _field_shape(p, kind)
            return tuple(int(n) for n in shape) if shape is not None and len(shape) == 3 \
                else None
        if p.is_dir():
            return _folder_shape(p)
        if not p.is_file():
            return None
        if suffix in TIFF_SUFFIXES:
            from .tiff import inspect_tiff

            layout = inspect_tiff(p)  # checked as it is opened
            return None if layout.photo else layout.shape
        if suffix == ".png":
            hw = png_size(p)
            return None if hw is None else (1, *hw)
        if suffix == ".npy":
            from .npy import npy_info

            shape, _ = npy_info(p)  # a truncated or too large file: the reader says so
            return (1, *shape) if len(shape) == 2 else tuple(shape) if len(shape) == 3 else None
        if suffix == ".npz":
            return _npz_shape(p)
        if suffix in H5_SUFFIXES:
            return _h5_shape(p, options.get("dataset"))
        if suffix == ".rpl":
            from .rpl import plan_rpl_maps

            plan = plan_rpl_maps(p, **options)
            return (len(plan.windows), plan.summary.header.height, plan.summary.header.width)
    except Exception:  # noqa: BLE001 - unknown: the reader says what is wrong
        return None
    return None


def photo_nbytes(path: str | Path, hw: tuple[int, int]) -> int:
    """Bytes of the photo as it is decoded (``hw`` its size): channels x bytes per value.

    From the header where it says (TIFF, PNG); else 8-bit RGB is assumed.
    """
    p = Path(path)
    per_pixel = 3
    try:
        if p.suffix.lower() in TIFF_SUFFIXES:
            import tifffile

            with tifffile.TiffFile(p) as tif:
                page = tif.pages[0]
                bits = int(page.bitspersample) if page.bitspersample else 8
                per_pixel = max(3, int(page.samplesperpixel)) * max(1, -(-bits // 8))
        elif p.suffix.lower() == ".png":
            with open(p, "rb") as fh:
                head = fh.read(26)
            if head[12:16] == b"IHDR":
                channels = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}.get(head[25], 4)
                per_pixel = max(3, channels) * (2 if head[24] == 16 else 1)
    except Exception:  # noqa: BLE001 - unknown: 8-bit RGB assumed
        pass
    return int(hw[0]) * int(hw[1]) * per_pixel


def photo_shape(path: str | Path) -> tuple[int, int] | None:
    """``(H, W)`` of a photo as viewers show it (orientation applied), or ``None``."""
    p = Path(path)
    try:
        if not p.is_file():
            return None
        if p.suffix.lower() in TIFF_SUFFIXES:
            from .filecheck import open_checked_tiff
            from .tiff import tiff_layout

            with open_checked_tiff(p) as tif:
                layout = tiff_layout(tif, p)
                if not layout.photo and layout.shape[0] > 1 and (layout.names or layout.info):
                    return None  # element maps given as the photo: the reader says so
                page = tif.pages[0]
                hw = (int(page.imagelength), int(page.imagewidth))
                tag = page.tags.get("Orientation")
                orientation = int(tag.value) if tag is not None else 1
        else:
            hw = image_pixels(p)
            from .photo_file import _pillow_orientation

            orientation = _pillow_orientation(p) or 1
        if hw is None:
            return None
        return (hw[1], hw[0]) if orientation in (5, 6, 7, 8) else hw
    except Exception:  # noqa: BLE001 - unknown: the reader says what is wrong
        return None
