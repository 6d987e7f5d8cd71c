"""``FakeTel4vn``: an in-memory TEL4VN server on 127.0.0.1, for tests and the demo.

The server is an ``aiohttp.web`` application. Each API area adds its handlers from its
own module (``_auth``, ``_cdrs``, ``_calls``, ``_callcenter``, ``_autocall``) through
``ROUTES``, and its controls through a mixin; a handler reads and writes the fake's state
through ``request.app[FAKE]``. Around every handler sit, outermost first: the request
log, the latency, the rate limit, fault injection, and the bearer-token check.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import itertools
import json
import secrets
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, Literal

import attrs
from aiohttp import web

from ._autocall import AutocallFake
from ._base import FAKE, TokenStyle, json_response
from ._callcenter import CallCenterFake
from ._ratelimit import TokenBucket
from ._routes import ROUTES
from ._webhooks import WebhookFake

__all__ = ["FAKE", "FakeTel4vn", "Fault", "LoggedRequest", "TokenStyle", "json_response"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# The log entry of the request being handled: the middlewares run in one task.
_ENTRY: contextvars.ContextVar[LoggedRequest] = contextvars.ContextVar("tel4vn_fake_entry")
_AUTH_FREE = frozenset({"/v1/auth", "/v1/auth/token", "/v2/auth/token"})
_RATE_LIMITED_BODY = {"code": 429, "content": "rate limit exceeded", "error": "Too Many Requests"}


@attrs.frozen
class Fault:
    """Something to go wrong with a request instead of (or around) its normal handling.

    Attributes:
        status: answer with this status (and ``body``) instead of running the handler.
        body: the JSON body to answer with; a default error body when None.
        headers: extra response headers.
        retry_after: sets the ``Retry-After`` header, in seconds.
        html: answer with an HTML page (as a proxy would) instead of JSON.
        malformed: answer with a truncated JSON body.
        delay: wait this long before anything else.
        drop: ``"before"`` closes the connection without running the handler;
            ``"after"`` runs the handler (its effects happen) and then closes the
            connection instead of answering.
    """

    status: int | None = None
    body: Any = None
    headers: Mapping[str, str] = attrs.field(factory=dict)
    retry_after: float | None = None
    html: bool = False
    malformed: bool = False
    delay: float = 0.0
    drop: Literal["before", "after"] | None = None


@attrs.define
class LoggedRequest:
    """A request as the fake received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    received_at: float
    fault: Fault | None = None
    status: int | None = None
    """The status answered; None when the connection was dropped."""
    handled: bool = False
    """Whether the endpoint's handler ran (its effects happened)."""

    @property
    def json(self) -> Any:
        """The body decoded as JSON, or None."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None

    @property
    def token(self) -> str | None:
        """The bearer token sent, without its ``Bearer`` prefix."""
        value = self.headers.get("Authorization")
        if value is None:
            return None
        return value[7:] if value.lower().startswith("bearer ") else value


class FakeTel4vn(CallCenterFake, AutocallFake, WebhookFake):
    """An in-memory TEL4VN server (both API families) on 127.0.0.1 and a random port.

    ``async with FakeTel4vn() as fake:`` starts it; ``fake.url`` and ``fake.api_key`` are
    what a client needs. ``fake.requests`` logs every request received; ``inject``
    queues faults; ``token_lifetime``, ``token_style`` and ``revoke_tokens`` steer auth.
    A long-running fake (a sandbox, a benchmark) should set ``keep_requests`` to bound
    its log. Each API area adds its seeding helpers through its mixin.

    ``shutdown_timeout`` is how long ``close()`` lets requests in progress finish before
    cutting them off: next to nothing by default, as a test wants; a sandbox serving other
    processes may pass a few seconds. ``clock`` tells the time (Unix seconds) for token
    expiry; a test can swap in a fake clock to expire tokens without waiting.

    Load, to model a real PBX: ``latency`` (seconds, settable at any time) delays every
    request before it is handled, without blocking the others; ``limit_rate(path,
    per_second, burst=...)`` puts a token bucket on a path and answers a request over it
    429, unhandled, with a ``Retry-After``. ``monotonic`` is the clock the buckets read.

    Every request passes, outermost first: the request log (so 429s and dropped
    connections are logged too), the latency (a 429 costs a round trip, as over a real
    network), the rate limit (before faults: a refused request leaves the faults queued
    for requests that get through; before auth: a gateway refuses before the application
    checks tokens), fault injection, and the bearer-token check.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        username: str = "admin@test.tel4vn.com",
        password: str | None = None,
        token_lifetime: float | None = 3600.0,
        token_style: TokenStyle | None = None,
        port: int = 0,
        keep_requests: int | None = None,
        shutdown_timeout: float = 0.01,
        clock: Callable[[], float] = time.time,
        latency: float = 0.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api_key = api_key or f"test-{secrets.token_hex(8)}"
        self.username = username
        self.password = password or secrets.token_hex(6)
        self.token_lifetime = token_lifetime
        """Seconds a new token lives; None: forever, with no expiry in the response."""
        self.token_style: TokenStyle | None = token_style
        """The token response shape; None answers each family in its reference shape."""
        self.clock = clock
        """What tells the time (Unix seconds) for token expiry; replaceable in tests."""
        self.latency = latency
        """Seconds every request waits before it is handled (0: none); settable any time."""
        self.monotonic = monotonic
        """The clock the rate limits read (seconds, never stepping back); replaceable."""
        self._buckets: dict[str, TokenBucket] = {}
        self.requests: collections.deque[LoggedRequest] = collections.deque(maxlen=keep_requests)
        """Every request received, oldest first (the newest ``keep_requests`` if set)."""
        self.dials: defaultdict[str, int] = defaultdict(int)
        """How often each phone number was rung by a call-placing endpoint."""
        self.state: dict[str, Any] = {}
        """Per-area in-memory data, keyed by area; endpoint modules own their keys."""
        self._tokens: dict[str, float | None] = {}
        self._faults: defaultdict[str, list[tuple[str | None, Fault]]] = defaultdict(list)
        self._ids = itertools.count(1)
        self._port = port
        # aiohttp reads 0 as "wait for ever", so "at once" is the smallest wait it knows.
        self._shutdown_timeout = max(shutdown_timeout, 0.001)
        self._runner: web.AppRunner | None = None
        self.url = ""

    def __repr__(self) -> str:
        return f"FakeTel4vn(url={self.url!r}, api_key='***', requests={len(self.requests)})"

    # ------------------------------------------------------------------ lifecycle

    def make_app(self) -> web.Application:
        """The aiohttp application, for embedding the fake in another server."""
        app = web.Application(
            middlewares=[
                self._log_mw,
                self._latency_mw,
                self._rate_mw,
                self._fault_mw,
                self._auth_mw,
                self._webhook_mw,
            ]
        )
        app[FAKE] = self
        app.add_routes(ROUTES)
        return app

    async def start(self) -> FakeTel4vn:
        """Start serving on 127.0.0.1; ``url`` is set once this returns."""
        self._runner = web.AppRunner(
            self.make_app(),
            access_log=None,
            handle_signals=False,
            shutdown_timeout=self._shutdown_timeout,
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self._port)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def close(self) -> None:
        """Stop serving and close every connection."""
        await self._close_webhooks()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> FakeTel4vn:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # ------------------------------------------------------------------ test controls

    def inject(
        self,
        path: str,
        fault: Fault | None = None,
        *,
        method: str | None = None,
        times: int = 1,
        **fields: Any,
    ) -> None:
        """Queue a fault for the next ``times`` requests to ``path`` ("*" for any path).

        ``fake.inject("/v2/call", status=503, retry_after=1)`` is short for
        ``fake.inject("/v2/call", Fault(status=503, retry_after=1))``.
        """
        fault = fault or Fault(**fields)
        self._faults[path].extend([(method.upper() if method else None, fault)] * times)

    def clear_faults(self) -> None:
        """Drop every fault not yet used."""
        self._faults.clear()

    def limit_rate(
        self, path: str, per_second: float | None, *, burst: int = 1, retry_after: bool = True
    ) -> None:
        """Admit at most ``per_second`` requests a second to ``path``, as a PBX's limit would.

        A token bucket holding ``burst`` tokens, refilled at ``per_second`` on the
        ``monotonic`` clock; each request admitted takes one. A request finding none is
        answered 429 with an error body and is not handled: no effects, no dial, no fault
        used. It is logged in ``requests`` with status 429 like any answer. Setting a
        limit again replaces it, with a full bucket.

        Args:
            path: the exact path, or ``"*"`` for every path but the auth endpoints. A
                request to a path limited both ways needs a token from both buckets.
            per_second: the sustained rate admitted; None removes the limit.
            burst: the requests admitted at once after a quiet spell (1 or more).
            retry_after: send a ``Retry-After`` header with the seconds until the next
                token (at least 0.001, formatted with ``:g``).

        Raises:
            ValueError: ``per_second`` not positive, or ``burst`` below 1.
        """
        if per_second is None:
            self._buckets.pop(path, None)
            return
        if not per_second > 0 or burst < 1:
            raise ValueError("per_second must be positive and burst at least 1")
        self._buckets[path] = TokenBucket(float(per_second), burst, retry_after)

    def revoke_tokens(self) -> None:
        """Invalidate every token issued so far: their next use gets a 401."""
        self._tokens.clear()

    def issue_token(self) -> str:
        """A new valid token (what the token endpoints hand out)."""
        token = secrets.token_urlsafe(24)
        lifetime = self.token_lifetime
        self._tokens[token] = None if lifetime is None else self.clock() + lifetime
        return token

    def token_valid(self, token: str | None) -> bool:
        """Whether ``token`` was issued, not revoked, and has not expired."""
        if token is None or token not in self._tokens:
            return False
        expires = self._tokens[token]
        return expires is None or self.clock() < expires

    def next_id(self, prefix: str = "") -> str:
        """A fresh id in the UUID shape the API uses."""
        n = next(self._ids)
        return f"{prefix}{n:08x}-0000-4000-8000-{secrets.token_hex(6)}"

    def received(self, path: str | None = None, method: str | None = None) -> list[LoggedRequest]:
        """The logged requests, filtered by path and method."""
        return [
            r
            for r in self.requests
            if (path is None or r.path == path) and (method is None or r.method == method.upper())
        ]

    def count(self, path: str | None = None, method: str | None = None) -> int:
        """How many requests to ``path`` (and ``method``) arrived."""
        return len(self.received(path, method))

    @property
    def token_requests(self) -> int:
        """How many token requests arrived, on either family's endpoint."""
        return self.count("/v2/auth/token") + self.count("/v1/auth/token")

    # ------------------------------------------------------------------ middlewares

    def _next_fault(self, request: web.Request) -> Fault | None:
        for key in (request.path, "*"):
            queue = self._faults.get(key)
            if not queue:
                continue
            for i, (method, fault) in enumerate(queue):
                if method is None or method == request.method:
                    del queue[i]
                    return fault
        return None

    @web.middleware
    async def _log_mw(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        entry = LoggedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers=dict(request.headers),
            # Uploads stream to their handler: the log never holds a whole file.
            body=b"" if request.content_type.startswith("multipart/") else await request.read(),
            received_at=time.time(),
        )
        self.requests.append(entry)
        _ENTRY.set(entry)
        response = await handler(request)
        entry.status = response.status
        return response

    @web.middleware
    async def _latency_mw(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        # Read per request, so a test can change it mid-run; a sleep keeps others moving.
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        return await handler(request)

    @web.middleware
    async def _rate_mw(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        buckets = [self._buckets.get(request.path)]
        if request.path not in _AUTH_FREE:
            buckets.append(self._buckets.get("*"))
        limits = [bucket for bucket in buckets if bucket is not None]
        if not limits:
            return await handler(request)
        now = self.monotonic()
        waits = [(bucket.wait(now), bucket) for bucket in limits]
        refused = [(wait, bucket) for wait, bucket in waits if wait > 0]
        if not refused:
            # Taken only once every bucket has a token: a refusal costs none of them one.
            for bucket in limits:
                bucket.take()
            return await handler(request)
        response = json_response(_RATE_LIMITED_BODY, 429)
        told = [wait for wait, bucket in refused if bucket.retry_after]
        if told:
            response.headers["Retry-After"] = f"{max(max(told), 0.001):g}"
        return response

    @web.middleware
    async def _fault_mw(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        fault = self._next_fault(request)
        _ENTRY.get().fault = fault
        if fault is None:
            return await handler(request)
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.drop == "before":
            _drop(request)
        if fault.drop == "after":
            await handler(request)
            _drop(request)
        headers = dict(fault.headers)
        if fault.retry_after is not None:
            headers["Retry-After"] = f"{fault.retry_after:g}"
        status = fault.status or 200
        if fault.html:
            page = f"<html><body><h1>{status} Bad Gateway</h1>nginx</body></html>"
            return web.Response(text=page, status=status, content_type="text/html", headers=headers)
        if fault.malformed:
            return web.Response(
                text='{"data": [{"id": ',
                status=status,
                content_type="application/json",
                headers=headers,
            )
        if fault.status is None:
            return await handler(request)
        body = (
            fault.body
            if fault.body is not None
            else {"code": status, "content": f"injected {status}", "error": "Injected"}
        )
        response = json_response(body, status)
        response.headers.update(headers)
        return response

    @web.middleware
    async def _auth_mw(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        entry = _ENTRY.get()
        if request.path not in _AUTH_FREE and not self.token_valid(entry.token):
            return json_response(
                {"code": 401, "content": "Unauthorized", "error": "Unauthorized"}, 401
            )
        entry.handled = True
        return await handler(request)


def _drop(request: web.Request) -> None:
    """Close the connection without an answer; the client sees it drop."""
    request.protocol.force_close()
    raise asyncio.CancelledError
