"""The session manager against FakeTel4vn: token shapes, single flight, refresh, 401s."""

from __future__ import annotations

import asyncio
from typing import get_args

import pytest

from tel4vn_async import (
    AuthenticationError,
    AutocallClient,
    CallCenterClient,
    MemoryTokenStore,
    Token,
    TokenStore,
)
from tel4vn_async.testing import FakeTel4vn
from tel4vn_async.testing._fake import TokenStyle

from .conftest import FAST_RETRY, ClientFactory, FakeClock


async def test_a_thousand_concurrent_requests_cause_one_token_request(
    fake: FakeTel4vn, cc: CallCenterClient
) -> None:
    results = await asyncio.gather(*(cc.request("GET", "/v2/call") for _ in range(1000)))

    assert fake.token_requests == 1
    assert all(r == {"data": [], "total": 0} for r in results)
    calls = fake.received("/v2/call")
    assert len(calls) == 1000
    assert len({c.token for c in calls}) == 1
    assert all(c.headers["Authorization"].startswith("Bearer ") for c in calls)


@pytest.mark.parametrize("style", get_args(TokenStyle))
@pytest.mark.parametrize("client_cls", [CallCenterClient, AutocallClient])
async def test_every_token_response_shape_is_accepted(
    fake: FakeTel4vn, style: TokenStyle, client_cls: type[CallCenterClient]
) -> None:
    fake.token_style = style
    async with client_cls(fake.url, api_key=fake.api_key, retry_policy=FAST_RETRY) as client:
        for _ in range(20):
            await client.request("GET", "/v2/call")
        token = await client.session.token()

    # "past" is the spec's own 2021 sample: used anyway, never refreshed per request.
    assert fake.token_requests == 1
    assert all(r.status == 200 for r in fake.received("/v2/call"))
    if style in ("none", "past"):
        assert token.lifetime is None or token.lifetime <= 0
    else:
        assert token.expires_at is not None
        assert token.lifetime == pytest.approx(3600, abs=2)


async def test_a_token_about_to_expire_is_replaced_before_the_server_refuses_it(
    fake: FakeTel4vn, make_cc: ClientFactory
) -> None:
    clock = FakeClock()  # the fake and the client share a clock: 1.6 s pass, none waited
    fake.clock = clock
    fake.token_lifetime = 1.0  # effective leeway: min(60, 1.0 / 2) = 0.5 s
    cc = make_cc(refresh_leeway=60.0)
    cc.session.clock = clock
    for _ in range(16):
        await cc.request("GET", "/v2/call")
        clock.advance(0.1)

    assert fake.token_requests >= 2
    assert [r.status for r in fake.received("/v2/call")] == [200] * 16


async def test_a_short_lived_token_does_not_cause_a_refresh_storm(
    fake: FakeTel4vn, make_cc: ClientFactory
) -> None:
    fake.token_lifetime = 30.0  # shorter than the leeway: refreshed at half-life, not always
    cc = make_cc(refresh_leeway=60.0)
    for _ in range(50):
        await cc.request("GET", "/v2/call")
    assert fake.token_requests == 1


async def test_a_revoked_token_costs_one_refresh_and_no_failed_call(
    fake: FakeTel4vn, cc: CallCenterClient
) -> None:
    await cc.request("GET", "/v2/call")
    old = await cc.session.token()
    fake.revoke_tokens()

    results = await asyncio.gather(*(cc.request("GET", "/v2/call") for _ in range(200)))

    assert len(results) == 200
    assert fake.token_requests == 2
    new = await cc.session.token()
    assert new.access_token != old.access_token
    refused = [r for r in fake.received("/v2/call") if r.status == 401]
    assert refused
    assert all(r.token == old.access_token for r in refused)


async def test_a_401_invalidates_only_the_token_that_request_used(
    fake: FakeTel4vn, cc: CallCenterClient
) -> None:
    stale = await cc.session.token()
    fake.revoke_tokens()
    await cc.request("GET", "/v2/call")  # refreshes to a new token
    fresh = await cc.session.token()

    cc.session.invalidate(stale)  # a late 401 for the old token

    assert cc.session.current is fresh
    await cc.request("GET", "/v2/call")
    assert fake.token_requests == 2


async def test_a_401_after_refresh_raises_and_never_loops(
    fake: FakeTel4vn, cc: CallCenterClient
) -> None:
    fake.inject("/v2/call", status=401, times=10)

    with pytest.raises(AuthenticationError) as info:
        await cc.request("GET", "/v2/call")

    assert info.value.status == 401
    assert fake.count("/v2/call") == 2
    assert fake.token_requests == 2


async def test_a_wrong_api_key_raises_after_at_most_one_token_request(
    fake: FakeTel4vn, make_cc: ClientFactory
) -> None:
    cc = make_cc(api_key="not-the-key")

    outcomes = await asyncio.gather(
        *(cc.request("GET", "/v2/call") for _ in range(50)), return_exceptions=True
    )

    assert all(isinstance(o, AuthenticationError) for o in outcomes)
    assert fake.token_requests == 1
    assert fake.count("/v2/call") == 0


async def test_after_a_failed_refresh_the_next_request_tries_again(
    fake: FakeTel4vn, cc: CallCenterClient
) -> None:
    fake.inject("/v2/auth/token", status=403, body={"code": 403, "content": "locked"})

    with pytest.raises(AuthenticationError, match="locked"):
        await cc.request("GET", "/v2/call")
    assert await cc.request("GET", "/v2/call") == {"data": [], "total": 0}
    assert fake.token_requests == 2


async def test_the_token_endpoint_is_retried_on_server_errors(
    fake: FakeTel4vn, cc: CallCenterClient
) -> None:
    fake.inject("/v2/auth/token", status=503, times=2)

    await cc.request("GET", "/v2/call")

    assert fake.token_requests == 3


async def test_a_token_endpoint_without_a_token_raises_authentication_error(
    fake: FakeTel4vn, cc: CallCenterClient
) -> None:
    fake.inject("/v2/auth/token", status=200, body={"code": 200, "data": {}})

    with pytest.raises(AuthenticationError, match="without a token"):
        await cc.session.token()


async def test_a_cancelled_caller_does_not_cancel_the_shared_refresh(
    fake: FakeTel4vn, cc: CallCenterClient
) -> None:
    fake.inject("/v2/auth/token", delay=0.2)
    impatient = asyncio.ensure_future(cc.session.token())
    patient = asyncio.ensure_future(cc.session.token())
    await asyncio.sleep(0.05)
    impatient.cancel()

    token = await patient

    assert impatient.cancelled()
    assert isinstance(token, Token)
    assert fake.token_requests == 1


async def test_clients_sharing_a_token_store_share_the_token(
    fake: FakeTel4vn, make_cc: ClientFactory
) -> None:
    store = MemoryTokenStore()
    assert isinstance(store, TokenStore)
    first, second = make_cc(token_store=store), make_cc(token_store=store)

    await first.request("GET", "/v2/call")
    await second.request("GET", "/v2/call")

    assert fake.token_requests == 1
    assert len({r.token for r in fake.received("/v2/call")}) == 1


async def test_a_token_refused_by_the_server_is_not_taken_back_from_the_store(
    fake: FakeTel4vn, make_cc: ClientFactory
) -> None:
    store = MemoryTokenStore()
    first, second = make_cc(token_store=store), make_cc(token_store=store)
    await first.request("GET", "/v2/call")
    await second.request("GET", "/v2/call")
    fake.revoke_tokens()

    await first.request("GET", "/v2/call")  # refreshes; the store now holds the new token
    await second.request("GET", "/v2/call")  # 401 with the old one, then takes the new one

    assert fake.token_requests == 2
    assert [r.status for r in fake.received("/v2/call")] == [200, 200, 401, 200, 401, 200]


async def test_a_401_with_an_html_body_still_refreshes_the_token(
    fake: FakeTel4vn, cc: CallCenterClient
) -> None:
    await cc.request("GET", "/v2/call")
    fake.inject("/v2/call", status=401, html=True)

    assert await cc.request("GET", "/v2/call") == {"data": [], "total": 0}
    assert fake.token_requests == 2


@pytest.mark.parametrize("html", [True, False])
async def test_a_token_endpoint_answering_an_error_page_raises_authentication_error(
    fake: FakeTel4vn, make_cc: ClientFactory, html: bool
) -> None:
    cc = make_cc(max_retries=0)
    fake.inject("/v2/auth/token", status=404, html=html)

    with pytest.raises(AuthenticationError) as info:
        await cc.session.token()

    assert info.value.status == 404
    assert fake.token_requests == 1


async def test_a_token_from_the_store_is_used_without_a_token_request(
    fake: FakeTel4vn, make_cc: ClientFactory
) -> None:
    first = make_cc()
    await first.request("GET", "/v2/call")
    token = await first.session.token()
    store = MemoryTokenStore()
    await store.save(Token.from_dict(token.to_dict()))

    second = make_cc(token_store=store)
    await second.request("GET", "/v2/call")

    assert fake.token_requests == 1
    assert fake.received("/v2/call")[-1].token == token.access_token
