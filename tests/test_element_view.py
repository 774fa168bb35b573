"""One element at a time: the Show row's model on a napari ViewerModel (no OpenGL)."""

from __future__ import annotations

import numpy as np

from napari_maxrf_sr._napari.panel import element_view as ev


def _add(vm, name, role, element, shape=(16, 16), visible=True):
    return vm.add_image(np.zeros(shape, np.float32), name=name, visible=visible,
                        metadata={"maxrf_sr": {"role": role, "element": element}})


def _painting(vm):
    photo = vm.add_image(np.zeros((16, 16, 3), np.uint8), rgb=True, name="photo")
    for el in ("Pb L", "Hg L", "Fe K"):
        _add(vm, el, "lr_map", el, shape=(4, 4))
        _add(vm, f"{el} (truth)", "truth", el, visible=False)
    points = vm.add_points(np.zeros((1, 2)), name="points")
    return photo, points


def _visible(vm):
    return {x.name for x in vm.layers if x.visible}


def test_elements_in_layer_list_order_each_once(vm):
    _painting(vm)
    assert ev.elements(vm.layers) == ["Pb L", "Hg L", "Fe K"]  # in the order they came
    assert ev.step(["a", "b", "c"], "c", +1) == "a" and ev.step(["a", "b"], "a", -1) == "b"
    assert ev.step([], "a", 1) == "" and ev.step(["a", "b"], "gone", 1) == "a"


def test_show_alone_hides_every_other_element(vm):
    photo, points = _painting(vm)
    view = ev.ElementView(vm)
    shown = view.show("Hg L", photo=photo)
    assert [x.name for x in shown] == ["Hg L"]
    assert _visible(vm) == {"photo", "Hg L", "points"}, "other layers are left alone"
    _add(vm, "Hg L (SR)", "sr_map", "Hg L")
    assert [x.name for x in view.show("Hg L", photo=photo)] == ["Hg L (SR)"], "the result first"
    assert _visible(vm) == {"photo", "Hg L (SR)", "points"}


def test_beside_the_photo_is_a_labelled_grid_and_leaving_restores(vm):
    photo, points = _painting(vm)
    _add(vm, "Pb L (SR)", "sr_map", "Pb L")
    view = ev.ElementView(vm)
    shown = view.show("Pb L", photo=photo, beside=True)
    assert [x.name for x in shown] == ["photo", "Pb L", "Pb L (SR)", "Pb L (truth)"]
    assert _visible(vm) == {x.name for x in shown}, "only the cells are visible"
    assert vm.canvas.grid.enabled and view.beside
    assert all(x.name_overlay.visible for x in shown) and not points.name_overlay.visible
    view.show("Hg L", photo=photo)  # alone again: the grid goes, the points come back
    assert not vm.canvas.grid.enabled and not view.beside
    assert _visible(vm) == {"photo", "Hg L", "points"}
    assert not any(x.name_overlay.visible for x in vm.layers)
