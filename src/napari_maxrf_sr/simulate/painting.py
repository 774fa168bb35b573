"""Synthetic MA-XRF scan of a painting, with known high-resolution truth.

Pipeline (:func:`make_synthetic_painting`):

1. **Photo**: the given one (centre-cropped to the aspect of ``size``, then
   resized) or :func:`.photo.procedural_photo`.
2. **Pigments**: k-means colour clusters of the photo (CIELAB), each matched to a
   distinct historical pigment (:func:`.pigments.assign_pigments`); lighter tones
   of a paint are that pigment mixed with lead white (not for glazes and blacks).
3. **Layer stack**, bottom to top: chalk ground whose thickness follows the
   canvas weave; the hidden layer (an underdrawing in bone black and a
   pentimento: an earlier figure in lead white, vermilion or azurite), not in the
   photo; the paint layer (brush-stroke thickness and pigment loading); small
   colour-matched modern retouchings (Zn, Ti, Ba, Cr), not in the photo either.
4. **Emission** of every element line with energy-dependent self-absorption and
   attenuation by the layers above (:mod:`.paint_layers`).
5. **Counts**: each map is scaled so that its bright pixels (99.9th percentile
   of its non-zero pixels) are ``counts``; that is the noise-free truth
   ``hr_maps``.
6. **Scan**: optional Gaussian beam blur (``psf_sigma`` HR pixels; ``None`` or 0:
   no blur, the package's default block operator), ``scale x scale`` block mean,
   Poisson noise: ``lr_maps``.

All randomness comes from one ``numpy`` ``SeedSequence(seed)``, split into
independent streams per step, so turning the hidden layer off changes nothing
else.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np
from scipy.ndimage import gaussian_filter, maximum_filter

from ..core.photo_pixels import check_rgb
from ..errors import InputError
from .clustering import cluster_image
from .paint_layers import Layer, render_lines
from .pigments import (
    ELEMENT_LINES,
    GROUND_ELEMENTS,
    PIGMENT_BY_NAME,
    Pigment,
    assign_pigments,
    historical_pigments,
    pigment_lab,
)
from .procedural_photo import _ellipse_sd, _soft, procedural_photo
from .textures import brush_strokes, canvas_weave, smooth_noise

__all__ = ["SyntheticPainting", "make_synthetic_painting"]

# Retouchings: colour-matched modern paint, visible only to XRF.
_RETOUCH_RECIPES: tuple[dict[str, float], ...] = (
    {"Zn": 0.4, "Ti": 0.25, "Ba": 0.15, "S": 0.04},
    {"Cr": 0.3, "Zn": 0.3, "Ba": 0.1, "S": 0.03},
    {"Ti": 0.4, "Ba": 0.25, "S": 0.06},
)
_HIDDEN_PIGMENTS = ("lead white", "vermilion", "azurite")
_PHOTO_EDGE_THRESHOLD = 0.04  # photo gradient (per pixel, 0..1 scale) that counts as an edge
_FLAT_THRESHOLD = 0.02  # truth gradient, relative to the map's bright level, that counts as flat


@dataclass
class SyntheticPainting:
    """A simulated MA-XRF scan with its ground truth.

    Attributes
    ----------
    hr_maps
        ``(B, H, W)`` float32 noise-free truth in counts, ``>= 0``.
    lr_maps
        ``(B, h, w)`` float32 scan: Poisson-noisy block mean of the (beam-blurred)
        truth, ``h = H / scale``.
    rgb
        ``(H, W, 3)`` uint8 photo (does not show the hidden layer).
    elements
        Element-line names, length ``B``.
    scale
        HR / LR size ratio.
    hidden_mask
        ``(H, W)`` bool: where the hidden layer (underdrawing, pentimento) is.
    photo_edge_mask
        ``(B, H, W)`` bool: the photo has an edge but that element's truth is flat.
    pigment_labels
        ``(H, W)`` int32 index into ``pigments`` of the top paint layer.
    pigments
        Pigment name per label.
    info
        Seed, settings and provenance (JSON-serialisable).
    """

    hr_maps: np.ndarray
    lr_maps: np.ndarray
    rgb: np.ndarray
    elements: tuple[str, ...]
    scale: int
    hidden_mask: np.ndarray
    photo_edge_mask: np.ndarray
    pigment_labels: np.ndarray
    pigments: tuple[str, ...]
    info: dict = field(default_factory=dict)


# -- validation ------------------------------------------------------------------------
#: Memory made while simulating, per photo pixel: about 370 bytes with 9 elements and 570
#: with 17 (peak RSS of 512 x 512 and 1024 x 1024 runs, /usr/bin/time -v); with margin:
_BYTES_PER_PIXEL, _BYTES_PER_PIXEL_PER_ELEMENT = 300, 30
#: Largest simulated photo: 8192 x 8192 pixels.
MAX_PIXELS = 8192 * 8192


def _check_memory(h: int, w: int, n_elements: int) -> None:
    """Refuse, before anything is allocated, a painting too large to make here."""
    need = h * w * (_BYTES_PER_PIXEL + _BYTES_PER_PIXEL_PER_ELEMENT * n_elements)
    try:
        import psutil

        free = int(psutil.virtual_memory().available)
    except ImportError:  # unknown: only the fixed limit applies
        free = None
    if h * w <= MAX_PIXELS and (free is None or need <= free):
        return
    side = int(math.sqrt(min(MAX_PIXELS, (free or need) / (need / (h * w)))) // 64 * 64)
    room = f"the free memory ({free / 2**30:.1f} GiB)" if free is not None and need > free \
        else "what is simulated (8192 x 8192 pixels)"
    raise InputError(
        f"A {h} x {w} painting with {n_elements} elements needs about {need / 2**30:.1f} GiB "
        f"while it is made, more than {room}. Ask for a smaller size, such as "
        f"{max(side, 16)} x {max(side, 16)} (--size {max(side, 16)} on the command line)."
    )


def _check_settings(size, scale, n_elements, n_pigments, seed, psf_sigma, counts,
                    cluster_blur):
    if (
        not isinstance(size, (tuple, list))
        or len(size) != 2
        or not all(isinstance(v, Integral) for v in size)
    ):
        raise InputError(f"size must be a pair of whole numbers (H, W), got {size!r}.")
    h, w = int(size[0]), int(size[1])
    if not isinstance(scale, Integral) or scale < 1:
        raise InputError(f"scale must be a positive whole number, got {scale!r}.")
    scale = int(scale)
    if h < 16 or w < 16:
        raise InputError(f"size must be at least (16, 16), got {(h, w)}; ask for a larger image.")
    if h % scale or w % scale:
        raise InputError(
            f"size {(h, w)} is not divisible by scale {scale}: the scan grid must tile the "
            f"photo exactly. Use e.g. size=({h - h % scale or scale}, {w - w % scale or scale})."
        )
    n_max = len(ELEMENT_LINES)
    if not isinstance(n_elements, Integral) or not 1 <= n_elements <= n_max:
        raise InputError(
            f"n_elements must be a whole number from 1 to {n_max} (the lines in ELEMENT_LINES), "
            f"got {n_elements!r}."
        )
    n_pig = len(historical_pigments())
    if not isinstance(n_pigments, Integral) or not 1 <= n_pigments <= n_pig:
        raise InputError(
            f"n_pigments must be a whole number from 1 to {n_pig} (the historical pigments "
            f"available), got {n_pigments!r}."
        )
    if not isinstance(seed, Integral) or seed < 0:
        raise InputError(f"seed must be a non-negative whole number, got {seed!r}.")
    _check_memory(h, w, int(n_elements))
    if psf_sigma is not None and (
        not isinstance(psf_sigma, Real) or not math.isfinite(psf_sigma) or psf_sigma < 0
    ):
        raise InputError(
            f"psf_sigma must be None (no beam blur) or a finite number >= 0 of HR pixels, "
            f"got {psf_sigma!r}."
        )
    if not isinstance(cluster_blur, Real) or not math.isfinite(cluster_blur) or cluster_blur < 0:
        raise InputError(f"cluster_blur must be a finite number >= 0 of HR pixels, got "
                         f"{cluster_blur!r}.")
    if not isinstance(counts, Real) or not math.isfinite(counts) or counts <= 0:
        raise InputError(
            f"counts must be a finite number > 0 (expected counts of bright pixels), "
            f"got {counts!r}."
        )
    return (h, w), scale, int(n_elements), int(n_pigments), int(seed)


def _fit_photo(photo, size: tuple[int, int]) -> tuple[np.ndarray, list[str]]:
    """Centre-crop ``photo`` to the aspect ratio of ``size`` and resize it; uint8 out."""
    from skimage.transform import resize

    rgb, notes = check_rgb(photo)
    h, w = size
    ph, pw = rgb.shape[:2]
    if ph * w > pw * h:  # too tall: crop rows
        ch = max(1, round(pw * h / w))
        top = (ph - ch) // 2
        rgb = rgb[top : top + ch]
        notes.append(f"photo cropped to rows {top}..{top + ch - 1} to match the aspect ratio")
    elif ph * w < pw * h:
        cw = max(1, round(ph * w / h))
        left = (pw - cw) // 2
        rgb = rgb[:, left : left + cw]
        notes.append(f"photo cropped to columns {left}..{left + cw - 1} to match the aspect ratio")
    if rgb.shape[:2] != (h, w):
        down = rgb.shape[0] > h or rgb.shape[1] > w
        rgb = resize(rgb, (h, w), order=1, anti_aliasing=down, preserve_range=True)
        notes.append(f"photo resized to {h} x {w}")
    return (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8), notes


# -- layers ----------------------------------------------------------------------------
def _paint_layer(
    rng: np.random.Generator,
    lab: np.ndarray,
    labels: np.ndarray,
    pigs: list[Pigment],
    weave: np.ndarray,
) -> Layer:
    """Top paint layer: each cluster's pigment, mixed with lead white in lighter tones."""
    shape = labels.shape
    m = float(min(shape))
    white = PIGMENT_BY_NAME["lead white"]
    white_l = float(pigment_lab((white,))[0, 0])
    pig_l = pigment_lab(tuple(pigs))[:, 0]
    mixes = np.array([p.mixes_with_white for p in pigs])
    base_l = pig_l[labels]
    wf = np.clip((lab[..., 0] - base_l) / np.maximum(white_l - base_l, 1.0), 0.0, 0.85)
    wf = np.where(mixes[labels], wf, 0.0).astype(np.float32)
    loading = 1.0 + 0.15 * brush_strokes(rng, shape, max(3.0, m / 30), max(0.8, m / 300))
    thickness = 1.0 + 0.25 * brush_strokes(rng, shape, max(3.0, m / 25), max(1.0, m / 200))
    thickness = np.clip(thickness - 0.2 * weave, 0.2, None).astype(np.float32)
    conc: dict[str, np.ndarray] = {}
    # All elements, not only the mapped lines: every one of them absorbs.
    for el in sorted({e for p in (*pigs, white) for e in p.elements}):
        table = np.array([p.elements.get(el, 0.0) for p in pigs], dtype=np.float32)
        lw = white.elements.get(el, 0.0)
        if not table.any() and not (lw and wf.any()):
            continue
        conc[el] = ((1.0 - wf) * table[labels] + wf * lw) * loading
    return Layer("paint", thickness, conc)


def _hidden_layers(
    rng: np.random.Generator, shape: tuple[int, int]
) -> tuple[list[Layer], np.ndarray, dict]:
    """Underdrawing (bone black lines) and a pentimento (an earlier figure)."""
    h, w = shape
    m = float(min(h, w))
    aa = max(1.0, m / 256.0)
    yy, xx = np.meshgrid(np.arange(h, dtype=np.float32), np.arange(w, dtype=np.float32),
                         indexing="ij")
    # Pentimento: body and head of a figure the painter later painted over.
    cy, cx = h * rng.uniform(0.35, 0.65), w * rng.uniform(0.25, 0.75)
    angle = rng.uniform(-0.4, 0.4)
    body = _ellipse_sd(yy, xx, cy, cx, 0.16 * m, 0.07 * m, angle)
    head = _ellipse_sd(yy, xx, cy - 0.22 * m * math.cos(angle), cx + 0.22 * m * math.sin(angle),
                       0.055 * m, 0.05 * m)
    pent_cover = _soft(np.minimum(body, head), aa).astype(np.float32)
    pig = PIGMENT_BY_NAME[_HIDDEN_PIGMENTS[int(rng.integers(len(_HIDDEN_PIGMENTS)))]]
    pent_t = 0.8 * pent_cover * (1.0 + 0.15 * smooth_noise(rng, shape, max(2.0, m / 60)))
    pentimento = Layer("pentimento", pent_t.astype(np.float32), dict(pig.elements))
    # Underdrawing: the contour of another shape plus a few hatching strokes.
    uy, ux = h * rng.uniform(0.3, 0.7), w * rng.uniform(0.3, 0.7)
    half = max(0.6, 0.004 * m)
    contour = np.abs(_ellipse_sd(yy, xx, uy, ux, 0.12 * m, 0.09 * m, rng.uniform(0, np.pi)))
    lines = contour - half
    for _ in range(4):
        a = rng.uniform(0, np.pi)
        oy, ox = uy + rng.uniform(-0.08, 0.08) * m, ux + rng.uniform(-0.08, 0.08) * m
        dist = np.abs((xx - ox) * math.sin(a) - (yy - oy) * math.cos(a))
        along = np.abs((xx - ox) * math.cos(a) + (yy - oy) * math.sin(a))
        lines = np.minimum(lines, np.maximum(dist - half, along - 0.05 * m))
    ud_cover = _soft(lines, aa).astype(np.float32)
    bone = PIGMENT_BY_NAME["bone black"]
    underdrawing = Layer("underdrawing", (0.2 * ud_cover).astype(np.float32), dict(bone.elements))
    mask = (pent_cover > 0.5) | (ud_cover > 0.5)
    info = {
        "pentimento": {"pigment": pig.name, "elements": sorted(pig.elements),
                       "centre": [round(cy, 2), round(cx, 2)]},
        "underdrawing": {"pigment": bone.name, "elements": sorted(bone.elements),
                         "centre": [round(uy, 2), round(ux, 2)]},
    }
    return [underdrawing, pentimento], mask, info


def _retouch_layers(rng: np.random.Generator, shape: tuple[int, int]) -> tuple[list[Layer], list]:
    """Small colour-matched modern retouchings (visible to XRF only)."""
    h, w = shape
    m = float(min(h, w))
    yy, xx = np.meshgrid(np.arange(h, dtype=np.float32), np.arange(w, dtype=np.float32),
                         indexing="ij")
    layers, info = [], []
    for recipe in _RETOUCH_RECIPES:
        cy, cx = h * rng.uniform(0.1, 0.9), w * rng.uniform(0.1, 0.9)
        r = m * rng.uniform(0.025, 0.05)
        cover = _soft(_ellipse_sd(yy, xx, cy, cx, r, r * rng.uniform(0.6, 1.4),
                                  rng.uniform(0, np.pi)), max(1.0, m / 256))
        layers.append(Layer("retouching", (0.35 * cover).astype(np.float32), dict(recipe)))
        info.append({"elements": sorted(recipe), "centre": [round(cy, 2), round(cx, 2)],
                     "radius": round(r, 2)})
    return layers, info


# -- derived outputs -------------------------------------------------------------------
def _to_counts(raw: np.ndarray, counts: float) -> tuple[np.ndarray, list[float]]:
    """Scale each map so that its bright pixels expect ``counts``."""
    out = np.zeros_like(raw)
    factors = []
    for b, band in enumerate(raw):
        pos = band[band > 0]
        ref = float(np.percentile(pos, 99.9)) if pos.size else 0.0
        f = counts / ref if ref > 0 else 0.0
        out[b] = band * f
        factors.append(f)
    return out, factors


def _photo_edge_mask(rgb: np.ndarray, hr: np.ndarray, counts: float) -> np.ndarray:
    """Where the photo has an edge and the element's truth is flat nearby."""
    img = gaussian_filter(rgb.astype(np.float32) / 255.0, (0.7, 0.7, 0))
    gy, gx = np.gradient(img, axis=(0, 1))
    photo_edge = np.sqrt(gx**2 + gy**2).max(-1) > _PHOTO_EDGE_THRESHOLD
    gy, gx = np.gradient(hr, axis=(1, 2))
    grad = maximum_filter(np.sqrt(gx**2 + gy**2), size=(1, 3, 3))
    return photo_edge[None] & (grad < _FLAT_THRESHOLD * counts)


def _scan(hr: np.ndarray, scale: int, sigma: float, rng: np.random.Generator):
    """Beam blur, block mean and Poisson noise: the simulated LR measurement."""
    import torch

    from ..core.operators import AcquisitionOperator

    op = AcquisitionOperator(scale, "gaussian" if sigma > 0 else "block", float(sigma))
    with torch.no_grad():
        expected = op.down(torch.from_numpy(np.ascontiguousarray(hr))).numpy()
    return rng.poisson(np.clip(expected, 0, None).astype(np.float64)).astype(np.float32)


def _pigment_areas(rgb: np.ndarray, n_pigments: int, cluster_blur: float,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, list]:
    """The photo in CIELAB, its colours clustered into areas, and a pigment per area."""
    from skimage.color import rgb2lab

    lab = rgb2lab(rgb.astype(np.float32) / 255.0).astype(np.float32)
    blurred = gaussian_filter(lab, (cluster_blur, cluster_blur, 0)) if cluster_blur else lab
    labels, centres = cluster_image(blurred, n_pigments, rng)
    return lab, labels, assign_pigments(centres)


def _layer_stack(size: tuple[int, int], lab: np.ndarray, labels: np.ndarray, pigs, hidden: bool,
                 rng_ground, rng_hidden, rng_paint, rng_retouch
                 ) -> tuple[list[Layer], np.ndarray, dict, list]:
    """The painting's layers bottom to top (ground, hidden layers, paint, retouchings).

    Returns the layers, the mask of what the hidden layers cover, and what the hidden
    layers and retouchings are (for the painting's info).
    """
    weave = canvas_weave(rng_ground, size, period=max(3.0, float(min(size)) / 64))
    ground = Layer(
        "ground", (1.5 + 0.6 * (1.0 - weave)).astype(np.float32), dict(GROUND_ELEMENTS)
    )
    layers = [ground]
    hidden_mask = np.zeros(size, dtype=bool)
    hidden_info: dict = {}
    if hidden:
        hidden_layers, hidden_mask, hidden_info = _hidden_layers(rng_hidden, size)
        layers += hidden_layers
    layers.append(_paint_layer(rng_paint, lab, labels, pigs, weave))
    retouches, retouch_info = _retouch_layers(rng_retouch, size)
    return layers + retouches, hidden_mask, hidden_info, retouch_info


def _info(settings: dict, source: str, notes: list[str], lines: list, pigs: list,
          layers: list[Layer], hidden_info: dict, retouch_info: list, factors,
          sigma: float) -> dict:
    """What the painting is made of, for its ``info.json`` (its settings first)."""
    elements = tuple(name for name, _ in lines)
    return {
        "generator": "napari_maxrf_sr.simulate.make_synthetic_painting",
        **settings,
        "photo": source,
        "photo_notes": notes,
        "elements": list(elements),
        "line_energies_keV": {name: e for name, e in lines},
        "pigments": [p.name for p in pigs],
        "pigment_elements": {p.name: dict(p.elements) for p in pigs},
        "ground": {"name": "chalk-glue ground on plain-weave canvas",
                   "elements": dict(GROUND_ELEMENTS)},
        "hidden": hidden_info,
        "retouchings": retouch_info,
        "counts_per_unit": dict(zip(elements, factors, strict=True)),
        "layers_bottom_to_top": [ly.name for ly in layers],
        "operator": "gaussian beam then block mean" if sigma > 0 else "block mean",
        "noise": "Poisson",
    }



# -- public API ------------------------------------------------------------------------
def make_synthetic_painting(
    photo=None, *, size: tuple[int, int] = (256, 256), scale: int = 4, n_elements: int = 9,
    n_pigments: int = 8, seed: int = 0, psf_sigma: float | None = None, counts: float = 200.0,
    hidden_layer: bool = True, cluster_blur: float = 1.0,
) -> SyntheticPainting:
    """Simulate an MA-XRF scan of a painting, with its photo and high-resolution truth.

    Parameters
    ----------
    photo
        ``None`` for the built-in procedural photo, or an ``(H, W, 3)``
        uint8 / uint16 / float ``[0, 1]`` image; it is centre-cropped to the aspect
        ratio of ``size`` and resized to it.
    size
        ``(H, W)`` of the truth and photo; both must be divisible by ``scale``.
    scale
        HR pixels per scan step (``lr_maps`` are ``size / scale``).
    n_elements
        Number of element-line maps: the first ``n_elements`` lines of
        :data:`ELEMENT_LINES` (1 to ``len(ELEMENT_LINES)``).
    n_pigments
        Number of colour clusters, i.e. paint pigments (fewer if the photo has
        fewer distinct colours).
    seed
        Seed for everything random (layout, textures, clustering, noise).
    psf_sigma
        Standard deviation of the Gaussian beam spot, in HR pixels, applied before
        the block mean. ``None`` or 0: no blur (the plain block-mean operator).
    counts
        Expected counts of the bright pixels of every map; sets the Poisson noise
        level (relative noise ``~ 1 / sqrt(counts)``).
    hidden_layer
        Add an underdrawing and a pentimento that the photo does not show.
    cluster_blur
        Standard deviation, in HR pixels, of the Gaussian blur of the photo's colours
        before they are clustered into pigments (it keeps single noisy pixels from
        becoming specks of another pigment). The true maps then depend on each pixel's
        neighbourhood, not only on its colour; 0 clusters each pixel's own colour.

    Returns
    -------
    SyntheticPainting

    Raises
    ------
    InputError
        For bad settings or an unusable photo.
    """
    size, scale, n_elements, n_pigments, seed = _check_settings(
        size, scale, n_elements, n_pigments, seed, psf_sigma, counts, cluster_blur
    )
    sigma = 0.0 if psf_sigma is None else float(psf_sigma)
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence([seed, 0x5E11]).spawn(6)]
    rng_cluster, rng_paint, rng_ground, rng_hidden, rng_retouch, rng_noise = streams

    # The photo, its colours clustered into pigment areas, and the paint layers.
    if photo is None:
        rgb, notes, source = procedural_photo(size, seed), [], "procedural"
    else:
        rgb, notes = _fit_photo(photo, size)
        source = "user"
    lab, labels, pigs = _pigment_areas(rgb, n_pigments, cluster_blur, rng_cluster)
    lines = list(ELEMENT_LINES.items())[:n_elements]
    layers, hidden_mask, hidden_info, retouch_info = _layer_stack(
        size, lab, labels, pigs, hidden_layer, rng_ground, rng_hidden, rng_paint, rng_retouch)
    # Their emission as counts, and the scan of it.
    hr, factors = _to_counts(render_lines(layers, lines, size), float(counts))
    lr = _scan(hr, scale, sigma, rng_noise)
    settings = {"seed": seed, "size": list(size), "scale": scale, "n_elements": n_elements,
                "n_pigments": n_pigments, "psf_sigma": sigma, "counts": float(counts),
                "hidden_layer": bool(hidden_layer), "cluster_blur": float(cluster_blur)}
    return SyntheticPainting(
        hr_maps=hr, lr_maps=lr, rgb=rgb, elements=tuple(name for name, _ in lines),
        scale=scale, hidden_mask=hidden_mask,
        photo_edge_mask=_photo_edge_mask(rgb, hr, float(counts)),
        pigment_labels=labels.astype(np.int32), pigments=tuple(p.name for p in pigs),
        info=_info(settings, source, notes, lines, pigs, layers, hidden_info, retouch_info,
                   factors, sigma),
    )
