"""A distributed fan-out on one machine: a producer, two worker processes, one Redis.

    REDIS_URL=redis://localhost:6379/0 .venv/bin/python examples/scale_out.py [--jobs 200]

Needs the ``redis`` extra (``pip install 'tel4vn-async[redis]'``) and a Redis server:
``REDIS_URL`` names it; without it, the script starts a throw-away ``redis-server`` (if
one is on the PATH) in a temporary folder, and stops it at the end. The PBX is the
embedded fake server (``FakeTel4vn``, 50 ms per call), in this process: nobody is rung.

What it shows:

1. two worker processes (``run_worker``), sharing one token through Redis;
2. ``submit()`` of a run at 100 calls a second, run-wide, followed with ``run.follow()``;
3. one worker SIGKILLed halfway: the jobs it had claimed become UNKNOWN within seconds
   (its heartbeat expires), never redialled, and the other worker finishes the run;
4. ``run.reconcile(pbx)`` settling from the call reports the UNKNOWN jobs whose call was
   placed. The others stay UNKNOWN: the killed worker had claimed them and was holding
   them for the run's rate, so they were never sent, but nothing can prove it (at most
   its ``concurrency`` jobs; a graceful stop, SIGTERM, gives them back to the queue);
5. the fake's count: every callee dialled at most once, one token request in all.

On a real deployment the workers run ``tel4vn worker --redis URL`` (or ``run_worker``)
on other machines, and the producer is ``tel4vn bulk otp FILE.csv --redis URL`` or a
script calling ``submit``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from multiprocessing.process import BaseProcess

from tel4vn_async import AutocallClient, OtpJob
from tel4vn_async.testing import FakeTel4vn

try:
    from tel4vn_async.redis import RedisTokenStore, connect, run_worker, submit
except ImportError as missing:
    sys.exit(str(missing))

TOKEN_NAME = "autocall-example"


# --------------------------------------------------------------------------- Redis


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """``$REDIS_URL``, else a throw-away redis-server on a free port (stopped at the end)."""
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("set REDIS_URL=redis://HOST:PORT/DB, or install redis-server")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="tel4vn-example-") as folder:
        # The durability the claim ledger needs (docs/scaling.md): every answered write
        # is on disk before the answer.
        args = ["--port", str(port), "--bind", "127.0.0.1", "--dir", folder, "--save", ""]
        args += ["--appendonly", "yes", "--appendfsync", "always"]
        server = subprocess.Popen([binary, *args], stdout=subprocess.DEVNULL)  # noqa: S603
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                    break
                time.sleep(0.05)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            server.terminate()
            server.wait(10)


# --------------------------------------------------------------------------- a worker


def worker_main(base_url: str, api_key: str, redis_url: str) -> None:
    """One worker process: dial the jobs of every run until SIGTERM (graceful)."""

    async def work() -> None:
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        redis = connect(redis_url)
        try:
            store = RedisTokenStore(redis, TOKEN_NAME)  # one token for every worker
            async with AutocallClient(base_url, api_key=api_key, token_store=store) as pbx:
                await run_worker(pbx, redis, concurrency=20)
        finally:
            await redis.aclose()

    with contextlib.suppress(asyncio.CancelledError, KeyboardInterrupt):
        asyncio.run(work())


def start_workers(n: int, fake: FakeTel4vn, redis_url: str) -> list[BaseProcess]:
    ctx = multiprocessing.get_context("spawn")
    workers: list[BaseProcess] = [
        ctx.Process(target=worker_main, args=(fake.url, fake.api_key, redis_url), daemon=True)
        for _ in range(n)
    ]
    for worker in workers:
        worker.start()
    return workers


@contextlib.asynccontextmanager
async def running_workers(
    n: int, fake: FakeTel4vn, redis_url: str
) -> AsyncIterator[list[BaseProcess]]:
    workers = start_workers(n, fake, redis_url)
    try:
        yield workers
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.terminate()  # SIGTERM: calls in flight finish and are recorded
        for worker in workers:
            await asyncio.to_thread(worker.join, 15)
            if worker.is_alive():
                worker.kill()


# --------------------------------------------------------------------------- the producer


def otp_jobs(n: int) -> Iterator[OtpJob]:
    for i in range(n):
        yield OtpJob(
            callee=f"09{i:08d}",
            code=f"{(i * 7919) % 1_000_000:06d}",
            template="otp_demo",
            caller="0281234567",
            campaign_id="1",
        )


async def main_async(jobs: int, redis_url: str) -> int:
    async with FakeTel4vn(latency=0.05) as fake:
        redis = connect(redis_url)
        try:
            async with running_workers(2, fake, redis_url) as workers:
                run = await submit(redis, otp_jobs(jobs), rate=100)
                print(f"run {run.id}: {jobs} jobs submitted to 2 workers")
                killed = False
                async for status in run.follow(interval=0.5):
                    print(status)
                    if not killed and status.finished >= jobs // 2:
                        workers[0].kill()  # SIGKILL mid-run: no chance to record anything
                        killed = True
                        print("worker 1 killed (SIGKILL)")
                summary = await run.wait()
                print(summary)
            store = RedisTokenStore(redis, TOKEN_NAME)  # the workers' token: no new fetch
            async with AutocallClient(fake.url, api_key=fake.api_key, token_store=store) as pbx:
                settled = await run.reconcile(pbx)
            print(f"reconciled from the call reports: {settled} UNKNOWN job(s) found placed")
            print(await run.status())
        finally:
            await redis.aclose()
        twice = [callee for callee, n in fake.dials.items() if n > 1]
        print(f"the fake: {len(fake.dials)} callees dialled, {len(twice)} twice, "
              f"{fake.token_requests} token request(s)")  # fmt: skip
        return 1 if twice else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200, help="jobs in the run")
    args = parser.parse_args()
    with redis_server() as url:
        return asyncio.run(main_async(args.jobs, url))


if __name__ == "__main__":
    sys.exit(main())
