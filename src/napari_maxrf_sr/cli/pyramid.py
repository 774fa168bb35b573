"""``maxrf-sr run/apply`` into an OME-Zarr pyramid: the options and the call.

Kept apart from :mod:`napari_maxrf_sr.cli.runs` (which imports it) to keep that module small.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from ..errors import InputError


def pyramid_requested(out: Path, args) -> bool:
    """Whether ``out`` asks for an OME-Zarr pyramid; ``--scheduler`` needs one."""
    from ..io.omezarr import is_ome_zarr_name

    pyramid = is_ome_zarr_name(out)
    if getattr(args, "scheduler", None):
        if not pyramid:
            raise InputError(
                "--scheduler writes a resolution pyramid: give --out a .ome.zarr name "
                f"(e.g. {out.with_suffix('').name + '.ome.zarr'!r}), not {out.name!r}."
            )
        if getattr(args, "method", "adun") != "adun":
            raise InputError("--scheduler applies to the network (--method adun) only.")
    return pyramid


def apply_to_pyramid(model, maps, photo, out: Path, elements, args, provenance: dict,
                      negative: str = "error") -> None:
    """Apply the model tile by tile into an OME-Zarr pyramid (here, or on a cluster)."""
    from ..outputs import apply_to_file

    where = f"the dask cluster at {args.scheduler}" if args.scheduler else "this computer"
    print(f"writing an OME-Zarr resolution pyramid tile by tile, computed on {where}",
          file=sys.stderr)
    t0 = time.perf_counter()
    apply_to_file(model, maps, photo, out, elements=elements, scale=model.scale,
                  negative=negative, scheduler=args.scheduler, provenance=provenance,
                  force=args.force)
    print(f"inference took {time.perf_counter() - t0:.1f} s", file=sys.stderr)


def write_pyramid(out: Path, maps, elements, scale: int, force: bool,
                  provenance: dict) -> None:
    """Write maps already in memory (a baseline's) as an OME-Zarr pyramid."""
    from ..io.omezarr import write_ome_zarr

    write_ome_zarr(out, maps, elements, scale=scale, role="sr_map",
                   provenance=provenance, force=force)
