"""What the benchmarks share: the fake server (here or in a child process), the raw
aiohttp baseline, the worker pool and the statistics.

Not a benchmark itself; the ``bench_*.py`` scripts next to it import it.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import platform
import select
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Literal, Protocol

import aiohttp

from tel4vn_async.testing import FakeTel4vn

_ROOT = Path(__file__).resolve().parent.parent

__all__ = [
    "CALLS_PATH",
    "TOKEN_PATH",
    "FakeHandle",
    "Timing",
    "fetch_raw_token",
    "raw_get_json",
    "render_table",
    "run_pool",
    "start_fake",
    "timed",
]

CALLS_PATH = "/v2/call"
TOKEN_PATH = "/v2/auth/token"
ServerMode = Literal["inprocess", "subprocess"]


# --------------------------------------------------------------------------- the fake server


class FakeHandle(Protocol):
    """A running FakeTel4vn, wherever it runs."""

    url: str
    api_key: str

    async def clear_log(self) -> int:
        """Empty the fake's request log; return how many token requests it held."""


class _LocalFake:
    """The fake in this process and event loop: its work is timed with the client's."""

    def __init__(self, fake: FakeTel4vn) -> None:
        self._fake = fake
        self.url = fake.url
        self.api_key = fake.api_key

    async def clear_log(self) -> int:
        # The log grows by one entry per request; emptied between runs, it cannot slow
        # later runs (a bigger heap makes every full GC pass longer).
        tokens = self._fake.token_requests
        self._fake.requests.clear()
        return tokens


class _RemoteFake:
    """The fake in a child process: only the client's work runs in this process."""

    def __init__(self, conn: Connection, url: str, api_key: str) -> None:
        self._conn = conn
        self.url = url
        self.api_key = api_key

    async def _ask(self, command: str) -> int:
        self._conn.send(command)
        answer: int = await asyncio.to_thread(self._conn.recv)
        return answer

    async def clear_log(self) -> int:
        return await self._ask("clear")

    async def stop(self) -> None:
        await self._ask("stop")


def _serve_in_child(conn: Connection) -> None:
    asyncio.run(_serve(conn))


async def _serve(conn: Connection) -> None:
    async with FakeTel4vn() as fake:
        conn.send((fake.url, fake.api_key))
        while True:
            try:
                command = await asyncio.to_thread(conn.recv)
            except EOFError:  # the parent closed its end without a "stop": it failed
                return
            conn.send(fake.token_requests)
            fake.requests.clear()
            if command == "stop":
                return


@asynccontextmanager
async def start_fake(mode: ServerMode = "inprocess") -> AsyncIterator[FakeHandle]:
    """Start one FakeTel4vn on 127.0.0.1, in this process or in a child process."""
    if mode == "inprocess":
        async with FakeTel4vn() as fake:
            yield _LocalFake(fake)
        return
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    process = ctx.Process(target=_serve_in_child, args=(child,), daemon=True)
    process.start()
    try:
        url, api_key = await asyncio.to_thread(parent.recv)
        remote = _RemoteFake(parent, url, api_key)
        yield remote
        await remote.stop()
    finally:
        parent.close()
        await asyncio.to_thread(process.join, 5)
        if process.is_alive():
            process.kill()


# --------------------------------------------------------------------------- the raw baseline


async def fetch_raw_token(http: aiohttp.ClientSession, base_url: str, api_key: str) -> str:
    """A bearer token fetched by hand, as a user without the SDK would."""
    async with http.post(base_url + TOKEN_PATH, json={"api_key": api_key}) as resp:
        resp.raise_for_status()
        body: dict[str, Any] = await resp.json()
    token: str = body["data"]["token"]
    return token


async def raw_get_json(http: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> Any:
    """One GET the hand-written way: status checked, JSON decoded."""
    async with http.get(url, headers=headers) as resp:
        if resp.status != 200:
            raise RuntimeError(f"raw GET answered {resp.status}")
        return await resp.json()


# --------------------------------------------------------------------------- running, timing


async def run_pool(op: Callable[[], Awaitable[object]], n: int, concurrency: int) -> None:
    """Await ``op()`` ``n`` times, with at most ``concurrency`` in flight (fixed workers)."""
    if concurrency <= 1:
        for _ in range(n):
            await op()
        return
    tickets = iter(range(n))

    async def worker() -> None:
        # The workers share one iterator: each takes the next ticket until none are left.
        for _ in tickets:
            await op()

    await asyncio.gather(*(worker() for _ in range(min(concurrency, n))))


class Timing:
    """Wall-clock and CPU seconds of repeated runs of one scenario."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []

    @property
    def best(self) -> float:
        return min(self.wall)

    @property
    def median(self) -> float:
        return statistics.median(self.wall)

    @property
    def best_cpu(self) -> float:
        return min(self.cpu)


async def timed(timing: Timing, run: Callable[[], Awaitable[None]]) -> None:
    """Run ``run()`` once and add its wall-clock and process CPU time to ``timing``."""
    wall, cpu = time.perf_counter(), time.process_time()
    await run()
    timing.cpu.append(time.process_time() - cpu)
    timing.wall.append(time.perf_counter() - wall)


def render_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table, first column left-aligned and the rest right-aligned."""
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        first, *rest = cells
        return "  ".join(
            [first.ljust(widths[0]), *(c.rjust(w) for c, w in zip(rest, widths[1:], strict=True))]
        )

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


LEAN_SERVER = Path(__file__).resolve().parent / "_lean_server.py"


def start_lean_server(
    args: Sequence[str], env: Mapping[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    """``_lean_server.py`` with ``args`` in a process of its own; its port once it serves."""
    server = subprocess.Popen(  # noqa: S603 - our own script, with this interpreter
        [sys.executable, str(LEAN_SERVER), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=None if env is None else dict(env),
    )
    try:
        assert server.stdout is not None
        ready, _, _ = select.select([server.stdout], [], [], 120)
        line = server.stdout.readline() if ready else b""
        if not line:
            raise RuntimeError("the lean server did not start (see its errors above)")
        port = int(json.loads(line)["port"])
    except BaseException:
        stop_server(server)
        raise
    return server, port


def stop_server(server: subprocess.Popen[bytes]) -> None:
    """Close its stdin (it stops on EOF), then SIGTERM, then SIGKILL: it never outlives us."""
    try:
        if server.stdin is not None:
            server.stdin.close()
        server.wait(5)
    except (OSError, subprocess.TimeoutExpired):
        server.terminate()
        try:
            server.wait(5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    finally:
        if server.stdout is not None:
            server.stdout.close()


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_revision() -> str:
    """The checkout's short revision, and whether tel4vn_async/ has uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
            cwd=_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "tel4vn_async"],  # noqa: S607
            cwd=_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head} + uncommitted changes in tel4vn_async/" if dirty else head
