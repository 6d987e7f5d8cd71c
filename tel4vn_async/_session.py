"""The session manager: one valid bearer token, refreshed in a single flight."""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import time
from collections.abc import Awaitable, Callable

from ._token import (
    MemoryTokenStore,
    SharedTokenStore,
    Token,
    TokenStore,
    needs_refresh,
    refresh_at,
)
from .errors import ClientClosedError

__all__ = ["Session"]

_log = logging.getLogger("tel4vn_async")


class Session:
    """Holds a client's bearer token and refreshes it before it expires.

    Any number of concurrent callers that find the token missing or stale share one
    token request (single flight). A failed refresh raises its error to every caller
    waiting on it; the next call tries again. Get it as ``client.session``.

    With a ``SharedTokenStore`` (such as ``RedisTokenStore``) the single flight spans the
    fleet: this process's one refresh at a time asks the store, which fetches a token in
    exactly one process and hands it to the others.
    """

    def __init__(
        self,
        fetch: Callable[[], Awaitable[Token]],
        *,
        refresh_leeway: float = 60.0,
        token_store: TokenStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._fetch = fetch
        self._leeway = refresh_leeway
        self._store: TokenStore = token_store if token_store is not None else MemoryTokenStore()
        # Decided once: the refresh path then needs no isinstance check of a Protocol.
        self._shared = self._store if isinstance(self._store, SharedTokenStore) else None
        # Tokens refused since the last refresh, to discard from the shared store.
        self._refused: list[Token] = []
        self._clock = clock
        self._token: Token | None = None
        # When the token in hand goes stale, as a float: the hot path's only check.
        self._refresh_at = -math.inf
        self._inflight: asyncio.Future[Token] | None = None
        # Tokens the server refused: never taken back from a shared store.
        self._rejected: collections.deque[str] = collections.deque(maxlen=16)
        self._held: collections.deque[str] = collections.deque(maxlen=16)
        self._closed = False
        self.refresh_count = 0
        """How many tokens this session fetched from the API (for monitoring)."""

    def __repr__(self) -> str:
        state = "no token" if self._token is None else repr(self._token)
        return f"Session({state}, refresh_leeway={self._leeway})"

    @property
    def current(self) -> Token | None:
        """The token in hand, without fetching or checking it."""
        return self._token

    @property
    def clock(self) -> Callable[[], float]:
        """What tells the time (Unix seconds) when judging a token stale; ``time.time``
        unless replaced, as a test may do to age a token without waiting."""
        return self._clock

    @clock.setter
    def clock(self, clock: Callable[[], float]) -> None:
        self._clock = clock

    async def token(self) -> Token:
        """A valid token, fetched from the api_key when there is none or it is stale.

        Raises:
            AuthenticationError: the token endpoint refused the api_key.
            TransportError: the token endpoint could not be reached.
        """
        if self._closed:
            raise ClientClosedError("the client is closed")
        token = self.fresh()
        if token is not None:
            return token
        inflight = self._inflight
        if inflight is None:
            inflight = self._inflight = asyncio.ensure_future(self._obtain())
            inflight.add_done_callback(_consume_exception)
        try:
            # shield: one impatient caller cancelling must not cancel everyone's refresh.
            return await asyncio.shield(inflight)
        except asyncio.CancelledError:
            if self._closed and inflight.cancelled() and not _being_cancelled():
                raise ClientClosedError("the client was closed during a token refresh") from None
            raise

    def fresh(self) -> Token | None:
        """The token in hand if it is still fresh, else None; never fetches (no await)."""
        if self._clock() < self._refresh_at and not self._closed:
            return self._token
        return None

    def invalidate(self, token: Token) -> None:
        """Forget ``token`` after the server refused it; a newer token is kept."""
        if token.access_token not in self._rejected:
            self._rejected.append(token.access_token)
            if self._shared is not None:
                self._refused.append(token)
        if self._token is not None and self._token.access_token == token.access_token:
            self._hold(None)

    def _hold(self, token: Token | None) -> None:
        self._token = token
        self._refresh_at = -math.inf if token is None else refresh_at(token, self._leeway)
        if token is not None:
            self._held.append(token.access_token)

    async def _obtain(self) -> Token:
        try:
            if self._shared is not None:
                return await self._obtain_shared(self._shared)
            stored = await self._store.load()
            if stored is not None and self._usable(stored):
                self._hold(stored)
                return stored
            token = await self._fetch_counted()
            self._hold(token)
            await self._store.save(token)
            return token
        finally:
            # Cleared as the task ends, so a caller arriving after a failure starts afresh.
            self._inflight = None

    async def _obtain_shared(self, store: SharedTokenStore) -> Token:
        refused, self._refused = self._refused, []
        for token in refused:
            await store.discard(token)
        token = await store.obtain(self._fetch_counted, self._usable)
        self._hold(token)
        return token

    def _usable(self, token: Token) -> bool:
        """Whether a stored token will do: not refused here, and not stale."""
        return token.access_token not in self._rejected and not needs_refresh(
            token, self._clock(), self._leeway
        )

    async def _fetch_counted(self) -> Token:
        self.refresh_count += 1
        _log.debug("fetching a new access token")
        return await self._fetch()

    def secrets(self) -> tuple[str, ...]:
        """Every token string this session has held, for scrubbing error text."""
        return (*self._held, *self._rejected)

    async def close(self) -> None:
        """Cancel a refresh in flight: its waiters get ``ClientClosedError``."""
        self._closed = True
        inflight = self._inflight
        if inflight is not None and not inflight.done():
            inflight.cancel()
            await asyncio.wait([inflight])


def _being_cancelled() -> bool:
    """Whether the current task itself is being cancelled (Python 3.11+ can tell)."""
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)
    return bool(cancelling()) if cancelling is not None else False


def _consume_exception(task: asyncio.Future[Token]) -> None:
    # Mark the exception retrieved: every waiter may have been cancelled already.
    if not task.cancelled():
        task.exception()
