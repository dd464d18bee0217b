"""``python -m oauthkit``: the ``oauthkit`` command (extra ``cli``)."""

import sys

from .cli import main

sys.exit(main())
