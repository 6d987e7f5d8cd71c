"""The account returned by ``login``."""

from __future__ import annotations

from typing import Any

import attrs

from ._base import SECRET, Model

__all__ = ["Account"]


@attrs.frozen
class Account(Model):
    """An account, as ``POST /v1/auth`` returns it on both APIs."""

    api_key: str = attrs.field(repr=False, metadata={SECRET: True})
    """The key to build a client with (``CallCenterClient(url, api_key=account.api_key)``);
    a secret: never in a ``repr``, nor in ``to_dict()`` unless ``include_secrets=True``."""
    username: str | None = None
    """The account's user name."""
    user_uuid: str | None = None
    """The user's id."""
    domain_uuid: str | None = None
    """The tenant (domain) the user belongs to."""
    extension: str | None = None
    """The user's extension (Call Center only)."""
    level: str | None = None
    """The user's role, e.g. ``admin``."""
    enabled: bool | None = attrs.field(default=None, metadata={"keys": ("enabled", "user_enabled")})
    """Whether the user is enabled (``enabled`` or ``user_enabled``; sent as a string)."""
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)
    """The response's fields as received, unknown ones included."""
