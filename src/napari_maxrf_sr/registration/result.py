"""What a registration found: the transform, its scale, its quality and its error."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError
from .geometry import hr_to_lr, lr_to_hr
from .inputs import check_photo
from .resample import warp_photo

#: Version of the dictionary written by :meth:`Registration.to_dict`.
FORMAT = "napari-maxrf-sr registration 1"
#: What the estimated error means, for messages. On the registration benchmark's 27 photos
#: the true RMS error was 0.5 to 3.8 times the estimate, 1.9 at the median
#: (docs/registration.md): the estimate sees the fit's noise, not the colour model's misfit.
ERROR_CAVEAT = ("the fit's own estimate; on test photos with a known transform the true "
                "error was typically about twice it")


@dataclass
class Registration:
    """A photo registered onto the scan's grid.

    Attributes
    ----------
    matrix
        3x3 homogeneous transform from the HR grid ``(x, y)`` (``scale`` times the
        scan's pixels, pixel centres at whole numbers) to the original photo's
        ``(x, y)``: the convention of :func:`napari_maxrf_sr.io.align_photo`'s
        ``matrix``.
    scale
        Photo pixels per scan pixel of the aligned photo (whole number).
    kind
        ``"similarity"``, ``"affine"`` or ``"homography"``.
    map_shape, photo_shape
        ``(h, w)`` of the scan and ``(H, W)`` of the original photo.
    error_rms_px, error_corner_px
        Estimated error of the transform, in original photo pixels: RMS over the
        scanned area, and at its worst corner (one standard deviation; from the
        criterion's curvature with the residual's spatial correlation taken into
        account). It leaves out the colour model's misfit: see :data:`ERROR_CAVEAT`.
    quality
        ``r2`` (share of the scan's fine detail, its local mean taken off, that the
        photo's colours explain in the final fit), and the test against placements of
        unrelated content (mirrored, turned and rolled copies of the photo, searched the
        same way): ``null_r2_mean``,
        ``null_r2_max``, ``t``, ``p_value``, ``significant``.
    outside_fraction
        Share of the aligned photo with no photo under it (black).
    photo_px_per_scan_px
        The photo's own resolution over the scan: pixels per scan pixel along its
        least resolved direction (``scale`` is the largest whole number it supports).
    notes
        Plain sentences about what was decided (the scale, a refinement, ...).
    """

    matrix: np.ndarray
    scale: int
    kind: str
    map_shape: tuple[int, int]
    photo_shape: tuple[int, int]
    error_rms_px: float
    error_corner_px: float
    quality: dict[str, Any]
    outside_fraction: float
    photo_px_per_scan_px: float
    notes: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def output_shape(self) -> tuple[int, int]:
        """``(s*h, s*w)`` of the aligned photo."""
        return self.scale * self.map_shape[0], self.scale * self.map_shape[1]

    @property
    def lr_matrix(self) -> np.ndarray:
        """3x3: scan pixel ``(x, y)`` -> photo ``(x, y)`` (independent of ``scale``)."""
        return self.matrix @ lr_to_hr(self.scale)

    def with_scale(self, scale: int) -> Registration:
        """The same registration for another HR grid (``scale`` photo pixels per scan pixel)."""
        out = Registration(**{**self.__dict__})
        out.matrix = self.lr_matrix @ hr_to_lr(int(scale))
        out.scale = int(scale)
        return out

    def apply(self, photo, *, order: int = 3) -> np.ndarray:
        """The photo on the scan's grid: ``(s*h, s*w, 3)`` in the photo's pixel type.

        Resampled once from the original pixels (bicubic; ``order=1`` for bilinear),
        low-pass filtered first where the photo is shrunk. ``photo`` must be the photo
        that was registered (same size).
        """
        img = check_photo(photo)
        if tuple(img.shape[:2]) != tuple(self.photo_shape):
            raise InputError(
                f"This registration was made for a {self.photo_shape[0]} x "
                f"{self.photo_shape[1]} photo; this one is {img.shape[0]} x {img.shape[1]}. "
                "Apply it to the photo it was made with, or register this photo."
            )
        out, _ = warp_photo(img, self.matrix, self.output_shape, order=order)
        return out

    def error_text(self) -> str:
        """The estimated error in words, with what it leaves out, for messages."""
        return (f"estimated error {self.error_rms_px:.2f} photo px RMS, "
                f"{self.error_corner_px:.2f} at the worst corner: {ERROR_CAVEAT}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (provenance, the ``align`` command's JSON)."""
        return {
            "format": FORMAT,
            "matrix": np.asarray(self.matrix, float).tolist(),
            "matrix_convention": "HR grid (x, y) -> original photo (x, y), pixel centres",
            "scale": int(self.scale),
            "kind": self.kind,
            "map_shape": [int(n) for n in self.map_shape],
            "photo_shape": [int(n) for n in self.photo_shape],
            "output_shape": [int(n) for n in self.output_shape],
            "error_rms_px": float(self.error_rms_px),
            "error_corner_px": float(self.error_corner_px),
            "quality": _jsonable(self.quality),
            "outside_fraction": float(self.outside_fraction),
            "photo_px_per_scan_px": float(self.photo_px_per_scan_px),
            "notes": list(self.notes),
            "details": _jsonable(self.details),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Registration:
        """Inverse of :meth:`to_dict`."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise InputError(
                "This is not a registration written by napari-maxrf-sr (its 'format' entry "
                f"is not {FORMAT!r}). Register the photo again."
            )
        try:
            m = np.asarray(data["matrix"], dtype=np.float64)
            if m.shape != (3, 3) or not np.isfinite(m).all():
                raise ValueError("matrix")
            return cls(
                matrix=m,
                scale=int(data["scale"]),
                kind=str(data["kind"]),
                map_shape=tuple(int(n) for n in data["map_shape"]),
                photo_shape=tuple(int(n) for n in data["photo_shape"]),
                error_rms_px=float(data["error_rms_px"]),
                error_corner_px=float(data["error_corner_px"]),
                quality=dict(data["quality"]),
                outside_fraction=float(data["outside_fraction"]),
                photo_px_per_scan_px=float(data["photo_px_per_scan_px"]),
                notes=tuple(data.get("notes", ())),
                details=dict(data.get("details", {})),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(
                f"The registration record is incomplete or damaged ({exc}). Register the "
                "photo again."
            ) from None


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        return float(obj) if np.isfinite(obj) else None
    return obj
