"""The ``tel4vn`` command (also ``python -m tel4vn_async``).

``main`` is importable without click, so that the console script can say what is missing
instead of failing on an import: the click group lives in ``_app`` and is imported only
once click is known to be there. One module per command family:

- ``_app``: the group, the global options and the one error handler (exit codes);
- ``_common``: settings, clients, records as dicts, the progress bar;
- ``_export``: ``cdrs export``, ``reports export``, ``customers export``;
- ``_bulk``: ``bulk otp``, ``bulk tts``;
- ``_scale``: ``worker``, ``bulk otp|tts --redis``, ``bulk status`` (the ``redis`` extra);
- ``_calls``: ``otp``, ``tts``;
- ``_events``: ``events list|subscribe|unsubscribe``, ``webhook serve``;
- ``_demo``, ``_sandbox``: ``demo`` and ``sandbox``.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence

__all__ = ["MISSING_CLICK", "main"]

MISSING_CLICK = "the tel4vn command needs the cli extra: pip install 'tel4vn-async[cli]'"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``tel4vn`` command line and return its exit code.

    Args:
        argv: the arguments (without the program name); ``sys.argv[1:]`` when None.

    Returns:
        0 success, 1 an API or transport error, 2 a usage error, 3 some bulk jobs failed
        or are unknown (130 on Ctrl-C).
    """
    if importlib.util.find_spec("click") is None:
        print(MISSING_CLICK, file=sys.stderr)
        return 2
    from ._app import run

    return run(sys.argv[1:] if argv is None else list(argv))
