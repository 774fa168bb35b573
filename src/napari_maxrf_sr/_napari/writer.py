"""napari writer: selected image layers -> one multi-page float32 TIFF of element maps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..io.writers import write_element_stack as _write_stack
from ..provenance import build_provenance


def _layer_maps(data, attrs: dict[str, Any], layer_type: str):
    """Yield ``(map, element, layer name, maxrf metadata)`` for one layer."""
    name = str(attrs.get("name") or "map")
    if layer_type != "image":
        raise InputError(f"Layer {name!r} is a {layer_type} layer; only image layers are maps.")
    if attrs.get("rgb"):
        raise InputError(
            f"Layer {name!r} is an RGB image (the photo?); deselect it: only single-channel "
            "element maps go into an element stack."
        )
    if attrs.get("multiscale"):
        data = data[0]
    arr = np.asarray(data)
    info = dict((attrs.get("metadata") or {}).get("maxrf_sr") or {})
    if arr.ndim == 2:
        yield arr, str(info.get("element") or name), name, info
    elif arr.ndim == 3:
        names = info.get("elements")
        if not names or len(names) != arr.shape[0]:
            names = [f"{name} {i + 1}" for i in range(arr.shape[0])]
        for plane, element in zip(arr, names, strict=True):
            yield plane, str(element), str(element), info
    else:
        raise InputError(f"Layer {name!r} has {arr.ndim} dimensions; element maps are 2-D.")


def write_element_stack(path: str, layer_data: list[tuple[Any, dict, str]]) -> list[str]:
    """Write the selected image layers as one element stack (napari's multi-layer writer).

    Element names come from each layer's ``metadata['maxrf_sr']['element']`` or
    its name; layer names, the first layer's scale/translate and the layers'
    ``maxrf_sr`` metadata are stored too, so reopening the file restores them.
    napari's save dialog has already asked before replacing a file.
    """
    if not layer_data:
        raise InputError("No layers to save: select the element-map layers first.")
    maps, elements, names, infos = [], [], [], []
    for data, attrs, layer_type in layer_data:
        for m, element, name, info in _layer_maps(data, attrs, layer_type):
            maps.append(m)
            elements.append(element)
            names.append(name)
            infos.append(info)
    shapes = {m.shape for m in maps}
    if len(shapes) > 1:
        raise InputError(
            f"The selected layers have different sizes {sorted(shapes)}; one stack holds maps "
            "of one size. Save the low- and high-resolution maps separately."
        )
    attrs0 = layer_data[0][1]
    p = Path(path)
    if p.suffix.lower() not in (".tif", ".tiff"):
        p = p.with_name(p.name + ".tif")
    scale = attrs0.get("scale")
    translate = attrs0.get("translate")
    written = _write_stack(
        p,
        np.stack(maps),
        elements,
        scale=None if scale is None else [float(v) for v in scale],
        translate=None if translate is None else [float(v) for v in translate],
        layer_names=names,
        provenance=build_provenance(made_by="napari (save layers)", elements=elements,
                                    output_shape=(len(maps), *maps[0].shape),
                                    extra={"layers": infos}),
        role=str(infos[0].get("role") or "lr_map"),
        force=True,  # napari's save dialog asked about replacing the file
    )
    return [str(written)]


def write_ome_zarr_pyramid(path: str, layer_data: list[tuple[Any, dict, str]]) -> list[str]:
    """Write the selected image layers as one OME-Zarr resolution pyramid.

    The layers' pixels are not loaded: each one (its full-resolution level, for a
    multiscale layer) is read tile by tile while the pyramid is written, so results
    bigger than memory can be saved. Element names come as for
    :func:`write_element_stack`. napari's save dialog has already asked before replacing;
    even so, only an existing OME-Zarr is replaced, never another folder.
    """
    import dask.array as da

    from ..io.omezarr import is_ome_zarr_name, write_ome_zarr

    if not layer_data:
        raise InputError("No layers to save: select the element-map layers first.")
    maps, elements, infos = [], [], []
    for data, attrs, layer_type in layer_data:
        name = str(attrs.get("name") or "map")
        if layer_type != "image" or attrs.get("rgb"):
            raise InputError(f"Layer {name!r} is not a single-channel image layer; deselect "
                             "it: only element maps go into an element stack.")
        level0 = data[0] if attrs.get("multiscale") else data
        arr = da.asarray(level0)
        info = dict((attrs.get("metadata") or {}).get("maxrf_sr") or {})
        planes = [arr] if arr.ndim == 2 else list(arr) if arr.ndim == 3 else None
        if planes is None:
            raise InputError(f"Layer {name!r} has {arr.ndim} dimensions; maps are 2-D.")
        names = info.get("elements") if arr.ndim == 3 else None
        for k, plane in enumerate(planes):
            maps.append(plane)
            elements.append(str(names[k]) if names and len(names) == len(planes)
                            else str(info.get("element") or name) if arr.ndim == 2
                            else f"{name} {k + 1}")
            infos.append(info)
    if len({m.shape for m in maps}) > 1:
        raise InputError("The selected layers have different sizes; one pyramid holds maps "
                         "of one size. Save the low- and high-resolution maps separately.")
    p = Path(path)
    if not is_ome_zarr_name(p):
        p = p.with_name(p.name + ".ome.zarr")
    stack = da.stack(maps).astype(np.float32).rechunk((-1, 512, -1))
    written = write_ome_zarr(p, stack, elements, role=str(infos[0].get("role") or "sr_map"),
                             scale=infos[0].get("scale"),
                             provenance={"software": "napari-maxrf-sr", "layers": infos},
                             force=True)
    return [str(written)]
