"""Client shells: configuration, lifecycle, login, error mapping, secrets."""

from __future__ import annotations

import gc
import logging
import warnings
from typing import Any

import aiohttp
import pytest

import tel4vn_async
from tel4vn_async import (
    APIError,
    AuthenticationError,
    AutocallClient,
    BadRequestError,
    CallCenterClient,
    CallRejectedError,
    ClientClosedError,
    ConfigurationError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TransportError,
    UserBusyError,
    UserNotRegisteredError,
)
from tel4vn_async.testing import FakeTel4vn

from .conftest import ClientFactory

# ------------------------------------------------------------------------ configuration


def test_missing_base_url_or_api_key_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TEL4VN_BASE_URL", raising=False)
    monkeypatch.delenv("TEL4VN_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="TEL4VN_BASE_URL"):
        CallCenterClient(api_key="k")
    with pytest.raises(ConfigurationError, match="TEL4VN_API_KEY"):
        AutocallClient("https://api.example.vn")


def test_base_url_and_api_key_fall_back_to_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEL4VN_BASE_URL", "https://api.example.vn/")
    monkeypatch.setenv("TEL4VN_API_KEY", "env-key-123")
    client = CallCenterClient()
    assert client.base_url == "https://api.example.vn"
    assert "env-key-123" not in repr(client)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"base_url": "api.example.vn"},
        {"timeout": 0},
        {"max_retries": -1},
        {"refresh_leeway": -5},
    ],
)
def test_bad_settings_are_configuration_errors(kwargs: dict[str, Any]) -> None:
    kwargs.setdefault("base_url", "https://api.example.vn")
    with pytest.raises(ConfigurationError):
        CallCenterClient(api_key="k", **kwargs)


# ------------------------------------------------------------------------ lifecycle


async def test_a_closed_client_refuses_to_work(fake: FakeTel4vn, cc: CallCenterClient) -> None:
    await cc.request("GET", "/v2/call")
    await cc.close()
    await cc.close()  # idempotent

    assert cc.closed
    with pytest.raises(ClientClosedError):
        await cc.request("GET", "/v2/call")
    with pytest.raises(ClientClosedError):
        async with cc:
            pass
    assert fake.count("/v2/call") == 1


async def test_async_with_closes_the_client(fake: FakeTel4vn) -> None:
    async with AutocallClient(fake.url, api_key=fake.api_key) as pbx:
        await pbx.request("GET", "/v2/call")
    assert pbx.closed


async def test_no_unclosed_session_warning(fake: FakeTel4vn) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with CallCenterClient(fake.url, api_key=fake.api_key) as cc:
            await cc.request("GET", "/v2/call")
        unused = CallCenterClient(fake.url, api_key=fake.api_key)
        del unused, cc
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


async def test_a_session_passed_in_is_used_and_never_closed(fake: FakeTel4vn) -> None:
    async with aiohttp.ClientSession(headers={"X-Trace": "t1"}) as http:
        async with CallCenterClient(fake.url, api_key=fake.api_key, http_session=http) as cc:
            await cc.request("GET", "/v2/call")
        assert not http.closed
        async with http.get(fake.url + "/v2/call") as response:
            assert response.status == 401  # still usable, and it never held our token
    assert fake.received("/v2/call")[0].headers["X-Trace"] == "t1"


# ------------------------------------------------------------------------ login


@pytest.mark.parametrize("client_cls", [CallCenterClient, AutocallClient])
async def test_login_returns_the_account_with_its_api_key(
    fake: FakeTel4vn, client_cls: type[CallCenterClient]
) -> None:
    account = await client_cls.login(fake.url, fake.username, fake.password)

    assert account.api_key == fake.api_key
    assert account.enabled is True
    assert account.level == "admin"
    assert fake.api_key not in repr(account)
    assert fake.received("/v1/auth")[0].json == {
        "username": fake.username,
        "password": fake.password,
    }


async def test_login_with_a_wrong_password_raises_without_showing_it(fake: FakeTel4vn) -> None:
    fake.inject(
        "/v1/auth",
        status=401,
        body={"code": 401, "content": "wrong password hunter2!", "error": "Unauthorized"},
    )
    with pytest.raises(AuthenticationError) as info:
        await CallCenterClient.login(fake.url, fake.username, "hunter2!")
    assert "hunter2!" not in str(info.value)
    assert "hunter2!" not in repr(info.value)
    assert info.value.status == 401


# ------------------------------------------------------------------------ error mapping


@pytest.mark.parametrize(
    ("status", "body", "error", "code"),
    [
        (200, {"status": "fail", "error": "USER_NOT_REGISTERED"}, UserNotRegisteredError, None),
        (200, {"code": "1", "status": "fail", "error": "USER_BUSY"}, UserBusyError, None),
        (200, {"status": "fail", "error": "SOMETHING_ELSE"}, CallRejectedError, None),
        (400, {"status": "fail", "error": "USER_NOT_REGISTERED"}, UserNotRegisteredError, None),
        (200, {"code": 404, "content": "queue not found"}, NotFoundError, 404),
        (
            200,
            {"code": 404, "content": "user is not existed", "error": "Not Found"},
            NotFoundError,
            404,
        ),
        (
            400,
            {"code": 400, "content": [{"phone_number": "Does not match"}], "error": "Bad Request"},
            BadRequestError,
            400,
        ),
        (400, {"error": [{"(root)": "campaign_id is required"}]}, BadRequestError, None),
        (403, {"message": "forbidden"}, AuthenticationError, None),
        (404, {"error": "not found"}, NotFoundError, None),
        (429, {"message": "slow down"}, RateLimitError, None),
        (500, {"code": 500, "content": "internal"}, ServerError, 500),
        (409, {"message": "conflict"}, APIError, None),
    ],
)
async def test_each_error_shape_maps_to_its_class(
    fake: FakeTel4vn,
    make_cc: ClientFactory,
    status: int,
    body: dict[str, Any],
    error: type[APIError],
    code: int | None,
) -> None:
    cc = make_cc(max_retries=0)
    fake.inject("/v2/call", status=status, body=body)

    with pytest.raises(error) as info:
        await cc.request("GET", "/v2/call")

    assert type(info.value) is error
    assert info.value.status == status
    assert info.value.method == "GET"
    assert info.value.path == "/v2/call"
    assert info.value.message
    if code is not None:
        assert info.value.code == code


@pytest.mark.parametrize(
    ("message", "error"),
    [("queue not found", NotFoundError), ("campaign is invalid", BadRequestError)],
)
async def test_a_bare_message_is_an_error_only_where_the_endpoint_declares_it(
    fake: FakeTel4vn, cc: CallCenterClient, message: str, error: type[APIError]
) -> None:
    # The autodialer's spec answers {"message": "queue not found"} with HTTP 200.
    fake.inject("/v2/autodialer/queue/stop", status=200, body={"message": message})
    with pytest.raises(error) as info:
        await cc.autodialer.stop("Autodialer")
    assert info.value.message == message
    assert info.value.status == 200

    # Elsewhere the same shape is a success body: {"message": "queue started"}.
    fake.inject("/v2/autocall/queue/start", status=200, body={"message": "queue started"})
    await cc.autocall_queues.start("Autocall")
    assert fake.count("/v2/autocall/queue/start") == 1


async def test_field_errors_land_in_details(fake: FakeTel4vn, cc: CallCenterClient) -> None:
    fake.inject(
        "/v2/call",
        status=400,
        body={
            "code": 400,
            "content": [{"phone_number": "Does not match pattern"}],
            "error": "Bad Request",
        },
    )
    with pytest.raises(BadRequestError) as info:
        await cc.request("GET", "/v2/call")
    assert info.value.details == {"phone_number": "Does not match pattern"}


@pytest.mark.parametrize("status", [200, 400, 500])
async def test_an_html_body_is_a_transport_error_with_its_status(
    fake: FakeTel4vn, make_cc: ClientFactory, status: int
) -> None:
    cc = make_cc(max_retries=0)
    fake.inject("/v2/call", status=status, html=True)
    with pytest.raises(TransportError) as info:
        await cc.request("GET", "/v2/call")
    assert info.value.status == status
    assert "text/html" in str(info.value)


# ------------------------------------------------------------------------ secrets


async def test_secrets_never_show_in_reprs_logs_or_errors(
    fake: FakeTel4vn, make_cc: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    cc = make_cc()
    await cc.request("GET", "/v2/call")
    token = await cc.session.token()
    fake.inject("/v2/call", status=503)  # a retry, logged
    await cc.request("GET", "/v2/call")
    echo = f"bad key {fake.api_key} with token {token.access_token}"
    fake.inject("/v2/call", status=400, body={"code": 400, "content": echo, "error": echo})
    with pytest.raises(BadRequestError) as info:
        await cc.request("GET", "/v2/call")
    fake.revoke_tokens()
    await cc.request("GET", "/v2/call")

    error = info.value
    texts = [
        repr(cc),
        str(cc),
        repr(cc.session),
        repr(token),
        str(token),
        str(error),
        repr(error),
        error.message,
        str(error.code),
        repr(error.details),
        repr(error.args),
        caplog.text,
    ]
    for secret in (fake.api_key, token.access_token):
        for text in texts:
            assert secret not in text
    assert "***" in error.message
    assert any("retrying GET /v2/call" in r.getMessage() for r in caplog.records)


def test_the_public_names_are_exported() -> None:
    assert tel4vn_async.__all__ == sorted(tel4vn_async.__all__, key=str)
    for name in tel4vn_async.__all__:
        assert getattr(tel4vn_async, name) is not None
    promised = {
        "CallCenterClient", "AutocallClient", "Session", "Token", "TokenStore",
        "Tel4vnError", "ConfigurationError", "ValidationError", "ClientClosedError",
        "TransportError", "OutcomeUnknownError", "APIError", "BadRequestError",
        "AuthenticationError", "NotFoundError", "RateLimitError", "ServerError",
        "CallRejectedError", "UserNotRegisteredError", "UserBusyError",
        "Page", "AsyncPager", "EventType", "Voice", "CallStatus", "CustomerStatus",
        "Cdr", "Customer", "Report",
    }  # fmt: skip
    assert promised <= set(tel4vn_async.__all__)


async def test_a_relative_path_is_rejected_before_sending(
    fake: FakeTel4vn, cc: CallCenterClient
) -> None:
    with pytest.raises(tel4vn_async.ValidationError) as info:
        await cc.request("GET", "v2/call")
    assert info.value.field == "path"
    assert len(fake.requests) == 0
