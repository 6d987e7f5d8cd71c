"""The aiohttp receiver on a real socket: keys, caps, malformed bodies, handler outcomes."""

from __future__ import annotations

import asyncio
import json
import logging
import tracemalloc
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from tel4vn_async import ValidationError
from tel4vn_async.webhooks import (
    DEFAULT_PATH,
    CallEvent,
    CallState,
    RetryLater,
    add_webhook_route,
    webhook_app,
)

from .conftest import Serve, event_body

KEY = "s3cret-callback-key"
MiB = 1 << 20


class Recorder:
    """A handler that keeps what it received."""

    def __init__(self) -> None:
        self.events: list[CallEvent] = []

    async def __call__(self, event: CallEvent) -> None:
        self.events.append(event)


@pytest.mark.parametrize(
    ("headers", "extra", "header"),
    [
        pytest.param({"Authorization": f"Bearer {KEY}"}, {}, None, id="authorization-bearer"),
        pytest.param({"Authorization": KEY}, {}, None, id="authorization-bare"),
        pytest.param({"X-API-Key": KEY}, {}, None, id="x-api-key"),
        pytest.param({"X-Tel4vn-Token": KEY}, {}, "X-Tel4vn-Token", id="named-header"),
        pytest.param({}, {"api_key": KEY}, None, id="body-field"),
    ],
)
async def test_a_good_delivery_reaches_the_handler_with_each_key_placement(
    serve: Serve, headers: dict[str, str], extra: dict[str, str], header: str | None
) -> None:
    handler = Recorder()
    client = await serve(webhook_app(handler, api_key=KEY, header=header))

    response = await client.post(DEFAULT_PATH, data=event_body(**extra), headers=headers)

    assert response.status == 200
    assert await response.json() == {"ok": True}
    [event] = handler.events
    assert (event.call_id, event.state) == ("call-1", CallState.HANGUP)
    assert "api_key" not in event.raw  # the credential is not passed on


@pytest.mark.parametrize(
    ("headers", "extra"),
    [
        pytest.param({}, {}, id="missing"),
        pytest.param({"Authorization": "Bearer wrong-key-123"}, {}, id="wrong-header"),
        pytest.param({}, {"api_key": "wrong-key-123"}, id="wrong-body-field"),
        pytest.param({"X-Other": KEY}, {}, id="unnamed-header"),
    ],
)
async def test_a_wrong_or_missing_key_is_refused_and_not_logged(
    serve: Serve,
    caplog: pytest.LogCaptureFixture,
    headers: dict[str, str],
    extra: dict[str, str],
) -> None:
    caplog.set_level(logging.DEBUG, logger="tel4vn_async")
    handler = Recorder()
    client = await serve(webhook_app(handler, api_key=KEY))

    response = await client.post(DEFAULT_PATH, data=event_body(**extra), headers=headers)

    assert response.status == 401
    assert handler.events == []
    assert KEY not in caplog.text
    assert "wrong-key-123" not in caplog.text


async def test_without_an_api_key_any_delivery_is_taken(serve: Serve) -> None:
    handler = Recorder()
    client = await serve(webhook_app(handler))

    assert (await client.post(DEFAULT_PATH, data=event_body())).status == 200
    assert len(handler.events) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param(b"<html>nope</html>", "body", id="not-json"),
        pytest.param(b"[]", "body", id="not-an-object"),
        pytest.param(b'{"a":' * 200 + b"1" + b"}" * 200, "body", id="too-deep"),
        pytest.param(b'{"state": "hangup"}', "call_id", id="no-call-id"),
        pytest.param(b'{"call_id": "c1"}', "state", id="no-state"),
    ],
)
async def test_a_malformed_event_gets_400(serve: Serve, body: bytes, field: str) -> None:
    handler = Recorder()
    client = await serve(webhook_app(handler, api_key=KEY))

    response = await client.post(DEFAULT_PATH, data=body, headers={"X-API-Key": KEY})

    assert response.status == 400
    answer = await response.json()
    assert answer["ok"] is False
    assert field in answer["error"]
    assert handler.events == []


async def test_a_malformed_body_without_the_key_gets_401_not_400(serve: Serve) -> None:
    client = await serve(webhook_app(Recorder(), api_key=KEY))

    assert (await client.post(DEFAULT_PATH, data=b"garbage")).status == 401


async def _five_mib() -> AsyncIterator[bytes]:
    chunk = b"x" * (64 * 1024)
    for _ in range(80):
        yield chunk


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_a_5mb_body_gets_413_without_being_read_into_memory(
    serve: Serve, declared: bool
) -> None:
    handler = Recorder()
    client = await serve(webhook_app(handler))
    headers = {"Content-Length": str(5 * MiB)} if declared else {}

    tracemalloc.start()
    try:
        response = await client.post(DEFAULT_PATH, data=_five_mib(), headers=headers)
        status = response.status
        response.release()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert status == 413
    assert peak < 2.5 * MiB, f"peak {peak / MiB:.2f} MiB"
    assert handler.events == []


async def test_the_cap_is_the_max_body_given(serve: Serve) -> None:
    body = event_body(pad="x" * 2000)
    client = await serve(webhook_app(Recorder(), max_body=len(body) - 1))

    assert (await client.post(DEFAULT_PATH, data=body)).status == 413


async def test_a_repeated_delivery_reaches_the_handler_once(serve: Serve) -> None:
    handler = Recorder()
    client = await serve(webhook_app(handler))

    first = await client.post(DEFAULT_PATH, data=event_body("ringing"))
    again = await client.post(DEFAULT_PATH, data=event_body("ringing"))
    next_state = await client.post(DEFAULT_PATH, data=event_body("answered"))

    assert [first.status, again.status, next_state.status] == [200, 200, 200]
    assert await again.json() == {"ok": True, "duplicate": True}
    assert [e.state for e in handler.events] == [CallState.RINGING, CallState.ANSWERED]


async def test_without_dedupe_every_delivery_reaches_the_handler(serve: Serve) -> None:
    handler = Recorder()
    client = await serve(webhook_app(handler, dedupe=False))

    for _ in range(2):
        assert (await client.post(DEFAULT_PATH, data=event_body())).status == 200
    assert len(handler.events) == 2


class Gate:
    """A handler that holds each call until let through; fails the first if told to."""

    def __init__(self, *, fail_first: bool = False) -> None:
        self.entered = asyncio.Event()
        self.go = asyncio.Event()
        self.calls = 0
        self.fail_first = fail_first

    async def __call__(self, event: CallEvent) -> None:
        self.calls += 1
        self.entered.set()
        await self.go.wait()
        if self.fail_first and self.calls == 1:
            raise RuntimeError("the database is down")


async def _post_twice_at_once(serve: Serve, gate: Gate) -> list[web.Response]:
    from tel4vn_async.webhooks import Claim, MemoryDedupe

    busy_seen = asyncio.Event()

    class Watched(MemoryDedupe):
        async def claim(self, key: tuple[str, str]) -> Claim:
            claim = await super().claim(key)
            if claim is Claim.BUSY:
                busy_seen.set()
            return claim

    client = await serve(webhook_app(gate, dedupe=Watched()))
    first = asyncio.ensure_future(client.post(DEFAULT_PATH, data=event_body()))
    await gate.entered.wait()
    second = asyncio.ensure_future(client.post(DEFAULT_PATH, data=event_body()))
    await busy_seen.wait()  # the second delivery found the first in progress
    gate.go.set()
    answers = await asyncio.gather(first, second)
    return [await _as_response(a) for a in answers]


async def _as_response(answer: object) -> web.Response:
    status = getattr(answer, "status")  # noqa: B009
    body = await answer.json()  # type: ignore[attr-defined]
    return web.json_response(body, status=status)


async def test_concurrent_duplicates_reach_the_handler_once(serve: Serve) -> None:
    gate = Gate()

    first, second = await _post_twice_at_once(serve, gate)

    assert gate.calls == 1
    assert (first.status, second.status) == (200, 200)
    assert json.loads(second.text or "") == {"ok": True, "duplicate": True}


async def test_a_concurrent_duplicate_takes_over_when_the_first_delivery_fails(
    serve: Serve,
) -> None:
    gate = Gate(fail_first=True)

    first, second = await _post_twice_at_once(serve, gate)

    assert gate.calls == 2
    assert (first.status, second.status) == (500, 200)


async def test_a_failed_handler_gets_500_and_a_resend_is_handled(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="tel4vn_async")
    calls: list[CallEvent] = []

    def flaky(event: CallEvent) -> None:  # a sync handler
        calls.append(event)
        if len(calls) == 1:
            raise RuntimeError("the database is down")

    client = await serve(webhook_app(flaky, api_key=KEY))
    body = event_body(api_key=KEY)

    failed = await client.post(DEFAULT_PATH, data=body)
    resent = await client.post(DEFAULT_PATH, data=body)

    assert (failed.status, resent.status) == (500, 200)
    assert len(calls) == 2
    [record] = [r for r in caplog.records if r.exc_info]
    assert "the database is down" in caplog.text  # logged with its traceback
    assert "call-1" in record.getMessage()
    assert KEY not in caplog.text  # but neither the key
    assert "0899888999" not in caplog.text  # nor the body


async def test_a_handler_asking_to_retry_later_gets_503_with_retry_after(serve: Serve) -> None:
    calls: list[CallEvent] = []

    async def busy(event: CallEvent) -> None:
        calls.append(event)
        if len(calls) == 1:
            raise RetryLater("warming up", retry_after=2.5)

    client = await serve(webhook_app(busy))

    refused = await client.post(DEFAULT_PATH, data=event_body())
    resent = await client.post(DEFAULT_PATH, data=event_body())

    assert refused.status == 503
    assert refused.headers["Retry-After"] == "3"
    assert resent.status == 200
    assert len(calls) == 2


async def test_an_unknown_state_is_delivered_as_unknown(serve: Serve) -> None:
    handler = Recorder()
    client = await serve(webhook_app(handler))

    response = await client.post(DEFAULT_PATH, data=event_body("transferred"))

    assert response.status == 200
    [event] = handler.events
    assert event.state is CallState.UNKNOWN
    assert event.state_raw == "transferred"


async def test_a_form_encoded_delivery_is_read_too(serve: Serve) -> None:
    handler = Recorder()
    client = await serve(webhook_app(handler, api_key=KEY))

    form = {"call_id": "c9", "state": "cdr", "status": "ANSWERED", "api_key": KEY}
    response = await client.post(DEFAULT_PATH, data=form)

    assert response.status == 200
    assert handler.events[0].call_id == "c9"
    assert "api_key" not in handler.events[0].raw


async def test_the_route_joins_an_existing_app_and_answers_post_only(serve: Serve) -> None:
    handler = Recorder()
    app = web.Application()

    async def health(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app.router.add_get("/health", health)
    add_webhook_route(app, handler, path="/hooks/tel4vn")
    client = await serve(app)

    assert (await client.get("/health")).status == 200
    assert (await client.get("/hooks/tel4vn")).status == 405
    assert (await client.post("/hooks/tel4vn", data=event_body())).status == 200
    assert len(handler.events) == 1


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"api_key": ""}, "api_key"),
        ({"path": "hooks"}, "path"),
        ({"max_body": 0}, "max_body"),
    ],
)
def test_bad_options_are_refused(options: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        webhook_app(Recorder(), **options)  # type: ignore[arg-type]
    assert info.value.field == field
