"""Memory and time of ``pbx.audio.upload(path)`` against a raw aiohttp multipart upload.

    .venv/bin/python benchmarks/bench_upload.py                  # 200 MB, 3 repeats
    .venv/bin/python benchmarks/bench_upload.py --size-mb 500 --repeats 5
    .venv/bin/python benchmarks/bench_upload.py --check          # exit 1 at >= 20 MB growth

Generates a file of ``--size-mb`` MB in a temporary directory (deleted afterwards) and
uploads it to a FakeTel4vn running in a child process (its handler streams each upload
through a digest and drops it, and the child's memory is not this process's), two ways:

- **raw**: ``aiohttp.FormData`` with the open file as the ``file`` field, a token fetched
  by hand, ``POST /v1/audio``;
- **SDK**: ``AutocallClient.audio.upload(path)``.

Runs are interleaved and the order flipped every repeat. The table gives the best and
median times, the SDK/raw time ratio, and the client process's memory growth per run:
the peak resident set size above the level before the run (sampled every 5 ms from
``/proc/self/statm``; Linux) and the peak of Python allocations (``tracemalloc``, in a
separate untimed pass). Not part of the test suite; no test asserts these numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
from _benchutil import Timing, fetch_raw_token, render_table, start_fake, timed

from tel4vn_async import AutocallClient

MB = 1024 * 1024
LIMIT_MB = 20.0
Upload = Callable[[], Awaitable[None]]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--size-mb", type=int, default=200, help="size of the generated file")
    parser.add_argument("--repeats", "-r", type=int, default=3, help="timed runs of each")
    parser.add_argument(
        "--check", action="store_true", help=f"exit 1 when the SDK's growth reaches {LIMIT_MB} MB"
    )
    args = parser.parse_args(argv)
    if args.size_mb < 1 or args.repeats < 1:
        parser.error("--size-mb and --repeats must be positive")
    return args


def make_file(directory: str, size_mb: int) -> Path:
    """A file of ``size_mb`` MiB of incompressible bytes, written 1 MiB at a time."""
    path = Path(directory) / "bench_audio.wav"
    block = os.urandom(MB)
    with open(path, "wb") as out:
        for _ in range(size_mb):
            out.write(block)
    return path


def rss() -> int:
    """This process's resident set size in bytes (0 where /proc is missing)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class RssPeak:
    """Samples the resident set size in a thread while a run lasts; reports peak growth."""

    def __init__(self, interval: float = 0.005) -> None:
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self.base = self.peak = 0

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss())
            time.sleep(self._interval)

    def __enter__(self) -> RssPeak:
        gc.collect()
        self.base = self.peak = rss()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss())

    @property
    def growth(self) -> int:
        return max(0, self.peak - self.base)


async def traced_peak(upload: Upload) -> int:
    """The most bytes Python allocated at once during one upload."""
    gc.collect()
    tracemalloc.start()
    try:
        await upload()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak


async def main(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="tel4vn-bench-") as directory:
        path = make_file(directory, args.size_mb)
        async with (
            start_fake("subprocess") as fake,
            aiohttp.ClientSession() as http,
            AutocallClient(fake.url, api_key=fake.api_key) as pbx,
        ):
            token = await fetch_raw_token(http, fake.url, fake.api_key)

            async def raw() -> None:
                with open(path, "rb") as file:  # noqa: ASYNC230 (as a user would)
                    form = aiohttp.FormData()
                    form.add_field("file", file, filename=path.name, content_type="audio/x-wav")
                    async with http.post(
                        fake.url + "/v1/audio",
                        data=form,
                        headers={"Authorization": f"Bearer {token}"},
                    ) as resp:
                        if resp.status != 200:
                            raise RuntimeError(f"raw upload answered {resp.status}")
                        await resp.json()

            async def sdk() -> None:
                await pbx.audio.upload(path)

            uploads: dict[str, Upload] = {"raw": raw, "sdk": sdk}
            await sdk()  # warm-up: the token, a pooled connection
            await raw()
            timings = {who: Timing() for who in uploads}
            growth = {who: 0 for who in uploads}
            for repeat in range(args.repeats):
                order = ("raw", "sdk") if repeat % 2 == 0 else ("sdk", "raw")
                for who in order:
                    with RssPeak() as peak:
                        await timed(timings[who], uploads[who])
                    growth[who] = max(growth[who], peak.growth)
            traced = {who: await traced_peak(upload) for who, upload in uploads.items()}

    seconds = {who: t.best for who, t in timings.items()}
    rows = [
        [
            who,
            f"{timings[who].best:.2f}",
            f"{timings[who].median:.2f}",
            f"{args.size_mb / timings[who].best:.0f}",
            f"{growth[who] / MB:.1f}",
            f"{traced[who] / MB:.2f}",
        ]
        for who in ("raw", "sdk")
    ]
    print(f"upload of {args.size_mb} MiB, best of {args.repeats}, fake in a child process")
    print(
        render_table(
            ["client", "best s", "median s", "MiB/s", "RSS growth MiB", "tracemalloc peak MiB"],
            rows,
        )
    )
    ratio = seconds["sdk"] / seconds["raw"]
    print(f"\nSDK/raw time ratio (best runs): {ratio:.2f}x")
    sdk_growth = max(growth["sdk"], traced["sdk"]) / MB
    verdict = "ok" if sdk_growth < LIMIT_MB else "TOO HIGH"
    print(f"SDK memory growth: {sdk_growth:.1f} MiB (limit {LIMIT_MB:g}): {verdict}")
    return 1 if args.check and sdk_growth >= LIMIT_MB else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
