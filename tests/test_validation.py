"""Bad input gets a clear error that says what to do."""

from __future__ import annotations

import numpy as np
import pytest

from napari_maxrf_sr.core.validation import infer_scale, prepare_inputs
from napari_maxrf_sr.errors import InputError

LR = np.ones((2, 8, 8), np.float32)
RGB = np.zeros((32, 32, 3), np.uint8)


@pytest.mark.parametrize(
    "lr, rgb, scale, match",
    [
        (np.ones((1, 2, 8, 8)), RGB, 4, "B, h, w"),
        (np.ones((0, 8, 8)), RGB, 4, "B = 0"),
        (np.full((2, 8, 8), np.nan), RGB, 4, "NaN"),
        (np.full((2, 8, 8), np.inf), RGB, 4, "infinite"),
        (-np.ones((2, 8, 8)), RGB, 4, "negative"),
        (LR, np.zeros((32, 32), np.uint8), 4, "RGB"),
        (LR, np.zeros((32, 32, 4), np.uint8), 4, "transparent"),
        (LR, np.full((32, 32, 3), 2.0), 4, r"\[0, 1\]"),
        (LR, np.zeros((30, 32, 3), np.uint8), None, "whole"),
        (LR, RGB, 3, "scale 3"),
    ],
)
def test_bad_inputs(lr, rgb, scale, match):
    with pytest.raises(InputError, match=match):
        prepare_inputs(lr, rgb, scale)


def test_good_conversions():
    rgba = np.full((32, 32, 4), 255, np.uint8)
    with pytest.warns(UserWarning, match="alpha"):
        p = prepare_inputs(LR, rgba, 4)
    assert p.rgb.shape == (32, 32, 3) and p.rgb.raw.dtype == np.uint8  # kept 8-bit
    assert np.asarray(p.rgb).dtype == np.float32 and np.asarray(p.rgb).max() == 1.0
    p16 = prepare_inputs(LR.astype(np.uint16), np.full((32, 32, 3), 65535, np.uint16), 4)
    assert p16.rgb[:4].max() == pytest.approx(1.0) and p16.rgb[:4].dtype == np.float32
    assert p16.lr_maps.dtype == np.float32
    clipped = prepare_inputs(-LR, RGB, 4, negative="clip")
    assert clipped.lr_maps.min() == 0


def test_element_names_must_match():
    with pytest.raises(InputError, match="one name per map"):
        prepare_inputs(LR, RGB, 4, elements=("Pb",))


def test_huge_photo_is_refused_before_allocation():
    with pytest.raises(InputError, match="megapixels"):
        prepare_inputs(LR, RGB, 4, max_hr_pixels=100)


def test_infer_scale():
    assert infer_scale((8, 8), (32, 32)) == 4
    with pytest.raises(InputError):
        infer_scale((8, 8), (32, 24))
