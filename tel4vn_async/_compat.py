"""Every aiohttp internal the SDK touches, in one place, each with a test (tests/test_compat.py).

pyproject caps aiohttp below 4. Should a 3.x release move one of these, each helper
degrades to doing nothing rather than breaking a request, and its test fails loudly.
"""

from __future__ import annotations

import contextlib
from typing import Any

import aiohttp
from aiohttp.payload import Payload

__all__ = [
    "AutoclosePayload",
    "close_connections_now",
    "connecting",
    "request_coroutine",
    "session_middlewares",
]


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


_CONNECT_CODES = frozenset(
    code
    for cls in (aiohttp.BaseConnector, aiohttp.TCPConnector, aiohttp.UnixConnector)
    if (code := getattr(getattr(cls, "connect", None), "__code__", None)) is not None
)
_MAX_AWAIT_CHAIN = 64


def request_coroutine(context: object) -> Any:
    """The coroutine behind ``session.request(...)``'s context manager, or None.

    aiohttp keeps it as ``_coro``: ``connecting`` starts from it, so what awaits the
    request (an async generator, a wrapper, a deep stack) does not matter.
    """
    return getattr(context, "_coro", None)


def connecting(awaitable: Any) -> bool:
    """Whether a request is waiting in a connector's ``connect()``: nothing sent yet.

    ``awaitable`` is the request's coroutine (``request_coroutine``) or a task awaiting
    it. Read from the chain of coroutines it is suspended in (``cr_await``), so only
    worth its cost when a deadline has passed. Where aiohttp's connect is not found
    there, the answer is False: the request may have been sent.
    """
    get_coro = getattr(awaitable, "get_coro", None)
    awaited: Any = get_coro() if get_coro is not None else awaitable
    for _ in range(_MAX_AWAIT_CHAIN):
        if awaited is None:
            return False
        if getattr(awaited, "cr_code", None) in _CONNECT_CODES:
            return True
        awaited = getattr(awaited, "cr_await", None)
    return False


class AutoclosePayload(Payload):
    """A payload that holds nothing open between writes, so aiohttp need not close it.

    aiohttp reads the private ``_autoclose`` flag (through its ``autoclose`` property) to
    decide whether a payload still needs an explicit ``close()`` after the request.
    """

    _autoclose = True
