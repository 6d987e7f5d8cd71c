"""Throughput of the SDK's request path against a hand-written aiohttp loop.

Starts one FakeTel4vn on 127.0.0.1 and times N ``GET /v2/call`` requests, sequentially
and with C concurrent workers, two ways: raw aiohttp (a bearer token fetched by hand,
``await resp.json()``) and ``CallCenterClient.request("GET", "/v2/call")``. Each
measurement is repeated, raw and SDK interleaved; the table gives requests/s and the
SDK/raw time ratio. A last, untimed pass traces the concurrent runs' memory.

    .venv/bin/python benchmarks/bench_requests.py [--requests N] [--concurrency C]

``--check`` exits 1 when a best-of SDK/raw time ratio exceeds ``--max-ratio``: for
people and CI that opt in. Tests never assert wall-clock times.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import tracemalloc
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Literal

import aiohttp
from _benchutil import (
    CALLS_PATH,
    FakeHandle,
    Timing,
    fetch_raw_token,
    raw_get_json,
    render_table,
    run_pool,
    start_fake,
    timed,
)

from tel4vn_async import CallCenterClient

Who = Literal["raw", "sdk"]
Op = Callable[[], Awaitable[object]]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--requests", "-n", type=int, default=2000, help="requests per run")
    parser.add_argument("--concurrency", "-c", type=int, default=50, help="concurrent workers")
    parser.add_argument("--repeats", "-r", type=int, default=5, help="runs per measurement")
    parser.add_argument("--warmup", type=int, default=200, help="untimed requests first")
    parser.add_argument(
        "--server",
        choices=("inprocess", "subprocess"),
        default="inprocess",
        help="run the fake in this process (default) or in a child process, which leaves "
        "only the client's work in the timed process",
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc pass")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 when a SDK/raw ratio exceeds --max-ratio"
    )
    parser.add_argument("--max-ratio", type=float, default=2.0, help="target for --check")
    args = parser.parse_args(argv)
    if args.requests < 1 or args.concurrency < 1 or args.repeats < 1 or args.warmup < 0:
        parser.error(
            "--requests, --concurrency and --repeats must be positive, --warmup not negative"
        )
    return args


async def trace_memory(op: Op, n: int, concurrency: int) -> tuple[int, int]:
    """Peak and retained (after a full collection) bytes allocated by one run."""
    gc.collect()
    tracemalloc.start()
    try:
        await run_pool(op, n, concurrency)
        _, peak = tracemalloc.get_traced_memory()
        gc.collect()
        retained, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, retained


async def measure(fake: FakeHandle, args: argparse.Namespace) -> int:
    n, conc = args.requests, args.concurrency
    scenarios = [("sequential", 1), (f"concurrent ({conc})", conc)]
    timings = {(label, who): Timing() for label, _ in scenarios for who in ("raw", "sdk")}
    memory: dict[Who, tuple[int, int]] = {}
    async with (
        aiohttp.ClientSession() as http,
        CallCenterClient(fake.url, api_key=fake.api_key) as client,
    ):
        headers = {"Authorization": f"Bearer {await fetch_raw_token(http, fake.url, fake.api_key)}"}
        url = fake.url + CALLS_PATH

        async def raw_op() -> object:
            return await raw_get_json(http, url, headers)

        async def sdk_op() -> object:
            return await client.request("GET", CALLS_PATH)

        ops: dict[Who, Op] = {"raw": raw_op, "sdk": sdk_op}
        # Warm-up: the SDK's token, both connection pools, and the interpreter's caches.
        for op in ops.values():
            await run_pool(op, args.warmup, conc)
        token_requests = await fake.clear_log()

        for rep in range(args.repeats):
            for label, workers in scenarios:
                # Alternate who goes first, so drift (heat, other load) hits both alike.
                order: list[Who] = ["raw", "sdk"] if rep % 2 == 0 else ["sdk", "raw"]
                for who in order:
                    gc.collect()
                    await timed(timings[label, who], partial(run_pool, ops[who], n, workers))
                    token_requests += await fake.clear_log()

        if not args.no_memory:
            for who in ("raw", "sdk"):
                memory[who] = await trace_memory(ops[who], n, conc)
                token_requests += await fake.clear_log()

    report(args, scenarios, timings, memory)
    ok = True
    # One token for the raw loop and one for the SDK client, for the whole run.
    print(f"\ntoken requests: {token_requests} (expected 2: one raw, one SDK)")
    if token_requests != 2:
        print(f"FAIL: {token_requests} token requests, expected exactly 2")
        ok = False
    if args.check:
        for label, _ in scenarios:
            ratio = timings[label, "sdk"].best / timings[label, "raw"].best
            if ratio > args.max_ratio:
                print(f"FAIL: {label}: SDK/raw time ratio {ratio:.2f} > {args.max_ratio:.2f}")
                ok = False
        if ok:
            print(f"check passed: every SDK/raw time ratio <= {args.max_ratio:.2f}")
    return 0 if ok else 1


def report(
    args: argparse.Namespace,
    scenarios: list[tuple[str, int]],
    timings: dict[tuple[str, str], Timing],
    memory: dict[Who, tuple[int, int]],
) -> None:
    n = args.requests
    where = "this process" if args.server == "inprocess" else "a child process"
    print(
        f"GET {CALLS_PATH} x {n}, FakeTel4vn in {where}, best and median of {args.repeats} "
        f"interleaved runs (Python {sys.version.split()[0]}, aiohttp {aiohttp.__version__})\n"
    )
    rows = []
    for label, _ in scenarios:
        raw, sdk = timings[label, "raw"], timings[label, "sdk"]
        rows.append(
            [
                label,
                f"{n / raw.best:,.0f}",
                f"{n / sdk.best:,.0f}",
                f"{sdk.best / raw.best:.2f}x",
                f"{sdk.median / raw.median:.2f}x",
                f"{raw.best_cpu / n * 1e6:,.0f}",
                f"{sdk.best_cpu / n * 1e6:,.0f}",
            ]
        )
    header = [
        "scenario",
        "raw req/s",
        "SDK req/s",
        "SDK/raw best",
        "SDK/raw median",
        "raw CPU us/req",
        "SDK CPU us/req",
    ]
    print(render_table(header, rows))
    if args.server == "inprocess":
        print("(CPU time includes the in-process fake server's share.)")
    if memory:
        print(f"\ntracemalloc, one concurrent run of {n} requests ({args.concurrency} workers):")
        mem_rows = [
            [who, f"{peak / 1024:,.0f}", f"{retained / 1024:,.0f}"]
            for who, (peak, retained) in memory.items()
        ]
        print(render_table(["client", "peak growth KiB", "retained KiB"], mem_rows))
        if args.server == "inprocess":
            print("(includes the in-process fake's request log; --server subprocess excludes it)")


async def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    async with start_fake(args.server) as fake:
        return await measure(fake, args)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
