"""The I/O seam: a transport sends one attempt of one request and returns what came back.

Everything above it (tokens, retries, decoding, error mapping) is the client's; a
transport only moves bytes. ``AiohttpTransport`` is the default; anything with the same
two methods can be passed as ``transport=`` (for tests, another HTTP stack, a proxy).
"""

from __future__ import annotations

import asyncio
import errno
import functools
import inspect
import logging
import math
import os
import sys
import urllib.request
import weakref
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

import aiohttp
import attrs

from ._codec import dumps
from ._compat import close_connections_now, connecting, request_coroutine, session_middlewares
from ._sansio import Request
from .errors import ClientClosedError, ConfigurationError, ConnectError, TransportError

__all__ = ["AiohttpTransport", "Response", "Transport"]

_log = logging.getLogger("tel4vn_async")

# Methods aiohttp re-sends by itself when a kept-alive connection drops (RFC 9112 9.3.1).
# The pool a ClientSession() gets when given no connector (aiohttp's documented default).
_AIOHTTP_POOL: int = inspect.signature(aiohttp.TCPConnector).parameters["limit"].default
_AIOHTTP_RESENDS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})


@attrs.frozen(slots=True)
class Response:
    """What one attempt got back: the status, the headers and the whole body."""

    status: int
    headers: Mapping[str, str]
    body: bytes


@runtime_checkable
class Transport(Protocol):
    """Sends one attempt of a request; knows nothing of tokens, retries or the API.

    ``send`` raises ``ConnectError`` when the request provably never left (no
    connection), ``TransportError`` (no status) when it failed after it may have been
    sent (a timeout, a dropped connection), and ``ClientClosedError`` once closed.
    """

    async def send(
        self, request: Request, *, url: str, headers: Mapping[str, str], timeout: float
    ) -> Response:
        """Send ``request`` to ``url`` once, within ``timeout`` seconds (or ``request.timeout``).

        The time runs from connecting (waiting for a pooled connection included) to the
        answer's last byte.
        """

    async def aclose(self) -> None:
        """Release the connections; idempotent."""


class _ResponseLost(aiohttp.ClientError):
    """The connection failed after the request went out; a type aiohttp does not re-send."""


async def _no_resend(
    request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
) -> aiohttp.ClientResponse:
    # aiohttp silently re-sends a GET once when its kept-alive connection drops. A
    # click-to-call is a GET: for those, the drop is re-raised as a type aiohttp won't retry.
    # Passed with such requests only (``send``): any other goes without a middleware layer.
    try:
        return await handler(request)
    except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError):
        raise
    except (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError) as exc:
        raise _ResponseLost(_reason(exc)) from exc


@functools.lru_cache(maxsize=16, typed=True)
def _client_timeout(connect: float, sock_read: float | None = None) -> aiohttp.ClientTimeout:
    # Immutable, so one object serves every request with these numbers (building one is
    # an attrs __init__, on every request otherwise).
    return aiohttp.ClientTimeout(total=None, connect=connect, sock_read=sock_read)


class _Deadlines:
    """The deadline of every request in flight on one loop, kept by one loop timer.

    aiohttp's own read timeout arms and cancels a loop timer on every read: about a tenth
    of a small request's CPU. Here a request costs a dict entry. The timer is armed for
    the earliest deadline; when it fires, it cancels each task whose deadline has passed,
    remembering that it did (``disarm`` says so: ``send`` then reports a timeout, not a
    cancellation), and re-arms for the next deadline. A task still waiting for its
    connection is left to aiohttp's connect timeout, which reports what is true then:
    nothing was sent.
    """

    __slots__ = ("_at", "_due", "_expired", "_loop", "_timer")

    _SLACK = 0.001
    """A deadline this close is due: a loop timer may fire a hair early."""
    _CONNECTING = 0.25
    """Seconds before a due task still connecting is looked at again."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._due: dict[asyncio.Task[Any], tuple[float, Any]] = {}
        """Each task's deadline, and the request it awaits (what ``connecting`` reads)."""
        self._expired: set[asyncio.Task[Any]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._at = math.inf

    def arm(self, task: asyncio.Task[Any], seconds: float, request: Any) -> None:
        """Cancel ``task`` in ``seconds`` unless ``disarm`` is called first.

        ``request``: the coroutine of the request it awaits (None: look from the task).
        """
        when = self._loop.time() + seconds
        self._due[task] = (when, request)
        if when < self._at:
            self._schedule(when)

    def disarm(self, task: asyncio.Task[Any]) -> bool:
        """Forget ``task``'s deadline; whether it had passed (the task was cancelled)."""
        self._due.pop(task, None)
        if task in self._expired:
            self._expired.discard(task)
            return True
        return False

    def close(self) -> None:
        """Stop the timer, unless a request is still in flight (on a session not ours)."""
        if self._timer is not None and not self._due:
            self._timer.cancel()
            self._timer, self._at = None, math.inf

    def _schedule(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._at = when
        self._timer = self._loop.call_at(when, self._fire)

    def _fire(self) -> None:
        self._timer, self._at = None, math.inf
        now = self._loop.time()
        earliest = math.inf
        for task, (when, request) in list(self._due.items()):
            if when <= now + self._SLACK:
                if connecting(task if request is None else request):
                    # Nothing sent yet: aiohttp's connect timeout says so (a ConnectError,
                    # safe to retry); cancelled here, it would read "may have been sent".
                    when = now + self._CONNECTING
                    self._due[task] = (when, request)
                else:
                    del self._due[task]
                    self._expired.add(task)
                    task.cancel()
                    continue
            earliest = min(earliest, when)
        if earliest < math.inf:
            self._schedule(earliest)


def _timed_out(task: asyncio.Task[Any], cancelling: int) -> bool:
    """After the deadline cancelled ``task``: whether nobody else cancelled it too."""
    if sys.version_info >= (3, 11):
        # As asyncio.timeout does: take back the deadline's cancel; more left is another's.
        return task.uncancel() <= cancelling
    return True  # Python 3.10 keeps no count: the deadline's it is


def _reason(exc: BaseException) -> str:
    """A few plain words on why an exchange failed, for an error message."""
    cause = exc.__cause__ if isinstance(exc, _ResponseLost) else exc
    if isinstance(cause, asyncio.TimeoutError):
        return "timed out waiting for the answer"
    if isinstance(cause, aiohttp.ServerDisconnectedError):
        return "the server closed the connection"
    if isinstance(cause, aiohttp.ClientPayloadError):
        return "the response body was cut short"
    code = getattr(cause, "errno", None) or getattr(getattr(cause, "os_error", None), "errno", None)
    if isinstance(code, int) and code in errno.errorcode:
        return os.strerror(code).lower()
    text = str(cause).strip()
    return text or type(cause).__name__


def _connect_error(exc: aiohttp.ClientError, request: Request, url: str) -> ConnectError:
    parts = urlsplit(url)
    host = getattr(exc, "host", None) or parts.hostname or "?"
    port = getattr(exc, "port", None) or parts.port or (443 if parts.scheme == "https" else 80)
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        reason = "connect timed out"
    else:
        reason = _reason(getattr(exc, "os_error", None) or exc)
    return ConnectError(
        f"cannot connect to {host}:{port}: {reason}", method=request.method, path=request.path
    )


class AiohttpTransport:
    """The default transport, over one aiohttp ``ClientSession``.

    The session is created lazily, inside the loop that first uses it. With ``trust_env``,
    proxies come from ``HTTP_PROXY``/``HTTPS_PROXY``/``NO_PROXY``, read once per host
    (aiohttp's own ``trust_env`` reads them, and ``~/.netrc``, in a thread on every
    request: most of a request's cost). A session
    passed in is used as is and never closed. A call-placing request goes out at most
    once: aiohttp's own re-send of a GET on a dropped connection is switched off for it,
    and it never follows a redirect (a redirected POST turns into a GET).
    """

    def __init__(
        self, *, http_session: aiohttp.ClientSession | None = None, trust_env: bool = True
    ) -> None:
        self._session = http_session
        self._owns_session = http_session is None
        self._trust_env = trust_env
        self._proxies: dict[tuple[str, str], str | None] = {}
        self._last_origin: tuple[str, str | None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._deadlines: _Deadlines | None = None
        self._closed = False
        self._finalizer: weakref.finalize[Any, AiohttpTransport] | None = None

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"AiohttpTransport({state}, owns_session={self._owns_session})"

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def connection_limit(self) -> int | None:
        """How many connections its pool opens at most (0: no limit); None if unknown."""
        session = self._session
        if session is None:  # made on first use, with aiohttp's default pool
            return _AIOHTTP_POOL if self._owns_session else None
        return session.connector.limit if session.connector is not None else None

    def _http(self) -> aiohttp.ClientSession:
        if self._closed:
            raise ClientClosedError("the client is closed")
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
            self._deadlines = _Deadlines(loop)
        elif loop is not self._loop:
            raise ConfigurationError(
                "this client was first used in another event loop; create one client per "
                "loop (for example inside the coroutine that asyncio.run() runs)"
            )
        if self._session is None:
            self._session = aiohttp.ClientSession()
            # A client dropped without close() frees its connections when collected, so
            # aiohttp has no "Unclosed client session" to warn about.
            self._finalizer = weakref.finalize(self, close_connections_now, self._session)
        return self._session

    async def aclose(self) -> None:
        self._closed = True
        session, self._session = self._session, None
        if self._finalizer is not None:
            self._finalizer.detach()
        if self._deadlines is not None:
            self._deadlines.close()
        if session is not None and self._owns_session:
            await session.close()

    async def send(
        self, request: Request, *, url: str, headers: Mapping[str, str], timeout: float
    ) -> Response:
        http = self._http()
        retry_safe = request.retry_safe
        extra: dict[str, Any] = {}
        if not retry_safe and request.method in _AIOHTTP_RESENDS:  # at most once
            extra["middlewares"] = (*session_middlewares(http), _no_resend)
        if self._trust_env:
            proxy = self._proxy_for(url)
            if proxy is not None:
                extra["proxy"] = proxy
        body: Any = request.data
        if request.json is not None:  # encoded here, with the one codec, whoever's session
            body = dumps(request.json).encode()
            headers = {**headers, "Content-Type": "application/json"}
        seconds = timeout if request.timeout is None else request.timeout
        # The attempt's deadline: ours (one timer for every request in flight), or, run
        # outside a task, aiohttp's read timeout. Connecting is bounded by aiohttp, within
        # the same time.
        task = asyncio.current_task()
        deadlines = self._deadlines if task is not None else None
        cancelling = 0
        # Every low-level failure of the exchange, as the SDK's error for it (inline rather
        # than a context manager: this runs on every request).
        try:
            exchange = http.request(
                request.method,
                url,
                params=request.params,
                data=body,
                headers=headers,
                timeout=_client_timeout(seconds, seconds if deadlines is None else None),
                # The spec's curl lines follow redirects (-L); only reads may.
                allow_redirects=retry_safe,
                **extra,
            )
            if task is not None and deadlines is not None:
                if sys.version_info >= (3, 11):
                    cancelling = task.cancelling()
                deadlines.arm(task, seconds, request_coroutine(exchange))
            async with exchange as response:
                answer = await response.read()
        except asyncio.CancelledError:
            if task is None or deadlines is None or not deadlines.disarm(task):
                raise
            if not _timed_out(task, cancelling):
                raise  # cancelled from outside as well: that wins
            raise TransportError(
                f"{request.method} {request.path} failed after it was sent: "
                f"timed out waiting for the answer ({seconds:g} s)",
                method=request.method,
                path=request.path,
            ) from None
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            raise _connect_error(exc, request, url) from exc
        except RuntimeError as exc:
            if self._closed:  # closed while this request was in flight
                raise ClientClosedError("the client was closed during the request") from exc
            raise
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            # The no-resend wrapper is ours: chain what aiohttp itself raised.
            cause = exc.__cause__ if isinstance(exc, _ResponseLost) else exc
            # A client closed with the request in flight drops the connection itself.
            reason = "the client was closed during the request" if self._closed else _reason(exc)
            raise TransportError(
                f"{request.method} {request.path} failed after it was sent: {reason}",
                method=request.method,
                path=request.path,
            ) from cause
        finally:
            if task is not None and deadlines is not None and deadlines.disarm(task):
                # The deadline passed as the answer came in, and its cancel was consumed
                # on the way: the answer stands; take the cancel back.
                _timed_out(task, cancelling)
        return Response(response.status, response.headers, answer)

    def _proxy_for(self, url: str) -> str | None:
        """The proxy the environment names for ``url``'s scheme and host, looked up once."""
        # A URL that begins with the last one's "scheme://netloc/" has that scheme and
        # netloc: no urlsplit (a client's URLs all share one host; their paths differ).
        last = self._last_origin
        if last is not None and url.startswith(last[0]):
            return last[1]
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        if key not in self._proxies:
            host = parts.hostname or ""
            proxy = urllib.request.getproxies().get(parts.scheme)
            bypass = proxy is not None and urllib.request.proxy_bypass(host)
            self._proxies[key] = None if bypass else proxy
        self._last_origin = (f"{parts.scheme}://{parts.netloc}/", self._proxies[key])
        return self._proxies[key]
