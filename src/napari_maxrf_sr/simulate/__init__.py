"""Synthetic paintings: simulated MA-XRF scans with a photo and known truth.

Used for the napari sample data, the tests, the benchmarks and ``maxrf-sr simulate``.
"""

from ..errors import OutputExistsError
from .painting import SyntheticPainting, make_synthetic_painting
from .pigments import ELEMENT_LINES, PIGMENTS, Pigment
from .procedural_photo import procedural_photo
from .writer import write_synthetic_painting

__all__ = [
    "ELEMENT_LINES",
    "PIGMENTS",
    "OutputExistsError",
    "Pigment",
    "SyntheticPainting",
    "make_synthetic_painting",
    "procedural_photo",
    "write_synthetic_painting",
]
