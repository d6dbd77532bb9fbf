"""``python -m informer_mirror``: the same as the ``informer-mirror`` console script."""

import sys

from informer_mirror.cli import main

sys.exit(main())
