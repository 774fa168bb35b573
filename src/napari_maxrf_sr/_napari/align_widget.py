"""Dock widget: bring a photo onto the scan's grid, automatically or from point pairs.

"Align automatically" registers the photo to the element maps with no points
(:func:`napari_maxrf_sr.registration.register_photo`, in a background thread so that
napari never freezes); point pairs, when there are some, are its starting guess.
"Align from points" fits a similarity or affine transform to point pairs the user
marked on the photo and on a map (two points layers, same order). Either adds
``"<photo> (aligned)"``, exactly ``s`` times the map's size and covering the maps'
extent; aligning again replaces it. The input layers are never changed.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from qtpy.QtWidgets import (
    QComboBox,
    QFormLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..errors import InputError
from ..io.align import align_photo
from .panel.inputs import input_notes
from .plain_text import make_labels_plain, no_markup

PHOTO_POINTS = "align: points on photo"
MAP_POINTS = "align: points on map"
_NONE = "(none)"


def _show_error(message: str) -> None:
    from napari.utils.notifications import show_error

    show_error(no_markup(message))


def _show_info(message: str) -> None:
    from napari.utils.notifications import show_info

    show_info(no_markup(message))


class AlignPhotoWidget(QWidget):
    """Align a photo to an element map with matching point pairs.

    Parameters
    ----------
    napari_viewer
        The viewer (napari passes it in).
    """

    def __init__(self, napari_viewer, parent: QWidget | None = None):
        super().__init__(parent)
        self.viewer = napari_viewer
        self.photo_combo = QComboBox()
        self.map_combo = QComboBox()
        self.photo_points_combo = QComboBox()
        self.map_points_combo = QComboBox()
        self.kind_combo = QComboBox()
        self.kind_combo.addItems(["similarity", "affine"])
        self.kind_combo.setToolTip(
            "similarity: rotation, uniform scale and shift (photo taken square-on); "
            "affine: also shear and different scales along rows and columns"
        )
        self.scale_spin = QSpinBox()
        self.scale_spin.setRange(1, 64)
        self.scale_spin.setValue(4)
        self.scale_spin.setToolTip("Photo pixels per map pixel: the result is s x the map's size")
        self.add_points_button = QPushButton("Add point layers")
        self.add_points_button.setToolTip(
            "Create two points layers: click features on the photo in one and the same "
            "features, in the same order, on the map in the other (at least 3)"
        )
        self.align_button = QPushButton("Align from points")
        self.auto_button = QPushButton("Align automatically")
        self.auto_button.setToolTip(
            "Register the photo to the element maps without any points: a camera photo of "
            "any size, with a margin and a slight turn. Point pairs, if any, are its "
            "starting guess. The scale is the largest the photo's resolution supports.")
        #: The running automatic alignment (``None`` when none runs).
        self.worker: Any = None
        #: The photo and map the scale was last guessed for: it is guessed again only
        #: when they change, so a scale the user typed stays when layers come and go.
        self._guessed_for: tuple[str, str] | None = None
        self.status_label = QLabel("Choose the photo and a map, then Align automatically "
                                   "(or add at least 3 point pairs and Align from points).")
        self.status_label.setWordWrap(True)

        self.map_combo.setToolTip("The element map the photo is aligned to (one that shows "
                                  "features you can also see in the photo, often Pb or Fe).")
        form = QFormLayout()
        form.setRowWrapPolicy(QFormLayout.WrapLongRows)
        form.addRow("Photo", self.photo_combo)
        form.addRow("Reference map", self.map_combo)
        form.addRow("Photo points", self.photo_points_combo)
        form.addRow("Map points", self.map_points_combo)
        form.addRow("Transform", self.kind_combo)
        form.addRow("Scale", self.scale_spin)
        for combo in (self.photo_combo, self.map_combo, self.photo_points_combo,
                      self.map_points_combo, self.kind_combo):
            combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(10)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.auto_button)
        layout.addWidget(QLabel("Optional, or if the automatic alignment fails:"))
        layout.addWidget(self.add_points_button)
        layout.addWidget(self.align_button)
        layout.addWidget(self.status_label)
        layout.addStretch(1)

        self.add_points_button.clicked.connect(self.add_point_layers)
        self.align_button.clicked.connect(self.align)
        self.auto_button.clicked.connect(lambda *_: self.align_automatically())  # not "checked"
        self.photo_combo.currentIndexChanged.connect(self._suggest_scale)
        self.map_combo.currentIndexChanged.connect(self._suggest_scale)
        events = self.viewer.layers.events
        events.inserted.connect(self._refresh)
        events.removed.connect(self._refresh)
        if hasattr(events, "moved"):
            events.moved.connect(self._refresh)
        self._refresh()
        make_labels_plain(self)  # layer names from files are shown as typed

    # ------------------------------------------------------------------ layer lists

    def _layers_of(self, kind: str) -> list[Any]:
        from napari.layers import Image, Points

        out = []
        for layer in self.viewer.layers:
            if kind == "points" and isinstance(layer, Points):
                out.append(layer)
            elif kind == "photo" and isinstance(layer, Image) and layer.rgb:
                out.append(layer)
            elif kind == "map" and isinstance(layer, Image) and not layer.rgb:
                if np.ndim(layer.data) == 2 or (layer.multiscale and layer.data[0].ndim == 2):
                    out.append(layer)
        return out

    @staticmethod
    def _fill(combo: QComboBox, names: list[str], prefer: str | None = None) -> None:
        current = combo.currentText()
        combo.blockSignals(True)
        combo.clear()
        combo.addItems(names or [_NONE])
        for choice in (current, prefer):
            if choice and choice in names:
                combo.setCurrentIndex(names.index(choice))
                break
        combo.blockSignals(False)

    def _refresh(self, *_args) -> None:
        photos = [layer.name for layer in self._layers_of("photo")]
        photos = [n for n in photos if not n.endswith("(aligned)")] or photos
        self._fill(self.photo_combo, photos)
        self._fill(self.map_combo, [layer.name for layer in self._layers_of("map")])
        points = [layer.name for layer in self._layers_of("points")]
        self._fill(self.photo_points_combo, points, PHOTO_POINTS)
        self._fill(self.map_points_combo, points, MAP_POINTS)
        self._suggest_scale()

    def _layer(self, combo: QComboBox):
        name = combo.currentText()
        return self.viewer.layers[name] if name and name in self.viewer.layers else None

    def _suggest_scale(self, *_args) -> None:
        photo, ref = self._layer(self.photo_combo), self._layer(self.map_combo)
        if photo is None or ref is None:
            return
        pair = (photo.name, ref.name)
        if pair == self._guessed_for:
            return  # the same layers: keep the scale (perhaps typed by the user)
        self._guessed_for = pair
        big_h, big_w = photo.data.shape[:2]
        h, w = np.shape(ref.data)[-2:]
        guess = int(round(np.sqrt((big_h / h) * (big_w / w))))
        self.scale_spin.setValue(max(1, min(guess, self.scale_spin.maximum())))

    # ------------------------------------------------------------------ actions

    def _status(self, message: str, error: bool = False) -> None:
        self.status_label.setText(message)
        (_show_error if error else _show_info)(message)

    def add_point_layers(self) -> None:
        """Create the two points layers (reused if they exist), placed over their images."""
        photo, ref = self._layer(self.photo_combo), self._layer(self.map_combo)
        specs = ((PHOTO_POINTS, photo, "yellow"), (MAP_POINTS, ref, "cyan"))
        for name, over, colour in specs:
            if name in self.viewer.layers:
                continue
            kwargs: dict[str, Any] = {"ndim": 2, "name": name, "face_color": colour, "size": 10}
            if over is not None:  # same placement as the image, so clicks land on its pixels
                kwargs["scale"] = tuple(over.scale[-2:])
                kwargs["translate"] = tuple(over.translate[-2:])
                kwargs["size"] = max(5.0, 0.01 * max(np.shape(over.data)[:2]) * over.scale[-1])
            layer = self.viewer.add_points(**kwargs)
            layer.mode = "add"
        self._fill(self.photo_points_combo, [p.name for p in self._layers_of("points")], None)
        self.photo_points_combo.setCurrentText(PHOTO_POINTS)
        self.map_points_combo.setCurrentText(MAP_POINTS)
        self._status(
            f"Click features on the photo in '{PHOTO_POINTS}', then the same features in the "
            f"same order on the map in '{MAP_POINTS}' (at least 3, spread out), then Align."
        )

    @staticmethod
    def _to_data(points_layer, image_layer) -> np.ndarray:
        """Points layer coordinates -> the image layer's pixel (row, col)."""
        pts = np.asarray(points_layer.data, dtype=np.float64)
        if pts.size == 0:
            return np.zeros((0, 2))
        world = [points_layer.data_to_world(p) for p in pts]
        return np.array([np.asarray(image_layer.world_to_data(w))[-2:] for w in world])

    def _point_pairs(self) -> tuple[Any, Any, np.ndarray, np.ndarray] | None:
        """The photo, the map and matching points in their pixels; None (said why) if unusable."""
        photo = self._layer(self.photo_combo)
        ref = self._layer(self.map_combo)
        p_pts = self._layer(self.photo_points_combo)
        m_pts = self._layer(self.map_points_combo)
        missing = [
            what
            for what, layer in (
                ("a photo (RGB image) layer", photo),
                ("an element-map layer", ref),
                ("a points layer on the photo", p_pts),
                ("a points layer on the map", m_pts),
            )
            if layer is None
        ]
        if missing:
            self._status(f"Choose {', '.join(missing)} first.", error=True)
            return None
        if p_pts is m_pts:
            self._status(
                "The photo and map points must be in two different points layers "
                "(use 'Add point layers').",
                error=True,
            )
            return None
        src = self._to_data(p_pts, photo)
        dst = self._to_data(m_pts, ref)
        if len(src) != len(dst):
            self._status(
                f"{len(src)} points on the photo but {len(dst)} on the map: place the same "
                "features on both, in the same order.",
                error=True,
            )
            return None
        if len(src) < 3:
            self._status(
                f"Only {len(src)} point pair(s): at least 3 are needed (more, spread over the "
                "picture, give a better fit).",
                error=True,
            )
            return None
        return photo, ref, src, dst

    def align(self) -> Any:
        """Fit the transform and add ``"<photo> (aligned)"``; returns the new layer or None."""
        pairs = self._point_pairs()
        if pairs is None:
            return None
        photo, ref, src, dst = pairs
        s = int(self.scale_spin.value())
        kind = self.kind_combo.currentText()
        map_shape = np.shape(ref.data)[-2:]
        data = photo.data[0] if photo.multiscale else photo.data
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                aligned, info = align_photo(np.asarray(data), src, dst, map_shape, s, kind)
        except InputError as exc:
            self._status(str(exc), error=True)
            return None
        layer = self._show_aligned(aligned, photo.name, ref, s, info)
        message = (
            f"Aligned '{photo.name}' ({kind}, {info['n_pairs']} pairs): residual RMS "
            f"{info['rms']:.2f} photo px, max {info['max']:.2f}; "
            f"{aligned.shape[0]} x {aligned.shape[1]} px = {s} x the map."
        )
        for w in caught:
            message += f" Warning: {w.message}"
        self._status(message)
        return layer

    # ------------------------------------------------------------------ automatic

    def _show_aligned(self, aligned: np.ndarray, photo_name: str, ref, s: int, info: dict):
        """Show the aligned photo over the maps; a second alignment replaces the first."""
        # the HR grid over the map layer: HR pixel r sits at LR coordinate (r-(s-1)/2)/s,
        # so the aligned photo covers exactly the maps' extent
        map_scale = np.asarray(ref.scale[-2:], dtype=float)
        map_translate = np.asarray(ref.translate[-2:], dtype=float)
        place = {"scale": tuple(map_scale / s),
                 "translate": tuple(map_translate - map_scale * (s - 1) / (2 * s))}
        meta = {"maxrf_sr": {"role": "photo", "aligned_from": photo_name,
                             "reference": ref.name, "scale": s, "alignment": info}}
        name = f"{photo_name} (aligned)"
        if photo_name in self.viewer.layers:
            source = self.viewer.layers[photo_name]
            # a JPEG's note follows its aligned copy (which has no file behind it)
            notes = input_notes((), source)
            if notes:
                meta["maxrf_sr"]["reader_notes"] = list(notes)
            source.visible = False  # hidden, not changed: it would cover the maps
        if name in self.viewer.layers:
            layer = self.viewer.layers[name]
            layer.data = aligned
            layer.scale, layer.translate = place["scale"], place["translate"]
            layer.metadata = meta
        else:
            layer = self.viewer.add_image(aligned, name=name, rgb=aligned.ndim == 3,
                                          metadata=meta, **place)
        # the view on the maps' extent, not on the (hidden) camera photo's
        self.viewer.reset_view(layers=[layer, ref])
        return layer

    def _maps_like(self, ref) -> np.ndarray:
        """Every element-map layer of the reference map's size, stacked: ``(B, h, w)``.

        More maps register better: each map is explained by the photo's colours in its
        own way, and the registration weighs them by how well.
        """
        shape = np.shape(ref.data)[-2:]
        layers = [ref] + [m for m in self._layers_of("map")
                          if m is not ref and not m.multiscale and np.shape(m.data) == shape
                          and not m.name.endswith("(truth)")]
        return np.stack([np.asarray(m.data, dtype=np.float32) for m in layers])

    def _points_guess(self, photo, ref) -> np.ndarray | None:
        """The point pairs' transform (HR -> photo matrix), if there are 3 or more."""
        p_pts, m_pts = self._layer(self.photo_points_combo), self._layer(self.map_points_combo)
        if p_pts is None or m_pts is None or p_pts is m_pts:
            return None
        src, dst = self._to_data(p_pts, photo), self._to_data(m_pts, ref)
        if len(src) != len(dst) or len(src) < 3:
            return None
        data = photo.data[0] if photo.multiscale else photo.data
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _, info = align_photo(np.asarray(data), src, dst, np.shape(ref.data)[-2:],
                                      int(self.scale_spin.value()), "similarity")
        except InputError:
            return None
        return np.asarray(info["matrix"], dtype=np.float64)

    @property
    def running(self) -> bool:
        """Whether an automatic alignment is running."""
        return self.worker is not None

    def align_automatically(self, on_done: Any = None) -> Any:
        """Register the photo to the maps in a background thread; returns the worker.

        ``on_done``: called (no arguments) after the aligned photo is shown.
        """
        from napari.qt.threading import create_worker

        photo, ref = self._layer(self.photo_combo), self._layer(self.map_combo)
        if photo is None or ref is None:
            self._status("Choose a photo (RGB image) layer and an element-map layer first.",
                         error=True)
            return None
        data = np.asarray(photo.data[0] if photo.multiscale else photo.data)
        guess = self._points_guess(photo, ref)
        scale = int(self.scale_spin.value()) if guess is not None else None
        # the slots are given at creation: without an "errored" one, superqt raises
        # the worker's error again in the Qt event loop
        worker = create_worker(_register, self._maps_like(ref), data, scale, guess,
                               _start_thread=False, _connect={
                                   "returned": lambda out: self._auto_done(
                                       out, photo.name, ref, on_done),
                                   "errored": self._auto_failed,
                                   "finished": self._auto_finished})
        self.worker = worker
        self.auto_button.setEnabled(False)
        self._status(f"Registering '{photo.name}' to the maps (about a minute; napari stays "
                     "usable)...")
        worker.start()
        return worker

    def _auto_done(self, out, photo_name: str, ref, on_done: Any = None) -> None:
        from ..registration.result import ERROR_CAVEAT

        reg, aligned = out
        self.scale_spin.setValue(reg.scale)
        self._guessed_for = (photo_name, ref.name)  # the registration's scale stays
        self._show_aligned(aligned, photo_name, ref, reg.scale, reg.to_dict())
        notes = " ".join(f"{n[:1].upper()}{n[1:]}." for n in reg.notes)
        self._status(
            f"Aligned '{photo_name}' automatically: scale {reg.scale} "
            f"({aligned.shape[0]} x {aligned.shape[1]} px), estimated error "
            f"{reg.error_rms_px:.2f} photo px ({reg.error_rms_px / reg.scale:.3f} scan px) "
            f"RMS ({ERROR_CAVEAT}). {notes}".strip())
        if on_done is not None:
            on_done()

    def _auto_failed(self, exc: BaseException) -> None:
        exc = getattr(exc, "original", exc)
        if isinstance(exc, InputError):
            self._status(f"{exc} You can also align from point pairs.", error=True)
        else:
            self._status(f"The automatic alignment failed ({type(exc).__name__}: {exc}). "
                         "Align from point pairs instead.", error=True)

    def _auto_finished(self) -> None:
        self.worker = None
        self.auto_button.setEnabled(True)


def _register(maps: np.ndarray, photo: np.ndarray, scale: int | None,
              initial: np.ndarray | None):
    """In the worker thread: the registration and the aligned photo."""
    from ..registration import register_photo
    from .panel.controller import WorkerError

    try:
        reg = register_photo(maps, photo, scale, initial=initial)
        return reg, reg.apply(photo)
    except RuntimeError as exc:  # superqt would only warn about a RuntimeError
        raise WorkerError(exc) from exc
