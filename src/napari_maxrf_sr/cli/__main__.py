"""``python -m napari_maxrf_sr.cli``: the same as ``maxrf-sr``."""

import sys

from . import main

sys.exit(main())
