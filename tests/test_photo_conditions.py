"""The photos of ``benchmarks.photo_conditions``: a known residual misregistration."""

from __future__ import annotations

import numpy as np
from benchmarks.photo_conditions import SHIFT_PX, TURN_DEG, misregistered


def _blob(shape, x, y, sigma=3.0):
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    g = np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))
    return np.repeat((40 + 200 * g)[..., None], 3, axis=2).astype(np.float32) / 255


def _centroid(img):
    # above the background (40 / 255); the strip the shift leaves uncovered is 0
    w = np.clip(img[..., 0] - 45 / 255, 0, None)
    yy, xx = np.mgrid[0 : img.shape[0], 0 : img.shape[1]]
    return np.array([(w * xx).sum(), (w * yy).sum()]) / w.sum()


def test_the_photo_moves_by_the_stated_shift_and_turn():
    shape = (201, 201)
    centre = _centroid(misregistered(_blob(shape, 100, 100))) - 100
    assert abs(np.hypot(*centre) - SHIFT_PX) < 0.05, centre
    # a point 90 px right of the centre also moves by the turn: 90 * 0.35 deg = 0.55 px down
    side = _centroid(misregistered(_blob(shape, 190 - 10, 100))) - np.array([180, 100])
    assert abs((side - centre)[1] - 80 * np.radians(TURN_DEG)) < 0.05, side - centre
