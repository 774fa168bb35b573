"""Every sentence the panel says, in plain words (no Qt).

Messages say what is wrong and what to do. An unexpected error shows one plain
sentence and the path of a log file holding the traceback, never the traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from napari_maxrf_sr.core.control import format_mmss

#: Presets in the order the panel lists them (others the core adds come after).
PRESET_ORDER = ("default", "fast", "paper")

PRESET_HELP = (
    "default: the recommended settings. fast: a quick first look, less detailed. "
    "paper: the paper's step counts, for research (very long on a CPU). The progress "
    "bar shows the time left, measured as the run goes."
)

#: Training seconds below which the network rarely beats plain interpolation.
MIN_USEFUL_BUDGET_S = 30.0

#: Advanced settings: config field -> (label, one-line tooltip).
ADVANCED_FIELDS: dict[str, tuple[str, str]] = {
    "n_layers": ("Network depth (K)", "Unfolded layers of the network; more: slower."),
    "n_atoms": ("Dictionary size (M)", "Building blocks the maps are made of; more: slower."),
    "xrf_only_atoms": ("Element-only share", "Share of the building blocks that only the "
                       "element maps use: a pigment or a hidden layer the photo does not "
                       "show."),
    "rgb_only_atoms": ("Photo-only share", "Share of the building blocks that only the photo "
                       "uses: ink strokes, varnish or colours without an element, so that "
                       "they stay out of the maps. Both shares are 0 by default (every "
                       "block shared); the paper preset uses 0.125 each."),
    "stage1_steps": ("Training steps", "Steps of the main (first) training stage."),
    "stage1_lr": ("Learning rate", "Step size of the main stage; lower it if training "
                  "diverges."),
    "stage1_weight_bound": ("Weight limit", "Largest weight of the main stage: a higher "
                            "limit lets the network follow colours closely; lower it if "
                            "training is unstable. The paper preset uses 1."),
    "alpha1": ("Photo weight (alpha1)", "How strongly the network must also explain the "
               "photo."),
    "photo_range": ("Photo colours", "Use the photo's colours as photographed (default), "
                    "or keep them within those of whole scan pixels, so that strokes thinner "
                    "than a scan pixel (ink, cracks) cannot leak into the maps; on the "
                    "benchmark the two gave the same maps."),
    "calibration_radius": ("Scan check (R)", "Fade the network's detail where the scan "
                           "does not show it (a colour with no element: ink, retouching), "
                           "judged over windows of 2R+1 scan pixels; 0: off (default, as "
                           "in the paper). Try 1 where ink or retouching shows in the maps."),
    "interpolation": ("Start from", "The interpolation of the scan the network starts "
                      "from: bilinear (the paper) or scan-consistent (smooth and already "
                      "agreeing with the scan; choose it when the scan's grid shows as "
                      "blocks in flat areas at full zoom)."),
    "correction": ("Scan-pixel edges", "How the maps are made to agree exactly with the "
                   "scan at the end: evenly over each scan pixel (the paper; the most "
                   "accurate) or smoothly across scan-pixel edges (choose it when the "
                   "scan's grid shows in flat areas at full zoom; slightly less accurate). "
                   "Changes without training again."),
    "down_colours": ("Learn colours from", "How the network learns what the photo's "
                     "colours mean, one scale down: from the photo's own pixels (colours "
                     "as it will meet them, ink strokes included; more accurate) or "
                     "from each scan pixel's mean colour (the paper; better only with "
                     "under a minute of training)."),
    "adversarial": ("Adversarial fine-tuning", "Run the paper's second, adversarial stage: "
                    "a judge learns to tell the maps' fine texture from reference patches "
                    "(Judge's real patches). Off by default: on our benchmark it made the "
                    "maps less accurate and the run longer."),
    "stage2_steps": ("Adversarial steps", "Steps of the adversarial (second) stage."),
    "adversarial_weighting": ("Judge's weight", "How much the judge counts in the second "
                              "stage: the paper's fixed weight alpha2 (default; tiny, it "
                              "hardly moves the maps) or a share of the training signal "
                              "(Adversarial share)."),
    "adversarial_share": ("Adversarial share", "With the judge's weight 'share': the share "
                          "of the second stage's training signal that comes from the judge "
                          "(0.1: a tenth). More gives less accurate maps: with scan windows "
                          "as the judge's real patches, livelier texture; with the paper's "
                          "mix, smoother maps."),
    "pseudo_real": ("Judge's real patches", "What the judge takes as real texture: the "
                    "paper's mix of the interpolated scan and the photo (default), or "
                    "windows of the scan itself, whose texture is an element map's own. "
                    "With the paper's fixed weight it hardly changes the maps."),
    "lr_g": ("Adversarial learning rate", "Step size of the network in the second stage."),
    "lr_d": ("Judge learning rate", "Step size of the judge (discriminator) in the second "
             "stage."),
    "patch_size": ("Patch size (px)", "Side of the square patches of the second stage."),
    "batch_size": ("Patches per step", "Patches in each step of the second stage."),
}

#: Choice settings under Advanced: config field -> {config value: words in the list}.
CHOICE_LABELS: dict[str, dict[str, str]] = {
    "photo_range": {"scan": "clipped to scan", "full": "as photographed"},
    "down_colours": {"pixels": "photo pixels", "mean": "mean colours (paper)"},
    "interpolation": {"bilinear": "bilinear (paper)", "consistent": "scan-consistent"},
    "correction": {"block": "even (paper)", "smooth": "smooth"},
    "adversarial_weighting": {"fixed": "fixed alpha2 (paper)", "share": "share"},
    "pseudo_real": {"paper": "scan + photo mix (paper)", "scan": "scan windows",
                    "matched": "matched mix"},
}


def budget_warning(seconds: float | None) -> str:
    """A warning for a time budget too short to beat interpolation ('' when fine)."""
    if seconds is None or seconds <= 0 or seconds >= MIN_USEFUL_BUDGET_S:
        return ""
    return (f"{seconds:.0f} s of training rarely beats plain interpolation: allow at least "
            "a minute, or set 0 (no limit).")


def error_message(exc: BaseException, log_path: Any = None) -> str:
    """Plain-words explanation of an exception, saying what to do.

    Parameters
    ----------
    exc
        The exception.
    log_path
        Where the traceback of an unexpected error was written (or ``None``).
    """
    from napari_maxrf_sr.core.device import is_out_of_memory
    from napari_maxrf_sr.errors import CheckpointError, InputError, NegativeValuesError

    diverged = _diverged_class()
    if isinstance(exc, NegativeValuesError):
        return (f"{exc} In this panel: tick 'Clip negative values to zero' above, then "
                "press Start again.")
    if isinstance(exc, (InputError, CheckpointError)):
        return str(exc)
    if diverged is not None and isinstance(exc, diverged):
        return (f"Training diverged: {exc} Lower the learning rates under Advanced "
                "(for example divide them by 10), or check the input maps for outliers, "
                "then press Start again.")
    if is_out_of_memory(exc):
        return ("Out of memory. Choose device 'cpu' (slower but with more memory), or "
                "lower the patches per step, patch size or dictionary size under Advanced, "
                "or work on a crop of the painting.")
    if isinstance(exc, ValueError):
        return f"Invalid setting: {exc}"
    where = f" The details are in {log_path}; please send that file with a bug report." \
        if log_path else ""
    return (f"Something unexpected went wrong ({type(exc).__name__}). Your layers are "
            f"unchanged; press Start to try again.{where}")


def is_expected(exc: BaseException) -> bool:
    """Whether an error is one the panel explains (no log file needed)."""
    from napari_maxrf_sr.core.device import is_out_of_memory

    diverged = _diverged_class()
    return isinstance(exc, ValueError) or is_out_of_memory(exc) or (
        diverged is not None and isinstance(exc, diverged))


def _diverged_class() -> type | None:
    try:
        from napari_maxrf_sr.errors import TrainingDiverged
    except ImportError:  # pragma: no cover - torch missing
        return None
    return TrainingDiverged


def stage_words(stage: str) -> str:
    """The training stage in words."""
    return {"prepare": "Starting", "stage 1": "Training", "stage 2": "Adversarial stage",
            "finalise": "Computing the maps", "done": "Done"}.get(stage, stage.capitalize())


def progress_texts(stage: str, step: int, total: int, elapsed: float,
                   eta: float | None, paused: bool = False) -> tuple[str, str]:
    """Short text for the progress bar and a longer line beneath it.

    ``elapsed`` is the wall time since Start (start-up included, pauses excluded);
    ``eta`` the training loop's own estimate of the training time left.
    """
    share = f"{100 * step / total:.0f} %" if total > 0 else ""
    bar = "Paused" if paused else " - ".join(x for x in (stage_words(stage), share) if x)
    left = "" if eta is None else f", about {format_mmss(eta)} left"
    if stage == "finalise":
        left = ", computing the maps"
    line = f"Step {step} of {total}: {format_mmss(elapsed)} since Start{left}"
    return bar, ("Paused. " if paused else "") + line


def quality_warning(check: Any) -> str:
    """What to say when the network did not beat interpolation ('' when it did or unknown)."""
    if check is None or bool(getattr(check, "passed", True)):
        return ""
    gain = getattr(check, "gain_db", None)
    amount = f" ({gain:+.1f} dB)" if isinstance(gain, (int, float)) else ""
    message = str(getattr(check, "message", "") or "")
    return ("Careful: on held-out pixels the network did not beat plain interpolation"
            f"{amount}. {message}").strip()


def comparison_sentence(rows: Sequence[Any]) -> str:
    """One sentence over the metrics table: how often the network beat bicubic."""
    from napari_maxrf_sr.metrics import mean_gain_db

    if not rows:
        return ""
    better = sum(1 for r in rows if r.gain_db > 0)
    gain = mean_gain_db(rows)
    return (f"Against the ground truth the network beats bicubic interpolation on {better} "
            f"of {len(rows)} maps ({gain:+.1f} dB on average; higher PSNR and SSIM are "
            "better).")


def done_text(n_maps: int, label: str, stopped_early: bool) -> str:
    """Status line of a finished run."""
    early = " (stopped early)" if stopped_early else ""
    return (f"Done{early}: {n_maps} '{label}' maps were added, one element shown at a time: "
            "step through them with the arrows of the Show row at the top, tick 'beside the "
            "photo' to see photo, scan and result side by side, or press Compare.")
