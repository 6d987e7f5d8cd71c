"""``tel4vn worker``, ``bulk otp|tts --redis`` and ``bulk status`` on a real redis-server.

The fake server runs in the test's event loop; the command runs in a thread (``cli``)
or, for ``worker``, in a process of its own (``python -m tel4vn_async``), dialling the
fake through its URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tel4vn_async import AutocallClient
from tel4vn_async.cli._scale import MISSING_REDIS
from tel4vn_async.testing import FakeTel4vn

from ..conftest import FAST_RETRY
from .conftest import Outcome, Run
from .test_app import closed_port

pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parents[2]
OTP = ["--template", "otp_demo", "--caller", "0281234567", "--campaign-id", "1"]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def results(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def otp_csv(path: Path, n: int, *, first: int = 0) -> Path:
    rows = "".join(f"09{i:08d},{i:06d}\n" for i in range(first, first + n))
    return write(path, "callee,code\n" + rows)


@contextlib.asynccontextmanager
async def worker_task(fake: FakeTel4vn, redis_url: str) -> AsyncIterator[None]:
    """A worker in this event loop (``run_worker``), cancelled at the end."""
    from tel4vn_async.redis import connect, run_worker

    redis = connect(redis_url)
    pbx = AutocallClient(fake.url, api_key=fake.api_key, retry_policy=FAST_RETRY)
    task = asyncio.create_task(run_worker(pbx, redis, concurrency=10))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await pbx.close()
        await redis.aclose()


def start_worker(fake: FakeTel4vn, redis_url: str, *extra: str) -> subprocess.Popen[str]:
    """``tel4vn worker`` in a process of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEL4VN_")}
    env = {k: v for k, v in env.items() if not k.lower().endswith("_proxy")}
    cmd = [sys.executable, "-m", "tel4vn_async", "--base-url", fake.url, "--api-key",
           fake.api_key, "--max-retries", "1", "worker", "--redis", redis_url, *extra]  # fmt: skip
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


async def ready(worker: subprocess.Popen[str]) -> str:
    """The worker's first line on stderr, once it says it is ready."""
    assert worker.stderr is not None
    line = await asyncio.wait_for(asyncio.to_thread(worker.stderr.readline), 30)
    assert line.startswith("worker ready"), line
    return line


async def finished(worker: subprocess.Popen[str], timeout: float = 30) -> tuple[int, str]:
    """The worker's exit code and the rest of its output, once it has exited."""
    out, err = await asyncio.to_thread(worker.communicate, None, timeout)
    return worker.returncode, out + err


def reap(*workers: subprocess.Popen[str]) -> None:
    for worker in workers:
        if worker.poll() is None:
            os.kill(worker.pid, signal.SIGKILL)
        worker.communicate()


async def status_until_done(tel4vn: Run, run_id: str, redis_url: str) -> dict[str, object]:
    for _ in range(300):
        done = await tel4vn("bulk", "status", run_id, "--redis", redis_url, "--json")
        assert done.code in (0, 3), done.err
        status: dict[str, object] = json.loads(done.out)
        if status["done"]:
            return status
        await asyncio.sleep(0.1)
    raise AssertionError(f"run {run_id} did not finish: {status}")


async def test_bulk_otp_with_redis_is_dialled_by_a_worker_and_writes_the_results(
    fake: FakeTel4vn, tel4vn: Run, redis_url: str, tmp_path: Path
) -> None:
    jobs = write(tmp_path / "jobs.csv", "callee,code\n0900000001,111111\n0900000002,222222\n"
                 "not-a-phone,333333\n0900000004,444444,extra\n0900000005,555555\n"
                 "0900000001,111111\n")  # fmt: skip

    async with worker_task(fake, redis_url):
        done = await tel4vn("bulk", "otp", str(jobs), *OTP, "--redis", redis_url, "--rate", "50")

    assert done.code == 3, done.text
    assert "job(s) submitted; following" in done.err
    assert done.out.startswith("run ")
    assert "3 ok, 1 failed, 0 unknown, 1 skipped" in done.out
    assert "1 unreadable row(s) failed" in done.out
    assert "line 5: failed: ValidationError: row: 3 cells" in done.err
    rows = {r["line"]: r for r in results(tmp_path / "jobs.results.csv")}
    assert {line: r["status"] for line, r in rows.items()} == {
        "2": "ok", "3": "ok", "4": "failed", "5": "failed", "6": "ok", "7": "skipped"
    }  # fmt: skip
    assert rows["4"]["error"].startswith("ValidationError: callee")
    calls = {c["callee"]: c["call_id"] for c in fake.calls}
    assert rows["2"]["call_id"] == calls["0900000001"]
    assert rows["3"]["callee"] == "0900000002"
    assert dict(fake.dials) == {"0900000001": 1, "0900000002": 1, "0900000005": 1}


async def test_a_run_submitted_again_under_its_id_dials_no_one_twice(
    fake: FakeTel4vn, tel4vn: Run, redis_url: str, tmp_path: Path
) -> None:
    jobs = otp_csv(tmp_path / "jobs.csv", 30)
    run = ["--redis", redis_url, "--run", "again-1", "--results", str(tmp_path / "out.csv")]

    async with worker_task(fake, redis_url):
        first = await tel4vn("bulk", "otp", str(jobs), *OTP, *run)
        second = await tel4vn("bulk", "otp", str(jobs), *OTP, *run)

    assert first.code == 0, first.text
    assert first.out.startswith("run again-1: 30 jobs")
    assert second.code == 0, second.text
    assert len(fake.dials) == 30
    assert set(fake.dials.values()) == {1}
    statuses = [r["status"] for r in results(tmp_path / "out.csv")]
    assert statuses == ["ok"] * 30  # the run's one result per job, as first recorded


async def test_worker_processes_share_one_token_and_status_reads_the_run(
    fake: FakeTel4vn, tel4vn: Run, redis_url: str, tmp_path: Path
) -> None:
    fake.latency = 0.02  # calls in flight on both workers at once
    jobs = otp_csv(tmp_path / "jobs.csv", 60)

    submitted = await tel4vn("bulk", "otp", str(jobs), *OTP, "--redis", redis_url,
                             "--no-follow")  # fmt: skip
    assert submitted.code == 0, submitted.text
    run_id = submitted.out.strip()
    assert run_id
    assert "\n" not in run_id
    burst = start_worker(fake, redis_url, "--burst", "--concurrency", "5")
    steady = start_worker(fake, redis_url, "--concurrency", "5")
    try:
        await ready(burst)
        assert "redis redis://127.0.0.1:" in await ready(steady)
        status = await status_until_done(tel4vn, run_id, redis_url)
        code, output = await finished(burst)
        assert code == 0, output
        os.kill(steady.pid, signal.SIGTERM)  # a graceful stop
        code, output = await finished(steady)
        assert code == 0, output
        assert "worker stopped" in output
    finally:
        reap(burst, steady)

    assert (status["ok"], status["failed"], status["unknown"]) == (60, 0, 0)
    assert status["run_id"] == run_id
    assert len(fake.dials) == 60
    assert set(fake.dials.values()) == {1}
    assert fake.token_requests == 1  # one token for both workers, through Redis
    line = await tel4vn("bulk", "status", run_id, "--redis", redis_url)
    assert line.code == 0
    assert run_id in line.out
    assert len(line.out.splitlines()) == 1
    assert not (tmp_path / "jobs.results.csv").exists()  # --no-follow writes none

    from tel4vn_async.redis import connect

    redis = connect(redis_url)
    try:
        stored = [(key, await redis.dump(key)) async for key in redis.scan_iter()]
    finally:
        await redis.aclose()
    assert stored
    for key, value in stored:  # the api_key names nothing and is kept nowhere
        assert fake.api_key.encode() not in key
        assert fake.api_key.encode() not in (value or b"")


async def test_options_of_the_other_kind_of_run_exit_2_and_send_nothing(
    fake: FakeTel4vn, tel4vn: Run, redis_url: str, tmp_path: Path
) -> None:
    jobs = otp_csv(tmp_path / "jobs.csv", 2)
    cases = [
        ["bulk", "otp", str(jobs), *OTP, "--redis", redis_url, "--journal", "j.jsonl"],
        ["bulk", "otp", str(jobs), *OTP, "--redis", redis_url, "--concurrency", "5"],
        ["bulk", "otp", str(jobs), *OTP, "--redis", redis_url, "--redial-unknown"],
        ["bulk", "otp", str(jobs), *OTP, "--redis", redis_url, "--rate", "0"],
        ["bulk", "otp", str(jobs), *OTP, "--run", "r1"],
        ["bulk", "otp", str(jobs), *OTP, "--no-follow"],
        ["bulk", "otp", str(jobs), *OTP, "--redis", "http://127.0.0.1:1/"],
        ["bulk", "otp", str(jobs), "--template", "otp_demo", "--caller", "x1",
         "--campaign-id", "1", "--redis", redis_url],
        ["bulk", "status", "no-such-run", "--redis", redis_url],
        ["bulk", "status", "r1"],
        ["worker"],
    ]  # fmt: skip
    for args in cases:
        done = await tel4vn(*args)
        assert done.code == 2, (args, done.text)
        assert "Traceback" not in done.err
        assert len(done.err.strip().splitlines()) == 1, done.err
    assert fake.count() == 0
    assert not (tmp_path / "jobs.results.csv").exists()


async def test_an_unreachable_redis_is_one_line_without_its_password(
    fake: FakeTel4vn, tel4vn: Run, tmp_path: Path
) -> None:
    jobs = otp_csv(tmp_path / "jobs.csv", 2)
    url = f"redis://:s3cret-pw@127.0.0.1:{closed_port()}/0"
    outcomes: list[Outcome] = [
        await tel4vn("bulk", "otp", str(jobs), *OTP, "--redis", url),
        await tel4vn("bulk", "status", "r1", "--redis", url),
        await tel4vn("worker", "--redis", url),
        await tel4vn("--debug", "bulk", "status", "r1", "--redis", url),
    ]
    for done in outcomes[:3]:
        assert done.code == 1, done.text
        assert done.err.startswith("tel4vn: redis at redis://:***@127.0.0.1:"), done.err
        assert len(done.err.splitlines()) == 1
    for done in outcomes:
        assert "s3cret-pw" not in done.text
    assert fake.count() == 0


async def test_without_the_redis_extra_one_line_and_exit_2(
    cli: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import tel4vn_async

    monkeypatch.setitem(sys.modules, "tel4vn_async.redis", None)  # as if redis were missing
    monkeypatch.delattr(tel4vn_async, "redis", raising=False)
    jobs = otp_csv(tmp_path / "jobs.csv", 1)
    for args in (["worker", "--redis", "redis://127.0.0.1:1/0"],
                 ["bulk", "otp", str(jobs), *OTP, "--redis", "redis://127.0.0.1:1/0"],
                 ["bulk", "status", "r1", "--redis", "redis://127.0.0.1:1/0"]):  # fmt: skip
        done = await cli("--base-url", "http://127.0.0.1:1", "--api-key", "k", *args)
        assert done.code == 2, done.text
        assert done.err == f"tel4vn: {MISSING_REDIS}\n"
