"""Small files that declare gigabytes (issue 32, cases 5 to 10): time and memory of a refusal.

Usage::

    python -m benchmarks.small_files              # every case, CLI and napari reader
    python -m benchmarks.small_files --only 7,10  # some cases

Builds the issue's files in a temporary folder (the scan of ``maxrf-sr simulate --elements
3 --size 64``, turned into the crafted store), then runs each through a fresh process:

- ``cli``: ``maxrf-sr run --xrf FILE --rgb PHOTO --out sr.tif --method bicubic --quiet``;
- ``napari reader``: the plugin's ``get_reader(FILE)``, as napari calls it on its GUI thread.

For each it prints the exit code, the seconds the command itself took once the package was
imported ("work"), the whole process's wall time, and its peak resident memory (``ru_maxrss``
of the child, all of Python, NumPy, torch and the data included), next to the same command
on the simulated scan itself (``baseline``). A command still running after ``--timeout``
seconds is killed, and said so.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

#: Child process: import first, then time the call alone; "@@ seconds code" on stderr.
_CLI = ("import sys, time\n"
        "from napari_maxrf_sr.cli import main\n"
        "import napari_maxrf_sr.io, torch\n"
        "t = time.perf_counter()\n"
        "code = main(sys.argv[1:])\n"
        "print(f'@@ {time.perf_counter() - t:.3f} {code}', file=sys.stderr)\n"
        "sys.exit(code)\n")
_READER = ("import sys, time, warnings\n"
           "from napari_maxrf_sr._napari.reader import get_reader\n"
           "import napari_maxrf_sr.io\n"
           "t = time.perf_counter()\n"
           "with warnings.catch_warnings(record=True) as said:\n"
           "    warnings.simplefilter('always')\n"
           "    reader = get_reader(sys.argv[1])\n"
           "    layers = reader(sys.argv[1]) if reader else []\n"
           "code = 0 if layers else 1\n"
           "print(*(str(w.message)[:300] for w in said), sep='\\n', file=sys.stderr)\n"
           "print(f'@@ {time.perf_counter() - t:.3f} {code}', file=sys.stderr)\n"
           "sys.exit(code)\n")


def _sim(folder: Path) -> dict[str, Path]:
    subprocess.run([sys.executable, "-m", "napari_maxrf_sr.cli", "simulate", "--out",
                    str(folder / "sim"), "--elements", "3", "--size", "64"], check=True,
                   capture_output=True)
    return {"maps": folder / "sim" / "lr_maps.tif", "photo": folder / "sim" / "photo.png"}


def _our_store(folder: Path, sim: dict[str, Path]) -> Path:
    from napari_maxrf_sr.io import read_element_maps
    from napari_maxrf_sr.io.omezarr import write_ome_zarr

    maps, elements, _ = read_element_maps(sim["maps"])
    return write_ome_zarr(folder / "scan.ome.zarr", maps, elements, role="lr_map")


def _first_chunk(store: Path) -> Path:
    return sorted(f for f in (store / "0").rglob("*") if f.is_file() and f.name[0] != ".")[0]


def _hand_store(folder: Path, shape, chunks, chunk: bytes | None = None,
                name: str = "crafted.ome.zarr") -> Path:
    """An OME-Zarr (v2) written by hand; ``chunk`` (gzip) becomes its first chunk."""
    root = folder / name
    (root / "0").mkdir(parents=True)
    (root / ".zgroup").write_text('{"zarr_format": 2}')
    axes = [{"name": "c", "type": "channel"}, {"name": "y", "type": "space"},
            {"name": "x", "type": "space"}]
    (root / ".zattrs").write_text(json.dumps({"multiscales": [{
        "version": "0.4", "axes": axes, "datasets": [{"path": "0"}]}]}))
    (root / "0" / ".zarray").write_text(json.dumps({
        "zarr_format": 2, "shape": list(shape), "chunks": list(chunks), "dtype": "<f4",
        "compressor": None if chunk is None else {"id": "gzip", "level": 1},
        "fill_value": 0.0, "order": "C", "filters": None}))
    if chunk is not None:
        (root / "0" / "0.0.0").write_bytes(chunk)
    return root


def _datastack(folder: Path, shape, chunks, chunk: bytes | None = None) -> Path:
    """A maxrf4u ``.datastack`` (zarr in a zip) whose maps declare ``shape`` in ``chunks``."""
    import zipfile

    path = folder / "crafted.datastack"
    meta = {"zarr_format": 2, "shape": list(shape), "chunks": list(chunks), "dtype": "<f4",
            "compressor": None if chunk is None else {"id": "gzip", "level": 1},
            "fill_value": 0.0, "order": "C", "filters": None}
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(".zgroup", '{"zarr_format": 2}')
        zf.writestr("nmf_elementmaps/.zarray", json.dumps(meta))
        zf.writestr("nmf_atomnums/.zarray", json.dumps({**meta, "shape": [1], "chunks": [1],
                                                         "compressor": None}))
        zf.writestr("nmf_atomnums/0", np.array([82], "<f4").tobytes())
        if chunk is not None:
            zf.writestr("nmf_elementmaps/0.0.0", chunk)
    return path


def _gzip_zeros(n_bytes: int) -> bytes:
    """A gzip stream of ``n_bytes`` zeros (1 GiB is about 1 MB), made without holding them."""
    import io

    out = io.BytesIO()
    block = bytes(2**24)
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=1) as gz:
        for _ in range(n_bytes // len(block)):
            gz.write(block)
    return out.getvalue()


def _zlib_tiff_photo(folder: Path, side: int) -> Path:
    """A zlib TIFF photo of ``side`` x ``side`` black pixels, written tile by tile."""
    import tifffile

    tile = np.zeros((1024, 1024, 3), np.uint8)
    n = (-(-side // 1024)) ** 2
    path = folder / "bomb.tif"
    tifffile.imwrite(path, (tile for _ in range(n)), shape=(side, side, 3), dtype=np.uint8,
                     tile=(1024, 1024), compression="zlib", photometric="rgb")
    return path


def _png_photo(folder: Path, side: int) -> Path:
    from PIL import Image

    path = folder / "bomb.png"
    Image.new("RGB", (side, side)).save(path, optimize=True)
    return path


def _tiny_maps(folder: Path) -> Path:
    from napari_maxrf_sr.io import write_element_stack

    return write_element_stack(folder / "maps16.tif", np.ones((3, 16, 16), np.float32),
                               ("Pb L", "Hg L", "Cu K"))


def cases(folder: Path, sim: dict[str, Path]) -> dict[str, tuple[Path, Path]]:
    """The issue's files: name -> (maps, photo)."""
    def store(sub: str) -> Path:
        (folder / sub).mkdir()
        return _our_store(folder / sub, sim)

    def linked(sub: str, target: str) -> Path:
        root = store(sub)
        chunk = _first_chunk(root)
        chunk.unlink()
        chunk.symlink_to(target)
        return root

    def fifo(sub: str) -> Path:
        root = store(sub)
        chunk = _first_chunk(root)
        chunk.unlink()
        os.mkfifo(chunk)
        return root

    def sub(name: str) -> Path:
        (folder / name).mkdir()
        return folder / name

    big_chunk = _gzip_zeros(4 * 16384 * 16384)
    photo = sim["photo"]
    build: dict[str, Callable[[], tuple[Path, Path]]] = {
        "5 chunk is a FIFO": lambda: (fifo("c5"), photo),
        "6 chunk linked to /dev/urandom": lambda: (linked("c6", "/dev/urandom"), photo),
        "7 OME-Zarr 1 x 4000 x 4000 in 1 x 1 x 1 chunks": lambda: (
            _hand_store(sub("c7"), (1, 4000, 4000), (1, 1, 1)), photo),
        "8 datastack 1 x 1000 x 1000 in 1 x 1 x 1 chunks": lambda: (
            _datastack(sub("c8"), (1, 1000, 1000), (1, 1, 1)), photo),
        "9 OME-Zarr 1 x 16 x 16, chunk 1 x 16384 x 16384": lambda: (
            _hand_store(sub("c9a"), (1, 16, 16), (1, 16384, 16384), big_chunk), photo),
        "9 datastack 1 x 16 x 16, chunk 1 x 16384 x 16384": lambda: (
            _datastack(sub("c9b"), (1, 16, 16), (1, 16384, 16384), big_chunk), photo),
        "10 zlib TIFF photo 40000 x 40000, 16 x 16 maps": lambda: (
            _tiny_maps(sub("c10a")), _zlib_tiff_photo(folder / "c10a", 40000)),
        "10 PNG photo 12000 x 12000, 16 x 16 maps": lambda: (
            _tiny_maps(sub("c10b")), _png_photo(folder / "c10b", 12000)),
    }
    return {name: make() for name, make in build.items()}


def measure(argv: list[str], timeout: float) -> dict:
    """Run ``argv``; its exit code, the work's and the process's seconds, peak memory (MiB).

    The peak is measured by ``/usr/bin/time``: a child's own ``ru_maxrss`` would include
    this (larger) process's memory, which Linux counts in at ``exec``.
    """
    t0 = time.perf_counter()
    proc = subprocess.Popen(["/usr/bin/time", "-f", "@@M %M", *argv],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        err = proc.communicate(timeout=timeout)[1].decode(errors="replace")
        code: int | str = proc.returncode
    except subprocess.TimeoutExpired:
        proc.kill()
        err = proc.communicate()[1].decode(errors="replace")
        code = "killed"
    wall = time.perf_counter() - t0
    lines = err.splitlines()
    work = [line.split() for line in lines if line.startswith("@@ ")]
    peak = [float(line.split()[1]) / 1024 for line in lines if line.startswith("@@M ")]
    said = [line for line in lines if line.strip() and not line.startswith(("@@", "Command"))]
    return {"code": code, "work_s": float(work[0][1]) if work else None, "wall_s": wall,
            "peak_mib": peak[0] if peak else float("nan"),
            "said": said[-1][:160] if said else ""}


def _commands(maps: Path, photo: Path, out: Path) -> dict[str, list[str]]:
    cli = [sys.executable, "-c", _CLI, "run", "--xrf", str(maps), "--rgb", str(photo),
           "--out", str(out), "--method", "bicubic", "--quiet", "--force"]
    commands = {"cli": cli}
    if maps.suffix != ".tif" or maps.name == "lr_maps.tif":
        commands["napari reader"] = [sys.executable, "-c", _READER, str(maps)]
    return commands


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="case numbers, e.g. 7,10")
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sim = _sim(folder)
        rows = {"baseline (the simulated scan)": (sim["maps"], sim["photo"])}
        rows.update(cases(folder, sim))
        print(f"{'case':52s} {'entry':14s} {'exit':>6s} {'work s':>7s} {'wall s':>7s} "
              f"{'peak MiB':>9s}  message")
        for name, (maps, photo) in rows.items():
            if only and not name.startswith("baseline") and name.split()[0] not in only:
                continue
            for entry, command in _commands(maps, photo, folder / "sr.tif").items():
                r = measure(command, args.timeout)
                work = "-" if r["work_s"] is None else f"{r['work_s']:.2f}"
                print(f"{name:52s} {entry:14s} {r['code']!s:>6s} {work:>7s} "
                      f"{r['wall_s']:7.2f} {r['peak_mib']:9.0f}  {r['said']}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
