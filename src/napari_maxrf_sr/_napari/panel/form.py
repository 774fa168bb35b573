"""The settings form: method, preset, time budget, seed, device and the Advanced fields.

It turns what the user set into an ``SRConfig`` and remembers it between napari
sessions (:mod:`napari_maxrf_sr._napari.settings`).
"""

from __future__ import annotations

from typing import Any

from qtpy.QtCore import Signal
from qtpy.QtGui import QDoubleValidator
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from napari_maxrf_sr._napari.panel import texts
from napari_maxrf_sr._napari.panel.outcome import NETWORK, NETWORK_LABEL
from napari_maxrf_sr._napari.panel.sections import Section
from napari_maxrf_sr._napari.settings import load_settings, save_settings
from napari_maxrf_sr.core.config import FIELD_HELP, PRESETS, SRConfig, config_from_preset
from napari_maxrf_sr.errors import InputError
from napari_maxrf_sr.method_names import canonical_method


class FloatEdit(QLineEdit):
    """A text field for numbers such as 3e-06 that a spin box shows badly."""

    def __init__(self, value: float):
        super().__init__()
        self.setValidator(QDoubleValidator(0.0, 1e12, 12))
        self.setValue(value)

    def setValue(self, value: float) -> None:  # noqa: N802 - Qt-style name
        """Show a value."""
        self.setText(f"{value:g}")

    def value(self) -> float:
        """Return the value typed; raise InputError when it is not a number."""
        try:
            return float(self.text())
        except ValueError:
            raise InputError(f"{self.text()!r} is not a number.") from None


class ChoiceBox(QComboBox):
    """A drop-down for a setting with named choices, showing each choice in plain words.

    ``value()`` and ``setValue()`` speak the config's values (``"scan"``), the list
    shows :data:`~napari_maxrf_sr._napari.panel.texts.CHOICE_LABELS` ("clipped to
    scan").
    """

    def __init__(self, name: str, choices: tuple[str, ...], value: str):
        super().__init__()
        labels = texts.CHOICE_LABELS.get(name, {})
        for choice in choices:
            self.addItem(labels.get(choice, choice), choice)
        self.setValue(value)

    def setValue(self, value: str) -> None:  # noqa: N802 - Qt-style name
        """Select a choice by its config value; ValueError for an unknown one."""
        idx = self.findData(value)
        if idx < 0:
            raise ValueError(f"{value!r} is not one of the choices")
        self.setCurrentIndex(idx)

    def value(self) -> str:
        """The selected choice's config value."""
        return str(self.currentData())


def _methods() -> dict[str, str]:
    methods = {NETWORK: NETWORK_LABEL}
    try:
        from napari_maxrf_sr.baselines import METHODS
    except ImportError:
        return methods
    methods.update({name: f"{name} (comparison)" for name in METHODS if name != NETWORK})
    return methods


def _devices() -> list[str]:
    try:
        from napari_maxrf_sr.core.device import available_devices

        return available_devices()
    except Exception:  # noqa: BLE001 - a broken torch must not break the panel
        return ["cpu"]


def _field_widget(name: str, value: Any) -> QWidget:
    if isinstance(value, bool):
        return QCheckBox()
    if isinstance(value, str):
        choices = SRConfig.__dataclass_fields__[name].metadata["choices"]
        return narrow(ChoiceBox(name, tuple(choices), value))
    if isinstance(value, int):
        w = QSpinBox()
        w.setRange(0, 10**9)
        w.setGroupSeparatorShown(True)
    else:
        w = FloatEdit(value)
    narrow(w)
    return w


def narrow(w: QWidget, chars: int = 10) -> QWidget:
    """Let a field shrink with the panel (its longest value needs no room of its own)."""
    if isinstance(w, QComboBox):
        w.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        w.setMinimumContentsLength(chars)
    else:
        w.setMinimumWidth(w.fontMetrics().horizontalAdvance("0" * chars))
        w.setSizePolicy(QSizePolicy.Ignored, w.sizePolicy().verticalPolicy())
    return w


class SettingsForm(QWidget):
    """Settings of the next run. ``changed`` fires when the method changes."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        self.method_combo = QComboBox()
        for key, label in _methods().items():
            self.method_combo.addItem(label, key)
        self.method_combo.setToolTip("The network learns from this painting alone; the "
                                     "comparison methods are quick baselines.")
        self.preset_combo = QComboBox()
        self.preset_combo.addItems([p for p in texts.PRESET_ORDER if p in PRESETS]
                                   + [p for p in PRESETS if p not in texts.PRESET_ORDER])
        self.preset_combo.setToolTip(texts.PRESET_HELP)
        self.minutes_spin = QDoubleSpinBox()
        self.minutes_spin.setRange(0, 100_000)
        self.minutes_spin.setDecimals(1)
        self.minutes_spin.setSuffix(" min")
        self.minutes_spin.setSpecialValueText("no limit")
        self.minutes_spin.setToolTip("Stop training after this many minutes and keep the "
                                     "result (start-up and computing the maps come on top).")
        self.budget_warning = QLabel()
        self.budget_warning.setWordWrap(True)
        self.budget_warning.setStyleSheet("color: #e8a33d;")
        self.budget_warning.setVisible(False)
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setToolTip("The same seed, data and settings give the same maps on a CPU.")
        self.device_combo = QComboBox()
        self.device_combo.addItems(["auto", *_devices()])
        self.device_combo.setToolTip(FIELD_HELP["device"])
        for w in (self.method_combo, self.preset_combo, self.device_combo):
            narrow(w)
        for label, w in (("Method", self.method_combo), ("Preset", self.preset_combo),
                         ("Time budget", self.minutes_spin), ("", self.budget_warning),
                         ("Seed", self.seed_spin), ("Device", self.device_combo)):
            form.addRow(label, w) if label else form.addRow(w)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form)
        self.advanced_fields: dict[str, QWidget] = {}
        self.advanced = Section("Advanced", self._advanced_body(), expanded=False)
        layout.addWidget(self.advanced)
        self.preset_combo.currentTextChanged.connect(self.apply_preset)
        self.method_combo.currentIndexChanged.connect(self.changed.emit)
        self.minutes_spin.valueChanged.connect(self._check_budget)
        self.apply_preset(self.preset_combo.currentText())

    def _advanced_body(self) -> QWidget:
        body = QWidget()
        form = QFormLayout(body)
        form.setContentsMargins(0, 0, 0, 0)
        form.setRowWrapPolicy(QFormLayout.WrapLongRows)
        defaults = SRConfig()
        for name, (label, tip) in texts.ADVANCED_FIELDS.items():
            w = _field_widget(name, getattr(defaults, name))
            lab = QLabel(label)
            for x in (w, lab):
                x.setToolTip(tip)
            form.addRow(lab, w)
            self.advanced_fields[name] = w
        return body

    def _check_budget(self, *_: Any) -> None:
        text = texts.budget_warning(self.minutes_spin.value() * 60.0)
        self.budget_warning.setText(text)
        self.budget_warning.setVisible(bool(text))

    # -- values --------------------------------------------------------------------------
    def apply_preset(self, name: str) -> None:
        """Fill the Advanced fields from a preset."""
        cfg = config_from_preset(name)
        self.set_advanced(**{f: getattr(cfg, f) for f in self.advanced_fields})

    def set_advanced(self, **values: Any) -> None:
        """Set Advanced fields by config name (for scripts and tests)."""
        for name, value in values.items():
            w = self.advanced_fields[name]
            w.setChecked(bool(value)) if isinstance(w, QCheckBox) else w.setValue(value)

    def method(self) -> str:
        """The chosen method key (``"network"`` or a baseline name)."""
        return str(self.method_combo.currentData())

    def current_config(self, **overrides: Any) -> SRConfig:
        """The network's settings (ValueError or InputError when a field is invalid)."""
        adv = {name: w.isChecked() if isinstance(w, QCheckBox) else w.value()
               for name, w in self.advanced_fields.items()}
        minutes = self.minutes_spin.value()
        values = {**adv, "max_seconds": minutes * 60.0 if minutes > 0 else None,
                  "seed": int(self.seed_spin.value()), "device": self.device_combo.currentText(),
                  **overrides}
        return config_from_preset(self.preset_combo.currentText(), **values)

    def set_running(self, running: bool) -> None:
        """Lock the form while a job runs (changes would do nothing)."""
        is_net = self.method() == NETWORK
        self.method_combo.setEnabled(not running)
        self.device_combo.setEnabled(not running and is_net)
        for w in (self.preset_combo, self.minutes_spin, self.seed_spin, self.advanced):
            w.setEnabled(is_net and not running)

    # -- persistence ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The form as plain JSON values; of Advanced, only what differs from the preset.

        Only the user's own changes are remembered, so that a default changed in a later
        version (by the rule for defaults, docs/method.md) reaches the user.
        """
        preset = config_from_preset(self.preset_combo.currentText())
        changes = {}
        for name, w in self.advanced_fields.items():
            value = (w.isChecked() if isinstance(w, QCheckBox)
                     else w.text() if isinstance(w, FloatEdit) else w.value())
            if not _same(value, getattr(preset, name)):
                changes[name] = value
        return {"method": self.method(), "preset": self.preset_combo.currentText(),
                "minutes": self.minutes_spin.value(), "seed": self.seed_spin.value(),
                "device": self.device_combo.currentText(), "advanced_changes": changes}

    def save(self, **extra: Any) -> None:
        """Remember the form (and ``extra`` values) for the next session."""
        save_settings({**self.to_dict(), **extra})

    def restore(self) -> dict[str, Any]:
        """Show the remembered settings; returns them (``{}`` when there are none)."""
        s = load_settings()
        try:
            # canonical: settings saved before the network's key was "network" say "adun"
            idx = self.method_combo.findData(canonical_method(str(s.get("method"))))
            if idx >= 0:
                self.method_combo.setCurrentIndex(idx)
            if s.get("preset") in PRESETS:
                self.preset_combo.setCurrentText(s["preset"])
            self.minutes_spin.setValue(float(s.get("minutes", 0)))
            self.seed_spin.setValue(int(s.get("seed", 0)))
            if self.device_combo.findText(str(s.get("device"))) >= 0:
                self.device_combo.setCurrentText(str(s["device"]))
            # Before 7 Dec 2026 every Advanced value was kept, the defaults of its day
            # included ("advanced"): those are not restored, so today's defaults apply.
            for name, value in (s.get("advanced_changes") or {}).items():
                w = self.advanced_fields.get(name)
                if isinstance(w, QCheckBox):
                    w.setChecked(bool(value))
                elif isinstance(w, FloatEdit):
                    w.setText(str(value))
                elif isinstance(w, ChoiceBox):
                    w.setValue(str(value))
                elif w is not None:
                    w.setValue(int(value))
        except (TypeError, ValueError):
            self.apply_preset(self.preset_combo.currentText())  # a damaged file: defaults
            return {}
        return s


def _same(value: Any, default: Any) -> bool:
    """Whether a field's value (text of a number field included) is the preset's."""
    if isinstance(default, bool) or isinstance(value, bool):
        return value == default
    if isinstance(default, (int, float)):
        try:
            return float(value) == float(default)
        except (TypeError, ValueError):
            return False  # a half-typed number is the user's: kept as typed
    return str(value) == str(default)
