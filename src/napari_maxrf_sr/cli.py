"""The ``maxrf-sr`` command line: the same core as the napari plugin, for scripts and batches.

Its options are used by scripts outside this repository: keep them stable.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from . import __version__
from .cli_pyramid import apply_to_pyramid, check_pyramid_output, pyramid_requested, write_pyramid
from .core.control import format_mmss

DESCRIPTION = """\
Super-resolve MA-XRF element maps with a high-resolution photograph of the same
painting. The maps come from a coarse scan (one scan pixel covers a block of
scale x scale photo pixels); the answer has one value per photo pixel and agrees
with the scan (every method except plain 'bicubic'): averaging it over each block
gives back the measured map.
"""

EPILOG = """\
examples:
  maxrf-sr demo                                   try it on a built-in synthetic painting
  maxrf-sr run --xrf maps.tif --rgb photo.png --scale 4 --out maps_sr.tif
  maxrf-sr run --xrf maps.tif --rgb photo.png --scale 4 --out sr.tif --max-seconds 300
  maxrf-sr run --xrf maps.tif --rgb photo.png --scale 4 --out sr.tif --resume
                                                  continue a run that was killed or crashed
  maxrf-sr run --xrf maps.tif --rgb photo.png --scale 4 --out bic.tif --method bicubic
  maxrf-sr apply --model painting.pt --xrf maps2.tif --rgb photo2.png --out sr2.tif
  maxrf-sr apply --model painting.pt --xrf maps.tif --rgb photo.tif --out sr.ome.zarr \
                 --scheduler tcp://scheduler:8786   a pyramid, tiles on a cluster
  maxrf-sr simulate --out my_test_case --elements 9

exit codes: 0 done, 1 failed (message on stderr), 2 bad command line, 130 interrupted.
"""


# -- progress on the terminal -------------------------------------------------------------
class ProgressBar:
    """A one-line progress bar on stderr (a new line every few seconds when not a terminal)."""

    def __init__(self, stream=None, width: int = 24) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last_line = 0.0

    def __call__(self, event) -> None:
        """Draw one training event."""
        frac = event.step / event.total if event.total else 1.0
        filled = int(round(self.width * min(max(frac, 0.0), 1.0)))
        bar = "#" * filled + "-" * (self.width - filled)
        loss = event.losses.get("total")
        loss_txt = f" loss {loss:.3g}" if loss is not None else ""
        line = (f"[{bar}] {100 * frac:3.0f}% {event.stage:<8} step {event.step}/{event.total}"
                f" elapsed {format_mmss(event.elapsed)} left {format_mmss(event.eta)}{loss_txt}")
        if event.message and event.stage in ("prepare", "finalise", "done"):
            line += f"  {event.message}"
        now = time.monotonic()
        if self.tty:
            self.stream.write("\r" + line.ljust(110))
            if event.stage == "done":
                self.stream.write("\n")
        elif now - self._last_line >= 5.0 or event.stage in ("prepare", "done", "finalise"):
            self.stream.write(line + "\n")
            self._last_line = now
        self.stream.flush()


# -- commands ---------------------------------------------------------------------------------
def _rpl_options(path: Path) -> dict:
    """Calibration and element list of a ``.rpl`` cube from its JSON sidecar (as in napari)."""
    from .io.maps import read_sidecar

    side = read_sidecar(path) or {}
    options = {k: side[k] for k in ("zero_ev", "ev_per_channel", "window_ev") if k in side}
    if side.get("elements"):
        options["elements"] = tuple(side["elements"])
    return options


def _read_inputs(args) -> tuple:
    from .io import read_element_maps, read_photo

    xrf = Path(args.xrf)
    options = _rpl_options(xrf) if xrf.suffix.lower() == ".rpl" else {}
    maps, elements, _meta = read_element_maps(xrf, **options)
    if getattr(args, "elements", None):
        elements = tuple(e.strip() for e in args.elements.split(","))
    photo, notes = read_photo(args.rgb)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    return maps, tuple(elements), photo


def _provenance(args, diagnostics: dict, maps_shape, elements) -> dict:
    import platform

    import numpy
    import torch

    return {
        "software": f"napari-maxrf-sr {__version__}",
        "command": " ".join(sys.argv),
        "inputs": {"xrf": str(getattr(args, "xrf", "")), "rgb": str(getattr(args, "rgb", ""))},
        "method": diagnostics.get("method"),
        "elements": list(elements),
        "output_shape": list(maps_shape),
        "seconds": diagnostics.get("seconds"),
        "device": diagnostics.get("device"),
        "config": diagnostics.get("config"),
        "versions": {"python": platform.python_version(), "numpy": numpy.__version__,
                     "torch": torch.__version__},
    }


def _check_output(path: Path, force: bool, *, tiff: bool = True, inputs=()) -> None:
    """Fail before any work when the output cannot be written."""
    from .io.atomic import check_writable_folder, refuse_overwrite

    if check_pyramid_output(path, force, inputs, pyramid=tiff):
        return
    refuse_overwrite([path], force)
    check_writable_folder(path.parent)
    if tiff and path.suffix.lower() not in (".tif", ".tiff"):
        raise ValueError(
            f"The maps are written as a multi-page TIFF (.tif) or an OME-Zarr resolution "
            f"pyramid (.ome.zarr, for large paintings): give --out such a name, not "
            f"{path.name!r} (e.g. {path.with_suffix('.tif').name!r})."
        )


def checkpoint_path(out: Path) -> Path:
    """Where ``run`` keeps the checkpoint of the run that writes ``out``."""
    return out.with_name(out.name + ".checkpoint.pt")


def _checkpoint_plan(args, out: Path):
    """The run's checkpoint plan (``None`` for baselines or ``--checkpoint-every 0``)."""
    from .core.checkpoint import CheckpointPlan

    if args.method != "adun" or (args.checkpoint_every <= 0 and not args.resume):
        if args.resume:
            raise ValueError("--resume only applies to the network (--method adun).")
        return None
    path = checkpoint_path(out)
    if args.resume and not path.is_file():
        raise FileNotFoundError(
            f"There is no checkpoint at {str(path)!r} to resume: it is written next to the "
            "output while a run trains and removed when the run finishes. Run the same "
            "command without --resume to start again."
        )
    if path.exists() and not args.resume and not args.force:
        raise FileExistsError(
            f"An interrupted run left a checkpoint at {str(path)!r}. Add --resume to the same "
            "command to continue it, or --force to start again and replace it."
        )
    every = args.checkpoint_every if args.checkpoint_every > 0 else float("inf")
    return CheckpointPlan(path, every_seconds=every, resume=args.resume)


def cmd_run(args) -> int:
    """``maxrf-sr run``: train on one painting and write the super-resolved maps."""
    from .api import super_resolve
    from .core.checkpoint import read_checkpoint_info, remove_checkpoint
    from .core.modelio import save_model
    from .io import write_element_stack

    out = Path(args.out)
    _check_output(out, args.force, inputs=(args.xrf, args.rgb))
    pyramid = pyramid_requested(out, args)
    if args.save_model:
        _check_output(Path(args.save_model), args.force, tiff=False,
                      inputs=(args.xrf, args.rgb))
    plan = _checkpoint_plan(args, out)
    if plan is not None and plan.resume:
        info = read_checkpoint_info(plan.path)
        print(f"resuming from {plan.path}: step {info['step']} of {info['planned_steps']}, "
              f"{format_mmss(info['elapsed'])} of training already done", file=sys.stderr)
    maps, elements, photo = _read_inputs(args)
    print(f"read {maps.shape[0]} maps of {maps.shape[1]} x {maps.shape[2]} px "
          f"({', '.join(elements)}) and a {photo.shape[0]} x {photo.shape[1]} photo",
          file=sys.stderr)
    bar = None if args.quiet else ProgressBar()
    negative = "clip" if args.clip_negative else "error"
    to_disk = args.method == "adun" and (pyramid or _too_big_for_memory(maps, photo))
    try:
        result = super_resolve(
            maps, photo, args.scale, args.method, elements=elements, preset=args.preset,
            seed=args.seed, max_seconds=args.max_seconds, device=args.device,
            negative=negative, callback=bar, checkpoint=plan, infer=not to_disk,
        )
    except BaseException:
        if plan is not None and plan.path.is_file():
            print(f"\nthe run's last checkpoint is {plan.path}: add --resume to the same "
                  "command to continue from there", file=sys.stderr)
        raise
    diag = result.diagnostics
    shape = (maps.shape[0], *photo.shape[:2])
    provenance = _provenance(args, diag, shape, elements)
    if to_disk and pyramid:
        apply_to_pyramid(diag["model"], maps, photo, out, elements, args, provenance,
                          negative)
    elif to_disk:
        _apply_to_disk(diag["model"], maps, photo, out, elements, args, provenance, negative,
                       device="auto")
    elif pyramid:
        write_pyramid(out, result.maps, elements, args, provenance)
    else:
        write_element_stack(out, result.maps, elements, scale=args.scale, role="sr_map",
                            provenance=provenance, force=args.force)
    if args.save_model:
        if "model" not in diag:
            print("note: --save-model ignored: only the network has a model to save",
                  file=sys.stderr)
        else:
            save_model(diag["model"], args.save_model, force=args.force)
            print(f"model written to {args.save_model}", file=sys.stderr)
    if plan is not None:
        remove_checkpoint(plan.path)  # the outputs are written: nothing left to resume
    for note in diag.get("notes", ()):
        print(f"note: {note}", file=sys.stderr)
    print(f"{diag['method']} on {diag['device']} took {diag['seconds']:.1f} s", file=sys.stderr)
    print(str(out.resolve()))
    return 0


def _too_big_for_memory(maps, photo) -> bool:
    from .io import large

    return large.result_nbytes(maps.shape[0], *photo.shape[:2]) > large.IN_MEMORY_LIMIT


def _apply_to_disk(model, maps, photo, out: Path, elements, args, provenance: dict,
                   negative: str = "error", device: str = "cpu") -> None:
    """Write a result bigger than memory straight into the output file, band by band."""
    from .core.inference import apply_model
    from .io.large import element_stack_on_disk, result_nbytes

    shape = (maps.shape[0], *photo.shape[:2])
    print(f"the result ({result_nbytes(*shape) / 2**30:.1f} GiB) is written to the output "
          "file band by band instead of being held in memory", file=sys.stderr)
    # Maps given in another order than the model's come out in the model's order.
    names = list(model.elements) if sorted(elements) == sorted(model.elements) else elements
    t0 = time.perf_counter()
    with element_stack_on_disk(out, shape, names, scale=getattr(args, "scale", None)
                               or model.scale, role="sr_map", provenance=provenance,
                               force=args.force) as mm:
        apply_model(model, maps, photo, scale=model.scale, device=args.device or device,
                    negative=negative, elements=elements, out=mm)
    print(f"inference took {time.perf_counter() - t0:.1f} s", file=sys.stderr)


def cmd_apply(args) -> int:
    """``maxrf-sr apply``: apply a saved model to (new) maps and photo."""
    from .core.inference import apply_model
    from .core.modelio import load_model
    from .io import write_element_stack

    out = Path(args.out)
    _check_output(out, args.force, inputs=(args.xrf, args.rgb, args.model))
    pyramid = pyramid_requested(out, args)
    model = load_model(args.model)
    maps, elements, photo = _read_inputs(args)
    provenance = {"software": f"napari-maxrf-sr {__version__}", "model": str(args.model),
                  "command": " ".join(sys.argv)}
    if pyramid:
        apply_to_pyramid(model, maps, photo, out, elements, args, provenance)
        print(str(out.resolve()))
        return 0
    if _too_big_for_memory(maps, photo):
        _apply_to_disk(model, maps, photo, out, elements, args, provenance)
        print(str(out.resolve()))
        return 0
    sr = apply_model(model, maps, photo, device=args.device or "cpu", elements=elements)
    write_element_stack(out, sr, elements, scale=model.scale, role="sr_map",
                        provenance=provenance, force=args.force)
    print(str(out.resolve()))
    return 0


def _fresh_folder(base: Path) -> Path:
    """``base``, or ``base-2``, ``base-3`` ... whichever does not exist yet (never overwrite)."""
    candidate, k = base, 1
    while candidate.exists():
        k += 1
        candidate = base.with_name(f"{base.name}-{k}")
    return candidate


def cmd_simulate(args) -> int:
    """``maxrf-sr simulate``: write a synthetic test painting with known truth."""
    from .io import read_photo
    from .simulate import make_synthetic_painting, write_synthetic_painting

    photo = None
    if args.photo:
        photo, _ = read_photo(args.photo)
    painting = make_synthetic_painting(
        photo, size=(args.size, args.size), scale=args.scale, n_elements=args.elements,
        seed=args.seed,
    )
    files = write_synthetic_painting(painting, args.out, force=args.force)
    for name, path in files.items():
        print(f"{name}: {path}", file=sys.stderr)
    print(str(Path(args.out).resolve()))
    return 0


def cmd_demo(args) -> int:
    """``maxrf-sr demo``: simulate a small painting, super-resolve it, report the gain."""
    import numpy as np

    from .api import super_resolve
    from .baselines import METHODS
    from .io import write_element_stack
    from .simulate import make_synthetic_painting, write_synthetic_painting

    folder = _fresh_folder(Path(args.out))
    painting = make_synthetic_painting(size=(128, 128), scale=4, n_elements=5, seed=args.seed)
    write_synthetic_painting(painting, folder)
    print(f"synthetic painting written to {folder}", file=sys.stderr)
    result = super_resolve(painting.lr_maps, painting.rgb, painting.scale,
                           elements=painting.elements, preset="fast", seed=args.seed,
                           max_seconds=args.max_seconds, device=args.device,
                           callback=None if args.quiet else ProgressBar())
    out = folder / "maps_sr.tif"
    write_element_stack(out, result.maps, painting.elements, scale=painting.scale, role="sr_map",
                        provenance={"software": f"napari-maxrf-sr {__version__}",
                                    "command": "maxrf-sr demo"})
    rgb01 = painting.rgb.astype(np.float32) / 255.0
    bic = METHODS["bicubic"](painting.lr_maps, rgb01, painting.scale)
    peaks = painting.hr_maps.reshape(len(painting.elements), -1).max(1)[:, None, None]

    def psnr(x):
        return float(20 * np.log10(1 / np.sqrt(np.mean(((x - painting.hr_maps) / peaks) ** 2))))

    summary = {"network_psnr_db": round(psnr(result.maps), 2),
               "bicubic_psnr_db": round(psnr(bic), 2),
               "seconds": round(result.diagnostics["seconds"], 1),
               "device": result.diagnostics["device"]}
    (folder / "demo_summary.json").write_text(json.dumps(summary, indent=2))
    print(f"PSNR against the known truth: network {summary['network_psnr_db']} dB, "
          f"bicubic {summary['bicubic_psnr_db']} dB", file=sys.stderr)
    print(f"super-resolved maps written to {out.resolve()}")
    return 0


def cmd_methods(args) -> int:
    """``maxrf-sr methods``: list the methods."""
    from .api import available_methods
    from .baselines import BASELINE_HELP

    print("adun: the adversarial deep-unfolding network (trained on this painting)")
    for name in available_methods()[1:]:
        print(f"{name}: {BASELINE_HELP.get(name, '')}")
    return 0


# -- parser -----------------------------------------------------------------------------------
def _whole_number(text: str) -> int:
    """Argparse type of ``--scale``: a whole number of photo pixels per scan pixel."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value.is_integer() or value < 1:
        raise argparse.ArgumentTypeError(
            f"the scale must be a whole number such as 2, 4 or 8, got {text}. Resample the "
            "photo so that it is exactly that many times the maps' size, or leave --scale "
            "out to detect it"
        )
    return int(value)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for the docs and tests)."""
    p = argparse.ArgumentParser(
        prog="maxrf-sr", description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"napari-maxrf-sr {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def common_io(sp, out_help: str) -> None:
        sp.add_argument("--xrf", required=True, metavar="MAPS",
                        help="element maps: multi-page TIFF (one page per element), a folder "
                             "of per-element images (Pb-L.tif ...), .npy/.npz or .h5")
        sp.add_argument("--rgb", required=True, metavar="PHOTO",
                        help="photo of the same painting (PNG, JPEG or TIFF, 8 or 16 bit), "
                             "already aligned so it is exactly SCALE times the maps' size")
        sp.add_argument("--out", required=True, metavar="OUT.tif", help=out_help)
        sp.add_argument("--elements", metavar="NAMES",
                        help="comma-separated element names, when the maps file has none "
                             "(e.g. 'Pb L,Hg L,Fe K')")
        sp.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default=None,
                        help="where to compute (default: a GPU when there is one)")
        sp.add_argument("--force", action="store_true",
                        help="overwrite output files that already exist")
        sp.add_argument("--scheduler", metavar="tcp://HOST:PORT", default=None,
                        help="compute the maps on a dask.distributed cluster whose "
                             "scheduler is at this address (needs --out NAME.ome.zarr on "
                             "a folder every worker sees; see docs/cluster.md)")

    r = sub.add_parser("run", help="super-resolve element maps with a photo",
                       description=DESCRIPTION, epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    common_io(r, "where to write the super-resolved maps, in the input's units: NAME.tif "
                 "(multi-page float32 TIFF, one page per element) or NAME.ome.zarr (an "
                 "OME-Zarr resolution pyramid, best for large paintings)")
    r.add_argument("--scale", type=_whole_number, default=None,
                   help="photo pixels per scan pixel along each side (2, 3, 4, 8 ...); "
                        "detected from the sizes when left out")
    r.add_argument("--method", default="adun",
                   help="'adun' (the network, default) or a baseline: bicubic, "
                        "bicubic_projected, guided, ssr, ssrcu, cnmf (see: maxrf-sr methods)")
    r.add_argument("--preset", default="default", choices=("default", "fast", "paper"),
                   help="'default': one to two minutes on a 2-core CPU; "
                        "'fast': a quick look; "
                        "'paper': the paper's 2.1 million steps (days on a CPU)")
    r.add_argument("--seed", type=int, default=None,
                   help="random seed: the same seed, data and settings give the same maps")
    r.add_argument("--max-seconds", type=float, default=None, metavar="S",
                   help="time budget for training in seconds (the result is kept when it "
                        "runs out)")
    r.add_argument("--save-model", metavar="MODEL.pt",
                   help="also save the trained network, to apply it again with 'apply'")
    r.add_argument("--clip-negative", action="store_true",
                   help="set negative values in the maps (e.g. from background "
                        "subtraction) to zero instead of stopping with an error")
    r.add_argument("--checkpoint-every", type=float, default=120.0, metavar="S",
                   help="save the training state every S seconds next to the output "
                        "(OUT.tif.checkpoint.pt, removed when the run finishes), so a crashed "
                        "or killed run can be resumed; 0 for none (default: %(default)s)")
    r.add_argument("--resume", action="store_true",
                   help="continue the interrupted run of the same command from its "
                        "checkpoint (same maps, photo and settings)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.set_defaults(func=cmd_run)

    a = sub.add_parser("apply", help="apply a saved network to maps and a photo")
    common_io(a, "where to write the super-resolved maps")
    a.add_argument("--model", required=True, help="a model saved by 'run --save-model'")
    a.set_defaults(func=cmd_apply)

    s = sub.add_parser("simulate", help="write a synthetic painting with known truth")
    s.add_argument("--out", required=True, help="folder to write into")
    s.add_argument("--photo", help="photo to build the painting from (default: built in)")
    s.add_argument("--size", type=int, default=256,
                   help="photo size in pixels, square (default: %(default)s)")
    s.add_argument("--scale", type=int, default=4,
                   help="photo pixels per scan pixel (default: %(default)s)")
    s.add_argument("--elements", type=int, default=9,
                   help="number of element maps (default: %(default)s)")
    s.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    s.add_argument("--force", action="store_true", help="overwrite existing files")
    s.set_defaults(func=cmd_simulate)

    d = sub.add_parser("demo", help="a first run on a built-in synthetic painting")
    d.add_argument("--out", default="maxrf-sr-demo",
                   help="folder for the demo (a new one is made if it exists)")
    d.add_argument("--seed", type=int, default=0, help="random seed")
    d.add_argument("--max-seconds", type=float, default=None, help="time budget")
    d.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default=None)
    d.add_argument("--quiet", action="store_true", help="no progress bar")
    d.set_defaults(func=cmd_demo)

    m = sub.add_parser("methods", help="list the available methods")
    m.set_defaults(func=cmd_methods)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``maxrf-sr``; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    from .core.validation import InputError

    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("\ninterrupted: nothing was written", file=sys.stderr)
        return 130
    except (InputError, FileExistsError, FileNotFoundError, PermissionError, ValueError,
            RuntimeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
