"""A scrolling column of folding sections, so the panel fits a 1366 x 768 laptop screen."""

from __future__ import annotations

from qtpy.QtCore import Qt, QTimer
from qtpy.QtWidgets import QFrame, QScrollArea, QSizePolicy, QVBoxLayout, QWidget
from superqt import QCollapsible


class Section(QCollapsible):
    """A titled section that folds away with a click on its title."""

    def __init__(self, title: str, body: QWidget, *, expanded: bool = True) -> None:
        super().__init__(title, expandedIcon="\u25bc", collapsedIcon="\u25b6")
        self.setDuration(0)  # fold at once: an animation only delays the layout
        self.body = body
        self.addWidget(body)
        if expanded:
            self.expand(animate=False)
        else:
            self.collapse(animate=False)


class ScrollingColumn(QScrollArea):
    """Sections stacked top to bottom in a scroll area that never asks for more height."""

    def __init__(self) -> None:
        super().__init__()
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        inner = QWidget()
        inner.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Minimum)
        self._layout = QVBoxLayout(inner)
        self._layout.setContentsMargins(4, 4, 4, 4)
        self._layout.addStretch(1)
        self.setWidget(inner)
        self.setMinimumHeight(120)
        self._pending: QWidget | None = None
        self._later = QTimer(self)
        self._later.setSingleShot(True)
        self._later.timeout.connect(lambda: self._pending and self.show_section(self._pending))

    def add(self, section: QWidget) -> None:
        """Append a section (above the stretch at the bottom)."""
        self._layout.insertWidget(self._layout.count() - 1, section)

    def show_section(self, section: QWidget, *, later: bool = False) -> None:
        """Scroll so that ``section``'s top is in view.

        ``later``: after the event loop has laid out what just changed (a section that
        was filled or unfolded has its new height only then).
        """
        if later:
            # A timer owned by the column: it dies with the panel if that closes first.
            self._pending = section
            self._later.start(0)
            return
        self.ensureWidgetVisible(section, 0, 0)
        self.verticalScrollBar().setValue(
            min(section.y(), self.verticalScrollBar().maximum()))
