"""``RedisTokenStore``: one bearer token for a fleet of processes, refreshed by one of them.

Keys (``prefix`` ``tel4vn``, the store's ``name`` in a Redis Cluster hash tag so both
live on one node)::

    tel4vn:token:{name}        the token, Token.to_dict() as JSON, with a TTL to its expiry
    tel4vn:token:{name}:lock   the refresh lock: a random value, SET NX PX lock_timeout

The distributed single flight: a process whose session finds no usable token takes the
lock, reads the token again (another process may have stored one just before), fetches
one, stores it and lets go of the lock with a compare-and-delete (a lock that expired and
was taken by another process is not deleted). The others poll: they take a usable token
as soon as one is stored, or the lock once it is free. A holder that dies stops nobody
for longer than ``lock_timeout``: the lock expires, and the next poller takes it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import secrets
import time
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from tel4vn_async._token import Token
from tel4vn_async.errors import ValidationError
from tel4vn_async.redis._connect import (
    RedisHolder,
    check_prefix,
    check_seconds,
    store_errors,
)

__all__ = ["RedisTokenStore"]

_log = logging.getLogger("tel4vn_async.redis")

# Delete KEYS[1] only while it still holds ARGV[1]: our lock, not a successor's.
_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""

# Delete the stored token only if it is still the refused one (ARGV[1], its access_token).
_DISCARD = """
local raw = redis.call('GET', KEYS[1])
if not raw then
    return 0
end
local ok, data = pcall(cjson.decode, raw)
if ok and type(data) == 'table' and data['access_token'] == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


_NAME = re.compile(r"[\x21-\x7a|~]{1,128}")  # visible ASCII but { and }


def _check_name(name: object) -> str:
    # The name sits in a Redis Cluster hash tag: a brace would end it early.
    if not isinstance(name, str) or _NAME.fullmatch(name) is None:
        raise ValidationError(
            "name must be 1 to 128 visible ASCII characters without braces", field="name"
        )
    return name


class RedisTokenStore(RedisHolder):
    """A ``SharedTokenStore`` in Redis: one token for every process that names it alike.

    Give each API family and account its own ``name`` (a Call Center token is no good
    for Autocall): derive it from the base URL and a hash of the api_key, never from the
    key itself. Pass the store as ``token_store=`` to every client of the fleet::

        store = RedisTokenStore.from_url("redis://redis:6379/0", "autocall-acme")
        async with AutocallClient(url, api_key=key, token_store=store) as client:
            ...
        await store.aclose()

    Args:
        redis: a ``redis.asyncio.Redis`` client (the caller closes it), or a Redis URL
            (the store then owns its client: close it with ``aclose()``).
        name: what identifies the token among those kept in the same Redis.
        prefix: the first part of every key.
        lock_timeout: seconds the refresh lock lives: the longest a process that died
            while fetching delays the others. Keep it above a token request's duration:
            a fetch still running when its lock expires may be joined by another one.
        poll_interval: seconds between two looks of a process waiting for another's
            refresh.

    Raises:
        ValidationError: ``redis`` neither a client nor a Redis URL, a ``name`` that is
            not 1 to 128 visible ASCII characters without braces, a bad ``prefix``, or
            a time that is not a positive number (``field`` names which).
    """

    def __init__(
        self,
        redis: aioredis.Redis | str,
        name: str,
        *,
        prefix: str = "tel4vn",
        lock_timeout: float = 10.0,
        poll_interval: float = 0.05,
    ) -> None:
        name = _check_name(name)
        prefix = check_prefix(prefix)
        lock_timeout = check_seconds(lock_timeout, "lock_timeout")
        poll_interval = check_seconds(poll_interval, "poll_interval")
        self._hold(redis)
        self.name = name
        """What identifies the token in Redis."""
        self.key = f"{prefix}:token:{{{name}}}"
        """The key holding the token (JSON, with a TTL to its expiry)."""
        self.lock_key = f"{self.key}:lock"
        """The key of the refresh lock."""
        self.lock_timeout = lock_timeout
        self.poll_interval = poll_interval
        self._lock_ms = max(1, math.ceil(lock_timeout * 1000))
        self._unlock = self._redis.register_script(_UNLOCK)
        self._discard = self._redis.register_script(_DISCARD)

    @classmethod
    def from_url(
        cls,
        url: str,
        name: str,
        *,
        prefix: str = "tel4vn",
        lock_timeout: float = 10.0,
        poll_interval: float = 0.05,
    ) -> RedisTokenStore:
        """A store with its own client for the Redis at ``url``; close it with ``aclose()``.

        Raises:
            ValidationError: ``url`` is not a Redis URL, or an argument is invalid.
        """
        return cls(url, name, prefix=prefix, lock_timeout=lock_timeout, poll_interval=poll_interval)

    def __repr__(self) -> str:  # the token never shows, nor the URL
        return f"RedisTokenStore(name={self.name!r}, key={self.key!r})"

    @property
    def redis(self) -> aioredis.Redis:
        """The Redis client in use."""
        return self._redis

    # ------------------------------------------------------------------ TokenStore

    async def load(self) -> Token | None:
        """The stored token, or None (none stored, expired, or unreadable).

        Raises:
            StoreError: Redis could not be reached or failed the command.
        """
        with store_errors("reading the shared token"):
            raw = await self._redis.get(self.key)
        if raw is None:
            return None
        try:
            return Token.from_dict(json.loads(raw))
        except (ValueError, TypeError, RecursionError):
            # Never the value itself in the log: it may hold a token.
            _log.warning("ignoring an unreadable token stored at %s", self.key)
            return None

    async def save(self, token: Token) -> None:
        """Store ``token`` for the fleet, to expire in Redis when the token does.

        A token without an expiry, or whose expiry has passed already by this machine's
        clock (clock skew: it is used until the server refuses it), is kept without one.

        Raises:
            StoreError: Redis could not be reached or failed the command.
        """
        ttl_ms: int | None = None
        if token.expires_at is not None:
            left = token.expires_at.timestamp() - time.time()
            if left > 0.001:
                ttl_ms = math.ceil(left * 1000)
        with store_errors("storing the shared token"):
            await self._redis.set(self.key, json.dumps(token.to_dict()), px=ttl_ms)

    # ------------------------------------------------------------------ SharedTokenStore

    async def obtain(
        self,
        fetch: Callable[[], Awaitable[Token]],
        usable: Callable[[Token], bool],
    ) -> Token:
        """A usable token: the stored one, or one fetched by exactly one process.

        Args:
            fetch: requests a new token from the API; called only by the lock's holder.
            usable: whether a stored token will do for the caller.

        Returns:
            The stored token if usable, else the one this process or another fetched.

        Raises:
            Exception: what ``fetch`` raised, once the lock is let go of (the next
                caller, here or elsewhere, tries again).
            StoreError: Redis could not be reached or failed the command.
        """
        while True:
            token = await self.load()
            if token is not None and usable(token):
                return token
            owner = secrets.token_hex(16)
            with store_errors("taking the token refresh lock"):
                locked = await self._redis.set(self.lock_key, owner, nx=True, px=self._lock_ms)
            if locked:
                try:
                    # Another process may have stored one between our look and the lock.
                    token = await self.load()
                    if token is not None and usable(token):
                        return token
                    token = await fetch()
                    await self.save(token)
                    return token
                finally:
                    await self._let_go(owner)
            await asyncio.sleep(self.poll_interval)

    async def discard(self, token: Token) -> None:
        """Delete the stored token if it is still ``token`` (refused by the server).

        Raises:
            StoreError: Redis could not be reached or failed the command.
        """
        with store_errors("discarding a refused token"):
            await self._discard(keys=[self.key], args=[token.access_token])

    async def _let_go(self, owner: str) -> None:
        try:
            await self._unlock(keys=[self.lock_key], args=[owner])
        except RedisError as error:
            # Not raised over the fetch's own outcome: the lock expires on its own.
            _log.warning(
                "could not release the token lock %s (it expires in %gs): %s",
                self.lock_key,
                self.lock_timeout,
                type(error).__name__,
            )
