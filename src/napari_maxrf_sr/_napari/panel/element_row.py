"""The panel's *Show* row: step through the elements one at a time, alone or beside the photo.

The Qt side of :mod:`.element_view`: a drop-down of the elements that the viewer's map
layers show, buttons for the previous and next element, and a box that puts the element
beside the photo in napari's grid.
"""

from __future__ import annotations

from typing import Any

from qtpy.QtCore import Signal
from qtpy.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QToolButton, QWidget

from napari_maxrf_sr._napari.panel import element_view as ev


class ElementRow(QWidget):
    """``Show [<] [Pb L v] [>] [x] beside the photo``: one element at a time.

    ``about_to_show`` fires before the viewer changes (the widget then leaves other
    views, such as Compare); ``shown`` with the element after.
    """

    about_to_show = Signal()
    shown = Signal(str)

    def __init__(self, viewer: Any, photo_name: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = ev.ElementView(viewer)
        self._photo_name = photo_name  # a callable: the photo chosen in the Input section
        self.combo = QComboBox()
        self.combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(6)
        self.combo.setToolTip("The element shown; every other element's maps are hidden.")
        self.prev_btn, self.next_btn = QToolButton(), QToolButton()
        self.prev_btn.setText("\u25c0")
        self.next_btn.setText("\u25b6")
        self.prev_btn.setToolTip("The previous element")
        self.next_btn.setToolTip("The next element")
        self.beside_check = QCheckBox("beside the photo")
        self.beside_check.setToolTip("Photo, scan and result of the element side by side, "
                                     "labelled (napari's grid).")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addWidget(QLabel("Show"))
        for w in (self.prev_btn, self.combo, self.next_btn, self.beside_check):
            layout.addWidget(w)
        layout.setStretch(2, 1)
        self.prev_btn.clicked.connect(lambda: self.step(-1))
        self.next_btn.clicked.connect(lambda: self.step(+1))
        self.combo.activated.connect(lambda _: self.apply())
        self.beside_check.toggled.connect(lambda _: self.apply())
        self.refresh()

    def refresh(self, *_: Any) -> None:
        """List the elements of the viewer's map layers (keeping the choice)."""
        names = ev.elements(self.view.viewer.layers)
        current = self.combo.currentText()
        self.combo.blockSignals(True)
        self.combo.clear()
        self.combo.addItems(names)
        if current in names:
            self.combo.setCurrentText(current)
        self.combo.blockSignals(False)
        for w in (self.combo, self.prev_btn, self.next_btn, self.beside_check):
            w.setEnabled(bool(names))

    def step(self, by: int) -> None:
        """Show the element ``by`` places after the current one."""
        names = [self.combo.itemText(i) for i in range(self.combo.count())]
        name = ev.step(names, self.combo.currentText(), by)
        if name:
            self.combo.setCurrentText(name)
            self.apply()

    def apply(self) -> list[Any]:
        """Show the chosen element as the row says."""
        element = self.combo.currentText()
        if not element:
            return []
        self.about_to_show.emit()
        name = self._photo_name()
        layers = self.view.viewer.layers
        photo = layers[name] if name and name in layers else None
        shown = self.view.show(element, photo=photo, beside=self.beside_check.isChecked())
        self.shown.emit(element)
        return shown

    def show_first_of(self, elements: Any) -> list[Any]:
        """Show the current element if it is one of ``elements``, else the first of them."""
        self.refresh()
        names = list(elements)
        if names and self.combo.currentText() not in names:
            self.combo.setCurrentText(names[0])
        return self.apply()

    def leave_beside(self) -> None:
        """Untick *beside the photo* and leave the grid (another view takes the canvas)."""
        self.beside_check.blockSignals(True)
        self.beside_check.setChecked(False)
        self.beside_check.blockSignals(False)
        self.view.leave_beside()
