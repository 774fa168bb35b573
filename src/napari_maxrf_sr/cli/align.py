"""``maxrf-sr align``: a camera photo registered onto the scan's grid, written as a file.

Writes the aligned photo (PNG, or TIFF for ``.tif``; 8 or 16 bit as the input) and,
next to it, ``ALIGNED.json``: the transform (HR grid ``(x, y)`` -> original photo
``(x, y)``), its scale, its estimated error and the test that the photo shows the
scan. Both are written atomically and never replace a file without ``--force``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from .outputs import check_outputs


def record_path(out: Path) -> Path:
    """Where the registration record of ``out`` goes: ``ALIGNED.json`` next to it."""
    return out.with_name(out.stem + ".json")


def _as_file_pixels(img: np.ndarray) -> np.ndarray:
    """uint8 or uint16 for the image file (a float photo keeps 16 bits)."""
    if img.dtype in (np.uint8, np.uint16):
        return img
    return np.clip(np.rint(np.asarray(img, np.float64) * 65535), 0, 65535).astype(np.uint16)


def cmd_align(args) -> int:
    """``maxrf-sr align``: register the photo to the maps and write it on their grid."""
    import imageio.v3 as iio

    from ..atomic import atomic_path
    from ..registration import register_photo
    from .runs import note, read_inputs

    out = Path(args.out)
    rec = record_path(out)
    check_outputs({"--out": out, "the record": rec},
                  {"--xrf": Path(args.xrf), "--rgb": Path(args.rgb)}, args.force, tiff=())
    maps, _, photo, _ = read_inputs(args, strict=False)
    print(f"registering the {photo.shape[0]} x {photo.shape[1]} photo to the "
          f"{maps.shape[1]} x {maps.shape[2]} maps", file=sys.stderr)
    reg = register_photo(maps, photo, args.scale, transform=args.transform)
    aligned = _as_file_pixels(reg.apply(photo))
    record = reg.to_dict()
    record["photo_file"] = str(Path(args.rgb).resolve())
    ext = out.suffix.lower()
    with atomic_path(rec, force=args.force) as tmp_rec:
        tmp_rec.write_text(json.dumps(record, indent=2))
        with atomic_path(out, force=args.force) as tmp:
            iio.imwrite(tmp, aligned, extension=ext if ext in (".tif", ".tiff") else ".png")
    for text in reg.notes:
        note(text)
    print(f"scale {reg.scale}; {reg.error_text()}; record in {rec}", file=sys.stderr)
    print(str(out.resolve()))
    return 0
