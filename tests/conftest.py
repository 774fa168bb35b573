"""Shared fixtures: small seeded inputs, isolation of user settings, and the Qt probe."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

torch.set_num_threads(2)
# Results depend on the training's thread count and tests compare runs (module-scoped
# fixtures too, set up before any function-scoped one), so pin it for the whole session;
# subprocesses (the CLI tests) inherit it.
os.environ["MAXRF_SR_CPU_THREADS"] = "2"


def toy_painting(size: int = 32, n_maps: int = 3, scale: int = 4, seed: int = 0):
    """Piecewise-constant maps that follow coloured rectangles of a photo.

    Returns ``(hr_maps (B, H, W), lr_maps (B, h, w), rgb (H, W, 3) float in [0, 1])``.
    """
    rng = np.random.default_rng(seed)
    labels = np.zeros((size, size), dtype=int)
    for k in range(1, 6):
        r, c = rng.integers(0, size - 4, 2)
        hh, ww = rng.integers(4, max(5, size // 2), 2)
        labels[r : r + hh, c : c + ww] = k
    colours = rng.uniform(0.05, 0.95, (6, 3))
    comp = rng.uniform(0, 100, (6, n_maps)) * (rng.uniform(0, 1, (6, n_maps)) > 0.3)
    hr = np.moveaxis(comp[labels], -1, 0).astype(np.float32)
    h = size // scale
    lr = hr.reshape(n_maps, h, scale, h, scale).mean(axis=(2, 4)).astype(np.float32)
    return hr, lr, colours[labels].astype(np.float32)


@pytest.fixture
def toy():
    return toy_painting()


def write_toy_files(folder, size: int = 32):
    """A toy painting as files: ``maps.tif`` (Pb L, Hg L, Cu K) and ``photo.png``.

    Returns ``(maps path, photo path, lr_maps)``.
    """
    import imageio.v3 as iio

    from napari_maxrf_sr.io import write_element_stack

    _, lr, rgb = toy_painting(size=size)
    xrf = write_element_stack(folder / "maps.tif", lr, ("Pb L", "Hg L", "Cu K"))
    photo = folder / "photo.png"
    iio.imwrite(photo, (rgb * 255).round().astype(np.uint8))
    return xrf, photo, lr


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path, monkeypatch):
    """Never read or write the user's real settings file from a test."""
    monkeypatch.setenv("NAPARI_MAXRF_SR_SETTINGS", str(tmp_path / "settings.json"))
    monkeypatch.setenv("MAXRF_SR_CHECKPOINTS", str(tmp_path / "checkpoints"))
    monkeypatch.setenv("MAXRF_SR_LOGS", str(tmp_path / "logs"))


#: Fixtures and markers of tests that start Qt.
_QT_FIXTURES = {"qtbot", "qapp", "make_napari_viewer", "make_napari_viewer_proxy"}


def _needs_qt(item) -> bool:
    return bool(_QT_FIXTURES & set(getattr(item, "fixturenames", ()))) or (
        item.get_closest_marker("viewer") is not None)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    """Before any test creates a QApplication, check in a subprocess that Qt can start.

    Without Qt's system libraries a QApplication aborts Python and leaves pytest-xvfb's
    Xvfb behind; instead the session stops here (Xvfb is shut down as usual) and says
    which libraries and packages are missing.
    """
    if not any(_needs_qt(item) for item in items):
        return
    from tests.qt_probe import probe

    message = probe()
    if message:
        pytest.exit(message, returncode=3)
