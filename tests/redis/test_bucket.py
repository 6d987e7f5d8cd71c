"""The run-wide Redis bucket: the Lua arithmetic against ``ThrottleState`` on the same events
(explicit times), ``RedisThrottle`` shared by several workers of one run, and a claim
taking its first slot in the same script."""

from __future__ import annotations

import asyncio
import itertools
import math
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from tel4vn_async import OtpJob
from tel4vn_async.bulk._jobs import prepare
from tel4vn_async.bulk._throttle import WINDOW_MARGIN, ThrottleState, window_limit
from tel4vn_async.redis._bucket import RedisThrottle, RunBucket
from tel4vn_async.redis._ledger import Claimed, Ledger, RunKeys

pytestmark = pytest.mark.redis

MAX_PAUSE = 5.0


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def bucket_for(redis: aioredis.Redis, run_id: str, cap: float | None) -> RunBucket:
    keys = RunKeys("tel4vn", run_id)
    if cap is not None:
        capped: Any = redis.hset(keys.bucket, "cap", repr(cap))  # typed sync-or-async
        await capped
    return RunBucket(redis, keys, max_pause=MAX_PAUSE, margin=WINDOW_MARGIN)


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.parametrize(
    ("cap", "seed", "ahead"),
    [
        *[(None, 1, 0.0), (0.3, 2, 0.0), (7.5, 3, 0.0), (40.0, 4, 0.0), (None, 5, 0.0)],
        *[(7.5, 6, 0.05), (40.0, 7, 0.02), (None, 8, 0.05), (0.3, 9, 0.5)],
    ],
)
async def test_the_script_computes_what_throttle_state_does(
    redis: aioredis.Redis, cap: float | None, seed: int, ahead: float
) -> None:
    """``ahead`` > 0: a slot due that soon is booked at its time, as ``ThrottleState``
    granting at ``ready_at()``."""
    rng = random.Random(seed)
    state = ThrottleState(cap, max_pause=MAX_PAUSE)
    bucket = await bucket_for(redis, f"diff{seed}", cap)
    now, successes = 1000.0, 0
    grants: list[float] = []
    cuts = 0
    for _ in range(250):
        now += rng.choice([0.0, 0.001, 0.01, 0.03, 0.2, rng.random()])
        event = rng.choices(["acquire", "throttled", "succeeded"], [6, 1, 4])[0]
        if event == "succeeded":
            state.succeeded()
            successes += 1
            continue
        if event == "acquire":
            ready = state.ready_at()
            expected = ready <= now + ahead
            at = max(ready, now)
            if expected:
                state.grant(at)
                grants.append(at)
            got = await bucket.acquire(now=now, successes=successes, ahead=ahead)
            assert got.granted is expected
            if expected:
                assert _close(got.value, at)
                assert _close(got.wait, at - now)
            else:
                assert _close(got.value, ready - now)
        else:
            sent_at = rng.choice([None, *grants[-5:]]) if grants else None
            retry_after = rng.choice([None, None, 0.05, 1.0, 120.0])
            expected_cut = state.throttled(now, sent_at=sent_at, retry_after=retry_after)
            got = await bucket.throttled(
                now=now, successes=successes, sent_at=sent_at, retry_after=retry_after
            )
            assert got.cut is expected_cut
            cuts += expected_cut
        successes = 0
        assert _close(got.rate, state.rate)
        assert got.throttles == state.throttles
        paused = None if state.paused_until == -math.inf else state.paused_until
        assert _close(got.paused_until, paused)
    assert cuts >= 2  # the sequences do exercise the cuts and the recovery


def assert_window(grants: list[float], rate: float) -> None:
    limit = window_limit(rate)
    grants = sorted(grants)
    for i, start in enumerate(grants):
        inside = sum(1 for t in grants[i:] if t < start + 1.0 + WINDOW_MARGIN - 1e-9)
        assert inside <= limit, f"{inside} grants in the window from {start}"


async def test_workers_sharing_a_run_share_its_pacing_and_window(redis_url: str) -> None:
    rate = 40.0
    clients = [aioredis.Redis.from_url(redis_url) for _ in range(3)]
    try:
        keys = RunKeys("tel4vn", "shared")
        capped: Any = clients[0].hset(keys.bucket, "cap", repr(rate))
        await capped
        throttles = [RedisThrottle(RunBucket(c, keys)) for c in clients]

        async def take(throttle: RedisThrottle, n: int) -> list[float]:
            return [await throttle.acquire() for _ in range(n)]

        # Each worker has several jobs waiting at once, as a worker does.
        per_worker = await asyncio.gather(*(take(t, 10) for t in throttles for _ in range(2)))
        grants = sorted(g for worker in per_worker for g in worker)
        assert len(grants) == 60
        assert all(b - a >= 1 / rate - 1e-6 for a, b in itertools.pairwise(grants))
        assert_window(grants, rate)
    finally:
        for client in clients:
            await client.aclose()


async def test_a_refusal_heard_by_one_worker_slows_and_pauses_the_others(
    redis_url: str,
) -> None:
    one, two = aioredis.Redis.from_url(redis_url), aioredis.Redis.from_url(redis_url)
    try:
        keys = RunKeys("tel4vn", "refused")
        capped: Any = one.hset(keys.bucket, "cap", "50.0")
        await capped
        a, b = RedisThrottle(RunBucket(one, keys)), RedisThrottle(RunBucket(two, keys))
        sent = [await a.acquire() for _ in range(10)]
        await a.throttled(sent_at=sent[-1], retry_after=0.2)
        cut = a.rate  # BETA times the lower of 50/s and the rate measured (a bit under)
        assert cut is not None
        assert 0.7 * 40 < cut <= 0.7 * 50
        assert a.throttles == 1
        state = await RunBucket(two, keys).peek()
        assert state.paused_until is not None
        assert await b.acquire() >= state.paused_until  # b waited out a's Retry-After
        assert b.rate == pytest.approx(cut)
        assert b.throttles == 1
        await a.throttled(sent_at=sent[-2], retry_after=None)  # stale: granted before the cut
        assert a.rate == pytest.approx(cut)
        assert a.throttles == 2
        for _ in range(100):  # successes are told with the next call, in one
            b.succeeded()
        await b.flush()
        # RECOVERY_CALLS successes climb back to the rate that was cut.
        assert (await RunBucket(one, keys).peek()).rate == pytest.approx(cut / 0.7)
    finally:
        await one.aclose()
        await two.aclose()


async def test_a_won_claim_takes_its_first_slot_in_the_same_call(redis: aioredis.Redis) -> None:
    keys = RunKeys("tel4vn", "claimed")
    capped: Any = redis.hset(keys.bucket, "cap", "5.0")
    await capped
    ledger = Ledger(redis, keys, retention=3600)
    job = OtpJob("0900000001", "000001", "otp_demo", "0281234567", 1)
    await ledger.admit([(0, prepare(job), None)], [])
    throttle = RedisThrottle(RunBucket(redis, keys))

    async def claim(worker: str) -> tuple[bool, float | None]:
        verdict = await throttle.claim(ledger, prepare(job).key, worker)
        if not isinstance(verdict, Claimed):
            return False, None
        return True, await throttle.acquire()  # the slot booked with the claim

    outcomes = await asyncio.gather(*(claim(f"w{i}") for i in range(20)))
    won = [at for ok, at in outcomes if ok and at is not None]
    assert len(won) == 1
    window: Any = redis.lrange(keys.window, 0, -1)
    assert [float(t) for t in await window] == won  # the losers took no slot
    assert await throttle.acquire() >= won[0] + 1 / 5.0 - 1e-6  # the next one is paced
    assert not throttle._booked
