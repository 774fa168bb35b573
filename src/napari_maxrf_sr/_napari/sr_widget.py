"""The main dock widget: choose layers, set up a run, train in a thread, show the results.

Layout, top to bottom: *Input* (element-map layers, photo, ground truth, the
detected scale), *Settings* (method, preset, time budget, seed, device, and a
folded *Advanced* section), *Run* (Start, Pause/Resume, Stop and keep, Cancel,
progress, device, status, live loss plot) and *Results* (metrics table,
side-by-side view, save and apply buttons).

Threading: the layer data are copied in the GUI thread and validated there;
training runs as a napari generator worker over the core generator, and only
the worker's signals (delivered in the GUI thread) touch Qt or the viewer.
Numerics live in :mod:`~napari_maxrf_sr._napari.results` and the core.
"""

from __future__ import annotations

import json
import threading
import warnings
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from qtpy.QtCore import QEvent, QObject, Qt
from qtpy.QtGui import QDoubleValidator
from qtpy.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from napari_maxrf_sr._napari import results as res
from napari_maxrf_sr._napari.loss_plot import LossPlot
from napari_maxrf_sr._napari.settings import load_settings, save_settings
from napari_maxrf_sr.core.checkpoint import DEFAULT_EVERY_SECONDS, CheckpointError
from napari_maxrf_sr.core.config import FIELD_HELP, PRESETS, SRConfig, config_from_preset
from napari_maxrf_sr.core.control import format_mmss
from napari_maxrf_sr.core.validation import (
    InputError,
    NegativeValuesError,
    check_map_size,
    check_photo_size,
    infer_scale,
    prepare_inputs,
)
from napari_maxrf_sr.io.large import check_result_fits

if TYPE_CHECKING:
    import napari

#: The network's method key and its label in the method list.
#: Training seconds between two checkpoints of a run (tests lower it).
CHECKPOINT_EVERY_SECONDS = DEFAULT_EVERY_SECONDS
ADUN = "adun"
ADUN_LABEL = "Deep unfolding network (ADUN)"
#: Method key of a run that applies a saved model.
APPLY = "saved model"

#: Advanced settings: config field -> label. Tooltips come from FIELD_HELP.
ADVANCED_FIELDS: dict[str, str] = {
    "n_layers": "K (unfolded layers)",
    "n_atoms": "M (dictionary atoms)",
    "stage1_lr": "Stage 1 learning rate",
    "lr_g": "Stage 2 generator learning rate",
    "lr_d": "Stage 2 discriminator learning rate",
    "alpha1": "alpha1 (photo term weight)",
    "alpha2": "alpha2 (adversarial weight)",
    "adversarial": "Adversarial stage (stage 2)",
    "stage1_steps": "Stage 1 steps",
    "stage2_steps": "Stage 2 steps",
    "patch_size": "Stage 2 patch size (px)",
    "batch_size": "Stage 2 batch size",
}

_PRESET_HELP = (
    "fast: a quick first look (under half a minute); default: a good result in one to "
    "two minutes on a 2-core laptop CPU for a 512 x 512 photo; paper: the paper's iteration "
    "counts (hours on a GPU, days on a CPU)."
)


def _role(layer: Any) -> str | None:
    """Return the ``maxrf_sr`` role a layer was tagged with by our reader or sample."""
    meta = getattr(layer, "metadata", None) or {}
    sub = meta.get("maxrf_sr")
    if isinstance(sub, dict) and "role" in sub:
        return str(sub["role"])
    role = meta.get("maxrf_sr_role", meta.get("role"))
    return None if role is None else str(role)


def _element_names(layer: Any) -> list[str]:
    """Element names of an element-map layer (one per plane of a stack)."""
    meta = getattr(layer, "metadata", None) or {}
    sub = meta.get("maxrf_sr") if isinstance(meta.get("maxrf_sr"), dict) else {}
    if layer.ndim == 2:
        return [str(sub.get("element") or meta.get("element") or layer.name)]
    names = sub.get("elements") or meta.get("elements")
    n = layer.data.shape[0]
    if names and len(names) == n:
        return [str(e) for e in names]
    return [f"{layer.name} {i + 1}" for i in range(n)]


@dataclass
class RunInputs:
    """Copies of the layer data that a run uses (taken in the GUI thread)."""

    lr_maps: np.ndarray
    rgb: np.ndarray
    scale: int
    elements: tuple[str, ...]
    layer_arrays: dict[str, np.ndarray]
    photo_name: str
    styles: list[res.InputStyle]
    grid: res.Grid
    truth: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class _Run:
    """One running job: its worker, stop token and a flag set when its thread is done."""

    method: str
    inputs: RunInputs
    settings: dict[str, Any]
    token: Any = None
    worker: Any = None
    done: threading.Event = field(default_factory=threading.Event)
    cancelled: bool = False
    failed: bool = False
    checkpoint: Path | None = None
    retry_on_cpu: bool = False
    started: str = field(default_factory=lambda: datetime.now().isoformat(timespec="seconds"))

    def abort(self, wait_s: float = 10.0) -> bool:
        """Cancel and wait for the thread to end; True when it ended in time."""
        self.cancelled = True
        if self.token is not None:
            self.token.cancel()
        ended = self.done.wait(wait_s)
        if self.worker is not None and not ended:
            self.worker.quit()
        return ended


def _abort_held_run(holder: list) -> None:
    """End the run a widget held when the widget was garbage-collected."""
    if holder[0] is not None:
        holder[0].abort(10.0)


class _WorkerError(Exception):
    """Carries an exception out of a worker thread to the ``errored`` signal.

    superqt's generator worker takes a RuntimeError for a deleted Qt object: it only
    warns, and emits neither ``errored`` nor ``finished``, so the panel would wait
    forever. torch's out-of-memory error and TrainingDiverged are RuntimeErrors.
    """

    def __init__(self, original: BaseException) -> None:
        super().__init__(str(original))
        self.original = original


def _drive(gen, done: threading.Event):
    """Worker body: iterate the core generator and hand on its return value."""
    try:
        return (yield from gen)
    except RuntimeError as exc:
        raise _WorkerError(exc) from exc
    finally:
        done.set()


def _call(fn: Callable, done: threading.Event, *args, **kwargs):
    """Worker body for plain functions (baselines, applying a saved model)."""
    try:
        return fn(*args, **kwargs)
    finally:
        done.set()


class _FloatEdit(QLineEdit):
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


class SuperResolutionWidget(QWidget):
    """Super-resolve MA-XRF element maps with a photo, from napari layers.

    Parameters
    ----------
    napari_viewer
        The viewer whose layers are used and to which results are added.
    """

    def __init__(self, napari_viewer: napari.Viewer, parent: QWidget | None = None):
        self._watched_window: QObject | None = None
        super().__init__(parent)
        self.viewer = napari_viewer
        self._run: _Run | None = None
        self._last: dict[str, Any] | None = None  # the latest finished run
        self._closing = False
        self._last_stage = ""
        self._methods = self._available_methods()
        self._build_ui()
        self._restore_settings()
        self._connect_viewer()
        self.refresh_layers()

    # ======================================================================== UI building
    def _build_ui(self) -> None:
        layout = QVBoxLayout(self)
        layout.addWidget(self._build_inputs())
        layout.addWidget(self._build_settings())
        layout.addWidget(self._build_run())
        layout.addWidget(self._build_results())
        layout.addStretch(1)
        self.setMinimumWidth(340)

    def _build_inputs(self) -> QGroupBox:
        box = QGroupBox("Input")
        form = QFormLayout(box)
        self.maps_list = QListWidget()
        self.maps_list.setSelectionMode(QAbstractItemView.NoSelection)
        self.maps_list.setToolTip(
            "Tick the element maps to super-resolve. All must have the "
            "same size; the photo must be a whole-number multiple of it."
        )
        self.maps_list.setMaximumHeight(110)
        self.photo_combo = QComboBox()
        self.photo_combo.setToolTip("The colour photo on the scan's grid (an RGB image layer).")
        self.truth_check = QCheckBox("Compare with ground-truth layers")
        self.truth_check.setToolTip(
            "For simulated data: compare each result with the layer named "
            "'<element> (truth)' and show error maps and PSNR/SSIM."
        )
        self.clip_check = QCheckBox("Clip negative values to zero")
        self.clip_check.setToolTip(
            "For fitted peak areas whose noise dips below zero (background-subtracted "
            "maps): set negative values to zero instead of stopping with an error."
        )
        self.scale_label = QLabel()
        self.scale_label.setWordWrap(True)
        form.addRow("Element maps", self.maps_list)
        form.addRow("Photo", self.photo_combo)
        form.addRow(self.clip_check)
        form.addRow(self.truth_check)
        form.addRow("Scale", self.scale_label)
        self.maps_list.itemChanged.connect(self._update_scale_label)
        self.photo_combo.currentIndexChanged.connect(self._update_scale_label)
        return box

    def _build_settings(self) -> QGroupBox:
        from superqt import QCollapsible

        box = QGroupBox("Settings")
        outer = QVBoxLayout(box)
        form = QFormLayout()
        self.method_combo = QComboBox()
        for key, label in self._methods.items():
            self.method_combo.addItem(label, key)
        self.method_combo.setToolTip(
            "The deep unfolding network learns from this painting alone; the other methods "
            "are quick baselines for comparison."
        )
        self.preset_combo = QComboBox()
        self.preset_combo.addItems(list(PRESETS))
        self.preset_combo.setToolTip(_PRESET_HELP)
        self.minutes_spin = QDoubleSpinBox()
        self.minutes_spin.setRange(0, 100_000)
        self.minutes_spin.setDecimals(1)
        self.minutes_spin.setSuffix(" min")
        self.minutes_spin.setSpecialValueText("no limit")
        self.minutes_spin.setToolTip(
            "Stop training after this many minutes and keep the result (0: no limit). "
            + FIELD_HELP["max_seconds"]
        )
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setToolTip(FIELD_HELP["seed"])
        self.device_combo = QComboBox()
        self.device_combo.addItems(["auto", *self._devices()])
        self.device_combo.setToolTip(FIELD_HELP["device"])
        form.addRow("Method", self.method_combo)
        form.addRow("Preset", self.preset_combo)
        form.addRow("Time budget", self.minutes_spin)
        form.addRow("Seed", self.seed_spin)
        form.addRow("Device", self.device_combo)
        outer.addLayout(form)

        self.advanced = QCollapsible("Advanced")
        adv_body = QWidget()
        adv_form = QFormLayout(adv_body)
        adv_form.setContentsMargins(0, 0, 0, 0)
        self.advanced_fields: dict[str, QWidget] = {}
        defaults = SRConfig()
        for name, label in ADVANCED_FIELDS.items():
            value = getattr(defaults, name)
            if isinstance(value, bool):
                w: QWidget = QCheckBox()
            elif isinstance(value, int):
                w = QSpinBox()
                w.setRange(0, 10**9)
            else:
                w = _FloatEdit(value)
            w.setToolTip(FIELD_HELP[name])
            lab = QLabel(label)
            lab.setToolTip(FIELD_HELP[name])
            adv_form.addRow(lab, w)
            self.advanced_fields[name] = w
        self.advanced.addWidget(adv_body)
        outer.addWidget(self.advanced)
        self.preset_combo.currentTextChanged.connect(self._apply_preset)
        self.method_combo.currentIndexChanged.connect(self._update_enabled)
        self._apply_preset(self.preset_combo.currentText())
        return box

    def _build_run(self) -> QGroupBox:
        box = QGroupBox("Run")
        layout = QVBoxLayout(box)
        buttons = QGridLayout()
        self.start_btn = QPushButton("Start")
        self.pause_btn = QPushButton("Pause")
        self.stop_btn = QPushButton("Stop and keep result")
        self.cancel_btn = QPushButton("Cancel")
        self.resume_btn = QPushButton("Resume interrupted run")
        self.start_btn.setToolTip("Super-resolve the selected maps with the settings above.")
        self.resume_btn.setToolTip(
            "Continue a run of the selected maps, photo and settings that was interrupted "
            "(napari closed, a crash, Cancel): training saves its state every "
            f"{CHECKPOINT_EVERY_SECONDS / 60:.0f} minutes.")
        self.pause_btn.setToolTip("Pause training (the time budget does not run while paused).")
        self.stop_btn.setToolTip("Stop training now and add the result reached so far.")
        self.cancel_btn.setToolTip("Abandon the run: no layers are added (its last checkpoint "
                                   "is kept: 'Resume interrupted run' continues it).")
        buttons.addWidget(self.start_btn, 0, 0)
        buttons.addWidget(self.pause_btn, 0, 1)
        buttons.addWidget(self.stop_btn, 1, 0)
        buttons.addWidget(self.cancel_btn, 1, 1)
        buttons.addWidget(self.resume_btn, 2, 0, 1, 2)
        layout.addLayout(buttons)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("idle")
        self.progress.setTextVisible(True)
        self.device_label = QLabel()
        self.status_label = QLabel("Choose the element maps and the photo, then press Start.")
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.status_label.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Minimum)
        self.loss_plot = LossPlot(theme=self._theme_colours())
        layout.addWidget(self.progress)
        layout.addWidget(self.device_label)
        layout.addWidget(self.status_label)
        layout.addWidget(self.loss_plot)
        self.start_btn.clicked.connect(self.start)
        self.pause_btn.clicked.connect(self.toggle_pause)
        self.stop_btn.clicked.connect(self.stop_and_keep)
        self.cancel_btn.clicked.connect(self.cancel)
        self.resume_btn.clicked.connect(self.resume)
        self.device_combo.currentTextChanged.connect(self._show_device)
        self._show_device(self.device_combo.currentText())
        return box

    def _build_results(self) -> QGroupBox:
        box = QGroupBox("Results")
        layout = QVBoxLayout(box)
        self.metrics_table = QTableWidget(0, 3)
        self.metrics_table.setHorizontalHeaderLabels(["Element", "PSNR (dB)", "SSIM"])
        self.metrics_table.horizontalHeader().setStretchLastSection(True)
        self.metrics_table.verticalHeader().setVisible(False)
        self.metrics_table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.metrics_table.setMaximumHeight(130)
        self.metrics_table.setToolTip(
            "Quality against the ground truth (PSNR with the truth's maximum as peak)."
        )
        self.metrics_table.setVisible(False)
        layout.addWidget(self.metrics_table)
        row1, row2 = QHBoxLayout(), QHBoxLayout()
        self.grid_btn = QPushButton("Side-by-side")
        self.grid_btn.setCheckable(True)
        self.grid_btn.setToolTip("Show the layers side by side (napari's grid mode).")
        self.save_btn = QPushButton("Save results...")
        self.save_btn.setToolTip("Write the latest result as a multi-page TIFF with provenance.")
        self.save_model_btn = QPushButton("Save model...")
        self.save_model_btn.setToolTip("Keep the trained network to apply it again later.")
        self.apply_btn = QPushButton("Apply saved model...")
        self.apply_btn.setToolTip("Run a saved network on the selected maps and photo.")
        row1.addWidget(self.grid_btn)
        row1.addWidget(self.save_btn)
        row2.addWidget(self.save_model_btn)
        row2.addWidget(self.apply_btn)
        layout.addLayout(row1)
        layout.addLayout(row2)
        self.grid_btn.toggled.connect(self._toggle_grid)
        self.save_btn.clicked.connect(self.save_results_dialog)
        self.save_model_btn.clicked.connect(self.save_model_dialog)
        self.apply_btn.clicked.connect(self.apply_model_dialog)
        self._update_enabled()
        return box

    # ================================================================== layers and inputs
    def _connect_viewer(self) -> None:
        ev = self.viewer.layers.events
        ev.inserted.connect(self.refresh_layers)
        ev.removed.connect(self.refresh_layers)
        ev.reordered.connect(self.refresh_layers)
        # When the widget object goes away without a close event, end its run. Not a slot
        # on our own `destroyed` signal: a Python slot there can run after the wrapper is
        # gone and crash the interpreter; a finalizer holds no reference to the widget.
        holder = self._run_holder = [None]
        weakref.finalize(self, _abort_held_run, holder)

    def event(self, event: QEvent) -> bool:  # noqa: D102 - Qt override
        if event.type() == QEvent.ParentChange:
            self._watch_main_window()
        return super().event(event)

    def _watch_main_window(self) -> None:
        """Watch the window we are docked in, to stop the run when napari closes."""
        window = self.window()
        if window is self or window is getattr(self, "_watched_window", window):
            return
        if self._watched_window is not None:
            self._watched_window.removeEventFilter(self)
        window.installEventFilter(self)
        self._watched_window = window

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        """Stop a running job when napari's main window closes."""
        if obj is getattr(self, "_watched_window", None) and event.type() == QEvent.Close:
            self.shutdown()
        return False

    def closeEvent(self, event) -> None:  # noqa: D102, N802 - Qt override
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self, wait_s: float = 10.0) -> None:
        """Cancel any running job, wait for its thread and remember the settings."""
        if self._closing:
            return
        self._closing = True
        if self._watched_window is not None:
            self._watched_window.removeEventFilter(self)
            self._watched_window = None
        self._save_settings()
        if self._run is not None:
            self._run.abort(wait_s)
        self.loss_plot._timer.stop()

    def _image_layers(self) -> list[Any]:
        return [layer for layer in self.viewer.layers if layer._type_string == "image"]

    def refresh_layers(self, *_: Any) -> None:
        """Re-list the viewer's layers, keeping the user's choices where possible."""
        chosen = self._checked_names()
        first = self.maps_list.count() == 0 and not chosen
        photo = self.photo_combo.currentText()
        self.maps_list.blockSignals(True)
        self.photo_combo.blockSignals(True)
        self.maps_list.clear()
        self.photo_combo.clear()
        for layer in self._image_layers():
            if layer.rgb:
                self.photo_combo.addItem(layer.name)
                continue
            role = _role(layer)
            if role not in (None, "lr_map"):
                continue  # results, truths and quality maps are not inputs
            if layer.name.endswith(")") and role is None:
                continue  # "<element> (SR)", "(truth)", ...: our own output naming
            item = QListWidgetItem(layer.name)
            item.setFlags(Qt.ItemIsUserCheckable | Qt.ItemIsEnabled)
            tick = layer.name in chosen or (role == "lr_map" and (first or not chosen))
            item.setCheckState(Qt.Checked if tick else Qt.Unchecked)
            self.maps_list.addItem(item)
        idx = self.photo_combo.findText(photo)
        if idx < 0:  # prefer a layer tagged as the photo
            tagged = [i for i, layer in enumerate(self._rgb_layers()) if _role(layer) == "photo"]
            idx = tagged[0] if tagged else 0
        self.photo_combo.setCurrentIndex(idx if self.photo_combo.count() else -1)
        self.maps_list.blockSignals(False)
        self.photo_combo.blockSignals(False)
        self._update_scale_label()

    def _rgb_layers(self) -> list[Any]:
        return [layer for layer in self._image_layers() if layer.rgb]

    def _layer(self, name: str) -> Any:
        return self.viewer.layers[name] if name in self.viewer.layers else None

    def selected_map_layers(self) -> list[Any]:
        """Return the chosen element-map layers, in the viewer's order."""
        names = self._checked_names()
        return [layer for layer in self._image_layers() if layer.name in names]

    def select_maps(self, names: list[str]) -> None:
        """Select exactly these element-map layers (for scripts and tests)."""
        for i in range(self.maps_list.count()):
            item = self.maps_list.item(i)
            item.setCheckState(Qt.Checked if item.text() in names else Qt.Unchecked)

    def _checked_names(self) -> set[str]:
        items = (self.maps_list.item(i) for i in range(self.maps_list.count()))
        return {item.text() for item in items if item.checkState() == Qt.Checked}

    def _update_scale_label(self, *_: Any) -> None:
        try:
            lr_shape, hr_shape = self._shapes()
            s = infer_scale(lr_shape, hr_shape)
            self.scale_label.setText(
                f"{s}x (maps {lr_shape[1]} x {lr_shape[0]} px, photo "
                f"{hr_shape[1]} x {hr_shape[0]} px)"
            )
            self.scale_label.setStyleSheet("")
        except InputError as exc:
            self.scale_label.setText(str(exc))
            self.scale_label.setStyleSheet("color: #e8a33d;")

    def _shapes(self) -> tuple[tuple[int, int], tuple[int, int]]:
        layers = self.selected_map_layers()
        if not layers:
            raise InputError("Select at least one element-map layer in the list.")
        shapes = {tuple(layer.data.shape[-2:]) for layer in layers}
        if len(shapes) > 1:
            raise InputError(
                "The selected element maps differ in size ("
                + ", ".join(f"{s[1]} x {s[0]}" for s in sorted(shapes))
                + " px): select maps from one scan."
            )
        photo = self._layer(self.photo_combo.currentText())
        if photo is None:
            raise InputError(
                "Choose a photo: open the colour photo of the painting as an RGB image layer."
            )
        return shapes.pop(), tuple(photo.data.shape[:2])

    def collect_inputs(self) -> RunInputs:
        """Copy and check the chosen layers' data (GUI thread).

        Raises
        ------
        InputError
            With a message saying what to choose differently.
        """
        lr_shape, hr_shape = self._shapes()
        scale = infer_scale(lr_shape, hr_shape)
        planes, elements, styles, arrays = [], [], [], {}
        for layer in self.selected_map_layers():
            data = np.asarray(layer.data)  # readers may hand over dask or xarray arrays
            if data.ndim not in (2, 3):
                raise InputError(
                    f"Layer '{layer.name}' has {data.ndim} dimensions; element maps must be "
                    "2D images or a (B, h, w) stack."
                )
            arrays[layer.name] = data
            stack = data[None] if data.ndim == 2 else data
            planes.extend(stack)
            elements.extend(_element_names(layer))
            style = res.InputStyle(layer.colormap, tuple(map(float, layer.contrast_limits)))
            styles.extend([style] * stack.shape[0])
        if len(set(elements)) != len(elements):
            raise InputError("Two selected maps have the same element name; rename one layer.")
        photo = self._layer(self.photo_combo.currentText())
        # Sizes first, before np.stack copies the maps.
        check_photo_size(tuple(photo.data.shape))
        check_map_size((len(planes), *lr_shape))
        check_result_fits(len(planes), *hr_shape)  # results are layers, held in memory
        rgb = np.asarray(photo.data)
        grid = res.Grid(tuple(map(float, photo.scale[-2:])),
                        tuple(map(float, photo.translate[-2:])))
        truth: dict[str, np.ndarray] = {}
        if self.truth_check.isChecked():
            truth = self._find_truth(elements, hr_shape)
            if not truth:
                raise InputError(
                    "No ground-truth layers were found: they must be named "
                    "'<element> (truth)' and be as large as the photo. Untick "
                    "'Compare with ground-truth layers' for real data."
                )
        return RunInputs(np.stack(planes), rgb, scale, tuple(elements), arrays, photo.name,
                         styles, grid, truth)

    def _find_truth(self, elements: list[str], hr_shape: tuple[int, int]) -> dict:
        found = {}
        for layer in self._image_layers():
            meta = (layer.metadata or {}).get("maxrf_sr", {})
            element = None
            if _role(layer) == "truth" and isinstance(meta, dict):
                element = meta.get("element")
            if element is None and layer.name.endswith(" (truth)"):
                element = layer.name[: -len(" (truth)")]
            if element in elements and tuple(layer.data.shape[-2:]) == tuple(hr_shape):
                found[element] = np.asarray(layer.data)
        return found

    # ========================================================================== settings
    def _available_methods(self) -> dict[str, str]:
        methods = {ADUN: ADUN_LABEL}
        try:
            from napari_maxrf_sr.baselines import METHODS
        except ImportError:
            return methods
        methods.update({name: name for name in METHODS if name != ADUN})
        return methods

    @staticmethod
    def _devices() -> list[str]:
        try:
            from napari_maxrf_sr.core.device import available_devices

            return available_devices()
        except Exception:  # noqa: BLE001 - a broken torch must not break the widget
            return ["cpu"]

    def _apply_preset(self, name: str) -> None:
        cfg = config_from_preset(name)
        for field_name, w in self.advanced_fields.items():
            value = getattr(cfg, field_name)
            if isinstance(w, QCheckBox):
                w.setChecked(bool(value))
            else:
                w.setValue(value)

    def set_advanced(self, **values: Any) -> None:
        """Set advanced fields by config name (for scripts and tests)."""
        for name, value in values.items():
            w = self.advanced_fields[name]
            w.setChecked(bool(value)) if isinstance(w, QCheckBox) else w.setValue(value)

    def method(self) -> str:
        """Return the chosen method key (``"adun"`` or a baseline name)."""
        return str(self.method_combo.currentData())

    def current_config(self) -> SRConfig:
        """Return the network's settings from the form (ValueError/InputError if invalid)."""
        adv: dict[str, Any] = {}
        for name, w in self.advanced_fields.items():
            adv[name] = w.isChecked() if isinstance(w, QCheckBox) else w.value()
        minutes = self.minutes_spin.value()
        return config_from_preset(
            self.preset_combo.currentText(),
            **adv,
            max_seconds=minutes * 60.0 if minutes > 0 else None,
            seed=int(self.seed_spin.value()),
            device=self.device_combo.currentText(),
        )

    def negative_mode(self) -> str:
        """``"clip"`` when negative map values are to be set to zero, else ``"error"``."""
        return "clip" if self.clip_check.isChecked() else "error"

    def _settings_dict(self) -> dict[str, Any]:
        adv = {}
        for name, w in self.advanced_fields.items():
            adv[name] = w.isChecked() if isinstance(w, QCheckBox) else w.text() \
                if isinstance(w, _FloatEdit) else w.value()
        return {
            "method": self.method(),
            "preset": self.preset_combo.currentText(),
            "minutes": self.minutes_spin.value(),
            "seed": self.seed_spin.value(),
            "device": self.device_combo.currentText(),
            "compare_truth": self.truth_check.isChecked(),
            "clip_negative": self.clip_check.isChecked(),
            "advanced": adv,
        }

    def _save_settings(self) -> None:
        save_settings(self._settings_dict())

    def _restore_settings(self) -> None:
        s = load_settings()
        if not s:
            return
        try:
            idx = self.method_combo.findData(s.get("method"))
            if idx >= 0:
                self.method_combo.setCurrentIndex(idx)
            if s.get("preset") in PRESETS:
                self.preset_combo.setCurrentText(s["preset"])
            self.minutes_spin.setValue(float(s.get("minutes", 0)))
            self.seed_spin.setValue(int(s.get("seed", 0)))
            if self.device_combo.findText(str(s.get("device"))) >= 0:
                self.device_combo.setCurrentText(str(s["device"]))
            self.truth_check.setChecked(bool(s.get("compare_truth", False)))
            self.clip_check.setChecked(bool(s.get("clip_negative", False)))
            for name, value in (s.get("advanced") or {}).items():
                w = self.advanced_fields.get(name)
                if isinstance(w, QCheckBox):
                    w.setChecked(bool(value))
                elif isinstance(w, _FloatEdit):
                    w.setText(str(value))
                elif w is not None:
                    w.setValue(int(value))
        except (TypeError, ValueError):
            self._apply_preset(self.preset_combo.currentText())  # a damaged file: defaults

    # ========================================================================= run control
    @property
    def running(self) -> bool:
        """Whether a job is running."""
        return self._run is not None

    @property
    def worker(self) -> Any:
        """The running job's worker (None when idle)."""
        return None if self._run is None else self._run.worker

    def start(self) -> None:
        """Check the input, then start training (or a baseline) in a worker thread."""
        self._launch(resume=False)

    def resume(self) -> None:
        """Continue the interrupted run of the chosen maps, photo and settings."""
        self._launch(resume=True)

    def _launch(self, resume: bool) -> None:
        if self.running:
            return
        try:
            inputs = self.collect_inputs()
            method = self.method()
            if resume and method != ADUN:
                raise InputError(f"Only the network's training can be resumed. Choose the "
                                 f"method '{ADUN_LABEL}', or press Start.")
            settings = self.current_config().to_dict() if method == ADUN else {"method": method}
            self._save_settings()
            if method == ADUN:
                self._start_training(inputs, resume=resume)
            else:
                self._start_baseline(method, inputs, settings)
        except (InputError, ValueError) as exc:
            self.report_error(exc)
            self._run = None
            self._update_enabled()
            return
        self._update_enabled()

    def _start_training(self, inputs: RunInputs, resume: bool = False,
                        device: str | None = None) -> None:
        from napari.qt.threading import create_worker
        from superqt.utils import GeneratorWorker

        from napari_maxrf_sr.core.train import StopToken, train

        config = self.current_config()
        if device is not None:
            config = config.replace(device=device)
        token = StopToken()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            plan = self._checkpoint_plan(inputs, config, resume, self.negative_mode())
            gen = train(inputs.lr_maps, inputs.rgb, config, scale=inputs.scale, stop=token,
                        elements=inputs.elements, negative=self.negative_mode(),
                        checkpoint=plan)  # validates now
        run = _Run(ADUN, inputs, config.to_dict(), token=token,
                   checkpoint=None if plan is None else plan.path)
        self.loss_plot.clear()
        self.metrics_table.setVisible(False)
        self._set_status("Starting: " + "; ".join(str(w.message) for w in caught)
                         if caught else "Starting the training...")
        self._begin(run, create_worker(
            _drive, gen, run.done, _worker_class=GeneratorWorker, _start_thread=False,
            _connect={**self._slots(), "yielded": self._on_event},
        ))

    @staticmethod
    def _checkpoint_plan(inputs: RunInputs, config: SRConfig, resume: bool,
                         negative: str = "error") -> Any:
        """Where this run keeps its checkpoint (one file per inputs-and-settings)."""
        from napari_maxrf_sr.core.checkpoint import (
            CheckpointPlan,
            checkpoint_file_for,
            default_checkpoint_folder,
        )

        folder = default_checkpoint_folder()
        path = checkpoint_file_for(folder, inputs.lr_maps, inputs.rgb, inputs.scale,
                                   inputs.elements, config, negative=negative)
        if resume and not path.is_file():
            raise InputError(
                "No interrupted run of these maps, photo and settings was found. Select "
                "exactly the layers and settings of the interrupted run, or press Start for "
                f"a new run. (Checkpoints are kept in {folder}.)"
            )
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            warnings.warn(f"Training without checkpoints: cannot create {folder} ({exc}).",
                          UserWarning, stacklevel=2)
            return None
        return CheckpointPlan(path, CHECKPOINT_EVERY_SECONDS, resume)

    def _start_baseline(self, method: str, inputs: RunInputs, settings: dict) -> None:
        from napari_maxrf_sr.baselines import run_baseline

        prepared = prepare_inputs(inputs.lr_maps, inputs.rgb, inputs.scale,
                                  elements=inputs.elements, negative=self.negative_mode())
        self._start_function(method, inputs, settings, run_baseline, method,
                             prepared.lr_maps, prepared.rgb, prepared.scale)

    def _start_function(self, method: str, inputs: RunInputs, settings: dict,
                        fn: Callable, *args: Any, **kwargs: Any) -> None:
        from napari.qt.threading import create_worker
        from superqt.utils import FunctionWorker

        run = _Run(method, inputs, settings)
        self.progress.setRange(0, 0)  # busy indicator: a plain function reports no steps
        self.progress.setFormat(f"{method}: running...")
        self._set_status(f"Running {method}...")
        self._begin(run, create_worker(
            _call, fn, run.done, *args, **kwargs, _worker_class=FunctionWorker,
            _start_thread=False,
            _connect=self._slots(),
        ))

    def _slots(self) -> dict[str, Callable]:
        return {"returned": self._on_returned, "errored": self._on_error,
                "finished": self._on_finished}

    def _begin(self, run: _Run, worker: Any) -> None:
        run.worker = worker
        # Set `done` in the worker's own thread when it ends, also after worker.quit()
        # (which leaves the generator suspended, so its `finally` would not run).
        worker.finished.connect(run.done.set, Qt.DirectConnection)
        self._watch_main_window()  # docked by now: stop the run if napari closes
        self._run = run
        self._run_holder[0] = run
        worker.start()

    def _on_error(self, exc: BaseException) -> None:
        from napari_maxrf_sr.core.device import is_out_of_memory

        exc = getattr(exc, "original", exc)
        run = self._run
        if run is not None:
            run.failed = True
            if (run.method == ADUN and not self._closing and not run.cancelled
                    and is_out_of_memory(exc) and run.settings.get("device") != "cpu"):
                run.retry_on_cpu = True  # started again in _on_finished, once this one ended
                self._set_status("The GPU ran out of memory: training again on the CPU, "
                                 "which is slower (from the last checkpoint, if any). To stay "
                                 "on the GPU, lower the batch or patch size under Advanced.")
                from napari.utils.notifications import show_warning

                show_warning("GPU out of memory: training continues on the CPU.")
                return
        if not self._closing:
            self.report_error(exc)

    def toggle_pause(self) -> None:
        """Pause a running training, or resume a paused one."""
        run = self._run
        if run is None or run.token is None:
            return
        if run.token.paused:
            run.token.resume()
            self.pause_btn.setText("Pause")
            self._set_status("Resumed.")
        else:
            run.token.pause()
            self.pause_btn.setText("Resume")
            self.progress.setFormat(self.progress.format() + " (paused)")
            self._set_status("Paused: press Resume to continue.")

    def stop_and_keep(self) -> None:
        """Finish the current step and add the result reached so far."""
        if self._run is not None and self._run.token is not None:
            self._run.token.stop()
            self.pause_btn.setText("Pause")
            self._set_status("Stopping: computing the result reached so far...")

    def cancel(self) -> None:
        """Abandon the run: nothing is added to the viewer."""
        run = self._run
        if run is None:
            return
        run.cancelled = True
        if run.token is not None:
            run.token.cancel()
        self.pause_btn.setText("Pause")
        self._set_status("Cancelling...")

    # =========================================================================== feedback
    def _on_event(self, event: Any) -> None:
        total = max(int(event.total), 1)
        self.progress.setRange(0, total)
        self.progress.setValue(min(int(event.step), total))
        stage = event.stage
        if event.stage_total:
            stage += f" {event.stage_step}/{event.stage_total}"
        self.progress.setFormat(
            f"{stage} - step {event.step}/{event.total} - {format_mmss(event.elapsed)} elapsed, "
            f"{format_mmss(event.eta)} left"
        )
        if event.device:
            self.device_label.setText(f"Device: {event.device}")
        if event.losses:
            self.loss_plot.add_point(event.step, event.losses)
        if event.message:
            self._set_status(event.message)
        elif event.stage != self._last_stage:
            self._set_status(f"Training ({event.stage})...")
        self._last_stage = event.stage

    def _set_status(self, text: str, *, error: bool = False) -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet("color: #e06c6c;" if error else "")

    def report_error(self, exc: BaseException) -> None:
        """Explain an error in the status line and a napari notification."""
        from napari.utils.notifications import show_error

        self.status_label.setProperty("error_type", type(exc).__name__)
        self._set_status(self.error_message(exc), error=True)
        show_error(self.status_label.text())

    @staticmethod
    def error_message(exc: BaseException) -> str:
        """Plain-words explanation of an exception, saying what to do."""
        from napari_maxrf_sr.core.device import is_out_of_memory

        try:
            from napari_maxrf_sr.core.train import TrainingDiverged
        except ImportError:  # pragma: no cover - core not installed completely
            TrainingDiverged = ()  # type: ignore[assignment]  # noqa: N806
        if isinstance(exc, NegativeValuesError):
            return (f"{exc} In this panel: tick 'Clip negative values to zero' above, then "
                    "press Start again.")
        if isinstance(exc, (InputError, CheckpointError)):
            return str(exc)
        if TrainingDiverged and isinstance(exc, TrainingDiverged):
            return (f"Training diverged: {exc} Lower the learning rates under Advanced "
                    "(for example divide them by 10), or check the input maps for outliers, "
                    "then press Start again.")
        if is_out_of_memory(exc):
            return ("Out of memory. Choose device 'cpu' (slower but with more memory), or "
                    "lower the batch size, patch size or number of atoms under Advanced, or "
                    "work on a crop of the painting.")
        if isinstance(exc, ValueError):
            return f"Invalid setting: {exc}"
        return f"The run failed ({type(exc).__name__}: {exc})."

    def _show_device(self, choice: str) -> None:
        try:
            from napari_maxrf_sr.core.device import describe_device, resolve_device

            self.device_label.setText(f"Device: {describe_device(resolve_device(choice))}")
        except Exception as exc:  # noqa: BLE001 - shown to the user instead
            self.device_label.setText(f"Device: {exc}")

    def _theme_colours(self) -> dict[str, str]:
        try:
            from napari.utils.theme import get_theme

            theme = get_theme(self.viewer.theme)
            return {"background": theme.background.as_hex(), "text": theme.text.as_hex()}
        except Exception:  # noqa: BLE001 - theming is cosmetic
            return {}

    # ============================================================================ results
    def _on_returned(self, value: Any) -> None:
        run = self._run
        if run is None or run.cancelled or value is None or self._closing:
            return
        if run.method == ADUN:
            maps, label = value.maps, "SR"
            info = {"device": value.device, "history": value.history,
                    "seconds": value.seconds, "stopped_early": value.stopped_early}
        else:  # a baseline, or a saved model applied again (its maps are "SR" maps too)
            maps, label = np.asarray(value), "SR" if run.method == APPLY else run.method
            info = {}
        self.add_results(run, maps, label, result=value if run.method == ADUN else None, **info)
        if run.checkpoint is not None:
            from napari_maxrf_sr.core.checkpoint import remove_checkpoint

            remove_checkpoint(run.checkpoint)  # the run is finished: nothing left to resume

    def add_results(self, run: _Run, maps: np.ndarray, label: str, *, result: Any = None,
                    **info: Any) -> None:
        """Add the result layers of a finished job and fill the metrics table."""
        inp = run.inputs
        layers, metrics = res.result_layers(
            maps, inp.elements, inp.lr_maps, inp.scale, method_label=label,
            styles=inp.styles, grid=inp.grid, truth=inp.truth or None,
        )
        for data, kwargs, _ in layers:
            if kwargs["name"] in self.viewer.layers:
                self.viewer.layers.remove(kwargs["name"])  # a rerun replaces its results
            self.viewer.add_image(data, **kwargs)
        self._show_metrics(metrics)
        provenance = res.build_provenance(
            inputs=inp.layer_arrays, photo_name=inp.photo_name, photo=inp.rgb,
            elements=inp.elements, method=run.method, scale=inp.scale,
            settings=run.settings, started=run.started,
            finished=datetime.now().isoformat(timespec="seconds"), metrics=metrics,
            device=info.get("device", ""), history=info.get("history", ()),
            seconds=info.get("seconds"), stopped_early=info.get("stopped_early", False),
        )
        self._last = {"maps": np.asarray(maps), "elements": inp.elements, "label": label,
                      "provenance": provenance, "result": result, "scale": inp.scale}
        early = " (stopped early)" if info.get("stopped_early") else ""
        self._set_status(f"Done{early}: added {len(inp.elements)} '{label}' layers.")
        from napari.utils.notifications import show_info

        show_info(f"MA-XRF super-resolution finished{early}.")

    def _show_metrics(self, metrics: list[res.ElementMetrics]) -> None:
        self.metrics_table.setRowCount(len(metrics))
        for row, m in enumerate(metrics):
            for col, text in enumerate((m.element, f"{m.psnr:.2f}", f"{m.ssim:.3f}")):
                self.metrics_table.setItem(row, col, QTableWidgetItem(text))
        self.metrics_table.setVisible(bool(metrics))

    def _on_finished(self) -> None:
        run = self._run
        self._run = None
        self._run_holder[0] = None
        if self._closing:
            return
        self.pause_btn.setText("Pause")
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if self._last is not None else 0)
        if run is not None and run.cancelled:
            self.progress.setValue(0)
            self.progress.setFormat("cancelled")
            self._set_status("Cancelled: nothing was added.")
        elif run is not None and run.failed:
            self.progress.setValue(0)
            self.progress.setFormat("failed")
        else:
            self.progress.setFormat("finished")
        self.loss_plot.flush()
        self._update_enabled()
        if run is not None and run.retry_on_cpu and not run.cancelled:
            # The GPU ran out of memory: the same run on the CPU, from its checkpoint if
            # it saved one (the checkpoint does not depend on the device).
            resume = run.checkpoint is not None and run.checkpoint.is_file()
            try:
                self._start_training(run.inputs, resume=resume, device="cpu")
            except (InputError, ValueError) as exc:
                self._run = None
                self.report_error(exc)
            self._update_enabled()

    def _update_enabled(self, *_: Any) -> None:
        running = self._run is not None
        trains = running and self._run.token is not None
        self.start_btn.setEnabled(not running)
        self.resume_btn.setEnabled(not running and self.method_combo.currentData() == ADUN)
        self.pause_btn.setEnabled(trains)
        self.stop_btn.setEnabled(trains)
        self.cancel_btn.setEnabled(running)
        self.save_btn.setEnabled(not running and self._last is not None)
        self.save_model_btn.setEnabled(
            not running and self._last is not None and self._last.get("result") is not None
        )
        self.apply_btn.setEnabled(not running)
        for w in (self.maps_list, self.photo_combo, self.truth_check, self.method_combo):
            w.setEnabled(not running)
        is_net = self.method_combo.currentData() == ADUN
        for w in (self.preset_combo, self.minutes_spin, self.seed_spin, self.advanced):
            w.setEnabled(is_net and not running)

    def _toggle_grid(self, on: bool) -> None:
        canvas = getattr(self.viewer, "canvas", None)  # napari >= 0.9 moved the grid there
        grid = getattr(canvas, "grid", None) or self.viewer.grid
        grid.enabled = bool(on)

    # ========================================================================= keep work
    def _ask_save_path(self, title: str, filters: str) -> str:
        """File dialog (tests replace this method)."""
        path, _ = QFileDialog.getSaveFileName(self, title, "", filters)
        return path

    def _ask_open_path(self, title: str, filters: str) -> str:
        """File dialog (tests replace this method)."""
        path, _ = QFileDialog.getOpenFileName(self, title, "", filters)
        return path

    def _confirm_overwrite(self, path: str) -> bool:
        """Ask before replacing a file (tests replace this method)."""
        answer = QMessageBox.question(self, "Replace file?",
                                      f"{path} exists. Replace it?")
        return answer == QMessageBox.Yes

    def save_results_dialog(self) -> None:
        """Ask for a file name and save the latest result with its provenance."""
        if self._last is None:
            return
        path = self._ask_save_path("Save results", "TIFF (*.tif *.tiff)")
        if not path:
            return
        if not path.lower().endswith((".tif", ".tiff")):
            path += ".tif"
        if Path(path).exists() and not self._confirm_overwrite(path):
            return
        try:
            written = self.save_results(path, force=True)
        except Exception as exc:  # noqa: BLE001 - reported to the user
            self.report_error(exc)
            return
        self._set_status(f"Saved {written}.")

    def save_results(self, path: str, *, force: bool = False) -> Path:
        """Write the latest result and ``<name>.provenance.json`` next to it."""
        from napari_maxrf_sr.io.writers import write_element_stack

        last = self._last
        if last is None:
            raise InputError("There is no result to save yet: run a super-resolution first.")
        write_element_stack(path, last["maps"], list(last["elements"]), scale=1,
                            provenance=last["provenance"], force=force)
        prov = Path(path).with_suffix(".provenance.json")
        prov.write_text(json.dumps(last["provenance"], indent=2, default=str),
                        encoding="utf-8")
        return Path(path)

    def save_model_dialog(self) -> None:
        """Ask for a file name and save the latest trained network."""
        if self._last is None or self._last.get("result") is None:
            return
        path = self._ask_save_path("Save model", "Model (*.pt)")
        if not path:
            return
        if not path.endswith(".pt"):
            path += ".pt"
        if Path(path).exists() and not self._confirm_overwrite(path):
            return
        from napari_maxrf_sr.core.modelio import save_model

        try:
            save_model(self._last["result"], path)
        except Exception as exc:  # noqa: BLE001 - reported to the user
            self.report_error(exc)
            return
        self._set_status(f"Saved the model to {path}.")

    def apply_model_dialog(self) -> None:
        """Load a saved network and apply it to the selected layers in a worker thread."""
        path = self._ask_open_path("Apply saved model", "Model (*.pt)")
        if path:
            self.apply_model(path)

    def apply_model(self, path: str) -> None:
        """Apply the model saved at ``path`` to the selected maps and photo."""
        if self.running:
            return
        from napari_maxrf_sr.core.inference import apply_model
        from napari_maxrf_sr.core.modelio import load_model

        try:
            inputs = self.collect_inputs()
            model = load_model(path)
        except Exception as exc:  # noqa: BLE001 - InputError or a damaged file
            self.report_error(exc)
            return
        settings = {"model_file": str(path), **model.config.to_dict()}
        self._start_function(APPLY, inputs, settings, apply_model, model, inputs.lr_maps,
                             inputs.rgb, negative=self.negative_mode())
        self._update_enabled()

    # ======================================================================== diagnostics
    def wait_until_idle(self, timeout_s: float = 60.0) -> bool:
        """Block (processing no events) until the job's thread ended; for scripts."""
        run = self._run
        return True if run is None else run.done.wait(timeout_s)
