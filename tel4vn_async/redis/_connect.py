"""Connecting to Redis: one client from a URL or the caller's own, and a printable URL."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from types import TracebackType
from typing import TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from tel4vn_async._validate import check_number
from tel4vn_async.errors import StoreError, ValidationError

__all__ = ["RedisHolder", "check_prefix", "check_seconds", "connect", "masked", "store_errors"]

_H = TypeVar("_H", bound="RedisHolder")


class RedisHolder:
    """An object on a Redis client it was given, or made from a URL and owns: ``aclose()``
    (and ``async with``) closes the client only in the second case."""

    _redis: aioredis.Redis
    _owns: bool

    def _hold(self, redis: aioredis.Redis | str) -> None:
        self._redis = connect(redis)
        self._owns = self._redis is not redis

    async def aclose(self) -> None:
        """Close the Redis client if this object made it (from a URL); else do nothing."""
        if self._owns:
            await self._redis.aclose()

    async def __aenter__(self: _H) -> _H:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


_PREFIX = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def check_prefix(prefix: object, field: str = "prefix") -> str:
    """A key prefix: 1 to 64 letters, digits, ``_ . : -`` (no braces: they would open a
    Redis Cluster hash tag; no spaces).

    Raises:
        ValidationError: anything else (``field`` names the argument).
    """
    if not isinstance(prefix, str) or _PREFIX.fullmatch(prefix) is None:
        shown = prefix if isinstance(prefix, str) else type(prefix).__name__
        raise ValidationError(
            f"{field} must be 1 to 64 letters, digits, '_', '.', ':' or '-', got {shown!r}",
            field=field,
        )
    return prefix


def check_seconds(value: object, field: str) -> float:
    """A positive, finite number of seconds (at most a year).

    Raises:
        ValidationError: not a number (bools and strings included), not positive, NaN,
            infinite or above a year (``field`` names the argument).
    """
    return check_number(value, field, low=0.0, high=365 * 86400.0, low_exclusive=True)


@contextlib.contextmanager
def store_errors(doing: str) -> Iterator[None]:
    """Turn a Redis failure while ``doing`` something into the SDK's ``StoreError``.

    redis-py's messages name the server's address, never a password, so they are kept.
    """
    try:
        yield
    except RedisError as error:
        detail = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        raise StoreError(f"Redis failed while {doing} ({detail})") from error


def connect(url_or_client: str | aioredis.Redis) -> aioredis.Redis:
    """A Redis client: the one given, or a new one for a URL.

    A client made here is the caller's to close (``await client.aclose()``); a client
    passed in is returned as it is. Making a client opens no connection yet.

    Args:
        url_or_client: a URL such as ``redis://:password@host:6379/0`` (``rediss://``
            for TLS, ``unix://`` for a socket), or an existing ``redis.asyncio.Redis``.

    Returns:
        The client.

    Raises:
        ValidationError: neither a string nor a ``redis.asyncio.Redis``, or a string
            that is not a Redis URL (shown with its password masked); ``field`` is
            ``"redis"``. It is a ``ValueError`` too.
    """
    if isinstance(url_or_client, aioredis.Redis):
        return url_or_client
    if not isinstance(url_or_client, str):
        raise ValidationError(
            "redis must be a Redis URL or a redis.asyncio.Redis, "
            f"not {type(url_or_client).__name__}",
            field="redis",
        )
    scheme, _, rest = url_or_client.partition("://")
    if scheme.lower() in ("redis", "rediss"):
        database = rest.split("?", 1)[0].split("#", 1)[0].partition("/")[2]
        if database and not database.isdigit():
            # redis-py would quietly take database 0 for "/abc".
            raise ValidationError(
                f"redis must be a Redis URL with a database number, got {masked(url_or_client)}",
                field="redis",
            )
    try:
        client: aioredis.Redis = aioredis.Redis.from_url(url_or_client)
    except ValueError:
        # redis-py's message may quote the URL, password and all.
        raise ValidationError(
            f"redis must be a Redis URL, got {masked(url_or_client)}", field="redis"
        ) from None
    return client


def masked(url: str) -> str:
    """The URL with its password (and a user name's secret part) replaced by ``***``.

    ``redis://:s3cret@host:6379/0`` becomes ``redis://:***@host:6379/0``; a URL without a
    password comes back unchanged. A ``password=`` query parameter is masked too.

    Args:
        url: a Redis URL.

    Returns:
        The URL, safe to print or log.
    """
    # Text surgery rather than urlsplit/urlunsplit, which would rewrite ``unix:///path``.
    url = _USERINFO.sub(_mask_userinfo, url, count=1)
    return _PASSWORD_PARAM.sub(r"\1***", url)


_USERINFO = re.compile(r"^([a-z][a-z0-9+.-]*://)([^/?#]*)@", re.IGNORECASE)
_PASSWORD_PARAM = re.compile(r"([?&]password=)[^&#]*", re.IGNORECASE)


def _mask_userinfo(match: re.Match[str]) -> str:
    user, colon, _password = match.group(2).partition(":")
    return f"{match.group(1)}{user}:***@" if colon else match.group(0)
