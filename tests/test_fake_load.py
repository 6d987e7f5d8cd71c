"""FakeTel4vn under load: its latency and its per-path rate limit, seen over HTTP.

The rate-limit tests drive the buckets with a clock that moves only when told, so they
count admissions exactly; the one test on the real clock asserts only what a token bucket
guarantees whatever the machine's speed. No test asserts how long anything took beyond a
lower bound a sleep cannot undercut.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tel4vn_async.testing import FakeTel4vn

OTP = "/v1/autocall/otp"


class StepClock:
    """A monotonic clock that moves only on ``advance()``."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(fake: FakeTel4vn) -> StepClock:
    fake.monotonic = clock = StepClock()
    return clock


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _auth(http: aiohttp.ClientSession, fake: FakeTel4vn) -> dict[str, str]:
    async with http.post(fake.url + "/v1/auth/token", json={"api_key": fake.api_key}) as r:
        assert r.status == 200
        token = (await r.json())["data"]["access_token"]
    return {"Authorization": f"Bearer {token}"}


async def _otp(
    http: aiohttp.ClientSession, fake: FakeTel4vn, headers: dict[str, str], callee: str
) -> tuple[int, str | None]:
    """POST one OTP call (no ``param``: the fake places it without a template)."""
    body = {"caller": "02873000000", "callee": callee, "campaign_id": "1"}
    async with http.post(fake.url + OTP, json=body, headers=headers) as r:
        await r.read()
        return r.status, r.headers.get("Retry-After")


# --------------------------------------------------------------------------- latency


async def test_latency_delays_every_request(http: aiohttp.ClientSession) -> None:
    async with FakeTel4vn(latency=0.2) as fake:
        assert fake.latency == 0.2
        started = time.monotonic()
        headers = await _auth(http, fake)
        assert time.monotonic() - started >= 0.19  # a sleep never ends early
        fake.latency = 0.0
        assert await _otp(http, fake, headers, "0900000001") == (200, None)


async def test_latency_is_read_per_request_and_blocks_no_other(
    fake: FakeTel4vn, http: aiohttp.ClientSession
) -> None:
    headers = await _auth(http, fake)
    finished: list[str] = []

    async def call(callee: str) -> None:
        await _otp(http, fake, headers, callee)
        finished.append(callee)

    fake.latency = 1.0
    slow = asyncio.create_task(call("0900000001"))
    # The fake has no hook to await; its log shows the slow request in, and sleeping.
    while not fake.received(OTP):  # noqa: ASYNC110
        await asyncio.sleep(0.005)
    fake.latency = 0.0
    await call("0900000002")
    assert not slow.done()
    await slow
    # The fast request overtook the one sleeping: the sleep held up nothing else.
    assert finished == ["0900000002", "0900000001"]
    assert fake.dials == {"0900000001": 1, "0900000002": 1}


# --------------------------------------------------------------------------- rate limit


async def test_the_bucket_admits_burst_then_per_second(
    fake: FakeTel4vn, clock: StepClock, http: aiohttp.ClientSession
) -> None:
    headers = await _auth(http, fake)
    fake.limit_rate(OTP, 4, burst=3)

    statuses = [(await _otp(http, fake, headers, f"09000000{i:02d}"))[0] for i in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    # Ten seconds at 4 a second: 40 more, one every quarter second, and no more.
    admitted = 0
    for i in range(40):
        clock.advance(0.25)
        status, _ = await _otp(http, fake, headers, f"0910{i:06d}")
        admitted += status == 200
        assert (await _otp(http, fake, headers, f"0920{i:06d}"))[0] == 429
    assert admitted == 40
    # A long quiet spell refills the bucket to burst, not beyond.
    clock.advance(60)
    statuses = [(await _otp(http, fake, headers, f"0930{i:06d}"))[0] for i in range(4)]
    assert statuses == [200, 200, 200, 429]


async def test_a_429_says_when_the_next_token_comes(
    fake: FakeTel4vn, clock: StepClock, http: aiohttp.ClientSession
) -> None:
    headers = await _auth(http, fake)
    fake.limit_rate(OTP, 4)  # burst 1: one token, one more each 0.25 s

    assert await _otp(http, fake, headers, "0900000001") == (200, None)
    assert await _otp(http, fake, headers, "0900000002") == (429, "0.25")
    clock.advance(0.1)
    assert await _otp(http, fake, headers, "0900000003") == (429, "0.15")
    clock.advance(0.15 - 1e-7)  # all but a sliver: still told to wait, at least 1 ms
    assert await _otp(http, fake, headers, "0900000004") == (429, "0.001")
    clock.advance(1e-7)
    assert await _otp(http, fake, headers, "0900000005") == (200, None)

    fake.limit_rate(OTP, 4, retry_after=False)
    await _otp(http, fake, headers, "0900000006")
    assert await _otp(http, fake, headers, "0900000007") == (429, None)

    log = fake.received(OTP)
    refused = [entry for entry in log if entry.status == 429]
    assert len(refused) == 4
    async with http.post(fake.url + OTP, json={}, headers=headers) as r:
        assert r.status == 429
        assert await r.json() == {
            "code": 429,
            "content": "rate limit exceeded",
            "error": "Too Many Requests",
        }


async def test_a_refused_request_is_not_handled_and_dials_no_one(
    fake: FakeTel4vn, clock: StepClock, http: aiohttp.ClientSession
) -> None:
    headers = await _auth(http, fake)
    fake.limit_rate(OTP, 1, burst=2)

    answers = await asyncio.gather(
        *(_otp(http, fake, headers, f"09000000{i:02d}") for i in range(10))
    )
    assert sorted(status for status, _ in answers) == [200] * 2 + [429] * 8
    assert sum(fake.dials.values()) == 2
    log = fake.received(OTP)
    assert len(log) == 10
    assert all(not entry.handled for entry in log if entry.status == 429)
    assert sum(entry.handled for entry in log) == 2
    assert len(fake.state["autocall"]["calls"]) == 2


async def test_star_limits_every_path_but_auth_and_needs_both_buckets(
    fake: FakeTel4vn, clock: StepClock, http: aiohttp.ClientSession
) -> None:
    fake.limit_rate("*", 1, burst=2)
    for _ in range(4):  # token requests pass: the client could never authenticate
        headers = await _auth(http, fake)
    assert await _otp(http, fake, headers, "0900000001") == (200, None)
    async with http.get(fake.url + "/v1/report", headers=headers) as r:
        assert r.status == 200  # "*" counts across paths: its second token
    assert (await _otp(http, fake, headers, "0900000002"))[0] == 429

    # Both a path's bucket and "*" apply: refused by one, it costs the other nothing.
    clock.advance(10)  # "*" full again: 2 tokens
    fake.limit_rate(OTP, 1)  # a fresh bucket of 1 for OTP alone
    assert (await _otp(http, fake, headers, "0900000003"))[0] == 200
    assert (await _otp(http, fake, headers, "0900000004"))[0] == 429  # OTP's bucket
    async with http.get(fake.url + "/v1/report", headers=headers) as r:
        assert r.status == 200  # "*" still had its second token
    assert sum(fake.dials.values()) == 2


async def test_the_rate_limit_sits_between_latency_and_faults_and_auth(
    fake: FakeTel4vn, clock: StepClock, http: aiohttp.ClientSession
) -> None:
    headers = await _auth(http, fake)
    fake.limit_rate(OTP, 1)
    assert (await _otp(http, fake, headers, "0900000001"))[0] == 200
    fake.inject(OTP, status=503)
    # Refused before the fault queue: the fault waits for a request that gets through.
    assert (await _otp(http, fake, headers, "0900000002"))[0] == 429
    assert (await _otp(http, fake, {}, "0900000003"))[0] == 429  # before the token check
    clock.advance(1)
    assert (await _otp(http, fake, headers, "0900000004"))[0] == 503
    assert [entry.fault is not None for entry in fake.received(OTP)] == [
        False,
        False,
        False,
        True,
    ]


async def test_removing_the_limit(
    fake: FakeTel4vn, clock: StepClock, http: aiohttp.ClientSession
) -> None:
    headers = await _auth(http, fake)
    fake.limit_rate(OTP, 1)
    await _otp(http, fake, headers, "0900000001")
    assert (await _otp(http, fake, headers, "0900000002"))[0] == 429
    fake.limit_rate(OTP, None)
    fake.limit_rate("/v9/never-limited", None)  # removing what is not there is fine
    statuses = [(await _otp(http, fake, headers, f"09100000{i:02d}"))[0] for i in range(20)]
    assert statuses == [200] * 20
    assert sum(fake.dials.values()) == 21


def test_a_limit_must_admit_something() -> None:
    fake = FakeTel4vn()
    with pytest.raises(ValueError, match="per_second must be positive"):
        fake.limit_rate(OTP, 0)
    with pytest.raises(ValueError, match="burst at least 1"):
        fake.limit_rate(OTP, 5, burst=0)


async def test_on_the_real_clock_no_more_than_burst_plus_rate_times_elapsed(
    fake: FakeTel4vn, http: aiohttp.ClientSession
) -> None:
    headers = await _auth(http, fake)
    per_second, burst = 40.0, 5
    fake.limit_rate(OTP, per_second, burst=burst)
    started = time.monotonic()
    answers: list[tuple[int, str | None]] = []
    while time.monotonic() - started < 0.5:
        answers.append(await _otp(http, fake, headers, f"09{len(answers):08d}"))
    elapsed = time.monotonic() - started
    admitted = sum(status == 200 for status, _ in answers)
    # The bucket's promise, whatever the machine's speed: it held burst, and earned
    # per_second for at most the time this loop ran. At least the burst got through.
    assert burst <= admitted <= burst + per_second * elapsed
    assert all(
        status == 429 and retry_after is not None and 0 < float(retry_after) <= 1 / per_second
        for status, retry_after in answers
        if status != 200
    )
    assert sum(fake.dials.values()) == admitted
