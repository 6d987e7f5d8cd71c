"""Processes of a token-sharing fleet, for tests/redis/test_tokens_fleet.py.

Run as ``python -m tests.redis._token_procs <role> ...`` with cwd at the repository root;
the autocall credentials come from the environment (``TEL4VN_AUTOCALL_URL`` /
``TEL4VN_AUTOCALL_API_KEY``), never from the command line.

- ``burst REDIS_URL NAME N LOCK_TIMEOUT``: an ``AutocallClient`` sharing its token through
  a ``RedisTokenStore``; prints ``ready``, waits for a line on stdin, sends N concurrent
  requests, prints ``started`` as they go and then one JSON line: how many succeeded, the
  first errors' class names, and how many tokens this process fetched.
- ``hold REDIS_URL NAME LOCK_TIMEOUT``: takes the store's refresh lock with a fetch that
  never returns, prints ``locked`` and waits to be killed.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from tel4vn_async import AutocallClient, RetryPolicy, Token
from tel4vn_async.redis import RedisTokenStore

_FAST = RetryPolicy(backoff_base=0.005, backoff_max=0.02, max_retry_after=5.0)


async def burst(redis_url: str, name: str, n: int, lock_timeout: float) -> None:
    async with (
        RedisTokenStore.from_url(
            redis_url, name, lock_timeout=lock_timeout, poll_interval=0.02
        ) as store,
        AutocallClient(token_store=store, retry_policy=_FAST) as client,
    ):
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        requests = [
            asyncio.ensure_future(client.request("GET", "/v1/report", params={"limit": 1}))
            for _ in range(n)
        ]
        print("started", flush=True)
        results: list[Any] = await asyncio.gather(*requests, return_exceptions=True)
        errors = [type(r).__name__ for r in results if isinstance(r, BaseException)]
        report = {
            "ok": n - len(errors),
            "errors": errors[:5],
            "refreshes": client.session.refresh_count,
        }
        print(json.dumps(report), flush=True)


async def hold(redis_url: str, name: str, lock_timeout: float) -> None:
    store = RedisTokenStore.from_url(redis_url, name, lock_timeout=lock_timeout)

    async def never() -> Token:
        print("locked", flush=True)
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    await store.obtain(never, lambda token: False)


def main(argv: list[str]) -> None:
    role, redis_url, name, *rest = argv
    if role == "burst":
        asyncio.run(burst(redis_url, name, int(rest[0]), float(rest[1])))
    elif role == "hold":
        asyncio.run(hold(redis_url, name, float(rest[0])))
    else:
        raise SystemExit(f"unknown role {role!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
