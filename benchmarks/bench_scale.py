"""Scaling out: the distributed fan-out's throughput with 1, 2 and 4 worker processes.

    .venv/bin/python benchmarks/bench_scale.py                  # 3,000 jobs, 3 rounds
    .venv/bin/python benchmarks/bench_scale.py --jobs 5000 --rounds 5 --workers 1,2,4,8
    .venv/bin/python benchmarks/bench_scale.py --appendfsync everysec --json

What runs, each in a process of its own:

- the lean server (``_lean_server.py --latency 20``): each ``POST /v1/autocall/otp`` is
  answered 20 ms after it arrives, and every callee's dials are counted;
- a ``redis-server`` in a temporary folder with ``appendonly yes`` and ``appendfsync
  always`` by default: the durability the claim ledger asks for (docs/scaling.md);
- K workers, each ``tel4vn worker --redis URL --concurrency C``: the command users run;
- this script, the producer: ``submit(redis, jobs)`` from a generator, then the run
  followed until every job has its result.

Each round measures every K (1, 2, 4), in an order that rotates from round to round. A
measurement starts from an empty Redis and K fresh workers, runs an untimed warm-up run
(the workers' token, connections and imports), then times a run of ``--jobs`` jobs from
the first enqueue to the last result. Per measurement: jobs per second, the workers'
CPU time per job (all K together, from ``/proc``), Redis's and the producer's, and the
server's dial count (every callee exactly once, or the script exits 1). The report gives
medians over rounds, never best runs; the scaling factor of K workers is the median of
the per-round ratios of its throughput to one worker's in the same round. The ceiling is
``K x C / latency`` (calls in flight over the time each takes).

Writes ``benchmarks/SCALE_RESULTS.md`` (``--results PATH`` elsewhere) with the machine,
the load average and the command. No test asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import platform
import select
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
from _benchutil import cpu_model, git_revision, render_table, start_lean_server, stop_server

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CALLER, TEMPLATE, CAMPAIGN = "02873000000", "otp_demo", 1
TICKS = os.sysconf("SC_CLK_TCK")
API_KEY = "bench-key"
_PROCESSES = ("worker", "redis", "producer", "server")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--jobs", type=int, default=3000, help="jobs per timed run")
    parser.add_argument("--workers", default="1,2,4", help="worker counts, comma-separated")
    parser.add_argument("--concurrency", type=int, default=50, help="calls in flight a worker")
    parser.add_argument("--latency", type=float, default=20.0, help="server ms per call")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every worker count")
    parser.add_argument("--warmup", type=int, default=200, help="jobs of a warm-up, per worker")
    parser.add_argument(
        "--appendfsync", choices=("always", "everysec", "no", "off"), default="always",
        help="Redis's AOF fsync policy ('off': no AOF at all)",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument(
        "--results", type=Path, default=HERE / "SCALE_RESULTS.md", help="the report to write"
    )
    args = parser.parse_args(argv)
    try:
        args.worker_counts = [int(k) for k in args.workers.split(",")]
    except ValueError:
        parser.error("--workers: whole numbers separated by commas, such as 1,2,4")
    if min(args.jobs, args.concurrency, args.rounds, *args.worker_counts) < 1:
        parser.error("--jobs, --concurrency, --rounds and --workers must be positive")
    return args


# --------------------------------------------------------------------------- processes


def cpu_seconds(pid: int) -> float:
    """A process's user + system CPU time so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def redis_server(appendfsync: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A redis-server of our own in a temporary folder; its URL. Stopped at the end."""
    binary = os.environ.get("REDIS_SERVER") or shutil.which("redis-server")
    if binary is None:
        sys.exit("bench_scale needs redis-server (Debian: apt-get install redis-server)")
    with tempfile.TemporaryDirectory(prefix="tel4vn-bench-redis-") as folder:
        port = free_port()
        args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", folder]
        args += ["--save", "", "--daemonize", "no", "--maxmemory-policy", "noeviction"]
        if appendfsync == "off":
            args += ["--appendonly", "no"]
        else:
            args += ["--appendonly", "yes", "--appendfsync", appendfsync]
        server = subprocess.Popen(args, stdout=subprocess.DEVNULL)  # noqa: S603 - our binary
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
                        conn.sendall(b"PING\r\n")
                        if conn.recv(16).startswith(b"+PONG"):
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("redis-server did not start")
                time.sleep(0.05)
            yield server, f"redis://127.0.0.1:{port}/0"
        finally:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def child_env() -> dict[str, str]:
    """This environment without proxies (127.0.0.1 only) or TEL4VN settings."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.lower().endswith("_proxy") and not k.startswith("TEL4VN_")
    }


def start_workers(k: int, api_url: str, redis_url: str, concurrency: int) -> list[Any]:
    """K ``tel4vn worker`` processes, returned once each has said it is ready."""
    cmd = [sys.executable, "-m", "tel4vn_async", "--base-url", api_url, "--api-key", API_KEY]
    cmd += ["worker", "--redis", redis_url, "--concurrency", str(concurrency)]
    options: dict[str, Any] = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL}
    options |= {"stderr": subprocess.PIPE, "env": child_env(), "cwd": ROOT}
    workers = [subprocess.Popen(cmd, **options) for _ in range(k)]  # noqa: S603 - ours
    try:
        for worker in workers:
            assert worker.stderr is not None
            line = b""
            deadline = time.monotonic() + 60
            while b"worker ready" not in line:
                ready, _, _ = select.select([worker.stderr], [], [], 1)
                if ready:
                    line = worker.stderr.readline()
                    if not line:
                        raise RuntimeError("a worker exited before it was ready")
                if time.monotonic() > deadline:
                    raise RuntimeError("a worker did not start within 60 s")
    except BaseException:
        stop_workers(workers)
        raise
    return workers


def stop_workers(workers: list[Any]) -> None:
    """SIGTERM (a graceful stop), then SIGKILL for any that lingers."""
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        if worker.stderr is not None:
            worker.stderr.close()


# --------------------------------------------------------------------------- one measurement


def otp_jobs(n: int, prefix: str) -> Iterator[Any]:
    from tel4vn_async.bulk import OtpJob

    for i in range(n):
        yield OtpJob(
            callee=f"{prefix}{i:08d}",
            code=f"{i % 1_000_000:06d}",
            template=TEMPLATE,
            caller=CALLER,
            campaign_id=CAMPAIGN,
        )


async def control(http: aiohttp.ClientSession, url: str, what: str) -> dict[str, Any]:
    method = "GET" if what == "stats" else "POST"
    async with http.request(method, f"{url}/_bench/{what}") as resp:
        resp.raise_for_status()
        answer: dict[str, Any] = await resp.json()
        return answer


async def one_run(redis: Any, n: int, prefix: str) -> tuple[float, float, Any]:
    """Submit ``n`` jobs and follow the run to its end: (seconds to submit, seconds in all,
    summary)."""
    from tel4vn_async.redis import submit

    start = time.perf_counter()
    run = await submit(redis, otp_jobs(n, prefix))
    submitted = time.perf_counter() - start
    async for _ in run.follow(interval=0.02):
        pass
    wall = time.perf_counter() - start
    return submitted, wall, await run.wait()


async def measure(
    args: argparse.Namespace, k: int, api_url: str, redis_url: str, redis_pid: int
) -> dict[str, Any]:
    """K fresh workers on an empty Redis: a warm-up run, then the timed run."""
    from tel4vn_async.redis import connect

    redis = connect(redis_url)
    try:
        await redis.flushall()
        workers = await asyncio.to_thread(start_workers, k, api_url, redis_url, args.concurrency)
        try:
            await one_run(redis, args.warmup * k, "08")  # untimed: tokens, pools, imports
            async with aiohttp.ClientSession() as http:
                await control(http, api_url, "reset")
                server_cpu = (await control(http, api_url, "stats"))["cpu_s"]
                gc.collect()
                cpu = [cpu_seconds(w.pid) for w in workers]
                redis_cpu, own_cpu = cpu_seconds(redis_pid), time.process_time()
                submitted, wall, summary = await one_run(redis, args.jobs, "09")
                own_cpu = time.process_time() - own_cpu
                redis_cpu = cpu_seconds(redis_pid) - redis_cpu
                cpu = [cpu_seconds(w.pid) - c for w, c in zip(workers, cpu, strict=True)]
                stats = await control(http, api_url, "stats")
        finally:
            await asyncio.to_thread(stop_workers, workers)
    finally:
        await redis.aclose()
    n = args.jobs
    if summary.ok != n or stats["dials"] != n or stats["dialled_twice"]:
        raise RuntimeError(f"{k} worker(s), {n} jobs: {summary}; the server saw {stats}")
    per_job = 1e6 / n
    return {
        "workers": k,
        "wall_s": wall,
        "submit_s": submitted,
        "jobs_per_s": n / wall,
        "worker_cpu_us_per_job": sum(cpu) * per_job,
        "worker_cpu_share": [c / wall for c in cpu],
        "redis_cpu_us_per_job": redis_cpu * per_job,
        "producer_cpu_us_per_job": own_cpu * per_job,
        "server_cpu_us_per_job": (stats["cpu_s"] - server_cpu) * per_job,
        "in_flight_max": stats["in_flight_max"],
        "dials": stats["dials"],
        "dialled_twice": stats["dialled_twice"],
        "token_requests": stats["token_requests"],
    }


# --------------------------------------------------------------------------- the report


def machine() -> dict[str, Any]:
    import importlib.metadata

    def run(*argv: str) -> str:
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)  # noqa: S603
        return done.stdout.strip()

    server = shutil.which("redis-server") or "redis-server"
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "aiohttp": importlib.metadata.version("aiohttp"),
        "redis-py": importlib.metadata.version("redis"),
        "arq": importlib.metadata.version("arq"),
        "redis-server": run(server, "--version").split(" sha=")[0],
        "revision": git_revision(),
        "load_before": os.getloadavg(),
    }


def summarize(args: argparse.Namespace, runs: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Medians per worker count; the scaling factor is a median of per-round ratios."""
    by_k: dict[int, list[dict[str, Any]]] = {}
    for run in runs:
        by_k.setdefault(run["workers"], []).append(run)
    base = by_k.get(1) or by_k[min(by_k)]
    table = {}
    for k, results in sorted(by_k.items()):
        ratios = [r["jobs_per_s"] / b["jobs_per_s"] for r, b in zip(results, base, strict=True)]
        ceiling = k * args.concurrency / (args.latency / 1000)
        throughput = statistics.median(r["jobs_per_s"] for r in results)
        table[k] = {
            "jobs_per_s": throughput,
            "wall_s": statistics.median(r["wall_s"] for r in results),
            "submit_s": statistics.median(r["submit_s"] for r in results),
            "scaling": statistics.median(ratios),
            "per_worker": statistics.median(ratios) / k,
            "of_ceiling": throughput / ceiling,
            "worker_cpu_us_per_job": statistics.median(r["worker_cpu_us_per_job"] for r in results),
            "redis_cpu_us_per_job": statistics.median(r["redis_cpu_us_per_job"] for r in results),
            "producer_cpu_us_per_job": statistics.median(
                r["producer_cpu_us_per_job"] for r in results
            ),
            "server_cpu_us_per_job": statistics.median(r["server_cpu_us_per_job"] for r in results),
            "in_flight_max": statistics.median(r["in_flight_max"] for r in results),
            # Every process's CPU per job times the jobs per second: the cores the run kept
            # busy. Near the cores the machine can give, adding workers cannot help.
            "cores_busy": statistics.median(
                r["jobs_per_s"] * sum(r[f"{who}_cpu_us_per_job"] for who in _PROCESSES) / 1e6
                for r in results
            ),
            "dialled_once": all(
                r["dials"] == args.jobs and not r["dialled_twice"] for r in results
            ),
        }
    return table


def render(report: dict[str, Any]) -> str:
    cfg, table = report["config"], report["medians"]
    header = ["workers", "jobs/s", "scaling", "per worker", "of ceiling", "wall s", "submit s"]
    header += ["worker CPU us/job", "redis us/job", "producer us/job", "server us/job"]
    header += ["cores busy", "in flight", "every callee once"]
    rows = [
        [
            str(k),
            f"{m['jobs_per_s']:,.0f}",
            f"{m['scaling']:.2f}x",
            f"{m['per_worker']:.2f}",
            f"{m['of_ceiling']:.0%}",
            f"{m['wall_s']:.2f}",
            f"{m['submit_s']:.2f}",
            f"{m['worker_cpu_us_per_job']:.0f}",
            f"{m['redis_cpu_us_per_job']:.0f}",
            f"{m['producer_cpu_us_per_job']:.0f}",
            f"{m['server_cpu_us_per_job']:.0f}",
            f"{m['cores_busy']:.2f}",
            f"{m['in_flight_max']:.0f}",
            "yes" if m["dialled_once"] else "NO",
        ]
        for k, m in table.items()
    ]
    head = (
        f"{cfg['jobs']:,} OTP jobs a run, {cfg['concurrency']} calls in flight per worker, "
        f"server latency {cfg['latency_ms']:g} ms, Redis appendfsync {cfg['appendfsync']}; "
        f"medians of {cfg['rounds']} rounds"
    )
    per_round = [
        [str(r["round"]), str(r["workers"]), f"{r['jobs_per_s']:,.0f}", f"{r['wall_s']:.2f}",
         f"{r['worker_cpu_us_per_job']:.0f}"]
        for r in report["runs"]
    ]  # fmt: skip
    return "\n".join(
        [
            head,
            render_table(header, rows),
            "",
            "every measurement, in the order run:",
            render_table(["round", "workers", "jobs/s", "wall s", "worker CPU us/job"], per_round),
        ]
    )


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    load = ", ".join(f"{x:.2f}" for x in m["load_before"])
    after = ", ".join(f"{x:.2f}" for x in m["load_after"])
    lines = [
        "# Scaling out: `bench_scale.py`",
        "",
        "Throughput of the distributed fan-out (`tel4vn worker` processes, a claim ledger in",
        "Redis) with 1, 2 and 4 workers against the lean server at 20 ms per call. Written by",
        "`benchmarks/bench_scale.py`; see its docstring for what runs where. Medians over",
        "rounds, never best runs.",
        "",
        f"- command: `{report['command']}`",
        f"- machine: {m['cpu']}, {m['cores']} cores, {m['os']}, Python {m['python']}",
        f"- software: aiohttp {m['aiohttp']}, redis-py {m['redis-py']}, arq {m['arq']}, "
        f"{m['redis-server']}; tel4vn_async {m['revision']}",
        f"- load average (1, 5, 15 min): {load} before, {after} after",
        "",
        "```",
        render(report),
        "```",
        "",
    ]
    lines += report.get("notes", [])
    return "\n".join(lines) + "\n"


def notes(report: dict[str, Any]) -> list[str]:
    """What a reader must know to read the figures."""
    cores = report["machine"]["cores"] or 1
    table = report["medians"]
    out = [
        "Read with care:",
        "",
        f"- This machine has {cores} cores, shared by the lean server, Redis, the producer "
        "and every worker (and by anything else running: see the load "
        "average). Workers beyond the cores compete for the same CPU, so the scaling factor "
        "here is a floor, not what separate machines would give.",
        "- The ceiling is K x C / latency: the calls in flight over the time each takes. A "
        "run far below it is bound by CPU or by Redis, not by the server's latency.",
        "- Cores busy: every process's CPU per job (workers, Redis, producer, server) times "
        "the jobs per second. When it stays flat as workers are added, the machine's CPU is "
        "the limit; on separate machines each worker brings its own core, and the shared "
        "limit becomes Redis (its CPU per job, and with appendfsync always its disk flushes).",
    ]
    if 1 in table:
        one = table[1]
        out.append(
            f"- One worker spends {one['worker_cpu_us_per_job']:.0f} us of CPU per job, Redis "
            f"{one['redis_cpu_us_per_job']:.0f} us: one core gives at most about "
            f"{1e6 / one['worker_cpu_us_per_job']:,.0f} jobs/s per worker."
        )
    return out


async def main_async(args: argparse.Namespace) -> int:
    report: dict[str, Any] = {
        "machine": machine(),
        "command": args.command,
        "config": {
            "jobs": args.jobs,
            "concurrency": args.concurrency,
            "latency_ms": args.latency,
            "rounds": args.rounds,
            "workers": args.worker_counts,
            "appendfsync": args.appendfsync,
        },
    }
    server, port = start_lean_server(
        ["--cdrs", "1", "--by-id", "1", "--latency", f"{args.latency:g}"], env=child_env()
    )
    api_url = f"http://127.0.0.1:{port}"
    runs: list[dict[str, Any]] = []
    try:
        with redis_server(args.appendfsync) as (redis_process, redis_url):
            counts = args.worker_counts
            for r in range(args.rounds):
                order = counts[r % len(counts) :] + counts[: r % len(counts)]
                for k in order:
                    result = await measure(args, k, api_url, redis_url, redis_process.pid)
                    result["round"] = r + 1
                    runs.append(result)
                    print(
                        f"round {r + 1}, {k} worker(s): {result['jobs_per_s']:,.0f} jobs/s "
                        f"({result['wall_s']:.2f} s)",
                        file=sys.stderr,
                    )
    finally:
        stop_server(server)
    report["machine"]["load_after"] = os.getloadavg()
    report["runs"] = runs
    report["medians"] = summarize(args, runs)
    report["notes"] = notes(report)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print(render(report))
    args.results.write_text(markdown(report))
    print(f"written: {args.results}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    for key in [k for k in os.environ if k.lower().endswith("_proxy")]:
        del os.environ[key]
    args = parse_args(argv)
    args.command = shlex.join([os.path.relpath(sys.executable), *sys.argv])
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
