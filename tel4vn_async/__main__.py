"""``python -m tel4vn_async``: the ``tel4vn`` command."""

import sys

from .cli import main

sys.exit(main())
