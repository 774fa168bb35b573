"""The method of METHOD.md: operators, network, losses, training and inference (no Qt)."""
