"""De-duplication of webhook deliveries: the ``Dedupe`` protocol and ``MemoryDedupe``.

The PBX re-sends an event when the receiver is slow to answer, so the same
(``call_id``, ``state``) may arrive twice, even twice at once. The receiver asks the store
to ``claim`` the event's key before running the handler:

- ``Claim.NEW``: this delivery owns the event. After the handler it calls ``done`` (the
  event is seen) or, when the handler failed, ``release`` (the event stays unseen, so a
  re-send is handled).
- ``Claim.SEEN``: handled already; the delivery is answered 200 without the handler.
- ``Claim.BUSY``: another delivery holds the event right now. The receiver ``wait``\\ s
  for that one's outcome and claims again: a success makes this one ``SEEN``, a failure
  hands the event to this one. So two concurrent deliveries reach the handler once, and a
  failed first one still gets its event handled by the second.

The protocol is async so that a store shared by several processes (Redis) fits it.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = ["Claim", "Dedupe", "EventKey", "MemoryDedupe"]

EventKey = tuple[str, str]
"""``(call_id, state)``: what identifies one event across its re-sent deliveries."""


class Claim(enum.Enum):
    """What ``Dedupe.claim`` found."""

    NEW = "new"
    """Not seen and not in progress: the caller owns it now."""
    SEEN = "seen"
    """Handled already, within the store's window."""
    BUSY = "busy"
    """Another delivery holds it and has not finished."""


@runtime_checkable
class Dedupe(Protocol):
    """A store of the events handled recently and of those being handled."""

    async def claim(self, key: EventKey) -> Claim:
        """Take ``key`` if it is neither seen nor held; say which it is otherwise."""
        ...

    async def done(self, key: EventKey) -> None:
        """The holder handled ``key``: remember it as seen (and let go of it)."""
        ...

    async def release(self, key: EventKey) -> None:
        """The holder failed: let go of ``key`` without marking it seen."""
        ...

    async def wait(self, key: EventKey, timeout: float) -> None:
        """Return once ``key`` is no longer held, or after ``timeout`` seconds."""
        ...


class MemoryDedupe:
    """The default store: one process's memory, bounded in entries and in time.

    Args:
        max_entries: how many seen keys are kept; the oldest go first.
        ttl: seconds a seen key is kept; a delivery after that is handled again.
        clock: monotonic seconds (replaceable in tests).
    """

    def __init__(
        self,
        max_entries: int = 10_000,
        ttl: float = 600.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1 or ttl <= 0:
            raise ValueError("max_entries must be >= 1 and ttl > 0")
        self.max_entries = max_entries
        self.ttl = ttl
        self._clock = clock
        self._seen: OrderedDict[EventKey, float] = OrderedDict()  # key -> when it expires
        self._held: dict[EventKey, asyncio.Event] = {}

    def __repr__(self) -> str:
        return f"MemoryDedupe(seen={len(self._seen)}, held={len(self._held)}, ttl={self.ttl:g})"

    def __len__(self) -> int:
        """How many seen keys are remembered now."""
        self._expire()
        return len(self._seen)

    async def claim(self, key: EventKey) -> Claim:
        self._expire()
        if key in self._seen:
            return Claim.SEEN
        if key in self._held:
            return Claim.BUSY
        self._held[key] = asyncio.Event()
        return Claim.NEW

    async def done(self, key: EventKey) -> None:
        self._seen[key] = self._clock() + self.ttl
        self._seen.move_to_end(key)
        while len(self._seen) > self.max_entries:
            self._seen.popitem(last=False)
        self._let_go(key)

    async def release(self, key: EventKey) -> None:
        self._let_go(key)

    async def wait(self, key: EventKey, timeout: float) -> None:
        held = self._held.get(key)
        if held is None:
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(held.wait(), timeout)

    def _let_go(self, key: EventKey) -> None:
        held = self._held.pop(key, None)
        if held is not None:
            held.set()

    def _expire(self) -> None:
        # Every entry lives ``ttl``, so insertion order is expiry order: trim the front.
        now = self._clock()
        while self._seen:
            key, expires = next(iter(self._seen.items()))
            if expires > now:
                break
            del self._seen[key]
