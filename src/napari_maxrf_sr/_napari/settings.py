"""Remember the widget's settings between napari sessions, in a small JSON file.

The file lives in the user's configuration folder (``NAPARI_MAXRF_SR_SETTINGS``
overrides the path, which tests use to stay isolated). A missing, unreadable or
corrupt file simply means "no remembered settings": it must never stop napari.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

#: Environment variable naming the settings file (tests point it to a temporary file).
ENV_VAR = "NAPARI_MAXRF_SR_SETTINGS"
_APP = "napari-maxrf-sr"


def settings_path() -> Path:
    """Where the settings are kept."""
    override = os.environ.get(ENV_VAR)
    if override:
        return Path(override)
    try:
        from platformdirs import user_config_dir

        base = Path(user_config_dir(_APP, appauthor=False))
    except ImportError:  # platformdirs comes with napari, but do not depend on it
        base = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / _APP
    return base / "widget_settings.json"


def load_settings() -> dict[str, Any]:
    """Return the remembered settings ({} when there are none or they are unreadable)."""
    path = settings_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_settings(values: dict[str, Any]) -> Path | None:
    """Write the settings; returns the path, or None when it could not be written."""
    path = settings_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(values, indent=2, sort_keys=True), encoding="utf-8")
        tmp.replace(path)  # atomic: a crash never leaves half a file
    except (OSError, TypeError, ValueError):
        return None
    return path
