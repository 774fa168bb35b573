"""``maxrf-sr run/apply`` into an OME-Zarr pyramid: the options and the call.

Kept apart from :mod:`napari_maxrf_sr.cli` (which imports it) to keep that module small.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


def pyramid_requested(out: Path, args) -> bool:
    """Whether ``out`` asks for an OME-Zarr pyramid; ``--scheduler`` needs one."""
    from .io.omezarr import is_ome_zarr_name

    pyramid = is_ome_zarr_name(out)
    if getattr(args, "scheduler", None):
        if not pyramid:
            raise ValueError(
                "--scheduler writes a resolution pyramid: give --out a .ome.zarr name "
                f"(e.g. {out.with_suffix('').name + '.ome.zarr'!r}), not {out.name!r}."
            )
        if getattr(args, "method", "adun") != "adun":
            raise ValueError("--scheduler applies to the network (--method adun) only.")
    return pyramid


def apply_to_pyramid(model, maps, photo, out: Path, elements, args, provenance: dict,
                      negative: str = "error") -> None:
    """Apply the model tile by tile into an OME-Zarr pyramid (here, or on a cluster)."""
    from .outputs import apply_to_file

    where = f"the dask cluster at {args.scheduler}" if args.scheduler else "this computer"
    print(f"writing an OME-Zarr resolution pyramid tile by tile, computed on {where}",
          file=sys.stderr)
    t0 = time.perf_counter()
    apply_to_file(model, maps, photo, out, elements=elements, scale=model.scale,
                  negative=negative, scheduler=args.scheduler, provenance=provenance,
                  force=args.force)
    print(f"inference took {time.perf_counter() - t0:.1f} s", file=sys.stderr)


def check_pyramid_output(path: Path, force: bool, inputs=(), *, pyramid: bool = True) -> bool:
    """Refuse an output that names an input; check an OME-Zarr output (``True`` if one).

    ``--force`` must never replace the data a run reads, and replaces an existing
    OME-Zarr, never a folder of anything else.
    """
    from .io.atomic import check_writable_folder
    from .io.omezarr import check_replaceable, is_ome_zarr_name

    for given in inputs:
        if given and Path(given).exists() and Path(given).resolve() == path.resolve():
            raise ValueError(f"--out {str(path)!r} is one of the inputs: give another name.")
    if not (pyramid and is_ome_zarr_name(path)):
        return False
    check_replaceable(path, force)
    check_writable_folder(path.parent)
    return True


def write_pyramid(out: Path, maps, elements, args, provenance: dict) -> None:
    """Write maps already in memory (a baseline's) as an OME-Zarr pyramid."""
    from .io.omezarr import write_ome_zarr

    write_ome_zarr(out, maps, elements, scale=args.scale, role="sr_map",
                   provenance=provenance, force=args.force)
