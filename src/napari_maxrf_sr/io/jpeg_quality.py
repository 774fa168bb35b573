"""How hard a JPEG photo was compressed, read from its header, and a note for the user.

JPEG's losses are not noise the network averages away. On two benchmark paintings
(``python -m benchmarks.photo_conditions --jpeg``, docs/registration.md) the maps lost
0.9 and 1.4 dB with the photo saved at quality 75, and on the pointillist one 1.0 dB at
quality 98 when the colours were stored at half resolution (4:2:0, most cameras' choice)
against 0.05 dB at quality 98 with full-resolution colours (4:4:4). So a photo saved
below quality 95, or with its colours at reduced resolution, gets a note that says so
and what to use instead. The quality is estimated from the file's luminance
quantisation table, as libjpeg's ``quality`` would have made it; cameras use tables of
their own, so it is an estimate.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: Sum of the standard (Annex K) luminance quantisation table: libjpeg's quality 50.
_STANDARD_LUMA_SUM = 3688

#: Below this estimated quality the photo gets a note (so does any reduced-colour JPEG).
NOTE_BELOW_QUALITY = 95

_SUBSAMPLING = {0: "4:4:4", 1: "4:2:2", 2: "4:2:0"}
_REDUCED_COLOURS = {"4:2:0": "at half resolution (4:2:0)",
                    "4:2:2": "at half resolution across (4:2:2)"}


@dataclass(frozen=True)
class JpegCompression:
    """Estimated quality (1 to 100) and chroma subsampling (e.g. ``"4:2:0"``) of a JPEG."""

    quality: int
    subsampling: str | None


def jpeg_compression(path: str | Path) -> JpegCompression | None:
    """The JPEG's compression from its header; ``None`` for any other file (or no table)."""
    import warnings

    from PIL import Image, JpegImagePlugin

    before = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None  # the header only: the photo's size is checked elsewhere
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                if im.format != "JPEG":
                    return None
                tables = getattr(im, "quantization", None) or {}
                sampling = JpegImagePlugin.get_sampling(im)
    except Exception:  # not an image: the photo reader says what is wrong
        return None
    finally:
        Image.MAX_IMAGE_PIXELS = before
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
    """A note for a JPEG below :data:`NOTE_BELOW_QUALITY` or with reduced colours."""
    if compression is None:
        return None
    reduced = _REDUCED_COLOURS.get(compression.subsampling or "")
    if compression.quality >= NOTE_BELOW_QUALITY and reduced is None:
        return None
    colours = f" with its colours stored {reduced}" if reduced else ""
    return (f"the photo is a JPEG saved at about quality {compression.quality}{colours}: "
            "JPEG's losses reach the maps (on two benchmark paintings quality 75 cost 0.9 "
            "and 1.4 dB, and colours at half resolution up to 1 dB even at quality 98); if "
            "the camera's TIFF or RAW export, or a JPEG of quality 95 or more with "
            "full-resolution colours (4:4:4), is available, use it instead")
