"""Issue 32 (reliability, round three): the cases the malformed-input table cannot hold.

Outputs that are or hold an input folder, stores whose sizes are read from their headers
before anything else, results checked against the scan before they are written, model
and checkpoint files that do not fit, the scheduler tried before training, full disks and
killed writers of pyramids, look-alike names, odd photos, an interrupted run that can
always resume, and (issue 33, item 7) the command's help, words and records. The table's
own rows are in ``malformed_cases_round3.py``; ``docs/malformed_inputs.md`` lists both.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
import unicodedata
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch

from napari_maxrf_sr import atomic
from napari_maxrf_sr.cli import main
from napari_maxrf_sr.cli import outputs as cli_outputs
from napari_maxrf_sr.core.checkpoint import CheckpointPlan
from napari_maxrf_sr.core.config import SRConfig
from napari_maxrf_sr.core.modelio import load_model, save_model
from napari_maxrf_sr.errors import ModelFileError, OutputWriteError
from napari_maxrf_sr.io import large, read_element_maps, read_photo
from napari_maxrf_sr.io.omezarr import write_ome_zarr

from .conftest import write_toy_files
from .malformed_cases_round3 import dms_names, our_pyramid, outside_level
from .malformed_table import ELEMENTS, _sparse, _tiff_head, good_maps, good_photo


def _tree_digest(folder: Path) -> str:
    """One hash of every file under ``folder`` (names and contents)."""
    h = hashlib.sha256()
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(folder)).encode() + f.read_bytes())
    return h.hexdigest()


def _trap(monkeypatch, module, name: str) -> None:
    """Make ``module.name`` fail the test when it is called."""
    def trap(*args, **kwargs):
        raise AssertionError(f"{name} was called")

    monkeypatch.setattr(module, name, trap)


def _no_training(monkeypatch) -> None:
    """Training must not start (checks inside ``train_prepared`` may still run)."""
    from napari_maxrf_sr.core import train

    _trap(monkeypatch, train, "_run_with_threads")


def _run(capsys, *argv: str) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


# ================================================== 1, 2, 3: outputs never are or hold inputs
def _v3_ome_zarr(tmp: Path) -> Path:
    import zarr

    root = zarr.open_group(str(tmp / "scan.ome.zarr"), mode="w", zarr_format=3)
    root.attrs["ome"] = {"version": "0.5", "multiscales": [{"axes": [
        {"name": "c", "type": "channel"}, {"name": "y", "type": "space"},
        {"name": "x", "type": "space"}], "datasets": [{"path": "0"}]}]}
    root.create_array("0", data=good_maps(), chunks=(1, 8, 8))
    return tmp / "scan.ome.zarr"


@pytest.mark.parametrize("version", [2, 3])
def test_an_ome_zarr_input_is_never_replaced_with_force(tmp_path, capsys, monkeypatch,
                                                         version):
    store = our_pyramid(tmp_path) if version == 2 else _v3_ome_zarr(tmp_path)
    photo = tmp_path / "photo.png"
    import imageio.v3 as iio

    iio.imwrite(photo, good_photo())
    before = _tree_digest(store)
    monkeypatch.chdir(tmp_path)
    code, err = _run(capsys, "run", "--xrf", "scan.ome.zarr", "--rgb", "photo.png", "--out",
                     "./scan.ome.zarr", "--force", "--method", "bicubic", "--quiet")
    assert code == 1
    assert "--out 'scan.ome.zarr' is the folder 'scan.ome.zarr' of --xrf" in err
    assert "--force or not" in err
    assert _tree_digest(store) == before


def test_an_output_folder_never_holds_an_input(tmp_path, capsys):
    proj = our_pyramid(tmp_path)
    xrf, photo, _ = write_toy_files(proj)
    before = _tree_digest(proj)
    code, err = _run(capsys, "run", "--xrf", xrf, "--rgb", photo, "--out", proj, "--force",
                     "--method", "bicubic", "--quiet")
    assert code == 1
    assert re.search(r"--out '.*scan\.ome\.zarr' holds '.*maps\.tif', the input of --xrf", err)
    assert "Move the input out of it" in err
    assert _tree_digest(proj) == before


def test_out_naming_the_store_a_level_points_to_is_never_written(tmp_path, capsys):
    scan = outside_level(tmp_path, absolute=False)
    target = tmp_path / "elsewhere" / "scan.ome.zarr"
    before = _tree_digest(target)
    photo = tmp_path / "photo.png"
    import imageio.v3 as iio

    iio.imwrite(photo, good_photo())
    code, err = _run(capsys, "run", "--xrf", scan, "--rgb", photo, "--out", target,
                     "--force", "--method", "bicubic", "--quiet")
    assert code == 1 and "outside the folder you opened" in err
    assert _tree_digest(target) == before


# ========================================== 8: shapes from the headers of other formats
def _edf(tmp: Path) -> Path:
    pytest.importorskip("fabio")
    from .test_io_formats import pymca_edf

    return pymca_edf(tmp / "scan.edf", list(good_maps()), ["Pb_L", "Hg_L"])


def _datastack(tmp: Path) -> Path:
    from .test_io_formats import maxrf4u_datastack

    return maxrf4u_datastack(tmp / "scan.datastack", {
        "nmf_elementmaps": good_maps(), "nmf_atomnums": np.array([82, 80])})


@pytest.mark.parametrize("kind", ["ome-zarr", "dms", "edf", "datastack"])
def test_a_photo_that_does_not_fit_is_refused_from_the_headers(tmp_path, capsys,
                                                                monkeypatch, kind):
    import imageio.v3 as iio

    from napari_maxrf_sr import io as napari_io
    from napari_maxrf_sr.io.shapes import maps_shape

    xrf = {"ome-zarr": our_pyramid, "dms": lambda t: dms_names(t, list(ELEMENTS)),
           "edf": _edf, "datastack": _datastack}[kind](tmp_path)
    assert maps_shape(xrf) == (2, 8, 8)
    photo = tmp_path / "photo.png"
    iio.imwrite(photo, np.zeros((40, 40, 3), np.uint8))
    _trap(monkeypatch, napari_io, "read_element_maps")  # refused before the maps are read
    code, err = _run(capsys, "run", "--xrf", xrf, "--rgb", photo, "--out",
                     tmp_path / "sr.tif", "--scale", "4", "--method", "bicubic", "--quiet")
    assert code == 1 and "With scale 4 the photo must be 32 x 32 px" in err, err


# ============================================= 10: photo bombs, scale and memory, first
def test_a_20000_px_tiff_photo_for_16_px_maps_is_refused_before_it_is_decoded(
        tmp_path, capsys, monkeypatch):
    from napari_maxrf_sr import io as napari_io

    np.save(tmp_path / "maps.npy", np.ones((2, 16, 16), np.float32))
    n = 20000 * 20000 * 3
    photo = _sparse(tmp_path / "photo.tif", _tiff_head(20000, 20000, 3, 8, n), n)
    _trap(monkeypatch, napari_io, "read_photo")
    code, err = _run(capsys, "run", "--xrf", tmp_path / "maps.npy", "--rgb", photo, "--out",
                     tmp_path / "sr.tif", "--method", "bicubic", "--quiet")
    assert code == 1
    assert "The photo is 1250 times the maps' size (scale 1250)" in err
    assert "at most 32 is accepted" in err


def test_work_that_would_not_fit_in_memory_is_refused_first(files, tmp_path, capsys,
                                                             monkeypatch):
    from napari_maxrf_sr import io as napari_io

    xrf, photo, _ = files
    monkeypatch.setattr(large, "available_memory", lambda: 100 * 2**20)
    _trap(monkeypatch, napari_io, "read_element_maps")
    code, err = _run(capsys, "run", "--xrf", xrf, "--rgb", photo, "--out", tmp_path / "s.tif",
                     "--method", "bicubic", "--quiet")
    assert code == 1
    assert re.search(r"This will need about 0\.\d GiB of memory; this computer has 0\.1 GiB "
                     r"free\. Work on a crop of the painting", err), err
    monkeypatch.undo()
    assert main(["run", "--xrf", str(xrf), "--rgb", str(photo), "--out",
                 str(tmp_path / "s.tif"), "--method", "bicubic", "--quiet"]) == 0


def test_the_memory_estimate_counts_the_decoded_photo_and_the_result(tmp_path, monkeypatch):
    from napari_maxrf_sr.io.shapes import photo_nbytes

    seen = {}

    def record(parts, advice):
        seen.update(parts)

    monkeypatch.setattr(large, "check_memory_for", record)
    path = tmp_path / "p.tif"
    tifffile.imwrite(path, np.zeros((8, 8, 3), np.uint16), photometric="rgb")
    assert photo_nbytes(path, (10000, 20000)) == 10000 * 20000 * 6
    from napari_maxrf_sr.cli.runs import _check_memory

    class Args:
        rgb = str(path)

    _check_memory(Args(), (3, 2500, 5000), (10000, 20000), network=False, pyramid=False)
    assert seen["the result"] == 2 * 4 * 3 * 10000 * 20000
    _check_memory(Args(), (3, 2500, 5000), (10000, 20000), network=True, pyramid=True)
    assert seen["the result"] == 0  # written tile by tile


def test_the_api_refuses_a_result_that_would_not_fit_in_memory_first(monkeypatch):
    from napari_maxrf_sr import api

    _trap(monkeypatch, api, "_run_network")
    _trap(monkeypatch, api, "_run_baseline")
    monkeypatch.setattr(large, "available_memory", lambda: 100 * 2**20)
    for method in ("adun", "bicubic"):
        with pytest.raises(Exception, match=r"This will need about 0\.\d GiB of memory; this "
                           r"computer has 0\.1 GiB free\. Train without computing the maps"):
            api.super_resolve(good_maps(), good_photo(), 4, method=method)
    with pytest.raises(AssertionError, match="_run_network was called"):
        api.super_resolve(good_maps(), good_photo(), 4, infer=False)  # no maps held: it runs


# ====================================== 12, 17a, 17d: model files that do not fit the scan
def _model_file(tmp: Path, lr: np.ndarray, edit=None) -> Path:
    """A (not trained) model for ``lr``, saved, then its saved payload edited."""
    from napari_maxrf_sr.core.model import ListaGenerator
    from napari_maxrf_sr.core.normalisation import MapNormaliser
    from napari_maxrf_sr.core.trained_model import TrainedModel

    cfg = SRConfig(n_atoms=8, calibration_radius=0)
    model = TrainedModel(ListaGenerator.from_config(len(lr) + 3, cfg).eval(),
                         MapNormaliser.fit(lr), cfg, ("Pb L", "Hg L", "Cu K"), 4)
    path = save_model(model, tmp / "m.pt")
    if edit is not None:
        payload = torch.load(path, weights_only=True)
        edit(payload)
        torch.save(payload, path)
    return path


def _lam_out(payload) -> None:
    """The issue's model: an output offset of 1e30 (and no final sigmoid to hide it)."""
    payload["state_dict"]["lam_out"].fill_(1e30)
    payload["state_dict"]["out_blend"].fill_(0.0)


@pytest.mark.parametrize("out", ["sr.tif", "band.tif", "sr.ome.zarr"])
def test_a_model_whose_result_disagrees_with_the_scan_writes_nothing(files, tmp_path, capsys,
                                                                     monkeypatch, out):
    xrf, photo, lr = files
    if out == "band.tif":  # written band by band into the file
        monkeypatch.setattr(large, "IN_MEMORY_LIMIT", 1)
    argv = ["apply", "--xrf", xrf, "--rgb", photo, "--device", "cpu"]
    (tmp_path / "ok").mkdir()
    good = _model_file(tmp_path / "ok", lr)
    code, err = _run(capsys, *argv, "--model", good, "--out", tmp_path / "ok" / out)
    assert code == 0, err  # the same model, untouched, agrees
    bad = _model_file(tmp_path, lr, _lam_out)
    code, err = _run(capsys, *argv, "--model", bad, "--out", tmp_path / out)
    assert code == 1
    assert re.search(r"The result does not agree with the scan: map '(Pb L|Hg L|Cu K)' "
                     r"(averages, over its blocks, to values up to|holds NaN)", err), err
    assert "It was not written" in err and "is damaged or does not fit these maps" in err
    assert "bug" not in err
    assert not (tmp_path / out).exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith((".", "maxrf-sr-rescued"))]


@pytest.mark.parametrize("out", ["sr.tif", "sr.ome.zarr"])
def test_apply_to_file_refuses_a_result_that_disagrees_with_the_scan(files, tmp_path, out):
    from napari_maxrf_sr import apply_to_file
    from napari_maxrf_sr.errors import ResultDisagrees

    _, _, lr = files
    rgb = read_photo(files[1])[0]
    (tmp_path / "ok").mkdir()
    good = load_model(_model_file(tmp_path / "ok", lr))
    assert apply_to_file(good, lr, rgb, tmp_path / "ok" / out).exists()
    bad = load_model(_model_file(tmp_path, lr, _lam_out))
    with pytest.raises(ResultDisagrees, match=r"does not agree with the scan: map .* It was "
                       r"not written\. The model is damaged or does not fit these maps"):
        apply_to_file(bad, lr, rgb, tmp_path / out)
    assert not [p for p in tmp_path.iterdir() if p.name not in ("ok", "m.pt", "maps.tif",
                                                                 "photo.png")]


@pytest.mark.viewer
def test_the_panel_refuses_a_model_whose_result_disagrees_with_the_scan(files, tmp_path,
                                                                        qtbot, vm):
    from napari_maxrf_sr._napari.sr_widget import SuperResolutionWidget

    from .test_sr_widget import FakeDialogs

    _, photo, lr = files
    for name, plane in zip(("Pb L", "Hg L", "Cu K"), lr, strict=True):
        vm.add_image(plane, name=name, metadata={"maxrf_sr": {"role": "lr_map",
                                                              "element": name}})
    vm.add_image(read_photo(photo)[0], name="photo", rgb=True)
    w = SuperResolutionWidget(vm)
    qtbot.addWidget(w)
    w.dialogs = FakeDialogs(open_=_model_file(tmp_path, lr, _lam_out))
    w.results.apply_btn.click()
    qtbot.waitUntil(lambda: not w.running, timeout=60_000)
    assert "The result does not agree with the scan" in w.status_label.text()
    assert "is damaged or does not fit these maps" in w.status_label.text()
    assert not [layer for layer in vm.layers if layer.name.endswith("(SR)")]


def test_a_run_whose_result_disagrees_with_the_scan_writes_nothing(files, tmp_path, capsys,
                                                                   monkeypatch):
    from napari_maxrf_sr.baselines import METHODS

    xrf, photo, _ = files
    real = METHODS["guided"]
    monkeypatch.setitem(METHODS, "guided", lambda *a, **k: real(*a, **k) * 1e6)
    code, err = _run(capsys, "run", "--xrf", xrf, "--rgb", photo, "--out",
                     tmp_path / "sr.ome.zarr", "--method", "guided", "--quiet")
    assert code == 1 and "The result does not agree with the scan" in err
    assert "choose another one (maxrf-sr methods)" in err
    assert not (tmp_path / "sr.ome.zarr").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith((".", "maxrf-sr-rescued"))]


def test_plain_bicubic_is_not_checked_against_the_scan(files, tmp_path, capsys):
    xrf, photo, _ = files
    code, err = _run(capsys, "run", "--xrf", xrf, "--rgb", photo, "--out", tmp_path / "b.tif",
                     "--method", "bicubic", "--quiet")
    assert code == 0, err


def _zero_is_peak(payload) -> None:
    payload["normaliser"]["zero_level"] = payload["normaliser"]["peak_level"]


def _nan_weight(payload) -> None:
    payload["state_dict"]["W"].view(-1)[0] = float("nan")


@pytest.mark.parametrize(("edit", "said"), [
    (_zero_is_peak, r"normalisation levels \(zero 0\.5, peak 0\.5\) must satisfy "
                    r"0 <= zero < peak <= 1"),
    (_nan_weight, r"holds NaN or infinite weights \(W\): the training that made it had "
                  r"failed\. Train the model again")])
def test_model_files_with_impossible_values_are_refused_plainly(files, tmp_path, capsys,
                                                                edit, said):
    xrf, photo, lr = files
    path = _model_file(tmp_path, lr, edit)
    with pytest.raises(ModelFileError, match=said):
        load_model(path)
    code, err = _run(capsys, "apply", "--model", path, "--xrf", xrf, "--rgb", photo,
                     "--out", tmp_path / "sr.tif")
    assert code == 1 and re.search(said, err) and "bug" not in err


# ======================================== 14, 17b, 17d: checkpoints that cannot be resumed
def _cli_checkpoint(tmp: Path, edit) -> tuple[list[str], Path]:
    """A checkpoint of exactly the run the returned command makes, then edited."""
    from napari_maxrf_sr.api import super_resolve
    from napari_maxrf_sr.cli import checkpoint_path

    xrf, photo, _ = write_toy_files(tmp)
    out = tmp / "sr.tif"
    maps, elements, _ = read_element_maps(xrf)
    rgb, _ = read_photo(photo)
    settings = {"stage1_steps": 6, "stage2_steps": 0, "n_atoms": 8}
    plan = CheckpointPlan(checkpoint_path(out), every_seconds=0.0)
    super_resolve(maps, rgb, 4, preset="fast", config=settings, device="cpu",
                  elements=elements, checkpoint=plan)
    payload = torch.load(plan.path, weights_only=True)
    edit(payload["state"])
    torch.save(payload, plan.path)
    argv = ["run", "--xrf", str(xrf), "--rgb", str(photo), "--out", str(out), "--scale", "4",
            "--preset", "fast", "--device", "cpu", "--quiet", "--resume"]
    for name, value in settings.items():
        argv += ["--set", f"{name}={value}"]
    return argv, plan.path


def _best_state_shape(state) -> None:
    state["best_state"]["W"] = torch.zeros(3, 3)


def _model_shape(state) -> None:
    state["model"]["W"] = torch.zeros(5, 5)


def _nan_state(state) -> None:
    state["model"]["W"].view(-1)[0] = float("nan")


@pytest.mark.slow  # trains a few steps to have a checkpoint
@pytest.mark.parametrize(("edit", "said"), [
    (_best_state_shape, r"does not fit this run: 'best_state/W' has shape \(3, 3\), where "
                        r"this run's network needs \(5, 8, 8\)"),
    (_model_shape, r"does not fit this run: 'model/W' has shape \(5, 5\)"),
    (_nan_state, r"holds NaN or infinite values \(model/W\): the run had already failed")])
def test_checkpoints_that_do_not_fit_are_refused_before_training(tmp_path, capsys,
                                                                 monkeypatch, edit, said):
    from napari_maxrf_sr.api import super_resolve
    from napari_maxrf_sr.errors import CheckpointError

    argv, path = _cli_checkpoint(tmp_path, edit)
    _no_training(monkeypatch)
    code, err = _run(capsys, *argv)
    assert code == 1 and re.search(said, err), err
    assert "the same command without --resume, with --force" in err
    assert "add --resume" not in err and "to continue from there" not in err
    assert "bug" not in err and "diverged" not in err
    maps, elements, _ = read_element_maps(tmp_path / "maps.tif")  # the same run, from Python
    with pytest.raises(CheckpointError, match=said):
        super_resolve(maps, read_photo(tmp_path / "photo.png")[0], 4, preset="fast",
                      config={"stage1_steps": 6, "stage2_steps": 0, "n_atoms": 8},
                      device="cpu", elements=elements,
                      checkpoint=CheckpointPlan(path, resume=True))


# ========================================================== 16: the scheduler, before work
def test_a_scheduler_without_distributed_is_refused_before_training(files, tmp_path, capsys,
                                                                    monkeypatch):
    xrf, photo, _ = files
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    _no_training(monkeypatch)
    code, err = _run(capsys, "run", "--xrf", xrf, "--rgb", photo, "--out",
                     tmp_path / "sr.ome.zarr", "--scheduler", "tcp://127.0.0.1:9", "--quiet")
    assert code == 1 and "needs dask.distributed" in err and "pip install" in err
    assert "bug" not in err


def test_an_unreachable_scheduler_is_refused_before_training(files, tmp_path, capsys,
                                                             monkeypatch):
    pytest.importorskip("distributed")
    xrf, photo, _ = files
    monkeypatch.setattr(cli_outputs, "SCHEDULER_TIMEOUT", 0.5)
    _no_training(monkeypatch)
    code, err = _run(capsys, "run", "--xrf", xrf, "--rgb", photo, "--out",
                     tmp_path / "sr.ome.zarr", "--scheduler", "tcp://127.0.0.1:9", "--quiet")
    assert code == 1 and "Cannot reach the dask scheduler at 'tcp://127.0.0.1:9'" in err
    assert "bug" not in err


def test_when_only_the_model_is_kept_the_message_says_so(files, tmp_path, monkeypatch):
    from napari_maxrf_sr.cli import runs

    xrf, photo, lr = files
    model = load_model(_model_file(tmp_path, lr))

    def fail(*args, **kwargs):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(runs, "apply_to_pyramid", fail)

    class Args:
        out = str(tmp_path / "sr.ome.zarr")
        clip_negative, method, force, xrf_path = False, "adun", False, str(xrf)

    problems: list[str] = []
    runs._write_maps(Args(), None, {"model": model, "scale": 4}, lr, good_photo(),
                     model.elements, {}, problems)
    assert len(problems) == 1
    assert "The maps were not kept, but the trained network was, as" in problems[0]
    assert "They were kept as" not in problems[0]


# ======================================= 17c, 20: full disks and killed pyramid writers
def test_a_full_disk_stops_every_writer_before_the_temporary_folder_goes(tmp_path,
                                                                         monkeypatch):
    from zarr.storage import LocalStore

    real_set = LocalStore.set
    calls = {"n": 0, "after": 0}
    failed = threading.Event()

    async def set_slowly(self, key, value, *args, **kwargs):
        import asyncio

        calls["n"] += 1
        if calls["n"] == 12:
            raise OSError(errno.ENOSPC, "No space left on device")
        if calls["n"] > 6 and key.split("/")[-1].isdigit():
            await asyncio.sleep(0.3)  # writers still busy when the disk fills up
        if failed.is_set():
            calls["after"] += 1
        return await real_set(self, key, value, *args, **kwargs)

    monkeypatch.setattr(LocalStore, "set", set_slowly)
    data = np.ones((2, 64, 4096), np.float32)
    import dask.array as da

    arr = da.from_array(data, chunks=(2, 8, 4096))
    with pytest.raises(OutputWriteError, match="the disk is full") as info:
        write_ome_zarr(tmp_path / "sr.ome.zarr", arr, ELEMENTS)
    failed.set()
    time.sleep(1.0)
    assert info.value.errno == errno.ENOSPC
    assert calls["after"] == 0, "a writer went on after the failure"
    assert list(tmp_path.iterdir()) == []  # nothing left, the temporary folder included


def test_a_full_disk_in_a_pyramid_is_said_plainly_by_the_command(files, tmp_path, capsys,
                                                                  monkeypatch):
    from napari_maxrf_sr.io import omezarr

    xrf, photo, _ = files

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(omezarr, "_create_level", full)
    code, err = _run(capsys, "run", "--xrf", xrf, "--rgb", photo, "--out",
                     tmp_path / "sr.ome.zarr", "--method", "bicubic_projected", "--quiet")
    assert code == 1 and "the disk is full" in err and "bug" not in err
    assert re.search(r"They were kept as '.*maxrf-sr-rescued-.*\.tif' instead", err)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_pyramid_folders_of_killed_writers_are_removed(tmp_path):
    host, dead = atomic._host_tag(), _dead_pid()

    def leftover(name: str, *content: str) -> Path:
        folder = tmp_path / name
        (folder / "0").mkdir(parents=True)
        for extra in content:
            (folder / extra).write_text("x")
        return folder

    stale = leftover(f".sr.ome.zarr.{host}-{dead}.abcd1234.tmp", ".zgroup")
    old = leftover(f".sr.ome.zarr.{host}-{dead}.efgh5678.old", "previous")
    alive = leftover(f".sr.ome.zarr.{host}-{os.getpid()}.ijkl9012.tmp")
    other_host = leftover(f".sr.ome.zarr.{(int(host, 16) + 1) % 65536:04x}-{dead}.mn.tmp")
    not_ours = leftover(f".sr.ome.zarr.{host}-{dead}.op.tmp", "notes.txt")
    legacy = leftover(".sr.ome.zarr.qrstuvwx.tmp")
    write_ome_zarr(tmp_path / "new.ome.zarr", good_maps(), ELEMENTS)
    assert not stale.exists() and not old.exists()
    assert all(p.exists() for p in (alive, other_host, not_ours, legacy))


@pytest.mark.slow  # a subprocess that imports the package
def test_a_pyramid_writer_killed_mid_write_leaves_nothing_that_stays(tmp_path):
    script = (
        "import sys, time\n"
        "import numpy as np\n"
        "from napari_maxrf_sr.io import omezarr\n"
        "def stuck(tasks):\n"
        "    print('writing', flush=True)\n"
        "    time.sleep(600)\n"
        "omezarr.compute_here = stuck\n"
        "omezarr.write_ome_zarr(sys.argv[1], np.ones((2, 8, 8), np.float32), ['a', 'b'])\n")
    proc = subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "sr.ome.zarr")],
                            stdout=subprocess.PIPE)
    try:
        assert proc.stdout.readline().strip() == b"writing"
        proc.kill()  # SIGKILL: no clean-up of its own
    finally:
        proc.wait(30)
    left = [p.name for p in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].endswith(".tmp")
    write_ome_zarr(tmp_path / "other.ome.zarr", good_maps(), ELEMENTS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.ome.zarr"]


# ============================================================ 13, 18: names and photos
def test_look_alike_names_in_a_dms_are_one_name(tmp_path):
    path = dms_names(tmp_path, [unicodedata.normalize(f, "Pb Lé") for f in ("NFC", "NFD")])
    _, elements, _ = read_element_maps(path)
    assert elements[0] == elements[1] == unicodedata.normalize("NFC", "Pb Lé")


def test_a_float_photo_a_hair_below_zero_is_clipped_with_a_note(tmp_path):
    photo = good_photo().astype(np.float32) / 255
    photo[0, 0, 0] = -1e-9
    tifffile.imwrite(tmp_path / "p.tif", photo, photometric="rgb")
    rgb, notes = read_photo(tmp_path / "p.tif")
    assert rgb.min() == 0 and rgb.dtype == np.float32
    assert any("a little outside [0, 1] (rounding): they were clipped" in n for n in notes)
    assert not any("0-255" in n for n in notes)


def test_a_float_photo_with_negative_values_is_not_called_0_255(tmp_path):
    photo = good_photo().astype(np.float32) / 255
    photo[0, 0, 0] = -0.5
    tifffile.imwrite(tmp_path / "p.tif", photo, photometric="rgb")
    with pytest.raises(Exception, match=r"it has negative values: clip them") as info:
        read_photo(tmp_path / "p.tif")
    assert "0-255" not in str(info.value)


def test_a_palette_png_is_read_as_its_colours(tmp_path):
    from PIL import Image

    photo = good_photo()
    Image.fromarray(photo).convert("P", palette=Image.ADAPTIVE, colors=4).save(
        tmp_path / "p.png")
    rgb, _ = read_photo(tmp_path / "p.png")
    np.testing.assert_array_equal(rgb, photo)


# ================================================= 19: an interrupted run can always resume
def _events_then_interrupt(gen, request, at: int):
    """Drive ``gen``; once past step ``at``, ask it to stop as a signal handler would."""
    from napari_maxrf_sr.api import run_to_end

    def callback(event):
        if event.stage_step >= at and request.armed:
            assert request.ask(signal.SIGTERM)

    return run_to_end(gen, callback)


@pytest.mark.slow  # three short trainings
def test_a_signal_saves_the_run_at_the_end_of_its_step_and_it_resumes_exactly(tmp_path,
                                                                              monkeypatch):
    from napari_maxrf_sr.api import run_to_end
    from napari_maxrf_sr.core import train as train_module
    from napari_maxrf_sr.core.config import config_from_preset
    from napari_maxrf_sr.core.control import InterruptRequest
    from napari_maxrf_sr.errors import RunInterrupted

    from .conftest import toy_painting

    monkeypatch.setattr(train_module, "EVENT_INTERVAL", 0.0)  # an event every step
    cfg = config_from_preset("fast", stage1_steps=30, stage2_steps=0, check_every=10,
                             device="cpu", seed=3)
    _, lr, rgb = toy_painting(size=48)
    whole = run_to_end(train_module.train(lr, rgb, cfg))
    path, request = tmp_path / "c.pt", InterruptRequest()
    plan = CheckpointPlan(path, every_seconds=3600.0, interrupt=request)  # none periodic
    with pytest.raises(RunInterrupted) as info:
        _events_then_interrupt(train_module.train(lr, rgb, cfg, checkpoint=plan), request, 7)
    assert info.value.checkpoint == path and info.value.step == 8 and path.is_file()
    assert not request.armed  # a second signal stops at once
    resumed = run_to_end(train_module.train(lr, rgb, cfg, checkpoint=CheckpointPlan(
        path, resume=True)))
    assert resumed.diagnostics["resumed_from_step"] == 8
    np.testing.assert_array_equal(resumed.maps, whole.maps)


def _wait_for(proc, stream: list[str], text: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not any(text in line for line in stream):
        assert proc.poll() is None, "".join(stream)
        assert time.monotonic() < deadline, "".join(stream)
        time.sleep(0.05)


def _reader(proc, lines: list[str]) -> threading.Thread:
    def read():
        for raw in iter(lambda: proc.stderr.read1(4096) if proc.stderr else b"", b""):
            lines.extend(raw.decode(errors="replace").replace("\r", "\n").splitlines(True))

    t = threading.Thread(target=read, daemon=True)
    t.start()
    return t


@pytest.mark.slow  # trains in a subprocess (the in-process check of conftest.py cannot see it)
@pytest.mark.parametrize(("sig", "code", "words"), [
    (signal.SIGTERM, 143, "stopped by a termination signal (SIGTERM)"),
    (signal.SIGINT, 130, "interrupted (Ctrl-C)")])
def test_ctrl_c_or_sigterm_before_any_checkpoint_saves_one_and_says_how_to_resume(
        tmp_path, sig, code, words):
    from napari_maxrf_sr.cli import checkpoint_path

    xrf, photo, _ = write_toy_files(tmp_path, size=64)
    out = tmp_path / "sr.tif"
    argv = ["run", "--xrf", str(xrf), "--rgb", str(photo), "--out", str(out), "--preset",
            "default", "--device", "cpu", "--checkpoint-every", "3600"]
    cmd = [sys.executable, "-m", "napari_maxrf_sr.cli"]
    proc = subprocess.Popen([*cmd, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines: list[str] = []
    try:
        _reader(proc, lines)
        _wait_for(proc, lines, "stage 1  step")  # training: the progress bar moves
        assert not checkpoint_path(out).exists()  # no periodic checkpoint yet
        proc.send_signal(sig)
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
    time.sleep(0.2)
    text = "".join(lines)
    assert proc.returncode == code, text
    assert f"{words} at step" in text and "Traceback" not in text
    assert f"the training so far was saved in {checkpoint_path(out)}" in text
    printed = re.search(r"To continue it, run:\n\s+(maxrf-sr .*)\n", text).group(1)
    assert printed == "maxrf-sr " + " ".join(argv) + " --resume"
    assert not out.exists() and checkpoint_path(out).is_file()
    # The printed command continues the run from there.
    import shlex

    again = subprocess.Popen([*cmd, *shlex.split(printed)[1:]], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    more: list[str] = []
    try:
        _reader(again, more)
        _wait_for(again, more, "resuming from")
    finally:
        again.kill()
        again.wait(30)


@pytest.mark.slow  # a subprocess that trains
def test_sigterm_ends_the_command_even_when_a_thread_hangs(tmp_path):
    xrf, photo, _ = write_toy_files(tmp_path, size=64)
    script = (
        "import sys, threading\n"
        "threading.Thread(target=threading.Event().wait).start()  # a read that never ends\n"
        "from napari_maxrf_sr.cli import main\n"
        "sys.argv = ['maxrf-sr'] + sys.argv[1:]\n"
        "sys.exit(main())\n")
    proc = subprocess.Popen(
        [sys.executable, "-c", script, "run", "--xrf", str(xrf), "--rgb", str(photo), "--out",
         str(tmp_path / "sr.tif"), "--device", "cpu", "--checkpoint-every", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines: list[str] = []
    try:
        _reader(proc, lines)
        _wait_for(proc, lines, "stage 1  step")
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)  # the grace for stuck threads is a few seconds
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, "".join(lines)


# ============================================ issue 33, item 7: help, words and records
def test_help_keeps_the_cluster_example_on_its_lines(capsys):
    from napari_maxrf_sr.cli.parser import build_parser

    text = build_parser().format_help()
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if "--scheduler tcp://" in line)
    assert lines[at].strip().startswith("--scheduler tcp://scheduler:8786")
    assert lines[at - 1].rstrip().endswith("--out sr.ome.zarr \\")
    assert not re.search(r"\S {6,}--", text.split("examples:")[1])  # nothing joined mid-line
    assert max(len(line) for line in lines) <= 100


def test_the_refusal_to_overwrite_says_the_option_of_its_entry_point(files, tmp_path, capsys):
    from napari_maxrf_sr.io import write_element_stack

    xrf, photo, lr = files
    out = tmp_path / "taken.tif"
    out.write_bytes(b"x")
    code, err = _run(capsys, "run", "--xrf", xrf, "--rgb", photo, "--out", out, "--method",
                     "bicubic", "--quiet")
    assert code == 1 and "or add --force to the command to replace them" in err
    assert "force=True" not in err
    with pytest.raises(FileExistsError, match=r"or pass force=True to replace"):
        write_element_stack(out, lr, ["a", "b", "c"])
    (tmp_path / "sim").mkdir()
    (tmp_path / "sim" / "photo.png").write_bytes(b"x")
    code, err = _run(capsys, "simulate", "--out", tmp_path / "sim", "--size", "32")
    assert code == 1 and "add --force" in err and "force=True" not in err


def test_the_record_has_its_times_and_absolute_paths(files, tmp_path, capsys, monkeypatch):
    xrf, photo, _ = files
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--xrf", xrf.name, "--rgb", photo.name, "--out", "sr.tif",
                 "--method", "bicubic_projected", "--quiet"]) == 0
    record = read_element_maps(tmp_path / "sr.tif")[2].provenance
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d"
    assert re.fullmatch(stamp, record["started"]) and re.fullmatch(stamp, record["finished"])
    assert record["started"] <= record["finished"]
    assert record["inputs"]["xrf"]["path"] == str(xrf.resolve())
    assert record["photo"]["path"] == str(photo.resolve())


def test_a_note_is_said_once_as_a_note(tmp_path, capsys):
    from napari_maxrf_sr.io import write_element_stack

    maps = good_maps()
    maps[0] = 0
    xrf = write_element_stack(tmp_path / "maps.tif", maps, ELEMENTS)
    import imageio.v3 as iio

    iio.imwrite(tmp_path / "photo.png", good_photo())
    code, err = _run(capsys, "run", "--xrf", xrf, "--rgb", tmp_path / "photo.png", "--out",
                     tmp_path / "sr.tif", "--method", "bicubic_projected", "--quiet")
    assert code == 0, err
    assert err.count("Pb L is all zero") == 1, err
    assert "note: Pb L is all zero" in err
    assert "UserWarning" not in err and ".py:" not in err



# ======================================================== 15: markup from a file in Qt
@pytest.mark.viewer
def test_names_from_files_are_shown_as_plain_text(qtbot, vm, notifications):
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QLabel

    from napari_maxrf_sr._napari.align_widget import AlignPhotoWidget
    from napari_maxrf_sr._napari.sr_widget import SuperResolutionWidget

    name = '<b><font color=red size=7>Pb</font></b> <a href="https://example.org">click</a>'
    maps = good_maps()
    maps[0, 0, 0] = -3  # refused, and the message names the layer
    for layer_name, plane in ((name, maps[0]), ("Hg L", maps[1])):
        vm.add_image(plane, name=layer_name,
                     metadata={"maxrf_sr": {"role": "lr_map", "element": layer_name}})
    vm.add_image(good_photo(), name="photo", rgb=True)
    w = SuperResolutionWidget(vm)
    qtbot.addWidget(w)
    w.start()
    assert name in w.status_label.text() and not w.running
    # napari's notification guesses HTML too: it gets the name with look-alike brackets
    (kind, shown), = notifications
    assert kind == "error" and "<" not in shown and "\u2039b\u203a\u2039font" in shown
    align = AlignPhotoWidget(vm)
    qtbot.addWidget(align)
    for widget in (w, align):
        labels = widget.findChildren(QLabel)
        assert labels and all(label.textFormat() == Qt.PlainText for label in labels)


@pytest.mark.viewer
def test_the_panel_refuses_look_alike_layer_names(qtbot, vm, monkeypatch):
    from napari_maxrf_sr._napari.sr_widget import SuperResolutionWidget

    for form, plane in zip(("NFC", "NFD"), good_maps(), strict=True):
        name = unicodedata.normalize(form, "Pb Lé")
        vm.add_image(plane, name=name, metadata={"maxrf_sr": {"role": "lr_map",
                                                              "element": name}})
    vm.add_image(good_photo(), name="photo", rgb=True)
    assert len(vm.layers) == 3  # napari keeps both names: they differ in their code points
    w = SuperResolutionWidget(vm)
    qtbot.addWidget(w)
    _no_training(monkeypatch)
    w.start()
    assert not w.running
    assert "Maps 1 and 2 are both called 'Pb Lé'" in w.status_label.text(), \
        w.status_label.text()


def test_a_png_photo_is_measured_without_decoding_it(tmp_path, monkeypatch):
    """Pillow decodes a whole PNG to look for EXIF: 12000 x 12000 px took 1.8 s, 412 MiB."""
    import imageio.v3 as iio
    from PIL import ImageFile

    from napari_maxrf_sr.io.shapes import photo_shape

    iio.imwrite(tmp_path / "p.png", np.zeros((48, 64, 3), np.uint8))
    decoded = []
    real = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load",
                        lambda self: decoded.append(1) or real(self))
    assert photo_shape(tmp_path / "p.png") == (48, 64)
    assert not decoded  # (errors are swallowed there: a trap that raises would pass)
