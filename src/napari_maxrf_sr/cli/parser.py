"""The options of ``maxrf-sr``: every value is checked here, and messages name the option.

Its options are used by scripts outside this repository: keep them stable.
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

from .. import __version__
from ..method_names import NETWORK, canonical_method
from . import align, commands, runs

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
  maxrf-sr run --xrf maps.tif --rgb camera.jpg --out maps_sr.tif
                                                  a camera photo: registered automatically
  maxrf-sr align --xrf maps.tif --rgb camera.jpg --out aligned.png
                                                  the photo on the maps' grid, + aligned.json
  maxrf-sr run --xrf maps.tif --rgb photo.png --scale 4 --out sr.tif --max-seconds 300
  maxrf-sr run --xrf maps.tif --rgb photo.png --scale 4 --out sr.tif --resume
                                                  continue a run that was killed or crashed
  maxrf-sr run --xrf maps.tif --rgb photo.png --scale 4 --out sr.tif --set calibration_radius=2
                                                  change one of the network's settings
  maxrf-sr run --xrf maps.tif --rgb photo.png --scale 4 --out bic.tif --method bicubic
  maxrf-sr apply --model painting.pt --xrf maps2.tif --rgb photo2.png --out sr2.tif
  maxrf-sr apply --model painting.pt --xrf maps.tif --rgb photo.tif --out sr.ome.zarr \\
                 --scheduler tcp://scheduler:8786
                                                  a pyramid, its tiles computed on a cluster
  maxrf-sr simulate --out my_test_case --elements 9

exit codes: 0 done, 1 failed (message on stderr), 2 bad command line, 130 interrupted
(Ctrl-C), 143 stopped by a termination signal (kill, timeout, a batch scheduler).
"""

#: Largest seed (torch's and NumPy's generators take 64-bit seeds).
MAX_SEED = 2**63 - 1
#: Largest side of a simulated painting (its memory grows with the square).
MAX_SIMULATE_SIZE = 8192


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("nan")


def whole_number(low: int, high: int | None = None, what: str = "a whole number"):
    """An argparse type: a whole number in ``[low, high]``, with a message that says so."""

    def parse(text: str) -> int:
        value = _number(text)
        if not math.isfinite(value) or not value.is_integer() or value < low or (
                high is not None and value > high):
            span = f"from {low} to {high}" if high is not None else f"of at least {low}"
            raise argparse.ArgumentTypeError(f"{what} {span} is needed, got {text!r}")
        return int(value)

    return parse


def seconds(low: float, *, above: bool = False):
    """An argparse type: a finite number of seconds, at least (or above) ``low``."""

    def parse(text: str) -> float:
        value = _number(text)
        if not math.isfinite(value) or value < low or (above and value == low):
            relation = "above" if above else "at least"
            raise argparse.ArgumentTypeError(
                f"a number of seconds {relation} {low:g} is needed, got {text!r}")
        return value

    return parse


def read_setting(text: str) -> tuple[str, Any]:
    """``"NAME=VALUE"`` -> ``(name, value)``, as the command line and benchmarks write them.

    The value is read as JSON (``1``, ``0.5``, ``true``); anything else is text (a choice
    such as ``pixels``). Names and values are not checked here (:meth:`SRConfig.from_dict`).

    Raises
    ------
    ValueError
        When there is no ``=`` or no name.
    """
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise ValueError(
            f"a setting is written NAME=VALUE, such as calibration_radius=1, got {text!r}")
    try:
        return name, json.loads(raw)
    except json.JSONDecodeError:
        return name, raw.strip()


def setting(text: str) -> tuple[str, object]:
    """Argparse type of ``--set``: ``NAME=VALUE``, one network setting, checked at once.

    Read by :func:`read_setting` (JSON, else text).
    """
    from ..core.config import SRConfig

    try:
        name, value = read_setting(text)
        SRConfig.from_dict({name: value})
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return name, value


def scale_type(text: str) -> int:
    """Argparse type of ``--scale``: a whole number of photo pixels per scan pixel."""
    value = _number(text)
    if not math.isfinite(value) or not value.is_integer() or value < 1:
        raise argparse.ArgumentTypeError(
            f"the scale must be a whole number such as 2, 4 or 8, got {text}. Resample the "
            "photo so that it is exactly that many times the maps' size, or leave --scale "
            "out to detect it"
        )
    return int(value)


def _common_io(sp, out_help: str, out_metavar: str = "OUT.tif", compute: bool = True) -> None:
    """The input and output options; ``compute``: also --device and --scheduler."""
    sp.add_argument("--xrf", required=True, metavar="MAPS",
                    help="element maps: multi-page TIFF (one page per element), a folder "
                         "of per-element images (Pb-L.tif ...), .npy/.npz, .h5, a .rpl "
                         "spectral cube, PyMca .edf/.h5, .dms, a maxrf4u .datastack or an "
                         "OME-Zarr")
    sp.add_argument("--rgb", required=True, metavar="PHOTO",
                    help="photo of the same painting (PNG, JPEG or TIFF, 8 or 16 bit): a "
                         "camera photo of any size, with a margin and a slight turn, is "
                         "registered to the maps automatically")
    sp.add_argument("--out", required=True, metavar=out_metavar, help=out_help)
    sp.add_argument("--elements", metavar="NAMES",
                    help="comma-separated element names, when the maps file has none "
                         "(e.g. 'Pb L,Hg L,Fe K')")
    sp.add_argument("--dataset", metavar="NAME",
                    help="HDF5 only: the dataset that holds the maps, when the file has "
                         "several")
    sp.add_argument("--force", action="store_true",
                    help="overwrite output files that already exist (never an input)")
    if not compute:
        return
    sp.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default=None,
                    help="where to compute (default: a GPU when there is one)")
    sp.add_argument("--scheduler", metavar="tcp://HOST:PORT", default=None,
                    help="compute the maps on a dask.distributed cluster whose scheduler "
                         "is at this address (needs --out NAME.ome.zarr on a folder every "
                         "worker sees; see docs/cluster.md)")


def _run_parser(sub) -> None:
    r = sub.add_parser("run", help="super-resolve element maps with a photo",
                       description=DESCRIPTION, epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    _common_io(r, "where to write the super-resolved maps, in the input's units: NAME.tif "
                  "(multi-page float32 TIFF, one page per element) or NAME.ome.zarr (an "
                  "OME-Zarr resolution pyramid, best for large paintings)")
    r.add_argument("--scale", type=scale_type, default=None,
                   help="photo pixels per scan pixel along each side (2, 3, 4, 8 ...); "
                        "detected from the sizes when left out")
    r.add_argument("--method", default=NETWORK, type=canonical_method,
                   help="'network' (trained on this painting, the default; 'adun' is "
                        "accepted too) or a baseline: bicubic, "
                        "bicubic_projected, guided, ssr, ssrcu, cnmf (see: maxrf-sr methods)")
    r.add_argument("--preset", default="default", choices=("default", "fast", "paper"),
                   help="'default': one to two minutes on a 2-core CPU; "
                        "'fast': a quick look; "
                        "'paper': the paper's 2.1 million steps (days on a CPU)")
    r.add_argument("--seed", type=whole_number(0, MAX_SEED, "a seed: a whole number"),
                   default=None,
                   help="random seed: the same seed, data and settings give the same maps")
    r.add_argument("--set", type=setting, action="append", default=[], metavar="NAME=VALUE",
                   dest="settings",
                   help="change one of the network's settings from the preset's, e.g. "
                        "--set calibration_radius=2; repeat for more ('maxrf-sr settings' "
                        "lists them)")
    r.add_argument("--max-seconds", type=seconds(0.0, above=True), default=None, metavar="S",
                   help="time budget for training in seconds (the result is kept when it "
                        "runs out)")
    r.add_argument("--save-model", metavar="MODEL.pt",
                   help="also save the trained network, to apply it again with 'apply'")
    r.add_argument("--clip-negative", action="store_true",
                   help="set negative values in the maps (e.g. from background "
                        "subtraction) to zero instead of stopping with an error")
    r.add_argument("--checkpoint-every", type=seconds(0.0), default=120.0, metavar="S",
                   help="save the training state every S seconds next to the output "
                        "(OUT.tif.checkpoint.pt, removed when the run finishes), so a crashed "
                        "or killed run can be resumed; 0 for none (default: %(default)s)")
    r.add_argument("--resume", action="store_true",
                   help="continue the interrupted run of the same command from its "
                        "checkpoint (same maps, photo and settings)")
    r.add_argument("--no-align", action="store_true",
                   help="use the photo as it is: it must be exactly SCALE times the maps' "
                        "size, and it is neither checked nor registered")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.set_defaults(func=runs.cmd_run)


def _align_parser(sub) -> None:
    a = sub.add_parser("align", help="register a camera photo onto the maps' grid")
    _common_io(a, "where to write the aligned photo (NAME.png, or NAME.tif); the transform "
                  "and its quality go to NAME.json next to it", out_metavar="ALIGNED.png",
               compute=False)  # registration runs on the CPU, in this process
    a.add_argument("--scale", type=scale_type, default=None,
                   help="photo pixels per scan pixel of the aligned photo (default: the "
                        "largest whole number the photo's resolution supports)")
    a.add_argument("--transform", default="similarity",
                   choices=("similarity", "affine", "homography"),
                   help="'similarity' (a photo taken square-on, default), 'affine', or "
                        "'homography' (a photo taken at a slant)")
    a.set_defaults(func=align.cmd_align)


def _other_parsers(sub) -> None:
    a = sub.add_parser("apply", help="apply a saved network to maps and a photo")
    _common_io(a, "where to write the super-resolved maps")
    a.add_argument("--model", required=True, help="a model saved by 'run --save-model'")
    a.add_argument("--set", type=setting, action="append", default=[], metavar="NAME=VALUE",
                   dest="settings",
                   help="apply the model with another value of a setting that acts after "
                        "training (calibration_radius, tile_pixels), e.g. "
                        "--set calibration_radius=1")
    a.set_defaults(func=runs.cmd_apply)

    _align_parser(sub)

    s = sub.add_parser("simulate", help="write a synthetic painting with known truth")
    s.add_argument("--out", required=True, help="folder to write into")
    s.add_argument("--photo", help="photo to build the painting from (default: built in)")
    s.add_argument("--size", type=whole_number(16, MAX_SIMULATE_SIZE, "a size in pixels"),
                   default=256, help="photo size in pixels, square, 16 to "
                                     f"{MAX_SIMULATE_SIZE} (default: %(default)s)")
    s.add_argument("--scale", type=scale_type, default=4,
                   help="photo pixels per scan pixel (default: %(default)s)")
    s.add_argument("--elements", type=whole_number(1, None, "a number of elements"), default=9,
                   help="number of element maps (default: %(default)s)")
    s.add_argument("--seed", type=whole_number(0, MAX_SEED, "a seed: a whole number"),
                   default=0, help="random seed (default: 0)")
    s.add_argument("--force", action="store_true", help="overwrite existing files")
    s.set_defaults(func=commands.cmd_simulate)

    d = sub.add_parser("demo", help="a first run on a built-in synthetic painting")
    d.add_argument("--out", default="maxrf-sr-demo",
                   help="folder for the demo (a new one is made if it exists)")
    d.add_argument("--seed", type=whole_number(0, MAX_SEED, "a seed: a whole number"),
                   default=0, help="random seed")
    d.add_argument("--max-seconds", type=seconds(0.0, above=True), default=None,
                   help="time budget")
    d.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default=None)
    d.add_argument("--preset", choices=("fast", "default"), default="fast",
                   help="'fast': a quick check of the installation (seconds); 'default': "
                        "a full run, as on your own paintings (minutes on a CPU) "
                        "(default: %(default)s)")
    d.add_argument("--quiet", action="store_true", help="no progress bar")
    d.set_defaults(func=commands.cmd_demo)

    m = sub.add_parser("methods", help="list the available methods")
    m.set_defaults(func=commands.cmd_methods)

    t = sub.add_parser("settings", help="list the network's settings (for run --set)")
    t.add_argument("--preset", default="default", choices=("default", "fast", "paper"),
                   help="show this preset's values (default: %(default)s)")
    t.set_defaults(func=commands.cmd_settings)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for the docs and tests)."""
    p = argparse.ArgumentParser(
        prog="maxrf-sr", description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"napari-maxrf-sr {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    _run_parser(sub)
    _other_parsers(sub)
    return p
