"""A scripted aiohttp.web server on 127.0.0.1, for answers FakeTel4vn does not give.

The acceptance tests use it to serve the vendor spec's literal sample bodies, broken
bodies, hangs and dropped connections, and to see exactly what the SDK sent. It records
every request (``hits``, token requests included) and answers, first match wins:

1. ``on(method, path, reply)``: a scripted JSON reply (a body, a ``Reply`` with a status,
   or a ``Rec -> body`` callable);
2. ``routes[path]``: a raw aiohttp handler, for any method;
3. the token endpoints of both families: ``token_handler`` if set, else ``token_shape(n)``
   for the n-th token issued (``tok-1``, ``tok-2``, ... in the Call Center shape);
4. ``fallback``: a generic success by default; ``no_route`` makes an unscripted request
   an error the test sees.

``settle()`` waits until the closed clients' connections are gone and every request they
carried is recorded, so a test can count what arrived without sleeping on it. The server
shuts down at once: a handler still hanging when the test ends is cancelled.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import BodyPartReader, web

__all__ = [
    "AC_TOKEN",
    "CC_TOKEN",
    "Handler",
    "Rec",
    "Reply",
    "Responder",
    "ScriptedServer",
    "no_route",
    "trickled",
]

CC_TOKEN = "/v2/auth/token"
AC_TOKEN = "/v1/auth/token"
_TOKEN_PATHS = frozenset({CC_TOKEN, AC_TOKEN})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Reply:
    """A scripted answer other than a 200: a status and a JSON body."""

    status: int
    body: Any


@dataclass
class Rec:
    """One request as the server received it."""

    method: str
    path: str
    query: dict[str, str]
    raw: bytes
    """The body as sent (empty for a multipart upload: see ``files`` and ``form``)."""
    body: Any
    """The body decoded as JSON; None when empty or not JSON."""
    files: dict[str, tuple[str | None, bytes]] = field(default_factory=dict)
    form: dict[str, str] = field(default_factory=dict)
    auth: str | None = None


Responder = Callable[[Rec], Any]
"""A scripted reply computed from the request: returns a JSON body or a ``Reply``."""


async def _generic_success(request: web.Request) -> web.StreamResponse:
    return web.json_response({"data": [], "status": "success", "call_id": "c-1"})


def trickled(head: bytes, *, chunks: int, gap: float) -> Handler:
    """A handler sending its headers at once, then ``head``, ``chunks`` spaces ``gap``
    seconds apart, and ``]}``: every read comes quickly, the whole body slowly."""

    async def trickle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(head)
        for _ in range(chunks):
            await asyncio.sleep(gap)
            await response.write(b" ")
        await response.write(b"]}")
        await response.write_eof()
        return response

    return trickle


async def no_route(request: web.Request) -> web.StreamResponse:
    """A fallback answering 418: the SDK sent something the test did not script."""
    return web.json_response(
        {"error": f"test server has no route {request.method} {request.path}"}, status=418
    )


def _callcenter_token(n: int) -> Any:
    return {
        "code": 200,
        "content": "successfully",
        "data": {"token": f"tok-{n}", "expired_in": 3600, "token_type": "Bearer"},
    }


class ScriptedServer:
    """A programmable server on 127.0.0.1 that records every request; see the module doc."""

    def __init__(self, *, fallback: Handler = _generic_success) -> None:
        self.hits: list[Rec] = []
        self.routes: dict[str, Handler] = {}
        self.replies: dict[tuple[str, str], Any] = {}
        self.token_shape: Callable[[int], Any] = _callcenter_token
        self.token_handler: Handler | None = None
        self.tokens_issued = 0
        self.fallback = fallback
        self.url = ""
        self.port = 0
        self._runner: web.AppRunner | None = None

    # ------------------------------------------------------------------ scripting

    def on(self, method: str, path: str, reply: Any) -> None:
        """Answer ``method path`` with a JSON body, a ``Reply`` or a ``Rec -> body`` callable."""
        self.replies[(method, path)] = reply

    # ------------------------------------------------------------------ what was received

    @property
    def requests(self) -> list[Rec]:
        """The requests received, token requests left out."""
        return [h for h in self.hits if h.path not in _TOKEN_PATHS]

    @property
    def token_requests(self) -> list[Rec]:
        """The token requests received, on either family's endpoint."""
        return [h for h in self.hits if h.path in _TOKEN_PATHS]

    @property
    def nothing_sent(self) -> bool:
        return not self.hits

    def of(self, path: str) -> list[Rec]:
        """The requests received on ``path``."""
        return [h for h in self.hits if h.path == path]

    def count(self, path: str) -> int:
        return len(self.of(path))

    def token_count(self) -> int:
        return len(self.token_requests)

    async def settle(self) -> None:
        """Wait until every client connection has closed and what it carried is recorded.

        Call it once the clients are closed: nothing they sent can arrive afterwards, so a
        count taken then is final (a fixed sleep only makes that likely).
        """
        server = self._runner.server if self._runner is not None else None
        for _ in range(2000):  # bounded: a connection left open fails the test, not hangs it
            if server is None or all(c.transport is None for c in server.connections):
                break
            await asyncio.sleep(0.001)
        else:
            raise AssertionError("a client connection to the test server is still open")
        for _ in range(10):  # a request read just before its connection's end: let it log
            await asyncio.sleep(0)

    # ------------------------------------------------------------------ lifecycle

    async def start(self, port: int = 0) -> ScriptedServer:
        """Serve on 127.0.0.1 (``port`` 0: any free one); ``url`` is set once this returns."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # Near zero: close() cancels what still hangs instead of waiting for it.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.01)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.port = int(self._runner.addresses[0][1])
        self.url = f"http://127.0.0.1:{self.port}"
        return self

    async def close(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> ScriptedServer:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # ------------------------------------------------------------------ answering

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        rec = await _record(request)
        self.hits.append(rec)
        reply = self.replies.get((request.method, request.path))
        if reply is not None:
            result = reply(rec) if callable(reply) else reply
            if isinstance(result, Reply):
                return web.json_response(result.body, status=result.status)
            return web.json_response(result)
        handler = self.routes.get(request.path)
        if handler is not None:
            return await handler(request)
        if request.path in _TOKEN_PATHS:
            if self.token_handler is not None:
                return await self.token_handler(request)
            self.tokens_issued += 1
            return web.json_response(self.token_shape(self.tokens_issued))
        return await self.fallback(request)


async def _record(request: web.Request) -> Rec:
    raw = b""
    files: dict[str, tuple[str | None, bytes]] = {}
    form: dict[str, str] = {}
    if request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            assert isinstance(part, BodyPartReader)
            data = bytes(await part.read())
            if part.filename is not None:
                files[part.name or ""] = (part.filename, data)
            else:
                form[part.name or ""] = data.decode()
    else:
        raw = await request.read()
    try:
        body = json.loads(raw) if raw.strip() else None
    except ValueError:
        body = None
    return Rec(
        method=request.method,
        path=request.path,
        query=dict(request.query),
        raw=raw,
        body=body,
        files=files,
        form=form,
        auth=request.headers.get("Authorization"),
    )
