"""``tel4vn sandbox`` as a user runs it (a process of its own), and the date-ranged
CDR seeding behind it (``fake.seed_cdrs(n, start=, end=)``)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
import time
from datetime import date, datetime, timedelta, timezone

import pytest

from tel4vn_async import AutocallClient, CallCenterClient
from tel4vn_async.cli import main
from tel4vn_async.cli._sandbox import seed
from tel4vn_async.testing import FakeTel4vn
from tel4vn_async.testing._cdr_data import CDR_BASE_TIME, cdr_facts

SANDBOX = [sys.executable, "-m", "tel4vn_async", "sandbox", "--host", "127.0.0.1"]


def _env() -> dict[str, str]:
    # The sandbox must not need the environment it prints: start it without one.
    return {k: v for k, v in os.environ.items() if not k.startswith("TEL4VN_")}


async def _lines_until(stream: asyncio.StreamReader, marker: str, seen: list[str]) -> str:
    """Read lines into ``seen`` until one contains ``marker``; return that line."""
    while True:
        raw = await asyncio.wait_for(stream.readline(), timeout=20)
        assert raw, f"the sandbox ended before printing {marker!r}:\n" + "".join(seen)
        line = raw.decode()
        seen.append(line)
        if marker in line:
            return line


# --------------------------------------------------------------------------- the command


async def test_the_sandbox_serves_logs_each_request_and_stops_on_sigint() -> None:
    process = await asyncio.create_subprocess_exec(
        *SANDBOX, "--port", "0", "--api-key", "k-test", "--seed-cdrs", "50",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=_env(),
    )  # fmt: skip
    assert process.stdout is not None
    assert process.stderr is not None
    try:
        seen: list[str] = []
        # No PYTHONUNBUFFERED: these lines reach a pipe only because each is flushed.
        await _lines_until(process.stdout, "Requests received", seen)
        intro = "".join(seen)
        url = re.search(r"export TEL4VN_BASE_URL=(http://127\.0\.0\.1:\d+)\n", intro)
        assert url, intro
        assert "export TEL4VN_API_KEY=k-test\n" in intro
        assert re.search(r"login: \S+ / \S+", intro)
        assert re.search(r"OTP templates \(campaign 1\): .*\botp_login\b", intro)
        assert re.search(r"TTS templates \(campaign 1\): .*\bnhac_lich_hen \(", intro)
        today = re.search(r"50 CDRs from \S+ to (\S+) \((\d+) today\)", intro)
        assert today, intro
        assert today.group(1) == date.today().isoformat()

        async with CallCenterClient(url.group(1), api_key="k-test", trust_env=False) as cc:
            todays = [cdr async for cdr in cc.cdrs.list(start_date=date.today())]
        async with AutocallClient(url.group(1), api_key="k-test", trust_env=False) as pbx:
            call = await pbx.calls.otp(
                campaign_id=1,
                caller="0281234567",
                callee="0987654321",
                template="otp_login",
                code="123456",
            )
        assert len(todays) == int(today.group(2)) > 0
        assert call.call_id

        log: list[str] = []
        await _lines_until(process.stdout, "POST /v1/autocall/otp", log)
        assert any(re.fullmatch(r"\d\d:\d\d:\d\d GET /v2/cdr 200 \d+ms\n", line) for line in log)
        assert not [line for line in log if "k-test" in line or "Bearer" in line]

        process.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(process.wait(), timeout=20)
        rest = (await process.stdout.read()).decode()
        errors = (await process.stderr.read()).decode()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert code == 0, errors
    assert "closing cleanly" in rest
    assert errors == ""


async def test_sigterm_stops_it_cleanly_too() -> None:
    process = await asyncio.create_subprocess_exec(
        *SANDBOX, "--port", "0", "--seed-cdrs", "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=_env(),
    )  # fmt: skip
    assert process.stdout is not None
    try:
        await _lines_until(process.stdout, "Requests received", [])
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), timeout=20)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert code == 0
    assert "closing cleanly" in (await process.stdout.read()).decode()


def test_a_port_in_use_is_one_clear_line_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["sandbox", "--port", str(port), "--seed-cdrs", "0"])
    out, err = capsys.readouterr()
    assert code == 1
    assert err.splitlines() == [f"port {port} is in use: pass --port"]
    assert out == ""


def test_an_address_not_on_this_machine_is_one_line_too(capsys: pytest.CaptureFixture[str]) -> None:
    # 192.0.2.0/24 is reserved for documentation: never an address of this machine.
    code = main(["sandbox", "--host", "192.0.2.1", "--port", "0", "--seed-cdrs", "0"])
    out, err = capsys.readouterr()
    assert code == 1
    (line,) = err.splitlines()
    assert line.startswith("cannot listen on 192.0.2.1:0: ")  # then the system's reason
    assert out == ""


def test_seed_fills_what_the_first_commands_need() -> None:
    fake = FakeTel4vn()
    line = seed(fake, 70, today=date(2024, 3, 7))
    assert (
        line == "70 CDRs from 2024-03-01 to 2024-03-07 (10 today), 100 customers, 20 call reports"
    )
    assert fake.find_template("otp_login", "otp") is not None
    assert fake.find_template("otp_demo", "otp") is not None
    assert fake.find_template("nhac_lich_hen", "tts") is not None
    assert len(fake.customers()) == 100
    assert len(fake.calls) == 20


# --------------------------------------------------------------------------- seed_cdrs


def _started(fake: FakeTel4vn, n: int) -> list[datetime]:
    return [fake.cdr_timeline.started(i) for i in range(n)]


def test_a_date_range_spreads_the_calls_over_whole_days() -> None:
    fake = FakeTel4vn()
    fake.seed_cdrs(70, start=date(2024, 3, 1), end=date(2024, 3, 7))
    times = _started(fake, 70)
    assert times[0] == datetime(2024, 3, 1)
    assert times[-1] < datetime(2024, 3, 8)
    assert times == sorted(times)
    per_day = {d: sum(t.date() == d for t in times) for d in {t.date() for t in times}}
    assert per_day == {date(2024, 3, day): 10 for day in range(1, 8)}


def test_a_datetime_range_ends_before_its_end() -> None:
    fake = FakeTel4vn()
    start, end = datetime(2024, 5, 1, 9, 0), datetime(2024, 5, 1, 10, 0)
    fake.seed_cdrs(60, start=start, end=end)
    times = _started(fake, 60)
    assert times[:2] == [start, start + timedelta(minutes=1)]
    assert times[-1] == end - timedelta(minutes=1)


def test_one_bound_keeps_the_calls_37_seconds_apart() -> None:
    fake = FakeTel4vn()
    fake.seed_cdrs(10, start=datetime(2024, 5, 1, 9, 0))
    assert _started(fake, 2) == [datetime(2024, 5, 1, 9, 0), datetime(2024, 5, 1, 9, 0, 37)]
    fake.seed_cdrs(10, end=date(2024, 5, 1))
    last = fake.cdr_timeline.started(9)
    assert datetime(2024, 5, 1, 23, 59) < last < datetime(2024, 5, 2)


def test_an_aware_time_is_taken_in_local_wall_clock() -> None:
    fake = FakeTel4vn()
    start = datetime(2024, 5, 1, 2, 0, tzinfo=timezone.utc)
    fake.seed_cdrs(5, start=start, end=start + timedelta(hours=1))
    assert fake.cdr_timeline.started(0) == start.astimezone().replace(tzinfo=None)


def test_the_old_signature_still_works_and_keeps_its_times() -> None:
    fake = FakeTel4vn()
    fake.seed_cdrs(3, "flex")
    assert fake.cdr_timeline.started(2) == CDR_BASE_TIME + timedelta(seconds=74)
    assert cdr_facts(2)["started"] == CDR_BASE_TIME + timedelta(seconds=74)
    assert fake.cdr_batch({}, 0, 10)[0][0]["dialAt"] == "2024-01-01 08:00:00"


@pytest.mark.parametrize(
    ("n", "start", "end", "message"),
    [
        (5, date(2024, 3, 2), date(2024, 3, 1), "must be after start"),
        (5, datetime(2024, 3, 1, 9), datetime(2024, 3, 1, 9), "must be after start"),
        (-1, None, None, "n must be 0 or more"),
    ],
)
def test_a_bad_range_or_count_is_refused(
    n: int, start: date | None, end: date | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        FakeTel4vn().seed_cdrs(n, start=start, end=end)


async def test_listings_filter_by_the_seeded_dates(fake_tel4vn: FakeTel4vn) -> None:
    fake_tel4vn.seed_cdrs(70, start=date(2024, 3, 1), end=date(2024, 3, 7))
    async with CallCenterClient(fake_tel4vn.url, api_key=fake_tel4vn.api_key) as cc:
        day = [c async for c in cc.cdrs.list(start_date=date(2024, 3, 3), end_date="2024-03-03")]
        week = [c async for c in cc.cdrs.list(start_date=date(2024, 3, 1), extension="101")]
    assert len(day) == 10
    assert all(c.started_at and c.started_at.date() == date(2024, 3, 3) for c in day)
    assert len(week) == sum(cdr_facts(i)["extension"] == "101" for i in range(70))


def test_a_date_filter_over_a_million_cdrs_reads_only_its_window() -> None:
    fake = FakeTel4vn()
    fake.seed_cdrs(1_000_000, start=date(2024, 1, 1), end=date(2024, 1, 10))
    started = time.perf_counter()
    page, total = fake.cdr_batch({"start_date": "2024-01-05", "end_date": "2024-01-05"}, 0, 5)
    elapsed = time.perf_counter() - started
    assert total == 100_000
    assert [r["time_started"][:10] for r in page] == ["2024-01-05"] * 5
    assert elapsed < 1.0, f"{elapsed:.2f}s: the filter scanned the records"
