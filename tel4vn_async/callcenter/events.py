"""``cc.events``: webhook registrations for call events."""

from __future__ import annotations

import builtins
from typing import Any

import attrs

from .._resource import APIResource
from .._validate import check_enum, check_secret, check_url, path_segment
from ..models.callcenter import Event, EventType
from ._hooks import ALL_EVENTS, EventsArg, subscribe, unsubscribe

__all__ = ["Events"]


@attrs.frozen
class _Done:
    """``{"created": true}`` / ``{"deleted": "true"}``; a body without the flag is success."""

    created: bool | None = None
    deleted: bool | None = None
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


class Events(APIResource):
    """Webhooks: the PBX posts each call event of a kind to a URL of yours."""

    async def list(self) -> builtins.list[Event]:
        """Every webhook registration of the tenant.

        API: GET /v1/event
        """
        return await self._get_list("/v1/event", Event)

    async def create(
        self, callback_url: str, event: EventType | str, callback_apikey: str | None = None
    ) -> bool:
        """Register ``callback_url`` for one kind of call event.

        API: POST /v1/event

        Args:
            callback_url: where the PBX posts the events (http or https, up to 2,048
                characters).
            event: ``hangup``, ``ringing``, ``answered`` or ``cdr`` (an ``EventType``).
            callback_apikey: a key the PBX sends along with each event (a secret: one
                line, up to 1,000 characters, never shown in an error).

        Returns:
            The server's ``created`` flag (the API answers no id: ``list()`` shows it).

        Raises:
            ValidationError: an unknown event, a URL that is not http(s), or a bad
                callback_apikey; nothing sent.
        """
        body: dict[str, str] = {
            "callback_url": check_url(callback_url, "callback_url"),
            "event": check_enum(event, EventType, "event").value,
        }
        if callback_apikey is not None:
            body["callback_apikey"] = check_secret(callback_apikey, "callback_apikey")
        done = await self._post("/v1/event", json=body, cast_to=_Done)
        return done.created is not False

    async def delete(self, event_id: str) -> bool:
        """Delete a webhook registration.

        API: DELETE /v1/event/{id}

        Args:
            event_id: the registration's id (up to 255 characters; not only dots).

        Returns:
            The server's ``deleted`` flag.

        Raises:
            ValidationError: a bad id; nothing sent.
        """
        path = f"/v1/event/{path_segment(event_id, 'event_id')}"
        done = await self._delete(path, cast_to=_Done)
        return done.deleted is not False

    async def subscribe(
        self,
        callback_url: str,
        events: EventsArg = ALL_EVENTS,
        callback_apikey: str | None = None,
    ) -> builtins.list[Event]:
        """Register ``callback_url`` for ``events``, creating only the hooks not there yet.

        API: GET /v1/event, then POST /v1/event for each hook missing

        Idempotent: a bot that subscribes on every start makes no duplicates. A hook
        listed with another ``callback_apikey`` than the one given is replaced (the new
        one created first, then the old one deleted), so rotating the key is one call.

        Args:
            callback_url: where the PBX posts the events (http or https).
            events: the events to hook (``EventType`` or their values); all four by default.
            callback_apikey: the key the PBX sends along (your receiver's ``api_key``).

        Returns:
            The hooks of ``callback_url`` for ``events``, as listed afterwards (the ones
            that were there and the ones created).

        Raises:
            ValidationError: a URL that is not http(s), no or an unknown event, a blank
                key; checked before anything is sent.
        """
        return await subscribe(self, callback_url, events, callback_apikey)

    async def unsubscribe(self, callback_url: str, events: EventsArg | None = None) -> int:
        """Delete the hooks of ``callback_url`` (all of them, or only those for ``events``).

        API: GET /v1/event, then DELETE /v1/event/{id} for each

        Idempotent: a hook already gone is no error.

        Returns:
            How many hooks were deleted (0 when there were none).

        Raises:
            ValidationError: a URL that is not http(s), or an unknown event; nothing sent.
        """
        return await unsubscribe(self, callback_url, events)
