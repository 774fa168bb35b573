"""On-disk cache of benchmark runs, so that re-printing a table does not train again.

One entry per (case, method, settings, code version):

- the **case** by a fingerprint of its arrays (scan, photo, truth, scale), so a changed
  simulator makes new entries;
- the **settings** as the difference between the network's full configuration and its
  preset's (so ``--set down_colours=pixels``, today's default, is the default's entry);
  baselines have none;
- the **code version**: a hash of the ``.py`` files of the ``napari_maxrf_sr`` package that
  is imported (with ``PYTHONPATH`` first, the tree under test), so any change to the
  method trains again. Left out: the napari widgets (``_napari/``), the command line
  (``cli/``), the file readers and writers (``io/``: a benchmark hands its cases to
  ``super_resolve`` as arrays, built by ``benchmarks.cases`` with imageio) and the
  simulator (``simulate/``: a changed simulator changes the case's fingerprint instead),
  none of which a benchmark run calls to train or to measure; so a change to the panel or
  to a file reader does not make hours of runs stale. The benchmark's own code is not
  in it either. Each file is hashed as its syntax tree without docstrings, so a changed
  docstring, comment or line break keeps the cache; a changed statement does not.

Each entry is ``<key>.json`` (what the run measured about itself: seconds, memory, the
held-out check, the thread count, and the metrics row with the hash of
``benchmarks/metrics.py`` it was computed with) and
``<key>.npz`` (the answer and the answer before its projection, each map divided by its
peak and stored as float16, the peaks as float64). When the metrics code changes, rows are
recomputed from the stored maps, not retrained. Metrics are always computed from the stored
(rounded) maps, so a fresh run and a re-print give the same digits; float16 keeps about
3.3 significant digits of each map's peak, far below the errors measured.

The folder is ``benchmarks/out/cache`` (git-ignored); ``MAXRF_SR_BENCH_CACHE`` moves it.
The thread count is recorded, not keyed: a re-run on another number of threads reuses
the entry (training's summation order, hence its last digits, depends on the count).
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import time
from functools import cache
from pathlib import Path

import numpy as np


def cache_dir() -> Path:
    """``$MAXRF_SR_BENCH_CACHE``, else ``benchmarks/out/cache`` (read at every call)."""
    return Path(os.environ.get("MAXRF_SR_BENCH_CACHE",
                               Path(__file__).resolve().parent / "out" / "cache"))


def _sha(*parts: bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(hashlib.sha256(p).digest())
    return h.hexdigest()


#: Sub-packages a benchmark run does not use to train or to measure (see the module doc).
NOT_THE_METHOD = frozenset({"_napari", "cli", "io", "simulate"})


@cache
def code_version() -> str:
    """Hash of the method's ``.py`` files in the imported package (12 hex digits).

    Every file except those under :data:`NOT_THE_METHOD`, each as :func:`code_text`.
    """
    import napari_maxrf_sr

    root = Path(napari_maxrf_sr.__file__).resolve().parent
    files = sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts
                   and p.relative_to(root).parts[0] not in NOT_THE_METHOD)
    return _sha(*(str(p.relative_to(root)).encode() + b"\0" + code_text(p.read_text("utf-8"))
                  for p in files))[:12]


def code_text(source: str) -> bytes:
    """What a module does, without its docstrings, comments or layout.

    The dump of its syntax tree (no line numbers) with every module, class and function
    docstring taken out: two sources that differ only there give the same bytes.
    """
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)):
                node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree).encode()


@cache
def metrics_version() -> str:
    """Hash of the code that turns maps into a table row (``benchmarks/metrics.py``)."""
    return _sha((Path(__file__).resolve().parent / "metrics.py").read_bytes())[:12]


def case_fingerprint(case) -> str:
    """Hash of a case's arrays: scan, photo, truth and scale (16 hex digits)."""
    arrays = (case.lr_maps, case.rgb, case.hr_maps)
    return _sha(*(np.ascontiguousarray(a).tobytes() + str(a.shape).encode() for a in arrays),
                str(case.scale).encode())[:16]


def canonical_settings(method: str, settings: dict | None, preset: str,
                       max_seconds: float | None) -> dict:
    """The settings that make a run differ from its preset's (none for a baseline)."""
    if method != "network" and not method.startswith("network"):
        return {}
    from napari_maxrf_sr.core.config import config_from_preset

    full = config_from_preset(preset, **(settings or {})).to_dict()
    if max_seconds is not None:
        full["max_seconds"] = float(max_seconds)
    base = config_from_preset(preset).to_dict()
    return {"preset": preset, **{k: v for k, v in sorted(full.items()) if base.get(k) != v}}


def run_key(case, method: str, settings: dict | None = None, preset: str = "default",
            max_seconds: float | None = None) -> str:
    """The cache key of one run (24 hex digits)."""
    spec = {"case": case_fingerprint(case), "method": method,
            "settings": canonical_settings(method, settings, preset, max_seconds),
            "code": code_version()}
    return _sha(json.dumps(spec, sort_keys=True, default=str).encode())[:24]


def _pack(maps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    maps = np.asarray(maps, dtype=np.float64)
    peaks = np.abs(maps).reshape(len(maps), -1).max(axis=1)
    peaks[~(peaks > 0)] = 1.0
    return (maps / peaks[:, None, None]).astype(np.float16), peaks


def _unpack(scaled: np.ndarray, peaks: np.ndarray) -> np.ndarray:
    return (scaled.astype(np.float64) * peaks[:, None, None]).astype(np.float32)


def rounded(maps: np.ndarray) -> np.ndarray:
    """``maps`` as the cache stores them (so fresh and cached rows agree to the digit)."""
    return _unpack(*_pack(maps))


def save(key: str, record: dict, maps: np.ndarray, raw: np.ndarray) -> None:
    """Store one run: its record (JSON) and its maps (npz), atomically."""
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    m, mp = _pack(maps)
    r, rp = _pack(raw)
    tmp = cache / f".{key}.{os.getpid()}.npz"
    np.savez_compressed(tmp, maps=m, maps_peak=mp, raw=r, raw_peak=rp)
    tmp.replace(cache / f"{key}.npz")
    save_record(key, record)


def save_record(key: str, record: dict) -> None:
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    record = {**record, "key": key, "code": code_version(),
              "saved": time.strftime("%Y-%m-%d %H:%M:%S")}
    tmp = cache / f".{key}.{os.getpid()}.json"
    tmp.write_text(json.dumps(record, indent=1, sort_keys=True, default=_json_default))
    tmp.replace(cache / f"{key}.json")


def _json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.bool_):
        return bool(o)
    return str(o)


def load_record(key: str) -> dict | None:
    path = cache_dir() / f"{key}.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def load_maps(key: str) -> tuple[np.ndarray, np.ndarray] | None:
    path = cache_dir() / f"{key}.npz"
    if not path.is_file():
        return None
    with np.load(path) as z:
        return _unpack(z["maps"], z["maps_peak"]), _unpack(z["raw"], z["raw_peak"])
