"""The claim ledger on a real Redis: one claim winner, the first result wins, dead owners'
claims settled UNKNOWN, claims given back only by their owner, results read back typed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from tel4vn_async import (
    BadRequestError,
    JobResult,
    JobStatus,
    OtpJob,
    OutcomeUnknownError,
    RateLimitError,
    Tel4vnError,
    TtsJob,
    ValidationError,
)
from tel4vn_async.bulk._jobs import prepare
from tel4vn_async.redis._format import decode_result, entry_of, job_record
from tel4vn_async.redis._ledger import (
    Claimed,
    Held,
    Ledger,
    RunKeys,
    beat,
    count_workers,
    stop_beating,
)
from tel4vn_async.redis._run import Run, run_status

pytestmark = pytest.mark.redis

CALLER = "0281234567"


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


def otp(i: int, **kw: object) -> OtpJob:
    return OtpJob(f"09{i:08d}", f"{i:06d}", "otp_demo", CALLER, 1, **kw)  # type: ignore[arg-type]


async def admitted(redis: aioredis.Redis, jobs: list[OtpJob], run_id: str = "r1") -> Ledger:
    ledger = Ledger(redis, RunKeys("tel4vn", run_id), retention=3600)
    created: Any = redis.hset(ledger.keys.meta, "created_at", "0")  # typed sync-or-async
    await created
    verdicts = await ledger.admit([(i, prepare(j), j.data) for i, j in enumerate(jobs)], [])
    assert verdicts == ["new"] * len(jobs)
    await ledger.mark_submitted()
    return ledger


async def test_two_hundred_racing_claims_have_one_winner(redis: aioredis.Redis) -> None:
    ledger = await admitted(redis, [otp(1)])
    key = prepare(otp(1)).key
    verdicts = await asyncio.gather(*(ledger.claim(key, f"w{i}") for i in range(200)))
    winners = [i for i, v in enumerate(verdicts) if isinstance(v, Claimed)]
    assert len(winners) == 1
    held = [v for v in verdicts if isinstance(v, Held)]
    assert len(held) == 199
    assert {h.owner for h in held} == {f"w{winners[0]}"}
    won = verdicts[winners[0]]
    assert isinstance(won, Claimed)
    assert won.prepared == prepare(otp(1))
    assert won.index == 0
    assert await redis.zcard(ledger.keys.inflight) == 1


async def test_the_first_result_wins_and_is_counted_once(redis: aioredis.Redis) -> None:
    jobs = [otp(1), otp(2)]
    ledger = await admitted(redis, jobs)
    keys = [prepare(j).key for j in jobs]
    await beat(redis, "tel4vn", "w", 30.0)  # alive: its claims are not settled
    for key in keys:
        assert isinstance(await ledger.claim(key, "w"), Claimed)
    refused = RateLimitError("slow down", status=429, retry_after=1.5, path="/v1/autocall/otp")
    failed = JobResult(None, 0, keys[0], JobStatus.FAILED, error=refused, attempts=3)
    ok = JobResult(None, 0, keys[0], JobStatus.OK, call_id="c-1", attempts=1)
    assert await ledger.record(failed, worker="w")
    assert not await ledger.record(ok, worker="w")  # too late: the failure stands
    assert await ledger.claim(keys[0], "w2") is None  # a result: nothing to claim
    status = await run_status(redis, "r1")
    assert (status.total, status.failed, status.ok, status.in_flight) == (2, 1, 0, 1)
    assert status.errors == {"RateLimitError": 1}
    assert not status.done
    assert await ledger.record(JobResult(None, 1, keys[1], JobStatus.OK, call_id="c-2"))
    status = await run_status(redis, "r1")
    assert status.done
    assert (status.ok, status.failed, status.in_flight) == (1, 1, 0)
    results = {r.index: r for r in [r async for r in Run(redis, "r1").results()]}
    assert results[0].status is JobStatus.FAILED
    assert isinstance(results[0].error, RateLimitError)
    assert (results[0].error.status, results[0].error.retry_after) == (429, 1.5)
    assert results[0].error.message == "slow down"
    assert results[0].attempts == 3
    assert results[1].call_id == "c-2"
    assert results[1].job == OtpJob("0900000002", "000002", "otp_demo", CALLER, "1", key=keys[1])


async def test_settle_leaves_dead_owners_jobs_unknown_and_live_ones_alone(
    redis: aioredis.Redis,
) -> None:
    jobs = [otp(i) for i in range(4)]
    ledger = await admitted(redis, jobs)
    keys = [prepare(j).key for j in jobs]
    await beat(redis, "tel4vn", "alive", 30.0)
    await beat(redis, "tel4vn", "dead", 30.0)
    for key, owner in zip(keys, ["alive", "dead", "dead", "gone"], strict=True):
        assert isinstance(await ledger.claim(key, owner), Claimed)
    await ledger.record(JobResult(None, 2, keys[2], JobStatus.OK, call_id="c-2"))
    await stop_beating(redis, "tel4vn", "dead")
    assert await count_workers(redis, "tel4vn") == 1
    assert await ledger.settle() == 2  # keys[1] (dead) and keys[3] (never heartbeat)
    assert await ledger.settle() == 0
    status = await run_status(redis, "r1")
    assert (status.unknown, status.ok, status.in_flight) == (2, 1, 1)
    assert status.errors == {"OutcomeUnknownError": 2}
    assert status.workers == 1
    results = {r.key: r for r in [r async for r in Run(redis, "r1").results()]}
    unknown = results[keys[1]]
    assert unknown.status is JobStatus.UNKNOWN
    assert isinstance(unknown.error, OutcomeUnknownError)
    assert "worker dead" in (unknown.reason or "")
    assert keys[0] not in results  # its owner lives: it will record


async def test_a_claim_is_given_back_only_by_its_owner_and_only_without_a_result(
    redis: aioredis.Redis,
) -> None:
    ledger = await admitted(redis, [otp(1), otp(2)])
    one, two = prepare(otp(1)).key, prepare(otp(2)).key
    assert isinstance(await ledger.claim(one, "a"), Claimed)
    assert not await ledger.release(one, "b")
    assert await ledger.release(one, "a")
    assert await redis.zcard(ledger.keys.inflight) == 0
    assert isinstance(await ledger.claim(one, "b"), Claimed)  # free again
    assert isinstance(await ledger.claim(two, "a"), Claimed)
    await ledger.record(JobResult(None, 1, two, JobStatus.OK, call_id="c"))
    assert not await ledger.release(two, "a")  # recorded: the claim stays for ever


async def test_a_dead_owners_claim_is_not_settled_after_its_result(redis: aioredis.Redis) -> None:
    ledger = await admitted(redis, [otp(1)])
    key = prepare(otp(1)).key
    await ledger.claim(key, "gone")
    await ledger.record(JobResult(None, 0, key, JobStatus.OK, call_id="c"))
    assert not await ledger.abandon(key, Held("gone", 0.0))
    assert (await run_status(redis, "r1")).ok == 1


def test_stored_results_and_jobs_come_back_typed() -> None:
    tts = TtsJob("0987654320", "nhac_no", {"name": "An", "amount": 5}, CALLER, data={"line": 7})
    prepared = prepare(tts)
    record = job_record(4, prepared, tts.data)
    cases: list[Tel4vnError] = [
        BadRequestError("bad", status=400, code=400, details={"callee": "x"}),
        OutcomeUnknownError("lost", method="POST", path="/v1/autocall/voice"),
        ValidationError("callee must be digits", field="callee"),
        Tel4vnError("plain"),
    ]
    for error in cases:
        result = JobResult(None, 4, prepared.key, JobStatus.FAILED, error=error, attempts=2)
        back = decode_result(json.loads(entry_of(result)), json.loads(record))
        assert type(back.error) is type(error)
        assert str(back.error) == str(error)
        assert back.job == TtsJob(
            "0987654320",
            "nhac_no",
            {"name": "An", "amount": 5},
            CALLER,
            key=prepared.key,
            data={"line": 7},
        )
        assert (back.index, back.attempts, back.status) == (4, 2, JobStatus.FAILED)
