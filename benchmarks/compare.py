"""The SDK against raw aiohttp, hand-typed aiohttp and httpx, on a lean server: one command.

    .venv/bin/python benchmarks/compare.py             # default sizes: a few minutes
    .venv/bin/python benchmarks/compare.py --quick     # a short run: under a minute
    .venv/bin/python benchmarks/compare.py --million   # and 1,000,000 CDRs' memory growth

Measures, in a client process of its own for each JSON mode:

(a) ``cc.cdrs.get(id)``: N requests by C workers (default 2000 and 50);
(b) ``async for cdr in cc.cdrs.list(page_size=500)`` over 20,000 CDRs, typed ``Cdr``s;

each against raw aiohttp building dicts, raw aiohttp building a hand-written attrs class
per CDR, and httpx building dicts. Rounds alternate the contenders (the order rotated each
round), with ``gc.collect()`` before every run; the report gives medians of the per-round
SDK/baseline ratios and the client process's CPU time per request or record. Then: 10,000
concurrent requests on a client with no token yet, and on one whose token has expired,
must each cause exactly one token request (the server counts them); with ``--million``,
streaming 1,000,000 CDRs in a fresh process must grow its RSS by less than 20 MB.

The SDK is measured twice when orjson is installed: as installed (it picks orjson up by
itself) and with orjson hidden (``TEL4VN_NO_ORJSON=1`` and ``sys.modules["orjson"] =
None`` before the SDK is imported). The baselines use the standard json module both times.

The server (``_lean_server.py``) runs in its own process on 127.0.0.1 with pre-rendered
answers, and is always stopped at the end. The results overwrite ``benchmarks/RESULTS.md``
(``--results`` to write elsewhere). ``--check`` exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import importlib.util
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _benchutil import cpu_model, git_revision, start_lean_server, stop_server

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "RESULTS.md"
# What follows this line in RESULTS.md belongs to other benchmarks (bench_scale.py's
# figures): a run of compare.py rewrites what comes before it and keeps the rest.
KEEP_MARKER = "<!-- other benchmarks: kept by compare.py -->"


def kept_sections(path: Path) -> str:
    """The part of the report at ``path`` that compare.py keeps (from the marker on)."""
    try:
        old = path.read_text()
    except FileNotFoundError:
        return ""
    at = old.find(KEEP_MARKER)
    return "" if at < 0 else "\n" + old[at:]


STDLIB, ORJSON = "stdlib json", "orjson"
NAMES = {
    "raw": "raw aiohttp (dicts)",
    "typed": "raw aiohttp + attrs",
    "httpx": "httpx (dicts)",
    "sdk": "SDK",
}
BASELINES = ("raw", "typed", "httpx")
# Targets: SDK/raw aiohttp (dicts) time ratios, by JSON mode.
TARGET_GET = {STDLIB: 1.15, ORJSON: 1.00}
TARGET_SCROLL = {STDLIB: 1.20, ORJSON: 1.00}
TARGET_CPU_PER_CDR_US = 10.0
TARGET_MILLION_MB = 20.0
MB = 1_000_000


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="the SDK against raw aiohttp, raw aiohttp + attrs and httpx"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a short run: 3 rounds, N=500, the expired-token burst only",
    )
    parser.add_argument("--rounds", "-r", type=int, help="rounds (default 7, quick 3)")
    parser.add_argument(
        "--requests", "-n", type=int, help="cdrs.get requests per run (default 2000, quick 500)"
    )
    parser.add_argument("--concurrency", "-c", type=int, default=50, help="workers for cdrs.get")
    parser.add_argument("--cdrs", type=int, default=20_000, help="CDRs per scroll")
    parser.add_argument("--page-size", type=int, default=500, help="CDRs per page")
    parser.add_argument(
        "--burst", type=int, default=10_000, help="concurrent requests of the token check (0: skip)"
    )
    parser.add_argument(
        "--million", action="store_true", help="also stream --million-cdrs CDRs (memory growth)"
    )
    parser.add_argument("--million-cdrs", type=int, default=1_000_000, help=argparse.SUPPRESS)
    parser.add_argument(
        "--json",
        choices=("both", "orjson", "stdlib"),
        default="both",
        help="which JSON modes to run the SDK in (default both; orjson only when installed)",
    )
    parser.add_argument("--results", type=Path, default=RESULTS, help="the Markdown report")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rounds is None:
        args.rounds = 3 if args.quick else 7
    if args.requests is None:
        args.requests = 500 if args.quick else 2000
    if min(args.rounds, args.requests, args.concurrency, args.cdrs, args.page_size) < 1:
        parser.error("--rounds, --requests, --concurrency, --cdrs, --page-size must be positive")
    if args.burst < 0 or args.million_cdrs < 1:
        parser.error("--burst must not be negative")
    return args


# --------------------------------------------------------------------------- processes


def child_env(*, hide_orjson: bool) -> dict[str, str]:
    """This environment without proxies (only 127.0.0.1 is used), orjson hidden or not."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.pop("TEL4VN_NO_ORJSON", None)
    if hide_orjson:
        env["TEL4VN_NO_ORJSON"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def start_server(args: argparse.Namespace) -> tuple[subprocess.Popen[bytes], int]:
    """The lean server in a process of its own; its port once it serves."""
    return start_lean_server(
        ["--cdrs", str(args.cdrs), "--page-size", str(args.page_size)],
        env=child_env(hide_orjson=False),
    )


def check_alive(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is not None:
        raise RuntimeError("the lean server exited during the run")


def run_worker(cfg: dict[str, Any], *, hide_orjson: bool) -> dict[str, Any]:
    """One client process: every round of every contender, in one JSON mode."""
    with tempfile.TemporaryDirectory(prefix="tel4vn-compare-") as tmp:
        out = Path(tmp) / "results.json"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker"]
        cmd += ["--config", json.dumps(cfg), "--out", str(out)]
        subprocess.run(  # noqa: S603 - our own script, with this interpreter
            cmd,
            env=child_env(hide_orjson=hide_orjson),
            stdin=subprocess.DEVNULL,
            check=True,
            timeout=1800,
        )
        results: dict[str, Any] = json.loads(out.read_text())
    return results


def worker(args: argparse.Namespace) -> int:
    """``--worker``: hide orjson first when asked, then import the SDK and measure."""
    if os.environ.get("TEL4VN_NO_ORJSON") == "1":
        sys.modules["orjson"] = None  # type: ignore[assignment]
    from _compare_clients import worker_main

    return worker_main(json.loads(args.config), args.out)


# --------------------------------------------------------------------------- the machine


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def command_line() -> str:
    exe = Path(sys.executable)
    with_venv = exe.absolute()
    try:
        shown = str(with_venv.relative_to(Path.cwd()))
    except ValueError:
        shown = str(with_venv)
    return shlex.join([shown, *sys.argv])


# --------------------------------------------------------------------------- statistics


def med(values: Sequence[float]) -> float:
    return statistics.median(values)


def ratios(runs: dict[str, list[dict[str, float]]], a: str, b: str, key: str) -> list[float]:
    """Per-round ``a``/``b`` ratios of ``key`` (runs of one round sit at the same index)."""
    return [x[key] / y[key] for x, y in zip(runs[a], runs[b], strict=True)]


def verdict_ratio(value: float, target: float, *, strict: bool = False) -> str:
    ok = value < target if strict else value <= target
    if ok:
        return "met"
    over = value - target
    return f"**missed** by {over:+.2f}x ({over / target:.0%} over)"


def verdict_cpu(value: float, target: float) -> str:
    if value <= target:
        return "met"
    over = value - target
    return f"**missed** by {over:+.1f} µs ({over / target:.0%} over)"


class Report:
    """Turns the workers' results into tables, the targets' verdicts and RESULTS.md."""

    def __init__(
        self,
        args: argparse.Namespace,
        modes: dict[str, dict[str, Any]],
        load: tuple[tuple[float, float, float], tuple[float, float, float]],
    ) -> None:
        self.args = args
        self.modes = modes
        self.load = load
        self.missed: list[str] = []
        self.ratio_rows = self._ratio_rows()
        self.target_rows = self._target_rows()

    def scenario_label(self, scenario: str) -> str:
        if scenario == "get":
            return f"cdrs.get, C={self.args.concurrency}"
        return f"scroll {self.args.cdrs:,} CDRs"

    def items(self, mode: str, scenario: str) -> int:
        if scenario == "get":
            return int(self.args.requests)
        return int(self.modes[mode]["scroll_total"])

    def _ratio_rows(self) -> list[list[str]]:
        rows = []
        for scenario in ("get", "scroll"):
            targets = TARGET_GET if scenario == "get" else TARGET_SCROLL
            for mode, res in self.modes.items():
                runs = res[scenario]
                vs = {b: med(ratios(runs, "sdk", b, "wall")) for b in BASELINES}
                cpu_vs_raw = med(ratios(runs, "sdk", "raw", "cpu"))
                target = targets[mode]
                verdict = verdict_ratio(vs["raw"], target)
                httpx_verdict = verdict_ratio(vs["httpx"], 1.0, strict=True)
                self.note(verdict, f"{self.scenario_label(scenario)} ({mode}): SDK/raw")
                self.note(httpx_verdict, f"{self.scenario_label(scenario)} ({mode}): SDK/httpx")
                rows.append(
                    [
                        self.scenario_label(scenario),
                        mode,
                        f"{vs['raw']:.2f}x",
                        f"≤ {target:.2f}x: {verdict}",
                        f"{vs['typed']:.2f}x",
                        f"{vs['httpx']:.2f}x",
                        f"< 1.00x: {httpx_verdict}",
                        f"{cpu_vs_raw:.2f}x",
                    ]
                )
        return rows

    def note(self, verdict: str, what: str) -> None:
        if verdict != "met":
            self.missed.append(f"{what}: {verdict}")

    def contender_rows(self) -> list[list[str]]:
        rows = []
        for scenario in ("get", "scroll"):
            for mode, res in self.modes.items():
                n = self.items(mode, scenario)
                for name in ("raw", "typed", "httpx", "sdk"):
                    runs = res[scenario][name]
                    if name != "sdk" and mode != next(iter(self.modes)):
                        label = f"{NAMES[name]} (again)"
                    else:
                        label = NAMES[name]
                    wall = med([r["wall"] for r in runs])
                    cpu = med([r["cpu"] / n * 1e6 for r in runs])
                    server = med([r["server_cpu"] / max(1, r["server_requests"]) for r in runs])
                    rows.append(
                        [
                            self.scenario_label(scenario),
                            mode,
                            label,
                            f"{wall * 1000:,.0f}",
                            f"{n / wall:,.0f}",
                            f"{cpu:,.1f}",
                            f"{server * 1e6:,.0f}",
                        ]
                    )
        return rows

    def _target_rows(self) -> list[list[str]]:
        rows = []
        for mode, res in self.modes.items():
            n = self.items(mode, "scroll")
            cpu = med([r["cpu"] / n * 1e6 for r in res["scroll"]["sdk"]])
            verdict = verdict_cpu(cpu, TARGET_CPU_PER_CDR_US)
            self.note(verdict, f"SDK CPU per CDR ({mode})")
            wanted = f"≤ {TARGET_CPU_PER_CDR_US:.0f} µs"
            rows.append([f"SDK CPU per CDR, scroll ({mode})", wanted, f"{cpu:.1f} µs", verdict])
        for mode, res in self.modes.items():
            for label, burst in res.get("tokens", {}).items():
                count = burst["token_requests"]
                verdict = "met" if count == 1 else f"**missed**: {count} token requests"
                self.note(verdict, f"token requests, {label} ({mode})")
                rows.append(
                    [
                        f"token requests: {burst['burst']:,} concurrent, {label} ({mode})",
                        "exactly 1",
                        f"{count} ({burst['seconds']:.2f} s for the burst)",
                        verdict,
                    ]
                )
        if self.args.burst == 0:
            rows.append(
                ["token requests at expiry", "exactly 1", "not measured (`--burst 0`)", "-"]
            )
        for mode, res in self.modes.items():
            mil = res.get("million")
            if mil is None:
                continue
            growth = mil["peak_growth"] / MB
            if growth < TARGET_MILLION_MB:
                verdict = "met"
            else:
                verdict = f"**missed** by {growth - TARGET_MILLION_MB:.1f} MB"
            self.note(verdict, f"memory growth over {mil['cdrs']:,} CDRs ({mode})")
            rows.append(
                [
                    f"RSS growth streaming {mil['cdrs']:,} CDRs ({mode})",
                    f"< {TARGET_MILLION_MB:.0f} MB",
                    f"{growth:.1f} MB peak growth; RSS after minus before "
                    f"{mil['retained_growth'] / MB:+.1f} MB ({mil['wall']:.1f} s, "
                    f"{mil['cpu'] / mil['cdrs'] * 1e6:.1f} µs CPU/CDR)",
                    verdict,
                ]
            )
        for mode in (STDLIB, ORJSON):
            if mode not in self.modes:
                rows.append(
                    [
                        f"the SDK/raw targets {mode_phrase(mode)}",
                        "see above",
                        f"not measured: {NOT_RUN[mode]}",
                        "-",
                    ]
                )
        if not self.args.million:
            rows.append(
                [
                    f"RSS growth streaming {self.args.million_cdrs:,} CDRs",
                    f"< {TARGET_MILLION_MB:.0f} MB",
                    "not measured (opt-in: `--million`)",
                    "-",
                ]
            )
        return rows

    def per_round(self) -> list[str]:
        lines = []
        for scenario in ("get", "scroll"):
            for mode, res in self.modes.items():
                for b in BASELINES:
                    values = ", ".join(f"{v:.2f}" for v in ratios(res[scenario], "sdk", b, "wall"))
                    lines.append(f"- {self.scenario_label(scenario)}, {mode}, SDK/{b}: {values}")
        return lines

    def machine(self) -> list[tuple[str, str]]:
        orjson_version = _version("orjson")
        # httpcore 1.0 tries `import sniffio` on every request; without it (anyio 4.10+ no
        # longer brings it) each of those is a failed import: httpx several times slower.
        sniffio = _version("sniffio") or "MISSING: httpx figures inflated"
        (b1, b5, _), (a1, a5, _) = self.load
        used = []
        for mode, res in self.modes.items():
            loaded = "yes" if res["sdk_loaded_orjson"] else "no"
            codec = res.get("sdk_codec")
            used.append(f"{mode} mode: {loaded}" + (f" (SDK codec: {codec})" if codec else ""))
        return [
            ("CPU", f"{cpu_model()}, {os.cpu_count()} cores"),
            ("OS", platform.platform()),
            ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
            ("aiohttp", _version("aiohttp") or "?"),
            ("orjson", orjson_version or "not installed"),
            ("SDK imported orjson", "; ".join(used)),
            ("httpx", f"{_version('httpx')} (httpcore {_version('httpcore')}, sniffio {sniffio})"),
            ("attrs / cattrs", f"{_version('attrs')} / {_version('cattrs')}"),
            ("tel4vn_async", f"{_version('tel4vn_async') or '?'} at {git_revision()}"),
            ("load average (1 / 5 min)", f"{b1:.2f} / {b5:.2f} before, {a1:.2f} / {a5:.2f} after"),
        ]


NOT_RUN = {
    STDLIB: "`--json orjson` ran the orjson mode only",
    ORJSON: "orjson is not installed, or `--json stdlib`",
}


def mode_phrase(mode: str) -> str:
    return "without orjson" if mode == STDLIB else "with orjson"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(out)


RATIO_HEADER = [
    "scenario",
    "SDK JSON",
    "SDK/raw",
    "SDK/raw target",
    "SDK/raw+attrs",
    "SDK/httpx",
    "SDK/httpx target",
    "CPU SDK/raw",
]
TARGET_HEADER = ["target", "wanted", "measured", "verdict"]
CONTENDER_HEADER = [
    "scenario",
    "SDK JSON",
    "client",
    "median ms",
    "items/s",
    "client CPU µs/item",
    "server CPU µs/request",
]


def render(report: Report, started: dt.datetime, seconds: float) -> str:
    args = report.args
    lines = [
        "# compare.py results",
        "",
        "Written by `benchmarks/compare.py`; every run overwrites this file. See "
        "`benchmarks/README.md` for what is measured and how.",
        "",
        f"Run {started:%Y-%m-%d %H:%M} UTC, {seconds:.0f} s.",
        "",
        "```sh",
        command_line(),
        "```",
        "",
        "## Machine",
        "",
        markdown_table(["", ""], [[k, v] for k, v in report.machine()]),
        "",
        "## Settings",
        "",
        f"- rounds: {args.rounds} (contenders alternate; the order rotates every round; "
        "`gc.collect()` before each run)",
        f"- cdrs.get: {args.requests:,} requests per run, {args.concurrency} workers",
        f"- scroll: {args.cdrs:,} CDRs in pages of {args.page_size}, every CDR built and "
        "handed to the loop",
        "- server: `_lean_server.py` in its own process on 127.0.0.1, pre-rendered answers",
        "- each JSON mode runs in a client process of its own; the token bursts run once, "
        "in the last mode; the million-CDR stream (`--million`) in a fresh process of its "
        "own, in the last mode, after one warm-up scroll",
        "- every figure is a median over the rounds; a ratio is the median of the per-round "
        "ratios (SDK time / baseline time in the same round). Never a best run.",
        "",
        "## SDK time against each baseline (medians of per-round ratios)",
        "",
        markdown_table(RATIO_HEADER, report.ratio_rows),
        "",
        "`CPU SDK/raw` is the same ratio for the client process's CPU time (steadier on a "
        "busy machine: the wall time also holds the server's and the scheduler's share).",
        "",
        "## Targets",
        "",
        markdown_table(TARGET_HEADER, report.target_rows),
        "",
        "Why the missed targets are missed (what the time is spent on, what was tried): "
        '`benchmarks/README.md`, "Where the targets stand, and why".',
        "",
        "## Medians per client",
        "",
        markdown_table(CONTENDER_HEADER, report.contender_rows()),
        "",
        "The baselines use the standard json module in both modes: they are measured again "
        "in the second mode only to pair every SDK run with baselines of its own round.",
        "",
        "## Per-round ratios",
        "",
        *report.per_round(),
        "",
    ]
    if report.missed:
        lines += ["## Missed", "", *(f"- {m}" for m in report.missed), ""]
    else:
        lines += ["## Missed", "", "None: every target measured was met.", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def json_modes(choice: str) -> list[str]:
    have_orjson = importlib.util.find_spec("orjson") is not None
    if choice == "stdlib":
        return [STDLIB]
    if choice == "orjson":
        if not have_orjson:
            raise SystemExit("--json orjson: orjson is not installed in this environment")
        return [ORJSON]
    if not have_orjson:
        print("orjson is not installed: measuring the stdlib json mode only", file=sys.stderr)
        return [STDLIB]
    return [STDLIB, ORJSON]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        return worker(args)
    modes = json_modes(args.json)
    started = dt.datetime.now(dt.timezone.utc)
    t0 = time.perf_counter()
    cfg = {
        "requests": args.requests,
        "concurrency": args.concurrency,
        "rounds": args.rounds,
        "page_size": args.page_size,
        "burst": args.burst,
        "quick": args.quick,
        "million": args.million_cdrs if args.million else 0,
    }
    results: dict[str, dict[str, Any]] = {}
    print(f"starting the lean server ({args.cdrs:,} CDRs)", file=sys.stderr)
    load_before = os.getloadavg()
    server, port = start_server(args)
    try:
        for i, mode in enumerate(modes):
            print(f"client process, SDK with {mode}:", file=sys.stderr)
            mode_cfg = {**cfg, "port": port, "task": "rounds"}
            if i < len(modes) - 1:  # the token bursts: once, in the last mode
                mode_cfg["burst"] = 0
            results[mode] = run_worker(mode_cfg, hide_orjson=mode == STDLIB)
            check_alive(server)
        if args.million:
            mode = modes[-1]
            print(f"client process, SDK with {mode}: memory", file=sys.stderr)
            million_cfg = {**cfg, "port": port, "task": "million"}
            million = run_worker(million_cfg, hide_orjson=mode == STDLIB)
            results[mode]["million"] = million["million"]
            check_alive(server)
    finally:
        stop_server(server)
    report = Report(args, results, (load_before, os.getloadavg()))
    text = render(report, started, time.perf_counter() - t0)
    args.results.write_text(text + kept_sections(args.results))
    print()
    print(markdown_table(RATIO_HEADER, report.ratio_rows))
    print()
    print(markdown_table(TARGET_HEADER, report.target_rows))
    print(f"\nwritten: {args.results}")
    if args.check and report.missed:
        print("\n".join(["missed:", *report.missed]), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
