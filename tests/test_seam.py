"""The transport seam and what sits on it: on_attempt, with_options, the environment,
User-Agent, proxies, injected transports, lifecycle across event loops."""

from __future__ import annotations

import asyncio
import gc
import json
import warnings
from collections.abc import Mapping
from typing import Any

import pytest
from aiohttp import web

from tel4vn_async import (
    Attempt,
    AutocallClient,
    CallCenterClient,
    ClientClosedError,
    ConfigurationError,
    OutcomeUnknownError,
    RateLimitError,
    Response,
    RetryPolicy,
    ServerError,
    Transport,
    TransportError,
    __version__,
)
from tel4vn_async._sansio import Request
from tel4vn_async.testing import FakeTel4vn, Fault

from .conftest import FAST_RETRY, ClientFactory

# ------------------------------------------------------------------------------ on_attempt


async def test_on_attempt_sees_every_attempt_including_retried_429s(
    fake: FakeTel4vn, make_cc: ClientFactory
) -> None:
    seen: list[Attempt] = []
    cc = make_cc(on_attempt=seen.append)
    await cc.session.token()
    seen.clear()
    fake.inject("/v2/call", status=429, retry_after=0.01, times=2)

    await cc.calls.list()

    assert [(a.status, a.will_retry, a.number) for a in seen] == [
        (429, True, 1),
        (429, True, 2),
        (200, False, 3),
    ]
    assert all(a.method == "GET" and a.path == "/v2/call" for a in seen)
    assert isinstance(seen[0].error, RateLimitError)
    assert seen[0].retry_after == pytest.approx(0.01)
    assert seen[0].wait == pytest.approx(0.01)
    assert seen[2].error is None
    assert all(a.elapsed >= 0 for a in seen)
    assert fake.count("/v2/call") == 3


async def test_on_attempt_is_told_of_the_final_failure_and_of_token_requests(
    fake: FakeTel4vn, make_cc: ClientFactory
) -> None:
    seen: list[Attempt] = []
    cc = make_cc(on_attempt=seen.append, max_retries=1)
    fake.inject("/v2/call", status=503, times=5)

    with pytest.raises(ServerError):
        await cc.request("GET", "/v2/call")

    assert [(a.path, a.status, a.will_retry) for a in seen] == [
        ("/v2/auth/token", 200, False),
        ("/v2/call", 503, True),
        ("/v2/call", 503, False),
    ]


async def test_an_async_on_attempt_is_awaited_and_a_failing_one_never_breaks_a_request(
    fake: FakeTel4vn, make_cc: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    told: list[int | None] = []

    async def record(attempt: Attempt) -> None:
        await asyncio.sleep(0)
        told.append(attempt.status)

    assert await make_cc(on_attempt=record).request("GET", "/v2/call") is not None
    assert told == [200, 200]

    def broken(attempt: Attempt) -> None:
        raise RuntimeError("metrics down")

    assert await make_cc(on_attempt=broken).request("GET", "/v2/call") is not None
    assert "on_attempt raised" in caplog.text


async def test_on_attempt_of_a_call_with_an_unknown_outcome(fake: FakeTel4vn) -> None:
    seen: list[Attempt] = []
    fake.inject("/v1/autocall/otp", Fault(drop="after"))
    async with AutocallClient(fake.url, api_key=fake.api_key, on_attempt=seen.append) as pbx:
        with pytest.raises(OutcomeUnknownError):
            await pbx.request("POST", "/v1/autocall/otp", json={}, places_call=True)
    assert (seen[-1].status, seen[-1].will_retry) == (None, False)
    assert isinstance(seen[-1].error, OutcomeUnknownError)
    assert fake.count("/v1/autocall/otp") == 1


# ---------------------------------------------------------------------------- with_options


async def test_with_options_shares_the_token_and_connections_with_its_own_settings(
    fake: FakeTel4vn, cc: CallCenterClient
) -> None:
    await cc.session.token()
    quick = cc.with_options(max_retries=0, timeout=5)
    fake.inject("/v2/call", status=503, times=1)

    with pytest.raises(ServerError):
        await quick.calls.list()  # not retried
    assert fake.count("/v2/call") == 1
    fake.inject("/v2/call", status=503, times=1)
    assert await cc.calls.list() == []  # the parent still retries
    assert fake.count("/v2/call") == 3
    assert fake.token_requests == 1
    assert quick.session is cc.session
    assert quick.calls is not cc.calls

    await quick.close()  # does nothing: the parent owns the connections
    assert await cc.calls.list() == []
    await cc.close()
    with pytest.raises(ClientClosedError):
        await quick.calls.list()


async def test_a_client_from_with_options_of_another_closes_with_the_first_parent(
    fake: FakeTel4vn, cc: CallCenterClient
) -> None:
    child = cc.with_options(timeout=5).with_options(max_retries=0)
    assert await child.calls.list() == []
    assert not child.closed
    await cc.close()
    assert child.closed
    with pytest.raises(ClientClosedError):
        await child.calls.list()
    assert fake.count("/v2/call") == 1


async def test_with_options_checks_its_settings(cc: CallCenterClient) -> None:
    for bad in ({"timeout": 0}, {"timeout": float("nan")}, {"max_retries": -1}):
        with pytest.raises(ConfigurationError):
            cc.with_options(**bad)


async def test_a_per_client_timeout_from_with_options_applies(
    fake: FakeTel4vn, cc: CallCenterClient
) -> None:
    await cc.session.token()
    fake.inject("/v2/call", Fault(delay=1.0))
    with pytest.raises(TransportError, match="timed out"):
        await cc.with_options(timeout=0.05, max_retries=0).calls.list()
    assert fake.count("/v2/call") == 1


# ---------------------------------------------------------------------------- environment


@pytest.mark.parametrize(
    ("cls", "family"), [(CallCenterClient, "CALLCENTER"), (AutocallClient, "AUTOCALL")]
)
def test_per_family_environment_variables_win_over_the_generic_ones(
    monkeypatch: pytest.MonkeyPatch, cls: type[CallCenterClient | AutocallClient], family: str
) -> None:
    monkeypatch.setenv("TEL4VN_BASE_URL", "https://generic.example")
    monkeypatch.setenv("TEL4VN_API_KEY", "generic-key")
    assert cls().base_url == "https://generic.example"
    monkeypatch.setenv(f"TEL4VN_{family}_URL", "https://family.example/")
    monkeypatch.setenv(f"TEL4VN_{family}_API_KEY", "family-key")
    client = cls()
    assert client.base_url == "https://family.example"
    assert client._api_key == "family-key"
    other = AutocallClient if cls is CallCenterClient else CallCenterClient
    assert other().base_url == "https://generic.example"  # the other family's is not used
    assert cls("https://arg.example", api_key="k").base_url == "https://arg.example"


def test_a_missing_setting_names_every_variable_it_looked_at(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("TEL4VN_BASE_URL", "TEL4VN_API_KEY", "TEL4VN_AUTOCALL_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigurationError, match="TEL4VN_AUTOCALL_URL or TEL4VN_BASE_URL"):
        AutocallClient(api_key="k")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"timeout": "30"},
        {"timeout": float("inf")},
        {"max_retries": 1.5},
        {"max_retries": True},
        {"refresh_leeway": float("nan")},
        {"api_key": "  "},
        {"base_url": "ftp://x"},
        {"base_url": "https://exa mple.vn"},
        {"on_attempt": "print"},
        {"retry_policy": {"backoff_base": 1}},
    ],
    ids=repr,
)
def test_bad_settings_are_a_configuration_error(kwargs: dict[str, Any]) -> None:
    settings: dict[str, Any] = {"base_url": "https://api.example.vn", "api_key": "k", **kwargs}
    with pytest.raises(ConfigurationError):
        CallCenterClient(**settings)


# ---------------------------------------------------------------------- headers and proxies


async def test_every_request_names_the_sdk_in_its_user_agent(
    fake: FakeTel4vn, cc: CallCenterClient
) -> None:
    await cc.calls.list()
    agents = {r.headers.get("User-Agent") for r in fake.requests}
    assert agents == {f"tel4vn-async/{__version__}"}


class _Proxy:
    """A forward proxy on 127.0.0.1 that answers every request itself and logs its target."""

    def __init__(self) -> None:
        self.targets: list[str] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def _handle(self, request: web.Request) -> web.Response:
        self.targets.append(f"{request.method} {request.url}")
        if request.path.endswith("/auth/token"):
            return web.json_response({"data": {"token": "proxied-token", "expired_in": 3600}})
        return web.json_response({"data": []})

    async def __aenter__(self) -> _Proxy:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


async def test_proxies_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    async with _Proxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        # The host is never resolved here: the proxy is asked for it.
        async with CallCenterClient("http://tel4vn.invalid", api_key="k") as cc:
            assert await cc.calls.list() == []
    assert proxy.targets == [
        "POST http://tel4vn.invalid/v2/auth/token",
        "GET http://tel4vn.invalid/v2/call",
    ]


async def test_trust_env_false_ignores_the_proxy_variables(
    fake: FakeTel4vn, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with _Proxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        async with CallCenterClient(fake.url, api_key=fake.api_key, trust_env=False) as cc:
            assert await cc.calls.list() == []
    assert proxy.targets == []
    assert fake.count("/v2/call") == 1


async def test_no_proxy_hosts_are_reached_directly(
    fake: FakeTel4vn, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with _Proxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        async with CallCenterClient(fake.url, api_key=fake.api_key) as cc:
            assert await cc.calls.list() == []
    assert proxy.targets == []
    assert fake.count("/v2/call") == 1


# ---------------------------------------------------------------------- an injected transport


class ScriptedTransport:
    """A transport with no network at all: answers from a script, logs what it was sent."""

    def __init__(self, answers: Mapping[str, list[Response]]) -> None:
        self.answers = {path: list(script) for path, script in answers.items()}
        self.sent: list[tuple[str, str, dict[str, str]]] = []
        self.closed = False

    async def send(
        self, request: Request, *, url: str, headers: Mapping[str, str], timeout: float
    ) -> Response:
        self.sent.append((request.method, url, dict(headers)))
        return self.answers[request.path].pop(0)

    async def aclose(self) -> None:
        self.closed = True


def _ok(body: object, status: int = 200, **headers: str) -> Response:
    return Response(status, headers, json.dumps(body).encode())


async def test_an_injected_transport_carries_every_attempt() -> None:
    transport = ScriptedTransport(
        {
            "/v2/auth/token": [_ok({"data": {"token": "tok-123", "expired_in": 3600}})],
            "/v2/call": [
                _ok({"message": "busy"}, 503, **{"Retry-After": "0"}),
                _ok({"data": [{"call_id": "c1", "state": "answered"}]}),
            ],
        }
    )
    assert isinstance(transport, Transport)
    client = CallCenterClient(
        "https://api.example.vn", api_key="k", transport=transport, retry_policy=FAST_RETRY
    )
    async with client as cc:
        calls = await cc.calls.list()
    assert [c.call_id for c in calls] == ["c1"]
    assert [(m, u) for m, u, _ in transport.sent] == [
        ("POST", "https://api.example.vn/v2/auth/token"),
        ("GET", "https://api.example.vn/v2/call"),
        ("GET", "https://api.example.vn/v2/call"),
    ]
    assert transport.sent[1][2]["Authorization"] == "Bearer tok-123"
    assert transport.closed


def test_a_transport_and_an_http_session_together_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="not both"):
        CallCenterClient(
            "https://api.example.vn",
            api_key="k",
            transport=ScriptedTransport({}),
            http_session=object(),  # type: ignore[arg-type]
        )


async def test_json_nested_thousands_deep_is_a_typed_error() -> None:
    deep = b"[" * 50_000 + b"]" * 50_000
    token = _ok({"data": {"token": "tok-123", "expired_in": 3600}})
    transport = ScriptedTransport(
        {
            "/v2/auth/token": [token],
            "/v2/call": [Response(200, {}, deep)],
            "/v1/click2call/async": [Response(200, {}, deep)],
        }
    )
    policy = RetryPolicy(backoff_base=0.001)
    async with CallCenterClient(
        "https://x.example", api_key="k", transport=transport, retry_policy=policy, max_retries=0
    ) as cc:
        with pytest.raises(TransportError) as read:
            await cc.calls.list()
        assert type(read.value) is TransportError
        with pytest.raises(OutcomeUnknownError):  # it may have rung
            await cc.click2call.start("101", "0899098899")


# -------------------------------------------------------------------------------- lifecycle


async def test_the_session_refuses_a_token_after_close(cc: CallCenterClient) -> None:
    await cc.session.token()
    await cc.close()
    with pytest.raises(ClientClosedError):
        await cc.session.token()


def test_a_client_reused_under_a_second_event_loop_is_refused_cleanly() -> None:
    async def first() -> CallCenterClient:
        async with FakeTel4vn() as fake:
            client = CallCenterClient(fake.url, api_key=fake.api_key)
            await client.calls.list()
            return client  # not closed: its loop ends under it

    clients = [asyncio.run(first())]

    async def second() -> None:
        with pytest.raises(ConfigurationError, match="another event loop"):
            await clients[0].calls.list()

    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        asyncio.run(second())
        clients.clear()  # the dropped client frees its connections, with no warning
        gc.collect()
