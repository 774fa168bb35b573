"""The fixed set of benchmark cases (built at run time from ``../shared/data``; never stored)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from napari_maxrf_sr.core.operators import block_mean_np

#: Where the shared data live (override with MAXRF_SR_DATA).
DATA = Path(os.environ.get("MAXRF_SR_DATA", Path(__file__).resolve().parents[2] / "shared"
                           / "data"))

#: (photo file stem, number of maps): six paintings, B in {7, 9, 21} as in the paper.
PAINTINGS = [
    ("vermeer_the_milkmaid", 21),
    ("van_gogh_self_portrait_1887", 9),
    ("fra_angelico_madonna_of_humility", 7),
    ("turner_the_wreck_of_a_transport_ship", 21),
    ("hokusai_the_great_wave_off_kanagawa", 9),
    ("munch_the_scream", 7),
]


@dataclass
class Case:
    """One benchmark case with known truth."""

    name: str
    lr_maps: np.ndarray
    rgb: np.ndarray  # uint8 (H, W, 3)
    hr_maps: np.ndarray
    scale: int
    elements: tuple[str, ...]
    hidden_mask: np.ndarray | None
    edge_mask: np.ndarray  # (B, H, W)


def _read_photo(stem: str) -> np.ndarray:
    import imageio.v3 as iio

    return np.asarray(iio.imread(DATA / "paintings" / f"{stem}.jpg"))[..., :3]


def _centre_square(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    n = min(h, w)
    r, c = (h - n) // 2, (w - n) // 2
    return img[r : r + n, c : c + n]


def painting_case(stem: str, n_maps: int, size: int = 512, scale: int = 4, seed: int = 0,
                  cluster_blur: float = 1.0) -> Case:
    """A synthetic painting made from a real photo (pigments by colour clustering).

    ``cluster_blur``: the simulator's blur of the colours before clustering (HR pixels);
    0 makes the true maps a function of each pixel's own colour (docs/benchmarks.md).
    """
    from skimage.transform import resize

    from napari_maxrf_sr.simulate import make_synthetic_painting

    photo = _centre_square(_read_photo(stem))
    photo = (resize(photo, (size, size), anti_aliasing=True) * 255).round().astype(np.uint8)
    p = make_synthetic_painting(photo, size=(size, size), scale=scale, n_elements=n_maps,
                                seed=seed, cluster_blur=cluster_blur)
    return Case(f"{stem.split('_')[0]}-{stem.split('_')[-1]} B={n_maps} x{scale}", p.lr_maps,
                p.rgb, p.hr_maps, scale, p.elements, p.hidden_mask, p.photo_edge_mask)


def rijksmuseum_case(size: int = 512, scale: int = 4, seed: int = 0, ink: bool = True) -> Case:
    """Real Fe/Cu/Ti maps of a drawing as truth, a rendered photo, and element-free ink strokes.

    The photo is paper tone darkened by iron-gall ink (Fe, brown) and copper
    stains (Cu, green); titanium (a trace) is invisible. Carbon-ink strokes are
    drawn into the photo only: edges that no element map may copy. ``ink=False``
    gives the same case (same scan, same mask) with the strokes left out of the photo,
    to measure what they change in an answer (``benchmarks.ink_effect``).
    """
    import imageio.v3 as iio
    from skimage.draw import line_aa

    folder = DATA / "maxrf4u_rijksmuseum_drawing_element_maps"
    maps = []
    for el in ("Fe", "Cu", "Ti"):
        m = iio.imread(folder / f"RP-T-1898-A-3689_{el}_gray8.png").astype(np.float32)
        h, w = m.shape
        r0, c0 = (h - 2 * size) // 2, (w - 2 * size) // 2
        m = m[r0 : r0 + 2 * size, c0 : c0 + 2 * size]
        maps.append(m.reshape(size, 2, size, 2).mean(axis=(1, 3)))  # 2x2 binning: less noise
    truth = np.stack(maps) * (200.0 / 255.0)
    rng = np.random.default_rng(seed)
    paper = np.array([0.93, 0.88, 0.78])
    fe, cu = truth[0] / truth[0].max(), truth[1] / truth[1].max()
    rgb = paper[None, None] * (1 - 0.6 * fe[..., None] * np.array([0.55, 0.7, 0.9]))
    rgb *= 1 - 0.3 * cu[..., None] * np.array([0.8, 0.2, 0.6])
    strokes = np.zeros((size, size))
    for _ in range(40):  # drawn either way, so that the scan's noise is the same
        r0, c0, r1, c1 = rng.integers(0, size, 4)
        rr, cc, val = line_aa(r0, c0, r0 + (r1 - r0) // 4, c0 + (c1 - c0) // 4)
        strokes[rr, cc] = np.maximum(strokes[rr, cc], val)
    if ink:
        rgb *= 1 - 0.7 * strokes[..., None]
    rgb8 = (np.clip(rgb, 0, 1) * 255).round().astype(np.uint8)
    lr = block_mean_np(truth, scale)
    lr = rng.poisson(np.maximum(lr, 0)).astype(np.float32)
    edge = (strokes > 0.3)[None] & np.ones((3, 1, 1), bool)
    return Case(f"rijksmuseum-drawing B=3 x{scale}", lr, rgb8, truth.astype(np.float32), scale,
                ("Fe K", "Cu K", "Ti K"), None, edge)


def all_cases(quick: bool = False, cluster_blur: float = 1.0) -> list[Case]:
    """The benchmark set; ``quick`` keeps two paintings at 256 px (for development).

    ``cluster_blur`` is passed to the painting cases (:func:`painting_case`).
    """
    if not (DATA / "paintings").is_dir():
        raise SystemExit(f"benchmark data not found in {DATA} (set MAXRF_SR_DATA)")
    blur = {"cluster_blur": cluster_blur}
    if quick:
        return [painting_case("vermeer_the_milkmaid", 9, size=256, **blur),
                painting_case("munch_the_scream", 7, size=256, **blur)]
    cases = [painting_case(stem, b, **blur) for stem, b in PAINTINGS]
    cases.append(rijksmuseum_case())
    cases.append(painting_case("vermeer_the_milkmaid", 9, scale=2, **blur))
    cases.append(painting_case("vermeer_the_milkmaid", 9, scale=8, **blur))
    return cases
