"""Streaming a million CDRs through ``cc.cdrs.list()`` against a raw aiohttp loop.

    .venv/bin/python benchmarks/bench_cdr_scroll.py             # 1,000,000 CDRs, pages of 1,000
    .venv/bin/python benchmarks/bench_cdr_scroll.py -n 200000 --page-size 500 --style scroll_id
    .venv/bin/python benchmarks/bench_cdr_scroll.py --check     # exit 1 on > 20 MB growth
    .venv/bin/python benchmarks/bench_cdr_scroll.py --tracemalloc   # and Python-level peak

A FakeTel4vn in a child process serves N generated CDRs (made from their index on demand,
so the server holds none of them) in the chosen scroll style. In this process, in the
same run and interleaved:

- **raw**: one aiohttp session, a token fetched by hand, then ``GET /v2/cdr?limit=&offset=``
  (or ``scroll_id=``) until an empty batch or ``total``, reading each record's id from the
  decoded JSON: the least a hand-written loop does (no models, no retries, no prefetch).
- **SDK**: ``async for cdr in cc.cdrs.list(page_size=...)``: each record structured into a
  ``Cdr`` (both mappings, quirks and all), the scroll cursor, retries, error mapping, and
  the next page requested while the current one is converted.

Both runs check that every CDR arrives exactly once and in order, in constant memory (the
fake's ids carry their index). Memory is this process's resident set (``/proc/self/statm``)
sampled every 50 ms during each run: the growth is the highest sample minus the value just
before the run. The SDK's must stay under 20 MB (``--max-growth``) however many records
stream through. Not part of the test suite: tests never time anything.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import multiprocessing
import os
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from typing import Any

import aiohttp
from _benchutil import fetch_raw_token, render_table

from tel4vn_async import CallCenterClient
from tel4vn_async.testing import FakeTel4vn

MB = 1024 * 1024


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="stream CDRs: the SDK against raw aiohttp")
    parser.add_argument("-n", "--cdrs", type=int, default=1_000_000, help="CDRs to stream")
    parser.add_argument("--page-size", type=int, default=1_000, help="records per request")
    parser.add_argument("-r", "--repeats", type=int, default=2, help="runs of each client")
    parser.add_argument(
        "--style", choices=("offset", "echo", "scroll_id"), default="offset", help="scroll style"
    )
    parser.add_argument("--mapping", choices=("default", "flex"), default="default")
    parser.add_argument("--max-growth", type=float, default=20.0, help="MB allowed (--check)")
    parser.add_argument("--check", action="store_true", help="exit 1 above --max-growth")
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="add an untimed SDK pass under tracemalloc (peak and retained Python memory)",
    )
    return parser.parse_args(argv)


# --------------------------------------------------------------------------- the server


def _serve_in_child(conn: Connection, n: int, style: str, mapping: str) -> None:
    asyncio.run(_serve(conn, n, style, mapping))


async def _serve(conn: Connection, n: int, style: Any, mapping: Any) -> None:
    async with FakeTel4vn(keep_requests=16) as fake:
        fake.seed_cdrs(n, mapping=mapping)
        fake.cdr_scroll_style = style
        conn.send((fake.url, fake.api_key))
        await asyncio.to_thread(conn.recv)  # "stop", or EOF when the parent goes away


# --------------------------------------------------------------------------- memory


def rss() -> int:
    """This process's resident set size, in bytes."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def sample_peak(stop: asyncio.Event, peak: list[int]) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], rss())
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.05)


# --------------------------------------------------------------------------- the two clients


class InOrder:
    """Checks that CDR ``i`` (the fake's ids carry their index) arrives i-th: each exactly
    once, in constant memory."""

    def __init__(self) -> None:
        self.count = 0

    def add(self, cdr_id: str) -> None:
        if int(cdr_id[:8], 16) != self.count:
            raise RuntimeError(f"CDR {cdr_id!r} arrived as number {self.count}")
        self.count += 1


async def raw_scroll(url: str, api_key: str, page_size: int) -> InOrder:
    seen = InOrder()
    async with aiohttp.ClientSession() as http:
        headers = {"Authorization": f"Bearer {await fetch_raw_token(http, url, api_key)}"}
        params: dict[str, str] = {"limit": str(page_size)}
        offset = 0
        while True:
            async with http.get(url + "/v2/cdr", params=params, headers=headers) as resp:
                if resp.status != 200:
                    raise RuntimeError(f"raw GET answered {resp.status}")
                body = await resp.json()
            batch = body["data"]
            if not batch:
                break
            for record in batch:
                seen.add((record.get("id") or record.get("cdrId")).strip())
            if body.get("scroll_id"):
                params["scroll_id"] = body["scroll_id"]
                continue
            offset += len(batch)
            if body.get("total") is not None and offset >= body["total"]:
                break
            params["offset"] = str(offset)
    return seen


async def sdk_scroll(url: str, api_key: str, page_size: int) -> InOrder:
    seen = InOrder()
    async with CallCenterClient(url, api_key=api_key) as cc:
        async for cdr in cc.cdrs.list(page_size=page_size):
            seen.add(cdr.id or "")
    return seen


async def measure(run: Callable[[], Awaitable[InOrder]], n: int) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds and RSS growth (bytes) of one run, checked for exactly-once."""
    gc.collect()
    stop, peak = asyncio.Event(), [0]
    before = rss()
    sampler = asyncio.create_task(sample_peak(stop, peak))
    wall, cpu = time.perf_counter(), time.process_time()
    seen = await run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    count = seen.count
    stop.set()
    await sampler
    if count != n:
        raise RuntimeError(f"expected {n} distinct CDRs, got {count}")
    return wall, cpu, max(0, peak[0] - before)


async def traced(url: str, api_key: str, page_size: int) -> tuple[int, int]:
    """Peak and retained growth of Python allocations over one SDK pass, in bytes."""
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    await sdk_scroll(url, api_key, page_size)
    gc.collect()
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak - base, current - base


async def main(args: argparse.Namespace) -> int:
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    process = ctx.Process(
        target=_serve_in_child, args=(child, args.cdrs, args.style, args.mapping), daemon=True
    )
    process.start()
    try:
        url, api_key = await asyncio.to_thread(parent.recv)
        results: dict[str, list[tuple[float, float, int]]] = {"raw": [], "sdk": []}
        for repeat in range(args.repeats):
            order = ("raw", "sdk") if repeat % 2 == 0 else ("sdk", "raw")
            for who in order:
                scroll = raw_scroll if who == "raw" else sdk_scroll
                result = await measure(
                    lambda s=scroll: s(url, api_key, args.page_size),  # type: ignore[misc]
                    args.cdrs,
                )
                results[who].append(result)
                print(f"  run {repeat + 1} {who}: {result[0]:.2f} s", file=sys.stderr)
        trace = await traced(url, api_key, args.page_size) if args.tracemalloc else None
        parent.send("stop")
    finally:
        parent.close()
        await asyncio.to_thread(process.join, 5)
        if process.is_alive():
            process.kill()

    raw_best = min(r[0] for r in results["raw"])
    sdk_best = min(r[0] for r in results["sdk"])
    rows = []
    for who in ("raw", "sdk"):
        best = min(results[who])
        rows.append(
            [
                who,
                f"{best[0]:.2f}",
                f"{args.cdrs / best[0]:,.0f}",
                f"{best[1] / args.cdrs * 1e6:.1f}",
                f"{max(r[2] for r in results[who]) / MB:.1f}",
            ]
        )
    print(
        f"{args.cdrs:,} CDRs, pages of {args.page_size}, scroll style {args.style}, "
        f"{args.mapping} mapping, best of {args.repeats}"
    )
    print(render_table(["client", "seconds", "CDRs/s", "CPU us/CDR", "RSS growth MB"], rows))
    if trace is not None:
        print(
            f"tracemalloc, SDK: peak growth {trace[0] / MB:.1f} MB, retained {trace[1] / MB:.2f} MB"
        )
    growth = max(r[2] for r in results["sdk"]) / MB
    print(f"SDK/raw time ratio: {sdk_best / raw_best:.2f}x; SDK memory growth {growth:.1f} MB")
    if args.check and growth > args.max_growth:
        print(f"FAIL: memory growth {growth:.1f} MB > {args.max_growth} MB", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
