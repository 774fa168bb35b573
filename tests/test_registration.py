"""Automatic registration of a camera photo to the scan (napari_maxrf_sr.registration).

The photos are made from a benchmark painting (a synthetic scan of a real painting's
photo, 64 x 64 scan pixels at 4x) by a virtual camera with a known transform
(``benchmarks.registration``); the registration must find that transform again.
"""

from __future__ import annotations

import numpy as np
import pytest
from benchmarks import cases
from benchmarks.registration import DISTORTIONS, Distortion, camera_photo, transform_error

from napari_maxrf_sr.errors import InputError
from napari_maxrf_sr.registration import (
    Registration,
    check_registration,
    photo_on_grid,
    register_photo,
)
from napari_maxrf_sr.registration.result import ERROR_CAVEAT

needs_data = pytest.mark.skipif(not (cases.DATA / "paintings").is_dir(),
                                reason="shared benchmark data not available")
pytestmark = needs_data

#: The issue's targets, in original photo pixels.
RMS_TARGET, CORNER_TARGET = 0.25, 0.5


def _distortion(name: str) -> Distortion:
    return next(d for d in DISTORTIONS if d.name.startswith(name))


@pytest.fixture(scope="module")
def case():
    return cases.painting_case("vermeer_the_milkmaid", 7, size=256)


@pytest.fixture(scope="module")
def other():
    return cases.painting_case("munch_the_scream", 7, size=256)


@pytest.fixture(scope="module")
def benchmark_size():
    """The same painting at the registration benchmark's size (128 x 128 scan pixels).

    The issue's targets are set on cases of this size; on 64 x 64 scans of three
    paintings, photos with ``benchmarks.registration``'s distortions came back 0.13 to
    0.43 px RMS.
    """
    return cases.painting_case("vermeer_the_milkmaid", 7)


@pytest.fixture(scope="module")
def turned(benchmark_size):
    """A photo with a 8 % margin, turned 3 degrees and shifted: ``(photo, truth, reg)``."""
    case = benchmark_size
    photo, truth = camera_photo(case.rgb, case.scale, _distortion("rotation 3 deg"))
    return photo, truth, register_photo(case.lr_maps, photo)


def test_a_turned_photo_with_a_margin_comes_back(benchmark_size, turned):
    case = benchmark_size
    photo, truth, reg = turned
    assert photo.shape[0] > 1.1 * case.rgb.shape[0]  # a margin, not the grid
    rms, corner = transform_error(reg, truth, case.scale, case.lr_maps.shape[1:])
    assert rms <= RMS_TARGET and corner <= CORNER_TARGET, (rms, corner)
    assert reg.scale == case.scale  # from the photo's resolution, not its outer size
    assert reg.quality["significant"] and reg.kind == "similarity"


def test_the_aligned_photo_matches_the_true_one(benchmark_size, turned):
    case = benchmark_size
    photo, _, reg = turned
    aligned = reg.apply(photo)
    assert aligned.shape == case.rgb.shape and aligned.dtype == np.uint8
    err = np.abs(aligned.astype(float) - case.rgb.astype(float))[8:-8, 8:-8].mean()
    shifted = np.abs(np.roll(aligned, 1, axis=1).astype(float)
                     - case.rgb.astype(float))[8:-8, 8:-8].mean()
    assert err < 0.6 * shifted, (err, shifted)  # closer than one pixel off


def test_the_record_round_trips(turned):
    _, _, reg = turned
    back = Registration.from_dict(reg.to_dict())
    assert np.allclose(back.matrix, reg.matrix) and back.scale == reg.scale
    assert back.with_scale(2).output_shape == (2 * reg.map_shape[0], 2 * reg.map_shape[1])
    with pytest.raises(InputError, match="not a registration"):
        Registration.from_dict({"format": "something else"})


@pytest.mark.parametrize("name, rms_max, corner_max", [
    # the camera-style photo: enlarged 1.37x, 2 degrees, 60 px margin, JPEG
    ("camera", 0.7, 1.2),
    # a slanted photo (2 % keystone), registered as a homography
    ("keystone", 1.0, 3.5),
])
def test_camera_and_slanted_photos_come_back(case, name, rms_max, corner_max):
    """Bounds above the issue's targets: measured, not met (see docs/registration.md)."""
    dist = _distortion(name)
    photo, truth = camera_photo(case.rgb, case.scale, dist)
    reg = register_photo(case.lr_maps, photo, case.scale, transform=dist.transform)
    rms, corner = transform_error(reg, truth, case.scale, case.lr_maps.shape[1:])
    assert rms <= rms_max and corner <= corner_max, (rms, corner)
    assert reg.kind == dist.transform


def test_a_photo_of_another_painting_is_refused(case, other):
    photo, _ = camera_photo(other.rgb, other.scale, _distortion("rotation 3 deg"))
    with pytest.raises(InputError, match="does not explain the scan"):
        register_photo(case.lr_maps, photo)


def test_a_mirrored_photo_is_refused_and_named(case):
    photo, _ = camera_photo(case.rgb[:, ::-1].copy(), case.scale, _distortion("shift"))
    with pytest.raises(InputError, match="mirrored left-right"):
        register_photo(case.lr_maps, photo)


def test_an_aligned_photo_is_left_as_it_is(case):
    check = check_registration(case.lr_maps, case.rgb, case.scale)
    assert check.verdict == "ok", check.message
    assert check.residual_rms_px < RMS_TARGET
    on_grid = photo_on_grid(case.lr_maps, case.rgb, case.scale)
    assert on_grid.photo is case.rgb and on_grid.record["check"] == "ok"


def test_a_perfect_photo_the_colour_model_misfits_is_left_as_it_is():
    """The 21-map Vermeer: the photo lies exactly on the grid, but the refinement puts it
    0.37 px off (hidden layers the photo does not show), three times its own estimated
    error; the two checkerboard halves disagree by 0.31 px, so the check leaves it."""
    rich = cases.painting_case("vermeer_the_milkmaid", 21)
    check = check_registration(rich.lr_maps, rich.rgb, rich.scale)
    assert check.residual_rms_px > 3 * check.registration.error_rms_px  # the old rule moved it
    assert check.verdict == "ok", check.message


def test_a_photo_two_pixels_off_the_grid_is_registered_again(case):
    off = np.roll(case.rgb, (2, -1), axis=(0, 1))
    on_grid = photo_on_grid(case.lr_maps, off, case.scale)
    assert on_grid.record["check"] == "refine"
    assert 1.8 < on_grid.record["residual_rms_px"] < 2.7
    note = next(n for n in on_grid.notes if "off the scan's grid" in n)
    assert ERROR_CAVEAT in note  # the estimate is read as about half the true error
    inner = (slice(8, -8), slice(8, -8))
    before = np.abs(off.astype(float) - case.rgb)[inner].mean()
    after = np.abs(on_grid.photo.astype(float) - case.rgb)[inner].mean()
    assert after < 0.5 * before, (before, after)


def test_an_on_grid_photo_of_another_painting_is_refused(case, other):
    with pytest.raises(InputError, match="Nothing was trained or written"):
        photo_on_grid(case.lr_maps, other.rgb, case.scale)


def test_an_on_grid_mirrored_photo_is_refused_and_named(case):
    with pytest.raises(InputError, match="mirrored left-right"):
        photo_on_grid(case.lr_maps, np.ascontiguousarray(case.rgb[:, ::-1]), case.scale)


def test_align_false_and_tiny_scans_leave_the_photo_alone(case):
    photo = np.zeros((100, 90, 3), np.uint8)
    assert photo_on_grid(case.lr_maps, photo, 4, align=False).photo is photo
    tiny = np.ones((2, 8, 8), np.float32)
    tiny[0, :4] = 2
    assert photo_on_grid(tiny, photo, None).record is None
