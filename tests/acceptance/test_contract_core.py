"""Black-box acceptance tests for API.md sections 1-3 (clients, session, errors, retries).

Built from the contract only: every test talks to a real HTTP server on 127.0.0.1,
either ``tel4vn_async.testing.FakeTel4vn`` or the scripted aiohttp.web server of
``tests/scripted_server.py``, serving the shapes the contract (and spec/NOTES.md) says
real servers send.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import math
import socket
import time
import traceback
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta, timezone
from email.utils import formatdate
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tel4vn_async import (
    Account,
    APIError,
    AuthenticationError,
    AutocallClient,
    BadRequestError,
    CallCenterClient,
    CallRejectedError,
    ClientClosedError,
    ConfigurationError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitError,
    RetryPolicy,
    ServerError,
    Session,
    Tel4vnError,
    Token,
    TokenStore,
    TransportError,
    UserBusyError,
    UserNotRegisteredError,
    ValidationError,
)
from tel4vn_async.testing import FakeTel4vn

from ..conftest import FakeClock, RecordedSleeps
from ..scripted_server import AC_TOKEN, CC_TOKEN, Handler, ScriptedServer

API_KEY = "KEY-5ecr3t-aaaa-bbbb-cccc-dddd"
PASSWORD = "hunter2-pa55w0rd"
FAST = RetryPolicy(backoff_base=0.01, backoff_max=0.05)


# --------------------------------------------------------------------------- servers


@pytest.fixture
async def srv() -> AsyncIterator[ScriptedServer]:
    async with ScriptedServer() as server:
        yield server


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


def cc_client(url: str, **kw: Any) -> CallCenterClient:
    kw.setdefault("timeout", 5.0)
    kw.setdefault("retry_policy", FAST)
    return CallCenterClient(url, api_key=API_KEY, **kw)


def ac_client(url: str, **kw: Any) -> AutocallClient:
    kw.setdefault("timeout", 5.0)
    kw.setdefault("retry_policy", FAST)
    return AutocallClient(url, api_key=API_KEY, **kw)


def seq(*responses: Callable[[], web.StreamResponse] | Handler) -> Handler:
    """A handler answering each request with the next response; the last one repeats."""
    state = {"i": 0}

    async def handler(request: web.Request) -> web.StreamResponse:
        i = min(state["i"], len(responses) - 1)
        state["i"] += 1
        made = responses[i]
        result = made(request) if _wants_request(made) else made()  # type: ignore[call-arg]
        if asyncio.iscoroutine(result):
            return await result  # type: ignore[no-any-return]
        assert isinstance(result, web.StreamResponse)
        return result

    return handler


def _wants_request(fn: object) -> bool:
    return bool(getattr(fn, "_wants_request", False))


def jr(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Callable[[], web.StreamResponse]:
    return lambda: web.json_response(body, status=status, headers=headers)


def raw(
    text: str, status: int = 200, content_type: str = "text/html"
) -> Callable[[], web.StreamResponse]:
    return lambda: web.Response(text=text, status=status, content_type=content_type)


def _req(fn: Handler) -> Handler:
    fn._wants_request = True  # type: ignore[attr-defined]
    return fn


async def _drop(request: web.Request) -> web.StreamResponse:
    assert request.transport is not None
    request.transport.close()
    await asyncio.sleep(0.3)
    return web.Response()


async def _hang(request: web.Request) -> web.StreamResponse:
    await asyncio.sleep(1.2)
    return web.json_response({"status": "success", "call_id": "late"})


DROP = _req(_drop)
HANG = _req(_hang)
OK_CALL_BODY = {"status": "success", "call_id": "c-1"}
OK_IMPORT_BODY = {"code": 200, "content": "successfully", "data": {"fail": [], "success": ["KH1"]}}


async def _ok_call(request: web.Request) -> web.StreamResponse:
    if request.path in ("/v2/autocall/queue", "/v2/autodialer/queue"):
        return web.json_response(OK_IMPORT_BODY)
    return web.json_response(OK_CALL_BODY)


OK_CALL = _req(_ok_call)


# --------------------------------------------------------------------------- 1. constructor


def test_missing_base_url_raises_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEL4VN_BASE_URL", raising=False)
    monkeypatch.delenv("TEL4VN_API_KEY", raising=False)
    with pytest.raises(ConfigurationError):
        CallCenterClient(api_key=API_KEY)
    with pytest.raises(ConfigurationError):
        AutocallClient(api_key=API_KEY)


def test_missing_api_key_raises_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEL4VN_BASE_URL", raising=False)
    monkeypatch.delenv("TEL4VN_API_KEY", raising=False)
    with pytest.raises(ConfigurationError) as info:
        CallCenterClient("http://127.0.0.1:1")
    assert isinstance(info.value, Tel4vnError)
    with pytest.raises(ConfigurationError):
        AutocallClient("http://127.0.0.1:1")
    with pytest.raises(ConfigurationError):
        CallCenterClient()


async def test_env_fallbacks(srv: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEL4VN_BASE_URL", srv.url)
    monkeypatch.setenv("TEL4VN_API_KEY", API_KEY)
    async with CallCenterClient(retry_policy=FAST) as cc:
        await cc.request("GET", "/v1/event")
    async with AutocallClient(retry_policy=FAST) as pbx:
        await pbx.request("GET", "/v1/report")
    tok = srv.of(CC_TOKEN) + srv.of(AC_TOKEN)
    assert len(tok) == 2
    for hit in tok:
        assert hit.method == "POST"
        assert hit.body == {"api_key": API_KEY}


async def test_env_fallback_only_for_missing_argument(
    srv: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEL4VN_BASE_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("TEL4VN_API_KEY", "env-key")
    async with CallCenterClient(srv.url, retry_policy=FAST) as cc:
        await cc.request("GET", "/v1/event")
    assert srv.of(CC_TOKEN)[0].body == {"api_key": "env-key"}


# --------------------------------------------------------------------------- 1. lifecycle


async def test_passed_in_session_is_never_closed(srv: ScriptedServer) -> None:
    async with aiohttp.ClientSession() as http:
        async with cc_client(srv.url, http_session=http) as cc:
            await cc.request("GET", "/v1/event")
        assert not http.closed
        pbx = ac_client(srv.url, http_session=http)
        await pbx.request("GET", "/v1/report")
        await pbx.close()
        await pbx.close()
        assert not http.closed
        async with http.get(srv.url + "/ping") as resp:
            assert resp.status == 200


async def test_use_after_close_raises_client_closed(srv: ScriptedServer) -> None:
    async with cc_client(srv.url) as cc:
        await cc.request("GET", "/v1/event")
    before = len(srv.hits)
    with pytest.raises(ClientClosedError):
        await cc.request("GET", "/v1/event")
    with pytest.raises(ClientClosedError):
        await cc.click2call.start("101", "0899098899")
    await cc.close()  # idempotent
    pbx = ac_client(srv.url)
    await pbx.close()
    with pytest.raises(ClientClosedError):
        await pbx.calls.otp(
            campaign_id="c1",
            caller="0123456789",
            callee="0987654321",
            template="otp_demo",
            code="123456",
        )
    assert len(srv.hits) == before
    assert issubclass(ClientClosedError, Tel4vnError)


async def test_close_during_inflight_token_refresh_is_clean(srv: ScriptedServer) -> None:
    async def slow_token(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(1)
        return web.json_response({"data": {"token": "slow", "expired_in": 3600}})

    srv.token_handler = slow_token
    cc = cc_client(srv.url)
    task = asyncio.ensure_future(cc.request("GET", "/v1/event"))
    await asyncio.sleep(0.1)
    await cc.close()
    with pytest.raises((ClientClosedError, asyncio.CancelledError, Tel4vnError)):
        await task


async def _use_then_fail(client: CallCenterClient) -> None:
    async with client:
        await client.request("GET", "/v1/event")
        raise RuntimeError("boom")


async def test_no_unclosed_client_session_warning(srv: ScriptedServer) -> None:
    loop = asyncio.get_running_loop()
    seen: list[str] = []
    old = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, ctx: seen.append(str(ctx.get("message"))))
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            async with cc_client(srv.url) as cc:
                await cc.request("GET", "/v1/event")
            pbx = ac_client(srv.url)
            await pbx.request("GET", "/v1/report")
            await pbx.close()
            never_used = cc_client(srv.url)
            entered = ac_client(srv.url)
            async with entered:
                pass
            failing = cc_client(srv.url)
            with pytest.raises(RuntimeError):
                await _use_then_fail(failing)
            del cc, pbx, never_used, entered, failing
            gc.collect()
            await asyncio.sleep(0.05)
            gc.collect()
        messages = seen + [str(w.message) for w in caught]
    finally:
        loop.set_exception_handler(old)
    assert not [m for m in messages if "nclosed" in m], messages


# --------------------------------------------------------------------------- 1. login


async def test_login_callcenter(srv: ScriptedServer) -> None:
    srv.routes["/v1/auth"] = seq(
        jr(
            {
                "code": 200,
                "content": "successfully",
                "data": {
                    "api_key": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeee",
                    "domain_uuid": "d",
                    "enabled": "true",
                    "extension": "110",
                    "level": "admin",
                    "user_uuid": "u",
                    "username": "adminfortest",
                },
            }
        )
    )
    account = await CallCenterClient.login(srv.url, "foo@test.tel4vn.com", PASSWORD)
    assert isinstance(account, Account)
    assert account.api_key == "aaaaaaaa-bbbb-cccc-dddd-eeeeeeee"
    hit = srv.of("/v1/auth")[0]
    assert hit.method == "POST"
    assert hit.body == {"username": "foo@test.tel4vn.com", "password": PASSWORD}
    assert PASSWORD not in repr(account)
    assert PASSWORD not in str(account)


async def test_login_autocall(srv: ScriptedServer) -> None:
    srv.routes["/v1/auth"] = seq(
        jr(
            {
                "data": {
                    "user_uuid": "u",
                    "domain_uuid": "d",
                    "username": "foo",
                    "api_key": "ac-key-1",
                    "user_enabled": "true",
                    "level": "admin",
                }
            }
        )
    )
    account = await AutocallClient.login(srv.url, "foo", PASSWORD)
    assert account.api_key == "ac-key-1"
    assert srv.count("/v1/auth") == 1
    assert srv.token_count() == 0


async def test_login_with_fake() -> None:
    async with FakeTel4vn() as fake:
        account = await CallCenterClient.login(fake.url, fake.username, fake.password)
        assert account.api_key == fake.api_key
        account2 = await AutocallClient.login(fake.url, fake.username, fake.password)
        assert account2.api_key == fake.api_key
        with pytest.raises(AuthenticationError) as info:
            await CallCenterClient.login(fake.url, fake.username, "wrong-" + fake.password)
        assert fake.password not in _all_text(info.value)


async def test_login_failure_does_not_leak_password(srv: ScriptedServer) -> None:
    srv.routes["/v1/auth"] = seq(
        jr(
            {"code": 401, "content": f"wrong password {PASSWORD} for foo", "error": PASSWORD},
            status=401,
        )
    )
    with pytest.raises(AuthenticationError) as info:
        await CallCenterClient.login(srv.url, "foo", PASSWORD)
    assert PASSWORD not in _all_text(info.value)


# --------------------------------------------------------------------------- 1. token shapes

NOW_PLUS = 3600


def _shapes() -> list[tuple[str, Callable[[], Any], str, float | None]]:
    """(id, body factory, expected token, expected seconds-from-now or None)."""

    def abs_in(sec: int) -> int:
        return int(time.time()) + sec

    return [
        (
            "wrapped-token-expired_in",
            lambda: {"code": 200, "data": {"token": "t1", "expired_in": 3600}},
            "t1",
            3600,
        ),
        (
            "wrapped-access_token-expire_at",
            lambda: {
                "data": {"access_token": "t2", "expire_at": abs_in(7200), "token_type": "Bearer"}
            },
            "t2",
            7200,
        ),
        (
            "wrapped-token-expired",
            lambda: {"data": {"token": "t3", "expired": abs_in(5000), "user_id": "u"}},
            "t3",
            5000,
        ),
        (
            "flat-token-expired_in",
            lambda: {"code": 200, "token": "t4", "expired_in": 3600, "token_type": "Bearer"},
            "t4",
            3600,
        ),
        (
            "flat-access_token-expire_at",
            lambda: {"access_token": "t5", "expire_at": abs_in(9000)},
            "t5",
            9000,
        ),
        ("flat-token-expired", lambda: {"token": "t5b", "expired": abs_in(4000)}, "t5b", 4000),
        (
            "wrapped-access_token-expired_in",
            lambda: {"data": {"access_token": "t5c", "expired_in": 4000}},
            "t5c",
            4000,
        ),
        (
            "expire_at-duration",
            lambda: {"data": {"access_token": "t6", "expire_at": 15552000}},
            "t6",
            15552000,
        ),
        ("expired-duration", lambda: {"data": {"token": "t7", "expired": 86400}}, "t7", 86400),
        (
            "expired_in-spec-sample",
            lambda: {"code": 200, "data": {"token": "t8", "expired_in": 14763877}},
            "t8",
            14763877,
        ),
        (
            "expire_at-just-below-1e9-is-duration",
            lambda: {"data": {"access_token": "t11", "expire_at": 999_999_999}},
            "t11",
            999_999_999,
        ),
        (
            "expired_in-above-1e9-still-duration",
            lambda: {"data": {"token": "t12", "expired_in": 1_500_000_000}},
            "t12",
            1_500_000_000,
        ),
        (
            "expired_in-as-string",
            lambda: {"data": {"token": "t13", "expired_in": "3600"}},
            "t13",
            3600,
        ),
        ("no-expiry-wrapped", lambda: {"data": {"token": "t9"}}, "t9", None),
        ("no-expiry-flat", lambda: {"access_token": "t10", "token_type": "Bearer"}, "t10", None),
    ]


@pytest.mark.parametrize("family", ["cc", "ac"])
@pytest.mark.parametrize(
    ("shape_id", "factory", "expected", "seconds"), _shapes(), ids=[s[0] for s in _shapes()]
)
async def test_token_shapes(
    srv: ScriptedServer,
    family: str,
    shape_id: str,
    factory: Callable[[], Any],
    expected: str,
    seconds: float | None,
) -> None:
    srv.token_shape = lambda n: factory()
    client: CallCenterClient | AutocallClient = (
        cc_client(srv.url) if family == "cc" else ac_client(srv.url)
    )
    async with client:
        token = await client.session.token()
        assert isinstance(token, Token)
        assert token.access_token == expected
        assert token.token_type.lower() == "bearer"
        if seconds is None:
            assert token.expires_at is None
        else:
            assert token.expires_at is not None
            assert True
            exp = token.expires_at
            if exp.tzinfo is None:
                exp = exp.replace(tzinfo=timezone.utc)
            delta = (exp - datetime.now(timezone.utc)).total_seconds()
            assert abs(delta - seconds) < 30, (delta, seconds)
        # a valid token is reused and sent as a Bearer header
        path = "/v1/event" if family == "cc" else "/v1/report"
        for _ in range(3):
            await client.request("GET", path)
            assert (await client.session.token()).access_token == expected
    assert srv.token_count() == 1
    assert srv.of(CC_TOKEN if family == "cc" else AC_TOKEN)
    for hit in srv.of(path):
        assert hit.auth == f"Bearer {expected}"


async def test_no_expiry_refreshes_only_on_401(srv: ScriptedServer) -> None:
    srv.token_shape = lambda n: {"data": {"token": f"noexp-{n}"}}
    state = {"n": 0}

    async def ev(request: web.Request) -> web.StreamResponse:
        state["n"] += 1
        if state["n"] == 6:
            return web.json_response({"code": 401, "content": "token expired"}, status=401)
        return web.json_response({"data": []})

    srv.routes["/v1/event"] = ev
    async with cc_client(srv.url, refresh_leeway=10_000) as cc:
        for _ in range(5):
            await cc.request("GET", "/v1/event")
        assert srv.token_count() == 1
        await cc.request("GET", "/v1/event")  # 401 -> refresh once -> retry
        assert srv.token_count() == 2
        for _ in range(3):
            await cc.request("GET", "/v1/event")
    assert srv.token_count() == 2
    assert [h.auth for h in srv.of("/v1/event")][-4:] == ["Bearer noexp-2"] * 4


@pytest.mark.parametrize(
    "shape",
    [
        {"data": {"access_token": "past", "expire_at": 1613636318, "token_type": "Bearer"}},
        {"code": 200, "data": {"token": "past", "expired": 1613636318}},
        {"token": "past", "expire_at": 1613636318},
    ],
)
async def test_token_with_past_expiry_used_anyway(
    srv: ScriptedServer, shape: dict[str, Any]
) -> None:
    issued = {"n": 0}

    async def tok(request: web.Request) -> web.StreamResponse:
        issued["n"] += 1
        if issued["n"] == 1:
            return web.json_response(shape)
        return web.json_response(
            {"data": {"access_token": "fresh", "expire_at": int(time.time()) + 3600}}
        )

    srv.token_handler = tok
    state = {"n": 0}

    async def rep(request: web.Request) -> web.StreamResponse:
        state["n"] += 1
        if state["n"] == 6:
            return web.json_response({"message": "unauthorized"}, status=401)
        return web.json_response({"data": []})

    srv.routes["/v1/report"] = rep
    async with ac_client(srv.url) as pbx:
        t = await pbx.session.token()
        assert t.access_token == "past"
        for _ in range(5):
            await pbx.request("GET", "/v1/report")
        assert issued["n"] == 1
        await pbx.request("GET", "/v1/report")
        assert issued["n"] == 2
        await pbx.request("GET", "/v1/report")
    assert [h.auth for h in srv.of("/v1/report")] == ["Bearer past"] * 6 + ["Bearer fresh"] * 2


@pytest.mark.parametrize(
    ("lifetime", "leeway"), [(10, 60.0), (100, 60.0), (3600, 60.0), (4, 1000.0)]
)
async def test_short_lived_token_no_refresh_storm(
    srv: ScriptedServer, lifetime: int, leeway: float
) -> None:
    srv.token_shape = lambda n: {"data": {"token": f"s-{n}", "expired_in": lifetime}}
    async with cc_client(srv.url, refresh_leeway=leeway) as cc:
        for _ in range(10):
            await cc.request("GET", "/v1/event")
    assert srv.token_count() == 1


async def test_leeway_triggers_refresh_single_flight(srv: ScriptedServer) -> None:
    # lifetime 2 s, refresh_leeway 60 -> effective leeway 1 s: stale after ~1 s
    srv.token_shape = lambda n: {"data": {"token": f"L-{n}", "expired_in": 2}}
    clock = FakeClock()
    async with cc_client(srv.url, refresh_leeway=60.0, timeout=20.0) as cc:
        cc.session.clock = clock
        await cc.request("GET", "/v1/event")
        assert srv.token_count() == 1
        clock.advance(1.3)
        await asyncio.gather(*(cc.request("GET", "/v1/event") for _ in range(200)))
        assert srv.token_count() == 2
    assert {h.auth for h in srv.of("/v1/event")[1:]} == {"Bearer L-2"}


async def test_leeway_refreshes_before_expiry(srv: ScriptedServer) -> None:
    # lifetime 3600 s, refresh_leeway 60 s: the token is reused, not re-fetched.
    srv.token_shape = lambda n: {
        "data": {"access_token": f"E-{n}", "expire_at": int(time.time()) + 3600}
    }
    async with ac_client(srv.url, refresh_leeway=60.0) as pbx:
        t1 = await pbx.session.token()
        t2 = await pbx.session.token()
        assert t1.access_token == t2.access_token == "E-1"
    assert srv.token_count() == 1


async def test_single_flight_1000_concurrent_requests(srv: ScriptedServer) -> None:
    async def slow_token(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(0.2)
        srv.tokens_issued += 1
        return web.json_response({"data": {"token": f"sf-{srv.tokens_issued}", "expired_in": 3600}})

    srv.token_handler = slow_token
    async with cc_client(srv.url, timeout=30.0) as cc:
        results = await asyncio.gather(*(cc.request("GET", "/v1/event") for _ in range(1000)))
        assert len(results) == 1000
        tokens = await asyncio.gather(*(cc.session.token() for _ in range(1000)))
        assert {t.access_token for t in tokens} == {"sf-1"}
    assert srv.token_count() == 1
    assert srv.count("/v1/event") == 1000
    assert {h.auth for h in srv.of("/v1/event")} == {"Bearer sf-1"}


async def test_single_flight_session_token_calls(srv: ScriptedServer) -> None:
    async def slow_token(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(0.1)
        return web.json_response(
            {"data": {"access_token": "one", "expire_at": int(time.time()) + 3600}}
        )

    srv.token_handler = slow_token
    async with ac_client(srv.url) as pbx:
        tokens = await asyncio.gather(*(pbx.session.token() for _ in range(1000)))
    assert {t.access_token for t in tokens} == {"one"}
    assert srv.token_count() == 1


async def test_failed_refresh_raised_to_all_waiters_then_retried(srv: ScriptedServer) -> None:
    calls = {"n": 0}

    async def tok(request: web.Request) -> web.StreamResponse:
        calls["n"] += 1
        await asyncio.sleep(0.1)
        if calls["n"] == 1:
            return web.json_response({"code": 401, "content": "invalid api_key"}, status=401)
        return web.json_response({"data": {"token": "good", "expired_in": 3600}})

    srv.token_handler = tok
    async with cc_client(srv.url) as cc:
        results = await asyncio.gather(
            *(cc.request("GET", "/v1/event") for _ in range(50)), return_exceptions=True
        )
        assert all(isinstance(r, AuthenticationError) for r in results), results
        assert calls["n"] == 1
        assert srv.count("/v1/event") == 0
        await cc.request("GET", "/v1/event")
        assert calls["n"] == 2
    assert srv.of("/v1/event")[0].auth == "Bearer good"


async def test_failed_refresh_raised_to_session_token_waiters(srv: ScriptedServer) -> None:
    calls = {"n": 0}

    async def tok(request: web.Request) -> web.StreamResponse:
        calls["n"] += 1
        await asyncio.sleep(0.1)
        if calls["n"] == 1:
            return web.json_response({"message": "forbidden"}, status=403)
        return web.json_response(
            {"data": {"access_token": "ok", "expire_at": int(time.time()) + 999}}
        )

    srv.token_handler = tok
    async with ac_client(srv.url) as pbx:
        results = await asyncio.gather(
            *(pbx.session.token() for _ in range(20)), return_exceptions=True
        )
        assert all(isinstance(r, AuthenticationError) for r in results), results
        assert (await pbx.session.token()).access_token == "ok"
    assert calls["n"] == 2


@pytest.mark.parametrize(
    "response",
    [
        jr({"code": 401, "content": "invalid api_key"}, status=401),
        jr({"message": "forbidden"}, status=403),
        jr({"code": 200, "content": "successfully", "data": {}}),
        jr({"code": 401, "content": "api key is invalid"}),
        jr({"status": "fail", "error": "INVALID_API_KEY", "message": "no"}, status=401),
        raw("<html>401 Unauthorized</html>", status=401),
    ],
    ids=["401", "403", "200-no-token", "200-code-401", "401-status-fail", "401-html"],
)
async def test_failing_token_endpoint_raises_authentication_error(
    srv: ScriptedServer, response: Callable[[], web.StreamResponse]
) -> None:
    srv.token_handler = seq(response)
    async with cc_client(srv.url, max_retries=3) as cc:
        with pytest.raises(AuthenticationError):
            await cc.request("GET", "/v1/event")
        with pytest.raises(AuthenticationError):
            await cc.session.token()
    assert srv.token_count() == 2  # one per call: never loops
    assert srv.count("/v1/event") == 0


async def test_token_endpoint_5xx_raises_authentication_error_bounded(srv: ScriptedServer) -> None:
    srv.token_handler = seq(jr({"message": "boom"}, status=500))
    async with cc_client(srv.url, max_retries=2) as cc:
        with pytest.raises(AuthenticationError) as info:
            await cc.request("GET", "/v1/event")
    assert isinstance(info.value, APIError)
    assert 1 <= srv.token_count() <= 3
    assert srv.count("/v1/event") == 0


# --------------------------------------------------------------------------- 1. 401 handling


@pytest.mark.parametrize(
    "first",
    [
        jr({"code": 401, "content": "token is expired"}, status=401),
        jr({"message": "Unauthorized"}, status=401),
        raw("<html><body>401 Authorization Required</body></html>", status=401),
        raw("", status=401, content_type="text/plain"),
        raw("{not json", status=401, content_type="application/json"),
        jr({"error": "invalid token"}, status=401),
        jr({"code": 401, "content": "token is invalid"}),
    ],
    ids=["json-code", "message", "html", "empty", "malformed", "error", "200-code-401"],
)
async def test_401_refreshes_once_and_retries_once(
    srv: ScriptedServer, first: Callable[[], web.StreamResponse]
) -> None:
    srv.routes["/v1/event"] = seq(first, jr({"data": []}))
    async with cc_client(srv.url) as cc:
        await cc.request("GET", "/v1/event")
    assert srv.token_count() == 2
    assert [h.auth for h in srv.of("/v1/event")] == ["Bearer tok-1", "Bearer tok-2"]


async def test_401_on_call_placing_request_refreshes_and_retries_once(srv: ScriptedServer) -> None:
    srv.routes["/v1/click2call/async"] = seq(jr({"message": "Unauthorized"}, status=401), OK_CALL)
    async with cc_client(srv.url) as cc:
        result = await cc.click2call.start("101", "0899098899")
        assert result.call_id == "c-1"
    assert srv.count("/v1/click2call/async") == 2
    assert srv.token_count() == 2


async def test_401_invalidates_only_the_token_used(srv: ScriptedServer) -> None:
    release = asyncio.Event()

    async def slow(request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") == "Bearer tok-1":
            await release.wait()
            return web.json_response({"message": "Unauthorized"}, status=401)
        return web.json_response({"data": []})

    async def fast(request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") == "Bearer tok-1":
            return web.json_response({"message": "Unauthorized"}, status=401)
        return web.json_response({"data": []})

    srv.routes["/slow"] = slow
    srv.routes["/fast"] = fast
    async with cc_client(srv.url) as cc:
        await cc.session.token()
        slow_task = asyncio.ensure_future(cc.request("GET", "/slow"))
        await asyncio.sleep(0.1)
        await cc.request("GET", "/fast")  # 401 on tok-1 -> tok-2
        assert srv.token_count() == 2
        release.set()
        await slow_task  # 401 on tok-1 must not throw away tok-2
        assert srv.token_count() == 2
        await cc.request("GET", "/fast")
    assert srv.token_count() == 2
    assert [h.auth for h in srv.of("/slow")] == ["Bearer tok-1", "Bearer tok-2"]


# --------------------------------------------------------------------------- 1. TokenStore


class RecordingStore:
    def __init__(self, token: Token | None = None) -> None:
        self.token = token
        self.saved: list[Token] = []
        self.loads = 0

    async def load(self) -> Token | None:
        self.loads += 1
        return self.token

    async def save(self, token: Token) -> None:
        self.saved.append(token)
        self.token = token


def _as_store(store: TokenStore) -> TokenStore:
    return store


async def test_preloaded_store_means_no_token_request(srv: ScriptedServer) -> None:
    store = RecordingStore(
        Token(access_token="stored-tok", expires_at=datetime.now(timezone.utc) + timedelta(hours=1))
    )
    async with cc_client(srv.url, token_store=_as_store(store)) as cc:
        await cc.request("GET", "/v1/event")
        await cc.click2call.start("101", "0899098899")
    assert srv.token_count() == 0
    assert {h.auth for h in srv.hits} == {"Bearer stored-tok"}
    assert store.loads >= 1


async def test_stale_store_token_is_replaced_and_saved(srv: ScriptedServer) -> None:
    store = RecordingStore(
        Token(access_token="old-tok", expires_at=datetime.now(timezone.utc) + timedelta(seconds=5))
    )
    async with cc_client(srv.url, token_store=store, refresh_leeway=60.0) as cc:
        await cc.request("GET", "/v1/event")
    assert srv.token_count() == 1
    assert [t.access_token for t in store.saved] == ["tok-1"]
    assert srv.of("/v1/event")[0].auth == "Bearer tok-1"


async def test_two_clients_share_one_store(srv: ScriptedServer) -> None:
    store = RecordingStore()
    async with (
        cc_client(srv.url, token_store=store) as a,
        cc_client(srv.url, token_store=store) as b,
    ):
        await a.request("GET", "/v1/event")
        await b.request("GET", "/v1/event")
        await a.request("GET", "/v1/event")
    assert srv.token_count() == 1
    assert {h.auth for h in srv.of("/v1/event")} == {"Bearer tok-1"}
    assert len(store.saved) == 1


async def test_store_token_rejected_with_401_is_replaced(srv: ScriptedServer) -> None:
    store = RecordingStore(
        Token(access_token="revoked", expires_at=datetime.now(timezone.utc) + timedelta(hours=1))
    )

    async def ev(request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") == "Bearer revoked":
            return web.json_response({"message": "Unauthorized"}, status=401)
        return web.json_response({"data": []})

    srv.routes["/v1/event"] = ev
    async with cc_client(srv.url, token_store=store) as cc:
        await cc.request("GET", "/v1/event")
        await cc.request("GET", "/v1/event")
    assert srv.token_count() == 1
    assert [h.auth for h in srv.of("/v1/event")] == [
        "Bearer revoked",
        "Bearer tok-1",
        "Bearer tok-1",
    ]
    assert store.saved
    assert store.saved[-1].access_token == "tok-1"


# --------------------------------------------------------------------------- 1. secrets


def _all_text(exc: BaseException) -> str:
    parts = [
        "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
        repr(exc),
        str(exc),
    ]
    parts.extend(repr(a) for a in exc.args)
    for attr in ("message", "details", "code", "path"):
        parts.append(repr(getattr(exc, attr, None)))
    return "\n".join(parts)


async def test_secrets_not_in_repr(srv: ScriptedServer) -> None:
    srv.token_shape = lambda n: {"data": {"token": "TOKEN-s3cret-value", "expired_in": 3600}}
    cc = cc_client(srv.url)
    pbx = ac_client(srv.url)
    async with cc, pbx:
        await cc.request("GET", "/v1/event")
        await pbx.request("GET", "/v1/report")
        token = await cc.session.token()
        assert token.access_token == "TOKEN-s3cret-value"
        for obj in (cc, pbx, cc.session, pbx.session, token, await pbx.session.token()):
            assert isinstance(repr(obj), str)
            for text in (repr(obj), str(obj), f"{obj}", format(obj, "")):
                assert API_KEY not in text
                assert "TOKEN-s3cret-value" not in text
        assert isinstance(cc.session, Session)
    for obj in (cc, pbx, cc.session):
        assert API_KEY not in repr(obj)
        assert "TOKEN-s3cret-value" not in repr(obj)


async def test_secrets_not_in_logs(srv: ScriptedServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    srv.token_shape = lambda n: {"data": {"token": f"TOKEN-s3cret-{n}", "expired_in": 3600}}
    srv.routes["/v1/event"] = seq(
        jr({"message": "Unauthorized"}, status=401),
        jr({"message": "busy"}, status=503),
        jr({"data": []}),
    )
    srv.routes["/v1/report"] = seq(
        jr({"code": 400, "content": f"bad token TOKEN-s3cret-2 for key {API_KEY}"}, status=400)
    )
    async with cc_client(srv.url) as cc:
        await cc.request("GET", "/v1/event")
        with pytest.raises(BadRequestError):
            await cc.request("GET", "/v1/report")
    srv.routes["/v1/auth"] = seq(jr({"message": f"bad password {PASSWORD}"}, status=401))
    with pytest.raises(AuthenticationError):
        await CallCenterClient.login(srv.url, "foo", PASSWORD)
    assert caplog.records  # something was logged; make sure none of it leaks
    for record in caplog.records:
        if not record.name.startswith("tel4vn"):
            continue
        text = record.getMessage() + repr(record.args) + str(record.exc_text or "")
        if record.exc_info and record.exc_info[1] is not None:
            text += _all_text(record.exc_info[1])
        for secret in (API_KEY, "TOKEN-s3cret-1", "TOKEN-s3cret-2", PASSWORD):
            assert secret not in text, (record.name, text)


@pytest.mark.parametrize(
    "response",
    [
        lambda: jr(
            {"code": 400, "content": f"token TOKEN-s3cret-1 api_key {API_KEY} bad"}, status=400
        ),
        lambda: jr({"code": 400, "content": [{"phone": f"TOKEN-s3cret-1 {API_KEY}"}]}, status=400),
        lambda: jr(
            {"status": "fail", "error": "USER_BUSY", "message": f"{API_KEY} TOKEN-s3cret-1"}
        ),
        lambda: jr({"message": f"Bearer TOKEN-s3cret-1 {API_KEY}"}, status=500),
        lambda: raw(f"<html>TOKEN-s3cret-1 {API_KEY}</html>", status=200),
        lambda: raw(
            f"{{broken TOKEN-s3cret-1 {API_KEY}", status=200, content_type="application/json"
        ),
        lambda: jr({"code": 404, "content": f"{API_KEY} TOKEN-s3cret-1 not existed"}),
    ],
    ids=["400", "400-fields", "fail", "500", "html", "malformed", "200-code-404"],
)
async def test_secrets_not_in_exception_text_when_server_echoes(
    srv: ScriptedServer, response: Callable[[], Callable[[], web.StreamResponse]]
) -> None:
    srv.token_shape = lambda n: {"data": {"token": f"TOKEN-s3cret-{n}", "expired_in": 3600}}
    srv.routes["/v1/event"] = seq(response())
    async with cc_client(srv.url, max_retries=0) as cc:
        with pytest.raises(Tel4vnError) as info:
            await cc.request("GET", "/v1/event")
    text = _all_text(info.value)
    assert API_KEY not in text
    assert "TOKEN-s3cret-1" not in text


async def test_secrets_not_in_chained_cause_of_token_endpoint_error(srv: ScriptedServer) -> None:
    srv.token_handler = seq(
        jr({"code": 401, "content": f"api_key {API_KEY} is invalid", "error": API_KEY}, status=401)
    )
    async with ac_client(srv.url) as pbx:
        with pytest.raises(AuthenticationError) as info:
            await pbx.request("GET", "/v1/report")
    assert API_KEY not in str(info.value)
    assert API_KEY not in repr(info.value)
    # The traceback a user logs (logging.exception, traceback.print_exc) includes the
    # chained cause: "no exception text" covers it.
    cause = info.value.__cause__
    if cause is not None:
        assert API_KEY not in str(cause)
    assert API_KEY not in _all_text(info.value)


async def test_secrets_not_in_token_repr_fields() -> None:
    t = Token(access_token="tok-VERY-secret", expires_at=None, token_type="Bearer")
    assert "tok-VERY-secret" not in repr(t)
    assert "tok-VERY-secret" not in str(t)


# --------------------------------------------------------------------------- 2. errors


def test_exception_tree() -> None:
    assert issubclass(ConfigurationError, Tel4vnError)
    assert issubclass(ValidationError, Tel4vnError)
    assert issubclass(ValidationError, ValueError)
    assert issubclass(ClientClosedError, Tel4vnError)
    assert issubclass(TransportError, Tel4vnError)
    assert issubclass(OutcomeUnknownError, TransportError)
    assert issubclass(APIError, Tel4vnError)
    for cls in (
        BadRequestError,
        AuthenticationError,
        NotFoundError,
        RateLimitError,
        ServerError,
        CallRejectedError,
    ):
        assert issubclass(cls, APIError)
    assert issubclass(UserNotRegisteredError, CallRejectedError)
    assert issubclass(UserBusyError, CallRejectedError)
    assert not issubclass(TransportError, APIError)
    assert not issubclass(APIError, TransportError)
    import tel4vn_async.errors as errors_mod

    for name in (
        "Tel4vnError",
        "ConfigurationError",
        "ValidationError",
        "ClientClosedError",
        "TransportError",
        "OutcomeUnknownError",
        "APIError",
        "BadRequestError",
        "AuthenticationError",
        "NotFoundError",
        "RateLimitError",
        "ServerError",
        "CallRejectedError",
        "UserNotRegisteredError",
        "UserBusyError",
    ):
        import tel4vn_async

        assert getattr(errors_mod, name) is getattr(tel4vn_async, name)


ERROR_CASES: list[
    tuple[str, Callable[[], web.StreamResponse], type[Tel4vnError], int | None, str | None]
] = [
    (
        "400-content",
        jr({"code": 400, "content": "invalid param", "error": "bad"}, status=400),
        BadRequestError,
        400,
        "invalid param",
    ),
    (
        "400-message",
        jr({"message": "phone is required"}, status=400),
        BadRequestError,
        400,
        "phone is required",
    ),
    ("403", jr({"message": "forbidden"}, status=403), AuthenticationError, 403, None),
    (
        "404-message",
        jr({"message": "queue not found"}, status=404),
        NotFoundError,
        404,
        "queue not found",
    ),
    (
        "404-error",
        jr({"error": "user is not existed"}, status=404),
        NotFoundError,
        404,
        "user is not existed",
    ),
    (
        "200-code-404",
        jr({"code": 404, "content": "user is not existed"}),
        NotFoundError,
        None,
        "user is not existed",
    ),
    (
        "200-code-400",
        jr({"code": 400, "content": "invalid queue_code"}),
        BadRequestError,
        None,
        "invalid queue_code",
    ),
    ("200-code-500", jr({"code": 500, "content": "internal"}), ServerError, None, None),
    ("429", jr({"message": "slow down"}, status=429), RateLimitError, 429, None),
    ("500", jr({"message": "internal error"}, status=500), ServerError, 500, "internal error"),
    ("502-json", jr({"code": 502, "content": "bad gateway"}, status=502), ServerError, 502, None),
    ("503", jr({"error": "unavailable"}, status=503), ServerError, 503, None),
    (
        "fail-not-registered",
        jr(
            {
                "status": "fail",
                "message": "User not registered extension",
                "error": "USER_NOT_REGISTERED",
            }
        ),
        UserNotRegisteredError,
        None,
        None,
    ),
    (
        "400-not-registered",
        jr(
            {"status": "fail", "message": "User not registered", "error": "USER_NOT_REGISTERED"},
            status=400,
        ),
        UserNotRegisteredError,
        None,
        None,
    ),
    (
        "fail-busy",
        jr({"status": "fail", "message": "User busy", "error": "USER_BUSY"}),
        UserBusyError,
        None,
        None,
    ),
    (
        "fail-busy-409",
        jr({"status": "fail", "message": "User busy", "error": "USER_BUSY"}, status=409),
        UserBusyError,
        None,
        None,
    ),
    (
        "fail-other",
        jr({"status": "fail", "message": "whatever", "error": "SOMETHING_ELSE"}),
        CallRejectedError,
        None,
        None,
    ),
    ("html-200", raw("<html><body>Hello</body></html>"), TransportError, 200, None),
    (
        "malformed-200",
        raw('{"data": [', content_type="application/json"),
        TransportError,
        200,
        None,
    ),
    ("text-200", raw("OK", content_type="text/plain"), TransportError, 200, None),
]


@pytest.mark.parametrize(
    ("case", "response", "cls", "status", "message"), ERROR_CASES, ids=[c[0] for c in ERROR_CASES]
)
async def test_error_mapping(
    srv: ScriptedServer,
    case: str,
    response: Callable[[], web.StreamResponse],
    cls: type[Tel4vnError],
    status: int | None,
    message: str | None,
) -> None:
    srv.routes["/v1/event"] = seq(response)
    async with cc_client(srv.url, max_retries=0) as cc:
        with pytest.raises(cls) as info:
            await cc.request("GET", "/v1/event")
    exc = info.value
    if status is not None:
        assert getattr(exc, "status", None) == status
    if isinstance(exc, APIError):
        assert exc.method == "GET"
        assert exc.path == "/v1/event"
        assert isinstance(exc.message, str)
        if message is not None:
            assert message in exc.message
        exc.code  # noqa: B018  (attribute must exist)
        exc.details  # noqa: B018
    else:
        assert not isinstance(exc, APIError)


async def test_400_field_errors_in_details(srv: ScriptedServer) -> None:
    srv.routes["/v2/customer"] = seq(
        jr(
            {"code": 400, "content": [{"phone": "phone is invalid"}, {"name": "name is required"}]},
            status=400,
        )
    )
    async with cc_client(srv.url, max_retries=0) as cc:
        with pytest.raises(BadRequestError) as info:
            await cc.request("POST", "/v2/customer", json={"name": ""})
    exc = info.value
    assert exc.details
    assert "phone is invalid" in repr(exc.details)
    assert "name is required" in repr(exc.details)
    assert exc.method == "POST"
    assert exc.path == "/v2/customer"
    assert exc.status == 400


async def test_400_root_error_list(srv: ScriptedServer) -> None:
    srv.routes["/v1/autocall/voice"] = seq(
        jr({"error": [{"(root)": "callee is required"}]}, status=400)
    )
    async with ac_client(srv.url, max_retries=0) as pbx:
        with pytest.raises(BadRequestError) as info:
            await pbx.request("POST", "/v1/autocall/voice", json={}, places_call=True)
    assert "callee is required" in repr(info.value.details) + info.value.message


async def test_html_5xx_carries_status(srv: ScriptedServer) -> None:
    srv.routes["/v1/event"] = seq(raw("<html><h1>502 Bad Gateway</h1></html>", status=502))
    async with cc_client(srv.url, max_retries=0) as cc:
        with pytest.raises((TransportError, ServerError)) as info:
            await cc.request("GET", "/v1/event")
    assert getattr(info.value, "status", None) == 502


async def test_rate_limit_error_retry_after_attribute(srv: ScriptedServer) -> None:
    srv.routes["/v1/event"] = seq(jr({"message": "slow"}, status=429, headers={"Retry-After": "7"}))
    async with cc_client(srv.url, max_retries=0) as cc:
        with pytest.raises(RateLimitError) as info:
            await cc.request("GET", "/v1/event")
    assert info.value.retry_after == pytest.approx(7, abs=0.5)
    assert info.value.status == 429


async def test_rate_limit_error_retry_after_http_date(srv: ScriptedServer) -> None:
    date = formatdate(time.time() + 30, usegmt=True)
    srv.routes["/v1/event"] = seq(
        jr({"message": "slow"}, status=429, headers={"Retry-After": date})
    )
    async with cc_client(srv.url, max_retries=0) as cc:
        with pytest.raises(RateLimitError) as info:
            await cc.request("GET", "/v1/event")
    assert info.value.retry_after is not None
    assert 25 <= info.value.retry_after <= 31


async def test_call_rejected_on_real_resource(srv: ScriptedServer) -> None:
    srv.routes["/v1/click2call/async"] = seq(
        jr(
            {
                "status": "fail",
                "message": "User not registered extension with Softphone or IP Phone",
                "error": "USER_NOT_REGISTERED",
            }
        )
    )
    async with cc_client(srv.url) as cc:
        with pytest.raises(UserNotRegisteredError) as info:
            await cc.click2call.start("101", "0899098899")
    assert info.value.method == "GET"
    assert info.value.path == "/v1/click2call/async"
    assert srv.count("/v1/click2call/async") == 1


# --------------------------------------------------------------------------- 3. read retries


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
async def test_read_retried_on_429_and_5xx(srv: ScriptedServer, status: int) -> None:
    srv.routes["/v1/event"] = seq(
        jr({"message": "x"}, status=status), jr({"message": "x"}, status=status), jr({"data": []})
    )
    async with cc_client(srv.url, max_retries=3) as cc:
        await cc.request("GET", "/v1/event")
    assert srv.count("/v1/event") == 3


@pytest.mark.parametrize("max_retries", [0, 1, 3])
async def test_read_retries_bounded_by_max_retries(srv: ScriptedServer, max_retries: int) -> None:
    srv.routes["/v1/event"] = seq(jr({"message": "down"}, status=500))
    async with cc_client(srv.url, max_retries=max_retries) as cc:
        with pytest.raises(ServerError):
            await cc.request("GET", "/v1/event")
    assert srv.count("/v1/event") == max_retries + 1


async def test_read_not_retried_on_4xx(srv: ScriptedServer) -> None:
    srv.routes["/v1/event"] = seq(jr({"message": "bad"}, status=400))
    async with cc_client(srv.url, max_retries=3) as cc:
        with pytest.raises(BadRequestError):
            await cc.request("GET", "/v1/event")
    assert srv.count("/v1/event") == 1


async def test_read_retried_on_timeout(srv: ScriptedServer) -> None:
    srv.routes["/v1/event"] = seq(HANG, jr({"data": []}))
    async with cc_client(srv.url, timeout=0.1, max_retries=2) as cc:
        await cc.request("GET", "/v1/event")
    assert srv.count("/v1/event") == 2


async def test_read_timeout_exhausted_is_transport_error(srv: ScriptedServer) -> None:
    srv.routes["/v1/event"] = seq(HANG)
    async with cc_client(srv.url, timeout=0.2, max_retries=1) as cc:
        with pytest.raises(TransportError):
            await cc.request("GET", "/v1/event")
    assert srv.count("/v1/event") == 2


async def test_read_connection_refused_retried_then_transport_error() -> None:
    store = RecordingStore(
        Token(access_token="x", expires_at=datetime.now(timezone.utc) + timedelta(hours=1))
    )
    async with cc_client(f"http://127.0.0.1:{free_port()}", max_retries=2, token_store=store) as cc:
        with pytest.raises(TransportError) as info:
            await cc.request("GET", "/v1/event")
    assert not isinstance(info.value, OutcomeUnknownError)


async def test_read_connection_refused_then_server_comes_up() -> None:
    port = free_port()
    store = RecordingStore(
        Token(access_token="x", expires_at=datetime.now(timezone.utc) + timedelta(hours=1))
    )
    server = ScriptedServer()
    sleeps = RecordedSleeps()
    try:
        policy = starting_on_first_wait(server, port, sleeps)
        async with cc_client(
            f"http://127.0.0.1:{port}", max_retries=20, token_store=store, retry_policy=policy
        ) as cc:
            await cc.request("GET", "/v1/event")
        assert server.count("/v1/event") == 1
        assert len(sleeps.waits) == 1  # refused once, then sent once the server was up
    finally:
        await server.close()


def starting_on_first_wait(
    server: ScriptedServer, port: int, sleeps: RecordedSleeps
) -> RetryPolicy:
    """A policy whose first retry wait brings ``server`` up on ``port``: the server comes
    up while the client backs off, with no race against a timer."""

    async def sleep(seconds: float) -> None:
        await sleeps(seconds)
        if len(sleeps.waits) == 1:
            await server.start(port)

    return RetryPolicy(backoff_base=0.1, backoff_max=0.2, sleep=sleep)


def recording(sleeps: RecordedSleeps) -> RetryPolicy:
    """FAST, with every retry wait recorded by ``sleeps`` instead of slept."""
    return RetryPolicy(backoff_base=0.01, backoff_max=0.05, sleep=sleeps)


async def test_retry_after_seconds_honoured(srv: ScriptedServer) -> None:
    srv.routes["/v1/event"] = seq(
        jr({"message": "slow"}, status=429, headers={"Retry-After": "1"}), jr({"data": []})
    )
    sleeps = RecordedSleeps()
    async with cc_client(srv.url, max_retries=3, retry_policy=recording(sleeps)) as cc:
        await cc.session.token()
        await cc.request("GET", "/v1/event")
    assert srv.count("/v1/event") == 2
    assert sleeps.waits == [1]  # the Retry-After, exactly: no backoff on top


async def test_retry_after_on_503_honoured(srv: ScriptedServer) -> None:
    srv.routes["/v1/event"] = seq(
        jr({"message": "busy"}, status=503, headers={"Retry-After": "1"}), jr({"data": []})
    )
    sleeps = RecordedSleeps()
    async with cc_client(srv.url, max_retries=3, retry_policy=recording(sleeps)) as cc:
        await cc.session.token()
        await cc.request("GET", "/v1/event")
    assert srv.count("/v1/event") == 2
    assert sleeps.waits == [1]


async def test_retry_after_http_date_honoured(srv: ScriptedServer) -> None:
    # A whole second, as an HTTP date can say it: the wait is the time left until then.
    until = math.ceil(time.time()) + 2

    def later() -> web.StreamResponse:
        return web.json_response(
            {"message": "slow"},
            status=429,
            headers={"Retry-After": formatdate(until, usegmt=True)},
        )

    srv.routes["/v1/event"] = seq(later, jr({"data": []}))
    sleeps = RecordedSleeps()
    async with cc_client(srv.url, max_retries=3, retry_policy=recording(sleeps)) as cc:
        await cc.session.token()
        before = time.time()
        await cc.request("GET", "/v1/event")
        after = time.time()
    assert srv.count("/v1/event") == 2
    [wait] = sleeps.waits
    assert until - after <= wait <= until - before


# --------------------------------------------------------------------------- 3. call-placing

CallFn = Callable[[CallCenterClient, AutocallClient], Awaitable[Any]]


async def _c2c(cc: CallCenterClient, pbx: AutocallClient) -> Any:
    return await cc.click2call.start("101", "0899098899")


async def _otp(cc: CallCenterClient, pbx: AutocallClient) -> Any:
    return await pbx.calls.otp(
        campaign_id="aaaaaaaa-bbbb-cccc-dddd-eeeeeeee",
        caller="0123456789",
        callee="0987654321",
        template="otp_demo",
        code="123456",
    )


async def _raw_post(cc: CallCenterClient, pbx: AutocallClient) -> Any:
    return await cc.request("POST", "/x/dial", json={"phone": "0899098899"}, places_call=True)


async def _raw_get(cc: CallCenterClient, pbx: AutocallClient) -> Any:
    return await cc.request("GET", "/x/dial", params={"phone": "0899098899"}, places_call=True)


async def _c2c_wait(cc: CallCenterClient, pbx: AutocallClient) -> Any:
    return await cc.click2call.call("101", "0899098899")


async def _dial(cc: CallCenterClient, pbx: AutocallClient) -> Any:
    return await cc.click2call.dial("KH1", "0899098899", "101")


async def _tts(cc: CallCenterClient, pbx: AutocallClient) -> Any:
    return await pbx.calls.tts(caller="0123456789", template="tts_demo", callee="0987654321")


async def _autodialer_import(cc: CallCenterClient, pbx: AutocallClient) -> Any:
    return await cc.autodialer.create_queue(
        campaign_id="camp-1",
        queue_code="Q1",
        precall_ratio=150,
        max_recall_count=2,
        customers=[{"id": "KH1", "mobiles": ["0899098899"]}],
    )


async def _autocall_import(cc: CallCenterClient, pbx: AutocallClient) -> Any:
    return await cc.autocall_queues.create(
        queue_code="Q2", template="tts_demo", customers=[{"id": "KH1", "mobiles": ["0899098899"]}]
    )


CALLS: list[tuple[str, CallFn, str]] = [
    ("click2call.start", _c2c, "/v1/click2call/async"),
    ("click2call.call", _c2c_wait, "/v1/click2call"),
    ("click2call.dial", _dial, "/v2/click2call"),
    ("calls.tts", _tts, "/v1/autocall/voice"),
    ("autodialer.create_queue", _autodialer_import, "/v2/autodialer/queue"),
    ("autocall_queues.create", _autocall_import, "/v2/autocall/queue"),
    ("calls.otp", _otp, "/v1/autocall/otp"),
    ("request-POST", _raw_post, "/x/dial"),
    ("request-GET", _raw_get, "/x/dial"),
]
CALL_IDS = [c[0] for c in CALLS]


async def _run_call(srv: ScriptedServer, fn: CallFn, **kw: Any) -> Any:
    async with cc_client(srv.url, **kw) as cc, ac_client(srv.url, **kw) as pbx:
        await cc.session.token()  # warm the token (and the kept-alive connection)
        await pbx.session.token()
        return await fn(cc, pbx)


@pytest.mark.parametrize(("name", "fn", "path"), CALLS, ids=CALL_IDS)
@pytest.mark.parametrize("status", [429, 503])
async def test_call_placing_retried_on_429_and_503(
    srv: ScriptedServer, name: str, fn: CallFn, path: str, status: int
) -> None:
    srv.routes[path] = seq(jr({"message": "refused"}, status=status), OK_CALL)
    await _run_call(srv, fn, max_retries=3)
    assert srv.count(path) == 2


@pytest.mark.parametrize(("name", "fn", "path"), CALLS, ids=CALL_IDS)
@pytest.mark.parametrize("status", [500, 502, 504])
async def test_call_placing_not_retried_on_other_5xx(
    srv: ScriptedServer, name: str, fn: CallFn, path: str, status: int
) -> None:
    # API.md section 3: a gateway may have passed the call on, so the outcome is unknown.
    srv.routes[path] = seq(jr({"message": "err"}, status=status), OK_CALL)
    with pytest.raises(OutcomeUnknownError) as info:
        await _run_call(srv, fn, max_retries=3)
    assert info.value.status == status
    await srv.settle()
    assert srv.count(path) == 1


@pytest.mark.parametrize(("name", "fn", "path"), CALLS, ids=CALL_IDS)
async def test_call_placing_5xx_naming_a_rejection_raises_its_class(
    srv: ScriptedServer, name: str, fn: CallFn, path: str
) -> None:
    body = {"status": "fail", "message": "busy", "error": "USER_BUSY"}
    srv.routes[path] = seq(jr(body, status=500), OK_CALL)
    with pytest.raises(UserBusyError) as info:
        await _run_call(srv, fn, max_retries=3)
    assert info.value.status == 500
    await srv.settle()
    assert srv.count(path) == 1


@pytest.mark.parametrize(("name", "fn", "path"), CALLS, ids=CALL_IDS)
async def test_call_placing_not_retried_on_400(
    srv: ScriptedServer, name: str, fn: CallFn, path: str
) -> None:
    srv.routes[path] = seq(jr({"code": 400, "content": "bad"}, status=400), OK_CALL)
    with pytest.raises(BadRequestError):
        await _run_call(srv, fn, max_retries=3)
    assert srv.count(path) == 1


@pytest.mark.parametrize(("name", "fn", "path"), CALLS, ids=CALL_IDS)
async def test_call_placing_timeout_is_outcome_unknown_sent_once(
    srv: ScriptedServer, name: str, fn: CallFn, path: str
) -> None:
    srv.routes[path] = seq(HANG, OK_CALL)
    with pytest.raises(OutcomeUnknownError) as info:
        await _run_call(srv, fn, timeout=0.1, max_retries=3)
    assert isinstance(info.value, TransportError)
    await srv.settle()
    assert srv.count(path) == 1


@pytest.mark.parametrize(("name", "fn", "path"), CALLS, ids=CALL_IDS)
async def test_call_placing_dropped_after_send_is_outcome_unknown_sent_once(
    srv: ScriptedServer, name: str, fn: CallFn, path: str
) -> None:
    # The token request ran on the same kept-alive connection first: aiohttp would
    # silently re-send a GET here unless the SDK switches that off.
    srv.routes[path] = seq(DROP, OK_CALL)
    with pytest.raises(OutcomeUnknownError):
        await _run_call(srv, fn, max_retries=3)
    await srv.settle()
    assert srv.count(path) == 1


async def test_click2call_get_on_kept_alive_connection_not_resent_by_aiohttp(
    srv: ScriptedServer,
) -> None:
    srv.routes["/v1/click2call/async"] = seq(DROP, OK_CALL)
    async with (
        aiohttp.ClientSession() as http,
        cc_client(srv.url, http_session=http, max_retries=3) as cc,
    ):
        for _ in range(3):
            await cc.request("GET", "/v1/event")  # keep a connection alive
        with pytest.raises(OutcomeUnknownError):
            await cc.click2call.start("101", "0899098899")
    await srv.settle()
    assert srv.count("/v1/click2call/async") == 1


@pytest.mark.parametrize(("name", "fn", "path"), CALLS, ids=CALL_IDS)
async def test_call_placing_retried_when_connection_refused(
    name: str, fn: CallFn, path: str
) -> None:
    port = free_port()
    server = ScriptedServer()
    future = datetime.now(timezone.utc) + timedelta(hours=1)
    sleeps = RecordedSleeps()
    policy = starting_on_first_wait(server, port, sleeps)
    url = f"http://127.0.0.1:{port}"
    try:
        async with (
            CallCenterClient(
                url,
                api_key=API_KEY,
                max_retries=20,
                retry_policy=policy,
                token_store=RecordingStore(Token(access_token="a", expires_at=future)),
            ) as cc,
            AutocallClient(
                url,
                api_key=API_KEY,
                max_retries=20,
                retry_policy=policy,
                token_store=RecordingStore(Token(access_token="b", expires_at=future)),
            ) as pbx,
        ):
            await fn(cc, pbx)
        assert server.count(path) == 1
        assert len(sleeps.waits) == 1  # refused once, then sent once the server was up
    finally:
        await server.close()


@pytest.mark.parametrize(("name", "fn", "path"), CALLS, ids=CALL_IDS)
async def test_call_placing_connection_refused_is_not_outcome_unknown(
    name: str, fn: CallFn, path: str
) -> None:
    future = datetime.now(timezone.utc) + timedelta(hours=1)
    url = f"http://127.0.0.1:{free_port()}"
    async with (
        CallCenterClient(
            url,
            api_key=API_KEY,
            max_retries=1,
            retry_policy=FAST,
            token_store=RecordingStore(Token(access_token="a", expires_at=future)),
        ) as cc,
        AutocallClient(
            url,
            api_key=API_KEY,
            max_retries=1,
            retry_policy=FAST,
            token_store=RecordingStore(Token(access_token="b", expires_at=future)),
        ) as pbx,
    ):
        with pytest.raises(TransportError) as info:
            await fn(cc, pbx)
    assert not isinstance(info.value, OutcomeUnknownError)


@pytest.mark.parametrize(("name", "fn", "path"), CALLS, ids=CALL_IDS)
async def test_call_placing_503_bounded_by_max_retries(
    srv: ScriptedServer, name: str, fn: CallFn, path: str
) -> None:
    srv.routes[path] = seq(jr({"message": "busy"}, status=503))
    with pytest.raises(ServerError):
        await _run_call(srv, fn, max_retries=2)
    assert srv.count(path) == 3


async def test_call_placing_retry_after_honoured(srv: ScriptedServer) -> None:
    srv.routes["/v1/autocall/otp"] = seq(
        jr({"message": "slow"}, status=429, headers={"Retry-After": "1"}), OK_CALL
    )
    sleeps = RecordedSleeps()
    async with ac_client(srv.url, max_retries=3, retry_policy=recording(sleeps)) as pbx:
        await pbx.session.token()
        await pbx.calls.otp(
            campaign_id="c1",
            caller="0123456789",
            callee="0987654321",
            template="otp_demo",
            code="1",
        )
    assert sleeps.waits == [1]
    assert srv.count("/v1/autocall/otp") == 2


async def test_every_request_sends_bearer(srv: ScriptedServer) -> None:
    async with cc_client(srv.url) as cc, ac_client(srv.url) as pbx:
        await cc.request("GET", "/v1/event")
        await cc.request("POST", "/v2/customer", json={"a": 1})
        await cc.click2call.start("101", "0899098899")
        await pbx.request("GET", "/v1/report")
        await _otp(cc, pbx)
    for hit in srv.hits:
        if hit.path in (CC_TOKEN, AC_TOKEN):
            continue
        assert hit.auth is not None
        assert hit.auth.startswith("Bearer tok-"), hit.auth


# --------------------------------------------------------------------------- extra probes


async def test_validation_error_before_any_request(srv: ScriptedServer) -> None:
    async with cc_client(srv.url) as cc, ac_client(srv.url) as pbx:
        with pytest.raises(ValidationError):
            await pbx.calls.otp(
                campaign_id="c1",
                caller="0123456789",
                callee="not-a-phone",
                template="otp_demo",
                code="1",
            )
        with pytest.raises(ValidationError):
            await cc.click2call.start("101", "abc")
        with pytest.raises(ValueError, match=r"."):
            await cc.click2call.dial("KH1", "12", "101")
    assert srv.hits == []


async def test_login_env_fallback_and_configuration_error(
    srv: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    srv.routes["/v1/auth"] = seq(jr({"data": {"api_key": "env-login-key", "username": "u"}}))
    monkeypatch.setenv("TEL4VN_BASE_URL", srv.url)
    account = await AutocallClient.login(None, "u", PASSWORD)
    assert account.api_key == "env-login-key"
    assert "env-login-key" not in repr(account)
    assert "env-login-key" not in str(account)
    monkeypatch.delenv("TEL4VN_BASE_URL")
    with pytest.raises(ConfigurationError):
        await CallCenterClient.login(None, "u", PASSWORD)


async def test_session_token_after_close_raises_client_closed(srv: ScriptedServer) -> None:
    cc = cc_client(srv.url)
    await cc.close()
    with pytest.raises(ClientClosedError):
        async with cc:
            pass
    with pytest.raises(ClientClosedError):
        await cc.session.token()
    assert srv.hits == []


async def test_many_concurrent_401s_cause_one_refresh(srv: ScriptedServer) -> None:
    async def ev(request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") == "Bearer tok-1":
            await asyncio.sleep(0.05)
            return web.json_response({"message": "Unauthorized"}, status=401)
        return web.json_response({"data": []})

    srv.routes["/v1/event"] = ev
    async with cc_client(srv.url, timeout=20.0) as cc:
        await cc.session.token()
        await asyncio.gather(*(cc.request("GET", "/v1/event") for _ in range(300)))
    assert srv.token_count() == 2
    assert srv.count("/v1/event") == 600


@pytest.mark.parametrize(
    "shape",
    [
        {"code": 200, "data": {"token": "past", "expired_in": 0}},
        {"code": 200, "data": {"token": "past", "expired_in": -30}},
        {"data": {"access_token": "past", "expire_at": 0}},
    ],
    ids=["expired_in-0", "expired_in-negative", "expire_at-0"],
)
async def test_degenerate_expiry_never_refreshes_per_request(
    srv: ScriptedServer, shape: dict[str, Any]
) -> None:
    srv.token_shape = lambda n: shape
    async with cc_client(srv.url) as cc:
        for _ in range(5):
            await cc.request("GET", "/v1/event")
    assert srv.token_count() == 1


async def test_read_retried_on_html_5xx(srv: ScriptedServer) -> None:
    srv.routes["/v1/event"] = seq(
        raw("<html>502</html>", status=502), raw("<html>503</html>", status=503), jr({"data": []})
    )
    async with cc_client(srv.url, max_retries=3) as cc:
        await cc.request("GET", "/v1/event")
    assert srv.count("/v1/event") == 3


@pytest.mark.parametrize(("name", "fn", "path"), CALLS, ids=CALL_IDS)
async def test_call_placing_html_503_retried_html_502_not(
    srv: ScriptedServer, name: str, fn: CallFn, path: str
) -> None:
    srv.routes[path] = seq(
        raw("<html>503</html>", status=503), raw("<html>502</html>", status=502), OK_CALL
    )
    with pytest.raises(Tel4vnError) as info:
        await _run_call(srv, fn, max_retries=3)
    # "HTML ... bodies raise TransportError carrying the status"; unretried after the 503.
    assert getattr(info.value, "status", None) == 502
    assert srv.count(path) == 2


async def test_rate_limit_without_retry_after(srv: ScriptedServer) -> None:
    srv.routes["/v1/event"] = seq(jr({"message": "slow"}, status=429))
    async with cc_client(srv.url, max_retries=0) as cc:
        with pytest.raises(RateLimitError) as info:
            await cc.request("GET", "/v1/event")
    assert info.value.retry_after is None or info.value.retry_after >= 0


async def test_login_and_errors_leave_no_unclosed_session(srv: ScriptedServer) -> None:
    loop = asyncio.get_running_loop()
    seen: list[str] = []
    old = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, ctx: seen.append(str(ctx.get("message"))))
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            srv.routes["/v1/auth"] = seq(
                jr({"data": {"api_key": "k"}}), jr({"message": "no"}, status=401)
            )
            await CallCenterClient.login(srv.url, "u", PASSWORD)
            with pytest.raises(AuthenticationError):
                await AutocallClient.login(srv.url, "u", PASSWORD)
            with pytest.raises(AuthenticationError):
                await AutocallClient.login(srv.url, "u", PASSWORD)
            srv.token_handler = seq(jr({"message": "no"}, status=401))
            async with cc_client(srv.url) as cc:
                with pytest.raises(AuthenticationError):
                    await cc.request("GET", "/v1/event")
            del cc
            gc.collect()
            await asyncio.sleep(0.05)
            gc.collect()
        messages = seen + [str(w.message) for w in caught]
    finally:
        loop.set_exception_handler(old)
    assert not [m for m in messages if "nclosed" in m], messages


# --------------------------------------------------------------------------- more probes


async def test_secrets_not_in_retry_log_lines(
    srv: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    srv.token_shape = lambda n: {"data": {"token": f"TOKEN-s3cret-{n}", "expired_in": 3600}}
    echo = f"bad Bearer TOKEN-s3cret-1 key {API_KEY}"
    srv.routes["/v1/event"] = seq(
        jr({"code": 503, "content": echo}, status=503),
        jr({"message": echo}, status=429),
        jr({"data": []}),
    )
    async with cc_client(srv.url, max_retries=3) as cc:
        await cc.request("GET", "/v1/event")
    assert srv.count("/v1/event") == 3
    for record in caplog.records:
        if record.name.startswith("tel4vn"):
            text = record.getMessage()
            assert API_KEY not in text, text
            assert "TOKEN-s3cret-1" not in text, text


async def test_secrets_not_in_token_retry_log_lines(
    srv: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    srv.token_handler = seq(
        jr({"code": 500, "content": f"cannot check api_key {API_KEY}"}, status=500),
        jr({"data": {"token": "t", "expired_in": 3600}}),
    )
    async with cc_client(srv.url, max_retries=3) as cc:
        await cc.request("GET", "/v1/event")
    for record in caplog.records:
        if record.name.startswith("tel4vn"):
            assert API_KEY not in record.getMessage(), record.getMessage()


@pytest.mark.parametrize("token_type", ["bearer", "Token", "JWT", ""])
async def test_authorization_header_is_always_bearer(srv: ScriptedServer, token_type: str) -> None:
    srv.token_shape = lambda n: {"data": {"access_token": "abc", "token_type": token_type}}
    async with ac_client(srv.url) as pbx:
        await pbx.request("GET", "/v1/report")
    assert srv.of("/v1/report")[0].auth == "Bearer abc"


@pytest.mark.parametrize("value", ["soon", "-5", "", "1.5x"])
async def test_garbage_retry_after_falls_back_to_backoff(srv: ScriptedServer, value: str) -> None:
    srv.routes["/v1/event"] = seq(
        jr({"message": "slow"}, status=429, headers={"Retry-After": value}), jr({"data": []})
    )
    async with cc_client(srv.url, max_retries=2) as cc:
        await cc.request("GET", "/v1/event")
    assert srv.count("/v1/event") == 2


async def test_retry_after_date_in_past_retries(srv: ScriptedServer) -> None:
    past = formatdate(time.time() - 3600, usegmt=True)
    srv.routes["/v1/event"] = seq(
        jr({"message": "slow"}, status=503, headers={"Retry-After": past}), jr({"data": []})
    )
    async with cc_client(srv.url, max_retries=2) as cc:
        await cc.request("GET", "/v1/event")
    assert srv.count("/v1/event") == 2


async def test_cancelling_one_waiter_does_not_cancel_the_refresh(srv: ScriptedServer) -> None:
    async def slow_token(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(0.3)
        return web.json_response({"data": {"token": "shared", "expired_in": 3600}})

    srv.token_handler = slow_token
    async with cc_client(srv.url) as cc:
        tasks = [asyncio.ensure_future(cc.session.token()) for _ in range(10)]
        await asyncio.sleep(0.1)
        tasks[0].cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[0], asyncio.CancelledError)
    assert all(isinstance(r, Token) and r.access_token == "shared" for r in results[1:])
    assert srv.token_count() == 1


async def test_401_then_failing_refresh_raises_authentication_error(srv: ScriptedServer) -> None:
    tokens = {"n": 0}

    async def tok(request: web.Request) -> web.StreamResponse:
        tokens["n"] += 1
        if tokens["n"] == 1:
            return web.json_response({"data": {"token": "first", "expired_in": 3600}})
        return web.json_response({"code": 401, "content": "api_key revoked"}, status=401)

    srv.token_handler = tok
    srv.routes["/v1/event"] = seq(jr({"message": "Unauthorized"}, status=401))
    async with cc_client(srv.url, max_retries=3) as cc:
        with pytest.raises(AuthenticationError):
            await cc.request("GET", "/v1/event")
    assert srv.count("/v1/event") == 1
    assert tokens["n"] == 2


SUCCESS_BODIES: list[Any] = [
    {"code": "0", "call_id": "x", "status": "success"},
    {"code": 200, "content": "successfully", "data": []},
    {"code": "200", "content": "successfully", "data": {"a": 1}},
    {"status": "success", "call_id": "x"},
    {"data": [], "total": 0, "limit": 10, "offset": -1},
]


@pytest.mark.parametrize("body", SUCCESS_BODIES)
async def test_success_shapes_do_not_raise(srv: ScriptedServer, body: Any) -> None:
    srv.routes["/v1/event"] = seq(jr(body))
    async with cc_client(srv.url, max_retries=0) as cc:
        await cc.request("GET", "/v1/event")


async def test_fail_with_string_code_maps_to_call_rejected(srv: ScriptedServer) -> None:
    srv.routes["/v2/click2call"] = seq(
        jr(
            {
                "code": "1",
                "status": "fail",
                "message": "User not registered extension with Softphone or IP Phone",
                "error": "USER_NOT_REGISTERED",
            }
        )
    )
    async with cc_client(srv.url) as cc:
        with pytest.raises(UserNotRegisteredError):
            await cc.click2call.dial("KH1", "0899098899", "101")
    assert srv.count("/v2/click2call") == 1


async def test_json_body_with_text_content_type(srv: ScriptedServer) -> None:
    srv.routes["/v1/event"] = seq(raw('{"data": []}', content_type="text/plain"))
    async with cc_client(srv.url, max_retries=0) as cc:
        await cc.request("GET", "/v1/event")


async def test_empty_204_is_not_an_error(srv: ScriptedServer) -> None:
    async def no_content(request: web.Request) -> web.StreamResponse:
        return web.Response(status=204)

    srv.routes["/v1/event/abc"] = no_content
    async with cc_client(srv.url, max_retries=0) as cc:
        await cc.request("DELETE", "/v1/event/abc")


async def test_token_endpoint_timeout_raised_to_waiters_then_retried(srv: ScriptedServer) -> None:
    srv.token_handler = seq(HANG, jr({"data": {"token": "after", "expired_in": 3600}}))
    async with cc_client(srv.url, timeout=0.1, max_retries=0) as cc:
        results = await asyncio.gather(
            *(cc.request("GET", "/v1/event") for _ in range(20)), return_exceptions=True
        )
        assert all(isinstance(r, Tel4vnError) for r in results), results
        assert srv.token_count() == 1
        await cc.request("GET", "/v1/event")
    assert srv.token_count() == 2
    assert srv.of("/v1/event")[0].auth == "Bearer after"


async def test_shared_store_picks_up_token_refreshed_by_other_client(srv: ScriptedServer) -> None:
    async def ev(request: web.Request) -> web.StreamResponse:
        revoked = request.query.get("revoked") == "1" or srv.tokens_issued >= 2
        if request.headers.get("Authorization") == "Bearer tok-1" and revoked:
            return web.json_response({"message": "Unauthorized"}, status=401)
        return web.json_response({"data": []})

    srv.routes["/v1/event"] = ev
    store = RecordingStore()
    async with (
        cc_client(srv.url, token_store=store) as a,
        cc_client(srv.url, token_store=store) as b,
    ):
        await a.request("GET", "/v1/event")
        await b.request("GET", "/v1/event")  # b loads tok-1 from the store
        assert srv.token_count() == 1
        await a.request("GET", "/v1/event", params={"revoked": "1"})  # a: 401 -> tok-2, saved
        assert srv.token_count() == 2
        await b.request("GET", "/v1/event")  # b: 401 on tok-1 -> takes tok-2 from the store
    assert srv.token_count() == 2
    assert srv.of("/v1/event")[-1].auth == "Bearer tok-2"


async def test_no_unclosed_warning_even_when_user_forgets_close(srv: ScriptedServer) -> None:
    loop = asyncio.get_running_loop()
    seen: list[str] = []
    old = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, ctx: seen.append(str(ctx.get("message"))))
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            forgotten = cc_client(srv.url)
            await forgotten.request("GET", "/v1/event")
            del forgotten
            gc.collect()
            await asyncio.sleep(0.05)
            gc.collect()
        messages = seen + [str(w.message) for w in caught]
    finally:
        loop.set_exception_handler(old)
    assert not [m for m in messages if "nclosed" in m], messages


async def _partial_then_stall(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    resp.content_length = 200
    await resp.prepare(request)
    await resp.write(b'{"status": "succ')
    await asyncio.sleep(1.2)
    return resp


async def _partial_then_drop(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    resp.content_length = 200
    await resp.prepare(request)
    await resp.write(b'{"status": "succ')
    assert request.transport is not None
    request.transport.close()
    await asyncio.sleep(0.2)
    return resp


STALL = _req(_partial_then_stall)
HALF_DROP = _req(_partial_then_drop)


@pytest.mark.parametrize(("name", "fn", "path"), CALLS, ids=CALL_IDS)
@pytest.mark.parametrize("fault", [STALL, HALF_DROP], ids=["body-stalls", "body-dropped"])
async def test_call_placing_broken_response_body_not_resent(
    srv: ScriptedServer, name: str, fn: CallFn, path: str, fault: Handler
) -> None:
    srv.routes[path] = seq(fault, OK_CALL)
    with pytest.raises(TransportError):
        await _run_call(srv, fn, timeout=0.1, max_retries=3)
    await srv.settle()
    assert srv.count(path) == 1


@pytest.mark.parametrize("fault", [STALL, HALF_DROP], ids=["body-stalls", "body-dropped"])
async def test_read_broken_response_body_retried(srv: ScriptedServer, fault: Handler) -> None:
    srv.routes["/v1/event"] = seq(fault, jr({"data": []}))
    async with cc_client(srv.url, timeout=0.1, max_retries=2) as cc:
        await cc.request("GET", "/v1/event")
    assert srv.count("/v1/event") == 2


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "POST", "PATCH", "OPTIONS"])
async def test_call_placing_any_method_not_resent_on_kept_alive_drop(
    srv: ScriptedServer, method: str
) -> None:
    srv.routes["/x/ring"] = seq(DROP, OK_CALL)
    async with cc_client(srv.url, max_retries=3) as cc:
        for _ in range(2):
            await cc.request("GET", "/v1/event")  # a kept-alive connection to reuse
        with pytest.raises(OutcomeUnknownError):
            await cc.request(method, "/x/ring", json={"phone": "0899098899"}, places_call=True)
    await srv.settle()
    assert srv.count("/x/ring") == 1


@pytest.mark.parametrize(("name", "fn", "path"), CALLS, ids=CALL_IDS)
async def test_call_placing_max_retries_zero_never_retries(
    srv: ScriptedServer, name: str, fn: CallFn, path: str
) -> None:
    srv.routes[path] = seq(jr({"message": "busy"}, status=503), OK_CALL)
    with pytest.raises(ServerError):
        await _run_call(srv, fn, max_retries=0)
    assert srv.count(path) == 1


async def test_effective_leeway_is_the_smaller_of_the_two(srv: ScriptedServer) -> None:
    # lifetime 3 s, refresh_leeway 0.5 s: min(0.5, 1.5) = 0.5, so at 1.8 s the token
    # (1.2 s left) is still good; lifetime / 2 alone would already refresh it.
    srv.token_shape = lambda n: {"data": {"token": f"m-{n}", "expired_in": 3}}
    clock = FakeClock()
    async with cc_client(srv.url, refresh_leeway=0.5) as cc:
        cc.session.clock = clock
        await cc.request("GET", "/v1/event")
        clock.advance(1.8)
        await cc.request("GET", "/v1/event")
        assert srv.token_count() == 1
        clock.advance(0.9)  # 0.3 s left < 0.5 s leeway: now it refreshes
        await cc.request("GET", "/v1/event")
    assert srv.token_count() == 2


async def test_always_past_expiry_never_storms(srv: ScriptedServer) -> None:
    srv.token_shape = lambda n: {"data": {"access_token": f"p-{n}", "expire_at": 1613636318}}
    srv.routes["/v1/report"] = seq(
        jr({"data": []}), jr({"message": "Unauthorized"}, status=401), jr({"data": []})
    )
    async with ac_client(srv.url) as pbx:
        for _ in range(8):
            await pbx.request("GET", "/v1/report")
    assert srv.token_count() == 2
    assert [h.auth for h in srv.of("/v1/report")][-6:] == ["Bearer p-2"] * 6


@pytest.mark.parametrize("family", ["cc", "ac"])
async def test_secrets_not_in_error_from_session_token(srv: ScriptedServer, family: str) -> None:
    # client.session.token() is public API: its errors must be scrubbed too.
    srv.token_handler = seq(
        jr({"code": 401, "content": f"api_key {API_KEY} is invalid", "error": API_KEY}, status=401)
    )
    client: CallCenterClient | AutocallClient = (
        cc_client(srv.url) if family == "cc" else ac_client(srv.url)
    )
    async with client:
        with pytest.raises(AuthenticationError) as info:
            await client.session.token()
    assert API_KEY not in str(info.value)
    assert API_KEY not in repr(info.value)
    assert API_KEY not in info.value.message


async def test_positional_api_key_and_trailing_slash(srv: ScriptedServer) -> None:
    async with CallCenterClient(srv.url + "/", API_KEY, retry_policy=FAST) as cc:
        await cc.request("GET", "/v1/event")
    assert [h.path for h in srv.hits] == [CC_TOKEN, "/v1/event"]
    assert srv.hits[0].body == {"api_key": API_KEY}


async def test_close_during_token_refresh_raises_client_closed(srv: ScriptedServer) -> None:
    async def slow_token(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(1)
        return web.json_response({"data": {"token": "slow", "expired_in": 3600}})

    srv.token_handler = slow_token
    cc = cc_client(srv.url)
    task = asyncio.ensure_future(cc.request("GET", "/v1/event"))
    await asyncio.sleep(0.1)
    await cc.close()
    results = await asyncio.gather(task, return_exceptions=True)
    assert isinstance(results[0], ClientClosedError), results


async def test_close_during_request_raises_client_closed(srv: ScriptedServer) -> None:
    srv.routes["/v1/event"] = seq(HANG)
    cc = cc_client(srv.url)
    await cc.session.token()
    task = asyncio.ensure_future(cc.request("GET", "/v1/event"))
    await asyncio.sleep(0.1)
    await cc.close()
    with pytest.raises(Tel4vnError):
        await task
