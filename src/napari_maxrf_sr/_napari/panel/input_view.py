"""The Input section: element maps to tick, the photo, clipping, ground truth, the scale.

It lists the viewer's layers (keeping the user's choices when layers come and go) and
ticks "Compare with ground truth" by itself when truth layers of the listed maps are
in the viewer (the sample painting has them), until the user changes it. When the photo
is not on the maps' grid (a camera photo), it offers to align it: one button that opens
the alignment widget and runs its automatic alignment, then picks the aligned photo.
"""

from __future__ import annotations

from typing import Any

from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QWidget,
)

from napari_maxrf_sr._napari.panel import inputs as inp


class InputView(QWidget):
    """Which layers the next run uses."""

    def __init__(self, viewer: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = viewer
        self.maps_list = QListWidget()
        self.maps_list.setSelectionMode(QAbstractItemView.NoSelection)
        self.maps_list.setToolTip("Tick the element maps to super-resolve. All must have the "
                                  "same size; the photo must be a whole-number multiple of it.")
        self.photo_combo = QComboBox()
        self.photo_combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.photo_combo.setMinimumContentsLength(10)
        self.photo_combo.setToolTip("The colour photo on the scan's grid (an RGB image layer).")
        self.clip_check = QCheckBox("Clip negative values to zero")
        self.clip_check.setToolTip("For fitted peak areas whose noise dips below zero: set "
                                   "negative values to zero instead of stopping with an error.")
        self.truth_check = QCheckBox("Compare with ground truth")
        self.truth_check.setToolTip("For test cases with known fine maps (layers named "
                                    "'<element> (truth)'): show the network beside bicubic "
                                    "interpolation, and error maps.")
        self.scale_label = QLabel()
        self.scale_label.setWordWrap(True)
        self.align_button = QPushButton("Align the photo to the maps")
        self.align_button.setToolTip(
            "The photo is not on the maps' grid (a camera photo: another size, a margin, a "
            "slight turn). Register it to the maps automatically, no points needed.")
        self.align_button.setVisible(False)
        self.align_button.clicked.connect(self.align_photo)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Element maps", self.maps_list)
        form.addRow("Photo", self.photo_combo)
        form.addRow(self.clip_check)
        form.addRow(self.truth_check)
        form.addRow("Scale", self.scale_label)
        form.addRow(self.align_button)
        self._truth_auto = True  # until the user ticks or unticks it
        self._truth_seen: frozenset[str] = frozenset()
        self.truth_check.clicked.connect(self._user_set_truth)
        self.maps_list.itemChanged.connect(self.update_scale)
        self.photo_combo.currentIndexChanged.connect(self.update_scale)

    def _user_set_truth(self, *_: Any) -> None:
        self._truth_auto = False

    def _image_layers(self) -> list[Any]:
        return [layer for layer in self.viewer.layers if layer._type_string == "image"]

    def refresh(self, *_: Any) -> None:
        """Re-list the viewer's layers, keeping the user's choices where possible."""
        chosen = self.checked_names()
        first = self.maps_list.count() == 0 and not chosen
        photo = self.photo_combo.currentText()
        self.maps_list.blockSignals(True)
        self.photo_combo.blockSignals(True)
        self.maps_list.clear()
        self.photo_combo.clear()
        photos = []
        for layer in self._image_layers():
            if inp.is_photo(layer):
                if inp.layer_role(layer) != "comparison":
                    self.photo_combo.addItem(layer.name)
                    photos.append(layer)
                continue
            if not inp.is_map_candidate(layer):
                continue
            item = QListWidgetItem(layer.name)
            item.setFlags(Qt.ItemIsUserCheckable | Qt.ItemIsEnabled)
            tagged = inp.layer_role(layer) == "lr_map"
            tick = layer.name in chosen or (tagged and (first or not chosen))
            item.setCheckState(Qt.Checked if tick else Qt.Unchecked)
            self.maps_list.addItem(item)
        idx = self.photo_combo.findText(photo)
        if idx < 0:  # prefer a layer tagged as the photo
            tagged = [i for i, layer in enumerate(photos) if inp.layer_role(layer) == "photo"]
            idx = tagged[0] if tagged else 0
        self.photo_combo.setCurrentIndex(idx if self.photo_combo.count() else -1)
        self.maps_list.blockSignals(False)
        self.photo_combo.blockSignals(False)
        self._fit_list()
        self._update_truth()
        self.update_scale()

    def _fit_list(self) -> None:
        """Show every map without an inner scroll bar up to ten rows."""
        rows = max(1, min(self.maps_list.count(), 10))
        row_h = self.maps_list.sizeHintForRow(0) if self.maps_list.count() else 18
        self.maps_list.setFixedHeight(rows * max(row_h, 16) + 2 * self.maps_list.frameWidth())

    def _update_truth(self) -> None:
        names = [n for layer in self.selected_map_layers() for n in inp.element_names(layer)]
        truth = frozenset(inp.find_truth(self._image_layers(), names,
                                         self._photo_shape() or (-1, -1)))
        if self.maps_list.isEnabled():  # not while a job runs
            self.truth_check.setEnabled(bool(truth) or self.truth_check.isChecked())
        if truth != self._truth_seen:
            self._truth_seen = truth
            self._truth_auto = True  # other truth layers: choose again
        if self._truth_auto:
            self.truth_check.setChecked(bool(truth))

    def _photo_shape(self) -> tuple[int, int] | None:
        photo = self.photo_layer()
        return None if photo is None else tuple(photo.data.shape[:2])

    # -- choices --------------------------------------------------------------------------
    def checked_names(self) -> set[str]:
        """Names of the ticked map layers."""
        items = (self.maps_list.item(i) for i in range(self.maps_list.count()))
        return {item.text() for item in items if item.checkState() == Qt.Checked}

    def selected_map_layers(self) -> list[Any]:
        """The ticked element-map layers, in the viewer's order."""
        names = self.checked_names()
        return [layer for layer in self._image_layers() if layer.name in names]

    def select_maps(self, names: list[str]) -> None:
        """Tick exactly these element-map layers (for scripts and tests)."""
        for i in range(self.maps_list.count()):
            item = self.maps_list.item(i)
            item.setCheckState(Qt.Checked if item.text() in names else Qt.Unchecked)

    def photo_layer(self) -> Any:
        """The chosen photo layer, or ``None``."""
        name = self.photo_combo.currentText()
        return self.viewer.layers[name] if name and name in self.viewer.layers else None

    def update_scale(self, *_: Any) -> None:
        """Show the detected scale, or what is wrong with the choice."""
        text, error = inp.scale_text(self.selected_map_layers(), self.photo_layer())
        self.scale_label.setText(text)
        self.scale_label.setStyleSheet("color: #e8a33d;" if error else "")
        self.align_button.setVisible(self._off_grid())

    def _off_grid(self) -> bool:
        """Whether the photo is bigger than the maps but not a whole multiple of them."""
        maps, photo = self.selected_map_layers(), self.photo_layer()
        if not maps or photo is None or getattr(photo, "multiscale", False):
            return False
        h, w = maps[0].data.shape[-2:]
        big_h, big_w = photo.data.shape[:2]
        if big_h < h or big_w < w:
            return False
        return bool(big_h % h or big_w % w or big_h // h != big_w // w)

    def align_photo(self) -> Any:
        """Open the alignment widget and align the chosen photo to the ticked maps.

        Returns the alignment widget (``None`` without a window to dock it in). The
        aligned photo becomes the panel's photo when it arrives.
        """
        from napari_maxrf_sr._napari.align_widget import AlignPhotoWidget

        maps, photo = self.selected_map_layers(), self.photo_layer()
        window = getattr(self.viewer, "window", None)
        if not maps or photo is None or window is None:
            return None
        widget = AlignPhotoWidget(self.viewer)
        window.add_dock_widget(widget, name="Align photo to the scan")
        widget.photo_combo.setCurrentText(photo.name)
        widget.map_combo.setCurrentText(maps[0].name)
        aligned = f"{photo.name} (aligned)"
        widget.align_automatically(on_done=lambda: self.photo_combo.setCurrentText(aligned))
        return widget

    def collect(self) -> inp.RunInputs:
        """Copy the chosen layers' data for a run (raises InputError with what to do)."""
        truth = self._image_layers() if self.truth_check.isChecked() else None
        return inp.collect_inputs(self.selected_map_layers(), self.photo_layer(), truth)

    def negative_mode(self) -> str:
        """``"clip"`` when negative map values are to be set to zero, else ``"error"``."""
        return "clip" if self.clip_check.isChecked() else "error"

    def set_running(self, running: bool) -> None:
        """Lock the choices while a job runs."""
        for w in (self.maps_list, self.photo_combo, self.truth_check, self.clip_check):
            w.setEnabled(not running)
        if not running:
            self._update_truth()
