"""``python -m skprune``: the ``skprune`` command line."""

import sys

from .cli import main

sys.exit(main())
