"""FakeTel4vn's webhooks: the events of the calls it places, POSTed to their hooks.

A click-to-call (``GET /v1/click2call``, ``GET /v1/click2call/async``,
``POST /v2/click2call``) that succeeds sends its ringing, answered, hangup and cdr
events, all with the call's ``call_id``, to the hooks registered for each event
(``POST /v1/event``). An autocall call (``POST /v1/autocall/otp``, ``/v1/autocall/voice``)
sends its events to the ``callback_url`` of its request, one call per callee; as in its
report, a callee whose number ends in an odd digit never answers (no answered event,
``billsec`` 0, cdr ``status`` ``no-answered``).

Deliveries run as background tasks after the answer has gone out, in order, one event
after the other; ``await fake.deliveries_settled()`` waits for them, and closing the fake
cancels those still running. The key registered (``callback_apikey``) is sent as
``Authorization: Bearer <key>``: where the real PBX puts it is not documented.

For safety the fake delivers only to hosts on this machine (``webhook_hosts``); a
delivery elsewhere is logged with an error and not sent.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import attrs
from aiohttp import web

from ._base import FakeBase, json_body

__all__ = ["WebhookDelivery", "WebhookFake"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_CLICK2CALL = frozenset(
    {("GET", "/v1/click2call"), ("GET", "/v1/click2call/async"), ("POST", "/v2/click2call")}
)
_AUTOCALL = frozenset({("POST", "/v1/autocall/otp"), ("POST", "/v1/autocall/voice")})
_HOTLINE = "19001919"
_DOMAIN = "test.tel4vn.com"


@attrs.define
class WebhookDelivery:
    """One POST of an event by the fake, and how the receiver answered."""

    url: str
    """Where it was sent."""
    event: dict[str, Any]
    """The body sent."""
    attempt: int = 1
    """1 for the first delivery of an event, 2 and up for its re-deliveries."""
    status: int | None = None
    """The receiver's HTTP status; None when no answer came (see ``error``)."""
    error: str | None = None
    """Why no answer came: connection refused, a timeout, a host not allowed."""
    api_key: str | None = attrs.field(default=None, repr=False)
    """The key sent (``Authorization: Bearer``); never shown in ``repr``."""

    @property
    def ok(self) -> bool:
        """Whether the receiver answered 2xx."""
        return self.status is not None and 200 <= self.status < 300


Plan = list[tuple[str, str | None, dict[str, Any]]]


@attrs.define
class _Hub:
    deliveries: list[WebhookDelivery] = attrs.Factory(list)
    tasks: set[asyncio.Task[None]] = attrs.Factory(set)
    session: aiohttp.ClientSession | None = None


class WebhookFake(FakeBase):
    """FakeTel4vn's webhook controls (mixed into FakeTel4vn).

    ``webhook_redeliver`` (sends each event that many extra times, as the PBX does when a
    receiver is slow), ``webhook_delay`` (seconds before each event), ``webhook_timeout``,
    ``webhook_hosts``; ``webhook_deliveries`` (the log), ``deliveries_settled()``,
    ``send_event(url, event)`` and ``redeliver(delivery)``.
    """

    webhook_redeliver: int = 0
    """How many extra times each event is sent, one after the other."""
    webhook_delay: float = 0.0
    """Seconds waited before each event is sent."""
    webhook_timeout: float = 5.0
    """Seconds a receiver has to answer one delivery."""
    webhook_hosts: frozenset[str] | None = frozenset({"localhost"})
    """Hosts deliveries may go to besides loopback addresses; None allows any host."""

    @property
    def _hub(self) -> _Hub:
        hub = self.state.get("webhooks")
        if not isinstance(hub, _Hub):
            hub = self.state["webhooks"] = _Hub()
        return hub

    @property
    def webhook_deliveries(self) -> list[WebhookDelivery]:
        """Every delivery made so far, in the order they were sent."""
        return self._hub.deliveries

    async def deliveries_settled(self) -> list[WebhookDelivery]:
        """Wait until every delivery scheduled so far has been answered or has failed.

        Returns:
            ``webhook_deliveries``.
        """
        hub = self._hub
        while hub.tasks:
            await asyncio.gather(*hub.tasks, return_exceptions=True)
        return hub.deliveries

    async def send_event(
        self, url: str, event: Mapping[str, Any], *, api_key: str | None = None
    ) -> WebhookDelivery:
        """POST one event (any JSON object) to a receiver now, as the PBX would.

        Returns:
            The delivery, with the receiver's status (also logged in ``webhook_deliveries``).
        """
        return await self._post_event(url, dict(event), api_key, 1)

    async def redeliver(self, delivery: WebhookDelivery) -> WebhookDelivery:
        """Send a logged delivery's event again, to the same URL with the same key."""
        return await self._post_event(
            delivery.url, delivery.event, delivery.api_key, delivery.attempt + 1
        )

    # ------------------------------------------------------------------ wiring

    @web.middleware
    async def _webhook_mw(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Schedule a call's events once its endpoint has placed it."""
        route = (request.method, request.path)
        if route not in _CLICK2CALL and route not in _AUTOCALL:
            return await handler(request)
        records = self.state.get("autocall", {}).get("calls", [])
        before = len(records)
        response: web.StreamResponse = await handler(request)
        if response.status != 200 or not isinstance(response, web.Response):
            return response
        if route in _AUTOCALL:
            body = await json_body(request)
            url, key = body.get("callback_url"), body.get("callback_apikey")
            if isinstance(url, str) and url:
                for record in self.state["autocall"]["calls"][before:]:
                    events = _autocall_events(record)
                    self._schedule([(url, _key(key), e) for e in events])
        else:
            answer = _json(response.body)
            if answer.get("status") == "success" and answer.get("call_id"):
                ext, phone = await _click2call_parties(request)
                events = _click2call_events(str(answer["call_id"]), ext, phone)
                self._schedule(self._to_hooks(events))
        return response

    async def _close_webhooks(self) -> None:
        """Cancel the deliveries still running and close their HTTP session."""
        hub = self._hub
        tasks = list(hub.tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        session, hub.session = hub.session, None
        if session is not None:
            await session.close()

    # ------------------------------------------------------------------ delivery

    def _to_hooks(self, events: list[dict[str, Any]]) -> Plan:
        hooks = self.state.get("cc_events", [])
        return [
            (str(hook["callback_url"]), _key(hook.get("callback_apikey")), event)
            for event in events
            for hook in hooks
            if str(hook.get("event_name", "")).lower() == event["state"]
            and hook.get("callback_url")
        ]

    def _schedule(self, plan: Plan) -> None:
        if not plan:
            return
        hub = self._hub
        task = asyncio.get_running_loop().create_task(self._deliver(plan))
        hub.tasks.add(task)
        task.add_done_callback(hub.tasks.discard)

    async def _deliver(self, plan: Plan) -> None:
        for url, key, event in plan:
            if self.webhook_delay > 0:
                await asyncio.sleep(self.webhook_delay)
            for attempt in range(1, 2 + max(0, self.webhook_redeliver)):
                await self._post_event(url, event, key, attempt)

    async def _post_event(
        self, url: str, event: dict[str, Any], api_key: str | None, attempt: int
    ) -> WebhookDelivery:
        delivery = WebhookDelivery(url, event, attempt, api_key=api_key)
        self._hub.deliveries.append(delivery)
        if not self._host_allowed(url):
            delivery.error = "not sent: the fake delivers only to this machine (webhook_hosts)"
            return delivery
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        try:
            async with self._session().post(
                url,
                json=event,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.webhook_timeout),
            ) as response:
                await response.read()
                delivery.status = response.status
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError) as exc:
            delivery.error = f"{type(exc).__name__}: {exc}"
        return delivery

    def _session(self) -> aiohttp.ClientSession:
        hub = self._hub
        if hub.session is None or hub.session.closed:
            hub.session = aiohttp.ClientSession()
        return hub.session

    def _host_allowed(self, url: str) -> bool:
        try:
            host = urlsplit(url).hostname or ""
        except ValueError:
            return False
        if self.webhook_hosts is None or host in self.webhook_hosts:
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False


# ---------------------------------------------------------------------- the events


def _key(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _json(body: object) -> dict[str, Any]:
    try:
        data = json.loads(body) if isinstance(body, bytes | str) else None
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


async def _click2call_parties(request: web.Request) -> tuple[str, str]:
    if request.method == "GET":
        return request.query.get("ext", ""), request.query.get("phone", "")
    body = await json_body(request)
    return str(body.get("agent", "")), str(body.get("mobile", ""))


def _wall(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")  # the spec's zone-less form


def _call_events(
    base: dict[str, Any], *, answered: bool, duration: int, billsec: int, started: datetime
) -> list[dict[str, Any]]:
    ended = started + timedelta(seconds=duration)
    times = {
        "time_started": _wall(started),
        "time_answered": _wall(ended - timedelta(seconds=billsec)) if answered else "",
        "time_ended": _wall(ended),
    }
    events = [{**base, "state": "ringing", "time_started": times["time_started"]}]
    if answered:
        events.append({**base, "state": "answered", **times, "time_ended": ""})
    lengths = {"duration": duration, "billsec": billsec}
    events.append({**base, "state": "hangup", **times, **lengths})
    events.append(
        {
            **base,
            "state": "cdr",
            **times,
            **lengths,
            "status": "answered" if answered else "no-answered",
            "recording_url": f"http://recording.demo/{base['call_id']}" if answered else "",
        }
    )
    return events


def _click2call_events(call_id: str, ext: str, phone: str) -> list[dict[str, Any]]:
    base = {
        "call_id": call_id,
        "sip_call_id": f"sip-{call_id}",
        "domain": _DOMAIN,
        "direction": "outbound",
        "from_number": ext,
        "to_number": phone,
        "hotline": _HOTLINE,
    }
    now = datetime.now().replace(microsecond=0)
    return _call_events(base, answered=True, duration=10, billsec=5, started=now)


def _autocall_events(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    call_id = str(record["call_id"])
    base = {
        "call_id": call_id,
        "sip_call_id": f"sip-{call_id}",
        "domain": _DOMAIN,
        "direction": "outbound",
        "from_number": str(record.get("caller", "")),
        "to_number": str(record.get("callee", "")),
        "hotline": str(record.get("caller", "")),
        "application": "autocall",
    }
    return _call_events(
        base,
        answered=bool(record.get("answer_time")),
        duration=int(record.get("duration") or 0),
        billsec=int(record.get("billsec") or 0),
        started=datetime.now().replace(microsecond=0),
    )
