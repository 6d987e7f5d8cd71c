"""``cc.events.subscribe`` / ``unsubscribe``: idempotent webhook registration.

The API registers one (URL, event) pair per ``POST /v1/event`` and answers no id; it
refuses nothing twice, so a bot that registers on every start would pile up duplicate
hooks (and duplicate deliveries). These compare with ``GET /v1/event`` first.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from .._validate import check_enum, check_list, check_secret, check_url
from ..errors import NotFoundError
from ..models.callcenter import Event, EventType

if TYPE_CHECKING:
    from .events import Events

__all__ = ["ALL_EVENTS", "EventsArg", "subscribe", "unsubscribe"]

ALL_EVENTS: tuple[EventType, ...] = tuple(t for t in EventType if t is not EventType.UNKNOWN)
"""Every event the API can hook: ringing, answered, hangup, cdr."""

EventsArg = Iterable[EventType | str] | EventType | str


def _event_type(value: object, field: str) -> EventType:
    return check_enum(value, EventType, field)


def event_types(events: EventsArg) -> list[EventType]:
    """The events asked for, checked, each once, in the order given."""
    items: object = [events] if isinstance(events, str) else events
    return list(dict.fromkeys(check_list(items, "events", _event_type)))


def _key_differs(hook: Event, key: str | None) -> bool:
    # A listing that shows no callback_apikey field at all cannot be compared: keep the hook.
    if key is None or "callback_apikey" not in hook.raw:
        return False
    return (hook.callback_apikey or "") != key


async def subscribe(
    events_api: Events, callback_url: object, events: EventsArg, callback_apikey: object
) -> list[Event]:
    url = check_url(callback_url, "callback_url")
    wanted = event_types(events)
    key = None if callback_apikey is None else check_secret(callback_apikey, "callback_apikey")

    def mine(hooks: list[Event]) -> list[Event]:
        return [h for h in hooks if h.callback_url == url and h.event_name in wanted]

    hooks = mine(await events_api.list())
    stale = [h for h in hooks if _key_differs(h, key)]
    kept = {h.event_name for h in hooks if not _key_differs(h, key)}
    missing = [t for t in wanted if t not in kept]
    for event_type in missing:
        await events_api.create(url, event_type, key)
    for hook in stale:  # after creating the new one: no event is left without a hook
        await _delete_quietly(events_api, hook)
    if not (missing or stale):
        return hooks
    return mine(await events_api.list())


async def unsubscribe(events_api: Events, callback_url: object, events: EventsArg | None) -> int:
    url = check_url(callback_url, "callback_url")
    wanted = None if events is None else event_types(events)
    removed = 0
    for hook in await events_api.list():
        if hook.callback_url == url and (wanted is None or hook.event_name in wanted):
            removed += await _delete_quietly(events_api, hook)
    return removed


async def _delete_quietly(events_api: Events, hook: Event) -> bool:
    """Delete ``hook``; one already gone (a concurrent unsubscribe) is no error."""
    if not hook.id:
        return False
    try:
        return await events_api.delete(hook.id)
    except NotFoundError:
        return False
