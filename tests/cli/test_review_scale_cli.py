"""Black-box review of ``tel4vn worker``, ``bulk otp --redis`` and ``bulk status``.

Written from API.md sections 10 and 12, docs/cli.md, docs/scaling.md and ``--help``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tel4vn_async.testing import FakeTel4vn

from .conftest import Outcome, Run
from .test_app import closed_port
from .test_scale import (
    OTP,
    ROOT,
    finished,
    otp_csv,
    ready,
    reap,
    start_worker,
    status_until_done,
    worker_task,
    write,
)

pytestmark = pytest.mark.redis

SECRET = "hunter2-pw"


def one_error_line(done: Outcome) -> None:
    assert "Traceback" not in done.err, done.err
    assert len(done.err.strip().splitlines()) == 1, done.err


def with_password(url: str) -> str:
    return url.replace("redis://", f"redis://:{SECRET}@", 1)


async def stored_keys(redis_url: str) -> list[bytes]:
    from tel4vn_async.redis import connect

    redis = connect(redis_url)
    try:
        return [key async for key in redis.scan_iter()]
    finally:
        await redis.aclose()


def spawn(fake: FakeTel4vn, *args: str) -> subprocess.Popen[str]:
    """``tel4vn *args`` in a process of its own (for signals and for runs that may hang)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEL4VN_")}
    env = {k: v for k, v in env.items() if not k.lower().endswith("_proxy")}
    cmd = [sys.executable, "-m", "tel4vn_async", "--base-url", fake.url,
           "--api-key", fake.api_key, "--max-retries", "1", *args]  # fmt: skip
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def protected_redis(port: int, where: Path) -> subprocess.Popen[bytes]:
    """A redis-server of its own that asks for ``SECRET``."""
    return subprocess.Popen(
        ["/usr/bin/redis-server", "--port", str(port), "--bind", "127.0.0.1",
         "--requirepass", SECRET, "--save", "", "--appendonly", "no", "--dir", str(where)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


async def interrupt_after_first_line(producer: subprocess.Popen[str], pause: float) -> str:
    """Waits for the producer's first stderr line, then sends it SIGINT after ``pause``."""
    assert producer.stderr is not None
    line = await asyncio.wait_for(asyncio.to_thread(producer.stderr.readline), 30)
    if pause:
        await asyncio.sleep(pause)
    producer.send_signal(signal.SIGINT)
    return line


async def test_bad_input_exits_2_with_one_line_and_submits_nothing(
    fake: FakeTel4vn, tel4vn: Run, redis_url: str, tmp_path: Path
) -> None:
    jobs = otp_csv(tmp_path / "jobs.csv", 2)
    otp = ["bulk", "otp", str(jobs), *OTP, "--redis", redis_url]
    empty = write(tmp_path / "empty.csv", "")
    wrong = write(tmp_path / "wrong.csv", "foo,bar\n1,2\n")
    cases = [
        ["bulk", "otp", str(empty), *OTP, "--redis", redis_url],
        ["bulk", "otp", str(wrong), *OTP, "--redis", redis_url],
        [*otp, "--rate", "0"],
        [*otp, "--rate", "-5"],
        [*otp, "--rate", "nan"],
        [*otp, "--rate", "inf"],
        [*otp, "--run", "a b"],
        [*otp, "--run", "{x}"],
        [*otp, "--run", "run}{"],
        [*otp, "--run", "*"],
        [*otp, "--run", ""],
        [*otp, "--run", "a\nb"],
        [*otp, "--run", "x" * 500],
        ["bulk", "status", "no-such-run", "--redis", redis_url, "--json"],
        ["bulk", "status", "{x}", "--redis", redis_url, "--json"],
        ["worker", "--redis", "http://127.0.0.1:1/"],
        ["worker", "--redis", "redis://127.0.0.1:notaport/0"],
        ["worker", "--redis", ""],
    ]
    for args in cases:
        done = await tel4vn(*args)
        assert done.code == 2, (args, done.text)
        assert done.out == "", (args, done.out)  # no JSON, no run id
        assert done.err.startswith("tel4vn: "), (args, done.err)
        one_error_line(done)
    assert await stored_keys(redis_url) == []
    assert fake.count() == 0


async def test_a_missing_file_or_a_non_numeric_rate_is_one_line(
    fake: FakeTel4vn, tel4vn: Run, redis_url: str, tmp_path: Path
) -> None:
    jobs = otp_csv(tmp_path / "jobs.csv", 2)
    cases = [
        ["bulk", "otp", str(tmp_path / "missing.csv"), *OTP, "--redis", redis_url],
        ["bulk", "otp", str(jobs), *OTP, "--redis", redis_url, "--rate", "abc"],
    ]
    for args in cases:
        done = await tel4vn(*args)
        assert done.code == 2, done.text
        one_error_line(done)


async def test_a_non_numeric_database_is_a_usage_error(
    tel4vn: Run, redis_url: str, tmp_path: Path
) -> None:
    jobs = otp_csv(tmp_path / "jobs.csv", 1)
    assert redis_url.endswith("/0")
    submitted = await tel4vn("bulk", "otp", str(jobs), *OTP, "--redis", redis_url,
                             "--run", "db-1", "--no-follow")  # fmt: skip
    assert submitted.code == 0, submitted.text
    done = await tel4vn("bulk", "status", "db-1", "--redis", redis_url[:-1] + "abc")
    assert done.code == 2, done.text  # not the run of database 0
    one_error_line(done)


async def test_a_password_in_the_url_is_never_printed(
    fake: FakeTel4vn, tel4vn: Run, redis_url: str, tmp_path: Path
) -> None:
    jobs = otp_csv(tmp_path / "jobs.csv", 2)
    wrong_auth = with_password(redis_url)  # this server has no password: AUTH fails
    closed = f"redis://user:{SECRET}@127.0.0.1:{closed_port()}/0"
    bad_port = f"redis://:{SECRET}@127.0.0.1:notaport/0"
    commands = [
        ["worker", "--burst", "--redis"],
        ["bulk", "otp", str(jobs), *OTP, "--no-follow", "--redis"],
        ["bulk", "status", "r1", "--json", "--redis"],
    ]
    for command in commands:
        for url, code in ((wrong_auth, 1), (closed, 1), (bad_port, 2)):
            done = await tel4vn(*command, url)
            assert done.code == code, (command, url, done.text)
            assert SECRET not in done.text
            assert ":***@" in done.err
            one_error_line(done)
            debug = await tel4vn("--debug", *command, url)
            assert debug.code == code, debug.text
            assert "Traceback" in debug.err
            assert SECRET not in debug.text, debug.err
    assert fake.count() == 0


async def test_worker_burst_on_an_empty_queue_exits_0(fake: FakeTel4vn, redis_url: str) -> None:
    worker = start_worker(fake, redis_url, "--burst")
    try:
        line = await ready(worker)
        assert "worker ready" in line
        code, output = await finished(worker)
    finally:
        reap(worker)
    assert code == 0, output
    assert "Traceback" not in output
    assert fake.count() == 0


async def test_a_header_only_csv_is_a_run_of_no_jobs_that_finishes(
    fake: FakeTel4vn, redis_url: str, tmp_path: Path
) -> None:
    header = write(tmp_path / "header.csv", "callee,code\n")
    producer = spawn(fake, "bulk", "otp", str(header), *OTP, "--redis", redis_url)
    try:
        code, output = await finished(producer, timeout=15)
    finally:
        reap(producer)
    assert code == 0, output
    assert "Traceback" not in output
    assert fake.count() == 0


async def test_a_results_file_in_a_missing_directory_fails_before_dialling(
    fake: FakeTel4vn, tel4vn: Run, redis_url: str, tmp_path: Path
) -> None:
    jobs = otp_csv(tmp_path / "jobs.csv", 3)
    out = tmp_path / "no-such-dir" / "out.csv"
    local = await tel4vn("bulk", "otp", str(jobs), *OTP, "--results", str(out))
    assert local.code == 1, local.text
    assert fake.count() == 0  # a local run checks the file first
    async with worker_task(fake, redis_url):
        done = await tel4vn("bulk", "otp", str(jobs), *OTP, "--redis", redis_url,
                            "--results", str(out))  # fmt: skip
    assert done.code in (1, 2), done.text
    assert "no-such-dir" in done.err
    assert "Traceback" not in done.err
    assert fake.count() == 0, "dialled everyone, then could not write the results"


async def test_ctrl_c_while_following_stops_following_not_the_run(
    fake: FakeTel4vn, tel4vn: Run, redis_url: str, tmp_path: Path
) -> None:
    jobs = otp_csv(tmp_path / "jobs.csv", 5)
    producer = spawn(fake, "bulk", "otp", str(jobs), *OTP, "--redis", redis_url,
                     "--run", "ctrl-c-1")  # fmt: skip
    try:
        line = await interrupt_after_first_line(producer, 0.3)
        assert "run ctrl-c-1: 5 job(s) submitted" in line, line
        code, output = await finished(producer)
    finally:
        reap(producer)
    assert "Traceback" not in output, output
    assert code not in (0, 1, 2, 3)  # interrupted (130): neither success nor a result
    assert "bulk status ctrl-c-1" in output  # how to see where it stands
    assert fake.count() == 0  # no worker yet
    status = await tel4vn("bulk", "status", "ctrl-c-1", "--redis", redis_url, "--json")
    assert status.code == 0, status.text
    assert json.loads(status.out)["done"] is False  # the run is still there, waiting
    async with worker_task(fake, redis_url):
        final = await status_until_done(tel4vn, "ctrl-c-1", redis_url)
    assert final["ok"] == 5
    assert sorted(fake.dials.values()) == [1] * 5


async def test_the_same_file_submitted_twice_before_any_worker_is_dialled_once(
    fake: FakeTel4vn, tel4vn: Run, redis_url: str, tmp_path: Path
) -> None:
    jobs = otp_csv(tmp_path / "jobs.csv", 8)
    run = [*OTP, "--redis", redis_url, "--run", "twice-1", "--no-follow"]
    first = await tel4vn("bulk", "otp", str(jobs), *run)
    second = await tel4vn("bulk", "otp", str(jobs), *run)
    assert (first.code, first.out) == (0, "twice-1\n"), first.text
    assert (second.code, second.out) == (0, "twice-1\n"), second.text
    async with worker_task(fake, redis_url):
        final = await status_until_done(tel4vn, "twice-1", redis_url)
    assert (final["ok"], final["failed"], final["unknown"]) == (8, 0, 0)
    assert len(fake.dials) == 8
    assert set(fake.dials.values()) == {1}
    line = await tel4vn("bulk", "status", "twice-1", "--redis", redis_url)
    assert line.code == 0
    assert len(line.out.splitlines()) == 1
    assert "twice-1" in line.out


async def test_status_exits_3_when_the_run_finished_with_failures(
    fake: FakeTel4vn, tel4vn: Run, redis_url: str, tmp_path: Path
) -> None:
    jobs = write(tmp_path / "jobs.csv", "callee,code\n0900000001,111111\nbad,222222\n")
    async with worker_task(fake, redis_url):
        done = await tel4vn("bulk", "otp", str(jobs), *OTP, "--redis", redis_url,
                            "--run", "fails-1")  # fmt: skip
    assert done.code == 3, done.text
    status = await tel4vn("bulk", "status", "fails-1", "--redis", redis_url, "--json")
    assert status.code == 3
    body = json.loads(status.out)
    assert (body["ok"], body["failed"], body["done"]) == (1, 1, True)
    assert fake.api_key not in done.text + status.text


async def test_a_password_protected_redis_never_shows_its_password(
    fake: FakeTel4vn, tel4vn: Run, tmp_path: Path
) -> None:
    port = closed_port()
    server = protected_redis(port, tmp_path)
    url = f"redis://:{SECRET}@127.0.0.1:{port}/0"
    jobs = otp_csv(tmp_path / "jobs.csv", 3)
    try:
        for _ in range(100):  # until it answers
            probe = await tel4vn("bulk", "status", "r1", "--redis", url)
            if probe.code == 2:
                break
            await asyncio.sleep(0.05)
        assert probe.code == 2, probe.text
        producer = spawn(fake, "bulk", "otp", str(jobs), *OTP, "--redis", url, "--run", "pw-1")
        try:
            line = await interrupt_after_first_line(producer, 0.3)
            assert "pw-1" in line, line
            _, output = await finished(producer)
        finally:
            reap(producer)
        worker = start_worker(fake, url, "--burst")
        try:
            ready_line = await ready(worker)
            code, worker_output = await finished(worker)
        finally:
            reap(worker)
        status = await tel4vn("bulk", "status", "pw-1", "--redis", url)
    finally:
        server.terminate()
        server.wait()
    assert code == 0, worker_output
    assert status.code == 0, status.text
    assert "3 ok" in status.out
    for text in (probe.text, line, output, ready_line, worker_output, status.text):
        assert SECRET not in text, text
    assert "redis://:***@127.0.0.1:" in ready_line
