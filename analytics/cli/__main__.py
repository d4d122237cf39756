"""``python -m analytics.cli``: the same commands as ``crowdlens``."""

import sys

from analytics.cli import main

sys.exit(main())
