"""How hard a JPEG photo was compressed, read from its header, and a note for the user.

JPEG's losses are not noise the network averages away: on the benchmark's Munch case
(``docs/registration.md``, "Another light") the maps lost 0.9 dB with the photo saved
at quality 75 or 90, and 0.1 dB at quality 98. So a photo that was compressed hard gets
a note that says so and what to use instead. The quality is estimated from the file's
luminance quantisation table, as libjpeg's ``quality`` would have made it; cameras use
tables of their own, so it is an estimate.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: Sum of the standard (Annex K) luminance quantisation table: libjpeg's quality 50.
_STANDARD_LUMA_SUM = 3688

#: Below this estimated quality the photo gets a note.
NOTE_BELOW_QUALITY = 95

_SUBSAMPLING = {0: "4:4:4", 1: "4:2:2", 2: "4:2:0"}


@dataclass(frozen=True)
class JpegCompression:
    """Estimated quality (1 to 100) and chroma subsampling (e.g. ``"4:2:0"``) of a JPEG."""

    quality: int
    subsampling: str | None


def jpeg_compression(path: str | Path) -> JpegCompression | None:
    """The JPEG's compression from its header; ``None`` for any other file (or no table)."""
    from PIL import Image, JpegImagePlugin

    try:
        with Image.open(path) as im:
            if im.format != "JPEG":
                return None
            tables = getattr(im, "quantization", None) or {}
            sampling = JpegImagePlugin.get_sampling(im)
    except Exception:  # not an image: the photo reader says what is wrong
        return None
    luma = tables.get(0)
    if not luma:
        return None
    return JpegCompression(quality_from_table(luma), _SUBSAMPLING.get(sampling))


def quality_from_table(luma) -> int:
    """The quality at which libjpeg scales the standard table to ``luma`` (64 values)."""
    s = 100.0 * sum(int(v) for v in luma) / _STANDARD_LUMA_SUM  # libjpeg's scale, percent
    q = (200.0 - s) / 2.0 if s <= 100.0 else 5000.0 / s
    return int(min(100, max(1, round(q))))


def jpeg_note(compression: JpegCompression | None) -> str | None:
    """A note for a JPEG compressed harder than :data:`NOTE_BELOW_QUALITY`, else ``None``."""
    if compression is None or compression.quality >= NOTE_BELOW_QUALITY:
        return None
    colours = (" with its colours stored at half resolution (4:2:0)"
               if compression.subsampling == "4:2:0" else "")
    return (f"the photo is a JPEG saved at about quality {compression.quality}{colours}: "
            "JPEG's losses reach the maps (on a benchmark painting quality 75 and 90 cost "
            "0.9 dB, quality 98 0.1 dB); if the camera's TIFF or RAW export, or a JPEG "
            "saved at quality 95 or more, is available, use it instead")
