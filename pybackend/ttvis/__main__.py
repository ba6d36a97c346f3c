"""``python -m ttvis``: the ``ttvis`` command line (see :mod:`ttvis.cli`)."""

import sys

from ttvis.cli import main

sys.exit(main())
