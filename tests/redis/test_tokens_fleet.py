"""A fleet of real processes sharing one token through a real Redis (section 12).

Four processes, each with 500 concurrent requests, find the shared token stale at once:
the fake sees exactly one token request, also when a fifth process died holding the
refresh lock. The fake runs in this test's process; the fleet talks to it over TCP.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from tel4vn_async import Token
from tel4vn_async.redis import RedisTokenStore
from tel4vn_async.testing import FakeTel4vn

pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parents[2]
NAME = "fleet"
PROCESSES = 4
REQUESTS = 500
LOCK_TIMEOUT = 1.5  # the longest a dead holder delays the fleet
STEP = 30.0  # seconds any one step of a child may take before the test gives up


def _slow_token_endpoint(fake: FakeTel4vn) -> None:
    """A token request takes half a second: the whole fleet is inside its refresh at once."""
    fake.inject("/v1/auth/token", delay=0.5, times=PROCESSES)


async def _stale_token_stored(redis_url: str) -> None:
    """A token at its expiry in Redis: an hour old, valid 30 s more, stale (60 s leeway)."""
    now = datetime.now(timezone.utc)
    stale = Token(
        "stale-token", expires_at=now + timedelta(seconds=30), issued_at=now - timedelta(hours=1)
    )
    async with RedisTokenStore.from_url(redis_url, NAME) as store:
        await store.save(stale)


async def _spawn(fake: FakeTel4vn, *args: str) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "TEL4VN_AUTOCALL_URL": fake.url,
        "TEL4VN_AUTOCALL_API_KEY": fake.api_key,
    }
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.redis._token_procs",
        *args,
        cwd=ROOT,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def _line(process: asyncio.subprocess.Process) -> str:
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), STEP)
    if not line:
        assert process.stderr is not None
        error = await asyncio.wait_for(process.stderr.read(), STEP)
        raise AssertionError(f"child {process.pid} ended early:\n{error.decode()[-3000:]}")
    return line.decode().strip()


async def _go(processes: list[asyncio.subprocess.Process]) -> None:
    for process in processes:
        assert process.stdin is not None
        process.stdin.write(b"go\n")
        await process.stdin.drain()


async def _reap(processes: list[asyncio.subprocess.Process]) -> None:
    for process in processes:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def _fleet(fake: FakeTel4vn, redis_url: str) -> list[asyncio.subprocess.Process]:
    args = ("burst", redis_url, NAME, str(REQUESTS), str(LOCK_TIMEOUT))
    return list(await asyncio.gather(*(_spawn(fake, *args) for _ in range(PROCESSES))))


async def _reports(processes: list[asyncio.subprocess.Process]) -> list[dict[str, Any]]:
    for process in processes:
        assert await _line(process) == "started"
    reports = [json.loads(await _line(process)) for process in processes]
    for process in processes:
        assert await asyncio.wait_for(process.wait(), STEP) == 0
    return reports


def _assert_one_token_request(fake: FakeTel4vn, reports: list[dict[str, Any]]) -> None:
    assert [r["errors"] for r in reports] == [[]] * PROCESSES
    assert sum(r["ok"] for r in reports) == PROCESSES * REQUESTS
    assert fake.count("/v1/report") == PROCESSES * REQUESTS
    assert fake.token_requests == 1
    assert sum(r["refreshes"] for r in reports) == 1
    # Every request carried the one token fetched; the stale one was never sent.
    tokens = {r.token for r in fake.received("/v1/report")}
    assert len(tokens) == 1
    assert "stale-token" not in tokens


async def test_four_processes_at_token_expiry_make_one_token_request(
    fake: FakeTel4vn, redis_url: str
) -> None:
    await _stale_token_stored(redis_url)
    _slow_token_endpoint(fake)
    processes = await _fleet(fake, redis_url)
    try:
        for process in processes:
            assert await _line(process) == "ready"
        await _go(processes)
        reports = await _reports(processes)
    finally:
        await _reap(processes)
    _assert_one_token_request(fake, reports)


async def test_one_token_request_when_the_lock_holder_is_killed(
    fake: FakeTel4vn, redis_url: str
) -> None:
    await _stale_token_stored(redis_url)
    _slow_token_endpoint(fake)
    processes = await _fleet(fake, redis_url)
    holder: asyncio.subprocess.Process | None = None
    client = aioredis.Redis.from_url(redis_url)
    try:
        for process in processes:
            assert await _line(process) == "ready"
        holder = await _spawn(fake, "hold", redis_url, NAME, str(LOCK_TIMEOUT))
        assert await _line(holder) == "locked"  # its fetch runs: it holds the lock
        await _go(processes)
        await asyncio.sleep(0.1)  # the fleet is polling the holder's lock now
        # The holder's lock is still in force, and nobody has fetched a token.
        lock_key = f"tel4vn:token:{{{NAME}}}:lock"
        assert await client.pttl(lock_key) > 0
        assert fake.token_requests == 0
        os.kill(holder.pid, signal.SIGKILL)
        assert await asyncio.wait_for(holder.wait(), STEP) == -signal.SIGKILL
        reports = await _reports(processes)
    finally:
        await _reap([*processes, *([holder] if holder is not None else [])])
        await client.aclose()
    _assert_one_token_request(fake, reports)
