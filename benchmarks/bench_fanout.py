"""Bulk fan-out: ``pbx.fan_out`` against raw aiohttp, on the lean server with 20 ms latency.

    .venv/bin/python benchmarks/bench_fanout.py              # 10,000 OTP jobs, C=200, 5 rounds
    .venv/bin/python benchmarks/bench_fanout.py --json       # the same, as JSON on stdout
    .venv/bin/python benchmarks/bench_fanout.py --million    # and 1,000,000 jobs' memory (long)

The server (``_lean_server.py --latency 20``) runs in a process of its own and answers
each ``POST /v1/autocall/otp`` 20 ms after it arrives, counting the dials per callee.
Each round runs, in a rotating order with ``gc.collect()`` before each:

- **raw**: one aiohttp session, a token fetched by hand, C workers taking jobs from one
  shared generator and POSTing each job's body (``await resp.json()``, status checked);
- **SDK**: ``await pbx.fan_out(jobs, concurrency=C, journal=<a new file>).run()`` on an
  ``AutocallClient`` given a session whose pool holds C connections, as raw has;
- **SDK, default pool**: the same on a client with its own session (aiohttp's default
  pool of 100 connections), as a user who passes no session gets it.

The report gives medians over rounds: wall time, its ratio to the ideal
``jobs x latency / C`` and (per round) to raw, client CPU per job, the server's CPU per
request, the most calls the server held in flight at once, the RSS growth during the run,
and the server's dial count (every callee exactly once, or the script exits 1). One more
SDK run under ``tracemalloc`` gives the Python heap's peak growth with the journal on
(target < 30 MB). ``--million`` streams 1,000,000 jobs from a generator through
``fan_out`` with the journal on, in a fresh process, and samples its memory over the run.
No test asserts a time; ``--check`` exits 1 on a missed target.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
from _benchutil import cpu_model, git_revision, render_table, start_lean_server, stop_server

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OTP_PATH = "/v1/autocall/otp"
CALLER, TEMPLATE, CAMPAIGN = "02873000000", "otp_demo", 1
MB = 1_000_000
TARGET_IDEAL, TARGET_MEMORY = 1.25, 30 * MB
NAMES = {"raw": "raw aiohttp", "sdk": "SDK fan_out", "sdk_default": "SDK, default pool"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--jobs", type=int, default=10_000, help="jobs per run")
    parser.add_argument("--concurrency", type=int, default=200, help="calls in flight")
    parser.add_argument("--latency", type=float, default=20.0, help="server ms per call")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of every contender")
    parser.add_argument("--no-default-pool", action="store_true", help="skip that contender")
    parser.add_argument("--million", action="store_true", help="and the 1,000,000-job run")
    parser.add_argument("--million-jobs", type=int, default=1_000_000, help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--worker-url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.jobs, args.concurrency, args.rounds, args.million_jobs) < 1:
        parser.error("--jobs, --concurrency and --rounds must be positive")
    return args


# --------------------------------------------------------------------------- the server


def start_server(latency_ms: float) -> tuple[subprocess.Popen[bytes], str]:
    """The lean server in a process of its own (one CDR: none is read here); its URL."""
    args = ["--cdrs", "1", "--by-id", "1", "--latency", f"{latency_ms:g}"]
    server, port = start_lean_server(args)
    return server, f"http://127.0.0.1:{port}"


async def control(http: aiohttp.ClientSession, url: str, what: str) -> dict[str, Any]:
    """``GET /_bench/stats`` or ``POST /_bench/reset``: never timed."""
    method = "GET" if what == "stats" else "POST"
    async with http.request(method, f"{url}/_bench/{what}") as resp:
        resp.raise_for_status()
        answer: dict[str, Any] = await resp.json()
        return answer


# --------------------------------------------------------------------------- the jobs


def otp_jobs(n: int) -> Iterator[Any]:
    """``n`` OTP jobs, each to its own callee, made one at a time as they are pulled."""
    from tel4vn_async.bulk import OtpJob

    for i in range(n):
        yield OtpJob(
            callee=f"09{i:08d}",
            code=f"{i % 1_000_000:06d}",
            template=TEMPLATE,
            caller=CALLER,
            campaign_id=CAMPAIGN,
        )


def sized_session(concurrency: int) -> aiohttp.ClientSession:
    """A session whose pool holds ``concurrency`` connections (aiohttp's default is 100)."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency))


async def raw_run(http: aiohttp.ClientSession, url: str, jobs: Iterator[Any], c: int) -> int:
    """The baseline: C workers POSTing each job's body by hand; returns the calls placed."""
    async with http.post(f"{url}/v1/auth/token", json={"api_key": "bench"}) as resp:
        resp.raise_for_status()
        token = (await resp.json())["data"]["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    placed = 0

    async def worker() -> None:
        nonlocal placed
        for job in jobs:  # one generator shared by every worker: each job taken once
            body = {
                "campaign_id": job.campaign_id,
                "caller": job.caller,
                "callee": job.callee,
                "param": {"template_name": job.template, "code_otp": job.code},
            }
            async with http.post(url + OTP_PATH, json=body, headers=headers) as resp:
                resp.raise_for_status()
                placed += bool((await resp.json())["call_id"])

    await asyncio.gather(*(worker() for _ in range(c)))
    return placed


async def sdk_run(pbx: Any, jobs: Iterator[Any], c: int, journal: Path) -> int:
    """``pbx.fan_out`` with a journal; returns the jobs it reports OK."""
    summary = await pbx.fan_out(jobs, concurrency=c, journal=journal).run()
    ok: int = summary.ok
    if summary.total != ok:
        raise RuntimeError(f"fan_out: {summary}")
    return ok


# --------------------------------------------------------------------------- memory


def rss_bytes() -> int:
    """This process's resident set size (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakSampler(threading.Thread):
    """The RSS every 10 ms on a thread, so a busy event loop cannot hide a peak."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = rss_bytes()
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(0.01):
            self.peak = max(self.peak, rss_bytes())

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        self.peak = max(self.peak, rss_bytes())
        return self.peak


# --------------------------------------------------------------------------- the rounds


async def measured(
    http: aiohttp.ClientSession, url: str, jobs: int, run: Callable[[], Awaitable[int]]
) -> dict[str, Any]:
    """One timed run: wall and CPU time, RSS growth, and the server's dial count."""
    await control(http, url, "reset")
    server_before = (await control(http, url, "stats"))["cpu_s"]
    gc.collect()
    rss_before = rss_bytes()
    sampler = PeakSampler()
    sampler.start()
    cpu, wall = time.process_time(), time.perf_counter()
    try:
        placed = await run()
    finally:
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        peak = sampler.stop()
    stats = await control(http, url, "stats")
    if placed != jobs or stats["dials"] != jobs or stats["dialled_twice"]:
        raise RuntimeError(f"{jobs} jobs: {placed} placed, server saw {stats}")
    return {
        "wall_s": wall,
        "cpu_us_per_job": cpu / jobs * 1e6,
        "server_cpu_us_per_req": (stats["cpu_s"] - server_before) / stats["requests"] * 1e6,
        "rss_growth": peak - rss_before,
        "dials": stats["dials"],
        "dialled_twice": stats["dialled_twice"],
        "in_flight_max": stats["in_flight_max"],
    }


@asynccontextmanager
async def contenders(
    url: str, concurrency: int, with_default: bool
) -> AsyncIterator[dict[str, Callable[[Iterator[Any], Path], Awaitable[int]]]]:
    """Each contender's ``run(jobs, journal)``, over sessions kept open for every round."""
    from tel4vn_async import AutocallClient

    async with sized_session(concurrency) as raw_http, sized_session(concurrency) as sdk_http:
        pbx = AutocallClient(url, api_key="bench", http_session=sdk_http, trust_env=False)
        plain = AutocallClient(url, api_key="bench", trust_env=False)
        async with pbx, plain:
            runs: dict[str, Callable[[Iterator[Any], Path], Awaitable[int]]] = {
                "raw": lambda jobs, _: raw_run(raw_http, url, jobs, concurrency),
                "sdk": lambda jobs, journal: sdk_run(pbx, jobs, concurrency, journal),
            }
            if with_default:
                runs["sdk_default"] = lambda jobs, j: sdk_run(plain, jobs, concurrency, j)
            yield runs


async def rounds(args: argparse.Namespace, url: str) -> dict[str, Any]:
    """Warm every contender up, then the timed rounds, then the tracemalloc pass."""
    runs: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="tel4vn-fanout-") as tmp:
        journals = (Path(tmp) / f"run-{i}.jsonl" for i in range(1_000_000))
        async with (
            aiohttp.ClientSession() as http,
            contenders(url, args.concurrency, not args.no_default_pool) as runners,
        ):
            names = list(runners)
            for run in runners.values():  # untimed: tokens, full pools, imports
                await run(otp_jobs(min(args.jobs, 2 * args.concurrency)), next(journals))
            for r in range(args.rounds):
                order = names[r % len(names) :] + names[: r % len(names)]
                for name in order:
                    journal = next(journals)
                    run = partial(runners[name], otp_jobs(args.jobs), journal)
                    result = await measured(http, url, args.jobs, run)
                    runs.setdefault(name, []).append(result)
                    journal.unlink(missing_ok=True)
                    print(f"round {r + 1} {name}: {result['wall_s']:.3f} s", file=sys.stderr)
            heap = {}
            for name in ("raw", "sdk"):  # the Python heap, with the journal on for the SDK
                gc.collect()
                tracemalloc.start()
                start = tracemalloc.get_traced_memory()[0]
                await runners[name](otp_jobs(args.jobs), next(journals))
                peak = tracemalloc.get_traced_memory()[1]
                gc.collect()
                retained = tracemalloc.get_traced_memory()[0]
                tracemalloc.stop()
                heap[name] = {"peak_growth": peak - start, "retained": retained - start}
    return {"runs": runs, "tracemalloc": heap}


# --------------------------------------------------------------------------- 1,000,000 jobs


async def million(url: str, n: int, concurrency: int) -> dict[str, Any]:
    """``n`` jobs from a generator through ``fan_out``, journal on; memory over the run.

    Run in a process of its own, after a warm-up run, so the RSS before is not a
    high-water mark left by the rounds, under which a leak could grow unseen. Every 5% of
    the jobs it reads the RSS and the count of live Python memory blocks.
    """
    from tel4vn_async import AutocallClient

    async with aiohttp.ClientSession() as http, sized_session(concurrency) as sdk_http:
        pbx = AutocallClient(url, api_key="bench", http_session=sdk_http, trust_env=False)
        async with pbx:
            with tempfile.TemporaryDirectory(prefix="tel4vn-fanout-") as tmp:
                await sdk_run(pbx, otp_jobs(5_000), concurrency, Path(tmp) / "warm.jsonl")
                await control(http, url, "reset")
                journal = Path(tmp) / "million.jsonl"
                gc.collect()
                rss_before, blocks_before = rss_bytes(), sys.getallocatedblocks()
                step, done, ok, series = max(1, n // 20), 0, 0, []
                sampler = PeakSampler()
                sampler.start()
                wall = time.perf_counter()
                async for result in pbx.fan_out(
                    otp_jobs(n), concurrency=concurrency, journal=journal
                ):
                    done += 1
                    ok += result.ok
                    if done % step == 0 or done == n:
                        point = {
                            "jobs": done,
                            "seconds": time.perf_counter() - wall,
                            "rss_growth": rss_bytes() - rss_before,
                            "blocks_growth": sys.getallocatedblocks() - blocks_before,
                        }
                        series.append(point)
                        print(
                            f"{done:,} jobs, {point['seconds']:.0f} s, RSS "
                            f"{point['rss_growth'] / MB:+.1f} MB",
                            file=sys.stderr,
                        )
                wall = time.perf_counter() - wall
                peak = sampler.stop()
                journal_bytes = journal.stat().st_size
        stats = await control(http, url, "stats")
    if ok != n or stats["dials"] != n or stats["dialled_twice"]:
        raise RuntimeError(f"{n} jobs: {ok} OK, server saw {stats}")
    return {
        "jobs": n,
        "concurrency": concurrency,
        "wall_s": wall,
        "rss_before": rss_before,
        "peak_growth": peak - rss_before,
        "series": series,
        "journal_bytes": journal_bytes,
        "dials": stats["dials"],
        "dialled_twice": stats["dialled_twice"],
        "in_flight_max": stats.get("in_flight_max"),
    }


def run_million(args: argparse.Namespace, url: str) -> dict[str, Any]:
    """The million-job run in a fresh process of its own."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker-url", url]
    cmd += ["--million-jobs", str(args.million_jobs), "--concurrency", str(args.concurrency)]
    done = subprocess.run(  # noqa: S603 - our own script, with this interpreter
        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, check=True, timeout=7200
    )
    result: dict[str, Any] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return result


# --------------------------------------------------------------------------- the report


def machine() -> dict[str, Any]:
    """What the figures depend on: the CPU, the software, the tree, the load."""
    import importlib.metadata

    from tel4vn_async import _codec

    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "aiohttp": importlib.metadata.version("aiohttp"),
        "sdk_codec": str(_codec.CODEC),
        "revision": git_revision(),
        "load_before": os.getloadavg(),
    }


def summarize(args: argparse.Namespace, measured_runs: dict[str, Any]) -> dict[str, Any]:
    """Medians over rounds; each ratio to raw is the median of per-round ratios."""
    ideal = args.jobs * args.latency / 1000 / args.concurrency
    runs = measured_runs["runs"]
    table = {}
    for name, results in runs.items():
        wall = statistics.median(r["wall_s"] for r in results)
        per_round = [
            r["wall_s"] / raw["wall_s"] for r, raw in zip(results, runs["raw"], strict=True)
        ]
        table[name] = {
            "wall_s": wall,
            "x_ideal": wall / ideal,
            "x_raw": statistics.median(per_round),
            "jobs_per_s": args.jobs / wall,
            "cpu_us_per_job": statistics.median(r["cpu_us_per_job"] for r in results),
            "server_cpu_us_per_req": statistics.median(r["server_cpu_us_per_req"] for r in results),
            "rss_growth_max": max(r["rss_growth"] for r in results),
            "in_flight_max": statistics.median(r["in_flight_max"] for r in results),
            "dialled_once": all(
                r["dials"] == args.jobs and not r["dialled_twice"] for r in results
            ),
        }
    return {"ideal_s": ideal, "medians": table}


def render(report: dict[str, Any]) -> str:
    s, cfg = report["summary"], report["config"]
    head = (
        f"{cfg['jobs']:,} OTP jobs, concurrency {cfg['concurrency']}, server latency "
        f"{cfg['latency_ms']:g} ms: ideal {s['ideal_s']:.3f} s; medians of "
        f"{cfg['rounds']} rounds"
    )
    header = ["contender", "wall s", "x ideal", "x raw", "jobs/s", "CPU us/job"]
    header += ["server us/req", "in flight", "RSS growth MB", "every callee once"]
    rows = [
        [
            NAMES[name],
            f"{m['wall_s']:.3f}",
            f"{m['x_ideal']:.2f}x",
            f"{m['x_raw']:.2f}x",
            f"{m['jobs_per_s']:,.0f}",
            f"{m['cpu_us_per_job']:.0f}",
            f"{m['server_cpu_us_per_req']:.0f}",
            f"{m['in_flight_max']:.0f}",
            f"{m['rss_growth_max'] / MB:.1f}",
            "yes" if m["dialled_once"] else "NO",
        ]
        for name, m in s["medians"].items()
    ]
    heap = report["tracemalloc"]
    heap_rows = [
        [NAMES[n], f"{h['peak_growth'] / MB:.1f}", f"{h['retained'] / MB:.2f}"]
        for n, h in heap.items()
    ]
    parts = [head, render_table(header, rows), "", "tracemalloc, one run each (SDK: journal on):"]
    parts.append(render_table(["contender", "peak growth MB", "retained MB"], heap_rows))
    mil = report.get("million")
    if mil:
        parts += ["", f"{mil['jobs']:,} jobs from a generator, journal on, C={mil['concurrency']}:"]
        marks = {mil["jobs"] // 10, mil["jobs"] // 2, mil["jobs"]}
        mil_rows = [
            [
                f"{p['jobs']:,}",
                f"{p['seconds']:.0f}",
                f"{p['rss_growth'] / MB:.1f}",
                f"{p['blocks_growth']:,}",
            ]
            for p in mil["series"]
            if p["jobs"] in marks
        ]
        parts.append(render_table(["jobs done", "s", "RSS growth MB", "live blocks +"], mil_rows))
        parts.append(
            f"peak RSS growth {mil['peak_growth'] / MB:.1f} MB, {mil['wall_s']:.0f} s "
            f"({mil['jobs'] / mil['wall_s']:,.0f} jobs/s), journal "
            f"{mil['journal_bytes'] / MB:,.0f} MB, dials {mil['dials']:,}, "
            f"dialled twice {mil['dialled_twice']}"
        )
    return "\n".join(parts)


def misses(report: dict[str, Any]) -> list[str]:
    """The targets missed (issue 8), each with by how much."""
    sdk, out = report["summary"]["medians"]["sdk"], []
    if sdk["x_ideal"] > TARGET_IDEAL:
        out.append(f"SDK wall {sdk['x_ideal']:.2f}x ideal > {TARGET_IDEAL}x")
    growth = max(sdk["rss_growth_max"], report["tracemalloc"]["sdk"]["peak_growth"])
    if growth >= TARGET_MEMORY:
        out.append(f"SDK memory growth {growth / MB:.1f} MB >= {TARGET_MEMORY / MB:.0f} MB")
    mil = report.get("million")
    if mil and mil["peak_growth"] >= TARGET_MEMORY:
        out.append(f"million: RSS growth {mil['peak_growth'] / MB:.1f} MB")
    return out


async def main_async(args: argparse.Namespace) -> int:
    if args.worker_url:
        result = await million(args.worker_url, args.million_jobs, args.concurrency)
        print(json.dumps(result), flush=True)
        return 0
    report: dict[str, Any] = {
        "machine": machine(),
        "command": args.command,
        "config": {
            "jobs": args.jobs,
            "concurrency": args.concurrency,
            "latency_ms": args.latency,
            "rounds": args.rounds,
        },
    }
    server, url = start_server(args.latency)
    try:
        measured_runs = await rounds(args, url)
        report["summary"] = summarize(args, measured_runs)
        report["rounds"] = measured_runs["runs"]
        report["tracemalloc"] = measured_runs["tracemalloc"]
        if args.million:
            print(f"{args.million_jobs:,} jobs in a fresh process...", file=sys.stderr)
            report["million"] = await asyncio.to_thread(run_million, args, url)
    finally:
        stop_server(server)
    report["machine"]["load_after"] = os.getloadavg()
    report["misses"] = misses(report)
    print(json.dumps(report, indent=2) if args.json else render(report))
    if not args.json:
        for miss in report["misses"]:
            print(f"target missed: {miss}")
    return 1 if args.check and report["misses"] else 0


def main(argv: list[str] | None = None) -> int:
    # Only 127.0.0.1 is used: a proxy in the environment must not see these requests.
    for key in [k for k in os.environ if k.lower().endswith("_proxy")]:
        del os.environ[key]
    args = parse_args(argv)
    args.command = shlex.join([os.path.relpath(sys.executable), *sys.argv])
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
