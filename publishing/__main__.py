"""``python -m publishing``: see :mod:`publishing.cli`."""

import sys

from publishing.cli import main

sys.exit(main())
