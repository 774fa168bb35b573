"""The rule for changing a default (issue 34), applied: one setting against the default, both sets.

**A setting becomes the default only if it wins on the mean of both sets and loses no more
than 0.2 dB on any single case.** "Wins on the mean of both sets": its mean PSNR is higher
than the default's on the tuning set *and* on the check set. Both sides run at equal steps
(the default's step counts; no time budget), same seeds; runs are cached
(``benchmarks.cache``), so a comparison printed again trains nothing.

Usage::

    python -m benchmarks.compare --set down_colours=mean          # one change vs the default
    python -m benchmarks.compare --set stage2_steps=400 --base adversarial=true
                                                    # a change that needs another one on both sides
    python -m benchmarks.compare --set down_colours=mean --seeds 0,1,2   # means over seeds
    python -m benchmarks.compare --since-26-nov     # every default chosen since 26 Nov against
                                                    # its revert, one at a time
    python -m benchmarks.compare --since-26-nov --only "stage 1 weight bound 4"
    python -m benchmarks.compare --set down_colours=mean --dry-run   # what would run, how long
    python -m benchmarks.compare --set down_colours=mean --cached-only

With ``--since-26-nov`` the roles turn: today's default is the candidate and the revert
(``benchmarks.defaults_since``) the baseline, so a default chosen since 26 Nov is kept
only if it passes the same rule against the paper's choice.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field

import numpy as np

from . import cache
from .run import NETWORK, SETS, parse_settings, run_one, set_cases, settings_label

#: The largest loss on any single case that the rule allows (dB).
MAX_CASE_LOSS_DB = 0.2
RULE = ("becomes default only if it wins on the mean of both sets and loses no more than "
        f"{MAX_CASE_LOSS_DB} dB on any single case")
#: Seconds of one default network run on an idle 2-core machine (for --dry-run).
NETWORK_SECONDS = 100.0


@dataclass
class Verdict:
    """The rule's verdict on per-case PSNR deltas (candidate minus baseline, dB)."""

    passes: bool
    mean_deltas: dict[str, float]
    losses: list[tuple[str, str, float]] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def text(self, passed: str = "becomes the default",
             failed: str = "does not become the default") -> str:
        """One line: passes or fails, the per-set mean deltas and why it fails."""
        means = "; ".join(f"{s} mean {d:+.2f} dB" for s, d in self.mean_deltas.items())
        head = f"PASSES: {passed}" if self.passes else f"FAILS: {failed}"
        return f"{head} ({means})" + ("; " + "; ".join(self.reasons) if self.reasons else "")


def rule(deltas: dict[str, dict[str, float]], sets: tuple[str, ...] = SETS,
         max_case_loss: float = MAX_CASE_LOSS_DB) -> Verdict:
    """Apply the rule to ``{set: {case: candidate PSNR - baseline PSNR}}``.

    Passes when every set in ``sets`` has cases, each set's mean delta is above 0, and no
    case's delta is below ``-max_case_loss``. A set without cases fails (not measured).
    """
    means, reasons, losses = {}, [], []
    for s in sets:
        d = deltas.get(s) or {}
        if not d:
            reasons.append(f"no {s} cases measured")
            continue
        means[s] = float(np.mean(list(d.values())))
        if not means[s] > 0:
            reasons.append(f"does not win on the {s} mean ({means[s]:+.2f} dB)")
        for case, v in d.items():
            if v < -max_case_loss:
                losses.append((s, case, float(v)))
    if losses:
        reasons.append(f"loses more than {max_case_loss} dB on "
                       + ", ".join(f"{c} ({v:+.2f})" for _, c, v in losses))
    return Verdict(not reasons, means, losses, reasons)


def side_rows(settings: dict, sets: tuple[str, ...], quick: bool, seeds: list[int],
              cached_only: bool, use_cache: bool = True) -> dict[str, dict[str, dict | None]]:
    """``{set: {case: row}}`` of the network with ``settings``, measures averaged over seeds.

    A case whose runs are not all there (``cached_only``) maps to ``None``.
    """
    out: dict[str, dict[str, dict | None]] = {}
    for s in sets:
        out[s] = {}
        for case in set_cases(s, quick):
            out[s][case.name] = None
            got = []
            for seed in seeds:
                cfg = {**settings, "seed": seed} if seed else dict(settings)
                got += run_one(case, NETWORK, settings=cfg, use_cache=use_cache,
                               cached_only=cached_only)
            if len(got) == len(seeds):
                out[s][case.name] = {k: float(np.mean([r[k] for r in got]))
                                     for k in ("psnr", "false_detail", "seam", "detail_energy")}
    return out


def pending(settings_list: list[dict], sets, quick, seeds) -> tuple[int, int]:
    """(network runs not yet cached, all network runs) for these sides."""
    todo = total = 0
    for s in sets:
        for case in set_cases(s, quick):
            for settings in settings_list:
                for seed in seeds:
                    cfg = {**settings, "seed": seed} if seed else dict(settings)
                    total += 1
                    todo += cache.load_record(cache.run_key(case, NETWORK, cfg)) is None
    return todo, total


def comparison(candidate: dict, baseline: dict, sets: tuple[str, ...], quick: bool = False,
               seeds: list[int] | None = None, cached_only: bool = False,
               cand_label: str = "candidate", base_label: str = "default",
               words: tuple[str, str] = ("becomes the default", "does not become the default"),
               ) -> tuple[str, Verdict | None, dict[str, dict[str, float]]]:
    """Markdown table of per-case deltas, per-set means, flags and the rule's verdict.

    Returns ``(text, verdict, {set: {case: delta}})``; the verdict is ``None`` while runs
    are missing (``cached_only``).
    """
    seeds = seeds or [0]
    a = side_rows(baseline, sets, quick, seeds, cached_only)
    b = side_rows(candidate, sets, quick, seeds, cached_only)
    lines = [f"| set | case | {base_label} PSNR (dB) | {cand_label} PSNR (dB) | delta (dB) "
             f"| false detail {base_label} / {cand_label} | seam ratio {base_label} / "
             f"{cand_label} | detail-energy ratio {base_label} / {cand_label} | flag |",
             "|---|---|---|---|---|---|---|---|---|"]
    deltas: dict[str, dict[str, float]] = {}
    missing = []
    for s in sets:
        deltas[s] = {}
        for case in dict.fromkeys([*a[s], *b[s]]):
            if a[s].get(case) is None or b[s].get(case) is None:
                missing.append(f"{s}: {case}")
                continue
            ra, rb = a[s][case], b[s][case]
            d = rb["psnr"] - ra["psnr"]
            deltas[s][case] = d
            flag = f"**loses {-d:.2f} dB**" if d < -MAX_CASE_LOSS_DB else ""
            lines.append(f"| {s} | {case} | {ra['psnr']:.2f} | {rb['psnr']:.2f} | {d:+.2f} "
                         f"| {ra['false_detail']:.3f} / {rb['false_detail']:.3f} "
                         f"| {ra['seam']:.2f} / {rb['seam']:.2f} "
                         f"| {ra['detail_energy']:.2f} / {rb['detail_energy']:.2f} | {flag} |")
        if deltas[s]:
            cs = list(deltas[s])
            ma = np.mean([a[s][c]["psnr"] for c in cs])
            mb = np.mean([b[s][c]["psnr"] for c in cs])
            fa = np.nanmean([a[s][c]["false_detail"] for c in cs])
            fb = np.nanmean([b[s][c]["false_detail"] for c in cs])
            sa = np.mean([a[s][c]["seam"] for c in cs])
            sb = np.mean([b[s][c]["seam"] for c in cs])
            da = np.mean([a[s][c]["detail_energy"] for c in cs])
            db = np.mean([b[s][c]["detail_energy"] for c in cs])
            lines.append(f"| {s} | **mean** ({len(cs)}) | {ma:.2f} | {mb:.2f} | "
                         f"**{mb - ma:+.2f}** | {fa:.3f} / {fb:.3f} | {sa:.2f} / {sb:.2f} "
                         f"| {da:.2f} / {db:.2f} | |")
    if missing:
        todo, total = pending([baseline, candidate], sets, quick, seeds)
        lines.append("")
        lines.append(f"Not yet run ({todo} of {total} network runs missing): "
                     + "; ".join(missing))
        return "\n".join(lines), None, deltas
    verdict = rule(deltas, sets)
    lines += ["", f"Rule: a setting {RULE}.", f"Verdict: {verdict.text(*words)}."]
    if tuple(sets) != SETS:
        lines.append(f"(Measured on the {' and '.join(sets)} set only: the rule asks for "
                     f"{' and '.join(SETS)}, so this verdict is not the rule's.)")
    return "\n".join(lines), verdict, deltas


def since_26_nov(sets, quick, seeds, cached_only, only=None, include_earlier=False) -> str:
    """Every default chosen since 26 Nov against its revert, and a summary."""
    from .defaults_since import EARLIER, SINCE_26_NOV

    entries = [*SINCE_26_NOV, *(EARLIER if include_earlier else ())]
    if only:
        entries = [d for d in entries if d.name in only]
        unknown = set(only) - {d.name for d in entries}
        if unknown:
            raise SystemExit(f"unknown default(s): {', '.join(sorted(unknown))}")
    parts, summary = [], ["| default | revert | " + " | ".join(f"{s} mean delta (dB)"
                                                                for s in sets)
                          + " | worst case (dB) | verdict |",
                          "|---|---|" + "---|" * len(sets) + "---|---|"]
    for d in entries:
        base = dict(d.base)
        text, verdict, deltas = comparison(
            {**base}, {**base, **d.revert}, sets, quick, seeds, cached_only,
            cand_label="today", base_label="revert",
            words=("today's default is kept", "revert to the paper's choice (or the "
                   "previous default)"))
        head = f"#### {d.name} (`{d.setting}` = {d.today}; revert: `{d.revert_args}`" + (
            f", both with `{d.base_args}`" if d.base else "") + ")"
        parts.append(head + "\n\n" + text)
        if verdict is None:
            summary.append(f"| {d.name} | `{d.revert_args}` | "
                           + " | ".join("not run" for _ in sets) + " | | not run |")
            continue
        worst = min((v for s in sets for v in deltas[s].values()), default=float("nan"))
        summary.append(f"| {d.name} | `{d.revert_args}` | "
                       + " | ".join(f"{verdict.mean_deltas.get(s, float('nan')):+.2f}"
                                    for s in sets)
                       + f" | {worst:+.2f} | {'keep' if verdict.passes else 'revert'} |")
    return "\n\n".join(parts + ["#### Summary (today's default minus its revert)",
                                "\n".join(summary)])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.compare", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="the change to judge (several: one change made of them)")
    p.add_argument("--base", action="append", default=[], metavar="FIELD=VALUE",
                   help="settings both sides get (e.g. adversarial=true for a stage-2 setting)")
    p.add_argument("--since-26-nov", action="store_true",
                   help="every default chosen since 26 Nov 2026 against its revert")
    p.add_argument("--include-earlier", action="store_true",
                   help="with --since-26-nov: also the defaults of 25-26 Nov")
    p.add_argument("--only", action="append", default=[], metavar="NAME",
                   help="with --since-26-nov: only this default (repeatable)")
    p.add_argument("--sets", default=",".join(SETS))
    p.add_argument("--quick", action="store_true", help="two small cases per set (development)")
    p.add_argument("--seeds", default="0", help="comma-separated training seeds (default 0)")
    p.add_argument("--cached-only", action="store_true", help="run nothing; print the cache")
    p.add_argument("--dry-run", action="store_true",
                   help="say how many network runs are missing and how long they take")
    p.add_argument("--out", help="also write the result to this markdown file")
    args = p.parse_args(argv)
    sets = tuple(s.strip() for s in args.sets.split(",") if s.strip())
    seeds = [int(s) for s in args.seeds.split(",")]
    base = parse_settings(args.base)
    if args.since_26_nov:
        from .defaults_since import EARLIER, SINCE_26_NOV

        entries = [*SINCE_26_NOV, *(EARLIER if args.include_earlier else ())]
        if args.only:
            entries = [d for d in entries if d.name in args.only]
        sides = [s for d in entries for s in (dict(d.base), {**d.base, **d.revert})]
        if args.dry_run:
            return _dry_run(sides, sets, args.quick, seeds)
        text = since_26_nov(sets, args.quick, seeds, args.cached_only, args.only or None,
                            args.include_earlier)
    else:
        change = parse_settings(args.set)
        if not change:
            p.error("give the change to judge with --set FIELD=VALUE (or --since-26-nov)")
        if args.dry_run:
            return _dry_run([base, {**base, **change}], sets, args.quick, seeds)
        label = settings_label(change)
        head = (f"### {label} against the default" + (f" (both with {settings_label(base)})"
                                                      if base else "")
                + f", equal steps, seeds {args.seeds}")
        text, _, _ = comparison({**base, **change}, base, sets, args.quick, seeds,
                                args.cached_only, cand_label=label)
        text = head + "\n\n" + text
    print(text)
    if args.out:
        from pathlib import Path

        Path(args.out).write_text(text + "\n")
    return 0


def _dry_run(sides: list[dict], sets, quick, seeds) -> int:
    unique = list({repr(sorted(s.items())): s for s in sides}.values())
    todo, total = pending(unique, sets, quick, seeds)
    print(f"{todo} of {total} network runs are not cached (code version "
          f"{cache.code_version()}): about {todo * NETWORK_SECONDS / 60:.0f} minutes on an idle "
          f"2-core machine ({NETWORK_SECONDS:.0f} s a run), several times more when it is busy.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
