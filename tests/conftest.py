"""Shared fixtures: small seeded inputs, a viewer model, notifications, isolation of user
settings, the check that tests which train are marked slow, and the Qt probe."""

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


@pytest.fixture
def files(tmp_path, request):
    """:func:`write_toy_files` in ``tmp_path``: ``(maps path, photo path, lr_maps)``.

    The painting is 32 px wide; ``@pytest.mark.parametrize("files", [64], indirect=True)``
    asks for another size.
    """
    return write_toy_files(tmp_path, size=getattr(request, "param", 32))


@pytest.fixture
def vm(qtbot):
    """A napari viewer model without a canvas: enough for the widgets, and fast to create."""
    from napari.components import ViewerModel

    return ViewerModel()


class Notifications(list):
    """What napari showed as notifications, as ``(kind, text)``; kind is "info",
    "warning" or "error"."""

    def of(self, kind: str) -> list[str]:
        """The texts of one kind, in order."""
        return [text for k, text in self if k == kind]

    @property
    def texts(self) -> list[str]:
        """Every text, in order."""
        return [text for _, text in self]


@pytest.fixture
def notifications(monkeypatch) -> Notifications:
    """Everything shown in napari's notifications (the panel's, the alignment widget's,
    the reader's): the one way tests read them. napari's own functions are replaced,
    so nothing of the package is patched."""
    from napari.utils import notifications as napari_notifications

    shown = Notifications()
    for kind in ("info", "warning", "error"):
        monkeypatch.setattr(napari_notifications, f"show_{kind}",
                            lambda text, *a, _kind=kind, **k: shown.append((_kind, str(text))))
    return shown


#: One entry per training started in this process (see _count_training).
_TRAININGS: list[str] = []


@pytest.fixture(scope="session", autouse=True)
def _count_training():
    """Count the trainings started, wherever every entry point starts them
    (``core.train.train_prepared``: the API, the command line in this process, the panel),
    module-scoped fixtures included."""
    from napari_maxrf_sr.core import train as training

    real = training.train_prepared

    def counted(*args, **kwargs):
        _TRAININGS.append("train")
        return real(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(training, "train_prepared", counted)
        yield


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    item.stash[_TRAININGS_BEFORE] = len(_TRAININGS)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A test that trains a network (in its fixtures too) must be marked ``slow``, so that
    ``-m "not slow"`` stays quick: its teardown is reported as failed otherwise."""
    report = (yield).get_result()
    if (call.when == "teardown" and report.passed
            and len(_TRAININGS) > item.stash.get(_TRAININGS_BEFORE, len(_TRAININGS))
            and item.get_closest_marker("slow") is None):
        report.outcome = "failed"
        report.longrepr = f"{item.nodeid} trains a network: mark it slow (pytest.mark.slow)"


_TRAININGS_BEFORE = pytest.StashKey[int]()


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
