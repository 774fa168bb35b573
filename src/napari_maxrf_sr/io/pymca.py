"""PyMca's element images: EDF files (through ``fabio``) and PyMca's HDF5 output.

PyMca's batch fitting (``PyMca5/PyMcaIO/OutputBuffer.py`` with
``PyMca5/PyMcaPhysics/xrf/XRFBatchFitOutput.py``, filled by ``McaAdvancedFitBatch`` and
``FastXRFLinearFit``) writes one image per fitted peak group:

- HDF5 (``OUTPUT_ROOT.h5``): ``/ENTRY/PROCESS/results/GROUP/NAME``, an ``NXprocess``
  whose ``results`` hold one ``NXdata`` per group (``parameters``: fitted peak areas,
  ``uncertainties``, ``massfractions`` or ``molarconcentrations``, ``diagnostics``),
  the group's images listed in its ``signal`` and ``auxiliary_signals`` attributes and
  named after the peak group with spaces as underscores (``Ca_K``, ``Pb_L``; background
  parameters such as ``Constant`` too);
- EDF (``IMAGES/ENTRY.edf``, or one ``IMAGES/ENTRY_LABEL.edf`` per image), through
  ``ArraySave.save2DArrayListAsEDF``: each image's header has a ``Title``, the group's
  label for the parameters (``Ca_K``) and ``s(Ca_K)``, ``w(Ca_K)``, ``mM(Ca_K)`` for
  uncertainties, mass fractions and molar concentrations, and ``chisq``.

This reader takes the fitted peak areas (``parameters``) by default, or the group
asked for, and keeps the images named after an element line.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..core import validation
from ..errors import InputError
from .common import as_float32_stack
from .elements import is_element_name, normalise_element_name
from .filecheck import damaged, truncated, unreadable

GROUPS = ("parameters", "massfractions", "molarconcentrations", "uncertainties")
_PREFIX = {"s": "uncertainties", "w": "massfractions", "mM": "molarconcentrations"}
_TITLE = re.compile(r"^(?P<prefix>s|w|mM)\((?P<name>.+)\)(?P<rest>.*)$")
MapsResult = tuple[np.ndarray, tuple[str, ...], dict[str, Any]]


def _fabio():
    try:
        import fabio
    except ImportError as exc:  # optional dependency
        raise ImportError(
            "Reading EDF images needs fabio, which is not installed. Install it with "
            "pip install 'napari-maxrf-sr[edf]'  (or: pip install fabio)."
        ) from exc
    return fabio


def title_group(title: str) -> tuple[str, str]:
    """``"s(Ca_K)"`` -> ``("uncertainties", "Ca_K")``; ``"Ca_K"`` -> ``("parameters", ...)``."""
    m = _TITLE.match(title.strip())
    if m:
        return _PREFIX[m.group("prefix")], m.group("name") + m.group("rest")
    if title.strip().lower() in ("chisq", "nfree", "nobservations"):
        return "diagnostics", title.strip()
    return "parameters", title.strip()


def _select(labels: list[tuple[str, str]], group: str | None, source: str,
            notes: list[str]) -> tuple[str, list[int], list[str]]:
    """Indices and names of the element images of the chosen group."""
    present = [g for g in GROUPS if any(lg == g for lg, _ in labels)]
    if group is None:
        group = present[0] if present else "parameters"
    elif group not in GROUPS:
        raise InputError(f"group must be one of {', '.join(GROUPS)}, not {group!r}.")
    keep, names, skipped = [], [], []
    for k, (g, name) in enumerate(labels):
        if g != group:
            continue
        if is_element_name(name.replace("_", " ")):
            keep.append(k)
            names.append(normalise_element_name(name.replace("_", " ")))
        else:
            skipped.append(name)
    if skipped:
        notes.append(f"{source}: skipped {len(skipped)} images that are not element lines "
                     f"({', '.join(skipped[:5])})")
    if not keep:
        raise InputError(
            f"{source} holds no element images in PyMca's {group!r} group (it has: "
            f"{', '.join(sorted({g for g, _ in labels})) or 'no images'}). Choose another "
            f"group (group='massfractions', ...), or export the fit's images again."
        )
    return group, keep, names


# --------------------------------------------------------------------------- EDF


def edf_frames(path: str | Path) -> list:
    """The EDF file's images, headers only, checked against the file's size.

    Raises
    ------
    InputError
        For a file that is not an EDF, is truncated, keeps its data elsewhere, or holds
        more values than are loaded at once.
    """
    fabio = _fabio()
    path = Path(path)
    try:
        size = os.path.getsize(path)
        img = fabio.edfimage.EdfImage()
        img.read(str(path))  # reads the headers; the data stay on disk
        frames = list(img.frames())
    except FileNotFoundError:
        raise
    except PermissionError as exc:
        raise unreadable(path, exc) from exc
    except Exception as exc:  # fabio reports a non-EDF as IOError or ValueError
        raise damaged(path, exc, "EDF") from exc
    shapes = set()
    for k, fr in enumerate(frames):
        _check_frame(fr, k, size, path)  # a cut image: "truncated", with the numbers
        shapes.add(tuple(int(v) for v in fr.shape))
    if not frames or getattr(img, "incomplete_file", False):
        raise InputError(f"{str(path)!r} is truncated: its last EDF image is cut short. "
                         "Copy the file again from its source, or export it again.")
    if len(shapes) != 1:
        raise InputError(f"The images in {str(path)!r} have different sizes {sorted(shapes)}.")
    validation.check_map_size((len(frames), *shapes.pop()), name=f"maps in {path.name!r}")
    return frames


def _check_frame(fr, k: int, size: int, path: Path) -> None:
    if getattr(fr, "bfname", None):
        raise InputError(f"{str(path)!r} keeps the data of image {k + 1} in another file "
                         f"({fr.bfname}); give a self-contained EDF file.")
    shape = tuple(int(v) for v in fr.shape)
    if len(shape) != 2:
        raise InputError(f"Image {k + 1} of {str(path)!r} has shape {shape}, not a 2-D map.")
    need = int(np.prod(shape)) * np.dtype(fr.dtype).itemsize
    start, blob = int(fr.start or 0), int(fr.blobsize or 0)
    compressed = str(fr.header.get("Compression", fr.header.get("COMPRESSION", "None")))
    if compressed.strip().upper() in ("", "NONE", "NO"):
        if start + need > size:
            raise truncated(path, f"image {k + 1}", start + need, size)
    elif start + blob > size or blob * 1100 < need:
        raise InputError(f"{str(path)!r} is damaged: image {k + 1} claims {need:,} bytes "
                         f"from {blob:,} compressed ones. Copy the file again.")


def read_pymca_edf(path: str | Path, *, group: str | None = None) -> MapsResult:
    """Element maps from one PyMca EDF file (one image, or all of a fit in one file).

    Parameters
    ----------
    group
        PyMca's group: ``"parameters"`` (fitted peak areas, the default when present),
        ``"massfractions"``, ``"molarconcentrations"`` or ``"uncertainties"``.
    """
    path = Path(path)
    frames = edf_frames(path)
    notes: list[str] = []
    labels = [title_group(str(fr.header.get("Title") or _stem_title(path)))
              for fr in frames]
    group, keep, names = _select(labels, group, repr(path.name), notes)
    try:
        maps = np.stack([np.asarray(frames[k].data) for k in keep])
    except Exception as exc:
        raise damaged(path, exc, "EDF") from exc
    return (as_float32_stack(maps, repr(path.name)), tuple(names),
            {"source": str(path), "format": "edf", "group": group, "notes": notes})


def _stem_title(path: Path) -> str:
    """A single-image file without a Title: the label after the entry name."""
    return path.stem.rsplit("_", 2)[-2] + "_" + path.stem.rsplit("_", 1)[-1]


def read_pymca_edf_folder(folder: str | Path, *, group: str | None = None) -> MapsResult:
    """Element maps from a folder of single-image PyMca EDF files (``IMAGES/``)."""
    folder = Path(folder)
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".edf"
                   and not p.name.startswith("."))
    if not files:
        raise InputError(f"No EDF images in {str(folder)!r}.")
    frames, labels = [], []
    for f in files:
        fr = edf_frames(f)
        frames += [(f, x) for x in fr]
        labels += [title_group(str(x.header.get("Title") or f.stem)) for x in fr]
    notes: list[str] = []
    group, keep, names = _select(labels, group, repr(folder.name), notes)
    shapes = {tuple(frames[k][1].shape) for k in keep}
    if len(shapes) != 1:
        raise InputError(f"The EDF images in {str(folder)!r} have different sizes "
                         f"{sorted(shapes)}; keep one scan's images in the folder.")
    validation.check_map_size((len(keep), *shapes.pop()), name=f"maps in {folder.name!r}")
    try:
        maps = np.stack([np.asarray(frames[k][1].data) for k in keep])
    except Exception as exc:
        raise damaged(folder, exc, "EDF") from exc
    return (as_float32_stack(maps, repr(folder.name)), tuple(names),
            {"source": str(folder), "format": "edf", "group": group, "notes": notes,
             "files": [str(frames[k][0]) for k in keep]})


def folder_has_edf(folder: str | Path) -> bool:
    """Whether ``folder`` holds EDF images (PyMca's ``IMAGES`` folder)."""
    folder = Path(folder)
    return folder.is_dir() and any(p.suffix.lower() == ".edf" for p in folder.iterdir())


# --------------------------------------------------------------------------- HDF5


def pymca_results(h5file) -> list[str]:
    """Paths of the ``results`` collections of PyMca fits in an open HDF5 file."""
    found: list[str] = []

    def visit(name, obj):
        if name.endswith("results") and hasattr(obj, "keys"):
            parent = obj.parent
            cls = parent.attrs.get("NX_class", b"")
            cls = cls.decode() if isinstance(cls, bytes) else str(cls)
            if cls == "NXprocess" and any(g in obj for g in GROUPS):
                found.append(name)

    h5file.visititems(visit)
    return found


def is_pymca_h5(path: str | Path) -> bool:
    """Whether an HDF5 file holds a PyMca fit's results."""
    try:
        import h5py

        with h5py.File(path, "r") as f:
            return bool(pymca_results(f))
    except Exception:
        return False


def _signals(nxdata) -> list[str]:
    names = []
    for key in ("signal", "auxiliary_signals"):
        value = nxdata.attrs.get(key)
        if value is None:
            continue
        for v in np.ravel(np.asarray(value, dtype=object)):
            names.append(v.decode() if isinstance(v, bytes) else str(v))
    return [n for n in names if n in nxdata] or sorted(
        k for k in nxdata if getattr(nxdata[k], "ndim", 0) == 2)


def read_pymca_h5(path: str | Path, *, group: str | None = None,
                  process: str | None = None) -> MapsResult:
    """Element maps from PyMca's HDF5 output (``/ENTRY/PROCESS/results/GROUP``).

    Parameters
    ----------
    group
        As for :func:`read_pymca_edf` (default: ``parameters``).
    process
        Path of the fit's ``results`` when the file holds several (default: the first).
    """
    import h5py

    path = Path(path)
    try:
        with h5py.File(path, "r") as f:
            return _read_h5(f, path, group, process)
    except (InputError, FileNotFoundError):
        raise
    except Exception as exc:  # truncated or damaged: OSError from the HDF5 library
        raise damaged(path, exc, "HDF5") from exc


def _read_h5(f, path: Path, group: str | None, process: str | None) -> MapsResult:
    results = pymca_results(f)
    if not results:
        raise InputError(f"{str(path)!r} holds no PyMca fit results.")
    chosen = process or results[0]
    if chosen not in results:
        raise InputError(f"{str(path)!r} has no fit results at {chosen!r}; it has "
                         f"{', '.join(results)}.")
    res = f[chosen]
    labels = [(g, n) for g in GROUPS if g in res for n in _signals(res[g])]
    notes = [f"{len(results)} fits in the file; read {chosen}"] if len(results) > 1 else []
    group, keep, names = _select(labels, group, repr(path.name), notes)
    datasets = [res[labels[k][0]][labels[k][1]] for k in keep]
    shapes = {tuple(d.shape) for d in datasets}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise InputError(f"The {group} images in {str(path)!r} have shapes {sorted(shapes)}; "
                         "element maps are 2-D images of one size.")
    validation.check_map_size((len(datasets), *shapes.pop()), name=f"maps in {path.name!r}")
    maps = np.stack([np.asarray(d[()]) for d in datasets])
    return (as_float32_stack(maps, repr(path.name)), tuple(names),
            {"source": str(path), "format": "pymca-hdf5", "group": group,
             "results": chosen, "notes": notes})
