"""Connecting to Redis: one client from a URL or the caller's own, and a printable URL."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from tel4vn_async.errors import StoreError

__all__ = ["connect", "masked", "store_errors"]


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
        ValueError: the URL is not a Redis URL (its text is given with the password
            masked).
        TypeError: neither a string nor a ``redis.asyncio.Redis``.
    """
    if isinstance(url_or_client, aioredis.Redis):
        return url_or_client
    if not isinstance(url_or_client, str):
        raise TypeError(
            f"expected a Redis URL or a redis.asyncio.Redis, not {type(url_or_client).__name__}"
        )
    try:
        client: aioredis.Redis = aioredis.Redis.from_url(url_or_client)
    except ValueError:
        # redis-py's message may quote the URL, password and all.
        raise ValueError(f"not a Redis URL: {masked(url_or_client)}") from None
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
