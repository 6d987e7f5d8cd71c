"""FakeTel4vn delivers the events of the calls it places to a receiver, end to end."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from tel4vn_async import AutocallClient, CallCenterClient, ClickToCallResult
from tel4vn_async.testing import FakeTel4vn
from tel4vn_async.webhooks import DEFAULT_PATH, CallEvent, CallState, webhook_app

from .conftest import Serve

KEY = "hook-key-1234"
WHOLE_CALL = [CallState.RINGING, CallState.ANSWERED, CallState.HANGUP, CallState.CDR]


class Recorder:
    def __init__(self) -> None:
        self.events: list[CallEvent] = []

    def __call__(self, event: CallEvent) -> None:
        self.events.append(event)


async def _receiver(serve: Serve, handler: Recorder) -> str:
    client = await serve(webhook_app(handler, api_key=KEY))
    return str(client.make_url(DEFAULT_PATH))


Place = Callable[[CallCenterClient], Awaitable[ClickToCallResult]]
PLACES: dict[str, Place] = {
    "GET /v1/click2call": lambda cc: cc.click2call.call("101", "0899098899"),
    "GET /v1/click2call/async": lambda cc: cc.click2call.start("102", "0899098899"),
    "POST /v2/click2call": lambda cc: cc.click2call.dial("KH1", "0899098899", "103"),
}


@pytest.mark.parametrize("endpoint", list(PLACES))
async def test_a_click_to_call_sends_its_whole_call_to_the_subscribed_receiver(
    fake: FakeTel4vn, cc: CallCenterClient, serve: Serve, endpoint: str
) -> None:
    handler = Recorder()
    url = await _receiver(serve, handler)
    await cc.events.subscribe(url, callback_apikey=KEY)

    call = await PLACES[endpoint](cc)
    deliveries = await fake.deliveries_settled()

    assert [e.state for e in handler.events] == WHOLE_CALL
    assert {e.call_id for e in handler.events} == {call.call_id}
    assert all(d.ok and d.url == url for d in deliveries)
    hangup, cdr = handler.events[2], handler.events[3]
    assert (hangup.duration, hangup.billsec) == (10, 5)
    assert cdr.is_cdr
    assert cdr.recording_url
    assert cdr.time_started is not None
    assert cdr.time_started.tzinfo is None


async def test_only_the_events_subscribed_are_sent(
    fake: FakeTel4vn, cc: CallCenterClient, serve: Serve
) -> None:
    handler = Recorder()
    url = await _receiver(serve, handler)
    await cc.events.subscribe(url, events=["hangup", "cdr"], callback_apikey=KEY)

    await cc.click2call.start("101", "0899098899")
    await fake.deliveries_settled()

    assert [e.state for e in handler.events] == [CallState.HANGUP, CallState.CDR]


@pytest.mark.parametrize(
    ("callee", "states"),
    [
        ("0987654322", WHOLE_CALL),
        ("0987654321", [CallState.RINGING, CallState.HANGUP, CallState.CDR]),  # odd: no answer
    ],
)
async def test_an_autocall_call_sends_its_events_to_its_callback_url(
    fake: FakeTel4vn, pbx: AutocallClient, serve: Serve, callee: str, states: list[CallState]
) -> None:
    handler = Recorder()
    url = await _receiver(serve, handler)

    call = await pbx.calls.otp(
        campaign_id="aaaaaaaa-bbbb-cccc-dddd-eeeeeeee",
        caller="0123456789",
        callee=callee,
        template="otp_demo",
        code="4242",
        callback_url=url,
        callback_apikey=KEY,
    )
    await fake.deliveries_settled()

    assert [e.state for e in handler.events] == states
    assert {e.call_id for e in handler.events} == {call.call_id}
    assert handler.events[-1].raw["application"] == "autocall"
    [report] = fake.calls_to(callee)
    assert handler.events[-1].billsec == report["billsec"]


async def test_redelivered_events_reach_the_handler_once(
    fake: FakeTel4vn, cc: CallCenterClient, serve: Serve
) -> None:
    handler = Recorder()
    url = await _receiver(serve, handler)
    await cc.events.subscribe(url, callback_apikey=KEY)
    fake.webhook_redeliver = 2

    await cc.click2call.start("101", "0899098899")
    deliveries = await fake.deliveries_settled()

    assert [d.attempt for d in deliveries] == [1, 2, 3] * 4
    assert all(d.status == 200 for d in deliveries)
    assert [e.state for e in handler.events] == WHOLE_CALL

    first = deliveries[0]
    again = await asyncio.gather(fake.redeliver(first), fake.redeliver(first))
    assert [d.status for d in again] == [200, 200]
    assert len(handler.events) == 4
    assert "hook-key" not in repr(first)


async def test_send_event_posts_any_event_with_the_key_as_a_bearer_header(
    fake: FakeTel4vn, serve: Serve
) -> None:
    handler = Recorder()
    url = await _receiver(serve, handler)
    event = {"call_id": "in-1", "state": "missed", "direction": "inbound"}

    good = await fake.send_event(url, event, api_key=KEY)
    wrong = await fake.send_event(url, {**event, "state": "cdr"}, api_key="not-the-key")

    assert (good.status, wrong.status) == (200, 401)
    assert [e.state for e in handler.events] == [CallState.MISSED]
    assert fake.webhook_deliveries == [good, wrong]


async def test_a_receiver_that_is_down_is_logged_not_raised(fake: FakeTel4vn) -> None:
    delivery = await fake.send_event("http://127.0.0.1:9/nothing", {"call_id": "c", "state": "x"})

    assert delivery.status is None
    assert delivery.error is not None
    assert not delivery.ok


async def test_hooks_off_this_machine_are_not_contacted(
    fake: FakeTel4vn, cc: CallCenterClient
) -> None:
    await cc.events.subscribe("https://hooks.example/t4", events=["cdr"])

    await cc.click2call.start("101", "0899098899")
    [delivery] = await fake.deliveries_settled()

    assert delivery.status is None
    assert delivery.error is not None
    assert "webhook_hosts" in delivery.error


async def test_closing_the_fake_cancels_the_deliveries_still_waiting(serve: Serve) -> None:
    handler = Recorder()
    url = await _receiver(serve, handler)
    async with FakeTel4vn() as fake, CallCenterClient(fake.url, api_key=fake.api_key) as cc:
        await cc.events.subscribe(url, callback_apikey=KEY)
        fake.webhook_delay = 60.0  # never waited out: closing cancels it
        await cc.click2call.start("101", "0899098899")
        [task] = fake._hub.tasks
    assert task.cancelled()
    assert handler.events == []
    assert fake._hub.session is None
