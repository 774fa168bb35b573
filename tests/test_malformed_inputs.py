"""Bad input, all of it: one table of malformed inputs, driven through every entry point.

Each row of :data:`CASES` is a malformed input (or an odd one that must still
work) and says, per entry point, what the user must be told:

``api``
    :func:`napari_maxrf_sr.super_resolve` on arrays.
``reader``
    :func:`~napari_maxrf_sr.io.read_element_maps` and
    :func:`~napari_maxrf_sr.io.read_photo` on files written to ``tmp_path``.
``napari_reader``
    The napari reader contribution (``get_reader``): never raises; for a file
    of ours that it cannot read, a warning (a napari notification) says why.
``cli``
    ``maxrf-sr run`` through :func:`napari_maxrf_sr.cli.main`.
``widget``
    The super-resolution dock widget, with the data in napari layers.

A refused row must be refused before training starts (training is replaced by
a trap), with a message that names the problem and says what to do, and must
leave no file, no temporary file and no new layer behind, and the input
untouched. An accepted row must run to the end and, where it is odd, say so.
The messages are listed in docs/malformed_inputs.md.
"""

from __future__ import annotations

import hashlib
import re
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest

from napari_maxrf_sr.api import super_resolve
from napari_maxrf_sr.cli import main
from napari_maxrf_sr.errors import InputError
from napari_maxrf_sr.io import read_element_maps, read_photo

from .malformed_cases import CASES as BASIC_CASES
from .malformed_cases_formats import CASES as FORMAT_CASES
from .malformed_cases_reliability import CASES as RELIABILITY_CASES
from .malformed_cases_round3 import CASES as ROUND3_CASES
from .malformed_table import ELEMENTS, ENTRIES, TINY, Case, Expect, good_maps, good_photo

CASES = [*BASIC_CASES, *RELIABILITY_CASES, *FORMAT_CASES, *ROUND3_CASES]


def _trains(entry: str, case: Case, exp: Expect) -> bool:
    """Whether a row trains the network: accepted input, through the API or the panel, or
    through the command line when the row asks for the network."""
    if not exp.accepted:
        return False
    args = list(case.cli_args)
    asked = args[args.index("--method") + 1] if "--method" in args else None
    return entry in ("api", "widget") or (entry == "cli" and asked == "adun")


def _params(entry: str) -> list:
    """The table's rows for one entry point, with their xfail marks."""
    out = []
    for case in CASES:
        exp = case.expect.get(entry)
        if exp is None:
            continue
        marks = [pytest.mark.xfail(strict=True, reason=exp.xfail)] if exp.xfail else []
        if _trains(entry, case, exp):
            marks.append(pytest.mark.slow)
        out.append(pytest.param(case, exp, id=case.id, marks=marks))
    return out


def test_table_is_consistent():
    """Every row names real entry points, a problem and a fix for each refusal."""
    assert len({c.id for c in CASES}) == len(CASES)
    for case in CASES:
        assert case.expect and set(case.expect) <= set(ENTRIES), case.id
        for exp in case.expect.values():
            assert exp.accepted or (exp.problem and exp.fix), case.id


# ---------------------------------------------------------------------------- checks
def _assert_message(text: str, exp: Expect) -> None:
    """The message names the problem and says what to do."""
    for pattern in (exp.problem, exp.fix):
        if pattern is not None:
            assert re.search(pattern, text), f"{pattern!r} not in:\n{text}"


def _forbid_training(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the start of training fail the test: bad input must be refused before.

    Every entry point starts training through the public ``train_prepared`` (the API and
    the command line by way of ``train``, the panel directly), after the inputs passed
    their checks: that is the seam the trap takes.
    """
    from napari_maxrf_sr.core import train

    def trap(*args, **kwargs):
        raise AssertionError("training started on input that should have been refused")

    monkeypatch.setattr(train, "train_prepared", trap)


class _PeakMemory:
    """Largest allocation traced while the block runs (NumPy reports its buffers)."""

    def __init__(self, limit_mib: float | None) -> None:
        self.limit = limit_mib

    def __enter__(self) -> _PeakMemory:
        if self.limit is not None:
            tracemalloc.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.limit is not None:
            peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
            if exc[0] is None or issubclass(exc[0], InputError | SystemExit):
                assert peak < self.limit, f"{peak:.0f} MiB allocated before refusing"


def _snapshot(arr: np.ndarray) -> np.ndarray | None:
    """A copy to compare with afterwards (read-only broadcast views cannot change)."""
    return None if not arr.flags.writeable else arr.copy()


def _unchanged(arr: np.ndarray, before: np.ndarray | None) -> None:
    if before is not None:
        np.testing.assert_array_equal(arr, before)


def _digest(paths: dict[str, Path]) -> dict[str, str]:
    out = {}
    for key, p in paths.items():
        if p.is_file() and p.stat().st_blocks * 512 >= p.stat().st_size:  # not sparse
            out[key] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


# ----------------------------------------------------------------------- entry points
@pytest.mark.parametrize(("case", "exp"), _params("api"))
def test_api(case: Case, exp: Expect, monkeypatch, tmp_path):
    if case.setup:
        case.setup(monkeypatch, tmp_path)
    maps, photo = case.arrays()
    before = _snapshot(maps), _snapshot(photo)
    kwargs = {"config": TINY, "device": "cpu", **case.api_kwargs}
    if not exp.accepted:
        _forbid_training(monkeypatch)
        with _PeakMemory(case.max_alloc_mib), pytest.raises(InputError) as info:
            super_resolve(maps, photo, case.scale, **kwargs)
        _assert_message(str(info.value), exp)
    else:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = super_resolve(maps, photo, case.scale, **kwargs)
        said = [str(w.message) for w in caught] + list(result.diagnostics["notes"])
        _assert_message("\n".join(said), exp)
        assert result.maps.shape[1:] == np.shape(photo)[:2]
        assert np.isfinite(result.maps).all()
    _unchanged(maps, before[0])
    _unchanged(photo, before[1])


@pytest.mark.parametrize(("case", "exp"), _params("reader"))
def test_reader(case: Case, exp: Expect, monkeypatch, tmp_path):
    files = case.write_files(tmp_path)
    if case.setup:
        case.setup(monkeypatch, tmp_path)
    kwargs = {}
    if files["xrf"].suffix == ".rpl":
        kwargs = {"elements": ("Fe K",), "zero_ev": 0, "ev_per_channel": 100}
    if not exp.accepted:
        with _PeakMemory(case.max_alloc_mib), pytest.raises((InputError, OSError)) as info:
            read_element_maps(files["xrf"], **kwargs)
            read_photo(files["rgb"])
        assert isinstance(info.value, InputError | FileNotFoundError), repr(info.value)
        _assert_message(str(info.value), exp)
    else:
        with _PeakMemory(case.max_alloc_mib):
            maps, _, meta = read_element_maps(files["xrf"], **kwargs)
        photo, notes = read_photo(files["rgb"])
        _assert_message("\n".join(notes + meta.notes), exp)
        np.testing.assert_array_equal(maps, (case.expected_maps or good_maps)())
        np.testing.assert_array_equal(photo[..., :3] // (257 if photo.dtype == np.uint16 else 1),
                                      good_photo())


@pytest.mark.parametrize(("case", "exp"), _params("napari_reader"))
def test_napari_reader(case: Case, exp: Expect, monkeypatch, tmp_path):
    from napari_maxrf_sr._napari.reader import get_reader

    files = case.write_files(tmp_path)
    if case.setup:
        case.setup(monkeypatch, tmp_path)
    with _PeakMemory(case.max_alloc_mib), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reader = get_reader(str(files["xrf"]))  # must not raise
    assert reader is None, "a file that cannot be read must be left to other readers"
    _assert_message("\n".join(str(w.message) for w in caught), exp)


@pytest.mark.parametrize(("case", "exp"), _params("cli"))
def test_cli(case: Case, exp: Expect, monkeypatch, tmp_path, capsys):
    inputs = tmp_path / "in"
    inputs.mkdir()
    files = case.write_files(inputs)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "taken").mkdir()
    out = out_dir / case.out
    digests = _digest(files)
    if case.setup:
        case.setup(monkeypatch, inputs)
    out_args = case.cli_out(out_dir, files) if case.cli_out else ["--out", str(out)]
    before = sorted(str(p.relative_to(out_dir)) for p in out_dir.rglob("*"))
    argv = ["run", "--xrf", str(files["xrf"]), "--rgb", str(files["rgb"]), *out_args,
            "--quiet", "--device", "cpu"]
    if case.scale is not None:
        argv += ["--scale", str(case.scale)]
    if not exp.accepted:
        _forbid_training(monkeypatch)
        argv += ["--preset", "fast", "--max-seconds", "1", *case.cli_args]
        with _PeakMemory(case.max_alloc_mib):
            try:
                code = main(argv)
            except SystemExit as exc:  # argparse: a bad command line
                code = exc.code
        err = capsys.readouterr().err
        assert code != 0, err
        _assert_message(err, exp)
        left = sorted(str(p.relative_to(out_dir)) for p in out_dir.rglob("*"))
        assert left == before, f"files left behind: {left}"
    else:
        if "--method" not in case.cli_args:
            argv += ["--method", "bicubic_projected"]
        code = main(argv + list(case.cli_args))
        err = capsys.readouterr().err
        assert code == 0, err
        _assert_message(err, exp)
        maps, _, _ = read_element_maps(out)
        assert np.isfinite(maps).all()
        assert sorted(p.name for p in out_dir.iterdir()) == sorted(["taken", out.name])
    assert _digest(files) == digests, "an input file was changed"


@pytest.mark.viewer
@pytest.mark.parametrize(("case", "exp"), _params("widget"))
def test_widget(case: Case, exp: Expect, monkeypatch, tmp_path, qtbot, vm):
    from napari_maxrf_sr._napari.sr_widget import SuperResolutionWidget

    if case.setup:
        case.setup(monkeypatch, tmp_path)
    viewer = vm
    maps, photo = case.arrays()
    if maps.ndim == 3:
        for name, plane in zip(ELEMENTS, maps, strict=False):
            viewer.add_image(plane, name=name,
                             metadata={"maxrf_sr": {"role": "lr_map", "element": name}})
    else:
        viewer.add_image(maps, name="maps", metadata={"maxrf_sr": {"role": "lr_map"}})
    viewer.add_image(photo, name="photo", rgb=photo.ndim == 3 and photo.shape[-1] in (3, 4))
    layers_before = [(layer.name, _snapshot(np.asarray(layer.data))) for layer in viewer.layers]
    w = SuperResolutionWidget(viewer)
    qtbot.addWidget(w)
    w.preset_combo.setCurrentText("fast")
    w.set_advanced(**case.widget_config)
    if not exp.accepted:
        _forbid_training(monkeypatch)
        with _PeakMemory(case.max_alloc_mib):
            w.start()  # must not raise
        assert not w.running
        _assert_message(w.status_label.text(), exp)
        assert [layer.name for layer in viewer.layers] == [n for n, _ in layers_before]
    else:
        w.start()
        assert w.running, w.status_label.text()
        _assert_message(w.status_label.text(), exp)  # "Starting: <notes>"
        qtbot.waitUntil(lambda: not w.running, timeout=60_000)
        added = [layer for layer in viewer.layers if layer.name.endswith(" (SR)")]
        assert len(added) == 2, w.status_label.text()
        assert all(np.isfinite(layer.data).all() for layer in added)
    for name, data in layers_before:
        _unchanged(np.asarray(viewer.layers[name].data), data)
