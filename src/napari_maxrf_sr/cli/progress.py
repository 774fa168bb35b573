"""Training progress on the terminal."""

from __future__ import annotations

import sys
import time

from ..core.control import format_mmss
from ..core.events import Stage

#: Stages whose events are always printed, with their message.
_SAID = (Stage.PREPARE, Stage.FINALISE, Stage.DONE)


class ProgressBar:
    """A one-line progress bar on stderr (a new line every few seconds when not a terminal)."""

    def __init__(self, stream=None, width: int = 24) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last_line = 0.0

    def __call__(self, event) -> None:
        """Draw one training event."""
        frac = event.step / event.total if event.total else 1.0
        filled = int(round(self.width * min(max(frac, 0.0), 1.0)))
        bar = "#" * filled + "-" * (self.width - filled)
        loss = event.losses.get("total")
        loss_txt = f" loss {loss:.3g}" if loss is not None else ""
        line = (f"[{bar}] {100 * frac:3.0f}% {event.stage:<8} step {event.step}/{event.total}"
                f" elapsed {format_mmss(event.elapsed)} left {format_mmss(event.eta)}{loss_txt}")
        if event.message and event.stage in _SAID:
            line += f"  {event.message}"
        now = time.monotonic()
        if self.tty:
            self.stream.write("\r" + line.ljust(110))
            if event.stage == Stage.DONE:
                self.stream.write("\n")
        elif now - self._last_line >= 5.0 or event.stage in _SAID:
            self.stream.write(line + "\n")
            self._last_line = now
        self.stream.flush()
