"""Automatic registration of a photo onto the scan's grid (no Qt).

- :func:`register_photo`: a photo of any size, margin, small rotation and light ->
  :class:`Registration` (the transform, its scale, quality and estimated error;
  ``apply`` resamples the photo once onto the grid).
- :func:`check_registration`: whether a photo on the grid really lies on it.
- :func:`photo_on_grid`: what every run does first: register a camera photo, check an
  on-grid one (registering it again when it is measurably off), or refuse a photo that
  does not explain the scan.
"""

from .auto import PhotoOnGrid, photo_on_grid
from .check import RegistrationCheck, check_registration
from .register import register_photo
from .result import Registration

__all__ = ["PhotoOnGrid", "Registration", "RegistrationCheck", "check_registration",
           "photo_on_grid", "register_photo"]
