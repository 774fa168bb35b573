"""Results bigger than memory go to disk band by band, with the same maps and no leftovers."""

from __future__ import annotations

import numpy as np
import pytest

from napari_maxrf_sr.cli import main
from napari_maxrf_sr.core.operators import block_mean_np
from napari_maxrf_sr.io import large, read_element_stack, write_element_stack
from napari_maxrf_sr.io.large import element_stack_on_disk, open_element_stack_lazily


@pytest.mark.slow
@pytest.mark.parametrize("files", [64], indirect=True)
def test_cli_writes_big_results_to_disk_with_the_same_maps(files, tmp_path, monkeypatch,
                                                           capsys):
    xrf, photo, lr = files
    common = ["--xrf", str(xrf), "--rgb", str(photo), "--quiet", "--device", "cpu"]
    run = ["run", *common, "--scale", "4", "--preset", "fast", "--seed", "1",
           "--save-model", str(tmp_path / "m.pt")]
    assert main([*run, "--out", str(tmp_path / "memory.tif")]) == 0
    monkeypatch.setattr(large, "IN_MEMORY_LIMIT", 0)  # every result counts as "too big"
    run[-1] = str(tmp_path / "m2.pt")
    assert main([*run, "--out", str(tmp_path / "disk.tif")]) == 0
    assert "band by band" in capsys.readouterr().err
    in_memory, names, _ = read_element_stack(tmp_path / "memory.tif")
    on_disk, names2, meta = read_element_stack(tmp_path / "disk.tif")
    assert names == names2 == ("Pb L", "Hg L", "Cu K")
    np.testing.assert_array_equal(on_disk, in_memory)
    assert meta.provenance["method"] == "network" and meta.role == "sr_map"
    np.testing.assert_allclose(block_mean_np(on_disk, 4), lr, rtol=1e-5, atol=1e-4)
    lazy = open_element_stack_lazily(tmp_path / "disk.tif")
    assert isinstance(lazy, np.memmap) and not lazy.flags.writeable
    np.testing.assert_array_equal(lazy, on_disk)

    # `apply` takes the same path, also with the maps in another order than the model's.
    reordered = write_element_stack(tmp_path / "reordered.tif", lr[::-1], ("Cu K", "Hg L",
                                                                           "Pb L"))
    assert main(["apply", "--model", str(tmp_path / "m.pt"), "--xrf", str(reordered),
                 "--rgb", str(photo), "--out", str(tmp_path / "applied.tif")]) == 0
    applied, names3, _ = read_element_stack(tmp_path / "applied.tif")
    assert names3 == ("Pb L", "Hg L", "Cu K")  # written in the model's order, named so
    np.testing.assert_allclose(applied, in_memory, rtol=1e-5, atol=1e-4)


def test_failure_while_filling_leaves_no_file(tmp_path):
    target = tmp_path / "sr.tif"
    with pytest.raises(RuntimeError, match="boom"), \
            element_stack_on_disk(target, (2, 8, 8), ("Pb L", "Hg L")) as mm:
        mm[:] = 1.0
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []  # neither the file nor its temporary copy
    target.write_bytes(b"precious")
    with pytest.raises(FileExistsError), \
            element_stack_on_disk(target, (2, 8, 8), ("Pb L", "Hg L")):
        pass
    assert target.read_bytes() == b"precious"


def test_napari_reader_maps_big_results_without_loading_them(tmp_path, monkeypatch):
    from napari.components import ViewerModel

    from napari_maxrf_sr._napari.reader import get_reader

    rng = np.random.default_rng(0)
    maps = rng.gamma(2.0, 10.0, (2, 32, 24)).astype(np.float32)
    path = tmp_path / "big_sr.tif"
    with element_stack_on_disk(path, maps.shape, ("Pb L", "Hg L"), scale=4) as mm:
        mm[:] = maps
    monkeypatch.setattr(large, "IN_MEMORY_LIMIT", 0)  # this file counts as "big"
    layers = get_reader(str(path))(str(path))
    assert [kw["name"] for _, kw, _ in layers] == ["Pb L", "Hg L"]
    for (data, kwargs, kind), expected in zip(layers, maps, strict=True):
        assert isinstance(data, np.memmap) and kind == "image"
        np.testing.assert_array_equal(data, expected)
        ViewerModel().add_image(data, **kwargs)  # napari takes the mapped array as it is
    monkeypatch.setattr(large, "IN_MEMORY_LIMIT", 2**40)
    small = get_reader(str(path))(str(path))
    assert not isinstance(small[0][0], np.memmap)  # small files are read into memory
