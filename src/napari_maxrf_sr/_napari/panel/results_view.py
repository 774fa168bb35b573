"""The Results section: quality in words and numbers, quality maps on request, comparison.

With ground truth, a table puts the network beside bicubic interpolation; without,
a table says how much detail the photo added to each map and where. The run's notes
and the core's quality check are shown in words. Buttons add one quality map of
the chosen element, open the comparison view, and save.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from napari_maxrf_sr._napari.panel import texts
from napari_maxrf_sr._napari.panel.outcome import RunOutcome
from napari_maxrf_sr._napari.plain_text import plain_tooltip

#: Quality maps the user can ask for: label -> kind (see ``results.DIAGNOSTICS``).
VIEWS = {"Detail the photo added": "detail", "Error against the truth": "error",
         "Disagreement with the scan": "consistency"}
_TRUTH_HEADERS = ("Element", "Network\nPSNR (dB)", "Bicubic\nPSNR (dB)", "Network\nSSIM",
                  "Bicubic\nSSIM")
_DETAIL_HEADERS = ("Element", "Area\nsharpened", "Typical\nchange", "Where")


class Dialogs:
    """The file dialogs and questions the panel asks (tests give it another object)."""

    def __init__(self, parent: QWidget) -> None:
        self.parent = parent

    def save_path(self, title: str, filters: str) -> str:
        """Ask where to save; '' when cancelled."""
        return QFileDialog.getSaveFileName(self.parent, title, "", filters)[0]

    def open_path(self, title: str, filters: str) -> str:
        """Ask which file to open; '' when cancelled."""
        return QFileDialog.getOpenFileName(self.parent, title, "", filters)[0]

    def confirm_overwrite(self, path: str) -> bool:
        """Ask before replacing a file."""
        box = QMessageBox(QMessageBox.Question, "Replace file?", f"{path} exists. Replace it?",
                          QMessageBox.Yes | QMessageBox.No, self.parent)
        box.setTextFormat(Qt.PlainText)  # a file name is shown as typed, never as HTML
        return box.exec() == QMessageBox.Yes


def _label(text: str = "", *, warn: bool = False) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextSelectableByMouse)
    if warn:
        label.setStyleSheet("color: #e8a33d;")
    return label


def fit_table_height(table: QTableWidget) -> None:
    """Make a table exactly as tall as its rows (no inner scroll bar, no empty space)."""
    table.resizeRowsToContents()
    header = table.horizontalHeader()
    height = max(header.height(), header.sizeHint().height()) + 2 * table.frameWidth()
    height += sum(table.rowHeight(r) for r in range(table.rowCount()))
    table.setFixedHeight(height)


class ResultsView(QWidget):
    """What the panel shows about the latest result."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.quality_label = _label(warn=True)
        self.summary_label = _label("The results appear here when a run ends.")
        self.table = QTableWidget(0, 0)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.NoSelection)
        self.table.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.notes_label = _label()
        self.element_combo = QComboBox()
        self.element_combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.element_combo.setMinimumContentsLength(6)
        self.element_combo.setToolTip("The element to look at closer or to compare.")
        self.view_combo = QComboBox()
        self.view_combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.view_combo.setMinimumContentsLength(12)
        self.show_btn = QPushButton("Show map")
        self.show_btn.setToolTip("Add the chosen quality map of the chosen element on top "
                                 "(it replaces the previous one of its kind).")
        self.compare_btn = QPushButton("Compare")
        self.compare_btn.setCheckable(True)
        self.compare_btn.setToolTip("Photo, scan, result and plain bicubic interpolation of "
                                    "the chosen element side by side; press again to go back.")
        self.save_btn = QPushButton("Save results...")
        self.save_btn.setToolTip("Write the result maps as a multi-page TIFF with a record "
                                 "of how they were made.")
        self.save_model_btn = QPushButton("Save model...")
        self.save_model_btn.setToolTip("Keep the network trained last, to apply it again "
                                       "later.")
        self.apply_btn = QPushButton("Apply saved model...")
        self.apply_btn.setToolTip("Run a saved network on the selected maps and photo.")
        self.reanswer_btn = QPushButton("Answer again")
        self.reanswer_btn.setToolTip(
            "Run the network trained last on the selected maps and photo again, with the "
            "Scan check (R) now set under Advanced, without training again (seconds). Its "
            "maps replace the (SR) layers.")
        self._build()
        self.show_outcome(None)

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for w in (self.quality_label, self.summary_label, self.table, self.notes_label):
            layout.addWidget(w)
        look = QGridLayout()
        look.addWidget(QLabel("Element"), 0, 0)
        look.addWidget(self.element_combo, 0, 1)
        look.addWidget(self.compare_btn, 0, 2)
        look.addWidget(self.view_combo, 1, 0, 1, 2)
        look.addWidget(self.show_btn, 1, 2)
        look.setColumnStretch(1, 1)
        layout.addLayout(look)
        row1, row2 = QHBoxLayout(), QHBoxLayout()
        row1.addWidget(self.save_btn)
        row1.addWidget(self.save_model_btn)
        row2.addWidget(self.apply_btn)
        row2.addWidget(self.reanswer_btn)
        layout.addLayout(row1)
        layout.addLayout(row2)

    def show_outcome(self, outcome: RunOutcome | None) -> None:
        """Fill the section from a finished run (``None``: nothing yet)."""
        has = outcome is not None
        self.table.setVisible(has and bool(outcome.comparisons or outcome.detail))
        for w in (self.element_combo, self.view_combo, self.show_btn, self.compare_btn):
            w.setEnabled(has)
        self.element_combo.clear()
        self.view_combo.clear()
        if not has:
            self.quality_label.setVisible(False)
            self.notes_label.setVisible(False)
            return
        self.element_combo.addItems(list(outcome.elements))
        truth = bool(outcome.comparisons)
        self.view_combo.addItems([label for label, kind in VIEWS.items()
                                  if kind != "error" or truth])
        warning = texts.quality_warning(outcome.quality)
        self.quality_label.setText(warning)
        self.quality_label.setVisible(bool(warning))
        if truth:
            self.summary_label.setText(texts.comparison_sentence(outcome.comparisons))
            self._fill(_TRUTH_HEADERS, [
                (c.element, f"{c.network.psnr:.2f}", f"{c.bicubic.psnr:.2f}",
                 f"{c.network.ssim:.3f}", f"{c.bicubic.ssim:.3f}")
                for c in outcome.comparisons])
        else:
            self.summary_label.setText(
                "No ground truth: how much detail the photo added beyond plain (bicubic) "
                "interpolation, and where. Check it critically with 'Show map'.")
            self._fill(_DETAIL_HEADERS, [
                (d.element, f"{d.changed_pct:.0f} %", f"{d.typical_pct:.1f} %", d.where)
                for d in outcome.detail])
            self.table.setToolTip(plain_tooltip("\n".join(d.sentence() for d in outcome.detail)))
        self._show_notes(outcome.notes)

    def _fill(self, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        table = self.table
        table.clear()
        table.setColumnCount(len(headers))
        table.setHorizontalHeaderLabels(list(headers))
        table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                item = QTableWidgetItem(text)
                if c:
                    item.setTextAlignment(int(Qt.AlignRight | Qt.AlignVCenter))
                table.setItem(r, c, item)
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.Stretch)
        header.setSectionResizeMode(0, QHeaderView.ResizeToContents)
        fit_table_height(table)

    def _show_notes(self, notes: Sequence[str]) -> None:
        notes = [str(n) for n in notes if str(n).strip()]
        self.notes_label.setText("Notes about this run:\n" + "\n".join(f"- {n}" for n in notes)
                                 if notes else "")
        self.notes_label.setVisible(bool(notes))

    def follow_element(self, element: str) -> None:
        """Choose ``element`` here too when it has a result (the Show row changed it)."""
        if self.element_combo.findText(element) >= 0:
            self.element_combo.setCurrentText(element)

    def chosen(self) -> tuple[str, str]:
        """The chosen element and quality-map kind."""
        return self.element_combo.currentText(), VIEWS.get(self.view_combo.currentText(), "")

    def set_enabled(self, running: bool, outcome: Any, network: Any = None) -> None:
        """Enable what makes sense while a job runs or not (``network``: the last trained)."""
        self.reanswer_btn.setEnabled(not running and network is not None)
        self.save_btn.setEnabled(not running and outcome is not None)
        self.save_model_btn.setEnabled(not running and network is not None)
        self.apply_btn.setEnabled(not running)
