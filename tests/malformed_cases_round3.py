"""The malformed-input table, third part: the cases of issue 32 (reliability, round three).

Every id starts with ``issue32`` (``pytest -k issue32`` runs them, with the cases of
``test_reliability_round3.py`` that need more than one entry point's table). Folders and
pyramids are read only from inside what was opened, and within declared bounds.
"""

from __future__ import annotations

import json
import os
import unicodedata
from pathlib import Path

import numpy as np
import tifffile

from .malformed_table import (
    ELEMENTS,
    Case,
    Expect,
    _good_files,
    _huge_broadcast_photo,
    _png_head,
    _sparse,
    accepted,
    good_maps,
    good_photo,
    refused,
)

READERS = ("reader", "napari_reader", "cli")


# ----------------------------------------------------------------------- crafted stores
def ome_zarr(tmp: Path, shape=(2, 8, 8), chunks=(1, 8, 8), *, path="0", ours=False,
             name="scan.ome.zarr", chunk_files: bool = True) -> Path:
    """An OME-Zarr (zarr v2) written as JSON by hand: it may lie in every way.

    With ``chunk_files`` every chunk gets a (tiny, uncompressed) file of zeros.
    """
    root = tmp / name
    root.mkdir()
    (root / ".zgroup").write_text('{"zarr_format": 2}')
    attrs = {"multiscales": [{"version": "0.4", "axes": [
        {"name": "c", "type": "channel"}, {"name": "y", "type": "space"},
        {"name": "x", "type": "space"}], "datasets": [{"path": path}]}]}
    if ours:
        attrs["napari_maxrf_sr"] = {"elements": list(ELEMENTS)[: shape[0]], "role": "lr_map"}
    (root / ".zattrs").write_text(json.dumps(attrs))
    level = root / "0"
    level.mkdir()
    (level / ".zarray").write_text(json.dumps({
        "zarr_format": 2, "shape": list(shape), "chunks": list(chunks), "dtype": "<f4",
        "compressor": None, "fill_value": 0.0, "order": "C", "filters": None,
        "dimension_separator": "/"}))
    if chunk_files:
        grid = [-(-n // c) for n, c in zip(shape, chunks, strict=True)]
        for index in np.ndindex(*grid):
            f = level.joinpath(*map(str, index))
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_bytes(bytes(4 * int(np.prod(chunks))))
    return root


def our_pyramid(tmp: Path) -> Path:
    """A real pyramid of this package (two chunks at level 0)."""
    from napari_maxrf_sr.io.omezarr import write_ome_zarr

    return write_ome_zarr(tmp / "scan.ome.zarr", good_maps(), ELEMENTS, role="lr_map")


def _chunk_of(root: Path) -> Path:
    return sorted(f for f in (root / "0").rglob("*") if f.is_file() and f.name[0] != ".")[0]


def outside_level(tmp: Path, absolute: bool) -> Path:
    """A store whose only level is another store's, outside it (``../`` or absolute)."""
    (tmp / "elsewhere").mkdir()
    level = our_pyramid(tmp / "elsewhere") / "0"
    where = str(level) if absolute else os.path.relpath(level, tmp / "scan2.ome.zarr")
    return ome_zarr(tmp, path=where, name="scan2.ome.zarr", chunk_files=False)


def _linked_chunk(tmp: Path, target: str | None = None) -> Path:
    root = our_pyramid(tmp)
    chunk = _chunk_of(root)
    other = tmp / "other.bin"
    other.write_bytes(chunk.read_bytes())
    chunk.unlink()
    chunk.symlink_to(target or other)
    return root


def _fifo_chunk(tmp: Path) -> Path:
    root = our_pyramid(tmp)
    chunk = _chunk_of(root)
    chunk.unlink()
    os.mkfifo(chunk)
    return root


def _ds_store(tmp: Path) -> Path:
    """Our pyramid with a chunk missing and a ``.DS_Store`` beside the others."""
    root = our_pyramid(tmp)
    _chunk_of(root).unlink()
    (root / "0" / ".DS_Store").write_bytes(b"\0" * 64)
    return root


def datastack(tmp: Path, shape, chunks) -> Path:
    """A maxrf4u datastack whose maps declare ``shape`` in ``chunks`` (no chunk written)."""
    import zarr
    from zarr.storage import ZipStore

    path = tmp / "scan.datastack"
    zs = ZipStore(path, mode="w")
    zarr.create_array(store=zs, name="nmf_elementmaps", shape=shape, chunks=chunks,
                      dtype="f4", fill_value=0.0)
    zarr.create_array(store=zs, name="nmf_atomnums", data=np.array([82]))
    zs.close()
    return path


def dms_names(tmp: Path, names: list[str]) -> Path:
    from .test_io_formats import to_dms

    return to_dms(str(tmp), "scan", good_maps(), names)


def nfc_nfd_folder(tmp: Path) -> Path:
    folder = tmp / "scan"
    folder.mkdir()
    for form, plane in zip(("NFC", "NFD"), good_maps(), strict=True):
        name = unicodedata.normalize(form, "Sé-L.tif")
        tifffile.imwrite(folder / name, plane, photometric="minisblack")
    return folder


def palette_photo(tmp: Path) -> Path:
    """The good photo as a palette TIFF (its 4 colours, 8-bit, in a 16-bit colour map)."""
    photo = good_photo()
    colours, indices = np.unique(photo.reshape(-1, 3), axis=0, return_inverse=True)
    cmap = np.zeros((3, 256), np.uint16)
    cmap[:, : len(colours)] = colours.T.astype(np.uint16) * 257
    path = tmp / "photo.tif"
    tifffile.imwrite(path, indices.reshape(photo.shape[:2]).astype(np.uint8),
                     photometric="palette", colormap=cmap)
    return path


def _small_maps(tmp: Path, side: int = 16) -> Path:
    path = tmp / "maps.npy"
    np.save(path, np.ones((2, side, side), np.float32))
    return path


def _hair_below_zero() -> np.ndarray:
    """The good photo as floats in [0, 1], one value at -1e-9 (a colour conversion's rounding)."""
    photo = good_photo().astype(np.float32) / 255
    photo[0, 0, 0] = -1e-9
    return photo


# ------------------------------------------------------------------------------- rows
_LINK = refused(r"holds a symbolic link", r"Copy the OME-Zarr again with the files", READERS)

CASES: list[Case] = [
    # ---- 3: dataset paths that leave the store
    Case("issue32 OME-Zarr level at ../outside", files=lambda tmp: {
        **_good_files(tmp), "xrf": outside_level(tmp, absolute=False)},
        expect=refused(r"lists a resolution level at '\.\./.*', outside the folder you opened",
                       r"copy the data into the folder", READERS)),
    Case("issue32 OME-Zarr level at an absolute path", files=lambda tmp: {
        **_good_files(tmp), "xrf": outside_level(tmp, absolute=True)},
        expect=refused(r"lists a resolution level at '/.*', outside the folder you opened",
                       r"copy the data into the folder", READERS)),
    # ---- 4, 6: links; 5: a named pipe
    Case("issue32 OME-Zarr chunk that is a link", expect=_LINK,
         files=lambda tmp: {**_good_files(tmp), "xrf": _linked_chunk(tmp)}),
    Case("issue32 OME-Zarr chunk linked to /dev/urandom", expect=_LINK, max_alloc_mib=20,
         files=lambda tmp: {**_good_files(tmp), "xrf": _linked_chunk(tmp, "/dev/urandom")}),
    Case("issue32 OME-Zarr chunk that is a named pipe", max_alloc_mib=20,
         files=lambda tmp: {**_good_files(tmp), "xrf": _fifo_chunk(tmp)},
         expect=refused(r"'0/\d+/\d+/\d+', which is not a regular file \(a pipe",
                        r"Copy the OME-Zarr again", READERS)),
    # ---- 7, 8: millions of tiny chunks; 9: a chunk of a gigabyte
    Case("issue32 OME-Zarr of 1 x 4000 x 4000 in 1 x 1 x 1 chunks", max_alloc_mib=20,
         files=lambda tmp: {**_good_files(tmp), "xrf": ome_zarr(
             tmp, (1, 4000, 4000), (1, 1, 1), chunk_files=False)},
         expect=refused(r"is cut into 16,000,000 chunks of 1 x 1 x 1 values",
                        r"Save it again with larger chunks", READERS)),
    Case("issue32 datastack of 1 x 1000 x 1000 in 1 x 1 x 1 chunks", max_alloc_mib=20,
         files=lambda tmp: {**_good_files(tmp), "xrf": datastack(
             tmp, (1, 1000, 1000), (1, 1, 1))},
         expect=refused(r"is cut into 1,000,000 chunks", r"larger chunks", READERS)),
    Case("issue32 OME-Zarr chunk declared 1 x 16384 x 16384 for 1 x 16 x 16", max_alloc_mib=20,
         files=lambda tmp: {**_good_files(tmp), "xrf": ome_zarr(
             tmp, (1, 16, 16), (1, 16384, 16384), chunk_files=False)},
         expect=refused(r"declares chunks of 1 x 16384 x 16384 values \(268,435,456 each",
                        r"smaller chunks", READERS)),
    Case("issue32 datastack chunk declared 1 x 16384 x 16384 for 1 x 16 x 16", max_alloc_mib=20,
         files=lambda tmp: {**_good_files(tmp), "xrf": datastack(
             tmp, (1, 16, 16), (1, 16384, 16384))},
         expect=refused(r"declares chunks of 1 x 16384 x 16384 values", r"smaller chunks",
                        READERS)),
    # ---- 10: photos that decompress to gigabytes, at scales of hundreds
    Case("issue32 12000 x 12000 photo for 16 x 16 maps (scale 750)", scale=None,
         max_alloc_mib=20, maps=lambda: np.ones((2, 16, 16), np.float32),
         photo=lambda: _huge_broadcast_photo(12000),
         files=lambda tmp: {"xrf": _small_maps(tmp),
                            "rgb": _sparse(tmp / "photo.png", _png_head(12000, 12000), 1000)},
         expect=refused(r"The photo is 750 times the maps' size \(scale 750\)",
                        r"reduce the photo to a few times the maps' size \(e\.g\. 64 x 64",
                        ("api", "cli"))),
    Case("issue32 photo 40 times the maps (scale 40)", scale=None,
         photo=lambda: good_photo(320),
         expect=refused(r"The photo is 40 times the maps' size \(scale 40\)",
                        r"at most 32 is accepted\)\. Check that the photo and the maps show "
                        r"the same area")),
    # ---- 11: the completeness check counts chunk files only
    Case("issue32 OME-Zarr with a chunk missing and a .DS_Store",
         files=lambda tmp: {**_good_files(tmp), "xrf": _ds_store(tmp)},
         expect=refused(r"is incomplete: level 0 has 1 of its 2 chunk files",
                        r"Copy the whole folder again", READERS)),
    # ---- 13: look-alike names (NFC and NFD)
    Case("issue32 .dms naming two maps NFC and NFD 'Pb Lé'",
         files=lambda tmp: {**_good_files(tmp), "xrf": dms_names(
             tmp, [unicodedata.normalize(f, "Pb Lé") for f in ("NFC", "NFD")])},
         expect={"cli": Expect(r"Maps 1 and 2 are both called 'Pb Lé'",
                               r"Rename one \(--elements on the command line")}),
    Case("issue32 folder with NFC and NFD 'Sé-L.tif'",
         files=lambda tmp: {**_good_files(tmp), "xrf": nfc_nfd_folder(tmp)},
         expect=refused(r"S.+-L\.tif and S.+-L\.tif in '.*scan' are both read as 'Sé-L' "
                        r"\(the same name, its letters encoded in two ways",
                        # napari's reader takes element-named images only: not these
                        r"Move one of them out of the folder", ("reader", "cli"))),
    Case("issue32 element names NFC and NFD 'Pb Lé'",
         api_kwargs={"elements": [unicodedata.normalize(f, "Pb Lé") for f in ("NFC", "NFD")]},
         expect={"api": Expect(r"Maps 1 and 2 are both called 'Pb Lé'", r"Rename one")}),
    # ---- 18: a palette photo is its colours; a float photo a hair below 0 is not 0-255
    Case("issue32 float photo with one value of -1e-9 (accepted)", photo=_hair_below_zero,
         photo_file="photo.tif",
         expect=accepted(r"the photo's values span \[-1e-09, .*\], a little outside \[0, 1\] "
                         r"\(rounding\): they were clipped to \[0, 1\]", None)),
    Case("issue32 palette TIFF photo (accepted)",
         files=lambda tmp: {**_good_files(tmp), "rgb": palette_photo(tmp)},
         expect=accepted(r"palette \(indexed-colour\) TIFF: its colours were looked up",
                         None, ("reader", "cli"))),
]
