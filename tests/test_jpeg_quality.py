"""A photo's JPEG compression, estimated from its header, and the note it earns."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from napari_maxrf_sr.io import read_photo
from napari_maxrf_sr.io.jpeg_quality import (
    NOTE_BELOW_QUALITY,
    JpegCompression,
    jpeg_compression,
    jpeg_note,
)


def _photo(tmp_path, name="photo.jpg", **save):
    img = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    path = tmp_path / name
    Image.fromarray(img).save(path, **save)
    return path


@pytest.mark.parametrize("quality", [30, 60, 75, 90, 98])
@pytest.mark.parametrize(("subsampling", "words"), [(0, "4:4:4"), (1, "4:2:2"),
                                                    (2, "4:2:0")])
def test_quality_and_subsampling_are_read_from_the_header(tmp_path, quality, subsampling,
                                                          words):
    found = jpeg_compression(_photo(tmp_path, quality=quality, subsampling=subsampling))
    assert found is not None and abs(found.quality - quality) <= 1
    assert found.subsampling == words


def test_other_files_have_no_jpeg_compression(tmp_path):
    assert jpeg_compression(_photo(tmp_path, "photo.png")) is None
    named_wrongly = _photo(tmp_path, "really_a_png.jpg", format="PNG")
    assert jpeg_compression(named_wrongly) is None
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    assert jpeg_compression(text) is None


def test_the_note_says_the_quality_and_what_to_use_instead():
    note = jpeg_note(JpegCompression(75, "4:2:0"))
    assert "about quality 75" in note and "half resolution (4:2:0)" in note
    assert "TIFF or RAW" in note
    assert "stored at" not in jpeg_note(JpegCompression(75, "4:4:4"))
    assert jpeg_note(JpegCompression(NOTE_BELOW_QUALITY, "4:4:4")) is None
    assert jpeg_note(JpegCompression(NOTE_BELOW_QUALITY - 1, "4:4:4")) is not None
    assert jpeg_note(JpegCompression(NOTE_BELOW_QUALITY, None)) is None  # unknown layout
    assert jpeg_note(None) is None


@pytest.mark.parametrize(("subsampling", "words"), [("4:2:0", "half resolution (4:2:0)"),
                                                    ("4:2:2", "across (4:2:2)")])
def test_reduced_colours_are_noted_at_any_quality(subsampling, words):
    # Quality 98 with half-resolution colours cost the Seurat case 1.0 dB (docs).
    assert words in jpeg_note(JpegCompression(98, subsampling))


def test_read_photo_notes_a_hard_compressed_jpeg_only(tmp_path):
    _, notes = read_photo(_photo(tmp_path, "hard.jpg", quality=75))
    assert [n for n in notes if "about quality 75" in n]
    _, notes = read_photo(_photo(tmp_path, "fine.jpg", quality=98, subsampling=0))
    assert not [n for n in notes if "JPEG" in n]
    _, notes = read_photo(_photo(tmp_path, "fine_but_half_colours.jpg", quality=98))
    assert [n for n in notes if "quality 98 with its colours stored at half" in n]
    _, notes = read_photo(_photo(tmp_path, "photo.png"))
    assert not [n for n in notes if "JPEG" in n]


def test_a_jpeg_beyond_pillows_pixel_limit_is_still_read(tmp_path, monkeypatch):
    from PIL import Image as PILImage

    path = _photo(tmp_path, quality=60)
    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 100)  # the photo is 30 times that
    found = jpeg_compression(path)
    assert found is not None and abs(found.quality - 60) <= 1
    assert PILImage.MAX_IMAGE_PIXELS == 100  # the limit is given back
