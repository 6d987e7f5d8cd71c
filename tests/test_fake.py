"""FakeTel4vn itself: its request log, fault queue and token rules, seen with raw aiohttp."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from tel4vn_async.testing import FakeTel4vn, Fault

from .conftest import FakeClock


async def _token(http: aiohttp.ClientSession, fake: FakeTel4vn) -> str:
    async with http.post(fake.url + "/v2/auth/token", json={"api_key": fake.api_key}) as r:
        token: str = (await r.json())["data"]["token"]
        return token


async def test_faults_match_path_method_and_count(fake: FakeTel4vn) -> None:
    fake.inject("/v2/call", method="POST", status=500)
    fake.inject("*", status=418, times=2)
    statuses = []
    async with aiohttp.ClientSession() as http:
        async with http.post(fake.url + "/v2/auth/token", json={"api_key": fake.api_key}) as r:
            statuses.append(r.status)  # the first "*" fault
        for _ in range(3):
            async with http.get(fake.url + "/v2/call") as r:
                statuses.append(r.status)  # the second "*" fault, then no token: 401
        async with http.post(fake.url + "/v2/call") as r:
            statuses.append(r.status)  # the POST-only fault

    assert statuses == [418, 418, 401, 401, 500]
    assert [r.status for r in fake.requests] == statuses
    assert fake.received("/v2/call")[0].fault == Fault(status=418)
    assert fake.received("/v2/call", "POST")[0].fault == Fault(status=500)


async def test_tokens_expire_and_can_be_revoked(fake: FakeTel4vn) -> None:
    fake.clock = clock = FakeClock()
    fake.token_lifetime = 0.3
    async with aiohttp.ClientSession() as http:
        token = await _token(http, fake)
        headers = {"Authorization": f"Bearer {token}"}
        async with http.get(fake.url + "/v2/call", headers=headers) as r:
            assert r.status == 200
        clock.advance(0.35)
        async with http.get(fake.url + "/v2/call", headers=headers) as r:
            assert r.status == 401
        fake.token_lifetime = None
        token = await _token(http, fake)
        fake.revoke_tokens()
        async with http.get(fake.url + "/v2/call", headers={"Authorization": token}) as r:
            assert r.status == 401

    log = fake.received("/v2/call")
    assert [entry.handled for entry in log] == [True, False, False]
    assert log[-1].token == token


async def test_the_request_log_can_be_bounded() -> None:
    async with FakeTel4vn(keep_requests=3) as fake, aiohttp.ClientSession() as http:
        for _ in range(5):
            await _token(http, fake)
        assert len(fake.requests) == 3
        assert fake.requests[0].json == {"api_key": fake.api_key}
        fake.inject("/v2/call", status=500, times=3)
        fake.clear_faults()
        async with http.get(fake.url + "/v2/call") as r:
            assert r.status == 401


async def test_a_drop_after_runs_the_handler_and_closes_the_connection(fake: FakeTel4vn) -> None:
    fake.inject("/v1/autocall/otp", drop="after")
    async with aiohttp.ClientSession() as http:
        token = await _token(http, fake)
        body = {"caller": "0123456789", "callee": "0987654321"}
        try:
            async with http.post(
                fake.url + "/v1/autocall/otp",
                json=body,
                headers={"Authorization": f"Bearer {token}"},
            ) as r:
                answered = r.status
        except aiohttp.ClientError:
            answered = 0

    assert answered == 0
    assert fake.dials["0987654321"] == 1
    assert fake.received("/v1/autocall/otp")[0].status is None


async def test_closing_cuts_off_a_request_in_progress_at_once() -> None:
    fake = await FakeTel4vn().start()
    try:
        fake.inject("/v2/auth/token", delay=30)
        async with aiohttp.ClientSession() as http:
            pending = asyncio.ensure_future(
                http.post(fake.url + "/v2/auth/token", json={"api_key": fake.api_key})
            )
            for _ in range(400):  # until it is in the fake's hands, waiting out its delay
                if fake.requests:
                    break
                await asyncio.sleep(0.005)
            started = time.monotonic()
            await fake.close()
            assert time.monotonic() - started < 0.3  # not the delay, nor a grace period
            with pytest.raises(aiohttp.ClientError):
                (await pending).close()
    finally:
        await fake.close()
    assert fake.requests[0].status is None  # never answered


async def test_the_token_expiry_follows_the_fake_clock() -> None:
    clock = FakeClock()
    async with FakeTel4vn(clock=clock, token_lifetime=60) as fake:
        fake.token_style = "autocall"  # an absolute expiry: read off the fake's clock
        clock.advance(1000)
        async with aiohttp.ClientSession() as http:
            async with http.post(fake.url + "/v1/auth/token", json={"api_key": fake.api_key}) as r:
                data = (await r.json())["data"]
            assert data["expire_at"] == pytest.approx(clock() + 60, abs=2)
            headers = {"Authorization": f"Bearer {data['access_token']}"}
            clock.advance(59)
            async with http.get(fake.url + "/v1/report", headers=headers) as r:
                assert r.status == 200
            clock.advance(2)
            async with http.get(fake.url + "/v1/report", headers=headers) as r:
                assert r.status == 401
