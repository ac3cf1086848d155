"""``python -m omnimsg_sim`` is the ``omnimsg-sim`` command."""

import sys

from .cli import main

sys.exit(main())
