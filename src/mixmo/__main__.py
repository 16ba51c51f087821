"""`python -m mixmo ...`: the same as the `mixmo` command."""

import sys

from mixmo.app.cli import main

sys.exit(main())
