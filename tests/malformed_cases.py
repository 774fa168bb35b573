"""The malformed-input table, first part: shapes, values, photos, sizes, files, paths.

The rows of issue 13 (reliability, round two) are in ``malformed_cases_reliability.py``.
"""

from __future__ import annotations

import numpy as np

from napari_maxrf_sr.io import write_element_stack

from .malformed_table import (
    ELEMENTS,
    TINY,
    Case,
    Expect,
    _cut,
    _deny,
    _folder,
    _good_files,
    _h5_maps,
    _huge_broadcast_photo,
    _lower_map_limit,
    _npy_head,
    _planar_tiff,
    _png_head,
    _random,
    _read_only_folder,
    _rpl_pair,
    _sparse,
    _text,
    _tiff_head,
    _with,
    _write_maps,
    _write_photo,
    accepted,
    good_maps,
    good_photo,
    refused,
)

CASES: list[Case] = [
    # ---- shapes, names and the scale
    Case("maps with a 4th axis", maps=lambda: good_maps()[None], expect=refused(
        r"shape \(1, 2, 8, 8\)", r"np\.squeeze\(maps\)", entries=("api", "cli", "reader"),
        widget=Expect(r"has 4 dimensions", r"2D images or a \(B, h, w\) stack"))),
    Case("element axis last", maps=lambda: np.moveaxis(good_maps(), 0, -1), scale=None,
         expect=refused(r"not a whole-number multiple of the maps \(8 x 2 px\)",
                        r"np\.moveaxis\(maps, -1, 0\)", entries=("api", "cli"),
                        widget=Expect(r"not a whole-number multiple", r"the Align step"))),
    Case("photo not a whole multiple of the maps", photo=lambda: good_photo()[:30], scale=None,
         expect=refused(r"\(30 x 32 px\) is not a whole-number multiple",
                        r"Bring the photo onto the scan's grid")),
    Case("scale not a whole number", scale=2.5, expect=refused(
        r"got 2\.5", r"whole number such as 2, 4 or 8", entries=("api",),
        cli=Expect(r"2\.5", r"whole number"))),
    Case("scale contradicts the shapes", scale=3, expect=refused(
        r"With scale 3 the photo must be 24 x 24 px", r"suggest scale 4\. Crop or resample",
        entries=("api", "cli"))),
    Case("scale zero", scale=0, expect=refused(
        r"scale must be a whole number such as 2, 4 or 8, got 0", r"Resample the photo",
        entries=("api", "cli"))),
    Case("no maps (B = 0)", maps=lambda: np.zeros((0, 8, 8), np.float32), expect=refused(
        r"There are no element maps \(B = 0\)", r"give at least one element map",
        entries=("api", "cli"))),
    Case("one name for two maps", api_kwargs={"elements": ("Pb L",)},
         cli_args=("--elements", "Pb L"), expect=refused(
             r"1 element names were given for 2 maps", r"give one name per map",
             entries=("api", "cli"))),
    Case("maps and photo swapped", expect=refused(
        r"the two seem swapped", r"Pass the maps first", entries=("api",)),
         maps=good_photo, photo=good_maps),
    # ---- values of the maps
    Case("all-zero maps", maps=lambda: np.zeros((2, 8, 8), np.float32),
         expect=accepted(r"(Pb L|map 1) is all zero", r"leave the map out")),
    Case("constant maps", maps=lambda: np.full((2, 8, 8), 7, np.float32),
         expect=accepted(r"(Pb L|map 1) has the same value \(7\) everywhere",
                         r"check that the right map was loaded")),
    Case("NaN in the maps", maps=lambda: _with(good_maps(), np.nan), maps_file="maps.tif",
         expect=refused(r"contain 1 NaN or infinite values \((Pb L|map 1) \(1 px\)\)",
                        r"np\.nan_to_num\(maps, nan=0\.0\)")),
    Case("infinity in the maps", maps=lambda: _with(good_maps(), np.inf, (1, 2, 3)),
         expect=refused(r"NaN or infinite values \((Hg L|map 2) \(1 px\)\)", r"np\.nan_to_num")),
    Case("negative counts", maps=lambda: _with(good_maps(), -3.0), expect=refused(
        r"contain negative values: map 1 \(min -3\)", r"--clip-negative",
        entries=("cli",), api=Expect(r"negative values: map 1 \(min -3\)", r"negative='clip'"),
        widget=Expect(r"negative values", r"Clip negative values"))),
    Case("negative counts, clipping asked for", maps=lambda: _with(good_maps(), -3.0),
         api_kwargs={"negative": "clip"}, cli_args=("--clip-negative",),
         expect=accepted(r"1 negative values set to 0", None, entries=("api", "cli"))),
    Case("uint64 counts near 2**64",
         maps=lambda: (good_maps().astype(np.uint64) * np.uint64(2**58)),
         expect=accepted(r"counts up to 12970366926827028480 exceed float32's exact",
                         r"rounded to about 7 significant digits", entries=("api", "widget"),
                         cli=Expect(None, None, accepted=True))),
    Case("uint32 counts at their maximum",
         maps=lambda: _with(good_maps().astype(np.uint32), 2**32 - 1),
         expect=accepted(r"counts up to 4294967295 exceed float32's exact integer range",
                         r"rounded", entries=("api", "widget"),
                         cli=Expect(None, None, accepted=True))),
    Case("int64 counts", maps=lambda: good_maps().astype(np.int64) * 10**12,
         expect=accepted(r"counts up to 45000000000000 exceed", r"rounded",
                         entries=("api", "widget"), cli=Expect(None, None, accepted=True))),
    Case("float64 values beyond float32", maps=lambda: _with(good_maps().astype(float), 1e300),
         expect=refused(r"values up to 1e\+300, too large to compute with",
                        r"Rescale them, e\.g\. maps / 1e\+294", entries=("api", "widget"),
                        cli=Expect(r"values up to 1e\+300", r"Rescale them"),
                        reader=Expect(r"values up to 1e\+300", r"Rescale them"))),
    Case("float32 values near float32's maximum", maps=lambda: _with(good_maps(), 3e38),
         maps_file="maps.tif", expect=refused(r"values up to 3e\+38, too large",
                                              r"Rescale them")),
    # ---- the photo
    Case("grey photo (H, W)", photo=lambda: good_photo()[..., 0], expect=refused(
        r"single-channel \(grey\) image", r"np\.stack\(\[grey\] \* 3, axis=-1\)",
        entries=("api", "cli", "reader"),
        widget=Expect(r"Choose a photo", r"open the colour photo of the painting as an RGB"))),
    Case("photo with one channel (H, W, 1)", photo=lambda: good_photo()[..., :1],
         photo_file="photo.tif", expect=refused(
             r"single-channel \(grey\) image", r"stack it three times",
             entries=("api", "cli", "reader"), widget=Expect(r"Choose a photo", r"RGB"))),
    Case("photo with a transparent alpha channel",
         photo=lambda: np.dstack([good_photo(), np.full((32, 32), 128, np.uint8)]),
         expect=refused(r"has a transparent alpha channel", r"Flatten it onto a background",
                        entries=("api", "cli", "reader", "widget"))),
    Case("photo with an opaque alpha channel",
         photo=lambda: np.dstack([good_photo(), np.full((32, 32), 255, np.uint8)]),
         expect=accepted(r"alpha channel \(fully opaque\) was dropped", None,
                         entries=("api", "cli", "reader", "widget"))),
    Case("photo with the channels first", photo=lambda: np.moveaxis(good_photo(), -1, 0),
         photo_file="photo.tif", expect=refused(
             r"has shape \(3, 32, 32\): channels first", r"np\.moveaxis\(rgb, 0, -1\)",
             entries=("api", "cli", "reader"))),
    Case("photo in separate colour planes (planar TIFF)", files=lambda tmp: {
        "xrf": _write_maps(tmp / "maps.npy", good_maps()),
        "rgb": _planar_tiff(tmp / "photo.tif", good_photo())},
        expect=accepted(None, None, entries=("reader", "cli"))),
    Case("16-bit photo", photo=lambda: good_photo().astype(np.uint16) * 257,
         photo_file="photo.tif", expect=accepted(None, None,
                                                 entries=("api", "cli", "reader", "widget"))),
    Case("float photo with 0-255 values", photo=lambda: good_photo().astype(np.float32),
         photo_file="photo.tif", expect=refused(
             r"must have values in \[0, 1\]; this one spans \[30, 230\]",
             r"it looks like 0-255 values: divide by 255",
             entries=("api", "cli", "reader", "widget"))),
    Case("float photo with 16-bit values",
         photo=lambda: good_photo().astype(np.float32) * 257, photo_file="photo.tif",
         expect=refused(r"spans \[7710, 5\.911e\+04\]", r"divide by 65535",
                        entries=("api", "cli", "reader", "widget"))),
    Case("NaN in the photo", photo=lambda: _with(good_photo() / 255.0, np.nan),
         photo_file="photo.tif", expect=refused(
             r"contains 1 NaN or infinite values", r"np\.nan_to_num\(rgb",
             entries=("api", "cli", "reader", "widget"))),
    Case("photo of 32-bit integers", photo=lambda: good_photo().astype(np.int32),
         photo_file="photo.tif", expect=refused(
             r"has pixel type int32", r"use 8-bit \(uint8\), 16-bit \(uint16\)",
             entries=("api", "cli", "reader", "widget"))),
    Case("empty photo", photo=lambda: np.zeros((0, 0, 3), np.float32), scale=None,
         expect=refused(r"The photo is empty", r"load the photo again", entries=("api",))),
    # ---- sizes
    Case("maps smaller than 2 x 2", maps=lambda: good_maps()[:, :1, :1],
         photo=lambda: good_photo(4), scale=None, expect=refused(
             r"are 1 x 1 pixels: at least 2 x 2 are needed", r"check that the axes are")),
    Case("scan smaller than one patch", maps=lambda: good_maps()[:, 4:6, 3:5],
         photo=lambda: good_photo(8), scale=None,
         api_kwargs={"config": {**TINY, "stage2_steps": 2, "adversarial": True}},
         cli_args=("--method", "adun", "--preset", "fast", "--max-seconds", "1"),
         widget_config={**TINY, "stage2_steps": 2, "adversarial": True},
         # The CLI's presets run no adversarial stage (the default): no patches to shrink.
         expect=accepted(r"Stage 2 patches are 8 px \(whole scan pixels\), not \d+", None,
                         entries=("api",), cli=Expect(None, None, accepted=True),
                         widget=Expect(None, None, accepted=True))),
    Case("enormous photo", maps=lambda: np.broadcast_to(np.float32(5), (1, 12500, 12500)),
         photo=lambda: _huge_broadcast_photo(50000), max_alloc_mib=200,
         files=lambda tmp: {
             "xrf": _sparse(tmp / "maps.npy", _npy_head((1, 1250, 1250)), 1250 * 1250 * 4),
             "rgb": _sparse(tmp / "photo.png", _png_head(50000, 50000), 1000)},
         expect=refused(r"2500 megapixels", r"Work on a crop",
                        entries=("api", "cli", "reader", "widget"))),
    Case("enormous maps", maps=lambda: np.broadcast_to(np.float32(5), (24, 4800, 4800)),
         photo=lambda: _huge_broadcast_photo(4800), scale=1, max_alloc_mib=50,
         files=lambda tmp: {
             "xrf": _sparse(tmp / "maps.npy", _npy_head((1, 40000, 40000)), 40000**2 * 4),
             "rgb": _write_photo(tmp / "photo.png", good_photo())},
         expect=refused(r"values \(\d+\.\d GiB as 32-bit floats\), more than are loaded at once",
                        r"Work on a crop of the scan, or on fewer elements",
                        entries=("api", "cli", "reader", "napari_reader"))),
    Case("enormous maps, limit lowered for the widget", setup=_lower_map_limit,
         maps=lambda: np.broadcast_to(np.float32(5), (1, 2048, 2048)),
         photo=lambda: _huge_broadcast_photo(2048), scale=1, max_alloc_mib=8,
         expect=refused(r"more than are loaded at once", r"Work on a crop", entries=("api",),
                        widget=Expect(r"more than are loaded at once", r"Work on a crop"))),
    # ---- damaged files
    Case("truncated TIFF of maps", files=lambda tmp: {
        "xrf": _cut(write_element_stack(tmp / "maps.tif", good_maps(), ELEMENTS)),
        "rgb": _write_photo(tmp / "photo.png", good_photo())},
        expect=refused(r"maps\.tif' is truncated", r"Copy the file again",
                       entries=("reader", "napari_reader", "cli"))),
    Case("truncated .npy of maps", files=lambda tmp: {
        **_good_files(tmp), "xrf": _cut(_write_maps(tmp / "maps.npy", good_maps()))},
        expect=refused(r"is truncated: its header describes a 2 x 8 x 8 array",
                       r"Copy the file again", entries=("reader", "napari_reader", "cli"))),
    Case("truncated .npz of maps", files=lambda tmp: {
        **_good_files(tmp), "xrf": _cut(_write_maps(tmp / "maps.npz", good_maps()))},
        expect=refused(r"is damaged or truncated, or is not a NumPy \.npz \(zip\) file",
                       r"Copy the file again", entries=("reader", "napari_reader", "cli"))),
    Case("truncated HDF5 of maps", files=lambda tmp: {
        **_good_files(tmp), "xrf": _cut(_h5_maps(tmp))},
        expect=refused(r"is damaged or truncated, or is not a HDF5 file",
                       r"Copy the file again", entries=("reader", "cli"))),
    Case("truncated .raw of a spectral cube", files=lambda tmp: {
        **_good_files(tmp), "xrf": _rpl_pair(tmp, cut=10)},
        expect=refused(r"the file is shorter than the header says",
                       r"Copy the file again or correct the header",
                       entries=("reader", "napari_reader", "cli"))),
    Case("truncated PNG photo", files=lambda tmp: {
        **_good_files(tmp), "rgb": _cut(_write_photo(tmp / "photo.png", good_photo()))},
        expect=refused(r"photo\.png' is damaged or truncated", r"Copy the file again",
                       entries=("reader", "cli"))),
    Case("truncated JPEG photo", files=lambda tmp: {
        **_good_files(tmp), "rgb": _cut(_write_photo(tmp / "photo.jpg", good_photo()))},
        expect=refused(r"photo\.jpg' is damaged or truncated", r"Copy the file again",
                       entries=("reader", "cli"))),
    Case("TIFF header promising more data than the file holds", max_alloc_mib=50,
         files=lambda tmp: {
             **_good_files(tmp),
             "xrf": _sparse(tmp / "Pb-L.tif", _tiff_head(60000, 60000, 1, 32, 100), 100)},
         expect=refused(r"page 1 is 60000 x 60000 pixels \(14,400,000,000 bytes\), but its "
                        r"header points to only 100 bytes", r"Copy the file again",
                        entries=("reader", "napari_reader", "cli"))),
    Case(".npy header promising more data than the file holds", max_alloc_mib=50,
         files=lambda tmp: {
             **_good_files(tmp),
             "xrf": _sparse(tmp / "maps.npy", _npy_head((1, 60000, 60000)), 100)},
         expect=refused(r"1 x 60000 x 60000 array of float32 \(14,400,000,000 bytes\), but "
                        r"only 100 bytes follow", r"Copy the file again",
                        entries=("reader", "napari_reader", "cli"))),
    Case(".rpl header that does not fit its .raw", files=lambda tmp: {
        **_good_files(tmp), "xrf": _rpl_pair(tmp, header_depth=50)},
        expect=refused(r"the file is longer than the header says",
                       r"The file would fit depth 100\. Copy the file again or correct",
                       entries=("reader", "napari_reader", "cli"))),
    Case(".rpl header with a size that is not a number", files=lambda tmp: {
        **_good_files(tmp), "xrf": _rpl_pair(tmp, width="8x")},
        expect=refused(r"has a size that is not a whole number", r"Correct the header",
                       entries=("reader", "napari_reader", "cli"))),
    Case(".raw data renamed .rpl", files=lambda tmp: {
        **_good_files(tmp), "xrf": _sparse(tmp / "scan.rpl", b"\x00", 3 << 20)},
        expect=refused(r"far too large for a \.rpl text header: is it the \.raw data",
                       r"Give the small \.rpl file", entries=("reader", "napari_reader", "cli"))),
    Case("random bytes named .tif", files=lambda tmp: {
        **_good_files(tmp), "xrf": _random(tmp / "Pb-L.tif")},
        expect=refused(r"is not a TIFF file", r"Copy the file again",
                       entries=("reader", "napari_reader", "cli"))),
    Case("text file named .npy", files=lambda tmp: {
        **_good_files(tmp), "xrf": _text(tmp / "maps.npy")},
        expect=refused(r"is not a readable NumPy \.npy array", r"Save the array again",
                       entries=("reader", "napari_reader", "cli"))),
    Case("the photo given as the maps", files=lambda tmp: {
        "xrf": _write_photo(tmp / "maps.tif", good_photo()),
        "rgb": _write_photo(tmp / "photo.png", good_photo())},
        expect=refused(r"is a colour \(RGB\) image, not element maps",
                       r"Open it as the photo", entries=("reader", "cli"))),
    Case("the maps given as the photo", files=lambda tmp: {
        "xrf": _write_maps(tmp / "maps.npy", good_maps()),
        "rgb": write_element_stack(tmp / "photo.tif", good_maps(), ELEMENTS)},
        expect=refused(r"holds 2 element maps \(Pb L, Hg L\.\.\.\), not a colour photo",
                       r"Give it as the element maps", entries=("reader", "cli"))),
    # ---- paths
    Case("maps file that does not exist", files=lambda tmp: {
        **_good_files(tmp), "xrf": tmp / "nope.tif"},
        expect=refused(r"nope\.tif' does not exist", r"Check the path",
                       entries=("reader", "cli"))),
    Case("photo file that does not exist", files=lambda tmp: {
        **_good_files(tmp), "rgb": tmp / "nope.png"},
        expect=refused(r"The photo .*nope\.png' does not exist", r"Check the path",
                       entries=("reader", "cli"))),
    Case("folder without maps", files=lambda tmp: {
        **_good_files(tmp), "xrf": _folder(tmp / "scan")},
        expect=refused(r"No element maps found in .*scan'",
                       r"expected single-channel TIFF or PNG images named by element",
                       entries=("reader", "cli"))),
    Case("maps file without read permission", setup=_deny("maps.npy"),
         expect=refused(r"Cannot read .*maps\.npy': permission denied",
                        r"Check the file's permissions", entries=("reader", "cli"))),
    Case("photo without read permission", setup=_deny("photo.tif"), photo_file="photo.tif",
         expect=refused(r"Cannot read .*photo\.tif': permission denied",
                        r"Check the file's permissions", entries=("reader", "cli"))),
    # ---- the output of the command line
    Case("output folder that does not exist", out="missing/sr.tif", expect=refused(
        r"missing' does not exist", r"Create it first or choose another output location",
        entries=("cli",))),
    Case("output folder without write permission", setup=_read_only_folder,
         expect=refused(r"Cannot write to the folder .*out' \(no write permission\)",
                        r"Choose another output folder", entries=("cli",))),
    Case("output path that is a folder", out="taken", expect=refused(
        r"taken' is a folder, not a file", r"give the name of a file to write",
        entries=("cli",))),
    Case("output that is not a TIFF", out="sr.png", expect={"cli": Expect(
        r"TIFF", r"\.tif")}),
]
