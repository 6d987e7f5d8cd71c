"""Black-box review tests of the public contract (API.md sections 2, 3, 8 and 11)."""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tel4vn_async import (
    APIError,
    Attempt,
    AuthenticationError,
    AutocallClient,
    BadRequestError,
    CallCenterClient,
    CallEvent,
    CallRejectedError,
    ClientClosedError,
    ConfigurationError,
    MemoryTokenStore,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitError,
    RetryPolicy,
    ServerError,
    Tel4vnError,
    Token,
    TransportError,
    UserBusyError,
    UserNotRegisteredError,
    ValidationError,
)
from tel4vn_async.testing import FakeTel4vn, Fault
from tel4vn_async.webhooks import EventStream, MemoryDedupe, add_webhook_route, webhook_app


async def _no_sleep(_: float) -> None:
    return None


FAST = RetryPolicy(sleep=_no_sleep)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTel4vn]:
    async with FakeTel4vn() as f:
        yield f


def cc_client(fake: FakeTel4vn, **kw: Any) -> CallCenterClient:
    return CallCenterClient(fake.url, api_key=fake.api_key, retry_policy=FAST, **kw)


def ac_client(fake: FakeTel4vn, **kw: Any) -> AutocallClient:
    return AutocallClient(fake.url, api_key=fake.api_key, retry_policy=FAST, **kw)


# --- call-placing operations: (path, coroutine factory) -------------------------------

Op = Callable[[FakeTel4vn], Awaitable[Any]]


async def op_otp(fake: FakeTel4vn) -> Any:
    async with ac_client(fake) as pbx:
        await pbx.session.token()
        return await pbx.calls.otp(
            campaign_id=1,
            caller="0123456789",
            callee="0987654321",
            template="otp_demo",
            code="123456",
        )


async def op_c2c_start(fake: FakeTel4vn) -> Any:
    async with cc_client(fake) as cc:
        await cc.session.token()
        return await cc.click2call.start("101", "0899098899")


async def op_c2c_dial(fake: FakeTel4vn) -> Any:
    async with cc_client(fake) as cc:
        await cc.session.token()
        return await cc.click2call.dial("KH1", "0899098899", "101")


async def op_customer_create(fake: FakeTel4vn) -> Any:
    async with cc_client(fake) as cc:
        await cc.session.token()
        return await cc.customers.create(
            campaign_id="aaaaaaaa-1111-2222-3333-eeeeeeee",
            customer_code="KH1",
            phone_number="0899098899",
            contract_number="HD1",
        )


async def op_queue_import(fake: FakeTel4vn) -> Any:
    async with cc_client(fake) as cc:
        await cc.session.token()
        return await cc.autocall_queues.create(
            queue_code="Q1",
            template="tpl",
            customers=[{"id": "c1", "mobiles": ["0899098899"]}],
        )


async def op_tts(fake: FakeTel4vn) -> Any:
    async with ac_client(fake) as pbx:
        await pbx.session.token()
        return await pbx.calls.tts(
            caller="0123456789",
            template="thong_bao_no_cuoc_01",
            callee="0987654321",
            campaign_id=1,
            params={"customer_name": "A", "due_amount": "1", "due_date": "x"},
        )


async def op_c2c_call(fake: FakeTel4vn) -> Any:
    async with cc_client(fake) as cc:
        await cc.session.token()
        return await cc.click2call.call("101", "0899098899")


async def op_autodialer_import(fake: FakeTel4vn) -> Any:
    async with cc_client(fake) as cc:
        await cc.session.token()
        return await cc.autodialer.create_queue(
            campaign_id="aaaaaaaa-1111-2222-3333-eeeeeeee",
            queue_code="Q9",
            precall_ratio=1,
            max_recall_count=1,
            customers=[{"id": "c1", "mobiles": ["0899098899"]}],
        )


CALL_OPS: list[tuple[str, str, Op]] = [
    ("/v1/autocall/otp", "POST", op_otp),
    ("/v1/click2call/async", "GET", op_c2c_start),
    ("/v2/click2call", "POST", op_c2c_dial),
    ("/v2/customer", "POST", op_customer_create),
    ("/v2/autocall/queue", "POST", op_queue_import),
    ("/v1/autocall/voice", "POST", op_tts),
    ("/v1/click2call", "GET", op_c2c_call),
    ("/v2/autodialer/queue", "POST", op_autodialer_import),
]
CALL_IDS = [p for p, _, _ in CALL_OPS]


# --- section 3 -------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "method", "op"), CALL_OPS, ids=CALL_IDS)
async def test_call_placing_5xx_is_outcome_unknown_sent_once(
    fake: FakeTel4vn, path: str, method: str, op: Op
) -> None:
    for n, status in enumerate([500, 502, 504], start=1):
        fake.clear_faults()
        fake.inject(path, status=status, method=method, times=5)
        with pytest.raises(OutcomeUnknownError) as info:
            await op(fake)
        assert info.value.status == status
        assert fake.count(path, method) == n


@pytest.mark.parametrize(("path", "method", "op"), CALL_OPS, ids=CALL_IDS)
async def test_call_placing_refused_unprocessed_is_retried(
    fake: FakeTel4vn, path: str, method: str, op: Op
) -> None:
    fake.inject(path, status=503, method=method, times=1)
    await op(fake)
    assert fake.count(path, method) == 2
    fake.inject(path, status=429, method=method, times=1)
    await op(fake)
    assert fake.count(path, method) == 4


@pytest.mark.parametrize(("path", "method", "op"), CALL_OPS, ids=CALL_IDS)
async def test_call_placing_lost_answer_is_outcome_unknown_sent_once(
    fake: FakeTel4vn, path: str, method: str, op: Op
) -> None:
    faults = [
        Fault(status=200, malformed=True),  # a 200 with broken JSON
        Fault(status=504, html=True),  # a gateway's HTML page
        # dropped after handling, on a kept-alive connection: aiohttp would re-send a GET
        Fault(drop="after"),
    ]
    for n, fault in enumerate(faults, start=1):
        fake.clear_faults()
        fake.inject(path, fault, method=method, times=5)
        with pytest.raises(OutcomeUnknownError) as info:
            await op(fake)
        if fault.status == 504:
            assert info.value.status == 504
        assert fake.count(path, method) == n, fault


async def test_call_placing_timeout_is_outcome_unknown(fake: FakeTel4vn) -> None:
    fake.inject("/v1/click2call/async", Fault(delay=0.2), times=5)
    async with cc_client(fake, timeout=0.05) as cc:
        with pytest.raises(OutcomeUnknownError):
            await cc.click2call.start("101", "0899098899")
    assert fake.count("/v1/click2call/async") == 1


async def test_call_placing_500_with_user_busy_body_is_user_busy(
    fake: FakeTel4vn,
) -> None:
    fake.inject(
        "/v1/click2call/async",
        status=500,
        body={"status": "fail", "error": "USER_BUSY"},
        times=5,
    )
    async with cc_client(fake) as cc:
        with pytest.raises(UserBusyError):
            await cc.click2call.start("101", "0899098899")
    assert fake.count("/v1/click2call/async") == 1


async def test_call_placing_400_user_not_registered_not_retried(fake: FakeTel4vn) -> None:
    fake.inject(
        "/v1/click2call/async",
        status=400,
        body={"status": "fail", "error": "USER_NOT_REGISTERED"},
        times=5,
    )
    with pytest.raises(UserNotRegisteredError):
        await op_c2c_start(fake)
    assert fake.count("/v1/click2call/async") == 1


async def test_call_placing_429_exhausted_is_rate_limit(fake: FakeTel4vn) -> None:
    fake.inject("/v1/autocall/otp", status=429, retry_after=1, times=10)
    with pytest.raises(RateLimitError):
        await op_otp(fake)
    assert fake.count("/v1/autocall/otp") == 4


async def test_call_placing_connection_refused_is_retried_not_unknown() -> None:
    # A port nobody listens on, and a stored token: no connection was ever made.
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    store = MemoryTokenStore()
    await store.save(Token("stored-token"))
    seen: list[Attempt] = []
    async with CallCenterClient(
        f"http://127.0.0.1:{port}",
        api_key="k",
        retry_policy=FAST,
        max_retries=2,
        token_store=store,
        on_attempt=seen.append,
    ) as cc:
        with pytest.raises(TransportError) as info:
            await cc.click2call.start("101", "0899098899")
    assert not isinstance(info.value, OutcomeUnknownError)
    assert len([a for a in seen if a.path == "/v1/click2call/async"]) == 3


async def test_retry_after_honoured_and_backoff_jittered(fake: FakeTel4vn) -> None:
    waits: list[float] = []

    async def record(delay: float) -> None:
        waits.append(delay)

    fake.inject("/v2/call", status=429, retry_after=30, method="GET", times=1)
    fake.inject("/v2/call", status=500, method="GET", times=1)
    async with CallCenterClient(
        fake.url, api_key=fake.api_key, retry_policy=RetryPolicy(sleep=record)
    ) as cc:
        await cc.calls.list()
    assert len(waits) == 2
    assert waits[0] >= 30
    assert 0 <= waits[1] <= 10.0


async def test_reads_retried_on_5xx_up_to_max_retries(fake: FakeTel4vn) -> None:
    fake.inject("/v2/call", status=500, method="GET", times=10)
    async with cc_client(fake, max_retries=2) as cc:
        with pytest.raises(ServerError) as info:
            await cc.calls.list()
    assert info.value.status == 500
    assert fake.count("/v2/call", "GET") == 3


async def test_reads_retried_on_5xx_then_succeed(fake: FakeTel4vn) -> None:
    fake.inject("/v2/call", status=502, method="GET", times=2)
    async with cc_client(fake) as cc:
        assert await cc.calls.list() == []
    assert fake.count("/v2/call", "GET") == 3


# --- section 2 -------------------------------------------------------------------------


ERROR_SHAPES: list[tuple[int, dict[str, Any], type[APIError]]] = [
    (400, {"message": "bad request"}, BadRequestError),
    (403, {"message": "forbidden"}, AuthenticationError),
    (404, {"message": "user is not existed"}, NotFoundError),
    (200, {"code": 404, "message": "not found"}, NotFoundError),
    (200, {"code": 400, "message": "bad"}, BadRequestError),
    (429, {"message": "slow down"}, RateLimitError),
    (500, {"message": "boom"}, ServerError),
    (200, {"status": "fail", "error": "SOMETHING_ELSE"}, CallRejectedError),
    (400, {"status": "fail", "error": "USER_NOT_REGISTERED"}, UserNotRegisteredError),
    (200, {"status": "fail", "error": "USER_BUSY"}, UserBusyError),
]


async def test_error_shapes_map_to_classes(fake: FakeTel4vn) -> None:
    async with cc_client(fake, max_retries=0) as cc:
        for status, body, cls in ERROR_SHAPES:
            fake.clear_faults()
            fake.inject("/v2/call", status=status, body=body, method="GET", times=5)
            with pytest.raises(cls) as info:
                await cc.calls.list()
            assert info.value.status == status, body
            assert info.value.path == "/v2/call"
            assert info.value.method == "GET"


async def test_rate_limit_error_carries_retry_after(fake: FakeTel4vn) -> None:
    fake.inject("/v2/call", status=429, retry_after=7, times=5)
    async with cc_client(fake, max_retries=0) as cc:
        with pytest.raises(RateLimitError) as info:
            await cc.calls.list()
    assert info.value.status == 429
    assert info.value.retry_after == 7


async def test_field_errors_land_in_details(fake: FakeTel4vn) -> None:
    fake.inject(
        "/v2/customer",
        status=400,
        method="POST",
        body={"content": [{"field": "phone_number", "message": "invalid"}]},
    )
    with pytest.raises(BadRequestError) as info:
        await op_customer_create(fake)
    assert info.value.details
    assert "phone_number" in str(info.value)


async def test_html_read_is_transport_error_with_status(fake: FakeTel4vn) -> None:
    fake.inject("/v2/call", Fault(status=502, html=True), times=5)
    async with cc_client(fake, max_retries=0) as cc:
        with pytest.raises(TransportError) as info:
            await cc.calls.list()
    assert info.value.status == 502


async def test_broken_json_read_is_transport_error(fake: FakeTel4vn) -> None:
    fake.inject("/v2/call", Fault(status=200, malformed=True), times=5)
    async with cc_client(fake, max_retries=0) as cc:
        with pytest.raises(TransportError) as info:
            await cc.calls.list()
    assert info.value.status == 200


async def test_secrets_absent_from_error_text(fake: FakeTel4vn) -> None:
    async with cc_client(fake, max_retries=0) as cc:
        token = (await cc.session.token()).access_token
        fake.inject(
            "/v2/call",
            status=400,
            body={"message": f"bad key {fake.api_key} token {token}", "api_key": fake.api_key},
        )
        with pytest.raises(BadRequestError) as info:
            await cc.calls.list()
    for text in (str(info.value), repr(info.value)):
        assert fake.api_key not in text
        assert token not in text


async def test_callback_key_absent_from_error_at_any_depth(fake: FakeTel4vn) -> None:
    cb = "cb-secret-key-987654"
    fake.inject(
        "/v1/event",
        status=400,
        method="POST",
        body={
            "message": "invalid",
            "content": [{"field": "callback_apikey", "value": cb, "nested": {"key": cb}}],
        },
    )
    async with cc_client(fake) as cc:
        with pytest.raises(BadRequestError) as info:
            await cc.events.create("http://127.0.0.1:1/h", "hangup", callback_apikey=cb)
    err = info.value
    assert cb not in str(err)
    assert cb not in repr(err)
    assert cb not in repr(err.details)
    assert cb not in repr(getattr(err, "body", None))


async def test_success_false_body_is_api_error(fake: FakeTel4vn) -> None:
    fake.inject("/v2/call", status=200, body={"success": False, "message": "nope"}, times=5)
    async with cc_client(fake, max_retries=0) as cc:
        with pytest.raises(APIError):
            await cc.calls.list()


async def test_secret_absent_when_api_key_refused(fake: FakeTel4vn) -> None:
    secret = "sk-wrong-secret-0123456789"
    async with CallCenterClient(fake.url, api_key=secret, retry_policy=FAST) as cc:
        with pytest.raises(AuthenticationError) as info:
            await cc.calls.list()
        assert secret not in repr(cc)
        assert secret not in str(cc)
    assert secret not in str(info.value)
    assert secret not in repr(info.value)
    assert fake.count("/v2/call") == 0


# --- section 11 ------------------------------------------------------------------------


async def test_on_attempt_sees_retried_429s(fake: FakeTel4vn) -> None:
    seen: list[Attempt] = []
    fake.inject("/v2/call", status=429, retry_after=1, method="GET", times=2)
    async with cc_client(fake, on_attempt=seen.append) as cc:
        await cc.calls.list()
    calls = [a for a in seen if a.path == "/v2/call"]
    assert [a.status for a in calls] == [429, 429, 200]
    assert [a.will_retry for a in calls] == [True, True, False]


async def test_with_options_shares_token_and_applies_max_retries(fake: FakeTel4vn) -> None:
    async with cc_client(fake, max_retries=3) as cc:
        await cc.calls.list()
        child = cc.with_options(max_retries=0)
        fake.inject("/v2/call", status=500, method="GET", times=5)
        with pytest.raises(ServerError):
            await child.calls.list()
    assert fake.count("/v2/call", "GET") == 2
    assert fake.count("/v2/auth/token") == 1


async def test_with_options_closed_with_parent(fake: FakeTel4vn) -> None:
    cc = cc_client(fake)
    child = cc.with_options(max_retries=0)
    await child.calls.list()
    await cc.close()
    with pytest.raises(ClientClosedError):
        await child.calls.list()


async def test_on_attempt_exception_never_raised_and_sees_token(fake: FakeTel4vn) -> None:
    paths: list[str] = []

    def bad(attempt: Attempt) -> None:
        paths.append(attempt.path)
        raise RuntimeError("metrics broke")

    async with cc_client(fake, on_attempt=bad) as cc:
        assert await cc.calls.list() == []
    assert paths == ["/v2/auth/token", "/v2/call"]


async def test_trust_env_false_ignores_proxy(
    fake: FakeTel4vn, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    async with cc_client(fake, trust_env=False, max_retries=0) as cc:
        assert await cc.calls.list() == []


async def test_with_options_timeout_applies(fake: FakeTel4vn) -> None:
    async with cc_client(fake) as cc:
        fake.inject("/v2/call", Fault(delay=0.2), method="GET", times=5)
        with pytest.raises(TransportError):
            await cc.with_options(timeout=0.05, max_retries=0).calls.list()
    assert fake.count("/v2/call", "GET") == 1


@pytest.mark.parametrize(
    ("cls", "url_var", "key_var"),
    [
        (CallCenterClient, "TEL4VN_CALLCENTER_URL", "TEL4VN_CALLCENTER_API_KEY"),
        (AutocallClient, "TEL4VN_AUTOCALL_URL", "TEL4VN_AUTOCALL_API_KEY"),
    ],
)
async def test_family_env_vars_win_over_generic(
    fake: FakeTel4vn,
    monkeypatch: pytest.MonkeyPatch,
    cls: type[CallCenterClient] | type[AutocallClient],
    url_var: str,
    key_var: str,
) -> None:
    monkeypatch.setenv("TEL4VN_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("TEL4VN_API_KEY", "generic-wrong")
    monkeypatch.setenv(url_var, fake.url)
    monkeypatch.setenv(key_var, fake.api_key)
    async with cls() as client:
        token = await client.session.token()
    assert token.access_token


async def test_generic_env_vars_are_the_fallback(
    fake: FakeTel4vn, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in (
        "TEL4VN_CALLCENTER_URL",
        "TEL4VN_CALLCENTER_API_KEY",
        "TEL4VN_AUTOCALL_URL",
        "TEL4VN_AUTOCALL_API_KEY",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TEL4VN_BASE_URL", fake.url)
    monkeypatch.setenv("TEL4VN_API_KEY", fake.api_key)
    # the autocall family variables must not leak into the call-center client
    monkeypatch.setenv("TEL4VN_AUTOCALL_URL", "http://127.0.0.1:9")
    async with CallCenterClient() as cc:
        await cc.calls.list()
    assert fake.count("/v2/call") == 1


async def test_user_agent_on_every_request(fake: FakeTel4vn) -> None:
    async with cc_client(fake) as cc:
        await cc.calls.list()
    async with ac_client(fake) as pbx:
        await pbx.session.token()
    assert len(fake.requests) >= 3
    for req in fake.requests:
        assert req.headers.get("User-Agent", "").startswith("tel4vn-async/")
        assert len(req.headers["User-Agent"]) > len("tel4vn-async/")


async def test_http_proxy_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        seen.append(lines[0])
        length = 0
        for line in lines[1:]:
            if line.lower().startswith("content-length:"):
                length = int(line.split(":", 1)[1])
        if length:
            await reader.readexactly(length)
        if "/auth/token" in lines[0]:
            payload: dict[str, Any] = {"data": {"token": "tok-proxy", "expired_in": 3600}}
        else:
            payload = {"data": []}
        body = json.dumps(payload).encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    for var in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{port}")
    try:
        async with CallCenterClient(
            "http://tel4vn-api.invalid", api_key="k", retry_policy=FAST, max_retries=0
        ) as cc:
            await cc.calls.list()
    finally:
        server.close()
        await server.wait_closed()
    assert any("http://tel4vn-api.invalid/v2/auth/token" in line for line in seen)
    assert any("http://tel4vn-api.invalid/v2/call" in line for line in seen)


# --- section 8 -------------------------------------------------------------------------

KEY = "hook-secret-key"


def event(call_id: str = "call-1", state: str = "hangup") -> dict[str, Any]:
    return {
        "call_id": call_id,
        "sip_call_id": "sip-1",
        "domain": "d.example.vn",
        "direction": "outbound",
        "from_number": "101",
        "to_number": "0899098899",
        "state": state,
        "duration": 10,
        "billsec": 8,
    }


async def _client(app: web.Application) -> TestClient[web.Request, web.Application]:
    client: TestClient[web.Request, web.Application] = TestClient(TestServer(app))
    await client.start_server()
    return client


async def test_webhook_key_checks() -> None:
    got: list[CallEvent] = []
    client = await _client(webhook_app(got.append, api_key=KEY))
    try:
        r = await client.post("/tel4vn/events", json=event("a"), headers={"X-API-Key": "nope"})
        assert r.status == 401
        r = await client.post("/tel4vn/events", json=event("b"))
        assert r.status == 401
        assert got == []
        r = await client.post(
            "/tel4vn/events", json=event("c"), headers={"Authorization": f"Bearer {KEY}"}
        )
        assert r.status == 200
        r = await client.post("/tel4vn/events", json=event("d"), headers={"Authorization": KEY})
        assert r.status == 200
        r = await client.post("/tel4vn/events", json=event("e"), headers={"X-API-Key": KEY})
        assert r.status == 200
        r = await client.post("/tel4vn/events", json={**event("f"), "api_key": KEY})
        assert r.status == 200
    finally:
        await client.close()
    assert [e.call_id for e in got] == ["c", "d", "e", "f"]


async def test_webhook_custom_header() -> None:
    got: list[CallEvent] = []
    client = await _client(webhook_app(got.append, api_key=KEY, header="X-Hook"))
    try:
        r = await client.post("/tel4vn/events", json=event(), headers={"X-Hook": KEY})
        assert r.status == 200
    finally:
        await client.close()
    assert len(got) == 1


async def test_webhook_oversize_malformed_and_ok() -> None:
    got: list[CallEvent] = []
    client = await _client(webhook_app(got.append, api_key=KEY, max_body=512))
    hdr = {"X-API-Key": KEY}
    try:
        big = {**event("big"), "pad": "x" * 2000}
        r = await client.post("/tel4vn/events", json=big, headers=hdr)
        assert r.status == 413
        r = await client.post("/tel4vn/events", data=b"{not json", headers=hdr)
        assert r.status == 400
        r = await client.post("/tel4vn/events", json=[1, 2], headers=hdr)
        assert r.status == 400
        r = await client.post("/tel4vn/events", json=event("ok"), headers=hdr)
        assert 200 <= r.status < 300
    finally:
        await client.close()
    assert [e.call_id for e in got] == ["ok"]


async def test_webhook_chunked_oversize_is_413_without_reading_all() -> None:
    got: list[CallEvent] = []
    client = await _client(webhook_app(got.append, api_key=KEY, max_body=1024))

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"call_id": "x", "state": "hangup", "pad": "'
        for _ in range(200):
            yield b"x" * 8192
        yield b'"}'

    try:
        r = await client.post("/tel4vn/events", data=chunks(), headers={"X-API-Key": KEY})
        assert r.status == 413
    finally:
        await client.close()
    assert got == []


async def test_webhook_event_missing_call_id_is_400() -> None:
    got: list[CallEvent] = []
    client = await _client(webhook_app(got.append, api_key=KEY))
    try:
        r = await client.post(
            "/tel4vn/events", json={"state": "hangup"}, headers={"X-API-Key": KEY}
        )
        assert r.status == 400
    finally:
        await client.close()
    assert got == []


async def test_webhook_handler_error_is_500_and_not_marked_seen() -> None:
    calls: list[str] = []

    async def handler(ev: CallEvent) -> None:
        calls.append(ev.call_id)
        if len(calls) == 1:
            raise RuntimeError("handler broke")

    client = await _client(webhook_app(handler, api_key=KEY))
    hdr = {"X-API-Key": KEY}
    try:
        r = await client.post("/tel4vn/events", json=event("x"), headers=hdr)
        assert r.status == 500
        r = await client.post("/tel4vn/events", json=event("x"), headers=hdr)
        assert r.status == 200
    finally:
        await client.close()
    assert calls == ["x", "x"]


async def test_webhook_200_only_after_handler_ran() -> None:
    done: list[str] = []

    async def handler(ev: CallEvent) -> None:
        await asyncio.sleep(0.02)
        done.append(ev.call_id)

    client = await _client(webhook_app(handler, api_key=KEY))
    try:
        r = await client.post("/tel4vn/events", json=event("slow"), headers={"X-API-Key": KEY})
        assert r.status == 200
        assert done == ["slow"]
    finally:
        await client.close()


async def test_webhook_duplicates_reach_handler_once() -> None:
    got: list[tuple[str, str]] = []

    async def handler(ev: CallEvent) -> None:
        got.append((ev.call_id, str(ev.state.value)))

    client = await _client(webhook_app(handler, api_key=KEY))
    hdr = {"X-API-Key": KEY}
    try:
        for _ in range(3):
            r = await client.post("/tel4vn/events", json=event("dup", "hangup"), headers=hdr)
            assert 200 <= r.status < 300
        r = await client.post("/tel4vn/events", json=event("dup", "cdr"), headers=hdr)
        assert 200 <= r.status < 300
        results = await asyncio.gather(
            *(
                client.post("/tel4vn/events", json=event("par", "ringing"), headers=hdr)
                for _ in range(5)
            )
        )
        assert all(200 <= x.status < 300 for x in results)
    finally:
        await client.close()
    assert got.count(("dup", "hangup")) == 1
    assert got.count(("dup", "cdr")) == 1
    assert got.count(("par", "ringing")) == 1


async def test_event_stream_back_pressure_503() -> None:
    async with EventStream(maxsize=1) as stream:
        client = await _client(stream.app(api_key=KEY))
        hdr = {"X-API-Key": KEY}
        try:
            r = await client.post("/tel4vn/events", json=event("s1"), headers=hdr)
            assert 200 <= r.status < 300
            r = await client.post("/tel4vn/events", json=event("s2"), headers=hdr)
            assert r.status == 503
            assert "Retry-After" in r.headers
            first = await asyncio.wait_for(stream.__anext__(), 1)
            assert first.call_id == "s1"
            # not marked seen: the re-send is taken once there is room
            r = await client.post("/tel4vn/events", json=event("s2"), headers=hdr)
            assert 200 <= r.status < 300
            second = await asyncio.wait_for(stream.__anext__(), 1)
            assert second.call_id == "s2"
        finally:
            await client.close()


async def test_events_subscribe_is_idempotent(fake: FakeTel4vn) -> None:
    url = "http://127.0.0.1:1/hook"
    async with cc_client(fake) as cc:
        first = await cc.events.subscribe(url, callback_apikey="cb-key")
        assert len(first) == 4
        await cc.events.subscribe(url, callback_apikey="cb-key")
        listed = await cc.events.list()
    assert len(listed) == 4
    assert fake.count("/v1/event", "POST") == 4


async def test_events_subscribe_creates_only_missing(fake: FakeTel4vn) -> None:
    url = "http://127.0.0.1:1/hook2"
    async with cc_client(fake) as cc:
        await cc.events.create(url, "hangup", callback_apikey="cb")
        await cc.events.subscribe(url, callback_apikey="cb")
        assert len(await cc.events.list()) == 4
        await cc.events.unsubscribe(url)
        await cc.events.unsubscribe(url)
        assert await cc.events.list() == []
    assert fake.count("/v1/event", "POST") == 4


# --- further probes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (500, {"status": "fail", "error": "USER_NOT_REGISTERED"}, UserNotRegisteredError),
        (502, {"status": "fail", "error": "USER_BUSY"}, UserBusyError),
    ],
)
async def test_call_placing_5xx_naming_rejection_raises_its_class(
    fake: FakeTel4vn, status: int, body: dict[str, Any], cls: type[APIError]
) -> None:
    fake.inject("/v1/click2call/async", status=status, body=body, times=5)
    with pytest.raises(cls) as info:
        await op_c2c_start(fake)
    assert not isinstance(info.value, OutcomeUnknownError)
    assert fake.count("/v1/click2call/async") == 1


async def test_call_placing_success_without_call_id_is_outcome_unknown(
    fake: FakeTel4vn,
) -> None:
    fake.inject("/v1/autocall/otp", status=200, body={"status": "success"}, times=5)
    with pytest.raises(OutcomeUnknownError):
        await op_otp(fake)
    assert fake.count("/v1/autocall/otp") == 1


async def test_customer_upload_field_errors_in_200_body(fake: FakeTel4vn) -> None:
    fake.inject(
        "/v2/customer",
        status=200,
        method="POST",
        body={"content": [{"field": "phone_number", "message": "invalid"}]},
    )
    with pytest.raises(BadRequestError) as info:
        await op_customer_create(fake)
    assert info.value.details
    assert fake.count("/v2/customer", "POST") == 1


async def test_bare_message_is_error_only_where_spec_shows_it(fake: FakeTel4vn) -> None:
    fake.inject("/v2/autodialer/queue/start", status=200, body={"message": "queue not found"})
    async with cc_client(fake) as cc:
        with pytest.raises(NotFoundError):
            await cc.autodialer.start("Q1")
    assert fake.count("/v2/autodialer/queue/start") == 1


async def test_user_busy_error_fields(fake: FakeTel4vn) -> None:
    fake.inject("/v1/click2call/async", status=200, body={"status": "fail", "error": "USER_BUSY"})
    with pytest.raises(UserBusyError) as info:
        await op_c2c_start(fake)
    assert info.value.code == "USER_BUSY"
    assert info.value.path == "/v1/click2call/async"


async def test_endpoint_401_twice_is_authentication_error(fake: FakeTel4vn) -> None:
    fake.inject("/v2/call", status=401, method="GET", times=5)
    async with cc_client(fake) as cc:
        with pytest.raises(AuthenticationError):
            await cc.calls.list()
    assert fake.count("/v2/call", "GET") == 2
    assert fake.count("/v2/auth/token") == 2


async def test_reads_retried_on_timeout_and_drop(fake: FakeTel4vn) -> None:
    fake.inject("/v2/call", Fault(delay=0.2), method="GET", times=1)
    fake.inject("/v2/call", Fault(drop="after"), method="GET", times=1)
    async with cc_client(fake, timeout=0.05) as cc:
        assert await cc.calls.list() == []
    assert fake.count("/v2/call", "GET") == 3


async def test_call_placing_503_retry_after_honoured(fake: FakeTel4vn) -> None:
    waits: list[float] = []

    async def record(delay: float) -> None:
        waits.append(delay)

    fake.inject("/v1/autocall/otp", status=503, retry_after=20, times=1)
    async with AutocallClient(
        fake.url, api_key=fake.api_key, retry_policy=RetryPolicy(sleep=record)
    ) as pbx:
        await pbx.calls.otp(
            campaign_id=1,
            caller="0123456789",
            callee="0987654321",
            template="otp_demo",
            code="123456",
        )
    assert waits
    assert waits[0] >= 20
    assert fake.count("/v1/autocall/otp") == 2


async def test_async_on_attempt_and_no_retry_flag_on_unknown(fake: FakeTel4vn) -> None:
    seen: list[Attempt] = []

    async def hook(attempt: Attempt) -> None:
        seen.append(attempt)

    fake.inject("/v1/click2call/async", status=500, times=5)
    async with cc_client(fake, on_attempt=hook) as cc:
        with pytest.raises(OutcomeUnknownError):
            await cc.click2call.start("101", "0899098899")
    c2c = [a for a in seen if a.path == "/v1/click2call/async"]
    assert len(c2c) == 1
    assert c2c[0].status == 500
    assert c2c[0].will_retry is False


async def test_with_options_max_retries_applies_to_call_placing_429(fake: FakeTel4vn) -> None:
    fake.inject("/v1/click2call/async", status=429, retry_after=1, times=5)
    async with cc_client(fake) as cc:
        with pytest.raises(RateLimitError):
            await cc.with_options(max_retries=0).click2call.start("101", "0899098899")
    assert fake.count("/v1/click2call/async") == 1


async def test_env_mixes_family_url_and_generic_key(
    fake: FakeTel4vn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEL4VN_AUTOCALL_API_KEY", raising=False)
    monkeypatch.setenv("TEL4VN_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("TEL4VN_AUTOCALL_URL", fake.url)
    monkeypatch.setenv("TEL4VN_API_KEY", fake.api_key)
    async with AutocallClient() as pbx:
        assert (await pbx.session.token()).access_token
    assert fake.count("/v1/auth/token") == 1


async def test_env_missing_is_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (
        "TEL4VN_BASE_URL",
        "TEL4VN_API_KEY",
        "TEL4VN_CALLCENTER_URL",
        "TEL4VN_CALLCENTER_API_KEY",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TEL4VN_CALLCENTER_URL", "http://127.0.0.1:9")
    with pytest.raises(ConfigurationError):
        CallCenterClient()


async def test_user_agent_carries_installed_version(fake: FakeTel4vn) -> None:
    version = importlib.metadata.version("tel4vn_async")
    async with cc_client(fake) as cc:
        await cc.calls.list()
    assert fake.requests
    for req in fake.requests:
        assert req.headers["User-Agent"] == f"tel4vn-async/{version}"


async def test_webhook_concurrent_duplicates_with_slow_handler() -> None:
    got: list[str] = []

    async def handler(ev: CallEvent) -> None:
        await asyncio.sleep(0.02)
        got.append(ev.call_id)

    client = await _client(webhook_app(handler, api_key=KEY))
    try:
        results = await asyncio.gather(
            *(
                client.post("/tel4vn/events", json=event("slowdup"), headers={"X-API-Key": KEY})
                for _ in range(4)
            )
        )
        assert all(200 <= r.status < 300 for r in results)
    finally:
        await client.close()
    assert got == ["slowdup"]


async def test_webhook_wrong_key_in_body_is_401() -> None:
    got: list[CallEvent] = []
    client = await _client(webhook_app(got.append, api_key=KEY))
    try:
        r = await client.post("/tel4vn/events", json={**event(), "api_key": "wrong"})
        assert r.status == 401
    finally:
        await client.close()
    assert got == []


async def test_event_stream_closed_is_503() -> None:
    stream = EventStream(maxsize=5)
    client = await _client(stream.app(api_key=KEY))
    try:
        await stream.aclose()
        r = await client.post("/tel4vn/events", json=event("late"), headers={"X-API-Key": KEY})
        assert r.status == 503
    finally:
        await client.close()


async def test_with_options_child_first_then_parent_one_token(fake: FakeTel4vn) -> None:
    async with cc_client(fake) as cc:
        child = cc.with_options(timeout=5)
        await asyncio.gather(child.calls.list(), cc.calls.list(), child.calls.list())
        await cc.calls.list()
    assert fake.count("/v2/auth/token") == 1
    assert fake.count("/v2/call") == 4


async def test_no_proxy_honoured(fake: FakeTel4vn, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    async with cc_client(fake, max_retries=0) as cc:
        assert await cc.calls.list() == []


async def test_retry_after_above_cap_raises_at_once(fake: FakeTel4vn) -> None:
    fake.inject("/v2/call", status=429, retry_after=600, method="GET", times=5)
    async with cc_client(fake) as cc:
        with pytest.raises(RateLimitError) as info:
            await cc.calls.list()
    assert info.value.retry_after == 600
    assert fake.count("/v2/call", "GET") == 1


async def test_idempotent_delete_retried_on_5xx(fake: FakeTel4vn) -> None:
    async with cc_client(fake) as cc:
        hooks = await cc.events.subscribe("http://127.0.0.1:1/d", events=["hangup"])
        assert len(hooks) == 1
        event_id = hooks[0].event_domain_uuid
        assert event_id is not None
        path = f"/v1/event/{event_id}"
        fake.inject(path, status=502, method="DELETE", times=1)
        await cc.events.delete(event_id)
        assert await cc.events.list() == []
    assert fake.count(path, "DELETE") == 2


async def test_on_attempt_numbers_and_waits(fake: FakeTel4vn) -> None:
    seen: list[Attempt] = []
    fake.inject("/v2/call", status=503, retry_after=2, method="GET", times=2)
    async with cc_client(fake, on_attempt=seen.append) as cc:
        await cc.calls.list()
    calls = [a for a in seen if a.path == "/v2/call"]
    numbers = [a.number for a in calls]
    assert numbers == sorted(set(numbers))
    assert len(numbers) == 3
    assert [a.retry_after for a in calls[:2]] == [2, 2]
    assert all(a.wait is not None and a.wait >= 2 for a in calls[:2])
    assert all(a.method == "GET" and a.elapsed >= 0 for a in calls)


async def test_subscribe_with_new_key_replaces_hooks(fake: FakeTel4vn) -> None:
    url = "http://127.0.0.1:1/rekey"
    async with cc_client(fake) as cc:
        await cc.events.subscribe(url, callback_apikey="old-key")
        await cc.events.subscribe(url, callback_apikey="new-key")
        listed = [e for e in await cc.events.list() if e.callback_url == url]
    assert len(listed) == 4
    assert [e.callback_apikey for e in listed] == ["new-key"] * 4


async def test_webhook_dedupe_window_is_bounded() -> None:
    got: list[str] = []

    async def handler(ev: CallEvent) -> None:
        got.append(ev.call_id)

    app = webhook_app(handler, api_key=KEY, dedupe=MemoryDedupe(max_entries=2))
    client = await _client(app)
    hdr = {"X-API-Key": KEY}
    try:
        for cid in ["a", "b", "c", "d", "a"]:
            r = await client.post("/tel4vn/events", json=event(cid), headers=hdr)
            assert 200 <= r.status < 300
    finally:
        await client.close()
    assert got == ["a", "b", "c", "d", "a"]


async def test_event_stream_dedupes() -> None:
    async with EventStream(maxsize=5) as stream:
        client = await _client(stream.app(api_key=KEY))
        hdr = {"X-API-Key": KEY}
        try:
            for cid in ["e1", "e1", "e2"]:
                r = await client.post("/tel4vn/events", json=event(cid), headers=hdr)
                assert 200 <= r.status < 300
            first = await asyncio.wait_for(stream.__anext__(), 1)
            second = await asyncio.wait_for(stream.__anext__(), 1)
        finally:
            await client.close()
    assert [first.call_id, second.call_id] == ["e1", "e2"]


async def test_call_placing_503_exhausted_is_not_outcome_unknown(fake: FakeTel4vn) -> None:
    fake.inject("/v1/autocall/otp", status=503, times=10)
    with pytest.raises(ServerError) as info:
        await op_otp(fake)
    assert not isinstance(info.value, OutcomeUnknownError)
    assert info.value.status == 503
    assert fake.count("/v1/autocall/otp") == 4


async def test_with_options_child_keeps_on_attempt(fake: FakeTel4vn) -> None:
    seen: list[Attempt] = []
    fake.inject("/v2/call", status=429, retry_after=1, method="GET", times=1)
    async with cc_client(fake, on_attempt=seen.append) as cc:
        await cc.with_options(max_retries=1).calls.list()
    assert [a.status for a in seen if a.path == "/v2/call"] == [429, 200]


async def test_read_gateway_html_page_is_retried(fake: FakeTel4vn) -> None:
    fake.inject("/v2/call", Fault(status=502, html=True), method="GET", times=1)
    async with cc_client(fake) as cc:
        assert await cc.calls.list() == []
    assert fake.count("/v2/call", "GET") == 2


async def test_call_placing_html_refusal_page_is_retried(fake: FakeTel4vn) -> None:
    for n, status in enumerate([503, 429], start=1):
        fake.inject("/v1/autocall/otp", Fault(status=status, html=True), times=1)
        await op_otp(fake)
        assert fake.count("/v1/autocall/otp") == 2 * n


async def test_webhook_handler_error_leaks_no_key(caplog: pytest.LogCaptureFixture) -> None:
    async def handler(ev: CallEvent) -> None:
        raise RuntimeError("boom")

    client = await _client(webhook_app(handler, api_key=KEY))
    try:
        with caplog.at_level(logging.DEBUG):
            r = await client.post(
                "/tel4vn/events", json=event("leak"), headers={"Authorization": f"Bearer {KEY}"}
            )
            assert r.status == 500
            assert KEY not in await r.text()
            r = await client.post(
                "/tel4vn/events", json=event("leak2"), headers={"X-API-Key": "wrong"}
            )
            assert r.status == 401
            assert KEY not in await r.text()
    finally:
        await client.close()
    assert KEY not in caplog.text


async def test_token_and_session_repr_hide_secrets(fake: FakeTel4vn) -> None:
    async with cc_client(fake) as cc:
        token = await cc.session.token()
        child = cc.with_options(max_retries=0)
        for obj in (token, cc.session, cc, child):
            for text in (repr(obj), str(obj)):
                assert token.access_token not in text
                assert fake.api_key not in text


async def test_backoff_is_exponential_with_full_jitter(fake: FakeTel4vn) -> None:
    waits: list[float] = []

    async def record(delay: float) -> None:
        waits.append(delay)

    fake.inject("/v2/call", status=500, method="GET", times=6)
    async with CallCenterClient(
        fake.url,
        api_key=fake.api_key,
        max_retries=6,
        retry_policy=RetryPolicy(backoff_base=0.5, backoff_max=10.0, sleep=record),
    ) as cc:
        assert await cc.calls.list() == []
    assert len(waits) == 6
    for i, wait in enumerate(waits):
        assert 0 <= wait <= min(10.0, 0.5 * 2**i) + 1e-9, (i, waits)
    assert len(set(waits)) > 1


async def test_with_options_keeps_unset_settings(fake: FakeTel4vn) -> None:
    fake.inject("/v2/call", status=500, method="GET", times=5)
    async with cc_client(fake, max_retries=1) as cc:
        with pytest.raises(ServerError):
            await cc.with_options(timeout=5).calls.list()
    assert fake.count("/v2/call", "GET") == 2


def test_error_tree() -> None:
    assert issubclass(OutcomeUnknownError, TransportError)
    assert issubclass(UserBusyError, CallRejectedError)
    assert issubclass(UserNotRegisteredError, CallRejectedError)
    assert issubclass(CallRejectedError, APIError)
    assert issubclass(ValidationError, ValueError)
    for cls in (APIError, TransportError, ConfigurationError, ClientClosedError):
        assert issubclass(cls, Tel4vnError)


async def test_webhook_custom_path_and_existing_app() -> None:
    got: list[str] = []

    async def handler(ev: CallEvent) -> None:
        got.append(ev.call_id)

    app = web.Application()
    add_webhook_route(app, handler, api_key=KEY, path="/hooks/pbx")
    client = await _client(app)
    try:
        r = await client.post("/hooks/pbx", json=event("p1"), headers={"X-API-Key": KEY})
        assert 200 <= r.status < 300
        r = await client.post("/hooks/pbx", json=event("p2"), headers={"X-API-Key": "no"})
        assert r.status == 401
    finally:
        await client.close()
    assert got == ["p1"]
