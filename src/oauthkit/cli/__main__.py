"""``python -m oauthkit.cli``."""

import sys

from . import main

sys.exit(main())
