"""``RedisDedupe``: webhook de-duplication shared by every replica of a receiver.

One key per event, ``tel4vn:webhook:<state>:<call_id>`` (the state percent-escaped, so
no two events share a key), holding:

- ``busy:<owner>`` while one delivery runs the handler: taken with ``SET NX PX busy_ttl``,
  so a replica that dies while handling frees the event after ``busy_ttl``;
- ``seen`` once the handler succeeded, for ``ttl`` (``SET ... PX ttl``).

A failed handler lets go with a compare-and-delete (only its own ``busy`` value), so the
re-sent event is handled by whichever replica gets it.
"""

from __future__ import annotations

import asyncio
import math
import secrets
from urllib.parse import quote

import redis.asyncio as aioredis

from tel4vn_async.redis._connect import (
    RedisHolder,
    check_prefix,
    check_seconds,
    store_errors,
)
from tel4vn_async.webhooks import Claim, EventKey

__all__ = ["RedisDedupe"]

_SEEN = "seen"
_BUSY = "busy:"

# Delete KEYS[1] only while it still holds ARGV[1]: our own "busy", not a successor's.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisDedupe(RedisHolder):
    """A webhook ``Dedupe`` store in Redis, shared by several receiver replicas.

    Pass one to each replica's ``webhook_app(..., dedupe=RedisDedupe(...))``: a
    (``call_id``, ``state``) event then reaches one handler in all, even when the PBX
    re-sends it to another replica, or to two at once.

    Args:
        redis: a ``redis.asyncio.Redis`` client (the caller closes it), or a Redis URL
            (the store then owns its client: close it with ``aclose()``).
        prefix: the first part of every key.
        ttl: seconds an event handled is remembered; a re-send after that runs again.
        busy_ttl: seconds an event stays held by a delivery whose replica went silent
            (died): after that a re-send is handled. Keep it above the handler's run time.
        poll_interval: seconds between two looks of a delivery waiting for another's.

    Raises:
        ValidationError: ``redis`` neither a client nor a Redis URL, a bad ``prefix``,
            or a time that is not a positive number (``field`` names which).
    """

    def __init__(
        self,
        redis: aioredis.Redis | str,
        *,
        prefix: str = "tel4vn",
        ttl: float = 600.0,
        busy_ttl: float = 30.0,
        poll_interval: float = 0.05,
    ) -> None:
        prefix = check_prefix(prefix)
        ttl = check_seconds(ttl, "ttl")
        busy_ttl = check_seconds(busy_ttl, "busy_ttl")
        poll_interval = check_seconds(poll_interval, "poll_interval")
        self._hold(redis)
        self.prefix = prefix
        self.ttl = ttl
        self.busy_ttl = busy_ttl
        self.poll_interval = poll_interval
        self._ttl_ms = max(1, math.ceil(ttl * 1000))
        self._busy_ms = max(1, math.ceil(busy_ttl * 1000))
        self._owners: dict[EventKey, str] = {}
        self._release = self._redis.register_script(_RELEASE)

    def __repr__(self) -> str:
        return (
            f"RedisDedupe(prefix={self.prefix!r}, ttl={self.ttl:g}, busy_ttl={self.busy_ttl:g}, "
            f"held={len(self._owners)})"
        )

    def key(self, event: EventKey) -> str:
        """The Redis key of an event's (``call_id``, ``state``)."""
        call_id, state = event
        return f"{self.prefix}:webhook:{quote(state, safe='')}:{call_id}"

    async def claim(self, key: EventKey) -> Claim:
        """Take the event if no replica has seen or holds it; say which it is otherwise.

        Raises:
            StoreError: Redis could not be reached or failed the command.
        """
        name = self.key(key)
        while True:
            owner = _BUSY + secrets.token_hex(8)
            with store_errors("claiming a webhook event"):
                taken = await self._redis.set(name, owner, nx=True, px=self._busy_ms)
                value = None if taken else _text(await self._redis.get(name))
            if taken:
                self._owners[key] = owner
                return Claim.NEW
            if value == _SEEN:
                return Claim.SEEN
            if value is not None:
                return Claim.BUSY
            # Let go of (or expired) between the two commands: try to take it again.

    async def done(self, key: EventKey) -> None:
        """Remember the event as seen, for every replica, for ``ttl`` seconds.

        Raises:
            StoreError: Redis could not be reached or failed the command.
        """
        self._owners.pop(key, None)
        with store_errors("marking a webhook event seen"):
            await self._redis.set(self.key(key), _SEEN, px=self._ttl_ms)

    async def release(self, key: EventKey) -> None:
        """Let go of the event unseen (the handler failed), if this delivery still holds it.

        Raises:
            StoreError: Redis could not be reached or failed the command.
        """
        owner = self._owners.pop(key, None)
        if owner is not None:
            with store_errors("releasing a webhook event"):
                await self._release(keys=[self.key(key)], args=[owner])

    async def wait(self, key: EventKey, timeout: float) -> None:
        """Return once no delivery holds the event, or after ``timeout`` seconds.

        Raises:
            StoreError: Redis could not be reached or failed the command.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        name = self.key(key)
        while True:
            with store_errors("waiting for a webhook event"):
                value = _text(await self._redis.get(name))
            if value is None or not value.startswith(_BUSY):
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            await asyncio.sleep(min(self.poll_interval, remaining))


def _text(value: bytes | str | None) -> str | None:
    """A value as text, whether the client decodes responses or not."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value
