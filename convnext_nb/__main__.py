"""`python -m convnext_nb ...`: see convnext_nb/cli.py."""

import sys

from .cli import main

sys.exit(main())
