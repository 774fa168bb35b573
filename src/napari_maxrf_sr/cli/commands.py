"""``maxrf-sr simulate``, ``demo`` and ``methods``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..method_names import NETWORK
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
    from ..atomic import FORCE_CLI, refuse_overwrite
    from ..io import read_photo
    from ..io.paths import refuse_same_files
    from ..simulate import make_synthetic_painting, write_synthetic_painting
    from ..simulate.writer import FILE_NAMES

    out = Path(args.out)
    refuse_same_files({f"--out ({name})": out / name for name in FILE_NAMES.values()},
                      {"--photo": None if args.photo is None else Path(args.photo)})
    if out.is_dir():  # before the painting is made, in the command line's words
        refuse_overwrite([out / name for name in FILE_NAMES.values()], args.force, FORCE_CLI)
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


#: The demo's painting: small, so that the quick run takes seconds.
DEMO_SIZE, DEMO_SCALE, DEMO_MAPS = 128, 4, 5


def cmd_demo(args) -> int:
    """``maxrf-sr demo``: simulate a small painting, super-resolve it, report the gain.

    The gain is measured as the panel measures it: PSNR per map against the known truth,
    averaged over the maps (:mod:`napari_maxrf_sr.metrics`).
    """
    from ..api import super_resolve
    from ..io import write_element_stack
    from ..metrics import compare_with_bicubic
    from ..provenance import build_provenance, command_line
    from ..simulate import make_synthetic_painting, write_synthetic_painting

    folder = _fresh_folder(Path(args.out))
    painting = make_synthetic_painting(size=(DEMO_SIZE, DEMO_SIZE), scale=DEMO_SCALE,
                                       n_elements=DEMO_MAPS, seed=args.seed)
    write_synthetic_painting(painting, folder)
    print(f"synthetic painting written to {folder}", file=sys.stderr)
    result = super_resolve(painting.lr_maps, painting.rgb, painting.scale,
                           elements=painting.elements, preset=args.preset, seed=args.seed,
                           max_seconds=args.max_seconds, device=args.device,
                           callback=None if args.quiet else ProgressBar())
    diag = result.diagnostics
    out = folder / "maps_sr.tif"
    record = build_provenance(
        made_by="maxrf-sr demo", command=command_line(), method=diag["method"],
        elements=painting.elements, scale=painting.scale, settings=diag.get("config"),
        output_shape=result.maps.shape, device=diag["device"], seconds=diag["seconds"],
        history=diag.get("history", ()), notes=diag.get("notes", ()),
        started=diag["provenance"]["started"], finished=diag["provenance"]["finished"],
        extra={"inputs": {"synthetic painting": {"seed": args.seed,
                                                 "folder": str(folder.resolve())}}})
    write_element_stack(out, result.maps, painting.elements, scale=painting.scale,
                        role="sr_map", provenance=record)
    rows = compare_with_bicubic(result.maps, painting.lr_maps, painting.hr_maps,
                                painting.scale, painting.elements)
    summary = _demo_summary(args.preset, rows, diag)
    (folder / "demo_summary.json").write_text(json.dumps(summary, indent=2))
    for line in _demo_report(summary):
        print(line, file=sys.stderr)
    print(f"super-resolved maps written to {out.resolve()}")
    return 0


def _demo_summary(preset: str, rows, diag: dict) -> dict:
    """What the demo ran and measured (written to ``demo_summary.json``)."""
    import numpy as np

    from ..core.config import config_from_preset
    from ..metrics import mean_gain_db

    def mean(values) -> float:
        finite = [v for v in values if np.isfinite(v)]
        return round(float(np.mean(finite)), 2) if finite else float("nan")

    return {"preset": preset, "steps": config_from_preset(preset).stage1_steps,
            "size_px": DEMO_SIZE, "maps": DEMO_MAPS, "scale": DEMO_SCALE,
            "network_psnr_db": mean(r.network.psnr for r in rows),
            "bicubic_psnr_db": mean(r.bicubic.psnr for r in rows),
            "gain_db": round(mean_gain_db(rows), 2),
            "psnr": "per map against the known truth, averaged over the maps",
            "seconds": round(diag["seconds"], 1), "device": diag["device"]}


def _demo_report(summary: dict) -> list[str]:
    """The demo's closing lines: what it ran, what it measured, what a full run is."""
    quick = summary["preset"] == "fast"
    lines = [
        f"{'Quick run' if quick else 'Full run'}: the '{summary['preset']}' preset "
        f"({summary['steps']:,} training steps) on a {summary['size_px']} x "
        f"{summary['size_px']} px synthetic painting, {summary['maps']} maps, "
        f"{summary['scale']}x, {summary['seconds']:.0f} s on {summary['device']}.",
        f"Mean PSNR per map against the known truth: network "
        f"{summary['network_psnr_db']:.2f} dB, bicubic interpolation "
        f"{summary['bicubic_psnr_db']:.2f} dB ({summary['gain_db']:+.2f} dB).",
    ]
    if quick:
        lines.append("This quick run checks the installation; it is not the method's "
                     "quality. For a full run, as on your own paintings (minutes on a "
                     "CPU): maxrf-sr demo --preset default")
    return lines


def cmd_methods(args) -> int:
    """``maxrf-sr methods``: list the methods."""
    from ..api import available_methods
    from ..baselines import BASELINE_HELP

    print(f"{NETWORK}: a deep-unfolding (LISTA) network trained on this painting, with the "
          "paper's adversarial fine-tuning as an option (also accepted: adun)")
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
