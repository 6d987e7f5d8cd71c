"""The distributed fan-out across worker processes (``python -m tests.redis._procs``), on a
real Redis, against the FakeTel4vn serving in this process: four workers under injected
faults, a worker SIGKILLed mid-run, the run-wide rate, status read from another process."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from tel4vn_async import JobStatus, OtpJob, OutcomeUnknownError
from tel4vn_async.redis._format import text
from tel4vn_async.redis._ledger import RunKeys
from tel4vn_async.redis._run import Run, RunStatus, submit
from tel4vn_async.testing import FakeTel4vn, Fault

pytestmark = [pytest.mark.redis, pytest.mark.timeout(180)]

ROOT = Path(__file__).resolve().parents[2]
OTP = "/v1/autocall/otp"
CALLER = "0281234567"
STEP = 60.0  # seconds any one step may take before the test fails (a loaded machine is slow)


def otp_jobs(n: int) -> list[OtpJob]:
    return [OtpJob(f"09{i:08d}", f"{i:06d}", "otp_demo", CALLER, 1, data=i) for i in range(n)]


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def logs(tmp_path: Path) -> Iterator[Path]:
    """The workers' stderr, shown when a test fails."""
    yield tmp_path
    for log in sorted(tmp_path.glob("*.log")):
        output = log.read_text(errors="replace").strip()
        if output:
            print(f"--- {log.name}\n{output[-3000:]}")


async def _spawn(fake: FakeTel4vn, logs: Path, *args: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "TEL4VN_AUTOCALL_URL": fake.url, "TEL4VN_AUTOCALL_API_KEY": fake.api_key}
    with (logs / f"{args[0]}-{args[2] if len(args) > 2 else 'x'}.log").open("ab") as log:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.redis._procs",
            *args,
            cwd=ROOT,
            env=env,
            stdin=asyncio.subprocess.PIPE if args[0] == "status" else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
        )


async def _line(process: asyncio.subprocess.Process) -> str:
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), STEP)
    assert line, f"child {process.pid} ended early (see its log)"
    return line.decode().strip()


@asynccontextmanager
async def workers(
    fake: FakeTel4vn,
    logs: Path,
    redis_url: str,
    n: int,
    *,
    concurrency: int = 10,
    heartbeat: float = 1.0,
    burst: bool = True,
) -> AsyncIterator[list[asyncio.subprocess.Process]]:
    """``n`` worker processes, heartbeating when this yields; reaped at the end."""
    flags = ["burst"] if burst else []
    processes = []
    try:
        for i in range(n):
            args = ("worker", redis_url, f"proc{i}", str(concurrency), str(heartbeat), *flags)
            processes.append(await _spawn(fake, logs, *args))
        for process in processes:
            assert await _line(process) == "ready"
        yield processes
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
            await process.wait()


async def finished(run: Run, processes: list[asyncio.subprocess.Process]) -> RunStatus:
    """The run's status once done; the burst workers then leave."""

    async def follow() -> RunStatus | None:
        last = None
        async for status in run.follow(interval=0.1):
            last = status
        for process in processes:
            await process.wait()
        return last

    status = await asyncio.wait_for(follow(), STEP)
    assert status is not None
    assert status.done
    assert [p.returncode for p in processes] == [0] * len(processes)
    return status


async def entries(run: Run) -> list[dict[str, Any]]:
    return [entry async for entry, _ in run._entries()]


def assert_exactly_one_result_each(results: list[Any], n: int) -> None:
    indexes = Counter(r.index for r in results)
    assert sorted(indexes) == list(range(n))
    assert set(indexes.values()) == {1}


async def test_four_workers_run_two_thousand_jobs_under_faults(
    fake: FakeTel4vn, redis_url: str, redis: aioredis.Redis, logs: Path
) -> None:
    n = 2000
    rng = random.Random(12)
    refusals = [Fault(status=429, retry_after=0.01), Fault(status=429), Fault(status=503)]
    losses = [Fault(status=500), Fault(drop="before"), Fault(drop="after"), Fault(malformed=True)]
    for i in range(n):
        # Three refusals (each slows the whole run for a hundred calls or so: more and
        # the run would crawl), and about one request in twenty lost one way or another.
        if i in (300, 700, 1100):
            fault = refusals[(i - 300) // 400]
        elif rng.random() < 0.05:
            fault = rng.choice(losses)
        else:
            fault = Fault()
        fake.inject(OTP, fault)
    jobs = otp_jobs(n)
    run = await submit(redis, jobs, run_id="four")
    async with workers(fake, logs, redis_url, 4, concurrency=20) as processes:
        status = await finished(run, processes)
    results = [r async for r in run.results()]
    assert_exactly_one_result_each(results, n)
    counts = Counter(r.status for r in results)
    assert counts[JobStatus.OK] + counts[JobStatus.UNKNOWN] + counts[JobStatus.FAILED] == n
    assert (status.ok, status.unknown, status.failed, status.total) == (
        counts[JobStatus.OK],
        counts[JobStatus.UNKNOWN],
        counts[JobStatus.FAILED],
        n,
    )
    assert counts[JobStatus.UNKNOWN] > 0
    assert counts[JobStatus.OK] > 0.8 * n
    assert status.throttled > 0  # the 429/503s reached the run-wide bucket
    # Every callee dialled at most once; every OK job's call is the one placed.
    assert max(fake.dials.values()) == 1
    placed = {c["callee"]: c["call_id"] for c in fake.calls}
    for result in results:
        if result.ok:
            assert placed[result.job.callee] == result.call_id
        elif result.status is JobStatus.FAILED:
            assert fake.dials[result.job.callee] == 0
    # The work was shared.
    assert {e["w"] for e in await entries(run)} == {f"proc{i}" for i in range(4)}


async def test_a_sigkilled_workers_calls_end_unknown_and_are_never_redialled(
    fake: FakeTel4vn, redis_url: str, redis: aioredis.Redis, logs: Path
) -> None:
    fake.latency = 0.4
    n = 150
    jobs = otp_jobs(n)
    run = await submit(redis, jobs, run_id="killed")
    keys = RunKeys("tel4vn", "killed")
    async with workers(fake, logs, redis_url, 3, concurrency=10, heartbeat=1.0) as processes:
        victim = processes[0]

        for _ in range(3000):  # until the victim has calls in flight
            if len(await _claims_of(redis, keys, "proc0")) >= 5:
                break
            await asyncio.sleep(0.02)
        os.kill(victim.pid, signal.SIGKILL)
        await victim.wait()
        orphans = await _claims_of(redis, keys, "proc0")  # claimed, and never recorded
        assert orphans
        status = await finished(run, processes[1:])
    results = {r.key: r for r in [r async for r in run.results()]}
    assert_exactly_one_result_each(list(results.values()), n)
    for key in orphans:
        assert results[key].status is JobStatus.UNKNOWN
        assert isinstance(results[key].error, OutcomeUnknownError)
    assert status.unknown == len(orphans)
    assert status.ok == n - len(orphans)
    assert max(fake.dials.values()) == 1  # nobody rung twice, the orphans included


async def _claims_of(redis: aioredis.Redis, keys: RunKeys, worker: str) -> list[str]:
    """The keys claimed by ``worker`` that have no result yet."""
    inflight = [text(k) for k in await redis.zrange(keys.inflight, 0, -1)]
    if not inflight:
        return []
    claims = await redis.mget([keys.claim(k) for k in inflight])
    return [
        key
        for key, claim in zip(inflight, claims, strict=True)
        if claim is not None and json.loads(text(claim))["w"] == worker
    ]


async def test_the_run_wide_rate_holds_across_workers(
    fake: FakeTel4vn, redis_url: str, redis: aioredis.Redis, logs: Path
) -> None:
    rate, n = 20, 45
    run = await submit(redis, otp_jobs(n), run_id="paced", rate=rate)
    async with workers(fake, logs, redis_url, 3, concurrency=10) as processes:
        status = await finished(run, processes)
    assert status.ok == n
    assert status.rate == rate
    times = sorted(r.received_at for r in fake.received(OTP))
    assert len(times) == n
    # The fake's arrival stamps, across three processes: no second holds more than rate.
    worst = max(sum(1 for t in times if t0 <= t < t0 + 1.0) for t0 in times)
    assert worst <= rate, f"{worst} calls arrived within one second at rate={rate}"
    assert {e["w"] for e in await entries(run)} == {"proc0", "proc1", "proc2"}


async def test_progress_and_summary_are_read_from_another_process(
    fake: FakeTel4vn, redis_url: str, redis: aioredis.Redis, logs: Path
) -> None:
    fake.latency = 0.1
    n = 60
    run = await submit(redis, otp_jobs(n), run_id="watched")
    reader = await _spawn(fake, logs, "status", redis_url, "watched")
    try:
        assert await _line(reader) == "ready"
        async with workers(fake, logs, redis_url, 1, concurrency=5) as processes:
            for _ in range(6000):
                if (await run.status()).finished >= 10:
                    break
                await asyncio.sleep(0.01)
            during = await _ask(reader)
            assert during["run_id"] == "watched"
            assert during["total"] == n
            assert 10 <= during["ok"] < n
            assert not during["done"]
            assert during["workers"] == 1, during
            mine = await finished(run, processes)
        after = await _ask(reader)
    finally:
        if reader.stdin is not None:
            reader.stdin.close()
        await asyncio.wait_for(reader.wait(), STEP)
    assert after["done"]
    assert after["ok"] == n == mine.ok
    assert {k: after[k] for k in ("total", "failed", "unknown", "skipped", "in_flight")} == {
        "total": n,
        "failed": 0,
        "unknown": 0,
        "skipped": 0,
        "in_flight": 0,
    }
    assert after["elapsed"] == pytest.approx(mine.elapsed)
    assert RunStatus(**after).summary() == mine.summary()


async def _ask(reader: asyncio.subprocess.Process) -> dict[str, Any]:
    assert reader.stdin is not None
    reader.stdin.write(b"status\n")
    await reader.stdin.drain()
    found: dict[str, Any] = json.loads(await _line(reader))
    return found
