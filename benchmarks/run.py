"""Quality benchmark: every method on every case, a markdown table (Table-I style).

Usage::

    python -m benchmarks.run                 # the full set (about an hour on 2 CPU cores)
    python -m benchmarks.run --quick         # two small cases, for development
    python -m benchmarks.run --methods adun,bicubic --max-seconds 60
    python -m benchmarks.run --methods adun --set consistency_weight=0   # one setting changed
    python -m benchmarks.run --methods adun --inference-variant calibration_radius=0
                                             # the same trained network, uncalibrated too
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

import numpy as np

from napari_maxrf_sr.api import available_methods, super_resolve
from napari_maxrf_sr.cli.parser import read_setting

from .cases import all_cases
from .metrics import (
    block_artefact_index,
    block_mean_error,
    detail_energy,
    false_detail,
    false_detail_flat,
    hidden_detail,
    mean_ssim,
    rmse_psnr,
)


class PeakRSS:
    """Peak resident memory of this process while a block runs (sampled every 10 ms), MiB."""

    def __enter__(self) -> PeakRSS:
        self.base = self._rss()
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    @staticmethod
    def _rss() -> float:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return pages * 4096 / 2**20

    def _poll(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self._rss())

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    @property
    def extra(self) -> float:
        """Peak minus the memory in use at the start."""
        return self.peak - self.base


def evaluate(case, method: str, res, seconds: float, peak_mib: float) -> dict:
    """Every measure of one method's answer on one case, as a table row.

    ``method="truth"`` (``res`` ignored) measures the true maps themselves: what each
    measure gives a perfect answer.
    """
    maps = case.hr_maps if method == "truth" else res.maps
    rmse, psnr = rmse_psnr(maps, case.hr_maps)
    raw = maps if method == "truth" else unprojected(method, res, case)
    return {"case": case.name, "method": method, "rmse": rmse, "psnr": psnr,
            "ssim": mean_ssim(maps, case.hr_maps),
            "false_detail": false_detail(maps, case.hr_maps, case.edge_mask, case.scale),
            "false_detail_flat": false_detail_flat(maps, case.hr_maps, case.edge_mask,
                                                   case.scale),
            "hidden_detail": hidden_detail(maps, case.hr_maps, case.hidden_mask, case.scale),
            "blocks": block_artefact_index(maps, case.hr_maps, case.scale),
            "scan_error": block_mean_error(raw, case.lr_maps, case.scale),
            "detail_energy": detail_energy(maps, case.hr_maps, case.scale),
            "seconds": seconds, "peak_mib": peak_mib}


def parse_settings(items: list[str]) -> dict:
    """``["FIELD=VALUE", ...]`` to config overrides (JSON values; a plain word stays text)."""
    return dict(read_setting(item) for item in items)


def run(methods: list[str], quick: bool, max_seconds: float | None, preset: str,
        settings: dict | None = None, cluster_blur: float = 1.0,
        truth_row: bool = False, inference_variants: list[dict] | None = None) -> list[dict]:
    rows = []
    for case in all_cases(quick, cluster_blur):
        if truth_row:
            rows.append(evaluate(case, "truth", None, 0.0, 0.0))
        for method in methods:
            with PeakRSS() as mem:
                t0 = time.perf_counter()
                res = super_resolve(case.lr_maps, case.rgb, case.scale, method,
                                    elements=case.elements, preset=preset,
                                    config=(settings or None) if method == "adun" else None,
                                    max_seconds=max_seconds if method == "adun" else None)
                seconds = time.perf_counter() - t0
            rows.append(evaluate(case, method, res, seconds, mem.extra))
            print(_fmt_row(rows[-1]), file=sys.stderr, flush=True)
            for variant in (inference_variants or []) if method == "adun" else []:
                rows.append(inference_variant_row(case, res, variant, seconds))
                print(_fmt_row(rows[-1]), file=sys.stderr, flush=True)
    return rows


def with_inference(res, **inference: object):
    """``res`` with settings that act only at inference changed in its trained model.

    E.g. ``calibration_radius=0``: the same trained network without the local
    calibration. Its ``maps`` are not recomputed: :func:`apply_network` gives them.
    """
    import types

    changed = res.diagnostics["model"].answering_with(**inference)
    return types.SimpleNamespace(diagnostics={**res.diagnostics, "model": changed})


def inference_variant_row(case, res, variant: dict, seconds: float) -> dict:
    """A row for the same trained network with inference-only settings changed.

    Training is the same, so the row's seconds are the trained run's.
    """
    other = with_inference(res, **variant)
    other.maps = apply_network(other, case, project=True)
    label = ", ".join(f"{k}={v}" for k, v in variant.items())
    return {**evaluate(case, "adun", other, seconds, 0.0), "method": f"adun ({label})"}


def apply_network(res, case, project: bool) -> np.ndarray:
    """The network trained in ``res`` applied to ``case``'s scan and photo."""
    from napari_maxrf_sr.core.inference import predict

    model = res.diagnostics["model"]
    rgb = case.rgb.astype(np.float32) / 255.0
    return predict(model.generator, model.normaliser, case.lr_maps, rgb, model.operator,
                   model.config, project=project, photo_normaliser=model.photo_normaliser)


def unprojected(method: str, res, case) -> np.ndarray:
    """A method's answer before its final projection onto the scan (for the scan error).

    The network: its trained generator applied without the projection; baselines:
    run again with ``project=False`` (``bicubic_projected`` is ``bicubic`` before it).
    """
    import inspect

    from napari_maxrf_sr.baselines import METHODS

    if method == "adun":
        return apply_network(res, case, project=False)
    name = "bicubic" if method == "bicubic_projected" else method
    fn = METHODS[name]
    kw = {"project": False} if "project" in inspect.signature(fn).parameters else {}
    return fn(case.lr_maps, case.rgb.astype(np.float32) / 255.0, case.scale, **kw)


HEADER = ("| case | method | RMSE | PSNR (dB) | SSIM | false detail "
          "| false detail, flat at scale | hidden detail "
          "| block artefacts | scan error before projection | fine detail vs truth "
          "| seconds | peak memory (MiB) |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|")


def _fmt_row(r: dict) -> str:
    return (f"| {r['case']} | {r['method']} | {r['rmse']:.4f} | {r['psnr']:.2f} | "
            f"{r['ssim']:.3f} | {r['false_detail']:.3f} | {r['false_detail_flat']:.4f} | "
            f"{r['hidden_detail']:.3f} | "
            f"{r['blocks']:.2f} | {r['scan_error']:.3f} | {r['detail_energy']:.2f} | "
            f"{r['seconds']:.1f} | {r['peak_mib']:.0f} |")


def table(rows: list[dict]) -> str:
    """Per-case rows, then the mean of each method over all cases."""
    lines = [HEADER] + [_fmt_row(r) for r in rows]
    for method in dict.fromkeys(r["method"] for r in rows):
        sel = [r for r in rows if r["method"] == method]
        mean = {k: float(np.nanmean([r[k] for r in sel])) for k in
                ("rmse", "psnr", "ssim", "false_detail", "false_detail_flat",
                 "hidden_detail", "blocks",
                 "scan_error", "detail_energy", "seconds", "peak_mib")}
        lines.append(_fmt_row({"case": "**mean**", "method": f"**{method}**", **mean}))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="two 256 px cases only")
    p.add_argument("--methods", default=",".join(available_methods()),
                   help="comma-separated methods (default: all)")
    p.add_argument("--max-seconds", type=float, default=None,
                   help="time budget of the network per case")
    p.add_argument("--preset", default="default", help="network preset")
    p.add_argument("--out", help="also write the table to this markdown file")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="change a setting of the network (JSON value), e.g. --set seed=1")
    p.add_argument("--cluster-blur", type=float, default=1.0, metavar="PIXELS",
                   help="the simulator's blur of the photo's colours before it clusters "
                        "pigments (default 1; 0: the true maps follow each pixel's own "
                        "colour)")
    p.add_argument("--truth-row", action="store_true",
                   help="also measure the true maps themselves (what a perfect answer "
                        "scores)")
    p.add_argument("--inference-variant", action="append", default=[],
                   metavar="FIELD=VALUE[,FIELD=VALUE]",
                   help="also a row for the same trained network with settings that act "
                        "at inference only changed, e.g. calibration_radius=0 (repeatable)")
    args = p.parse_args(argv)
    variants = [parse_settings(v.split(",")) for v in args.inference_variant]
    rows = run(args.methods.split(","), args.quick, args.max_seconds, args.preset,
               parse_settings(args.set), args.cluster_blur, args.truth_row, variants)
    text = table(rows)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
