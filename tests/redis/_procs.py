"""Processes of a distributed fan-out, for tests/redis/test_fanout_procs.py.

Run as ``python -m tests.redis._procs <role> ...`` with cwd at the repository root; the
autocall credentials come from the environment (``TEL4VN_AUTOCALL_URL`` /
``TEL4VN_AUTOCALL_API_KEY``), never from the command line.

- ``worker REDIS_URL WORKER_ID CONCURRENCY HEARTBEAT [burst]``: ``run_worker`` with an
  ``AutocallClient``; SIGTERM stops it gracefully. Prints ``ready`` once it heartbeats.
- ``status REDIS_URL RUN_ID``: prints ``ready``, then for each line read on stdin the
  run's ``RunStatus`` as one JSON line, read through a client of its own (another
  process, another connection); ends at the end of stdin.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys

import attrs
import redis.asyncio as aioredis

from tel4vn_async import AutocallClient, RetryPolicy
from tel4vn_async.redis._ledger import worker_key
from tel4vn_async.redis._run import run_status
from tel4vn_async.redis._worker import run_worker

_FAST = RetryPolicy(backoff_base=0.005, backoff_max=0.02, max_retry_after=5.0)


async def worker(
    redis_url: str, worker_id: str, concurrency: int, heartbeat: float, burst: bool
) -> None:
    redis = aioredis.Redis.from_url(redis_url)
    try:
        async with AutocallClient(retry_policy=_FAST) as client:
            task = asyncio.ensure_future(
                run_worker(
                    client,
                    redis,
                    concurrency=concurrency,
                    burst=burst,
                    worker_id=worker_id,
                    heartbeat=heartbeat,
                    poll_delay=0.02,
                    handle_signals=True,
                )
            )
            for _ in range(10_000):  # until it heartbeats: then it takes jobs
                if task.done() or await redis.exists(worker_key("tel4vn", worker_id)):
                    break
                await asyncio.sleep(0.01)
            print("ready", flush=True)
            with contextlib.suppress(asyncio.CancelledError):
                await task
    finally:
        await redis.aclose()


async def status(redis_url: str, run_id: str) -> None:
    redis = aioredis.Redis.from_url(redis_url)
    try:
        print("ready", flush=True)
        loop = asyncio.get_running_loop()
        while await loop.run_in_executor(None, sys.stdin.readline):
            found = await run_status(redis, run_id)
            print(json.dumps(attrs.asdict(found)), flush=True)
    finally:
        await redis.aclose()


def main(argv: list[str]) -> None:
    role, redis_url, *rest = argv
    if role == "worker":
        worker_id, concurrency, heartbeat, *flags = rest
        coro = worker(redis_url, worker_id, int(concurrency), float(heartbeat), "burst" in flags)
        asyncio.run(coro)
    elif role == "status":
        asyncio.run(status(redis_url, rest[0]))
    else:
        raise SystemExit(f"unknown role {role!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
