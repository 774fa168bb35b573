"""Text from files shown as typed: the panels' labels in Qt's plain-text format.

Qt draws a label's text as rich text (HTML) when it looks like HTML. An element name
from a file such as ``<b><font color=red size=7>Pb</font></b> <a href=...>click</a>``
would then be drawn huge and red with a live link, and ``<img src=...>`` would load a
local file. Element names, file names and messages from files reach the status lines,
so every label of a panel is set to plain text once it is built, tooltips that hold such
text are escaped, and napari's notifications (whose widget guesses HTML too, and which
also go to the console and log, where an escaped ``&lt;`` would show) get the text with
its angle brackets replaced by look-alike quotation marks (:func:`no_markup`).
Importing this module loads no Qt (the reader uses :func:`no_markup`).
"""

from __future__ import annotations

import html
from typing import Any


def make_labels_plain(widget: Any) -> None:
    """Show every label inside ``widget`` as plain text (no HTML, no links, no images)."""
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QLabel

    for label in widget.findChildren(QLabel):
        label.setTextFormat(Qt.PlainText)
        label.setOpenExternalLinks(False)


def plain_tooltip(text: str) -> str:
    """``text`` as a tooltip that shows it as typed (Qt guesses HTML in tooltips too)."""
    return "<qt>" + html.escape(text).replace("\n", "<br>") + "</qt>"


def no_markup(text: str) -> str:
    """``text`` with ``<`` and ``>`` as ``‹`` and ``›``: no widget can take it for HTML."""
    return str(text).replace("<", "\u2039").replace(">", "\u203a")
