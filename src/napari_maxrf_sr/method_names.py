"""The methods' names as users type them (no imports: the CLI's parser reads it).

The network is ``"network"``: a deep-unfolding (LISTA) network trained on the painting,
with the paper's adversarial fine-tuning as an option (off by default). ``"adun"``, the
paper's name (adversarial deep unfolding), stays accepted everywhere a method is named.
"""

from __future__ import annotations

#: Method key of the network.
NETWORK = "network"
#: Other names accepted for a method: alias -> key.
ALIASES = {"adun": NETWORK}


def canonical_method(name: str) -> str:
    """The method key of ``name`` (an alias becomes its key; other names are kept)."""
    return ALIASES.get(name, name)
