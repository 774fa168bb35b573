"""Issue 13 (reliability, round two): the cases the malformed-input table cannot hold.

Writes that fail after the work, SIGTERM, stale temporary files, ``apply`` and
``simulate``, checkpoints, model files, and the memory a small file may take.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
import tracemalloc

import h5py
import numpy as np
import pytest
import tifffile
import torch

from napari_maxrf_sr import atomic
from napari_maxrf_sr.cli import checkpoint_path, main
from napari_maxrf_sr.core.checkpoint import (
    load_checkpoint,
    run_fingerprint,
    save_checkpoint,
)
from napari_maxrf_sr.core.config import config_from_preset
from napari_maxrf_sr.errors import (
    CheckpointError,
    CheckpointWriteError,
    InputError,
    ModelFileError,
    OutputWriteError,
)
from napari_maxrf_sr.io import common, read_element_maps, read_element_stack
from napari_maxrf_sr.io.rpl import read_rpl_element_maps

from .conftest import write_toy_files


def _run(xrf, photo, out, *extra):
    return ["run", "--xrf", str(xrf), "--rgb", str(photo), "--out", str(out), "--quiet",
            "--method", "bicubic_projected", *extra]


# -- data loss: outputs are never inputs ----------------------------------------------------
def test_apply_refuses_to_write_over_its_model(files, tmp_path, capsys):
    xrf, photo, _ = files
    model = tmp_path / "m.tif"
    model.write_bytes(b"a model")
    code = main(["apply", "--model", str(model), "--xrf", str(xrf), "--rgb", str(photo),
                 "--out", str(model), "--force"])
    assert code == 1
    assert "is the file" in capsys.readouterr().err and model.read_bytes() == b"a model"


def test_simulate_refuses_to_write_over_its_photo(tmp_path, capsys):
    folder = tmp_path / "case"
    folder.mkdir()
    photo = folder / "photo.png"
    import imageio.v3 as iio

    iio.imwrite(photo, np.full((64, 64, 3), 90, np.uint8))
    before = photo.read_bytes()
    code = main(["simulate", "--out", str(folder), "--photo", str(photo), "--force",
                 "--size", "64"])
    assert code == 1
    assert "of --photo: writing it would replace an input" in capsys.readouterr().err
    assert photo.read_bytes() == before


def test_outputs_may_not_be_each_other(files, tmp_path, capsys):
    xrf, photo, _ = files
    out = tmp_path / "sr.tif"
    code = main([*_run(xrf, photo, out), "--save-model", str(out)])
    assert code == 1
    assert "the output of --out" in capsys.readouterr().err and not out.exists()


# -- a finished result is kept ---------------------------------------------------------------
def test_full_disk_keeps_the_result_and_says_where(files, tmp_path, monkeypatch, capsys):
    xrf, photo, _ = files
    out = tmp_path / "out" / "sr.tif"
    out.parent.mkdir()
    real = tifffile.imwrite

    def full(path, *args, **kwargs):
        if "rescued" not in str(path):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(tifffile, "imwrite", full)
    assert main(_run(xrf, photo, out)) == 1
    err = capsys.readouterr().err
    assert "the disk is full" in err and "kept as" in err and not out.exists()
    (kept,) = out.parent.glob("maxrf-sr-rescued-*.tif")
    assert str(kept) in err
    maps, names, _ = read_element_stack(kept)
    assert maps.shape == (3, 32, 32) and names == ("Pb L", "Hg L", "Cu K")
    assert [p.name for p in out.parent.iterdir()] == [kept.name]  # no temporary left


def test_numpy_short_write_is_a_full_disk(tmp_path):
    with pytest.raises(OutputWriteError, match="the disk is full") as info:
        with atomic.atomic_path(tmp_path / "a.tif"):
            raise OSError("8192 requested and 4652 written")
    assert info.value.errno == errno.ENOSPC and list(tmp_path.iterdir()) == []


def test_long_names_fit_the_file_system(tmp_path):
    out = tmp_path / ("b" * 250 + ".tif")
    with atomic.atomic_path(out) as tmp:
        assert len(os.fsencode(tmp.name)) <= 255
        tmp.write_bytes(b"x")
    assert out.read_bytes() == b"x" and sorted(tmp_path.iterdir()) == [out]
    ckpt = checkpoint_path(out)
    assert len(os.fsencode(ckpt.name)) <= 255 and ckpt == checkpoint_path(out)
    assert ckpt.name.endswith(".checkpoint.pt") and ckpt.name != checkpoint_path(
        tmp_path / ("b" * 249 + "c.tif")).name


def test_stale_temporaries_of_dead_writers_are_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    host = atomic._host_tag()
    stale = tmp_path / f".sr.tif.{host}-{dead}.abcd1234.part.tif"
    alive = tmp_path / f".sr.tif.{host}-{os.getpid()}.abcd1234.part.tif"
    foreign = tmp_path / f".sr.tif.{'0000' if host != '0000' else '0001'}-{dead}.x.part.tif"
    mine = tmp_path / ".notes.txt"
    for p in (stale, alive, foreign, mine):
        p.write_bytes(b"half")
    with atomic.atomic_path(tmp_path / "other.tif") as tmp:
        tmp.write_bytes(b"x")
    assert not stale.exists()
    assert alive.exists() and foreign.exists() and mine.exists()


def test_checkpoint_write_failure_is_its_own_error(tmp_path, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(CheckpointWriteError, match="disk is full.*Training goes on") as info:
        save_checkpoint(tmp_path / "c.pt", "abc", {"step": 1})
    assert isinstance(info.value, OSError) and info.value.errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []


# -- checkpoints: what differs, what is missing ---------------------------------------------
def _state(**drop):
    state = {"phase": "stage 1", "step": 3, "total": 9, "step1": 3, "step2": 0,
             "elapsed": 1.0, "t_stage1": 0.0, "model": {"w": torch.zeros(2)},
             "final_sigmoid": False, "best_state": {"w": torch.zeros(2)}, "best_val": 1.0,
             "initial_val": 2.0, "since_best": 0, "history": [], "notes": [],
             "rng": torch.zeros(4, dtype=torch.uint8), "torch_rng": torch.zeros(1), "opt": {}}
    return {k: v for k, v in state.items() if k not in drop}


def test_refused_resume_says_what_differs(tmp_path):
    lr = np.ones((2, 4, 4), np.float32)
    rgb = np.zeros((16, 16, 3), np.uint8)
    cfg = config_from_preset("fast")
    fp = run_fingerprint(lr, rgb, 4, ("Pb L", "Hg L"), cfg)
    save_checkpoint(tmp_path / "c.pt", fp, _state())
    assert load_checkpoint(tmp_path / "c.pt", fp)["step"] == 3
    other = run_fingerprint(lr * 2, rgb, 4, ("Pb L", "Fe K"), cfg.replace(seed=4))
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(tmp_path / "c.pt", other)
    text = str(info.value)
    assert "what differs: the maps" in text and "the element names" in text
    assert "seed 0 -> 4" in text and "the photo" not in text
    # Inference-only settings, such as the local calibration, do not stop a resume.
    assert run_fingerprint(lr, rgb, 4, ("Pb L", "Hg L"), cfg.replace(calibration_radius=0)) == fp


# -- model files -----------------------------------------------------------------------------
def _model_payload(**config):
    from napari_maxrf_sr.core import modelio
    from napari_maxrf_sr.core.config import SRConfig

    return {"format": "napari-maxrf-sr-model", "format_version": modelio.FORMAT_VERSION,
            "package_version": "0",
            "state_dict": {"w": torch.zeros(10)}, "final_sigmoid": True, "n_channels": 5,
            "config": {**SRConfig().to_dict(), **config},
            "normaliser": {"peaks": [1.0, 1.0], "zero_level": 0.1, "peak_level": 0.5},
            "elements": ["Pb L", "Hg L"], "scale": 4, "info": {}}


def test_model_settings_are_checked_before_anything_is_allocated(tmp_path, monkeypatch):
    from napari_maxrf_sr.core import modelio

    torch.save(_model_payload(n_atoms=10000), tmp_path / "big.pt")
    with pytest.raises(ModelFileError, match="n_atoms must be at most 1024"):
        modelio.load_model(tmp_path / "big.pt")
    built = []
    real = modelio.ListaGenerator.from_config

    def spy(*args):
        built.append(torch.empty(0).device.type)
        return real(*args)

    monkeypatch.setattr(modelio.ListaGenerator, "from_config", spy)
    torch.save(_model_payload(n_atoms=1024), tmp_path / "wrong.pt")
    with pytest.raises(ModelFileError, match="weights have shapes"):
        modelio.load_model(tmp_path / "wrong.pt")
    assert built == ["meta"]  # the real network was never built


def test_refused_model_never_suggests_loading_it_unsafely(tmp_path):
    from napari_maxrf_sr.core.modelio import load_model

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo hacked",))

    torch.save({"x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(ModelFileError) as info:
        load_model(tmp_path / "evil.pt")
    assert "weights_only" not in str(info.value) and "refers to" in str(info.value)


# -- no traceback ----------------------------------------------------------------------------
@pytest.mark.parametrize(("error", "said"), [
    (TypeError("boom"), r"unexpected problem stopped the command \(TypeError: boom\)"),
    (MemoryError(), r"the computer ran out of memory"),
])
def test_unexpected_errors_are_explained_and_logged(files, tmp_path, monkeypatch, capsys,
                                                    error, said):
    import re

    from napari_maxrf_sr.cli import runs

    def broken(args):
        raise error

    monkeypatch.setattr(runs, "cmd_run", broken)
    xrf, photo, _ = files
    assert main(_run(xrf, photo, tmp_path / "sr.tif")) == 1
    err = capsys.readouterr().err
    assert re.search(said, err) and "Traceback" not in err
    (log,) = (tmp_path / "logs").iterdir()
    assert str(log) in err and "Traceback" in log.read_text()


def test_simulate_refuses_sizes_it_cannot_make(tmp_path, monkeypatch, capsys):
    with pytest.raises(SystemExit) as info:
        main(["simulate", "--out", str(tmp_path / "s"), "--size", "100000"])
    assert info.value.code == 2
    assert "a size in pixels from 16 to 8192 is needed" in capsys.readouterr().err
    import psutil

    from napari_maxrf_sr.simulate import make_synthetic_painting

    class Little:
        available = 64 << 20

    monkeypatch.setattr(psutil, "virtual_memory", lambda: Little())
    with pytest.raises(InputError, match=r"more than the free memory .* such as \d+ x \d+"):
        make_synthetic_painting(size=(2048, 2048))


def test_rpl_options_of_the_wrong_type_are_input_errors(tmp_path):
    rpl = tmp_path / "scan.rpl"
    rpl.write_text("width\t4\nheight\t4\ndepth\t8\noffset\t0\ndata-length\t1\n"
                   "data-type\tunsigned\nbyte-order\tdont-care\nrecord-by\tvector\n")
    (tmp_path / "scan.raw").write_bytes(bytes(4 * 4 * 8))
    for kwargs, said in [({"elements": 5}, "must be a list of names"),
                         ({"window_ev": "300"}, "window_ev must be a positive number"),
                         ({"zero_ev": float("inf")}, "zero_ev must be a finite number"),
                         ({"ev_per_channel": 1e-300}, None)]:
        call = {"elements": ("Fe K",), "zero_ev": 0, "ev_per_channel": 10, **kwargs}
        if said is None:  # tiny but valid: no integer overflow, just a line off the spectrum
            with pytest.raises(InputError, match="fall outside the spectrum"):
                read_rpl_element_maps(rpl, **call)
            continue
        with pytest.raises(InputError, match=said):
            read_rpl_element_maps(rpl, **call)


def test_stack_names_a_tiff_cannot_store_are_refused_before_writing(tmp_path):
    from napari_maxrf_sr.io import write_element_stack

    with pytest.raises(InputError, match="cannot store"):
        write_element_stack(tmp_path / "a.tif", np.ones((1, 4, 4)), ["Pb\udce9"])
    assert list(tmp_path.iterdir()) == []


def test_exif_orientation_of_a_jpeg_is_applied(tmp_path):
    from PIL import Image

    from napari_maxrf_sr.io import read_photo

    exif = Image.Exif()
    exif[0x0112] = 8  # shown turned 90 degrees anticlockwise
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(tmp_path / "p.jpg", exif=exif)
    photo, notes = read_photo(tmp_path / "p.jpg")
    assert photo.shape == (30, 20, 3) and "anticlockwise" in notes[0]


# -- SIGTERM ---------------------------------------------------------------------------------
@pytest.mark.slow  # trains in a subprocess (the in-process check of conftest.py cannot see it)
def test_sigterm_stops_like_ctrl_c(tmp_path):
    xrf, photo, _ = write_toy_files(tmp_path, size=64)
    out = tmp_path / "sr.tif"
    ckpt = checkpoint_path(out)
    proc = subprocess.Popen(
        [sys.executable, "-m", "napari_maxrf_sr.cli", "run", "--xrf", str(xrf), "--rgb",
         str(photo), "--out", str(out), "--preset", "fast", "--device", "cpu", "--quiet",
         "--checkpoint-every", "0.05"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not ckpt.exists():
            assert proc.poll() is None, proc.communicate()[1].decode()
            assert time.monotonic() < deadline, "no checkpoint written"
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)  # as timeout, a batch scheduler or docker stop
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = err.decode()
    assert proc.returncode == 143, text
    assert "stopped by a termination signal" in text and "--resume" in text
    assert "Traceback" not in text and ckpt.exists() and not out.exists()


# -- memory: a small file takes no more than the maps it declares ---------------------------
def _peak(read) -> tuple[int, object]:
    tracemalloc.start()
    try:
        result = read()
        return tracemalloc.get_traced_memory()[1], result
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("kind", ["hdf5", "tiff", "npy", "npz"])
def test_small_files_take_no_more_than_their_maps(tmp_path, monkeypatch, kind):
    monkeypatch.setattr(common, "BAND_BYTES", 1 << 20)
    shape = (2, 1024, 1024)
    out_bytes = 4 * int(np.prod(shape))
    if kind == "hdf5":
        path = tmp_path / "m.h5"
        with h5py.File(path, "w") as f:
            f.create_dataset("maps", shape=shape, dtype="f8", compression="gzip",
                             chunks=(1, 128, 128), fillvalue=1.5)
    elif kind == "tiff":
        path = tmp_path / "m.tif"
        tifffile.imwrite(path, np.full(shape, 1.5), compression="zlib", tile=(128, 128))
    else:
        path = tmp_path / f"m.{kind}"
        data = np.full(shape, 1.5)
        np.save(path, data) if kind == "npy" else np.savez_compressed(path, maps=data)
        del data
    peak, (maps, _, _) = _peak(lambda: read_element_maps(path))
    assert maps.dtype == np.float32 and maps.shape == shape and np.all(maps == 1.5)
    # the float32 maps, plus a few 1 MiB bands (a float64 copy would be twice the maps)
    assert peak < out_bytes + (8 << 20), f"{peak / 2**20:.1f} MiB for {out_bytes / 2**20} MiB"
