"""Errors say what happened: field errors in str(), status and path in repr(), the body
kept (scrubbed), a ConnectError naming host, port and reason, and no secret at any depth."""

from __future__ import annotations

import socket

import pytest

from tel4vn_async import (
    AuthenticationError,
    AutocallClient,
    BadRequestError,
    CallCenterClient,
    ConnectError,
    OutcomeUnknownError,
    TransportError,
)
from tel4vn_async.testing import FakeTel4vn, Fault

from .conftest import FAST_RETRY


def _all_text(error: BaseException) -> str:
    parts = []
    seen: BaseException | None = error
    while seen is not None:
        parts += [str(seen), repr(seen), repr(getattr(seen, "details", None))]
        parts.append(repr(getattr(seen, "body", None)))
        seen = seen.__cause__ or seen.__context__
    return "\n".join(parts)


async def test_str_holds_the_field_errors_and_repr_the_status_and_path(
    fake: FakeTel4vn, cc: CallCenterClient
) -> None:
    body = {
        "code": 400,
        "content": [{"phone_number": "Does not match pattern"}, {"campaign_id": "is required"}],
        "error": "Bad Request",
    }
    fake.inject("/v2/customer", status=400, body=body)
    with pytest.raises(BadRequestError) as info:
        await cc.customers.create(
            campaign_id="c", customer_code="KH1", phone_number="0899888998", contract_number="A"
        )
    error = info.value
    assert "phone_number: Does not match pattern" in str(error)
    assert "campaign_id: is required" in str(error)
    assert repr(error).startswith("BadRequestError(status=400")
    assert "path='/v2/customer'" in repr(error)
    assert error.body == body


async def test_a_connect_error_names_host_port_and_reason() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with CallCenterClient(
        f"http://127.0.0.1:{port}", api_key="k", max_retries=0, retry_policy=FAST_RETRY
    ) as cc:
        with pytest.raises(ConnectError) as info:
            await cc.calls.list()
    assert str(info.value) == f"cannot connect to 127.0.0.1:{port}: connection refused"
    assert "ConnectError(" in repr(info.value)
    assert "/v2/auth/token" in repr(info.value)


async def test_no_private_class_name_in_a_lost_answer(
    fake: FakeTel4vn, cc: CallCenterClient
) -> None:
    await cc.session.token()
    fake.inject("/v1/click2call/async", Fault(drop="before"))
    with pytest.raises(OutcomeUnknownError) as info:
        await cc.click2call.start("101", "0899098899")
    text = _all_text(info.value)
    assert "_ResponseLost" not in text
    assert "may have been placed" in str(info.value)
    assert fake.count("/v1/click2call/async") == 1


async def test_secrets_nested_in_an_error_body_are_masked_at_any_depth(
    fake: FakeTel4vn, cc: CallCenterClient
) -> None:
    token = (await cc.session.token()).access_token
    echoed = {
        "code": 400,
        "content": "bad",
        "data": {"request": {"headers": [{"authorization": f"Bearer {token}"}]}},
        "error": [{"callback_apikey": "hook-secret-1"}, {"(root)": f"token {token} refused"}],
    }
    fake.inject("/v1/event", status=400, body=echoed)
    with pytest.raises(BadRequestError) as info:
        await cc.events.create("https://hooks.example/x", "hangup", callback_apikey="hook-secret-1")
    text = _all_text(info.value)
    assert token not in text
    assert "hook-secret-1" not in text
    assert info.value.details["(root)"] == "token *** refused"


async def test_a_token_in_the_token_endpoints_own_error_body_is_masked(
    fake: FakeTel4vn, cc: CallCenterClient
) -> None:
    fake.inject(
        "/v2/auth/token",
        status=401,
        body={"code": 401, "content": "expired", "data": {"token": "stale-token-9876"}},
    )
    with pytest.raises(AuthenticationError) as info:
        await cc.calls.list()
    text = _all_text(info.value)
    assert "stale-token-9876" not in text
    assert fake.api_key not in text


async def test_an_unreadable_account_at_login_never_shows_its_api_key(fake: FakeTel4vn) -> None:
    fake.inject("/v1/auth", status=200, body={"data": {"api_key": {"value": "acct-key-5555"}}})
    with pytest.raises(TransportError) as info:
        await AutocallClient.login(fake.url, fake.username, fake.password)
    assert "acct-key-5555" not in _all_text(info.value)
    assert fake.password not in _all_text(info.value)
