"""Single-flight token fetching under a burst, and what the burst costs against raw aiohttp.

K concurrent ``GET /v2/call`` on a fresh ``CallCenterClient`` must cause exactly one token
request (``fake.token_requests``); so must K concurrent requests after
``fake.revoke_tokens()``, which all meet a 401. The fresh-client burst is timed against
a raw aiohttp burst of the same size: a new session, one token fetched by hand, then
K concurrent GETs. Exits 1 when any SDK burst made other than one token request.

    .venv/bin/python benchmarks/bench_token_refresh.py [--burst K] [--repeats R]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
from collections.abc import Awaitable, Callable
from functools import partial

import aiohttp
from _benchutil import (
    CALLS_PATH,
    Timing,
    fetch_raw_token,
    raw_get_json,
    render_table,
    timed,
)

from tel4vn_async import CallCenterClient
from tel4vn_async.testing import FakeTel4vn


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--burst", "-k", type=int, default=200, help="concurrent requests")
    parser.add_argument("--repeats", "-r", type=int, default=15, help="bursts per measurement")
    args = parser.parse_args(argv)
    if args.burst < 1 or args.repeats < 1:
        parser.error("--burst and --repeats must be positive")
    return args


async def timed_tokens(
    fake: FakeTel4vn, timing: Timing, burst: Callable[[], Awaitable[None]]
) -> int:
    """Time ``burst()`` into ``timing``; return how many token requests it caused."""
    before = fake.token_requests
    await timed(timing, burst)
    return fake.token_requests - before


async def raw_burst(fake: FakeTel4vn, k: int, timing: Timing) -> int:
    """A new aiohttp session, one token fetched by hand, then ``k`` concurrent GETs."""
    async with aiohttp.ClientSession() as http:
        # Timed from the session's first use to the last answer, as the SDK burst is;
        # closing the session is left out of both.
        async def burst() -> None:
            token = await fetch_raw_token(http, fake.url, fake.api_key)
            headers = {"Authorization": f"Bearer {token}"}
            url = fake.url + CALLS_PATH
            await asyncio.gather(*(raw_get_json(http, url, headers) for _ in range(k)))

        return await timed_tokens(fake, timing, burst)


async def sdk_fresh_burst(fake: FakeTel4vn, k: int, timing: Timing) -> int:
    """``k`` concurrent requests on a client that has no token and no connection yet."""
    async with CallCenterClient(fake.url, api_key=fake.api_key) as client:
        return await timed_tokens(fake, timing, partial(gather_requests, client, k))


async def sdk_revoked_burst(fake: FakeTel4vn, k: int, timing: Timing) -> int:
    """``k`` concurrent requests on a warm client whose token the server just revoked."""
    async with CallCenterClient(fake.url, api_key=fake.api_key) as client:
        await gather_requests(client, k)  # token and connection pool in hand
        fake.revoke_tokens()
        return await timed_tokens(fake, timing, partial(gather_requests, client, k))


async def gather_requests(client: CallCenterClient, k: int) -> None:
    await asyncio.gather(*(client.request("GET", CALLS_PATH) for _ in range(k)))


Burst = Callable[[FakeTel4vn, int, Timing], Awaitable[int]]


async def run(args: argparse.Namespace) -> int:
    k = args.burst
    scenarios: dict[str, Burst] = {
        "raw: new session, token, K GETs": raw_burst,
        "SDK: fresh client": sdk_fresh_burst,
        "SDK: token revoked (K x 401)": sdk_revoked_burst,
    }
    timings = {label: Timing() for label in scenarios}
    tokens: dict[str, list[int]] = {label: [] for label in scenarios}
    async with FakeTel4vn() as fake:
        for burst in scenarios.values():  # warm-up: imports, caches
            await burst(fake, k, Timing())
        for rep in range(args.repeats):
            labels = list(scenarios) if rep % 2 == 0 else list(reversed(scenarios))
            for label in labels:
                # The fake logs every request; emptied, its log cannot slow later bursts.
                fake.requests.clear()
                gc.collect()
                tokens[label].append(await scenarios[label](fake, k, timings[label]))

    raw = timings["raw: new session, token, K GETs"]
    rows = []
    for label, timing in timings.items():
        ratio = "-" if timing is raw or "revoked" in label else f"{timing.best / raw.best:.2f}x"
        counts = tokens[label]
        rows.append(
            [
                label,
                f"{min(counts)}..{max(counts)}" if min(counts) != max(counts) else str(counts[0]),
                f"{timing.best * 1000:.1f}",
                f"{timing.median * 1000:.1f}",
                ratio,
            ]
        )
    print(
        f"{k} concurrent GET {CALLS_PATH}, FakeTel4vn in this process, "
        f"best and median of {args.repeats} bursts\n"
    )
    print(
        render_table(
            ["burst", "token requests", "best ms", "median ms", "SDK/raw best"],
            rows,
        )
    )
    bad = {label: c for label, c in tokens.items() if label.startswith("SDK") and set(c) != {1}}
    if bad:
        for label, counts in bad.items():
            print(f"FAIL: {label}: token requests per burst {counts}, expected 1")
        return 1
    print(f"\nsingle flight holds: every SDK burst of {k} made exactly one token request")
    return 0


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
