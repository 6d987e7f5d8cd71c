"""Bearer tokens: the model, the pure rules for reading and refreshing them, and stores."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, Protocol, runtime_checkable

import attrs

__all__ = [
    "MemoryTokenStore",
    "Token",
    "TokenStore",
    "needs_refresh",
    "parse_token",
]

# Below this an "expiry" is a duration, as an old autocall doc sends (expire_at: 15552000).
_EPOCH_THRESHOLD = 1_000_000_000


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc)


@attrs.frozen(repr=False)
class Token:
    """A bearer token.

    Attributes:
        access_token: the opaque token string (never shown in a repr).
        expires_at: when it expires (aware, UTC), or None when the server did not say.
        token_type: as the server named it; requests always send ``Bearer``.
        issued_at: when this process (or the one that stored it) fetched it.
    """

    access_token: str
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
        """The inverse of ``to_dict``."""
        expires, issued = data.get("expires_at"), data.get("issued_at")
        return cls(
            access_token=str(data["access_token"]),
            expires_at=_utc(float(expires)) if expires is not None else None,
            token_type=str(data.get("token_type") or "Bearer"),
            issued_at=_utc(float(issued)) if issued is not None else None,
        )


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _expiry(data: Mapping[str, Any], now: float) -> datetime | None:
    for key in ("expired_in", "expires_in"):
        seconds = _number(data.get(key))
        if seconds is not None:
            return _utc(now + seconds)
    for key in ("expire_at", "expired", "expires_at", "expired_at"):
        value = data.get(key)
        stamp = _number(value)
        if stamp is not None:
            return _utc(now + stamp if stamp < _EPOCH_THRESHOLD else stamp)
        if isinstance(value, str) and value.strip():
            try:
                parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            except ValueError:
                continue
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    return None


def parse_token(body: object, now: float) -> Token | None:
    """The token in a token response, or None when the body holds none.

    Accepts every shape the API versions use: wrapped in ``data`` or flat; the token
    as ``token`` or ``access_token``; the expiry as ``expired_in`` (seconds from now),
    ``expire_at`` or ``expired`` (Unix seconds, or a duration when below 10^9).
    """
    if not isinstance(body, Mapping):
        return None
    data = body.get("data")
    if not isinstance(data, Mapping):
        data = body
    raw = data.get("token") or data.get("access_token")
    if not isinstance(raw, str) or not raw.strip():
        return None
    token_type = data.get("token_type")
    return Token(
        access_token=raw.strip(),
        expires_at=_expiry(data, now),
        token_type=token_type if isinstance(token_type, str) and token_type else "Bearer",
        issued_at=_utc(now),
    )


def needs_refresh(token: Token, now: float, refresh_leeway: float) -> bool:
    """Whether ``token`` should be replaced before use.

    The effective leeway is ``min(refresh_leeway, lifetime / 2)``, so a short-lived token
    never causes a refresh storm. A token with no expiry, or one that had already expired
    when it was fetched (clock skew), is used until the server answers 401.
    """
    if token.expires_at is None:
        return False
    lifetime = token.lifetime
    if lifetime is not None and lifetime <= 0:
        return False
    leeway = refresh_leeway if lifetime is None else min(refresh_leeway, lifetime / 2)
    return now >= token.expires_at.timestamp() - leeway


@runtime_checkable
class TokenStore(Protocol):
    """Where a client keeps its token; share one between processes to share the token."""

    async def load(self) -> Token | None:
        """The stored token, or None."""

    async def save(self, token: Token) -> None:
        """Store ``token``, replacing any other."""


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
