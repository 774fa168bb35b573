"""The new formats through the entry points: read_element_maps, napari's reader and writer,
and ``maxrf-sr run/apply`` writing OME-Zarr pyramids (here or on a dask scheduler)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_maxrf_sr._napari.reader import get_reader
from napari_maxrf_sr._napari.writer import write_ome_zarr_pyramid
from napari_maxrf_sr.cli import main
from napari_maxrf_sr.core.operators import block_mean_np
from napari_maxrf_sr.io import read_element_maps
from napari_maxrf_sr.io.omezarr import open_ome_zarr, write_ome_zarr

from .test_io_formats import MAPS, maxrf4u_datastack, pymca_edf, pymca_h5, to_dms

ELEMENTS = ("Ca K", "Fe K", "Pb L")


def _examples(tmp_path):
    """One file per new format, each holding MAPS as Ca K, Fe K, Pb L."""
    edf_folder = tmp_path / "IMAGES"
    edf_folder.mkdir()
    for i, label in enumerate(("Ca_K", "Fe_K", "Pb_L")):
        pymca_edf(edf_folder / f"scan_{label}.edf", [MAPS[i]], [label])
    return {
        "edf": pymca_edf(tmp_path / "scan.edf", list(MAPS) + [MAPS[0]],
                         ["Ca_K", "Fe_K", "Pb_L", "s(Ca_K)"]),
        "edf-folder": edf_folder,
        "pymca-hdf5": pymca_h5(tmp_path / "scan.h5", {"parameters": dict(
            zip(("Ca_K", "Fe_K", "Pb_L"), MAPS, strict=True))}),
        "dms": to_dms(str(tmp_path), "scan", MAPS, ["Ca K", "Fe K", "Pb L"]),
        "datastack": maxrf4u_datastack(tmp_path / "scan.datastack", {
            "nmf_elementmaps": MAPS, "nmf_atomnums": np.array([20, 26, 82])}),
        "ome-zarr": write_ome_zarr(tmp_path / "scan.ome.zarr", MAPS, ELEMENTS, role="lr_map"),
    }


@pytest.mark.parametrize("kind", ["edf", "edf-folder", "pymca-hdf5", "dms", "datastack",
                                  "ome-zarr"])
def test_every_format_reads_and_opens_as_named_layers(tmp_path, kind):
    pytest.importorskip("fabio")
    path = _examples(tmp_path)[kind]
    maps, elements, _ = read_element_maps(path)
    np.testing.assert_array_equal(maps, MAPS)
    expected = ("Ca", "Fe", "Pb") if kind == "datastack" else ELEMENTS
    assert elements == expected
    reader = get_reader(str(path))
    assert reader is not None, kind
    layers = reader(str(path))
    assert [kw["name"] for _, kw, _ in layers] == list(expected)
    first = layers[0][0][0] if layers[0][1].get("multiscale") else layers[0][0]
    np.testing.assert_array_equal(np.asarray(first), MAPS[0])


def test_ome_zarr_opens_lazily_as_multiscale_layers(tmp_path):
    big = np.random.default_rng(0).random((2, 2100, 1300)).astype(np.float32)
    path = write_ome_zarr(tmp_path / "sr.ome.zarr", big, ("Pb L", "Hg L"), scale=4)
    layers = get_reader(str(path))(str(path))
    data, kwargs, kind = layers[0]
    assert kind == "image" and kwargs["multiscale"] and len(data) == 3
    assert type(data[0]).__name__ == "Array"  # dask: nothing read yet
    assert [d.shape for d in data] == [(2100, 1300), (1050, 650), (525, 325)]
    lo, hi = kwargs["contrast_limits"]
    assert lo == pytest.approx(float(data[-1].min().compute()))
    assert hi == pytest.approx(float(data[-1].max().compute()))
    assert kwargs["metadata"]["maxrf_sr"]["role"] == "sr_map" and "scale" not in kwargs


def test_incomplete_ome_zarr_copy_is_refused_with_a_warning(tmp_path):
    path = write_ome_zarr(tmp_path / "sr.ome.zarr", MAPS, ELEMENTS)
    chunk = sorted(p for p in (path / "0").rglob("*") if p.is_file() and p.name[0] != ".")[0]
    chunk.unlink()
    with pytest.warns(UserWarning, match=r"incomplete: level 0 has \d+ of its \d+ chunk"):
        assert get_reader(str(path)) is None


def test_napari_writer_saves_multiscale_layers_as_a_pyramid(tmp_path):
    src = write_ome_zarr(tmp_path / "in.ome.zarr", MAPS, ELEMENTS)
    layers = get_reader(str(src))(str(src))
    written = write_ome_zarr_pyramid(str(tmp_path / "copy"), layers)
    assert written == [str(tmp_path / "copy.ome.zarr")]
    levels, elements, _ = open_ome_zarr(written[0])
    assert elements == ELEMENTS
    np.testing.assert_array_equal(levels[0].compute(), MAPS)


@pytest.mark.viewer
def test_viewer_opens_ome_zarr_with_the_plugin(make_napari_viewer, tmp_path):
    path = write_ome_zarr(tmp_path / "sr.ome.zarr",
                          np.random.default_rng(1).random((2, 1500, 1500)).astype(np.float32),
                          ("Pb L", "Hg L"))
    viewer = make_napari_viewer()
    layers = viewer.open(str(path), plugin="napari-maxrf-sr")
    assert [layer.name for layer in layers] == ["Pb L", "Hg L"]
    assert all(layer.multiscale for layer in layers)


# ------------------------------------------------------------------------------ the CLI
@pytest.mark.slow
def test_run_writes_an_ome_zarr_pyramid(files, tmp_path, capsys):
    xrf, photo, lr = files
    out = tmp_path / "sr.ome.zarr"
    model = tmp_path / "m.pt"
    assert main(["run", "--xrf", str(xrf), "--rgb", str(photo), "--scale", "4", "--out",
                 str(out), "--preset", "fast", "--max-seconds", "2", "--device", "cpu",
                 "--quiet", "--save-model", str(model), "--checkpoint-every", "0"]) == 0, \
        capsys.readouterr().err
    levels, elements, meta = open_ome_zarr(out)
    assert elements == ("Pb L", "Hg L", "Cu K") and meta["provenance"]["software"]
    np.testing.assert_allclose(block_mean_np(levels[0].compute(), 4), lr, rtol=1e-4,
                               atol=1e-3)
    again = tmp_path / "again.ome.zarr"
    assert main(["apply", "--model", str(model), "--xrf", str(xrf), "--rgb", str(photo),
                 "--out", str(again)]) == 0
    np.testing.assert_array_equal(open_ome_zarr(again)[0][0].compute(),
                                  levels[0].compute())
    capsys.readouterr()
    assert main(["apply", "--model", str(model), "--xrf", str(xrf), "--rgb", str(photo),
                 "--out", str(again)]) == 1
    assert "Not overwriting" in capsys.readouterr().err


def test_baseline_result_as_ome_zarr(files, tmp_path):
    xrf, photo, _ = files
    out = tmp_path / "bic.ome.zarr"
    assert main(["run", "--xrf", str(xrf), "--rgb", str(photo), "--scale", "4", "--out",
                 str(out), "--method", "bicubic", "--quiet"]) == 0
    assert open_ome_zarr(out)[0][0].shape == (3, 32, 32)


@pytest.mark.parametrize(("out", "extra", "message"), [
    ("sr.tif", ["--scheduler", "tcp://127.0.0.1:9"], r"--scheduler writes a resolution pyramid"),
    ("sr.ome.zarr", ["--scheduler", "tcp://127.0.0.1:9"], r"Cannot reach the dask scheduler"),
    ("maps.tif", ["--force"], r"would replace an input"),
])
def test_apply_refuses_before_writing(files, tmp_path, capsys, monkeypatch, out, extra,
                                      message):
    pytest.importorskip("distributed")
    import functools

    from napari_maxrf_sr.core import tiled

    # A closed port is refused at once; waiting the default 30 s for it to open adds nothing.
    monkeypatch.setattr(tiled, "computer", functools.partial(tiled.computer, timeout=2.0))
    xrf, photo, _ = files
    from napari_maxrf_sr.core.modelio import save_model

    from .test_tiled import random_model

    model = save_model(random_model(), tmp_path / "m.pt")
    before = sorted(p.name for p in tmp_path.iterdir())
    code = main(["apply", "--model", str(model), "--xrf", str(xrf), "--rgb", str(photo),
                 "--out", str(tmp_path / out), *extra])
    assert code == 1
    import re

    assert re.search(message, capsys.readouterr().err)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_force_never_deletes_a_folder_that_is_not_a_pyramid(files, tmp_path, capsys):
    xrf, photo, _ = files
    precious = tmp_path / "photos.ome.zarr"
    precious.mkdir()
    (precious / "keep.txt").write_text("years of work")
    assert main(["run", "--xrf", str(xrf), "--rgb", str(photo), "--scale", "4", "--out",
                 str(precious), "--method", "bicubic", "--force", "--quiet"]) == 1
    assert "not an OME-Zarr" in capsys.readouterr().err
    assert (precious / "keep.txt").read_text() == "years of work"


def test_ngff_05_written_by_another_program_opens(tmp_path):
    """NGFF 0.5: zarr format 3, the metadata under attributes['ome'] (no names of ours)."""
    import zarr

    root = zarr.open_group(str(tmp_path / "other.ome.zarr"), mode="w", zarr_format=3)
    root.create_array("s0", data=MAPS[:, None], chunks=(1, 1, 4, 4))  # (c, z, y, x), z = 1
    root.create_array("s1", data=MAPS[:, None, ::2, ::2].copy(), chunks=(1, 1, 4, 4))
    root.attrs["ome"] = {"version": "0.5", "multiscales": [{
        "axes": [{"name": n} for n in "czyx"],
        "datasets": [{"path": "s0"}, {"path": "s1"}]}],
        "omero": {"channels": [{"label": x} for x in ("Ca-K", "Fe-K", "Pb-L")]}}
    layers = get_reader(str(tmp_path / "other.ome.zarr"))(str(tmp_path / "other.ome.zarr"))
    assert [kw["name"] for _, kw, _ in layers] == ["Ca K", "Fe K", "Pb L"]
    np.testing.assert_array_equal(np.asarray(layers[2][0][0]), MAPS[2])
    maps, elements, _ = read_element_maps(tmp_path / "other.ome.zarr")
    np.testing.assert_array_equal(maps, MAPS)
