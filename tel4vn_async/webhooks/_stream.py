"""``EventStream``: received events as an async iterator, for bots.

Policy when full: the stream holds at most ``maxsize`` events not yet taken by the
consumer. A delivery that finds it full is answered 503 with ``Retry-After`` (the handler
raises ``RetryLater``) and is not marked seen, so the PBX's re-send is taken once the bot
catches up: no event is dropped silently, and memory stays bounded. An event is
acknowledged (2xx) once it is queued, not once the bot has processed it: a bot that dies
with events queued loses them (use a handler of your own for stronger guarantees).
"""

from __future__ import annotations

import asyncio
import collections
from types import TracebackType
from typing import Literal

from aiohttp import web

from ..errors import ValidationError
from ._dedupe import Dedupe
from ._event import MAX_BODY, CallEvent
from ._receiver import DEFAULT_PATH, RetryLater, webhook_app

__all__ = ["EventStream"]


class EventStream:
    """A bounded queue of received events: ``async for event in stream``.

    Use it as a receiver's handler: ``webhook_app(stream, ...)`` or ``stream.app(...)``.
    ``await stream.aclose()`` (or leaving ``async with stream``) stops taking events
    (later deliveries get 503); iteration yields the events already queued, then ends.

    Args:
        maxsize: the most events queued and not yet taken.
        retry_after: the ``Retry-After`` (seconds) answered when full or closed.
    """

    def __init__(self, maxsize: int = 100, *, retry_after: float = 5.0) -> None:
        if isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 1:
            raise ValidationError(f"maxsize must be >= 1, got {maxsize!r}", field="maxsize")
        self.maxsize = maxsize
        self.retry_after = retry_after
        self._items: collections.deque[CallEvent] = collections.deque()
        self._changed = asyncio.Event()
        self._closed = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<EventStream {state}, {len(self._items)}/{self.maxsize} queued>"

    def __len__(self) -> int:
        """How many events are queued."""
        return len(self._items)

    @property
    def closed(self) -> bool:
        """Whether ``aclose()`` was called."""
        return self._closed

    def full(self) -> bool:
        """Whether a delivery now would be refused for lack of room."""
        return len(self._items) >= self.maxsize

    def put(self, event: CallEvent) -> None:
        """Queue ``event``.

        Raises:
            RetryLater: the stream is full or closed (the receiver answers 503).
        """
        if self._closed:
            raise RetryLater("the event stream is closed", retry_after=self.retry_after)
        if self.full():
            raise RetryLater("the event stream is full", retry_after=self.retry_after)
        self._items.append(event)
        self._changed.set()

    async def __call__(self, event: CallEvent) -> None:
        """The receiver's handler: ``put(event)``."""
        self.put(event)

    def app(
        self,
        *,
        api_key: str | None = None,
        path: str = DEFAULT_PATH,
        header: str | None = None,
        max_body: int = MAX_BODY,
        dedupe: Dedupe | Literal[False] | None = None,
        busy_wait: float = 10.0,
    ) -> web.Application:
        """``webhook_app(self, ...)``: an application feeding this stream; the options are
        ``webhook_app``'s."""
        return webhook_app(
            self,
            api_key=api_key,
            path=path,
            header=header,
            max_body=max_body,
            dedupe=dedupe,
            busy_wait=busy_wait,
        )

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> CallEvent:
        while not self._items:
            if self._closed:
                raise StopAsyncIteration
            self._changed.clear()
            await self._changed.wait()
        return self._items.popleft()

    async def aclose(self) -> None:
        """Stop taking events; iteration ends once the queued ones are taken."""
        self._closed = True
        self._changed.set()

    async def __aenter__(self) -> EventStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
