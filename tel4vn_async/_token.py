"""Bearer tokens: the model, the pure rules for reading and refreshing them, and stores."""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timezone
from typing import Any, Protocol, TypeGuard, runtime_checkable

import attrs

__all__ = [
    "MemoryTokenStore",
    "SharedTokenStore",
    "Token",
    "TokenStore",
    "needs_refresh",
    "parse_token",
    "refresh_at",
]

# Below this an "expiry" is a duration, as an old autocall doc sends (expire_at: 15552000).
_EPOCH_THRESHOLD = 1_000_000_000
_LATEST = 253_402_214_400.0  # 9999-12-31T00:00:00Z
# The token goes into the Authorization header: visible ASCII only, so a CR/LF (header
# injection), a space or a control character can never ride along.
_HEADER_SAFE = re.compile(r"[\x21-\x7e]+")


def _utc(ts: float) -> datetime:
    """The aware UTC time of Unix seconds ``ts``.

    Raises:
        ValueError: ``ts`` is NaN, infinite or outside years 1 to 9999.
    """
    try:
        return datetime.fromtimestamp(ts, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"not a usable time: {ts!r}") from None


def _header_safe(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and _HEADER_SAFE.fullmatch(value) is not None


def _check_access_token(_: object, __: object, value: str) -> None:
    if not _header_safe(value):
        raise ValueError("a token must be visible ASCII (no spaces, no control characters)")


@attrs.frozen(repr=False)
class Token:
    """A bearer token.

    Attributes:
        access_token: the opaque token string (never shown in a repr). Visible ASCII
            only, as it goes into a header: anything else raises ``ValueError``.
        expires_at: when it expires (aware, UTC), or None when the server did not say.
        token_type: as the server named it; requests always send ``Bearer``.
        issued_at: when this process (or the one that stored it) fetched it.
    """

    access_token: str = attrs.field(validator=_check_access_token)
    expires_at: datetime | None = None
    token_type: str = "Bearer"
    issued_at: datetime | None = None

    @property
    def lifetime(self) -> float | None:
        """Seconds between issue and expiry, when both are known."""
        if self.expires_at is None or self.issued_at is None:
            return None
        return (self.expires_at - self.issued_at).total_seconds()

    def __repr__(self) -> str:
        return (
            f"Token(access_token='***', expires_at={self.expires_at!r}, "
            f"token_type={self.token_type!r})"
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, for a ``TokenStore`` that persists tokens."""
        return {
            "access_token": self.access_token,
            "expires_at": self.expires_at.timestamp() if self.expires_at else None,
            "token_type": self.token_type,
            "issued_at": self.issued_at.timestamp() if self.issued_at else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Token:
        """The inverse of ``to_dict``.

        Raises:
            ValueError: ``data`` is not such a dict: not a mapping, no header-safe
                ``access_token``, a time that is not Unix seconds within years 1 to 9999,
                a ``token_type`` that is not a string.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"a stored token is a JSON object, not {type(data).__name__}")
        access_token, token_type = data.get("access_token"), data.get("token_type") or "Bearer"
        if not isinstance(access_token, str) or not isinstance(token_type, str):
            raise ValueError("a stored token's access_token and token_type are strings")
        return cls(
            access_token=access_token,  # the validator checks it is header-safe
            expires_at=_stored_time(data.get("expires_at")),
            token_type=token_type,
            issued_at=_stored_time(data.get("issued_at")),
        )


def _stored_time(value: object) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("a stored token's time is not Unix seconds")
    try:
        seconds = float(value)
    except (OverflowError, ValueError):
        raise ValueError("a stored token's time is not Unix seconds") from None
    return _utc(seconds)


def _number(value: object) -> float | None:
    """A finite number from a number or a numeric string; else None (bools included)."""
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, int | float):
            number = float(value)
        elif isinstance(value, str):
            number = float(value.strip())
        else:
            return None
    except (OverflowError, ValueError):  # an int beyond a float's range, or not a number
        return None
    return number if math.isfinite(number) else None


def _when(stamp: float) -> datetime | None:
    """The expiry at Unix seconds ``stamp``, or None when it is no usable time."""
    # Up to a day short of year 10000: an expiry so far out is "never" all the same, and
    # the margin keeps float rounding from pushing a stored one out of range.
    if not 0 < stamp < _LATEST:
        return None
    return _utc(stamp)


def _expiry(data: Mapping[str, Any], now: float) -> datetime | None:
    for key in ("expired_in", "expires_in"):
        seconds = _number(data.get(key))
        if seconds is not None:
            return _when(now + seconds)
    for key in ("expire_at", "expired", "expires_at", "expired_at"):
        value = data.get(key)
        stamp = _number(value)
        if stamp is not None:
            return _when(now + stamp if stamp < _EPOCH_THRESHOLD else stamp)
        if isinstance(value, str) and value.strip():
            try:
                parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
                if parsed.tzinfo is None:
                    parsed = parsed.replace(tzinfo=timezone.utc)
                # Through Unix seconds: every expiry is then a time a store can keep, and
                # Go's zero time (0001-01-01) is no expiry, as everywhere else.
                return _when(parsed.timestamp())
            except (OverflowError, ValueError):
                continue
    return None


def parse_token(body: object, now: float) -> Token | None:
    """The token in a token response, or None when the body holds none.

    Accepts every shape the API versions use: wrapped in ``data`` or flat; the token
    as ``token`` or ``access_token``; the expiry as ``expired_in`` (seconds from now),
    ``expire_at`` or ``expired`` (Unix seconds, or a duration when below 10^9).

    A token that is not visible ASCII once surrounding spaces and tabs are trimmed (a
    CR or LF, any control character, an inner space, non-ASCII) is no token: it would
    go into a header. An expiry that is unusable (NaN, an infinity, a bool, a time
    beyond year 9999 such as 1e20 seconds) is no expiry: the token is used until the
    server answers 401, as one that never said when it expires.
    """
    if not isinstance(body, Mapping):
        return None
    data = body.get("data")
    if not isinstance(data, Mapping):
        data = body
    raw = data.get("token") or data.get("access_token")
    if not isinstance(raw, str):
        return None
    access_token = raw.strip(" \t")
    if not _header_safe(access_token):
        return None
    token_type = data.get("token_type")
    return Token(
        access_token=access_token,
        expires_at=_expiry(data, now),
        token_type=token_type if _header_safe(token_type) else "Bearer",
        issued_at=_utc(now),
    )


def refresh_at(token: Token, refresh_leeway: float) -> float:
    """The Unix time from which ``token`` should be replaced before use (``inf``: never).

    The effective leeway is ``min(refresh_leeway, lifetime / 2)``, so a short-lived token
    never causes a refresh storm. A token with no expiry, or one that had already expired
    when it was fetched (clock skew), is used until the server answers 401.
    """
    if token.expires_at is None:
        return math.inf
    lifetime = token.lifetime
    if lifetime is not None and lifetime <= 0:
        return math.inf
    leeway = refresh_leeway if lifetime is None else min(refresh_leeway, lifetime / 2)
    return token.expires_at.timestamp() - leeway


def needs_refresh(token: Token, now: float, refresh_leeway: float) -> bool:
    """Whether ``token`` should be replaced before use at ``now`` (see ``refresh_at``)."""
    return now >= refresh_at(token, refresh_leeway)


@runtime_checkable
class TokenStore(Protocol):
    """Where a client keeps its token; share one between processes to share the token."""

    async def load(self) -> Token | None:
        """The stored token, or None."""

    async def save(self, token: Token) -> None:
        """Store ``token``, replacing any other."""


@runtime_checkable
class SharedTokenStore(TokenStore, Protocol):
    """A ``TokenStore`` shared by a fleet of processes, with a single flight across them.

    A ``Session`` whose store has these methods leaves the whole refresh to it: when the
    token in hand is missing or stale, the session (one call per process at a time) asks
    the store to ``obtain`` one, and tells it to ``discard`` a token the server refused.
    ``RedisTokenStore`` (``tel4vn_async.redis``) is one.
    """

    async def obtain(
        self,
        fetch: Callable[[], Awaitable[Token]],
        usable: Callable[[Token], bool],
    ) -> Token:
        """A usable token: the stored one, or one fetched by exactly one process of the fleet.

        Args:
            fetch: requests a new token from the API (and counts it); the store calls it
                only when no usable token is stored and no other process is fetching one,
                and saves its result for the others.
            usable: whether a stored token will do for the caller (not refused by the
                server, not stale); a token ``fetch`` returns is used as it is.

        Returns:
            The token to use.

        Raises:
            Exception: what ``fetch`` raised (the next call tries again), or the store's
                own error when it cannot be reached.
        """
        ...

    async def discard(self, token: Token) -> None:
        """Forget ``token`` for the whole fleet, but only if it is still the one stored.

        Called after the server refused it (401), so a process that starts now does not
        load it; a newer token another process stored meanwhile is kept.
        """
        ...


class MemoryTokenStore:
    """The default ``TokenStore``: one token, in this process's memory."""

    __slots__ = ("_token",)

    def __init__(self) -> None:
        self._token: Token | None = None

    async def load(self) -> Token | None:
        return self._token

    async def save(self, token: Token) -> None:
        self._token = token

    def __repr__(self) -> str:
        return f"MemoryTokenStore(has_token={self._token is not None})"
