"""The receiver: a thin ``aiohttp.web`` adapter over ``parse_event``.

One POST route. In order: the body is read up to the cap (413 beyond it, without reading
further), the key is checked in constant time (401), the event is parsed (400), claimed
in the de-duplication store (a repeat is answered 200 without the handler), and handed to
the handler; the answer is 2xx only once the handler has returned. A handler that raises
gets 500 (logged with its traceback; the PBX re-sends), one that raises ``RetryLater``
gets 503 with ``Retry-After``; either way the event stays unseen, so a re-send is handled.
"""

from __future__ import annotations

import asyncio
import hmac
import inspect
import logging
import math
from collections.abc import Callable, Mapping
from typing import Any, Literal
from urllib.parse import parse_qsl

import attrs
from aiohttp import web

from ..errors import ValidationError
from ._dedupe import Claim, Dedupe, MemoryDedupe
from ._event import MAX_BODY, CallEvent, _decode, parse_event

__all__ = ["DEFAULT_PATH", "Handler", "RetryLater", "add_webhook_route", "webhook_app"]

_log = logging.getLogger("tel4vn_async.webhooks")

DEFAULT_PATH = "/tel4vn/events"
Handler = Callable[[CallEvent], object]
"""What receives each event: a function or a coroutine function taking a ``CallEvent``."""

# Credentials a body may carry: checked, then never passed on to the handler.
_SECRET_FIELDS = ("api_key", "callback_apikey")
_CHUNK = 64 * 1024


class RetryLater(Exception):
    """Raised by a handler that cannot take the event now: the receiver answers 503
    with ``Retry-After`` and leaves the event unseen, so the PBX's re-send is handled.

    Attributes:
        retry_after: seconds the sender should wait (sent rounded up, at least 1).
    """

    def __init__(self, message: str = "try again later", *, retry_after: float = 5.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class _TooLarge(Exception):
    pass


def webhook_app(
    handler: Handler,
    *,
    api_key: str | None = None,
    path: str = DEFAULT_PATH,
    header: str | None = None,
    max_body: int = MAX_BODY,
    dedupe: Dedupe | Literal[False] | None = None,
    busy_wait: float = 10.0,
) -> web.Application:
    """An ``aiohttp.web`` application that receives call events at ``path``.

    Run it with ``web.run_app(app)`` or mount it with ``app.add_subapp()``;
    ``add_webhook_route`` adds the route to an application of yours instead.

    Args:
        handler: called with each ``CallEvent`` (sync or async); the PBX is answered 2xx
            once it returns. A sync handler runs on the event loop: keep it quick.
        api_key: the ``callback_apikey`` registered with the hooks. When set, a delivery
            must carry it in ``Authorization`` (with or without ``Bearer``), ``X-API-Key``,
            the ``header`` named, or an ``api_key`` field of the body; else 401.
        path: the route's path.
        header: one more header to read the key from.
        max_body: the largest body read, in bytes; a larger one gets 413.
        dedupe: the store of events seen (``Dedupe``); None makes a ``MemoryDedupe()``
            (10,000 events, 10 minutes); ``False`` turns de-duplication off.
        busy_wait: how long a repeat of an event being handled waits for that handling
            before it is answered 503.
    """
    app = web.Application(client_max_size=max_body)
    add_webhook_route(
        app,
        handler,
        api_key=api_key,
        path=path,
        header=header,
        max_body=max_body,
        dedupe=dedupe,
        busy_wait=busy_wait,
    )
    return app


def add_webhook_route(
    app: web.Application,
    handler: Handler,
    *,
    api_key: str | None = None,
    path: str = DEFAULT_PATH,
    header: str | None = None,
    max_body: int = MAX_BODY,
    dedupe: Dedupe | Literal[False] | None = None,
    busy_wait: float = 10.0,
) -> web.AbstractRoute:
    """Add the receiver's POST route to an existing application; see ``webhook_app``.

    Returns:
        The route added.
    """
    if not callable(handler):
        raise ValidationError("handler must be callable", field="handler")
    if api_key is not None and (not isinstance(api_key, str) or not api_key):
        raise ValidationError("api_key must be a non-empty string or None", field="api_key")
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValidationError(f"path must start with '/', got {path!r}", field="path")
    if isinstance(max_body, bool) or not isinstance(max_body, int) or max_body < 1:
        raise ValidationError(
            f"max_body must be a positive integer, got {max_body!r}", field="max_body"
        )
    receiver = _Receiver(
        handler=handler,
        api_key=api_key.encode() if api_key else None,
        headers=tuple(dict.fromkeys(h for h in ("Authorization", "X-API-Key", header) if h)),
        max_body=max_body,
        dedupe=_store(dedupe),
        busy_wait=busy_wait,
    )
    return app.router.add_post(path, receiver.handle)


@attrs.frozen(repr=False)
class _Receiver:
    handler: Handler
    api_key: bytes | None
    headers: tuple[str, ...]
    max_body: int
    dedupe: Dedupe | None
    busy_wait: float

    def __repr__(self) -> str:  # the key never shows
        return f"<webhook receiver of {_name(self.handler)}>"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            raw = await _read_capped(request, self.max_body)
        except _TooLarge:
            _log.warning("webhook: refused a body larger than %d bytes", self.max_body)
            response = _answer(413, error=f"the body is larger than {self.max_body} bytes")
            response.force_close()
            return response
        authorized = self.api_key is None or self._key_in(_header_keys(request, self.headers))
        try:
            data = _form(raw) if request.content_type == _FORM else _decode(raw, self.max_body)
        except ValidationError as error:
            if not authorized:
                return _unauthorized()
            _log.warning("webhook: refused a malformed event: %s", error)
            return _answer(400, error=str(error))
        if not authorized:
            body_key = data.get("api_key")
            if not isinstance(body_key, str) or not self._key_in([body_key]):
                return _unauthorized()
        data = {k: v for k, v in data.items() if k not in _SECRET_FIELDS}
        try:
            event = parse_event(data)
        except ValidationError as error:
            _log.warning("webhook: refused a malformed event: %s", error)
            return _answer(400, error=str(error), field=error.field)
        return await self._dispatch(event)

    def _key_in(self, presented: list[str]) -> bool:
        assert self.api_key is not None
        ok = False
        for key in presented:  # every candidate compared: no early exit to time
            ok |= hmac.compare_digest(self.api_key, key.encode("utf-8", "surrogateescape"))
        return ok

    async def _dispatch(self, event: CallEvent) -> web.StreamResponse:
        dedupe, key = self.dedupe, event.dedupe_key
        if dedupe is None:
            return await self._run(event)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.busy_wait
        while True:
            claim = await dedupe.claim(key)
            if claim is Claim.SEEN:
                _log.debug("webhook: %s event of call %s seen already", event.state_raw,
                           event.call_id)  # fmt: skip
                return _answer(200, duplicate=True)
            if claim is Claim.NEW:
                break
            remaining = deadline - loop.time()
            if remaining <= 0:
                return _answer(503, error="the same event is being handled", retry_after=1.0)
            await dedupe.wait(key, remaining)
        handled = False
        try:
            response = await self._run(event)
            handled = response.status < 300
            return response
        finally:
            if handled:
                await dedupe.done(key)
            else:  # a failure (or cancellation) leaves the event unseen: a re-send is handled
                await dedupe.release(key)

    async def _run(self, event: CallEvent) -> web.StreamResponse:
        try:
            result = self.handler(event)
            if inspect.isawaitable(result):
                await result
        except RetryLater as busy:
            _log.info("webhook: %s asks to retry the %s event of call %s later: %s",
                      _name(self.handler), event.state_raw, event.call_id, busy)  # fmt: skip
            return _answer(503, error=str(busy), retry_after=busy.retry_after)
        except Exception:
            _log.exception(
                "webhook: handler %s failed on the %s event of call %s",
                _name(self.handler),
                event.state_raw,
                event.call_id,
            )
            return _answer(500, error="the handler failed")
        return _answer(200)


_FORM = "application/x-www-form-urlencoded"


def _store(dedupe: Dedupe | Literal[False] | None) -> Dedupe | None:
    if dedupe is None:
        return MemoryDedupe()
    return None if dedupe is False else dedupe  # never "dedupe or ...": an empty store is falsy


def _form(raw: bytes) -> dict[str, Any]:
    """A form-encoded body as a dict (the PBX's encoding is undocumented: accept both)."""
    try:
        return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
    except ValueError:
        raise ValidationError("the body is not a readable form", field="body") from None


async def _read_capped(request: web.Request, cap: int) -> bytes:
    """The body, read chunk by chunk and given up on as soon as it passes ``cap``."""
    if request.content_length is not None and request.content_length > cap:
        raise _TooLarge
    body = bytearray()
    while chunk := await request.content.read(_CHUNK):
        body += chunk
        if len(body) > cap:
            raise _TooLarge
    return bytes(body)


def _header_keys(request: web.Request, names: tuple[str, ...]) -> list[str]:
    keys = []
    for name in names:
        value = request.headers.get(name)
        if value is not None:
            value = value.strip()
            keys.append(value[7:].strip() if value[:7].lower() == "bearer " else value)
    return keys


def _unauthorized() -> web.Response:
    _log.warning("webhook: refused a delivery without the right key")
    return _answer(401, error="a wrong or missing key")


def _answer(status: int, *, retry_after: float | None = None, **fields: object) -> web.Response:
    body: Mapping[str, object] = {"ok": status < 300, **fields}
    response = web.json_response(body, status=status)
    if retry_after is not None:
        response.headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return response


def _name(handler: object) -> str:
    return getattr(handler, "__qualname__", None) or type(handler).__qualname__
