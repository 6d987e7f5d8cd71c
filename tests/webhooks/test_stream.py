"""``EventStream``: a bot's ``async for``, back-pressure as 503, a clean close."""

from __future__ import annotations

import asyncio

import pytest

from tel4vn_async import ValidationError
from tel4vn_async.webhooks import DEFAULT_PATH, CallState, EventStream, RetryLater, parse_event

from .conftest import Serve, event_body


async def test_a_full_stream_answers_503_and_takes_the_resend_once_consumed(serve: Serve) -> None:
    stream = EventStream(maxsize=1, retry_after=7)
    client = await serve(stream.app(api_key="k3y-for-tests"))
    headers = {"Authorization": "Bearer k3y-for-tests"}

    accepted = await client.post(DEFAULT_PATH, data=event_body("ringing"), headers=headers)
    refused = await client.post(DEFAULT_PATH, data=event_body("answered"), headers=headers)

    assert accepted.status == 200
    assert refused.status == 503
    assert refused.headers["Retry-After"] == "7"
    assert len(stream) == 1
    assert stream.full()

    first = await anext(stream)
    resent = await client.post(DEFAULT_PATH, data=event_body("answered"), headers=headers)
    again = await client.post(DEFAULT_PATH, data=event_body("answered"), headers=headers)

    assert first.state is CallState.RINGING
    assert resent.status == 200  # the refused event was left unseen: its re-send is taken
    assert await again.json() == {"ok": True, "duplicate": True}
    assert (await anext(stream)).state is CallState.ANSWERED


async def test_async_for_ends_after_aclose_once_the_queued_events_are_taken() -> None:
    stream = EventStream(maxsize=10)
    stream.put(parse_event(event_body("ringing")))
    stream.put(parse_event(event_body("hangup")))
    seen: list[CallState] = []

    async def bot() -> None:
        async for event in stream:
            seen.append(event.state)
            if event.state is CallState.HANGUP:
                await stream.aclose()

    await bot()

    assert seen == [CallState.RINGING, CallState.HANGUP]
    assert stream.closed
    with pytest.raises(RetryLater, match="closed"):
        stream.put(parse_event(event_body("cdr")))


async def test_aclose_wakes_a_waiting_consumer() -> None:
    async with EventStream() as stream:
        waiting = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0)  # let it start waiting: no event can be awaited for that
        assert not waiting.done()
    with pytest.raises(StopAsyncIteration):
        await waiting
    assert "closed" in repr(stream)


async def test_a_closed_stream_answers_503(serve: Serve) -> None:
    stream = EventStream()
    client = await serve(stream.app())
    await stream.aclose()

    response = await client.post(DEFAULT_PATH, data=event_body())

    assert response.status == 503
    assert "Retry-After" in response.headers


def test_maxsize_must_be_positive() -> None:
    with pytest.raises(ValidationError):
        EventStream(maxsize=0)
