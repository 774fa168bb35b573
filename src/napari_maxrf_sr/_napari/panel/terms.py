"""Loss terms of the training loop, named in plain words for the training plot (no Qt).

The core may rename a term or add new ones: a name that is not in
:data:`PLAIN_TERMS` is shown under its own name, behind the plot's "expert" switch,
and never breaks the plot.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Term:
    """How one loss term is drawn.

    Attributes
    ----------
    key
        The name the training loop uses.
    label
        What the legend says.
    expert
        Drawn only when the expert switch is on.
    colour
        Line colour (``None``: matplotlib's next colour).
    tip
        One sentence for the plot's tooltip.
    """

    key: str
    label: str
    expert: bool
    colour: str | None = None
    tip: str = ""


#: The three series a conservator reads; each falls as training works.
PLAIN_TERMS: dict[str, Term] = {
    "consistency": Term("consistency", "Fit to the scan", False, "#4fc3f7",
                        "How far the result, averaged over each scan pixel, is from the scan."),
    "rgb": Term("rgb", "Explains the photo", False, "#ffb74d",
                "How well the network rebuilds the photo from what it learned."),
    "validation": Term("validation", "Held-out check", False, "#81c784",
                       "Error on held-out pixels of a smaller copy whose answer is known: "
                       "the check with a known answer."),
}

#: Known terms shown only with the expert switch.
EXPERT_TERMS: dict[str, Term] = {
    "total": Term("total", "Total (weighted sum)", True, "#e0e0e0"),
    "down_xrf": Term("down_xrf", "Smaller copy: maps", True),
    "down_rgb": Term("down_rgb", "Smaller copy: photo", True),
    "adv_g": Term("adv_g", "Adversarial: generator", True),
    "d_fake": Term("d_fake", "Adversarial: judge on results", True),
    "d_real": Term("d_real", "Adversarial: judge on references", True),
}


def describe(key: str) -> Term:
    """The :class:`Term` for a loss name; unknown names are expert terms named as they are."""
    key = str(key)
    return PLAIN_TERMS.get(key) or EXPERT_TERMS.get(key) or Term(key, key, True)
