"""Webhooks: typed call events, a receiver for aiohttp apps and bots, de-duplication.

The PBX posts a JSON body to your ``callback_url`` for each call event it was asked for
(``cc.events.subscribe(url)`` registers the four kinds, once). This package reads them::

    from aiohttp import web
    from tel4vn_async.webhooks import CallEvent, webhook_app

    async def on_event(event: CallEvent) -> None:
        print(event.call_id, event.state, event.duration)

    web.run_app(webhook_app(on_event, api_key="the callback_apikey"))

- ``parse_event(body)``: pure (no I/O): bytes, str or a mapping to a ``CallEvent``, or
  ``ValidationError``. Use it in any framework (see ``examples/webhook_fastapi.py``).
- ``webhook_app(handler, ...)`` / ``add_webhook_route(app, handler, ...)``: the
  ``aiohttp.web`` receiver: body cap (413), key check (401), malformed event (400),
  handler failure (500, logged; the PBX re-sends), 2xx once the handler has run.
- De-duplication on (``call_id``, ``state``): the PBX re-sends a hook when the receiver
  is slow. A ``Dedupe`` store (``MemoryDedupe`` by default: 10,000 events for 10
  minutes) lets each event reach the handler once; concurrent repeats wait for the first
  delivery's outcome; a delivery whose handler failed leaves the event unseen.
- ``EventStream``: ``async for event in stream`` for bots, with a bounded queue; when it
  is full, deliveries get 503 with ``Retry-After`` and the PBX's re-send is taken later.

The call-event flow (the spec's note): ``ringing``, ``answered`` and ``hangup`` follow
a call as it happens (``duration``/``billsec`` come with ``hangup``); ``cdr`` comes once
the PBX has written the call's CDR (with ``status`` and ``recording_url``). An outbound
call's events all share one ``call_id``, as do an inbound call's when it rings one
extension. An inbound call through a ring group, a queue or an IVR rings several
extensions: each extension's ringing, answered and hangup share that leg's ``call_id``,
and the ``cdr`` event carries another one, the whole flow's. ``join_events`` and
``CallTracker`` group events by ``call_id`` and join the cdr by ``sip_call_id`` when
its ``call_id`` differs; where the legs report no or another ``sip_call_id`` (the API
does not document it), the cdr stays alone. Later API versions add ``missed`` and
``cdr_autocall`` states and more fields; an unknown state is kept as ``UNKNOWN`` with
``state_raw``.

Where the PBX puts ``callback_apikey`` in its request is not documented: the receiver
accepts it in ``Authorization`` (with or without ``Bearer``), ``X-API-Key``, a header you
name, or an ``api_key`` field of the body (which is then dropped from the event's
``raw``). Neither the key nor the body is ever logged.
"""

from ._dedupe import Claim, Dedupe, EventKey, MemoryDedupe
from ._event import MAX_BODY, MAX_DEPTH, CallEvent, CallState, parse_event
from ._join import CallRecord, CallTracker, join_events
from ._receiver import DEFAULT_PATH, Handler, RetryLater, add_webhook_route, webhook_app
from ._stream import EventStream

__all__ = [
    "DEFAULT_PATH",
    "MAX_BODY",
    "MAX_DEPTH",
    "CallEvent",
    "CallRecord",
    "CallState",
    "CallTracker",
    "Claim",
    "Dedupe",
    "EventKey",
    "EventStream",
    "Handler",
    "MemoryDedupe",
    "RetryLater",
    "add_webhook_route",
    "join_events",
    "parse_event",
    "webhook_app",
]
