"""Quality benchmark: every method on every case of both sets, markdown tables (Table-I style).

Two sets (issue 34): the **tuning** set (``benchmarks.cases``, the nine cases that settings
were chosen on) and the **check** set (``benchmarks.checkset``, built once by another
simulator and not tuned on). Each set gets its table, the mean of every method, the
targets (met or missed) and how often the network's "learned nothing" guard agreed with
the truth. A setting becomes the default only by ``python -m benchmarks.compare``'s rule.

Usage::

    python -m benchmarks.run                       # both sets, every method (cached runs reused)
    python -m benchmarks.run --sets check          # one set
    python -m benchmarks.run --quick               # two small cases per set, for development
    python -m benchmarks.run --methods network,bicubic_projected --max-seconds 60
    python -m benchmarks.run --methods network --set consistency_weight=0   # one setting changed
    python -m benchmarks.run --methods network --inference-variant calibration_radius=1
                                                   # the same trained network, calibrated too
    python -m benchmarks.run --cached-only         # print what the cache holds, run nothing
    python -m benchmarks.run --write-docs          # rewrite docs/benchmarks.md's generated
                                                   # tables from the cache (runs nothing)

Every run is cached in ``benchmarks/out/cache`` per (case, method, settings, code version)
(``benchmarks.cache``): printing a table again does not train again; ``--no-cache`` does.
"""

from __future__ import annotations

import argparse
import functools
import sys
import threading
import time
from pathlib import Path

import numpy as np

from napari_maxrf_sr.api import available_methods, super_resolve
from napari_maxrf_sr.cli.parser import read_setting
from napari_maxrf_sr.core.events import MIN_GAIN_DB as GUARD_MIN_GAIN_DB

from . import cache
from .cases import all_cases
from .metrics import measure_row

#: The sets, in the order they are printed.
SETS = ("tuning", "check")
#: What a set is, in one line, and its command.
SET_TITLES = {"tuning": "Tuning set (`benchmarks.cases`: the nine cases settings were "
                        "chosen on)",
              "check": "Check set (`benchmarks.checkset`: another simulator and the real "
                       "maps; not tuned on)"}
#: Methods that are not the network (the baselines of the targets).
NETWORK = "network"


def set_cases(name: str, quick: bool = False, cluster_blur: float = 1.0) -> list:
    """The cases of one set (``quick``: two small ones); built once per process."""
    return list(_set_cases(name, bool(quick), float(cluster_blur)))


@functools.lru_cache(maxsize=8)
def _set_cases(name: str, quick: bool, cluster_blur: float) -> tuple:
    return tuple(_build_set(name, quick, cluster_blur))


def _build_set(name: str, quick: bool, cluster_blur: float) -> list:
    if name == "tuning":
        return all_cases(quick, cluster_blur)
    if name == "check":
        from .checkset import check_cases

        return check_cases(quick)
    raise SystemExit(f"unknown set {name!r}; the sets are {', '.join(SETS)}")


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


def guard_of(res) -> tuple[float, bool | None]:
    """The "learned nothing" guard of a network run: (held-out gain in dB, passed)."""
    if res is None:
        return float("nan"), None
    check = getattr(res, "quality_check", None) or res.diagnostics.get("quality_check")
    if check is not None:
        return float(check.gain_db), bool(check.passed)
    gain = res.diagnostics.get("heldout_gain_db")
    if gain is None:
        return float("nan"), None
    return float(gain), bool(gain >= GUARD_MIN_GAIN_DB)


def evaluate(case, method: str, res, seconds: float, peak_mib: float) -> dict:
    """Every measure of one method's answer on one case, as a table row.

    ``method="truth"`` (``res`` ignored) measures the true maps themselves: what each
    measure gives a perfect answer.
    """
    maps = case.hr_maps if method == "truth" else res.maps
    raw = maps if method == "truth" else unprojected(method, res, case)
    row = {"case": case.name, "method": method, **measure_row(maps, raw, case),
           "seconds": seconds, "peak_mib": peak_mib}
    if method.startswith(NETWORK):
        row["heldout_gain_db"], row["guard"] = guard_of(res)
    return row


def parse_settings(items: list[str]) -> dict:
    """``["FIELD=VALUE", ...]`` to config overrides (JSON values; a plain word stays text)."""
    return dict(read_setting(item) for item in items)


def settings_label(settings: dict | None) -> str:
    """``{"a": 1}`` -> ``"a=1"`` (empty for the default)."""
    return ", ".join(f"{k}={v}" for k, v in sorted((settings or {}).items()))


def run_one(case, method: str, *, settings: dict | None = None, preset: str = "default",
            max_seconds: float | None = None, use_cache: bool = True,
            cached_only: bool = False, inference_variants: list[dict] | None = None,
            quiet: bool = False) -> list[dict]:
    """The rows of one method on one case: from the cache, or run (and cached).

    Returns ``[]`` when ``cached_only`` and nothing is cached. The network's rows come with
    its inference variants (which need the trained network, so they run it again).
    """
    net = method == NETWORK
    settings = settings if net else None
    key = cache.run_key(case, method, settings, preset, max_seconds if net else None)
    label = settings_label(settings)
    rec = cache.load_record(key) if use_cache and not inference_variants else None
    if rec is not None:
        if rec.get("metrics_version") != cache.metrics_version():
            stored = cache.load_maps(key)
            rec = None if stored is None else _remeasure(key, rec, case, *stored)
        if rec is not None:
            return [{**rec["row"], "case": case.name, "cached": True, "label": label}]
    if cached_only:
        return []
    import torch

    with PeakRSS() as mem:
        t0 = time.perf_counter()
        res = super_resolve(case.lr_maps, case.rgb, case.scale, method,
                            elements=case.elements, preset=preset,
                            config=(settings or None) if net else None,
                            max_seconds=max_seconds if net else None)
        seconds = time.perf_counter() - t0
    raw = unprojected(method, res, case)
    gain, passed = guard_of(res) if net else (float("nan"), None)
    maps_r, raw_r = cache.rounded(res.maps), cache.rounded(raw)
    row = {"case": case.name, "method": method, **measure_row(maps_r, raw_r, case),
           "seconds": seconds, "peak_mib": mem.extra}
    if net:
        row.update(heldout_gain_db=gain, guard=passed)
    record = {"row": row, "metrics_version": cache.metrics_version(), "case": case.name,
              "case_fingerprint": cache.case_fingerprint(case), "method": method,
              "settings": cache.canonical_settings(method, settings, preset,
                                                   max_seconds if net else None),
              "threads": torch.get_num_threads()}
    cache.save(key, record, res.maps, raw)
    rows = [{**row, "cached": False, "label": label}]
    if not quiet:
        print(_fmt_row(rows[-1]), file=sys.stderr, flush=True)
    for variant in (inference_variants or []) if net else []:
        rows.append({**inference_variant_row(case, res, variant, seconds), "label": label})
        if not quiet:
            print(_fmt_row(rows[-1]), file=sys.stderr, flush=True)
    return rows


def _remeasure(key: str, rec: dict, case, maps: np.ndarray, raw: np.ndarray) -> dict:
    """Recompute a cached run's measures from its stored maps (the metrics changed)."""
    old = rec["row"]
    row = {**old, **measure_row(maps, raw, case)}
    rec = {**rec, "row": row, "metrics_version": cache.metrics_version()}
    cache.save_record(key, rec)
    return rec


def run(methods: list[str], quick: bool, max_seconds: float | None, preset: str,
        settings: dict | None = None, cluster_blur: float = 1.0,
        truth_row: bool = False, inference_variants: list[dict] | None = None,
        sets: tuple[str, ...] = ("tuning",), use_cache: bool = True,
        cached_only: bool = False) -> list[dict]:
    """Rows of every method on every case of ``sets`` (each row has its ``set``).

    With the network, ``bicubic_projected`` is measured too (cached, cheap) whether asked
    for or not: the guard's verdict is judged against it.
    """
    rows = []
    for set_name in sets:
        for case in set_cases(set_name, quick, cluster_blur):
            if truth_row:
                rows.append({**evaluate(case, "truth", None, 0.0, 0.0), "set": set_name})
            wanted = list(methods)
            if NETWORK in wanted and "bicubic_projected" not in wanted:
                wanted.append("bicubic_projected")
            for method in wanted:
                got = run_one(case, method, settings=settings, preset=preset,
                              max_seconds=max_seconds, use_cache=use_cache,
                              cached_only=cached_only, inference_variants=inference_variants)
                hidden = method not in methods
                rows += [{**r, "set": set_name, "hidden": hidden} for r in got]
    return rows


def with_inference(res, **inference: object):
    """``res`` with settings that act only at inference changed in its trained model.

    E.g. ``calibration_radius=1``: the same trained network with the local
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
    return {**evaluate(case, NETWORK, other, seconds, 0.0), "method": f"network ({label})"}


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

    if method.startswith(NETWORK):
        return apply_network(res, case, project=False)
    name = "bicubic" if method == "bicubic_projected" else method
    fn = METHODS[name]
    kw = {"project": False} if "project" in inspect.signature(fn).parameters else {}
    return fn(case.lr_maps, case.rgb.astype(np.float32) / 255.0, case.scale, **kw)


# ------------------------------------------------------------------------------ tables
#: (key, column title, format) of the table, in order.
COLUMNS = (
    ("rmse", "RMSE", "{:.4f}"),
    ("psnr", "PSNR (dB)", "{:.2f}"),
    ("ssim", "SSIM", "{:.3f}"),
    ("false_detail", "false detail", "{:.3f}"),
    ("false_detail_flat", "false detail, flat at scale", "{:.4f}"),
    ("hidden_detail", "hidden detail", "{:.3f}"),
    ("seam", "seam ratio, flat half", "{:.2f}"),
    ("seam_all", "seam ratio, whole map", "{:.2f}"),
    ("blocks", "block artefacts", "{:.2f}"),
    ("scan_error", "scan error before projection", "{:.3f}"),
    ("detail_energy", "detail-energy ratio (fine detail vs truth)", "{:.2f}"),
    ("guard", "guard: held-out gain (dB), verdict", None),
    ("seconds", "seconds", "{:.1f}"),
    ("peak_mib", "peak memory (MiB)", "{:.0f}"),
)
HEADER = ("| case | method | " + " | ".join(c[1] for c in COLUMNS) + " |\n|"
          + "---|" * (len(COLUMNS) + 2))
_MEAN_KEYS = tuple(k for k, _, f in COLUMNS if f is not None)


def _cell(row: dict, key: str, fmt: str | None) -> str:
    if key == "guard":
        verdict = row.get("guard")
        gain = row.get("heldout_gain_db")
        if verdict is None or gain is None or not np.isfinite(gain):
            return ""
        return f"{gain:+.2f}, {'pass' if verdict else 'FAIL'}"
    value = row.get(key, float("nan"))
    try:
        return fmt.format(value)
    except (TypeError, ValueError):
        return str(value)


def _fmt_row(r: dict) -> str:
    method = r["method"] + (f" ({r['label']})" if r.get("label") and
                            not r["method"].startswith(f"{NETWORK} (") else "")
    return (f"| {r['case']} | {method} | "
            + " | ".join(_cell(r, k, f) for k, _, f in COLUMNS) + " |")


def method_means(rows: list[dict]) -> dict[str, dict]:
    """Per method (and label), the mean of every measure over its rows, with ``n`` rows."""
    out: dict[str, dict] = {}
    for method in dict.fromkeys(_method_id(r) for r in rows):
        sel = [r for r in rows if _method_id(r) == method]
        mean = {k: float(np.nanmean([r.get(k, np.nan) for r in sel]))
                if any(np.isfinite(r.get(k, np.nan)) for r in sel) else float("nan")
                for k in _MEAN_KEYS}
        out[method] = {**mean, "n": len(sel)}
    return out


def _method_id(r: dict) -> str:
    return r["method"] + (f" ({r['label']})" if r.get("label") else "")


def table(rows: list[dict]) -> str:
    """Per-case rows, then the mean of each method over its cases."""
    shown = [r for r in rows if not r.get("hidden")]
    lines = [HEADER] + [_fmt_row(r) for r in shown]
    for method, mean in method_means(shown).items():
        lines.append(_fmt_row({"case": f"**mean** ({mean['n']})", "method": f"**{method}**",
                               **mean}))
    return "\n".join(lines)


# --------------------------------------------------------------------------- targets
BASELINES = ("bicubic", "bicubic_projected", "guided", "colour_regression", "ssr", "ssrcu",
             "cnmf")


def targets(rows: list[dict], network: str = NETWORK) -> list[tuple[str, str, str]]:
    """Issue 34's targets on one set's rows: (target, met / missed / not measured, detail).

    ``network``: the method id of the network's rows (default settings).
    """
    net = {r["case"]: r for r in rows if _method_id(r) == network}
    base = [r for r in rows if r["method"] in BASELINES and not r.get("label")]
    cases = list(net)
    out = []
    if not net:
        return [("all", "not measured", f"no `{network}` rows")]
    # 1. mean PSNR >= best baseline's mean + 3 dB
    means = {m: np.mean([r["psnr"] for r in base if r["method"] == m and r["case"] in net])
             for m in dict.fromkeys(r["method"] for r in base)}
    complete = {m: v for m, v in means.items()
                if sum(1 for r in base if r["method"] == m and r["case"] in net) == len(cases)}
    net_mean = float(np.mean([net[c]["psnr"] for c in cases]))
    if complete:
        best = max(complete, key=complete.get)
        gap = net_mean - complete[best]
        out.append(("mean PSNR >= best baseline's + 3 dB", "met" if gap >= 3.0 else "missed",
                    f"{net_mean:.2f} vs {best} {complete[best]:.2f} dB ({gap:+.2f} dB)"))
    else:
        out.append(("mean PSNR >= best baseline's + 3 dB", "not measured", "no baseline on "
                    "every case"))
    # 2. no case below its own best baseline + 1 dB
    short, measured = [], 0
    for c in cases:
        own = [r["psnr"] for r in base if r["case"] == c]
        if not own:
            continue
        measured += 1
        lead = net[c]["psnr"] - max(own)
        if lead < 1.0:
            short.append(f"{c} {lead:+.2f}")
    if measured:
        out.append(("no case below its best baseline + 1 dB", "met" if not short else "missed",
                    (f"{len(short)} of {measured} below: " + "; ".join(short)) if short
                    else f"all {measured} cases"))
    else:
        out.append(("no case below its best baseline + 1 dB", "not measured", "no baselines"))
    # 3. false detail no worse than the guided filter's (mean over the set)
    guided = [r for r in base if r["method"] == "guided" and r["case"] in net]
    if len(guided) == len(cases):
        g = float(np.nanmean([r["false_detail"] for r in guided]))
        n = float(np.nanmean([net[c]["false_detail"] for c in cases]))
        out.append(("false detail <= guided filter's (mean)", "met" if n <= g else "missed",
                    f"{n:.3f} vs {g:.3f}"))
    else:
        out.append(("false detail <= guided filter's (mean)", "not measured",
                    "guided filter not run on every case"))
    # 4. seam ratio <= 1.3 on every case
    over = [f"{c} {net[c]['seam']:.2f}" for c in cases if not net[c]["seam"] <= 1.3]
    worst = max(net[c]["seam"] for c in cases)
    out.append(("seam ratio (flat half) <= 1.3 on every case", "met" if not over else "missed",
                (f"{len(over)} of {len(cases)} above: " + "; ".join(over)) if over
                else f"highest {worst:.2f}"))
    return out


def guard_agreement(rows: list[dict], network: str = NETWORK) -> str:
    """How often the guard's verdict agreed with the truth on one set's network rows.

    Truth: the network's PSNR above bicubic + projection's on the same case.
    """
    ref = {r["case"]: r["psnr"] for r in rows if r["method"] == "bicubic_projected"}
    pairs = [(r["guard"], r["psnr"] > ref[r["case"]], r["case"], r["psnr"] - ref[r["case"]])
             for r in rows if _method_id(r) == network and r.get("guard") is not None
             and r["case"] in ref]
    if not pairs:
        return "guard: not measured (no network rows with a verdict and bicubic + projection)"
    agree = sum(g == t for g, t, *_ in pairs)
    missed = [f"{c} ({d:+.2f} dB)" for g, t, c, d in pairs if g and not t]
    alarms = [f"{c} ({d:+.2f} dB)" for g, t, c, d in pairs if not g and t]
    text = (f"guard agrees with the truth on {agree} of {len(pairs)} cases (truth: network "
            f"PSNR above bicubic + projection's)")
    if missed:
        text += f"; passed although below: {', '.join(missed)}"
    if alarms:
        text += f"; failed although above: {', '.join(alarms)}"
    return text


def set_report(set_name: str, rows: list[dict], network: str = NETWORK,
               heading: bool = True) -> str:
    """One set's table, targets and guard agreement, as markdown."""
    sel = [r for r in rows if r.get("set") == set_name]
    lines = [f"### {SET_TITLES.get(set_name, set_name)}", ""] if heading else []
    lines += [table(sel), "",
             "| target (issue 34) | result | detail |", "|---|---|---|"]
    lines += [f"| {t} | **{v}** | {d} |" for t, v, d in targets(sel, network)]
    lines += ["", guard_agreement(sel, network) + "."]
    return "\n".join(lines)


def report(rows: list[dict], sets: tuple[str, ...], network: str = NETWORK) -> str:
    """Both sets' reports and, per set, the network's mean PSNR (per-set means)."""
    parts = [set_report(s, rows, network) for s in sets]
    means = []
    for s in sets:
        sel = [r for r in rows if r.get("set") == s and _method_id(r) == network]
        if sel:
            means.append(f"{s} {np.mean([r['psnr'] for r in sel]):.2f} dB ({len(sel)} cases)")
    if means:
        parts.append(f"Mean PSNR of `{network}` per set: " + "; ".join(means) + ".")
    return "\n\n".join(parts)


# ------------------------------------------------------------------------------- docs
DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
BEGIN, END = "<!-- BEGIN generated: {} -->", "<!-- END generated -->"


def read_blocks(text: str) -> dict[str, str]:
    """The generated blocks of a document: name -> content between its markers."""
    import re

    pattern = re.compile(r"^<!-- BEGIN generated: ([^\n>]+?) -->\n(.*?)^<!-- END generated -->",
                         re.S | re.M)
    return {m.group(1): m.group(2).rstrip("\n") for m in pattern.finditer(text)}


def write_blocks(text: str, blocks: dict[str, str]) -> str:
    """``text`` with the content of each named generated block replaced.

    A block is the lines between a line ``<!-- BEGIN generated: NAME -->`` and the next line
    ``<!-- END generated -->``. Blocks not in ``blocks`` stay as they are; everything outside
    the markers stays. Raises ``KeyError`` for a name the text has no markers for.
    """
    import re

    for name, content in blocks.items():
        start = re.compile("^" + re.escape(BEGIN.format(name)) + "\n", re.M).search(text)
        if start is None:
            raise KeyError(f"no generated block {name!r} in the document")
        end = re.compile("^" + re.escape(END) + "$", re.M).search(text, start.end())
        if end is None:
            raise KeyError(f"generated block {name!r} has no end marker")
        body = content.rstrip("\n")
        text = text[: start.end()] + (body + "\n" if body else "") + text[end.start():]
    return text


#: Methods of the reference tables.
DOC_METHODS = tuple(available_methods())


def docs_blocks(quick: bool = False) -> dict[str, str]:
    """The reference's generated blocks, from the cache only (nothing runs).

    A set whose default rows are all cached gets its report; otherwise a placeholder that
    names the command that fills it and which runs are missing.
    """
    blocks = {}
    for s in SETS:
        rows = run(list(DOC_METHODS), quick, None, "default", None, truth_row=True,
                   sets=(s,), cached_only=True)
        cmd = f"python -m benchmarks.run --sets {s}"
        n_cases = len(set_cases(s, quick))
        have = {(r["case"], r["method"]) for r in rows if r["method"] != "truth"}
        missing = n_cases * len(DOC_METHODS) - len(have)
        if not any(r["method"] == NETWORK for r in rows):
            blocks[f"{s} set"] = (f"_Not yet run with this code version: `{cmd}` fills this "
                                  f"table ({n_cases} cases, every method)._")
            continue
        note = (f"`{cmd}` (code version {cache.code_version()})"
                + (f"; {missing} of {n_cases * len(DOC_METHODS)} runs not yet in the cache, "
                   "so means over fewer cases are marked by their count" if missing else ""))
        blocks[f"{s} set"] = note + "\n\n" + set_report(s, rows, heading=False)
    blocks.update(comparison_blocks(quick))
    return blocks


#: Comparisons the reference shows: block name -> the change (``benchmarks.compare --set``).
DOC_COMPARISONS = {"compare down_colours=mean": {"down_colours": "mean"}}


def comparison_blocks(quick: bool = False) -> dict[str, str]:
    """The list of defaults since 26 Nov, their verdicts and the comparisons, from the cache."""
    from . import compare, defaults_since

    blocks = {"defaults since 26 Nov": defaults_since.markdown()}
    for name, change in DOC_COMPARISONS.items():
        cmd = "python -m benchmarks.compare " + " ".join(f"--set {k}={v}"
                                                         for k, v in change.items())
        text, verdict, _ = compare.comparison(change, {}, SETS, quick, [0], cached_only=True,
                                              cand_label=settings_label(change))
        blocks[name] = (f"`{cmd}` (code version {cache.code_version()})\n\n{text}"
                        if verdict is not None else
                        f"_Not yet run with this code version: `{cmd}` fills this table "
                        f"(the default and the change on both sets)._")
    cmd = "python -m benchmarks.compare --since-26-nov"
    todo, total = compare.pending(
        list({repr(sorted(s.items())): s for d in defaults_since.SINCE_26_NOV
              for s in (dict(d.base), {**d.base, **d.revert})}.values()), SETS, quick, [0])
    if todo:
        blocks["since 26 Nov verdicts"] = (
            f"_Not yet run with this code version: `{cmd}` fills this table ({todo} of "
            f"{total} network runs missing; about {todo * compare.NETWORK_SECONDS / 3600:.1f} "
            "hours on an idle 2-core machine)._")
    else:
        text = compare.since_26_nov(SETS, quick, [0], cached_only=True)
        summary = text[text.index("#### Summary"):].split("\n", 1)[1].strip()
        blocks["since 26 Nov verdicts"] = f"`{cmd}` (code version {cache.code_version()})\n\n" \
                                          + summary
    return blocks


def write_docs(path: Path = DOCS, blocks: dict[str, str] | None = None) -> None:
    """Rewrite the generated blocks of ``path`` (default: from the cache)."""
    blocks = docs_blocks() if blocks is None else blocks
    text = path.read_text()
    present = read_blocks(text)
    path.write_text(write_blocks(text, {k: v for k, v in blocks.items() if k in present}))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sets", default=",".join(SETS),
                   help=f"comma-separated sets (default: {','.join(SETS)})")
    p.add_argument("--quick", action="store_true", help="two small cases per set only")
    p.add_argument("--methods", default=",".join(available_methods()),
                   help="comma-separated methods (default: all)")
    p.add_argument("--max-seconds", type=float, default=None,
                   help="time budget of the network per case")
    p.add_argument("--preset", default="default", help="network preset")
    p.add_argument("--out", help="also write the report to this markdown file")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="change a setting of the network (JSON value), e.g. --set seed=1")
    p.add_argument("--cluster-blur", type=float, default=1.0, metavar="PIXELS",
                   help="the tuning set's simulator's blur of the photo's colours before it "
                        "clusters pigments (default 1; 0: the true maps follow each pixel's "
                        "own colour)")
    p.add_argument("--truth-row", action="store_true", default=True,
                   help="measure the true maps themselves too (the default)")
    p.add_argument("--no-truth-row", dest="truth_row", action="store_false",
                   help="leave out the truth's rows")
    p.add_argument("--inference-variant", action="append", default=[],
                   metavar="FIELD=VALUE[,FIELD=VALUE]",
                   help="also a row for the same trained network with settings that act "
                        "at inference only changed, e.g. calibration_radius=1 (repeatable; "
                        "trains the network even when its run is cached)")
    p.add_argument("--no-cache", action="store_true", help="run everything again")
    p.add_argument("--cached-only", action="store_true",
                   help="run nothing: print what the cache holds for this code version")
    p.add_argument("--write-docs", nargs="?", const=str(DOCS), metavar="PATH",
                   help="rewrite the generated tables of docs/benchmarks.md (or PATH) from "
                        "the cache, then stop (runs nothing)")
    args = p.parse_args(argv)
    if args.write_docs:
        write_docs(Path(args.write_docs))
        print(f"rewrote the generated blocks of {args.write_docs}")
        return 0
    sets = tuple(s.strip() for s in args.sets.split(",") if s.strip())
    for s in sets:
        if s not in SETS:
            raise SystemExit(f"unknown set {s!r}; the sets are {', '.join(SETS)}")
    variants = [parse_settings(v.split(",")) for v in args.inference_variant]
    settings = parse_settings(args.set)
    rows = run(args.methods.split(","), args.quick, args.max_seconds, args.preset,
               settings, args.cluster_blur, args.truth_row, variants, sets,
               use_cache=not args.no_cache, cached_only=args.cached_only)
    network = NETWORK + (f" ({settings_label(settings)})" if settings else "")
    text = report(rows, sets, network)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
