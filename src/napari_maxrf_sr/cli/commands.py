"""``maxrf-sr simulate``, ``demo`` and ``methods``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .progress import ProgressBar


def _fresh_folder(base: Path) -> Path:
    """``base``, or ``base-2``, ``base-3`` ... whichever does not exist yet (never overwrite)."""
    candidate, k = base, 1
    while candidate.exists():
        k += 1
        candidate = base.with_name(f"{base.name}-{k}")
    return candidate


def cmd_simulate(args) -> int:
    """``maxrf-sr simulate``: write a synthetic test painting with known truth."""
    from ..io import read_photo
    from ..io.paths import refuse_same_files
    from ..simulate import make_synthetic_painting, write_synthetic_painting
    from ..simulate.writer import FILE_NAMES

    out = Path(args.out)
    refuse_same_files({f"--out ({name})": out / name for name in FILE_NAMES.values()},
                      {"--photo": None if args.photo is None else Path(args.photo)})
    photo = None
    if args.photo:
        photo, _ = read_photo(args.photo)
    painting = make_synthetic_painting(
        photo, size=(args.size, args.size), scale=args.scale, n_elements=args.elements,
        seed=args.seed,
    )
    files = write_synthetic_painting(painting, out, force=args.force)
    for name, path in files.items():
        print(f"{name}: {path}", file=sys.stderr)
    print(str(out.resolve()))
    return 0


def cmd_demo(args) -> int:
    """``maxrf-sr demo``: simulate a small painting, super-resolve it, report the gain."""
    import numpy as np

    from ..api import super_resolve
    from ..baselines import METHODS
    from ..io import write_element_stack
    from ..provenance import build_provenance, command_line
    from ..simulate import make_synthetic_painting, write_synthetic_painting

    folder = _fresh_folder(Path(args.out))
    painting = make_synthetic_painting(size=(128, 128), scale=4, n_elements=5, seed=args.seed)
    write_synthetic_painting(painting, folder)
    print(f"synthetic painting written to {folder}", file=sys.stderr)
    result = super_resolve(painting.lr_maps, painting.rgb, painting.scale,
                           elements=painting.elements, preset="fast", seed=args.seed,
                           max_seconds=args.max_seconds, device=args.device,
                           callback=None if args.quiet else ProgressBar())
    diag = result.diagnostics
    out = folder / "maps_sr.tif"
    record = build_provenance(
        made_by="maxrf-sr demo", command=command_line(), method=diag["method"],
        elements=painting.elements, scale=painting.scale, settings=diag.get("config"),
        output_shape=result.maps.shape, device=diag["device"], seconds=diag["seconds"],
        history=diag.get("history", ()), notes=diag.get("notes", ()),
        extra={"inputs": {"synthetic painting": {"seed": args.seed, "folder": str(folder)}}})
    write_element_stack(out, result.maps, painting.elements, scale=painting.scale,
                        role="sr_map", provenance=record)
    rgb01 = painting.rgb.astype(np.float32) / 255.0
    bic = METHODS["bicubic"](painting.lr_maps, rgb01, painting.scale)
    peaks = painting.hr_maps.reshape(len(painting.elements), -1).max(1)[:, None, None]

    def psnr(x):
        return float(20 * np.log10(1 / np.sqrt(np.mean(((x - painting.hr_maps) / peaks) ** 2))))

    summary = {"network_psnr_db": round(psnr(result.maps), 2),
               "bicubic_psnr_db": round(psnr(bic), 2),
               "seconds": round(diag["seconds"], 1), "device": diag["device"]}
    (folder / "demo_summary.json").write_text(json.dumps(summary, indent=2))
    print(f"PSNR against the known truth: network {summary['network_psnr_db']} dB, "
          f"bicubic {summary['bicubic_psnr_db']} dB", file=sys.stderr)
    print(f"super-resolved maps written to {out.resolve()}")
    return 0


def cmd_methods(args) -> int:
    """``maxrf-sr methods``: list the methods."""
    from ..api import available_methods
    from ..baselines import BASELINE_HELP

    print("adun: the adversarial deep-unfolding network (trained on this painting)")
    for name in available_methods()[1:]:
        print(f"{name}: {BASELINE_HELP.get(name, '')}")
    return 0


def cmd_settings(args) -> int:
    """``maxrf-sr settings``: the network's settings, for ``run --set NAME=VALUE``."""
    import textwrap

    from ..core.config import FIELD_HELP, config_from_preset

    config = config_from_preset(args.preset).to_dict()
    for name, text in FIELD_HELP.items():
        print(f"{name} = {json.dumps(config[name])}")
        print(textwrap.fill(text, width=88, initial_indent="    ", subsequent_indent="    "))
    return 0
