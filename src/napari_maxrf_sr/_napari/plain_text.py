"""Text from files shown as typed: the panels' labels in Qt's plain-text format.

Qt draws a label's text as rich text (HTML) when it looks like HTML. An element name
from a file such as ``<b><font color=red size=7>Pb</font></b> <a href=...>click</a>``
would then be drawn huge and red with a live link, and ``<img src=...>`` would load a
local file. Element names, file names and messages from files reach the status lines,
so every label of a panel is set to plain text once it is built, and tooltips that hold
such text are escaped.
"""

from __future__ import annotations

import html

from qtpy.QtCore import Qt
from qtpy.QtWidgets import QLabel, QWidget


def make_labels_plain(widget: QWidget) -> None:
    """Show every label inside ``widget`` as plain text (no HTML, no links, no images)."""
    for label in widget.findChildren(QLabel):
        label.setTextFormat(Qt.PlainText)
        label.setOpenExternalLinks(False)


def plain_tooltip(text: str) -> str:
    """``text`` as a tooltip that shows it as typed (Qt guesses HTML in tooltips too)."""
    return "<qt>" + html.escape(text).replace("\n", "<br>") + "</qt>"
