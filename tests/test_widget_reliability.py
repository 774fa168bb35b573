"""Issue 13 (reliability, round two) through the panel, by its public methods only.

These tests use nothing but the panel's public methods (``select_maps``, ``start``,
``collect_inputs``, ``report_error`` and ``wait_until_idle``), and read what the user is
told from napari's notifications.
"""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from napari_maxrf_sr.errors import InputError

pytestmark = pytest.mark.viewer

_PANEL_REWRITE = "needs the panel rewrite of issue 17 (item 2)"


def _widget(vm, qtbot):
    from napari_maxrf_sr._napari.sr_widget import SuperResolutionWidget

    w = SuperResolutionWidget(vm)
    qtbot.addWidget(w)
    return w


def _maps_and_photo(vm, elements=("Pb L", "Hg L")):
    yy, xx = np.mgrid[:8, :8]
    maps = np.stack([(xx > 3) * 40.0 + 5, (yy > 4) * 20.0 + 2]).astype(np.float32)
    for k, element in enumerate(elements):
        vm.add_image(maps[k], name=f"layer {k + 1}",
                         metadata={"maxrf_sr": {"role": "lr_map", "element": element}})
    vm.add_image(np.full((32, 32, 3), 90, np.uint8), name="photo", rgb=True)
    return [f"layer {k + 1}" for k in range(len(elements))]


def test_duplicate_element_names_are_refused_before_training(vm, qtbot):
    names = _maps_and_photo(vm, ("Pb L", "Pb L"))
    w = _widget(vm, qtbot)
    w.select_maps(names)
    with pytest.raises(InputError, match="same element name"):
        w.collect_inputs()
    before = [layer.name for layer in vm.layers]
    w.start()  # must not raise, nor train
    assert w.wait_until_idle(30)
    assert [layer.name for layer in vm.layers] == before


def test_reader_notes_reach_the_panel(vm, qtbot, tmp_path):
    from napari_maxrf_sr._napari.reader import get_reader

    folder = tmp_path / "scan"
    folder.mkdir()
    for name in ("Pb-L.tif", "Hg-L.tif"):
        tifffile.imwrite(folder / name, np.ones((8, 8), np.float32))
    tifffile.imwrite(folder / "Fe-K.tif", np.ones((8, 8, 3), np.uint8), photometric="rgb")
    for data, kwargs, _ in get_reader(str(folder))(str(folder)):
        vm.add_image(data, **kwargs)
    assert any("skipped Fe-K.tif" in n for layer in vm.layers
               for n in layer.metadata["maxrf_sr"].get("reader_notes", ()))
    vm.add_image(np.full((32, 32, 3), 90, np.uint8), name="photo", rgb=True)
    w = _widget(vm, qtbot)
    w.select_maps([layer.name for layer in vm.layers if layer.name != "photo"])
    inputs = w.collect_inputs()
    assert any("skipped Fe-K.tif" in n for n in inputs.notes)
    from napari_maxrf_sr._napari.panel.jobs import validate

    assert any("skipped Fe-K.tif" in n for n in validate(inputs, "error")[1])


def test_unexpected_error_names_a_log_file(vm, qtbot, notifications, tmp_path):
    w = _widget(vm, qtbot)
    try:
        raise TypeError("boom")
    except TypeError as exc:  # raised, so it carries a traceback like a real failure
        w.report_error(exc)
    logs = list((tmp_path / "logs").glob("*.log"))
    assert len(logs) == 1 and any(str(logs[0]) in text for text in notifications.of("error"))
    assert "Traceback" in logs[0].read_text()


def test_expected_errors_are_shown_as_they_are(vm, qtbot, notifications):
    w = _widget(vm, qtbot)
    w.report_error(InputError("The maps are wrong: do this."))
    assert notifications.of("error")[-1] == "The maps are wrong: do this."


def _opened(vm, path):
    """The photo as napari's reader adds it: with the file as its source."""
    import imageio.v3 as iio
    from napari.layers._source import layer_source

    with layer_source(path=str(path), reader_plugin="napari"):
        return vm.add_image(iio.imread(path), name="photo", rgb=True)


def test_a_hard_compressed_jpeg_photo_is_noted_in_the_panel_and_its_aligned_copy(
        vm, qtbot, tmp_path):
    from PIL import Image

    from napari_maxrf_sr._napari.align_widget import AlignPhotoWidget

    names = _maps_and_photo(vm)
    rng = np.random.default_rng(0)
    path = tmp_path / "camera.jpg"
    Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(path, quality=75)
    vm.layers.remove("photo")
    jpeg_layer = _opened(vm, path)
    w = _widget(vm, qtbot)
    w.select_maps(names)
    [note] = [n for n in w.collect_inputs().notes if "JPEG" in n]
    assert note.startswith("camera.jpg: ") and "about quality 75" in note and "4:2:0" in note
    # Aligning makes a photo with no file behind it: the note goes with it.
    align = AlignPhotoWidget(vm)
    qtbot.addWidget(align)
    layer = align._show_aligned(np.asarray(jpeg_layer.data), "photo", vm.layers[names[0]], 4,
                                {})
    assert layer.source.path is None
    assert note in layer.metadata["maxrf_sr"]["reader_notes"]
    vm.layers.remove("photo")
    w = _widget(vm, qtbot)
    w.select_maps(names)
    inputs = w.collect_inputs()
    assert inputs.photo_name == "photo (aligned)" and note in inputs.notes


def test_a_png_photo_has_no_jpeg_note(vm, qtbot, tmp_path):
    from PIL import Image

    names = _maps_and_photo(vm)
    path = tmp_path / "photo.png"
    Image.fromarray(np.full((32, 32, 3), 90, np.uint8)).save(path)
    vm.layers.remove("photo")
    _opened(vm, path)
    w = _widget(vm, qtbot)
    w.select_maps(names)
    assert not [n for n in w.collect_inputs().notes if "JPEG" in n]
