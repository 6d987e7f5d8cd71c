"""``pbx.fan_out`` against FakeTel4vn: one result per job, one dial per person, the journal,
reconciling, the throttle under a 429 storm, stopping, callbacks and progress."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tel4vn_async import (
    AutocallClient,
    BadRequestError,
    JobResult,
    JobStatus,
    JournalError,
    MemoryTokenStore,
    OtpJob,
    OutcomeUnknownError,
    StoreError,
    Token,
    TtsJob,
    ValidationError,
)
from tel4vn_async.testing import FakeTel4vn

from ..conftest import FAST_RETRY

OTP = "/v1/autocall/otp"
CALLER = "0281234567"


def callee(i: int) -> str:
    return f"09{i:08d}"


def otp_jobs(n: int, start: int = 0) -> list[OtpJob]:
    return [
        OtpJob(callee(i), f"{i % 1_000_000:06d}", "otp_demo", CALLER, 1)
        for i in range(start, start + n)
    ]


def assert_dialled_once(fake: FakeTel4vn, jobs: list[OtpJob]) -> None:
    assert {j.callee: fake.dials[j.callee] for j in jobs} == {j.callee: 1 for j in jobs}


async def collect(runner: Any) -> list[JobResult]:
    return [r async for r in runner]


# --------------------------------------------------------------------------- the basics


async def test_every_job_gets_one_result_and_every_callee_one_dial(
    fake: FakeTel4vn, pbx: AutocallClient
) -> None:
    jobs = otp_jobs(120)
    results = await collect(pbx.fan_out(jobs, concurrency=16))
    assert sorted(r.index for r in results) == list(range(120))
    assert all(r.status is JobStatus.OK and r.ok and r.attempts == 1 for r in results)
    assert all(r.job is jobs[r.index] for r in results)
    placed = {c["callee"]: c["call_id"] for c in fake.calls}
    assert {r.job.callee: r.call_id for r in results} == placed
    assert_dialled_once(fake, jobs)
    assert fake.count(OTP) == 120


async def test_run_returns_the_summary(fake: FakeTel4vn, pbx: AutocallClient) -> None:
    runner = pbx.fan_out(otp_jobs(30), concurrency=5)
    summary = await runner.run()
    assert (summary.ok, summary.failed, summary.unknown, summary.skipped, summary.total) == (
        30,
        0,
        0,
        0,
        30,
    )
    assert summary.errors == {}
    assert summary.notes == ()
    assert summary.elapsed > 0
    assert runner.summary is summary
    with pytest.raises(RuntimeError, match="runs once"):
        await runner.run()


async def test_tts_jobs_and_async_sources(fake: FakeTel4vn, pbx: AutocallClient) -> None:
    params = {"customer_name": "An", "due_amount": 5, "due_date": "01/01/2027"}

    async def jobs() -> AsyncIterator[TtsJob]:
        for i in range(10):
            yield TtsJob(callee(i), "thong_bao_no_cuoc_01", params, CALLER)

    summary = await pbx.fan_out(jobs(), concurrency=4).run()
    assert summary.ok == 10
    assert fake.count("/v1/autocall/voice") == 10


async def test_a_bad_job_fails_alone(fake: FakeTel4vn, pbx: AutocallClient) -> None:
    jobs: list[Any] = otp_jobs(5)
    jobs.insert(1, OtpJob("12", "123456", "otp_demo", CALLER, 1))  # a bad callee
    jobs.insert(3, {"callee": callee(99)})  # not a job
    jobs.insert(5, OtpJob(callee(77), "1", "no_such_template", CALLER, 1))  # refused: 400
    results = {r.index: r for r in await collect(pbx.fan_out(jobs, concurrency=3))}
    assert len(results) == 8
    bad = results[1]
    assert bad.status is JobStatus.FAILED
    assert bad.key is None
    assert bad.attempts == 0
    assert isinstance(bad.error, ValidationError)
    assert bad.error.field == "callee"
    assert isinstance(results[3].error, ValidationError)
    assert results[3].error.field == "job"
    refused = results[5]
    assert refused.status is JobStatus.FAILED
    assert isinstance(refused.error, BadRequestError)
    assert [r.status for i, r in sorted(results.items()) if i not in (1, 3, 5)] == [
        JobStatus.OK
    ] * 5
    assert fake.count(OTP) == 6  # the five good ones and the refused one; no bad job sent


async def test_a_repeated_key_is_dialled_once(fake: FakeTel4vn, pbx: AutocallClient) -> None:
    jobs = [
        *otp_jobs(3),
        *otp_jobs(2),  # the same calls again: derived keys repeat
        OtpJob(callee(50), "1", "otp_demo", CALLER, 1, key="order-1"),
        OtpJob(callee(51), "2", "otp_demo", CALLER, 1, key="order-1"),  # the user's key repeats
    ]
    results = sorted(await collect(pbx.fan_out(jobs, concurrency=1)), key=lambda r: r.index)
    assert [r.status for r in results] == [JobStatus.OK] * 3 + [JobStatus.SKIPPED] * 2 + [
        JobStatus.OK,
        JobStatus.SKIPPED,
    ]
    assert "earlier in this run" in (results[3].reason or "")
    assert fake.dials[callee(0)] == 1
    assert fake.dials[callee(51)] == 0
    assert fake.count(OTP) == 4


@pytest.mark.parametrize(
    "bad",
    [
        {"concurrency": 0},
        {"concurrency": 1.5},
        {"rate": 0},
        {"rate": -1},
        {"journal": 5},
        {"progress": "yes"},
        {"on_result": 3},
        {"reconcile": None},
    ],
)
async def test_bad_arguments_are_refused_before_anything_is_sent(
    fake: FakeTel4vn, pbx: AutocallClient, bad: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError) as caught:
        pbx.fan_out(otp_jobs(2), **bad)
    assert caught.value.field == next(iter(bad))
    assert fake.count() == 0


# --------------------------------------------------------------------------- unknown outcomes


async def test_a_drop_after_handling_is_unknown_and_never_redialled(
    fake: FakeTel4vn, pbx: AutocallClient, tmp_path: Path
) -> None:
    jobs = otp_jobs(6)
    fake.inject(OTP, drop="after", times=2)
    journal = tmp_path / "run.jsonl"
    first = await collect(pbx.fan_out(jobs, concurrency=1, journal=journal))
    unknown = [r for r in first if r.status is JobStatus.UNKNOWN]
    assert len(unknown) == 2
    assert all(isinstance(r.error, OutcomeUnknownError) and r.attempts == 1 for r in unknown)
    assert_dialled_once(fake, jobs)  # the handler ran: they were rung, once

    # Run again with the journal: done jobs are skipped, the unknown ones stay unknown.
    again = await collect(pbx.fan_out(jobs, concurrency=3, journal=journal))
    statuses = Counter(r.status for r in again)
    assert statuses == {JobStatus.SKIPPED: 4, JobStatus.UNKNOWN: 2}
    assert fake.count(OTP) == 6
    assert_dialled_once(fake, jobs)
    skipped = [r for r in again if r.status is JobStatus.SKIPPED]
    assert {r.call_id for r in skipped} == {r.call_id for r in first if r.ok}

    # Only redial_unknown dials them again.
    last = await pbx.fan_out(jobs, concurrency=3, journal=journal, redial_unknown=True).run()
    assert (last.ok, last.skipped) == (2, 4)
    assert sorted(fake.dials[r.job.callee] for r in unknown) == [2, 2]


async def test_reconcile_finds_the_call_that_was_placed(
    fake: FakeTel4vn, pbx: AutocallClient
) -> None:
    jobs = otp_jobs(4)
    fake.inject(OTP, drop="after")  # placed, answer lost
    results = {r.index: r for r in await collect(pbx.fan_out(jobs, concurrency=1, reconcile=True))}
    settled = results[0]
    assert settled.status is JobStatus.OK
    assert settled.call_id == fake.calls_to(callee(0))[0]["call_id"]
    assert "reconciled" in (settled.reason or "")
    assert fake.count("/v1/report") >= 1
    assert_dialled_once(fake, jobs)


async def test_reconcile_leaves_unknown_what_it_cannot_find(
    fake: FakeTel4vn, pbx: AutocallClient, tmp_path: Path
) -> None:
    jobs = otp_jobs(3)
    fake.inject(OTP, drop="before")  # cut before the handler: never placed, but who knows
    runner = pbx.fan_out(jobs, concurrency=1, reconcile=True, journal=tmp_path / "j.jsonl")
    results = {r.index: r for r in await collect(runner)}
    assert results[0].status is JobStatus.UNKNOWN
    assert "no report of a call to 0900000000" in (results[0].reason or "")
    assert fake.dials[callee(0)] == 0
    assert runner.summary is not None
    assert runner.summary.unknown == 1
    assert any("remain UNKNOWN" in note for note in runner.summary.notes)


# --------------------------------------------------------------------------- the journal


def journal_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_the_journal_records_each_call_before_and_after(
    fake: FakeTel4vn, pbx: AutocallClient, tmp_path: Path
) -> None:
    journal = tmp_path / "run.jsonl"
    jobs = [
        *otp_jobs(3),
        OtpJob(
            callee(9),
            "1",
            "otp_demo",
            CALLER,
            1,
            callback_url="https://h.vn/x",
            callback_apikey="hook-secret-1",
        ),
    ]
    await pbx.fan_out(jobs, concurrency=2, journal=journal).run()
    text = journal.read_text()
    assert "hook-secret-1" not in text
    assert fake.api_key not in text
    lines = journal_lines(journal)
    started = [line for line in lines if line.get("event") == "started"]
    finished = [line for line in lines if line.get("event") == "finished"]
    assert len(started) == len(finished) == 4
    keys = {line["key"] for line in started}
    assert keys == {line["key"] for line in finished}


async def test_a_journal_of_other_jobs_is_refused(
    fake: FakeTel4vn, pbx: AutocallClient, tmp_path: Path
) -> None:
    journal = tmp_path / "run.jsonl"
    await pbx.fan_out(otp_jobs(5), journal=journal).run()
    with pytest.raises(JournalError, match="other jobs"):
        await pbx.fan_out(otp_jobs(5, start=100), journal=journal).run()
    assert fake.count(OTP) == 5


async def test_more_jobs_appended_to_the_source_are_run(
    fake: FakeTel4vn, pbx: AutocallClient, tmp_path: Path
) -> None:
    journal = tmp_path / "run.jsonl"
    await pbx.fan_out(otp_jobs(20), journal=journal).run()
    summary = await pbx.fan_out(otp_jobs(30), journal=journal).run()
    assert (summary.skipped, summary.ok) == (20, 10)
    assert_dialled_once(fake, otp_jobs(30))


async def test_a_torn_last_line_is_tolerated(
    fake: FakeTel4vn, pbx: AutocallClient, tmp_path: Path
) -> None:
    journal = tmp_path / "run.jsonl"
    jobs = otp_jobs(10)
    await pbx.fan_out(jobs[:6], journal=journal).run()
    with journal.open("a") as f:
        f.write('{"event":"started","key":"otp-')  # a crash mid-write
    summary = await pbx.fan_out(jobs, journal=journal).run()
    assert (summary.skipped, summary.ok) == (6, 4)
    assert_dialled_once(fake, jobs)
    for line in journal.read_text().splitlines():
        json.loads(line)  # the torn line was cut before appending


async def test_a_stopped_run_resumes_without_ringing_anyone_twice(
    fake: FakeTel4vn, pbx: AutocallClient, tmp_path: Path
) -> None:
    fake.latency = 0.01
    journal = tmp_path / "run.jsonl"
    jobs = otp_jobs(200)
    task = asyncio.ensure_future(pbx.fan_out(jobs, concurrency=20, journal=journal).run())
    while fake.count(OTP) < 40:  # noqa: ASYNC110 (the fake's log has no event to wait on)
        await asyncio.sleep(0.005)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    sent = fake.count(OTP)
    assert sent < 200
    await asyncio.sleep(0.05)
    assert fake.count(OTP) == sent  # nothing more went out after the stop
    # Every call in flight was let finish: none is left UNKNOWN.
    summary = await pbx.fan_out(jobs, concurrency=20, journal=journal).run()
    assert summary.unknown == 0
    assert summary.ok + summary.skipped == 200
    assert summary.ok == 200 - sent
    assert_dialled_once(fake, jobs)


async def test_breaking_out_of_the_loop_stops_pulling(
    fake: FakeTel4vn, pbx: AutocallClient, tmp_path: Path
) -> None:
    pulled = 0

    def jobs() -> Iterator[OtpJob]:
        nonlocal pulled
        for job in otp_jobs(10_000):
            pulled += 1
            yield job

    journal = tmp_path / "run.jsonl"
    runner = pbx.fan_out(jobs(), concurrency=8, journal=journal)
    seen = 0
    async for _ in runner:
        seen += 1
        if seen == 30:
            break
    for _ in range(100):  # the generator is closed by the loop's finalizer hook
        await asyncio.sleep(0.01)
        if runner.summary is not None:
            break
    assert runner.summary is not None
    assert pulled <= seen + 8 * 3 + 16
    assert fake.count(OTP) == runner.summary.ok
    await asyncio.sleep(0.05)
    assert fake.count(OTP) == runner.summary.ok
    lines = journal_lines(journal)
    started = {line["key"] for line in lines if line.get("event") == "started"}
    finished = {line["key"] for line in lines if line.get("event") == "finished"}
    assert started <= finished  # every call in flight was finished and journaled


# --------------------------------------------------------------------------- the throttle


async def test_a_429_storm_does_not_multiply_requests(
    fake: FakeTel4vn, pbx: AutocallClient
) -> None:
    # A burst of 5 against 50 workers starting at once: the storm is certain, however
    # slow this machine is today.
    fake.limit_rate(OTP, 600, burst=5)
    jobs = otp_jobs(1000)
    summary = await pbx.fan_out(jobs, concurrency=50).run()
    assert summary.ok == 1000, summary
    assert_dialled_once(fake, jobs)
    throttled = fake.count(OTP) - 1000
    assert throttled >= 1  # the storm happened
    assert summary.throttled == throttled  # and the throttle heard every 429
    assert fake.count(OTP) <= 1.2 * 1000


async def test_no_one_second_window_goes_above_the_rate(
    fake: FakeTel4vn, pbx: AutocallClient
) -> None:
    rate = 40
    summary = await pbx.fan_out(otp_jobs(50), concurrency=30, rate=rate).run()
    assert summary.ok == 50
    times = sorted(r.received_at for r in fake.received(OTP))
    # One request of slack for the server's own timestamp jitter.
    assert max(_in_window(times, t) for t in times) <= rate


def _in_window(times: list[float], start: float) -> int:
    return sum(1 for t in times if start <= t < start + 1.0)


async def test_a_retry_after_pauses_every_job(fake: FakeTel4vn, pbx: AutocallClient) -> None:
    fake.inject(OTP, status=429, retry_after=0.3)
    results = await collect(pbx.fan_out(otp_jobs(10), concurrency=5))
    assert all(r.ok for r in results)
    first_429 = next(r for r in fake.received(OTP) if r.status == 429)
    later = [r.received_at for r in fake.received(OTP) if r.received_at > first_429.received_at]
    # Requests already in flight may land; none is started during the pause.
    starts = sorted(later)[5:]
    assert all(t >= first_429.received_at + 0.25 for t in starts)
    assert sum(r.attempts for r in results) == 11


# --------------------------------------------------------------------------- callbacks, progress


async def test_on_result_sync_async_and_failing(
    fake: FakeTel4vn, pbx: AutocallClient, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[int] = []

    def sync_cb(result: JobResult) -> None:
        seen.append(result.index)
        if result.index == 3:
            raise RuntimeError("callback bug")

    await pbx.fan_out(otp_jobs(8), on_result=sync_cb).run()
    assert sorted(seen) == list(range(8))
    assert "on_result raised" in caplog.text

    got: list[JobStatus] = []

    async def async_cb(result: JobResult) -> None:
        await asyncio.sleep(0)
        got.append(result.status)

    await pbx.fan_out(otp_jobs(8, start=10), on_result=async_cb).run()
    assert got == [JobStatus.OK] * 8


async def test_the_users_on_attempt_hook_still_hears_every_attempt(fake: FakeTel4vn) -> None:
    heard: list[int | None] = []
    async with AutocallClient(
        fake.url,
        api_key=fake.api_key,
        retry_policy=FAST_RETRY,
        on_attempt=lambda a: heard.append(a.status),
    ) as pbx:
        fake.inject(OTP, status=503)
        await pbx.fan_out(otp_jobs(3), concurrency=1).run()
    assert heard.count(503) == 1
    assert heard.count(200) >= 3


async def test_progress_bar(
    fake: FakeTel4vn, pbx: AutocallClient, capsys: pytest.CaptureFixture[str]
) -> None:
    await pbx.fan_out(otp_jobs(25), progress=True).run()
    err = capsys.readouterr().err
    assert "25/25" in err
    assert "ok=25" in err


async def test_progress_without_tqdm_logs(
    fake: FakeTel4vn,
    pbx: AutocallClient,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tel4vn_async.bulk import _progress

    monkeypatch.setattr(_progress, "_tqdm", lambda: None)
    caplog.set_level(logging.INFO, logger="tel4vn_async.bulk")
    await pbx.fan_out(otp_jobs(5), progress=True).run()
    assert "5 done in all (ok 5, failed 0, unknown 0, skipped 0)" in caplog.text


async def test_progress_resumes_at_the_jobs_done(
    fake: FakeTel4vn, pbx: AutocallClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = tmp_path / "run.jsonl"
    await pbx.fan_out(otp_jobs(10), journal=journal).run()
    capsys.readouterr()
    await pbx.fan_out(otp_jobs(15), journal=journal, progress=True).run()
    err = capsys.readouterr().err
    assert "15/15" in err
    assert "16/15" not in err


async def test_a_concurrency_above_the_connection_pool_is_warned_of(
    fake: FakeTel4vn, pbx: AutocallClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="tel4vn_async.bulk")
    await pbx.fan_out(otp_jobs(3), concurrency=150).run()
    assert "exceeds the client's pool of 100 HTTP connections" in caplog.text
    caplog.clear()
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200)) as session,
        AutocallClient(fake.url, api_key=fake.api_key, http_session=session) as big,
    ):
        await big.fan_out(otp_jobs(3, start=10), concurrency=150).run()
    assert "exceeds" not in caplog.text


async def test_a_rerun_retries_what_was_refused_unprocessed_and_skips_other_refusals(
    fake: FakeTel4vn, pbx: AutocallClient, tmp_path: Path
) -> None:
    journal = tmp_path / "run.jsonl"
    jobs = [*otp_jobs(2), OtpJob(callee(7), "1", "not_yet_made", CALLER, 1)]
    fake.inject(OTP, status=429, times=4)  # the first job: every try refused, unprocessed
    first = sorted(
        await collect(pbx.fan_out(jobs, concurrency=1, journal=journal)), key=lambda r: r.index
    )
    assert [r.status for r in first] == [JobStatus.FAILED, JobStatus.OK, JobStatus.FAILED]
    assert isinstance(first[2].error, BadRequestError)
    assert fake.dials[callee(0)] == 0

    again = sorted(await collect(pbx.fan_out(jobs, journal=journal)), key=lambda r: r.index)
    assert [r.status for r in again] == [JobStatus.OK, JobStatus.SKIPPED, JobStatus.SKIPPED]
    assert "retry_failed=True" in (again[2].reason or "")
    assert fake.dials[callee(0)] == 1

    fake.seed_template(1, "not_yet_made", "code {{code_otp}}", kind="otp")
    last = await pbx.fan_out(jobs, journal=journal, retry_failed=True).run()
    assert (last.ok, last.skipped) == (1, 2)
    assert fake.dials[callee(7)] == 1
    assert fake.dials[callee(1)] == 1


class _DownStore(MemoryTokenStore):
    """A shared token store whose Redis is down: every read fails with ``StoreError``."""

    async def load(self) -> Token | None:
        raise StoreError("Redis failed while reading the shared token (ConnectionError)")


async def test_a_token_store_failure_is_retried_by_a_rerun_of_the_journal(
    fake: FakeTel4vn, tmp_path: Path
) -> None:
    """No token could be had (its store down): nothing was sent, so the journal marks the
    jobs retryable and the next run dials them, without ``retry_failed``."""
    journal = tmp_path / "run.jsonl"
    async with AutocallClient(fake.url, api_key=fake.api_key, token_store=_DownStore()) as down:
        first = await collect(down.fan_out(otp_jobs(2), journal=journal))
    assert [r.status for r in first] == [JobStatus.FAILED] * 2
    assert all(isinstance(r.error, StoreError) for r in first)
    assert fake.dials[callee(0)] == fake.dials[callee(1)] == 0
    async with AutocallClient(fake.url, api_key=fake.api_key) as pbx:
        again = await pbx.fan_out(otp_jobs(2), journal=journal).run()
    assert (again.ok, again.skipped) == (2, 0)
    assert fake.dials[callee(0)] == fake.dials[callee(1)] == 1
