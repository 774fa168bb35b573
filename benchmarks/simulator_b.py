"""A second painting simulator, independent of ``napari_maxrf_sr.simulate``, for the check set.

It shares no code and no numbers with the package's simulator (``simulate/``), and makes
other assumptions, so that a setting tuned to that simulator's paintings can be checked on
paintings it never saw. What differs:

==========================  =====================================  ==========================
                            ``napari_maxrf_sr.simulate`` (tuning)  this module (check set)
==========================  =====================================  ==========================
the photo                   the real photo, as it is               rendered from the paint
                                                                   layers (Kubelka-Munk
                                                                   colours, layer opacity);
                                                                   the real photo only sets
                                                                   the top layer's pigments
pigments in a pixel         one pigment per colour cluster,        a mixture of up to four of
                            lighter tones mixed with lead white    the palette's pigments,
                                                                   unmixed from the colour
                                                                   (non-negative least squares
                                                                   in Kubelka-Munk K/S)
pigment table               18 pigments                            :data:`PIGMENTS`: 26, other
                                                                   colours and compositions
                                                                   (Sb, Cr, Zn, Co blues,
                                                                   element-free lakes, indigo
                                                                   and lamp black)
paint layers                one paint layer over a ground          two: a lower "dead colour"
                                                                   layer (blurred, displaced
                                                                   and other pigments:
                                                                   vermilion under red lake,
                                                                   azurite under ultramarine)
                                                                   seen through the upper one
                                                                   in the photo where it is
                                                                   thin, and through its
                                                                   absorption in the scan
X-ray absorption            one power law in energy, excitation    incident beam (20 keV) and
                            folded in                              emitted line both
                                                                   attenuated, 45 degrees in
                                                                   and out, element weights
                                                                   from atomic number
hidden layer                a pentimento figure and an             random brush strokes and a
                            underdrawing                           blob-shaped figure that
                                                                   follow no photo edge
canvas                      plain weave                            2/1 twill, thread spacing
                                                                   wandering
scan                        block mean (the benchmark: no beam)    Gaussian beam spot wider
                                                                   than the step, then block
                                                                   mean (most cases), or block
                                                                   mean
noise                       Poisson, about 200 counts at a         Poisson, 100 to 5,000 counts
                            bright pixel                           at each map's brightest
                                                                   scan pixel (declared per
                                                                   map)
light of the photo          as photographed                        optionally another light:
                                                                   gamma, warm cast, vignetting
==========================  =====================================  ==========================

``mix_from``: ``"pixel"`` unmixes each photo pixel's own colour (the equivalent of the
package simulator's ``cluster_blur=0``); ``"blurred"`` unmixes a Gaussian-blurred photo
(sigma 1.5 pixels, the equivalent of ``cluster_blur=1``), and the rendered photo then
carries the sharp photo's fine detail as a multiplicative, element-free texture.

The maps (``hr_maps``) are noise-free counts; the scan is ``lr_maps = Poisson(U(hr_maps))``
with ``U`` :func:`scan_operator` (Gaussian with standard deviation ``psf_sigma`` HR pixels,
radius ``ceil(3 sigma)``, mirrored borders, then the ``scale x scale`` block mean: the
package's ``AcquisitionOperator(scale, "gaussian", psf_sigma)``). Each map is scaled so
that its brightest expected scan pixel is ``peak_counts[b]``.

Everything random comes from one ``numpy`` ``SeedSequence(seed)`` split into streams per
step, so switching the hidden layer off changes nothing else (not even the photo).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import gaussian_filter, map_coordinates, maximum_filter

# ----------------------------------------------------------------------------- tables
#: X-ray lines the simulated scanner maps: name -> energy (keV).
LINES: dict[str, float] = {
    "Pb L": 10.55, "Hg L": 9.99, "Fe K": 6.40, "Cu K": 8.05, "Ca K": 3.69, "Mn K": 5.90,
    "Co K": 6.93, "As K": 10.54, "Sn L": 3.44, "Sb L": 3.60, "Cr K": 5.41, "Zn K": 8.64,
    "K K": 3.31, "S K": 2.31, "Sr K": 14.16, "Pb M": 2.35,
}

#: Atomic numbers (absorption grows about with Z^2.5 here).
Z = {"Pb": 82, "Hg": 80, "Sb": 51, "Sn": 50, "Sr": 38, "As": 33, "Zn": 30, "Cu": 29,
     "Co": 27, "Fe": 26, "Mn": 25, "Cr": 24, "Ca": 20, "K": 19, "S": 16, "P": 15, "Si": 14,
     "Al": 13}


@dataclass(frozen=True)
class PigmentB:
    """A pigment: its colour in oil (sRGB 0..255), elements (mass fractions), hiding power.

    ``under``: the pigment a painter would lay under it in the dead colouring.
    """

    name: str
    srgb: tuple[int, int, int]
    elements: dict[str, float]
    hiding: float
    under: str = "lead white"


PIGMENTS: tuple[PigmentB, ...] = (
    PigmentB("lead white", (238, 234, 222), {"Pb": 0.80}, 3.0, "lead white"),
    PigmentB("zinc white", (245, 245, 240), {"Zn": 0.78}, 1.6, "lead white"),
    PigmentB("vermilion", (200, 50, 38), {"Hg": 0.86, "S": 0.14}, 2.5, "red ochre"),
    PigmentB("red lead", (214, 88, 48), {"Pb": 0.90}, 2.0, "red ochre"),
    PigmentB("red ochre", (145, 70, 50), {"Fe": 0.45, "Si": 0.20, "Mn": 0.01}, 2.0,
             "red ochre"),
    PigmentB("yellow ochre", (200, 150, 70), {"Fe": 0.30, "Si": 0.25, "K": 0.03}, 1.5,
             "yellow ochre"),
    PigmentB("lead-tin yellow", (232, 204, 96), {"Pb": 0.70, "Sn": 0.15}, 2.0,
             "yellow ochre"),
    PigmentB("Naples yellow", (230, 190, 110), {"Pb": 0.60, "Sb": 0.20}, 2.0, "yellow ochre"),
    PigmentB("orpiment", (222, 182, 60), {"As": 0.60, "S": 0.39}, 1.0, "yellow ochre"),
    PigmentB("chrome yellow", (240, 200, 40), {"Pb": 0.60, "Cr": 0.15}, 2.5, "yellow ochre"),
    PigmentB("ultramarine", (40, 50, 140), {"Si": 0.20, "Al": 0.20, "S": 0.10}, 0.8,
             "azurite"),
    PigmentB("azurite", (50, 90, 150), {"Cu": 0.55}, 1.2, "lamp black"),
    PigmentB("smalt", (80, 90, 160), {"Co": 0.06, "As": 0.05, "K": 0.10, "Si": 0.30}, 0.5,
             "lamp black"),
    PigmentB("cobalt blue", (40, 70, 170), {"Co": 0.30, "Al": 0.20}, 1.0, "lead white"),
    PigmentB("Prussian blue", (25, 40, 90), {"Fe": 0.35, "K": 0.03}, 1.0, "lamp black"),
    PigmentB("verdigris", (60, 130, 110), {"Cu": 0.35}, 0.7, "green earth"),
    PigmentB("emerald green", (70, 170, 110), {"Cu": 0.30, "As": 0.35}, 1.5, "green earth"),
    PigmentB("viridian", (50, 120, 100), {"Cr": 0.45}, 1.0, "green earth"),
    PigmentB("green earth", (120, 130, 95), {"Fe": 0.12, "K": 0.06, "Si": 0.30}, 0.8,
             "green earth"),
    PigmentB("raw umber", (100, 80, 55), {"Fe": 0.35, "Mn": 0.15}, 1.5, "raw umber"),
    PigmentB("bone black", (30, 28, 27), {"Ca": 0.35, "P": 0.15}, 2.0, "bone black"),
    PigmentB("lamp black", (18, 18, 20), {}, 3.0, "lamp black"),
    PigmentB("madder lake", (165, 35, 70), {"Al": 0.05, "K": 0.02}, 0.3, "vermilion"),
    PigmentB("weld lake", (200, 175, 60), {"Al": 0.05}, 0.3, "lead-tin yellow"),
    PigmentB("indigo", (40, 50, 80), {}, 0.6, "lamp black"),
    PigmentB("chalk", (232, 230, 220), {"Ca": 0.38, "Sr": 0.004, "Fe": 0.003}, 0.4, "chalk"),
)
BY_NAME = {p.name: p for p in PIGMENTS}

#: Grounds: composition and colour.
GROUNDS = {
    "chalk": ({"Ca": 0.38, "Sr": 0.004, "Fe": 0.004, "K": 0.003}, (232, 228, 214)),
    "lead white": ({"Pb": 0.60, "Ca": 0.10}, (236, 230, 216)),
}
HIDDEN_PIGMENTS = ("lead white", "vermilion", "red lead", "azurite")

E_BEAM = 20.0  # keV, effective energy of the exciting beam
GEOMETRY = 1.0 / math.sin(math.radians(45.0))  # path length per unit depth, in and out
KAPPA = 0.08  # attenuation scale (per unit thickness, unit mass fraction, (Z/30)^2.5 = 1)
BINDER = 0.15  # the oil binder's own attenuation at 10 keV


def srgb_to_linear(c: np.ndarray) -> np.ndarray:
    c = np.asarray(c, dtype=np.float64)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(c: np.ndarray) -> np.ndarray:
    c = np.clip(np.asarray(c, dtype=np.float64), 0.0, 1.0)
    return np.where(c <= 0.0031308, 12.92 * c, 1.055 * c ** (1 / 2.4) - 0.055)


def k_over_s(r: np.ndarray) -> np.ndarray:
    """Kubelka-Munk K/S of an opaque layer's reflectance."""
    r = np.clip(r, 1e-3, 0.999)
    return (1 - r) ** 2 / (2 * r)


def reflectance(ks: np.ndarray) -> np.ndarray:
    """Reflectance of an opaque layer with the given K/S."""
    return 1 + ks - np.sqrt(ks**2 + 2 * ks)


def attenuation(conc: dict[str, np.ndarray | float], energy: float) -> np.ndarray | float:
    """Linear attenuation coefficient of a layer (per unit thickness) at ``energy`` keV."""
    mu: np.ndarray | float = BINDER * (10.0 / energy) ** 3
    for el, c in conc.items():
        mu = mu + KAPPA * (Z.get(el, 20) / 30.0) ** 2.5 * (10.0 / energy) ** 2.7 * c
    return mu


# ------------------------------------------------------------------------- operator
def gaussian_kernel(sigma: float) -> np.ndarray:
    """1-D Gaussian of radius ``ceil(3 sigma)``, summing to 1 (a delta for sigma <= 0)."""
    if sigma <= 0:
        return np.ones(1)
    r = max(1, int(math.ceil(3 * sigma)))
    t = np.arange(-r, r + 1, dtype=np.float64)
    k = np.exp(-0.5 * (t / sigma) ** 2)
    return k / k.sum()


def scan_operator(hr: np.ndarray, scale: int, psf_sigma: float = 0.0) -> np.ndarray:
    """``U``: Gaussian beam (mirrored borders) then the ``scale x scale`` block mean.

    ``(..., H, W) -> (..., H/s, W/s)``, float64.
    """
    x = np.asarray(hr, dtype=np.float64)
    if psf_sigma > 0:
        k = gaussian_kernel(psf_sigma)
        r = (len(k) - 1) // 2
        pad = [(0, 0)] * (x.ndim - 2)
        x = np.pad(x, [*pad, (0, 0), (r, r)], mode="reflect")
        x = sum(k[i] * x[..., :, i : i + x.shape[-1] - 2 * r] for i in range(len(k)))
        x = np.pad(x, [*pad, (r, r), (0, 0)], mode="reflect")
        x = sum(k[i] * x[..., i : i + x.shape[-2] - 2 * r, :] for i in range(len(k)))
    *lead, h, w = x.shape
    return x.reshape(*lead, h // scale, scale, w // scale, scale).mean(axis=(-3, -1))


# ------------------------------------------------------------------------- textures
def _noise(rng: np.random.Generator, shape, sigma: float) -> np.ndarray:
    n = gaussian_filter(rng.standard_normal(shape), sigma, mode="wrap")
    return (n - n.mean()) / max(n.std(), 1e-12)


def twill(rng: np.random.Generator, shape, period: float) -> np.ndarray:
    """2/1 twill canvas relief in [0, 1] with wandering thread spacing."""
    h, w = shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    px = (x + 0.3 * period * _noise(rng, shape, 5 * period)) / period
    py = (y + 0.3 * period * _noise(rng, shape, 5 * period)) / period
    warp_up = (np.floor(px) - np.floor(py)) % 3 != 0  # the warp passes over two, under one
    return np.where(warp_up, np.abs(np.sin(np.pi * px)), np.abs(np.sin(np.pi * py)))


def brushwork(rng: np.random.Generator, shape, length: float) -> np.ndarray:
    """Strokes in four directions, blended by smooth random weights; zero mean, unit std."""
    h, w = shape
    fields = []
    for shear in (0, 1, -1, None):
        n = rng.standard_normal(shape)
        if shear is None:
            f = gaussian_filter(n, (length, length / 6), mode="wrap")
        elif shear == 0:
            f = gaussian_filter(n, (length / 6, length), mode="wrap")
        else:  # diagonal: shear the rows, filter along them, shear back
            idx = (np.arange(w)[None, :] + shear * np.arange(h)[:, None]) % w
            sheared = np.take_along_axis(n, idx, axis=1)
            f = gaussian_filter(sheared, (length / 6, length), mode="wrap")
            inv = np.argsort(idx, axis=1)
            f = np.take_along_axis(f, inv, axis=1)
        fields.append(f / max(f.std(), 1e-12))
    weights = np.exp(2.5 * np.stack([_noise(rng, shape, 3 * length) for _ in fields]))
    out = (np.stack(fields) * weights).sum(0) / weights.sum(0)
    return (out - out.mean()) / max(out.std(), 1e-12)


def strokes(rng: np.random.Generator, shape, n: int, width: float, length: float) -> np.ndarray:
    """Coverage in [0, 1] of ``n`` smooth random strokes (a random walk of turning angle)."""
    h, w = shape
    cover = np.zeros(shape)
    yy, xx = np.mgrid[0:h, 0:w]
    for _ in range(n):
        y, x = rng.uniform(0.1, 0.9) * h, rng.uniform(0.1, 0.9) * w
        angle = rng.uniform(0, 2 * np.pi)
        steps = int(length / 2)
        pts = []
        for _ in range(steps):
            angle += rng.normal(0, 0.15)
            y, x = y + 2 * math.sin(angle), x + 2 * math.cos(angle)
            pts.append((y, x))
        pts = np.array(pts)
        r0, r1 = int(max(0, pts[:, 0].min() - 3 * width)), int(min(h, pts[:, 0].max() + 3 * width))
        c0, c1 = int(max(0, pts[:, 1].min() - 3 * width)), int(min(w, pts[:, 1].max() + 3 * width))
        if r1 <= r0 or c1 <= c0:
            continue
        sub_y, sub_x = yy[r0:r1, c0:c1], xx[r0:r1, c0:c1]
        d = np.full(sub_y.shape, np.inf)
        for py, px in pts:
            d = np.minimum(d, np.hypot(sub_y - py, sub_x - px))
        cover[r0:r1, c0:c1] = np.maximum(cover[r0:r1, c0:c1],
                                         np.clip(width / 2 + 0.5 - d, 0, 1))
    return cover


def displace(img: np.ndarray, dy: np.ndarray, dx: np.ndarray) -> np.ndarray:
    """``img`` (..., H, W) sampled at (y + dy, x + dx), linear, edges repeated."""
    h, w = img.shape[-2:]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    coords = np.stack([yy + dy, xx + dx])
    flat = img.reshape(-1, h, w)
    out = np.stack([map_coordinates(f, coords, order=1, mode="nearest") for f in flat])
    return out.reshape(img.shape)


# ------------------------------------------------------------------------- unmixing
def choose_palette(lin: np.ndarray, rng: np.random.Generator, n: int = 8) -> list[PigmentB]:
    """Greedy palette: lead white and a black, then the pigments that best explain the colours.

    ``lin``: ``(N, 3)`` linear colours (a sample of the photo).
    """
    from scipy.optimize import nnls

    sample = lin[rng.choice(len(lin), size=min(400, len(lin)), replace=False)]
    candidates = [p for p in PIGMENTS if p.name != "chalk"]
    chosen = [BY_NAME["lead white"], BY_NAME["bone black" if rng.random() < 0.5 else
                                              "lamp black"]]

    def residual(palette):
        a = _system(palette)
        return sum(nnls(a, _target(c))[1] for c in sample)

    while len(chosen) < n:
        scores = [(residual([*chosen, p]), p.name) for p in candidates if p not in chosen]
        chosen.append(BY_NAME[min(scores)[1]])
    return chosen


def _system(palette) -> np.ndarray:
    ks = np.stack([k_over_s(srgb_to_linear(np.array(p.srgb) / 255.0)) for p in palette], 1)
    return np.vstack([ks, 3.0 * np.ones((1, len(palette)))])  # the last row: sum to 1


def _target(lin_colour: np.ndarray) -> np.ndarray:
    return np.append(k_over_s(lin_colour), 3.0)


def unmix(lin: np.ndarray, palette, levels: int = 17) -> np.ndarray:
    """Pigment fractions ``(P, H, W)`` of each pixel's linear colour ``lin`` ``(H, W, 3)``.

    Solved (non-negative least squares in K/S, fractions summing to 1, each row weighted by
    1 / (0.2 + K/S) so dark and light colours count alike) on a ``levels^3`` lattice of
    sRGB colours and interpolated trilinearly: a smooth function of the colour alone.
    """
    from scipy.optimize import nnls

    a = _system(palette)
    grid = np.linspace(0, 1, levels)
    lattice = np.zeros((len(palette), levels, levels, levels))
    for i, r in enumerate(grid):
        for j, g in enumerate(grid):
            for k, b in enumerate(grid):
                t = _target(srgb_to_linear(np.array([r, g, b])))
                wgt = 1.0 / (0.2 + np.append(t[:3], 0.0))
                f, _ = nnls(a * wgt[:, None], t * wgt)
                lattice[:, i, j, k] = f / max(f.sum(), 1e-9)
    s = linear_to_srgb(lin) * (levels - 1)
    coords = np.moveaxis(s, -1, 0)
    return np.stack([map_coordinates(lat, coords, order=1, mode="nearest")
                     for lat in lattice])


# ------------------------------------------------------------------------- the painting
@dataclass
class PaintingB:
    """One simulated painting with its scan (all arrays as in ``benchmarks.cases.Case``)."""

    hr_maps: np.ndarray  # (B, H, W) float32 noise-free counts
    lr_maps: np.ndarray  # (B, h, w) float32 Poisson counts
    expected_lr: np.ndarray  # (B, h, w) float64: U(hr_maps), the scan without noise
    rgb: np.ndarray  # (H, W, 3) uint8
    elements: tuple[str, ...]
    scale: int
    psf_sigma: float
    peak_counts: tuple[float, ...]
    hidden_mask: np.ndarray | None
    edge_mask: np.ndarray
    info: dict = field(default_factory=dict)


@dataclass
class Light:
    """A photo taken under another light: applied to the linear photo before encoding."""

    gamma: float = 1.0  # power on the encoded values (>1 darker mid-tones)
    cast: tuple[float, float, float] = (1.0, 1.0, 1.0)  # white balance off: R, G, B gains
    vignette: float = 0.0  # loss of light at the corners (0..1)
    exposure: float = 1.0


def _layer_emission(layers, elements, shape) -> np.ndarray:
    """Primary fluorescence of each line from a layer stack (bottom to top).

    Per layer ``k``: ``c_e (1 - exp(-chi_k t_k)) / chi_k * exp(-sum_{j above} chi_j t_j)``
    with ``chi = (mu(E_beam) + mu(E_line)) / sin 45``.
    """
    out = np.zeros((len(elements), *shape))
    mu_beam = [attenuation(c, E_BEAM) for _, c in layers]
    for b, line in enumerate(elements):
        el, energy = line.split()[0], LINES[line]
        above = np.zeros(shape)
        for k in range(len(layers) - 1, -1, -1):
            t, conc = layers[k]
            chi = GEOMETRY * (mu_beam[k] + attenuation(conc, energy))
            c = conc.get(el)
            if c is not None and np.any(c):
                out[b] += c * (-np.expm1(-chi * t)) / chi * np.exp(-above)
            above = above + chi * t
    return out


def _concentrations(fractions: np.ndarray, palette) -> dict[str, np.ndarray]:
    conc: dict[str, np.ndarray] = {}
    for f, p in zip(fractions, palette, strict=True):
        for el, v in p.elements.items():
            conc[el] = conc.get(el, 0.0) + v * f
    return conc


def _opacity_and_colour(fractions: np.ndarray, palette, thickness: np.ndarray):
    ks = sum(f[..., None] * k_over_s(srgb_to_linear(np.array(p.srgb) / 255.0))
             for f, p in zip(fractions, palette, strict=True))
    hiding = sum(f * p.hiding for f, p in zip(fractions, palette, strict=True))
    return 1.0 - np.exp(-hiding * thickness), reflectance(ks)


def simulate(source_rgb: np.ndarray, *, size: tuple[int, int], scale: int, n_maps: int,
             psf_sigma: float, counts: tuple[float, float], mix_from: str = "pixel",
             hidden: bool = True, ground: str = "chalk", light: Light | None = None,
             seed: int = 0, palette_size: int = 8) -> PaintingB:
    """Simulate a painting after ``source_rgb`` (uint8, already cropped to the aspect of size).

    ``counts``: (lowest, highest) peak counts; the maps get log-spaced peaks from the highest
    (the map with the most signal) to the lowest.
    """
    from skimage.transform import resize

    h, w = size
    if h % scale or w % scale:
        raise ValueError(f"size {size} is not divisible by scale {scale}")
    streams = [np.random.default_rng(s)
               for s in np.random.SeedSequence([seed, 0xB0B]).spawn(8)]
    r_pal, r_canvas, r_brush, r_under, r_hidden, r_photo, r_noise, _ = streams
    src = resize(source_rgb, (h, w), anti_aliasing=True, preserve_range=True) / 255.0
    src_lin = srgb_to_linear(np.clip(src, 0, 1))
    m = float(min(h, w))

    # -- pigments of the top layer, from the colours --
    palette = choose_palette(src_lin.reshape(-1, 3), r_pal, palette_size)
    mixed_lin = (src_lin if mix_from == "pixel"
                 else gaussian_filter(src_lin, (1.5, 1.5, 0)) if mix_from == "blurred"
                 else None)
    if mixed_lin is None:
        raise ValueError(f"mix_from must be 'pixel' or 'blurred', got {mix_from!r}")
    top_f = unmix(mixed_lin, palette)

    # -- canvas, thickness, lower layer --
    weave = twill(r_canvas, (h, w), period=max(3.0, m / 70))
    brush = brushwork(r_brush, (h, w), length=max(4.0, m / 40))
    glaze = sum(f * (0.35 if p.hiding < 0.5 else 1.0) for f, p in zip(top_f, palette,
                                                                          strict=True))
    t_top = np.clip(0.9 * glaze * (1 + 0.3 * brush) - 0.2 * weave, 0.12, None)
    under_names = sorted({p.under for p in palette} | {"lead white"})
    under_pal = [BY_NAME[n] for n in under_names]
    sub = np.zeros((len(under_pal), len(palette)))
    for j, p in enumerate(palette):
        sub[under_names.index(p.under), j] += 0.55
        sub[under_names.index("lead white"), j] += 0.45
    blur = max(2.0, m / 64)
    dy, dx = (6.0 * _noise(r_under, (h, w), m / 8) for _ in range(2))
    low_f = np.tensordot(sub, gaussian_filter(top_f, (0, blur, blur)), axes=1)
    low_f = displace(low_f, dy, dx)
    t_low = np.clip(0.7 * (1 + 0.2 * _noise(r_under, (h, w), m / 30)), 0.2, None)
    g_conc, g_srgb = GROUNDS[ground]
    t_ground = 2.0 + 0.8 * (1 - weave)

    # -- hidden layer: strokes and a figure that follow no edge of the photo --
    hid_pig = BY_NAME[HIDDEN_PIGMENTS[int(r_hidden.integers(len(HIDDEN_PIGMENTS)))]]
    cover = strokes(r_hidden, (h, w), n=int(r_hidden.integers(5, 10)),
                    width=max(1.5, m / 120), length=m / 3)
    blob = _noise(r_hidden, (h, w), m / 14)
    centre = np.exp(-((np.mgrid[0:h, 0:w][0] - r_hidden.uniform(0.3, 0.7) * h) ** 2
                      + (np.mgrid[0:h, 0:w][1] - r_hidden.uniform(0.3, 0.7) * w) ** 2)
                    / (2 * (0.18 * m) ** 2))
    figure = np.clip((blob + 2.5 * centre - 2.2) * 2.0, 0, 1)
    cover = np.maximum(cover, figure)
    if not hidden:
        cover = np.zeros_like(cover)

    layers = [(t_ground, dict(g_conc))]
    if hidden:
        layers.append((0.5 * cover, dict(hid_pig.elements)))
    layers.append((t_low, _concentrations(low_f, under_pal)))
    layers.append((t_top, _concentrations(top_f, palette)))

    # -- which lines: the strongest present ones --
    shape = (h, w)
    all_lines = [ln for ln in LINES
                 if any(ln.split()[0] in c for _, c in layers)]
    probe = _layer_emission(layers, all_lines, shape)
    order = np.argsort(-probe.reshape(len(all_lines), -1).mean(1), kind="stable")
    chosen = sorted(order[:n_maps])
    elements = tuple(all_lines[i] for i in chosen)
    raw = probe[chosen]

    # -- the photo: ground, lower layer, upper layer (the hidden layer does not show) --
    g_lin = srgb_to_linear(np.array(g_srgb) / 255.0)
    photo = np.broadcast_to(g_lin, (h, w, 3)).copy()
    for fr, pal, t in ((low_f, under_pal, t_low), (top_f, palette, t_top)):
        o, r = _opacity_and_colour(fr, pal, t)
        photo = o[..., None] * r + (1 - o[..., None]) * photo
    if mix_from == "blurred":  # the sharp photo's detail, element-free
        ratio = (src_lin + 0.01) / (gaussian_filter(src_lin, (1.5, 1.5, 0)) + 0.01)
        photo = photo * np.clip(ratio, 0.5, 2.0)
    photo = photo * (1 - 0.04 * (weave - 0.5))[..., None]  # raking light on the canvas relief
    light = light or Light()
    yy, xx = np.mgrid[0:h, 0:w]
    rr = np.hypot((yy - (h - 1) / 2) / (h / 2), (xx - (w - 1) / 2) / (w / 2)) / math.sqrt(2)
    photo = photo * light.exposure * np.asarray(light.cast)[None, None]
    photo = photo * (1 - light.vignette * rr**2)[..., None]
    enc = linear_to_srgb(photo) ** light.gamma
    enc = enc + r_photo.normal(0, 0.8 / 255, enc.shape)
    rgb = (np.clip(enc, 0, 1) * 255 + 0.5).astype(np.uint8)

    # -- counts, scan --
    expected_raw = scan_operator(raw, scale, psf_sigma)
    peak_raw = expected_raw.reshape(len(elements), -1).max(1)
    signal = raw.reshape(len(elements), -1).mean(1)
    rank = np.argsort(np.argsort(-signal, kind="stable"), kind="stable")
    lo, hi = counts
    peaks = hi * (lo / hi) ** (rank / max(1, len(elements) - 1))
    factor = peaks / np.maximum(peak_raw, 1e-30)
    hr = raw * factor[:, None, None]
    expected = expected_raw * factor[:, None, None]
    lr = r_noise.poisson(np.clip(expected, 0, None)).astype(np.float32)

    # -- masks --
    hidden_mask = (cover > 0.5) if hidden else None
    img = gaussian_filter(rgb.astype(np.float64) / 255.0, (0.7, 0.7, 0))
    gy, gx = np.gradient(img, axis=(0, 1))
    photo_edge = np.sqrt(gx**2 + gy**2).max(-1) > 0.04
    ty, tx = np.gradient(hr, axis=(1, 2))
    local = maximum_filter(np.hypot(ty, tx), size=(1, scale + 1, scale + 1))
    ref = np.percentile(hr.reshape(len(elements), -1), 99.9, axis=1)[:, None, None]
    edge_mask = photo_edge[None] & (local < 0.02 * np.maximum(ref, 1e-30))

    info = {
        "generator": "benchmarks.simulator_b.simulate", "seed": seed, "size": [h, w],
        "scale": scale, "operator": "gaussian" if psf_sigma > 0 else "block",
        "psf_sigma": float(psf_sigma), "peak_counts": [round(float(p), 1) for p in peaks],
        "mix_from": mix_from, "palette": [p.name for p in palette],
        "lower_layer": under_names, "hidden_pigment": hid_pig.name if hidden else None,
        "ground": ground, "light": vars(light), "noise": "Poisson",
    }
    return PaintingB(hr.astype(np.float32), lr, expected, rgb, elements, scale,
                     float(psf_sigma), tuple(float(p) for p in peaks), hidden_mask,
                     edge_mask, info)


# ------------------------------------------------------------------------- real maps
def drawing_photo(truth: np.ndarray, rng: np.random.Generator, n_marks: int = 30,
                  light: Light | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A photo of a drawing rendered pixel by pixel from its Fe and Cu maps (Kubelka-Munk).

    Iron-gall ink: K/S proportional to the Fe map (saturating, brown-black); copper
    (verdigris-like stains): K/S proportional to the Cu map (blue-green); titanium shows
    nothing. Paper: warm white with a fibre texture, and ``n_marks`` graphite-pencil
    marks (grey, no element) that no map may copy. Returns ``(rgb uint8, marks mask)``.
    """
    fe = np.clip(truth[0] / max(np.percentile(truth[0], 99.5), 1e-9), 0, 1.5)
    cu = np.clip(truth[1] / max(np.percentile(truth[1], 99.5), 1e-9), 0, 1.5)
    h, w = fe.shape
    paper = srgb_to_linear(np.array([236, 226, 204]) / 255.0)
    ks = k_over_s(paper)[None, None] * (1 + 0.08 * _noise(rng, (h, w), 0.8))[..., None]
    ks = ks + 2.5 * (fe**1.3)[..., None] * np.array([0.9, 1.3, 1.9])
    ks = ks + 0.6 * cu[..., None] * np.array([1.2, 0.3, 0.5])
    marks = strokes(rng, (h, w), n=n_marks, width=1.6, length=min(h, w) / 6)
    ks = ks + 1.2 * marks[..., None] * np.array([1.0, 1.0, 1.05])
    lin = reflectance(ks)
    light = light or Light()
    lin = lin * light.exposure * np.asarray(light.cast)[None, None]
    enc = linear_to_srgb(lin) ** light.gamma + rng.normal(0, 0.8 / 255, lin.shape)
    return (np.clip(enc, 0, 1) * 255 + 0.5).astype(np.uint8), marks > 0.3
