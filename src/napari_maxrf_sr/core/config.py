"""One configuration object holding every setting of the method, with named presets.

Field names follow ``METHOD.md``; choices the paper does not make are marked
*(ours)* in the field docs. :meth:`SRConfig.from_dict` validates types and
ranges, because configs also arrive from files that someone else wrote.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

#: Help texts for the GUI tooltips and ``--help``; one plain sentence each.
FIELD_HELP: dict[str, str] = {}


def _f(default: Any, help: str, **kw: Any) -> Any:
    """A dataclass field that also records its help text."""
    return field(default=default, metadata={"help": help, **kw})


@dataclass
class SRConfig:
    """Settings of the adversarial deep-unfolding super-resolution.

    See ``METHOD.md`` for the equations. Every field has a help text in
    :data:`FIELD_HELP`.
    """

    # -- network -----------------------------------------------------------------------
    n_layers: int = _f(5, "K: number of unfolded LISTA layers.", min=1, max=50)
    n_atoms: int = _f(64, "M: number of dictionary atoms (rows of the sparse code A).", min=2,
                      max=1024)
    xrf_only_atoms: float = _f(
        0.0, "Share of the atoms that belong to the element maps only (an element the photo "
        "does not show), as in the paper's coupled D (paper preset 0.125; 0 by default: it "
        "failed the rule for defaults, docs/method.md).", min=0.0, max=0.5)
    rgb_only_atoms: float = _f(
        0.0, "Share of the atoms that belong to the photo only (a colour with no element, ink "
        "strokes, varnish), as in the paper's coupled D (paper preset 0.125).",
        min=0.0, max=0.5)
    interpolation: Literal["bilinear", "consistent"] = _f(
        "bilinear",
        "Scan interpolation the network starts from: 'bilinear' (the paper) or "
        "'consistent' (ours: smooth and already agreeing with the scan, so the final "
        "projection adds smaller steps at scan-pixel edges; choose it when the scan's "
        "grid shows in flat areas at full zoom). The benchmark reference compares them "
        "(docs/benchmarks.md).",
        choices=("bilinear", "consistent"),
    )
    linear_path: bool = _f(
        False,
        "Add a learned linear function of the input to the XRF output, fitted by least "
        "squares on the one-scale-down problem before training: the network starts from "
        "the best per-pixel linear prediction (ours).",
    )
    residual: bool = _f(
        False,
        "The network adds a correction to the interpolated scan instead of rebuilding the "
        "maps from its dictionary alone (a path around the interpolation) (ours).",
    )
    # -- acquisition model (ours) ------------------------------------------------------------
    operator: Literal["block", "gaussian"] = _f(
        "block",
        "How a scan pixel integrates the painting: 'block' (mean over its s x s block) or "
        "'gaussian' (a beam spot wider than the step, then the block mean).",
        choices=("block", "gaussian"),
    )
    psf_sigma: float = _f(
        0.0, "Beam spot standard deviation in photo pixels (operator 'gaussian').", min=0.0,
        max=64.0,
    )
    calibration_radius: int = _f(
        0,
        "Local calibration against the scan, before the projection: in windows of "
        "(2R+1) x (2R+1) scan pixels the network's detail is kept where the scan shows it "
        "and faded where it does not (a colour with no element: ink strokes, retouching). "
        "R in scan pixels; 0: off, as in the paper (the default: R = 1 failed the rule for "
        "defaults, docs/method.md). Try 1 when photo detail without an element (ink, "
        "retouching) shows in the maps: it lowers false detail (ours).",
        min=0, max=8,
    )
    correction: Literal["block", "smooth"] = _f(
        "block",
        "How the maps are made to agree exactly with the scan at the end (block operator): "
        "'block' (the paper's projection: each scan pixel's remaining difference added "
        "evenly over its block; the most accurate, but a noisy scan's grid can show in flat "
        "areas at full zoom) or 'smooth' (ours: the difference spread smoothly across "
        "scan-pixel edges first; no grid, slightly less accurate). Applied when the maps "
        "are computed: a trained network gives either.",
        choices=("block", "smooth"),
    )
    # -- normalisation (ours) -------------------------------------------------------------
    zero_level: float = _f(0.1, "Normalised value of zero counts (ours).", min=0.0, max=0.5)
    peak_level: float = _f(
        0.5,
        "Normalised value of each map's brightest scan pixel; below 1 to leave headroom for "
        "fine detail brighter than any scan pixel (ours).",
        min=0.05,
        max=1.0,
    )
    photo_normalisation: Literal["whitened", "fixed"] = _f(
        "fixed",
        "'fixed' (the paper's): black and white to rgb_low and rgb_high; 'whitened' (ours): "
        "colours decorrelated to a common spread, less false detail on drawings but it "
        "failed the rule for defaults (docs/method.md).",
        choices=("whitened", "fixed"),
    )
    photo_range: Literal["scan", "full"] = _f(
        "full",
        "'full' (the paper's): the photo as it is; 'scan' (ours): photo colours beyond the "
        "range of the photo averaged over scan pixels are clipped to it; it failed the rule "
        "for defaults (docs/method.md).",
        choices=("scan", "full"),
    )
    rgb_low: float = _f(0.1, "Normalised value of black in the photo (ours).", min=0.0, max=0.5)
    rgb_high: float = _f(0.9, "Normalised value of white in the photo (ours).", min=0.5, max=1.0)
    # -- loss ----------------------------------------------------------------------------
    alpha1: float = _f(
        0.003, "alpha1: weight of the photo-reconstruction term MSE(Z, Z_hat).", min=0.0
    )
    alpha2: float = _f(
        0.5e-6, "alpha2: weight of the adversarial term (stage 2) when the weighting is "
        "'fixed' (the paper's value).", min=0.0)
    adversarial_weighting: Literal["share", "fixed"] = _f(
        "fixed",
        "'fixed' (the paper's): alpha2 times the adversarial loss; 'share' (ours): the "
        "adversarial term gets a fixed share of the generator's gradient "
        "(adversarial_share), whatever the losses' scales.",
        choices=("share", "fixed"),
    )
    adversarial_share: float = _f(
        0.1, "Share of the generator's gradient (on its output) that comes from the "
        "adversarial term in stage 2 (weighting 'share').", min=0.0, max=0.9)
    # -- initialisation (ours) ---------------------------------------------------------------
    init: Literal["ista", "random"] = _f(
        "random",
        "Start the layers from ISTA with a dictionary learned from the data by "
        "non-negative matrix factorisation ('ista'), or from small random weights ('random').",
        choices=("ista", "random"),
    )
    # -- stage 1: self-supervised pretraining --------------------------------------------
    stage1_steps: int = _f(12000, "Stage 1 (pretraining) iterations.", min=0)
    stage1_lr: float = _f(
        1e-2, "Stage 1 Adam learning rate (ours: the paper only says Adam).", min=0.0
    )
    stage1_batch_pixels: int = _f(
        2048,
        "Stage 1 pixels per batch (the generator is per-pixel, so batches are pixels).",
        min=16,
        max=1 << 18,
    )
    stage1_weight_bound: float = _f(
        4.0, "Stage 1 keeps every weight in [-bound, bound] (paper: 1, 'below one'; ours: 4, "
        "which lets the first layer respond more steeply to colour; lower it if training "
        "is unstable).", min=0.0
    )
    stage1_final_sigmoid: bool = _f(
        False, "Use the final sigmoid already in stage 1 (paper: no; ours: option)."
    )
    stage2_final_sigmoid: bool = _f(
        True, "Stage 2 and the result use the final sigmoid (the paper); not used with "
        "a residual output.")
    handover_fraction: float = _f(
        0.0, "Share of stage 2 over which the final sigmoid fades in, so the maps do "
        "not jump at the hand-over (ours); 0: on at once (the paper).", min=0.0, max=1.0)
    down_weight: float = _f(
        1.0,
        "Weight of the one-scale-down copy of the problem (where the answer is known) in "
        "stage 1.",
        min=0.0,
    )
    down_colours: Literal["pixels", "mean"] = _f(
        "pixels",
        "How the one-scale-down copy sees the photo: 'pixels': the photo's own pixels of "
        "each scan pixel, their answers averaged before they meet the scan, so the "
        "network learns from the unmixed colours it is applied to (ours; block operator "
        "only); 'mean': each scan pixel's mean colour (the paper; the network then learns "
        "from mixtures of colours, and learns faster at first: choose it for runs of "
        "under a minute).",
        choices=("pixels", "mean"),
    )
    consistency_weight: float = _f(
        1.0, "Weight of MSE(Y_lr, Y_hat U), agreement with the scan.", min=0.0
    )
    # -- stage 2: adversarial --------------------------------------------------------------
    adversarial: bool = _f(
        False, "Run stage 2 (adversarial fine-tuning, the paper). Off by default because "
        "on the benchmark it made the maps less accurate and the run longer "
        "(docs/benchmarks.md); the paper preset runs it.")
    stage2_steps: int = _f(200, "Stage 2 (adversarial) iterations.", min=0)
    patch_size: int = _f(32, "Stage 2 patch size in photo pixels.", min=4, max=512)
    batch_size: int = _f(32, "Stage 2 patches per batch.", min=1, max=1024)
    lr_g: float = _f(3e-4, "Stage 2 Adam learning rate of the generator.", min=0.0)
    lr_d: float = _f(
        3e-6, "Stage 2 Adam learning rate of the discriminator (the paper's).", min=0.0)
    flips: bool = _f(True, "Random horizontal/vertical flips of stage 2 patches.")
    beta_max: float = _f(
        0.9, "Pseudo-real patches mix beta * XRF + (1 - beta) * photo, beta ~ U(0, beta_max).",
        min=0.0, max=1.0,
    )
    pseudo_real: Literal["scan", "matched", "paper"] = _f(
        "paper",
        "What the discriminator takes as real. 'paper': the paper's mixture of "
        "interpolated scan and photo; 'scan': windows of the scan itself, one scan pixel "
        "per photo pixel (element maps look alike one scale apart), so the adversarial "
        "term pulls towards an element map's texture (ours; with adversarial_weighting "
        "'share' it gives livelier texture); 'matched': the paper's mixture brought to "
        "the map's level and contrast and to the scan (ours).",
        choices=("scan", "matched", "paper"),
    )
    stage2_down_weight: float = _f(
        0.0,
        "Weight of the one-scale-down copy in stage 2 (paper: stage 1 only, 0) (ours).",
        min=0.0,
    )
    abs_correlation_guide: bool = _f(
        False,
        "Pick the photo channel with the largest |correlation| for pseudo-real patches and "
        "invert it when the correlation is negative (paper: largest correlation) (ours).",
    )
    # -- schedule and stopping (ours) ----------------------------------------------------------
    lr_schedule: Literal["cosine", "constant"] = _f(
        "cosine", "Learning-rate schedule within each stage.", choices=("cosine", "constant")
    )
    stage1_time_share: float = _f(
        0.7, "Share of a time budget given to stage 1 when both stages run.", min=0.0, max=1.0
    )
    plateau_patience: int = _f(
        0, "Stop stage 1 after this many checks without improvement (0: never).", min=0
    )
    check_every: int = _f(100, "Steps between held-out loss checks in stage 1.", min=1)
    validation_fraction: float = _f(
        0.05, "Share of the down-scaled pixels held out to check stage 1 (ours).",
        min=0.0, max=0.5,
    )
    max_seconds: float | None = _f(
        None, "Time budget in seconds for the whole training (None: run all steps).", min=0.0
    )
    seed: int = _f(0, "Random seed: the same seed, data and settings give the same maps.",
                   max=2**63 - 1)
    device: str = _f(
        "auto", "'auto' (CUDA, then Apple MPS, then CPU), 'cpu', 'cuda', 'cuda:1' or 'mps'."
    )
    cpu_threads: int = _f(
        0, "CPU threads for training (0: chosen from the cores free at the start).",
        min=0, max=1024)
    tile_pixels: int = _f(
        1 << 17, "Inference tile size in output pixels (bounds memory, hardly speed).",
        min=1024, max=1 << 24,
    )

    # ------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, strict: bool = True) -> SRConfig:
        """Build a config from a dict, checking names, types and ranges.

        Parameters
        ----------
        data
            Field values; missing fields keep their defaults.
        strict
            Refuse unknown field names (a typo must not be silently ignored).

        Raises
        ------
        ValueError
            With a message naming the offending field.
        """
        if not isinstance(data, dict):
            raise ValueError(f"a configuration must be a mapping, got {type(data).__name__}")
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown and strict:
            raise ValueError(
                f"unknown setting(s): {', '.join(unknown)}. Known settings: "
                f"{', '.join(sorted(known))}"
            )
        hints = typing.get_type_hints(cls)
        values = {}
        for name, value in data.items():
            if name in known:
                values[name] = _check_value(name, value, hints[name], known[name].metadata)
        return cls(**values)

    def atom_split(self) -> tuple[int, int]:
        """``(XRF-only, photo-only)`` atom counts; at least one atom stays common."""
        xrf = int(round(self.xrf_only_atoms * self.n_atoms))
        rgb = int(round(self.rgb_only_atoms * self.n_atoms))
        return min(xrf, self.n_atoms - 1), min(rgb, max(0, self.n_atoms - 1 - xrf))

    def replace(self, **changes: Any) -> SRConfig:
        """A copy with some fields changed (validated like :meth:`from_dict`)."""
        return SRConfig.from_dict({**self.to_dict(), **changes})

    def validate(self) -> SRConfig:
        """Re-check every field; returns self for chaining."""
        SRConfig.from_dict(self.to_dict())
        return self


def _check_value(name: str, value: Any, hint: Any, meta: typing.Mapping[str, Any]) -> Any:
    """Coerce and range-check one field value; raise ValueError naming the field."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        if value is None:
            return None
        hint = next(a for a in args if a is not type(None))
        origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Literal:
        if value not in args:
            raise ValueError(f"{name} must be one of {', '.join(map(repr, args))}, got {value!r}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
            raise ValueError(f"{name} must be a whole number, got {value!r}")
        value = int(value)
    elif hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{name} must be a number, got {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"{name} must be finite, got {value!r}")
    elif hint is str:
        if not isinstance(value, str) or len(value) > 64:
            raise ValueError(f"{name} must be a short text, got {value!r}")
        return value
    if "min" in meta and value < meta["min"]:
        raise ValueError(f"{name} must be at least {meta['min']}, got {value!r}")
    if "max" in meta and value > meta["max"]:
        raise ValueError(f"{name} must be at most {meta['max']}, got {value!r}")
    return value


FIELD_HELP.update({f.name: f.metadata["help"] for f in dataclasses.fields(SRConfig)})

#: Settings that act only when a trained network is applied: a saved model may be applied
#: with other values (``maxrf-sr apply --set``) without training again.
INFERENCE_SETTINGS = ("calibration_radius", "correction", "tile_pixels")

#: Named presets. ``default`` is tuned for a good result in one to two minutes on a laptop
#: CPU; ``paper`` keeps the paper's iteration counts (days on a CPU, hours on a GPU)
#: and its design choices; ``fast`` is for tests and the first-run demo.
PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    "paper": {
        "xrf_only_atoms": 0.125,  # the paper's coupled D; the share is ours (not stated)
        "rgb_only_atoms": 0.125,
        "adversarial": True,
        "stage1_steps": 100_000,
        "stage2_steps": 2_000_000,
        "stage1_lr": 1e-3,
        "lr_schedule": "constant",
        "init": "random",
        "stage2_down_weight": 0.0,
        "abs_correlation_guide": False,
        "plateau_patience": 0,
        "interpolation": "bilinear",
        "residual": False,
        "linear_path": False,
        "photo_normalisation": "fixed",
        "photo_range": "full",
        "stage1_weight_bound": 1.0,
        "adversarial_weighting": "fixed",
        "lr_d": 3e-6,
        "pseudo_real": "paper",
        "down_colours": "mean",
        "calibration_radius": 0,
    },
    "fast": {
        "n_atoms": 32,
        "stage1_steps": 300,
        "stage1_batch_pixels": 4096,
        "stage2_steps": 30,
        "batch_size": 8,
        "check_every": 50,
    },
}


def config_from_preset(name: str = "default", **overrides: Any) -> SRConfig:
    """The config of a named preset (see :data:`PRESETS`), with optional overrides."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return SRConfig.from_dict({**PRESETS[name], **overrides})
