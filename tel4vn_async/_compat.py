"""Every aiohttp internal the SDK touches, in one place, each with a test (tests/test_compat.py).

pyproject caps aiohttp below 4. Should a 3.x release move one of these, each helper
degrades to doing nothing rather than breaking a request, and its test fails loudly.
"""

from __future__ import annotations

import contextlib
from typing import Any

import aiohttp
from aiohttp.payload import Payload

__all__ = ["AutoclosePayload", "close_connections_now", "session_middlewares"]


def close_connections_now(session: aiohttp.ClientSession) -> None:
    """Close a session's pooled connections synchronously, with no event loop needed.

    For a client dropped without ``close()``: ``ClientSession.close()`` is a coroutine
    nobody can await from a finalizer, and an unclosed session warns when collected.
    The connector's private ``_close()`` does the same work synchronously.
    """
    close = getattr(session.connector, "_close", None)
    if close is not None:
        with contextlib.suppress(Exception):  # the loop may be gone: best effort
            close()


def session_middlewares(session: aiohttp.ClientSession) -> tuple[Any, ...]:
    """The client middlewares a caller's session was built with (aiohttp keeps them private).

    Passing ``middlewares=`` to one request replaces the session's, so the SDK adds its
    own to these rather than dropping the caller's.
    """
    return tuple(getattr(session, "_middlewares", None) or ())


class AutoclosePayload(Payload):
    """A payload that holds nothing open between writes, so aiohttp need not close it.

    aiohttp reads the private ``_autoclose`` flag (through its ``autoclose`` property) to
    decide whether a payload still needs an explicit ``close()`` after the request.
    """

    _autoclose = True
