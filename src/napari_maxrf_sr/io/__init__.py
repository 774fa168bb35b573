"""Data in and out: element maps, spectral cubes, photos, writers and photo alignment.

Nothing here imports Qt or napari.
"""

from __future__ import annotations

from ..errors import NotElementMaps
from .align import align_photo, check_grid, fit_transform, hr_to_lr, lr_to_hr
from .common import MapsMeta
from .elements import (
    LINE_ENERGIES_KEV,
    element_name_from_path,
    is_element_name,
    line_energy_kev,
    normalise_element_name,
)
from .folder import read_element_folder
from .hdf5 import read_h5_maps
from .maps import read_element_maps
from .npy import read_npy_maps, read_npz_maps
from .photo_file import read_photo
from .rpl import (
    DEFAULT_ELEMENTS,
    RplHeader,
    RplWindows,
    open_rpl_cube,
    parse_rpl_header,
    read_rpl_element_maps,
)
from .tiff import read_element_stack
from .writers import write_element_images, write_element_stack

__all__ = [
    "DEFAULT_ELEMENTS",
    "LINE_ENERGIES_KEV",
    "MapsMeta",
    "NotElementMaps",
    "RplHeader",
    "RplWindows",
    "align_photo",
    "check_grid",
    "element_name_from_path",
    "fit_transform",
    "hr_to_lr",
    "is_element_name",
    "line_energy_kev",
    "lr_to_hr",
    "normalise_element_name",
    "open_rpl_cube",
    "parse_rpl_header",
    "read_element_folder",
    "read_element_maps",
    "read_element_stack",
    "read_h5_maps",
    "read_npy_maps",
    "read_npz_maps",
    "read_photo",
    "read_rpl_element_maps",
    "write_element_images",
    "write_element_stack",
]
