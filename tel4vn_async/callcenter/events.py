"""``cc.events``: webhook registrations for call events."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from urllib.parse import urlsplit

from .._convert import structure
from .._validate import check_enum
from ..errors import ValidationError
from ..models.callcenter import Event, EventType
from ..pagination import envelope
from ._base import Resource, path_id

__all__ = ["Events"]


def _callback_url(value: object) -> str:
    url = value.strip() if isinstance(value, str) else ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationError(
            f"callback_url must be an http:// or https:// URL, got {value!r}", field="callback_url"
        )
    return url


class Events:
    """Webhooks: the PBX posts each call event of a kind to a URL of yours."""

    def __init__(self, resource: Resource) -> None:
        self._r = resource

    async def list(self) -> builtins.list[Event]:
        """Every webhook registration of the tenant.

        API: GET /v1/event
        """
        body = await self._r._call("GET", "/v1/event")
        records, _ = envelope(body)
        return [structure(r, Event) for r in records if isinstance(r, Mapping)]

    async def create(
        self, callback_url: str, event: EventType | str, callback_apikey: str | None = None
    ) -> bool:
        """Register ``callback_url`` for one kind of call event.

        API: POST /v1/event

        Args:
            callback_url: where the PBX posts the events (http or https).
            event: ``hangup``, ``ringing``, ``answered`` or ``cdr`` (an ``EventType``).
            callback_apikey: a key the PBX sends along with each event.

        Returns:
            The server's ``created`` flag (the API answers no id: ``list()`` shows it).

        Raises:
            ValidationError: an unknown event or a URL that is not http(s); nothing sent.
        """
        body: dict[str, str] = {
            "callback_url": _callback_url(callback_url),
            "event": check_enum(event, EventType, "event").value,
        }
        if callback_apikey is not None:
            body["callback_apikey"] = callback_apikey
        answer = await self._r._call("POST", "/v1/event", json=body)
        return _flag(answer, "created")

    async def delete(self, event_id: str) -> bool:
        """Delete a webhook registration.

        API: DELETE /v1/event/{id}

        Returns:
            The server's ``deleted`` flag.
        """
        answer = await self._r._call("DELETE", f"/v1/event/{path_id(event_id, 'event_id')}")
        return _flag(answer, "deleted")


def _flag(body: object, key: str) -> bool:
    # {"created": true}, {"created": "true"}; a body without the flag (a bare "ok") is success.
    if not isinstance(body, Mapping) or key not in body:
        return True
    value = body[key]
    if isinstance(value, str):
        return value.strip().lower() in ("true", "t", "1")
    return bool(value)
