"""Screenshots of one example file per format of other programs, opened in napari.

Usage (from the repository root)::

    xvfb-run -a python docs/make_format_screenshots.py [--data /work/shared/data]

Writes, in a temporary folder, one file per format holding real element maps (the Fe, Cu
and Ti maps of a Rijksmuseum drawing from maxrf4u, in ``shared/data``; synthetic maps if
they are absent), each as that program writes it (the writers of
``tests/test_io_formats.py``), plus an OME-Zarr result; opens each in a napari viewer of
1366 x 768 with this plugin's reader, and saves ``docs/images/formats_*.png``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "images"
MAPS_DIR = "maxrf4u_rijksmuseum_drawing_element_maps"


def _maps(data: Path) -> tuple[np.ndarray, list[str]]:
    import imageio.v3 as iio

    folder = data / MAPS_DIR
    names = ["Fe", "Cu", "Ti"]
    files = [folder / f"RP-T-1898-A-3689_{n}_gray8.png" for n in names]
    if all(f.is_file() for f in files):
        maps = np.stack([iio.imread(f).astype(np.float32) for f in files])
        return maps[:, ::2, ::2].copy(), names  # the scan at a coarser step: a few seconds
    yy, xx = np.mgrid[:400, :380]
    return np.stack([np.sin(xx / 20) ** 2 * 100, (yy > 200) * 50.0 + 5,
                     np.hypot(yy - 200, xx - 190) / 3]).astype(np.float32), names


def _examples(folder: Path, maps: np.ndarray, symbols: list[str]) -> dict[str, Path]:
    sys.path.insert(0, str(ROOT))
    from tests.test_io_formats import maxrf4u_datastack, pymca_edf, pymca_h5, to_dms

    from napari_maxrf_sr.io.elements import SYMBOLS
    from napari_maxrf_sr.io.omezarr import write_ome_zarr

    lines = [f"{s}_K" for s in symbols]
    return {
        "pymca_edf": pymca_edf(folder / "drawing.edf", list(maps) + [np.sqrt(maps[0])],
                               lines + [f"s({lines[0]})"]),
        "pymca_h5": pymca_h5(folder / "drawing.h5", {"parameters": dict(zip(lines, maps,
                                                                              strict=True))}),
        "dms": to_dms(str(folder), "drawing", maps, [f"{s} K" for s in symbols]),
        "datastack": maxrf4u_datastack(folder / "drawing.datastack", {
            "nmf_elementmaps": maps,
            "nmf_atomnums": np.array([SYMBOLS.index(s) + 1 for s in symbols])}),
        "ome_zarr": write_ome_zarr(folder / "drawing_sr.ome.zarr",
                                   np.repeat(np.repeat(maps, 4, axis=1), 4, axis=2),
                                   [f"{s} K" for s in symbols], scale=4),
    }


def _hide_toasts(viewer) -> None:
    """Close napari's pop-up notifications so that they do not cover the picture."""
    from napari._qt.dialogs.qt_notification import NapariQtNotification

    for toast in viewer.window._qt_window.findChildren(NapariQtNotification):
        toast.close()


def _small_png(path: Path) -> None:
    """Keep the screenshot small: 256 colours are plenty for napari's flat interface."""
    from PIL import Image

    with Image.open(path) as im:
        small = im.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)


def main(argv: list[str] | None = None) -> int:
    """Write the example files, open each in napari and save the screenshots."""
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    args = p.parse_args(argv)
    import napari

    maps, symbols = _maps(Path(args.data))
    with tempfile.TemporaryDirectory() as tmp:
        for kind, path in _examples(Path(tmp), maps, symbols).items():
            viewer = napari.Viewer(title=f"napari-maxrf-sr: {path.name}")
            viewer.window._qt_window.resize(1366, 768)
            layers = viewer.open(str(path), plugin="napari-maxrf-sr")
            for layer in layers[1:]:
                layer.visible = False  # the first map alone, the others listed
            viewer.layers.selection.active = layers[0]
            viewer.reset_view()
            _hide_toasts(viewer)
            napari.qt.get_qapp().processEvents()
            shot = OUT / f"formats_{kind}.png"
            viewer.screenshot(str(shot), canvas_only=False)
            _small_png(shot)
            print(f"{shot.name}: {[layer.name for layer in layers]}")
            viewer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
