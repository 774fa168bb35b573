"""Readers of the field's formats, on files written as each program writes them.

- PyMca EDF: written with fabio, as ``PyMca5/PyMcaIO/ArraySave.save2DArrayListAsEDF``
  does (one image per frame, header ``Title``);
- PyMca HDF5: written with h5py in ``PyMca5/PyMcaIO/OutputBuffer.py``'s layout;
- Datamuncher/XRF-Explorer ``.dms``: XRF-Explorer's own writer ``to_dms``, copied below;
- maxrf4u datastacks: written with zarr's ``ZipStore`` as ``maxrf4u/storage.py`` does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from napari_maxrf_sr.errors import InputError
from napari_maxrf_sr.io.datastack import latest, read_datastack_maps
from napari_maxrf_sr.io.dms import read_dms_maps
from napari_maxrf_sr.io.pymca import (
    is_pymca_h5,
    read_pymca_edf,
    read_pymca_edf_folder,
    read_pymca_h5,
    title_group,
)

RNG = np.random.default_rng(3)
MAPS = (RNG.random((3, 9, 11)) * 100).astype(np.float32)


# ------------------------------------------------------------------ writers, as the programs
def to_dms(folder_path: str, name_cube: str, cube: np.ndarray, elements: list[str]) -> Path:
    """XRF-Explorer's writer (xrf_explorer/server/file_system/cubes/convert_dms.py, to_dms)."""
    path_cube = Path(folder_path) / (name_cube + ".dms")
    c, h, w = cube.shape
    with open(path_cube, "wb+") as f:
        f.write(b"2\n")
        f.write(f"{w} {h} {c}\n".encode())
        f.write(cube.tobytes())
        f.write("\n".join(elements).encode())
    return path_cube


def pymca_edf(path: Path, images: list[np.ndarray], titles: list[str]) -> Path:
    """PyMca's save2DArrayListAsEDF: every image a frame with its Title, through fabio."""
    from fabio.edfimage import EdfImage

    img = EdfImage(data=images[0], header={"Title": titles[0]})
    for data, title in zip(images[1:], titles[1:], strict=True):
        img.append_frame(data=data, header={"Title": title})
    img.write(str(path))
    return path


def pymca_h5(path: Path, groups: dict[str, dict[str, np.ndarray]], *, entry="sample",
             process="xrf_fit") -> Path:
    """PyMca's OutputBuffer layout: /entry/process/results/<group NXdata>/<images>."""
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "w") as f:
        f.attrs["NX_class"] = "NXroot"
        f.attrs["creator"] = "PyMca"
        e = f.create_group(entry)
        e.attrs["NX_class"] = "NXentry"
        p = e.create_group(process)
        p.attrs["NX_class"] = "NXprocess"
        p["program"] = "PyMca"
        conf = p.create_group("configuration")
        conf.attrs["NX_class"] = "NXnote"
        res = p.create_group("results")
        res.attrs["NX_class"] = "NXcollection"
        for gname, images in groups.items():
            g = res.create_group(gname)
            g.attrs["NX_class"] = "NXdata"
            names = list(images)
            for name, img in images.items():
                g[name] = img
                g[name].attrs["interpretation"] = "image"
            g.attrs["signal"] = names[0]
            if len(names) > 1:
                g.attrs["auxiliary_signals"] = np.array(names[1:], dtype=h5py.string_dtype())
    return path


def maxrf4u_datastack(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """maxrf4u's append(): zarr.create_array into a ZipStore, one array per name."""
    import zarr
    from zarr.storage import ZipStore

    zs = ZipStore(path, mode="w")
    for name, data in arrays.items():
        zarr.create_array(store=zs, name=name, data=data)
    zs.close()
    return path


# ------------------------------------------------------------------------------- .dms
def test_dms_cube_written_by_xrf_explorer_is_read(tmp_path):
    path = to_dms(str(tmp_path), "cube", MAPS, ["Pb L", "Hg-L", "not an element"])
    maps, elements, meta = read_dms_maps(path)
    np.testing.assert_array_equal(maps, MAPS)
    assert elements == ("Pb L", "Hg L", "not an element") and meta["format"] == "dms"


def test_dms_test_file_of_xrf_explorer(tmp_path):
    # tests/resources/file_system/test_elemental_data/dms/test.dms of XRF-Explorer, byte
    # for byte: a 3 x 3 cube of 2 maps (-1..-9, 1..9) named Secret and Element.
    data = np.concatenate([-np.arange(1, 10), np.arange(1, 10)]).astype("<f4")
    path = tmp_path / "test.dms"
    path.write_bytes(b"2\n3 3 2\n" + data.tobytes() + b"Secret\nElement")
    assert path.stat().st_size == 94
    maps, elements, _ = read_dms_maps(path)
    assert elements == ("Secret", "Element")
    np.testing.assert_array_equal(maps[1], np.arange(1, 10).reshape(3, 3))


def test_dms_without_names_gets_default_names(tmp_path):
    path = to_dms(str(tmp_path), "cube", MAPS, [])
    _, elements, meta = read_dms_maps(path)
    assert elements == ("map 1", "map 2", "map 3") and "no element names" in meta["notes"][0]


@pytest.mark.parametrize(("header", "match"), [
    (b"2\n11 9 3\n", r"truncated: the header's 3 maps of 11 x 9 float32 values needs"),
    (b"2\n11 x9 3\n", r"second line must be 'width height maps'"),
    (b"2\n60000 60000 21\n", r"truncated"),
])
def test_damaged_dms_is_refused_before_reading(tmp_path, header, match):
    path = tmp_path / "bad.dms"
    path.write_bytes(header + MAPS.tobytes()[:100])
    with pytest.raises(InputError, match=match):
        read_dms_maps(path)


# ------------------------------------------------------------------------------ PyMca EDF
def test_pymca_multipage_edf_keeps_the_fitted_areas(tmp_path):
    pytest.importorskip("fabio")
    titles = ["Ca_K", "Fe_K", "Pb_L", "Constant", "s(Ca_K)", "s(Fe_K)", "w(Ca_K)", "chisq"]
    images = [MAPS[i % 3] + i for i in range(len(titles))]
    path = pymca_edf(tmp_path / "sample.edf", images, titles)
    maps, elements, meta = read_pymca_edf(path)
    assert elements == ("Ca K", "Fe K", "Pb L") and meta["group"] == "parameters"
    np.testing.assert_array_equal(maps, np.stack(images[:3]))
    assert "Constant" in meta["notes"][0]
    maps, elements, _ = read_pymca_edf(path, group="massfractions")
    assert elements == ("Ca K",)
    np.testing.assert_array_equal(maps[0], images[6])


def test_pymca_single_image_edf_folder(tmp_path):
    pytest.importorskip("fabio")
    folder = tmp_path / "IMAGES"
    folder.mkdir()
    for label, title, img in zip(["Ca_K", "Pb_L", "sCa_K"], ["Ca_K", "Pb_L", "s(Ca_K)"],
                                 [MAPS[0], MAPS[1], MAPS[2]], strict=True):
        pymca_edf(folder / f"sample_{label}.edf", [img], [title])
    maps, elements, _ = read_pymca_edf_folder(folder)
    assert elements == ("Ca K", "Pb L")
    np.testing.assert_array_equal(maps, MAPS[:2])


def test_titles_name_pymca_groups():
    assert title_group("s(Fe-K)_Layer1") == ("uncertainties", "Fe-K_Layer1")
    assert title_group("mM(Ca_K)") == ("molarconcentrations", "Ca_K")
    assert title_group("chisq") == ("diagnostics", "chisq")


def test_truncated_edf_is_refused(tmp_path):
    pytest.importorskip("fabio")
    path = pymca_edf(tmp_path / "s.edf", [MAPS[0], MAPS[1]], ["Ca_K", "Fe_K"])
    data = path.read_bytes()
    path.write_bytes(data[:-50])
    with pytest.raises(InputError, match=r"truncated"):
        read_pymca_edf(path)


def test_edf_header_claiming_huge_image_is_refused_without_allocating(tmp_path):
    pytest.importorskip("fabio")
    head = (b"{\nHeaderID = EH:000001:000000:000000 ;\nImage = 1 ;\nByteOrder = LowByteFirst"
            b" ;\nDataType = FloatValue ;\nDim_1 = 60000 ;\nDim_2 = 60000 ;\nSize = "
            b"14400000000 ;\nTitle = Ca_K ;\n")
    head += b" " * (510 - len(head)) + b"}\n"
    path = tmp_path / "huge.edf"
    path.write_bytes(head + b"\0" * 100)
    with pytest.raises(InputError, match=r"truncated|damaged"):
        read_pymca_edf(path)


def test_random_bytes_named_edf(tmp_path):
    pytest.importorskip("fabio")
    path = tmp_path / "x.edf"
    path.write_bytes(np.random.default_rng(0).bytes(700))
    with pytest.raises(InputError):
        read_pymca_edf(path)


# ----------------------------------------------------------------------------- PyMca HDF5
def test_pymca_h5_parameters_and_mass_fractions(tmp_path):
    groups = {
        "parameters": {"Ca_K": MAPS[0], "Fe_K": MAPS[1], "Pb_L": MAPS[2], "Constant": MAPS[0]},
        "uncertainties": {"Ca_K": MAPS[1], "Fe_K": MAPS[1], "Pb_L": MAPS[1]},
        "massfractions": {"Ca_K": MAPS[2] / 1e3, "Pb_L": MAPS[0] / 1e3},
    }
    path = pymca_h5(tmp_path / "sample.h5", groups)
    assert is_pymca_h5(path)
    maps, elements, meta = read_pymca_h5(path)
    assert elements == ("Ca K", "Fe K", "Pb L") and meta["results"] == "sample/xrf_fit/results"
    np.testing.assert_array_equal(maps, MAPS)
    maps, elements, _ = read_pymca_h5(path, group="massfractions")
    assert elements == ("Ca K", "Pb L")
    np.testing.assert_allclose(maps[0], MAPS[2] / 1e3)


def test_generic_h5_is_not_taken_for_pymca(tmp_path):
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "maps.h5"
    with h5py.File(path, "w") as f:
        f["maps"] = MAPS
    assert not is_pymca_h5(path)


def test_truncated_pymca_h5(tmp_path):
    path = pymca_h5(tmp_path / "s.h5", {"parameters": {"Ca_K": MAPS[0]}})
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(InputError, match="damaged or truncated"):
        read_pymca_h5(path)


# -------------------------------------------------------------------------------- maxrf4u
def test_maxrf4u_datastack_latest_maps_and_atomic_numbers(tmp_path):
    path = maxrf4u_datastack(tmp_path / "scan.datastack", {
        "maxrf_sumspectrum": np.ones(64, np.float32),
        "nmf_elementmaps": MAPS[:2],
        "nmf_atomnums": np.array([82, 26]),
        "nmf_elementmaps_": MAPS,  # computed again: maxrf4u appends an underscore
        "nmf_atomnums_": np.array([82, 80, 29]),
    })
    maps, elements, meta = read_datastack_maps(path)
    assert elements == ("Pb", "Hg", "Cu") and meta["dataset"] == "nmf_elementmaps_"
    np.testing.assert_array_equal(maps, MAPS)


def test_datastack_without_element_maps_says_what_to_do(tmp_path):
    path = maxrf4u_datastack(tmp_path / "scan.datastack",
                             {"maxrf_sumspectrum": np.ones(64, np.float32)})
    with pytest.raises(InputError, match=r"no element maps yet .*compute_nmf_element_maps"):
        read_datastack_maps(path)


def test_truncated_datastack(tmp_path):
    path = maxrf4u_datastack(tmp_path / "scan.datastack", {"nmf_elementmaps": MAPS})
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(InputError, match=r"damaged or truncated"):
        read_datastack_maps(path)


def test_latest_follows_maxrf4u_underscores():
    assert latest("nmf_elementmaps", ["nmf_elementmaps", "nmf_elementmaps__",
                                      "nmf_elementmaps_", "nmf_elementmapsX"]) == \
        "nmf_elementmaps__"
    assert latest("nmf_atomnums", ["x"]) is None
