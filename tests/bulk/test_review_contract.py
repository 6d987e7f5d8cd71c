"""Black-box review of ``pbx.fan_out`` (API.md section 7 and issue 8), from the contract alone.

Written without reading ``tel4vn_async/bulk/``: every assertion is about what a user can
see (results, the summary, the journal file, the requests FakeTel4vn received, its dial
counts), never about how the runner is built.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import sys
import textwrap
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

import tel4vn_async
import tel4vn_async.bulk
from tel4vn_async import (
    AutocallClient,
    BadRequestError,
    BulkSummary,
    JobResult,
    JobStatus,
    JournalError,
    OtpJob,
    OutcomeUnknownError,
    RateLimitError,
    Tel4vnError,
    TtsJob,
    ValidationError,
)
from tel4vn_async.testing import FakeTel4vn

from ..conftest import FAST_RETRY

OTP = "/v1/autocall/otp"
TTS = "/v1/autocall/voice"
CALLER = "0123456789"
CAMPAIGN = 1
TTS_PARAMS = {"customer_name": "An", "due_amount": "100000", "due_date": "01/01/2025"}


def phone(i: int) -> str:
    return f"09{i:08d}"


def otp(i: int, **kw: Any) -> OtpJob:
    fields: dict[str, Any] = {
        "callee": phone(i),
        "code": f"{i % 1_000_000:06d}",
        "template": "otp_demo",
        "caller": CALLER,
        "campaign_id": CAMPAIGN,
    }
    fields.update(kw)
    return OtpJob(**fields)


def tts(i: int, **kw: Any) -> TtsJob:
    fields: dict[str, Any] = {
        "callee": phone(i),
        "template": "thong_bao_no_cuoc_01",
        "params": dict(TTS_PARAMS),
        "caller": CALLER,
        "campaign_id": CAMPAIGN,
    }
    fields.update(kw)
    return TtsJob(**fields)


async def collect(runner: Any) -> list[JobResult]:
    return [r async for r in runner]


def sent_callees(fake: FakeTel4vn, path: str = OTP) -> Counter[str]:
    """How many requests (answered, refused or dropped) named each callee."""
    return Counter(str((r.json or {}).get("callee")) for r in fake.received(path))


def key(result: JobResult) -> str:
    """The result's key, which every dialled job must have."""
    assert result.key is not None, result
    return result.key


def by_callee(results: Iterable[JobResult]) -> dict[str, JobResult]:
    out: dict[str, JobResult] = {}
    for r in results:
        assert r.job.callee not in out, f"two results for {r.job.callee}"
        out[r.job.callee] = r
    return out


def journal_records(path: Path) -> list[dict[str, Any]]:
    """The journal's complete JSON lines (a torn last line left out)."""
    lines = path.read_text(encoding="utf-8").split("\n")
    records = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except ValueError:
            assert i == len(lines) - 1, f"line {i + 1} of {len(lines)} is not JSON: {line!r}"
    return records


def _values(obj: Any) -> Iterator[str]:
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _values(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _values(v)
    elif obj is not None:
        yield str(obj)


def mentions(record: dict[str, Any], word: str) -> bool:
    return word in set(_values(record))


def journal_index(path: Path, keys: Iterable[str]) -> dict[str, list[str]]:
    """For each key, the kinds of its journal lines in order ("started" / "finished")."""
    wanted = set(keys)
    out: dict[str, list[str]] = {k: [] for k in wanted}
    for rec in journal_records(path):
        values = set(_values(rec))
        for k in wanted & values:
            kind = "started" if "started" in values else "finished" if "finished" in values else "?"
            out[k].append(kind)
    return out


async def until_sent(fake: FakeTel4vn, n: int, limit: float = 10.0) -> None:
    """Wait until the fake has received ``n`` OTP requests (``limit`` seconds at most)."""
    for _ in range(int(limit / 0.005)):
        if fake.count(OTP) >= n:
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"only {fake.count(OTP)} requests after {limit}s")


def live_tasks() -> set[asyncio.Task[Any]]:
    """Tasks now pending, except the fake server's connection handlers and this test."""
    current = asyncio.current_task()
    out = set()
    for task in asyncio.all_tasks():
        if task is current or task.done():
            continue
        coro = task.get_coro()
        name = getattr(coro, "__qualname__", "")
        if name.startswith(("RequestHandler", "BaseProtocol", "Server", "_run_app")):
            continue
        out.add(task)
    return out


# =========================================================================== names and shapes


def test_names_are_exported_at_top_level_and_from_bulk() -> None:
    for name in ("OtpJob", "TtsJob", "JobResult", "JobStatus", "BulkSummary"):
        assert getattr(tel4vn_async, name) is getattr(tel4vn_async.bulk, name)
    assert {s.name for s in JobStatus} >= {"OK", "FAILED", "UNKNOWN", "SKIPPED"}


async def test_list_source_one_ok_result_per_job_with_its_fields(
    fake: FakeTel4vn, pbx: AutocallClient
) -> None:
    jobs = [otp(i) for i in range(8)]
    results = await collect(pbx.fan_out(jobs, concurrency=3))
    assert len(results) == len(jobs)
    got = by_callee(results)
    call_ids = {c["callee"]: c["call_id"] for c in fake.calls}
    for job in jobs:
        r = got[job.callee]
        assert r.job == job
        assert r.status is JobStatus.OK
        assert r.ok is True
        assert r.error is None
        assert r.call_id == call_ids[job.callee]
        assert r.attempts == 1
        assert isinstance(r.key, str)
        assert r.key
        assert fake.dials[job.callee] == 1
    assert len({r.key for r in results}) == len(jobs)


async def test_sync_generator_source(fake: FakeTel4vn, pbx: AutocallClient) -> None:
    def gen() -> Iterator[OtpJob]:
        for i in range(6):
            yield otp(i)

    results = await collect(pbx.fan_out(gen(), concurrency=2))
    assert sorted(r.job.callee for r in results) == [phone(i) for i in range(6)]
    assert all(r.ok for r in results)
    assert all(fake.dials[phone(i)] == 1 for i in range(6))


async def test_async_generator_source(fake: FakeTel4vn, pbx: AutocallClient) -> None:
    async def agen() -> AsyncIterator[OtpJob]:
        for i in range(6):
            await asyncio.sleep(0)
            yield otp(i)

    results = await collect(pbx.fan_out(agen(), concurrency=2))
    assert sorted(r.job.callee for r in results) == [phone(i) for i in range(6)]
    assert all(r.status is JobStatus.OK for r in results)


async def test_tts_jobs_send_their_params(fake: FakeTel4vn, pbx: AutocallClient) -> None:
    jobs = [tts(i) for i in range(3)]
    results = await collect(pbx.fan_out(jobs))
    assert [r.status for r in results] == [JobStatus.OK] * 3
    for req in fake.received(TTS):
        param = req.json["param"]
        assert param["template_name"] == "thong_bao_no_cuoc_01"
        assert param["customer_name"] == "An"
    assert sorted(sent_callees(fake, TTS)) == [phone(i) for i in range(3)]


async def test_run_returns_a_summary(fake: FakeTel4vn, pbx: AutocallClient) -> None:
    summary = await pbx.fan_out([otp(i) for i in range(5)] + [tts(9)], concurrency=4).run()
    assert isinstance(summary, BulkSummary)
    assert (summary.ok, summary.failed, summary.unknown, summary.skipped) == (6, 0, 0, 0)
    assert summary.total == 6
    assert isinstance(summary.elapsed, float)
    assert summary.elapsed > 0
    assert dict(summary.errors) == {}


async def test_empty_source(fake: FakeTel4vn, pbx: AutocallClient) -> None:
    assert await collect(pbx.fan_out([])) == []
    summary = await pbx.fan_out([]).run()
    assert summary.total == 0
    assert fake.count(OTP) == 0


# =========================================================================== bad jobs


async def test_bad_callee_fails_alone_with_validation_error_naming_the_field(
    fake: FakeTel4vn, pbx: AutocallClient
) -> None:
    bad = otp(2, callee="not-a-phone")  # building a bad job must not raise: it fails alone
    jobs = [otp(0), otp(1), bad, otp(3)]
    results = await collect(pbx.fan_out(jobs, concurrency=2))
    assert len(results) == 4
    failed = [r for r in results if r.status is JobStatus.FAILED]
    assert len(failed) == 1
    assert failed[0].job == bad
    assert failed[0].ok is False
    assert isinstance(failed[0].error, ValidationError)
    assert failed[0].error.field == "callee"
    assert failed[0].call_id is None
    assert "not-a-phone" not in sent_callees(fake)  # never sent
    assert [fake.dials[phone(i)] for i in (0, 1, 3)] == [1, 1, 1]


async def test_bad_code_and_bad_tts_field_each_fail_alone(
    fake: FakeTel4vn, pbx: AutocallClient
) -> None:
    jobs: list[OtpJob | TtsJob] = [otp(0, code="12 34!"), otp(1), tts(2, caller="x"), tts(3)]
    results = by_callee(await collect(pbx.fan_out(jobs)))
    assert results[phone(0)].status is JobStatus.FAILED
    err0 = results[phone(0)].error
    assert isinstance(err0, ValidationError)
    assert err0.field == "code"
    err2 = results[phone(2)].error
    assert isinstance(err2, ValidationError)
    assert err2.field == "caller"
    assert results[phone(1)].ok
    assert results[phone(3)].ok
    assert fake.count(OTP) + fake.count(TTS) == 2


async def test_server_rejection_is_failed_with_its_typed_error_and_not_retried(
    fake: FakeTel4vn, pbx: AutocallClient
) -> None:
    # A TTS job missing a key the template needs: the fake answers 400 with field errors.
    params = {"customer_name": "An", "due_amount": "1"}
    jobs = [tts(0, params=params), tts(1)]
    results = by_callee(await collect(pbx.fan_out(jobs, concurrency=1)))
    r = results[phone(0)]
    assert r.status is JobStatus.FAILED
    assert isinstance(r.error, BadRequestError)
    assert r.attempts == 1
    assert sent_callees(fake, TTS)[phone(0)] == 1
    assert results[phone(1)].ok
    summary = await pbx.fan_out([tts(5, params=params)]).run()
    assert summary.failed == 1
    assert summary.errors == {"BadRequestError": 1}


async def test_items_that_are_not_jobs_fail_alone(fake: FakeTel4vn, pbx: AutocallClient) -> None:
    items: list[Any] = [otp(0), None, {"callee": phone(1)}, "0900000002", otp(3)]
    results = await collect(pbx.fan_out(items))
    assert len(results) == 5
    assert Counter(r.status for r in results) == Counter({JobStatus.OK: 2, JobStatus.FAILED: 3})
    for r in results:
        if r.status is JobStatus.FAILED:
            assert isinstance(r.error, ValidationError)
    assert fake.count(OTP) == 2


async def test_bad_job_keeps_the_users_key(fake: FakeTel4vn, pbx: AutocallClient) -> None:
    results = await collect(pbx.fan_out([otp(1, callee="bad", key="row-7")]))
    assert results[0].status is JobStatus.FAILED
    assert results[0].key == "row-7"


async def test_a_source_that_raises_ends_the_run_without_hanging_or_redialling(
    fake: FakeTel4vn, pbx: AutocallClient
) -> None:
    def broken() -> Iterator[OtpJob]:
        yield otp(0)
        yield otp(1)
        raise OSError("the CSV went away")

    with contextlib.suppress(OSError):
        await asyncio.wait_for(pbx.fan_out(broken(), concurrency=2).run(), timeout=5)
    assert fake.dials[phone(0)] <= 1
    assert fake.dials[phone(1)] <= 1


# =========================================================================== keys


async def test_same_content_twice_is_dialled_once_and_the_repeat_skipped(
    fake: FakeTel4vn, pbx: AutocallClient
) -> None:
    jobs = [otp(1), otp(2), otp(1)]
    results = await collect(pbx.fan_out(jobs, concurrency=3))
    assert len(results) == 3
    statuses = Counter(r.status for r in results if r.job.callee == phone(1))
    assert statuses == Counter({JobStatus.OK: 1, JobStatus.SKIPPED: 1})
    assert len({r.key for r in results if r.job.callee == phone(1)}) == 1
    assert fake.dials[phone(1)] == 1
    assert sent_callees(fake)[phone(1)] == 1


async def test_a_repeat_of_an_unknown_job_is_skipped_not_dialled(
    fake: FakeTel4vn, pbx: AutocallClient
) -> None:
    fake.inject(OTP, drop="after")
    results = await collect(pbx.fan_out([otp(1), otp(1)], concurrency=1))
    assert Counter(r.status for r in results) == Counter(
        {JobStatus.UNKNOWN: 1, JobStatus.SKIPPED: 1}
    )
    assert fake.count(OTP) == 1


async def test_derived_key_depends_on_code_and_template(
    fake: FakeTel4vn, pbx: AutocallClient
) -> None:
    fake.seed_template(CAMPAIGN, "otp_other", "Ma {{code_otp}}", kind="otp")
    jobs = [
        otp(1, code="111111"),
        otp(1, code="222222"),
        otp(1, code="111111", template="otp_other"),
    ]
    results = await collect(pbx.fan_out(jobs, concurrency=1))
    assert [r.status for r in results] == [JobStatus.OK] * 3
    assert len({r.key for r in results}) == 3
    assert fake.dials[phone(1)] == 3


async def test_tts_derived_key_depends_on_params_not_their_order(
    fake: FakeTel4vn, pbx: AutocallClient
) -> None:
    other = dict(TTS_PARAMS, due_amount="999")
    reordered = dict(reversed(list(TTS_PARAMS.items())))
    jobs = [tts(1), tts(1, params=other), tts(1, params=reordered)]
    results = await collect(pbx.fan_out(jobs, concurrency=1))
    assert Counter(r.status for r in results) == Counter({JobStatus.OK: 2, JobStatus.SKIPPED: 1})
    assert fake.dials[phone(1)] == 2


async def test_user_key_dedupes_jobs_with_different_content(
    fake: FakeTel4vn, pbx: AutocallClient
) -> None:
    jobs = [otp(1, key="order-42"), otp(2, key="order-42"), otp(3)]
    results = await collect(pbx.fan_out(jobs, concurrency=1))
    keyed = [r for r in results if r.key == "order-42"]
    assert len(keyed) == 2
    assert Counter(r.status for r in keyed) == Counter({JobStatus.OK: 1, JobStatus.SKIPPED: 1})
    assert fake.dials[phone(1)] + fake.dials[phone(2)] == 1
    assert fake.dials[phone(3)] == 1


async def test_distinct_user_keys_dial_identical_content_twice(
    fake: FakeTel4vn, pbx: AutocallClient
) -> None:
    jobs = [otp(1, key="a"), otp(1, key="b")]
    results = await collect(pbx.fan_out(jobs, concurrency=1))
    assert sorted(key(r) for r in results) == ["a", "b"]
    assert all(r.ok for r in results)
    assert fake.dials[phone(1)] == 2


async def test_code_as_int_or_str_is_the_same_job(fake: FakeTel4vn, pbx: AutocallClient) -> None:
    results = await collect(pbx.fan_out([otp(1, code=123456), otp(1, code="123456")]))
    assert Counter(r.status for r in results) == Counter({JobStatus.OK: 1, JobStatus.SKIPPED: 1})
    assert fake.dials[phone(1)] == 1


# =========================================================================== retries


@pytest.mark.parametrize("status", [429, 503])
async def test_refused_unprocessed_is_retried_and_never_double_dialled(
    fake: FakeTel4vn, pbx: AutocallClient, status: int
) -> None:
    fake.inject(OTP, status=status, retry_after=0.01, times=3)
    jobs = [otp(i) for i in range(5)]
    results = await collect(pbx.fan_out(jobs, concurrency=2))
    assert all(r.status is JobStatus.OK for r in results)
    assert all(fake.dials[j.callee] == 1 for j in jobs)
    assert fake.count(OTP) == 8
    assert sum(r.attempts for r in results) == 8  # attempts counts the requests sent


async def test_persistent_429_is_never_unknown_and_never_dials_twice(
    fake: FakeTel4vn, pbx: AutocallClient
) -> None:
    fake.inject(OTP, status=429, retry_after=0.01, times=40)
    results = await collect(pbx.fan_out([otp(1)], concurrency=1))
    assert len(results) == 1
    r = results[0]
    assert r.status in (JobStatus.FAILED, JobStatus.OK)
    if r.status is JobStatus.FAILED:
        assert isinstance(r.error, RateLimitError)
    assert fake.dials[phone(1)] <= 1


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_5xx_on_a_call_is_unknown_and_not_redialled(
    fake: FakeTel4vn, pbx: AutocallClient, status: int
) -> None:
    fake.inject(OTP, status=status)
    jobs = [otp(0), otp(1), otp(2)]
    results = by_callee(await collect(pbx.fan_out(jobs, concurrency=1)))
    r = results[phone(0)]
    assert r.status is JobStatus.UNKNOWN
    assert r.ok is False
    assert isinstance(r.error, OutcomeUnknownError)
    assert r.error.status == status
    assert r.call_id is None
    assert r.attempts == 1
    assert sent_callees(fake)[phone(0)] == 1
    assert results[phone(1)].ok
    assert results[phone(2)].ok


@pytest.mark.parametrize("drop", ["after", "before"])
async def test_dropped_connection_is_unknown_and_not_redialled(
    fake: FakeTel4vn, pbx: AutocallClient, drop: str
) -> None:
    fake.inject(OTP, drop=drop)
    results = by_callee(await collect(pbx.fan_out([otp(0), otp(1)], concurrency=1)))
    assert results[phone(0)].status is JobStatus.UNKNOWN
    assert isinstance(results[phone(0)].error, OutcomeUnknownError)
    assert sent_callees(fake)[phone(0)] == 1
    assert fake.dials[phone(0)] == (1 if drop == "after" else 0)
    assert results[phone(1)].ok


async def test_timeout_on_a_call_is_unknown(fake: FakeTel4vn) -> None:
    fake.inject(OTP, delay=1.0)
    async with AutocallClient(
        fake.url, api_key=fake.api_key, retry_policy=FAST_RETRY, timeout=0.2
    ) as pbx:
        results = await collect(pbx.fan_out([otp(0)]))
    assert results[0].status is JobStatus.UNKNOWN
    assert isinstance(results[0].error, OutcomeUnknownError)
    assert sent_callees(fake)[phone(0)] == 1


async def test_connection_refused_is_failed_not_unknown() -> None:
    # Nothing listens on the port: the request provably never left, the call was not placed.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with AutocallClient(
        f"http://127.0.0.1:{port}", api_key="k", retry_policy=FAST_RETRY, max_retries=1
    ) as pbx:
        results = await collect(pbx.fan_out([otp(0), otp(1)]))
    assert [r.status for r in results] == [JobStatus.FAILED] * 2
    for r in results:
        assert not isinstance(r.error, OutcomeUnknownError)


# =========================================================================== summary


async def test_summary_counts_every_status_and_errors_by_class_name(
    fake: FakeTel4vn, pbx: AutocallClient
) -> None:
    fake.inject(OTP, status=500)
    jobs = [otp(0), otp(1, callee="bad"), otp(2), otp(3), otp(2)]
    summary = await pbx.fan_out(jobs, concurrency=1).run()
    assert summary.total == 5
    assert (summary.ok, summary.failed, summary.unknown, summary.skipped) == (2, 1, 1, 1)
    assert summary.ok + summary.failed + summary.unknown + summary.skipped == summary.total
    assert summary.errors["ValidationError"] == 1
    assert set(summary.errors) <= {"ValidationError", "OutcomeUnknownError"}
    assert summary.elapsed >= 0


# =========================================================================== throttle


async def test_rate_no_one_second_window_above_rate(fake: FakeTel4vn, pbx: AutocallClient) -> None:
    rate, n = 25, 27

    async def cold_then_idle() -> AsyncIterator[OtpJob]:
        for i in range(n):  # from a cold start
            yield otp(i)
        await asyncio.sleep(1.05)  # a throttle that saved up tokens while idle would burst now
        for i in range(n, 2 * n):
            yield otp(i)

    summary = await pbx.fan_out(cold_then_idle(), concurrency=20, rate=rate).run()
    assert summary.ok == 2 * n
    times = sorted(r.received_at for r in fake.received(OTP))
    assert len(times) == 2 * n
    # Measured on the fake's arrival stamps (time.time() once aiohttp has parsed the
    # request), with no allowance for jitter: a smooth pacer has ~1/rate to spare.
    worst = max(sum(1 for t in times if t0 <= t < t0 + 1.0) for t0 in times)
    assert worst <= rate, f"{worst} calls started within one second at rate={rate}"


async def test_concurrency_bounds_calls_in_flight(fake: FakeTel4vn, pbx: AutocallClient) -> None:
    fake.latency = 0.08
    await pbx.fan_out([otp(i) for i in range(12)], concurrency=3).run()
    times = sorted(r.received_at for r in fake.received(OTP))
    # Every request is held 80 ms by the server: requests arriving within 70 ms of each
    # other were all in flight together.
    worst = max(sum(1 for t in times if t0 <= t < t0 + 0.07) for t0 in times)
    assert worst <= 3


async def test_retry_after_pauses_every_job(fake: FakeTel4vn, pbx: AutocallClient) -> None:
    fake.latency = 0.03
    fake.inject(OTP, status=429, retry_after=0.4)
    await pbx.fan_out([otp(i) for i in range(9)], concurrency=3).run()
    log = fake.received(OTP)
    refused = next(r for r in log if r.status == 429)
    t0 = refused.received_at
    # The first wave went out together; once the 429 came back (t0 + 30 ms latency),
    # nothing may start before its Retry-After ran out (t0 + 430 ms; 50 ms slack).
    later = [r.received_at - t0 for r in log if r.received_at > t0 + 0.02]
    assert later, "no request after the 429"
    assert min(later) >= 0.38, f"a request went out {min(later):.3f}s after a 429 + 0.4s wait"


async def test_429_storm_requests_stay_near_the_job_count(
    fake: FakeTel4vn, pbx: AutocallClient
) -> None:
    n = 150
    fake.limit_rate(OTP, 150, burst=5)
    summary = await pbx.fan_out([otp(i) for i in range(n)], concurrency=20).run()
    assert summary.ok == n
    assert all(fake.dials[phone(i)] == 1 for i in range(n))
    sent = fake.count(OTP)
    assert sent <= 1.25 * n, f"{sent} requests for {n} jobs under a 429 storm"


async def test_rate_climbs_back_after_a_429_on_the_first_call(
    fake: FakeTel4vn, pbx: AutocallClient
) -> None:
    # concurrency=1 makes the 429 come back before any other call starts, every time.
    # The rate in force is read from the runner's throttle rather than timed: tests assert
    # no wall-clock figures (a busy machine sends slower than any rate).
    rate = 60
    fake.inject(OTP, status=429, retry_after=0.1)
    runner = pbx.fan_out([otp(i) for i in range(20)], concurrency=1, rate=rate)
    summary = await runner.run()
    assert summary.ok == 20
    assert summary.throttled == 1
    # One multiplicative decrease from the user's rate, then recovery: never the
    # one-call "measured" rate of the first tenth of a second.
    assert runner._throttle.rate is not None
    assert runner._throttle.rate >= 0.7 * rate


# =========================================================================== journal


async def test_journal_started_line_on_disk_before_request_and_finished_after(
    fake: FakeTel4vn, pbx: AutocallClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = tmp_path / "run.jsonl"
    seen_at_dial: dict[str, str] = {}
    record_call = fake.record_call

    def spy(kind: str, **kw: Any) -> dict[str, Any]:
        seen_at_dial[kw["callee"]] = journal.read_text(encoding="utf-8")
        return record_call(kind, **kw)

    monkeypatch.setattr(fake, "record_call", spy)
    jobs = [otp(i) for i in range(4)]
    results = await collect(pbx.fan_out(jobs, concurrency=2, journal=str(journal)))
    keys = {r.job.callee: key(r) for r in results}
    for callee, text in seen_at_dial.items():
        started = [
            json.loads(line)
            for line in text.splitlines()
            if line.strip() and keys[callee] in line and "started" in line
        ]
        assert started, f"no started line for {callee} when the server dialled it"
    index = journal_index(journal, keys.values())
    for r in results:
        assert index[key(r)] == ["started", "finished"], (r.key, index[key(r)])
    finished = [
        rec
        for rec in journal_records(journal)
        if mentions(rec, "finished") and mentions(rec, key(results[0]))
    ]
    assert mentions(finished[0], results[0].call_id or "?")


async def test_rerun_with_journal_skips_finished_jobs(
    fake: FakeTel4vn, pbx: AutocallClient, tmp_path: Path
) -> None:
    journal = str(tmp_path / "run.jsonl")
    jobs = [otp(i) for i in range(5)]
    first = await pbx.fan_out(jobs, concurrency=2, journal=journal).run()
    assert first.ok == 5
    sent = fake.count(OTP)
    results = await collect(pbx.fan_out(jobs, concurrency=2, journal=journal))
    assert len(results) == 5
    assert all(r.status is JobStatus.SKIPPED for r in results)
    assert fake.count(OTP) == sent
    summary = await pbx.fan_out(iter(jobs), journal=journal).run()
    assert (summary.skipped, summary.total) == (5, 5)


async def test_unknown_is_not_redialled_on_rerun_unless_redial_unknown(
    fake: FakeTel4vn, pbx: AutocallClient, tmp_path: Path
) -> None:
    journal = str(tmp_path / "run.jsonl")
    fake.inject(OTP, drop="after")
    jobs = [otp(0), otp(1)]
    first = by_callee(await collect(pbx.fan_out(jobs, concurrency=1, journal=journal)))
    assert first[phone(0)].status is JobStatus.UNKNOWN
    again = by_callee(await collect(pbx.fan_out(jobs, concurrency=1, journal=journal)))
    assert again[phone(0)].status in (JobStatus.UNKNOWN, JobStatus.SKIPPED)
    assert again[phone(1)].status is JobStatus.SKIPPED
    assert fake.dials[phone(0)] == 1
    assert sent_callees(fake)[phone(0)] == 1
    redial = by_callee(
        await collect(pbx.fan_out(jobs, concurrency=1, journal=journal, redial_unknown=True))
    )
    assert redial[phone(0)].status is JobStatus.OK
    assert fake.dials[phone(0)] == 2
    assert redial[phone(1)].status is JobStatus.SKIPPED
    assert fake.dials[phone(1)] == 1


async def test_started_without_finished_is_unknown_on_rerun(
    fake: FakeTel4vn, pbx: AutocallClient, tmp_path: Path
) -> None:
    journal = tmp_path / "run.jsonl"
    jobs = [otp(i) for i in range(3)]
    results = await collect(pbx.fan_out(jobs, concurrency=1, journal=str(journal)))
    # Remove the last finished line, as if the process died between dial and answer.
    lines = journal.read_text(encoding="utf-8").splitlines(keepends=True)
    last = json.loads(lines[-1])
    assert mentions(last, "finished")
    lost = next(r for r in results if mentions(last, key(r)))
    journal.write_text("".join(lines[:-1]), encoding="utf-8")
    again = by_callee(await collect(pbx.fan_out(jobs, concurrency=1, journal=str(journal))))
    assert again[lost.job.callee].status is JobStatus.UNKNOWN
    assert all(r.status is JobStatus.SKIPPED for c, r in again.items() if c != lost.job.callee)
    assert fake.dials[lost.job.callee] == 1
    await pbx.fan_out(jobs, journal=str(journal), redial_unknown=True).run()
    assert fake.dials[lost.job.callee] == 2
    assert all(fake.dials[j.callee] == 1 for j in jobs if j.callee != lost.job.callee)


async def test_torn_last_line_is_tolerated_and_the_journal_stays_usable(
    fake: FakeTel4vn, pbx: AutocallClient, tmp_path: Path
) -> None:
    journal = tmp_path / "run.jsonl"
    jobs = [otp(i) for i in range(4)]
    results = await collect(pbx.fan_out(jobs, concurrency=1, journal=str(journal)))
    text = journal.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    lost = next(r for r in results if mentions(json.loads(lines[-1]), key(r)))
    journal.write_text("".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2], encoding="utf-8")
    second = by_callee(await collect(pbx.fan_out(jobs, concurrency=1, journal=str(journal))))
    assert second[lost.job.callee].status is JobStatus.UNKNOWN
    assert sum(r.status is JobStatus.SKIPPED for r in second.values()) == 3
    # The run after must still read the journal: the torn fragment was not glued to a
    # line written after it.
    third = by_callee(await collect(pbx.fan_out(jobs, concurrency=1, journal=str(journal))))
    assert third[lost.job.callee].status in (JobStatus.UNKNOWN, JobStatus.SKIPPED)
    assert all(fake.dials[j.callee] == 1 for j in jobs)


async def test_journal_of_other_jobs_is_refused_before_any_dial(
    fake: FakeTel4vn, pbx: AutocallClient, tmp_path: Path
) -> None:
    journal = tmp_path / "run.jsonl"
    await pbx.fan_out([otp(i) for i in range(3)], journal=str(journal)).run()
    sent = fake.count(OTP)
    with pytest.raises(JournalError) as caught:
        await pbx.fan_out([otp(i) for i in range(100, 103)], journal=str(journal)).run()
    assert isinstance(caught.value, Tel4vnError)
    assert "journal" in str(caught.value).lower()
    assert fake.count(OTP) == sent
    assert all(fake.dials[phone(i)] == 0 for i in range(100, 103))


async def test_journal_of_other_jobs_is_refused_when_iterating_too(
    fake: FakeTel4vn, pbx: AutocallClient, tmp_path: Path
) -> None:
    journal = tmp_path / "run.jsonl"
    await pbx.fan_out([tts(i) for i in range(2)], journal=str(journal)).run()
    with pytest.raises(JournalError):
        await collect(pbx.fan_out([otp(i) for i in range(50, 52)], journal=str(journal)))
    assert fake.count(OTP) == 0


async def test_journal_survives_cancel_and_rerun_dials_no_one_twice(
    fake: FakeTel4vn, pbx: AutocallClient, tmp_path: Path
) -> None:
    journal = str(tmp_path / "run.jsonl")
    fake.latency = 0.03
    jobs = [otp(i) for i in range(24)]
    task = asyncio.ensure_future(pbx.fan_out(jobs, concurrency=4, journal=str(journal)).run())
    await until_sent(fake, 6)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    first_dials = {j.callee: fake.dials[j.callee] for j in jobs}
    assert sum(first_dials.values()) < len(jobs), "the cancel came too late to test anything"
    fake.latency = 0.0
    results = by_callee(await collect(pbx.fan_out(jobs, concurrency=4, journal=str(journal))))
    assert len(results) == len(jobs)
    for job in jobs:
        r = results[job.callee]
        assert fake.dials[job.callee] <= 1, f"{job.callee} dialled twice"
        if first_dials[job.callee]:
            assert r.status in (JobStatus.SKIPPED, JobStatus.UNKNOWN), (job.callee, r.status)
        else:
            assert r.status in (JobStatus.OK, JobStatus.UNKNOWN), (job.callee, r.status)
    assert sum(r.status is JobStatus.OK for r in results.values()) > 0


async def test_two_runs_on_one_journal_at_once_never_dial_twice(
    fake: FakeTel4vn, pbx: AutocallClient, tmp_path: Path
) -> None:
    journal = str(tmp_path / "run.jsonl")
    fake.latency = 0.01
    jobs = [otp(i) for i in range(12)]
    outcomes = await asyncio.gather(
        pbx.fan_out(jobs, concurrency=3, journal=journal).run(),
        pbx.fan_out(jobs, concurrency=3, journal=journal).run(),
        return_exceptions=True,
    )
    for outcome in outcomes:
        assert isinstance(outcome, BulkSummary | JournalError), outcome
    assert all(fake.dials[j.callee] == 1 for j in jobs)


async def test_damage_before_the_last_line_never_causes_a_redial(
    fake: FakeTel4vn, pbx: AutocallClient, tmp_path: Path
) -> None:
    journal = tmp_path / "run.jsonl"
    jobs = [otp(i) for i in range(5)]
    await pbx.fan_out(jobs, concurrency=1, journal=str(journal)).run()
    lines = journal.read_text(encoding="utf-8").splitlines(keepends=True)
    finished = [i for i, line in enumerate(lines) if '"finished"' in line]
    lines[finished[1]] = lines[finished[1]][:25] + "\n"  # a finished line, not the last
    journal.write_text("".join(lines), encoding="utf-8")
    with contextlib.suppress(JournalError):
        await pbx.fan_out(jobs, concurrency=1, journal=str(journal)).run()
    assert all(fake.dials[j.callee] == 1 for j in jobs)


async def test_unusable_journal_path_is_refused_before_any_dial(
    fake: FakeTel4vn, pbx: AutocallClient, tmp_path: Path
) -> None:
    with pytest.raises(JournalError):
        await pbx.fan_out([otp(0)], journal=str(tmp_path / "missing" / "run.jsonl")).run()
    assert fake.count(OTP) == 0


async def test_finished_line_records_status_and_error(
    fake: FakeTel4vn, pbx: AutocallClient, tmp_path: Path
) -> None:
    journal = tmp_path / "run.jsonl"
    fake.inject(OTP, status=500)
    results = await collect(pbx.fan_out([otp(0), otp(1)], concurrency=1, journal=str(journal)))
    unknown = next(r for r in results if r.status is JobStatus.UNKNOWN)
    assert unknown.key is not None
    records = [r for r in journal_records(journal) if mentions(r, unknown.key)]
    finished = [r for r in records if mentions(r, "finished")]
    assert len(finished) == 1
    text = json.dumps(finished[0]).lower()
    assert "unknown" in text
    assert "500" in text or "outcomeunknown" in text


KILL_SCRIPT = textwrap.dedent(
    """
    import asyncio, os, sys

    url, key, journal = sys.argv[1:4]
    real_fsync, real_fdatasync = os.fsync, os.fdatasync

    def note(fd):
        # After each fsync of the journal, tell the parent how many bytes are on disk.
        try:
            if os.path.samefile(f"/proc/self/fd/{fd}", journal):
                with open(journal + ".tmp", "w") as f:
                    f.write(str(os.fstat(fd).st_size))
                os.replace(journal + ".tmp", journal + ".synced")
        except OSError:
            pass

    def fsync(fd):
        real_fsync(fd)
        note(fd)

    def fdatasync(fd):
        real_fdatasync(fd)
        note(fd)

    os.fsync, os.fdatasync = fsync, fdatasync  # before the SDK is imported

    from tel4vn_async import AutocallClient, OtpJob

    async def main() -> None:
        jobs = (OtpJob(callee=f"09{i:08d}", code=f"{i:06d}", template="otp_demo",
                       caller="0123456789", campaign_id=1, key=f"k09{i:08d}")
                for i in range(40))
        async with AutocallClient(url, api_key=key) as pbx:
            await pbx.fan_out(jobs, concurrency=4, journal=journal).run()

    asyncio.run(main())
    """
)


async def test_sigkill_mid_run_then_rerun_accounts_for_every_job_once(
    fake: FakeTel4vn, pbx: AutocallClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = tmp_path / "run.jsonl"
    synced_file = tmp_path / "run.jsonl.synced"
    fake.latency = 0.02
    # Whenever the server places a call, that call's started line must already be fsynced.
    unsynced: list[str] = []
    record_call = fake.record_call

    def spy(kind: str, **kw: Any) -> dict[str, Any]:
        size = int(synced_file.read_text()) if synced_file.exists() else 0
        if f'"k{kw["callee"]}"' not in journal.read_bytes()[:size].decode("utf-8", "replace"):
            unsynced.append(kw["callee"])
        return record_call(kind, **kw)

    monkeypatch.setattr(fake, "record_call", spy)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        KILL_SCRIPT,
        fake.url,
        fake.api_key,
        str(journal),
        env={**os.environ, "PYTHONHASHSEED": "random"},
    )
    try:
        for _ in range(2000):  # 10 s at most
            if fake.count(OTP) >= 10 or proc.returncode is not None:
                break
            await asyncio.sleep(0.005)
    finally:
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    monkeypatch.setattr(fake, "record_call", record_call)
    assert unsynced == [], "called before the started line was fsynced"
    fake.latency = 0.0
    jobs = [otp(i, key=f"k{phone(i)}") for i in range(40)]
    dialled_before = {j.callee for j in jobs if fake.dials[j.callee]}
    assert 0 < len(dialled_before) < 40
    results = by_callee(await collect(pbx.fan_out(jobs, concurrency=4, journal=str(journal))))
    assert len(results) == 40
    for job in jobs:
        assert fake.dials[job.callee] <= 1, f"{job.callee} dialled twice"
        status = results[job.callee].status
        if job.callee in dialled_before:
            assert status in (JobStatus.SKIPPED, JobStatus.UNKNOWN)
        else:
            assert status in (JobStatus.OK, JobStatus.UNKNOWN)
    # Nothing got lost: OK or SKIPPED means dialled exactly once.
    for job in jobs:
        if results[job.callee].status in (JobStatus.OK, JobStatus.SKIPPED):
            assert fake.dials[job.callee] == 1


# =========================================================================== reconcile


async def test_reconcile_finds_the_call_of_an_unknown_job(
    fake: FakeTel4vn, pbx: AutocallClient
) -> None:
    fake.inject(OTP, drop="after")
    results = by_callee(await collect(pbx.fan_out([otp(0), otp(1)], concurrency=1, reconcile=True)))
    r = results[phone(0)]
    assert r.status is JobStatus.OK
    assert r.call_id == fake.calls_to(phone(0))[0]["call_id"]
    assert fake.dials[phone(0)] == 1
    assert sent_callees(fake)[phone(0)] == 1


async def test_reconcile_without_a_matching_report_stays_unknown(
    fake: FakeTel4vn, pbx: AutocallClient
) -> None:
    fake.inject(OTP, status=500)  # refused before the handler: no call, no report
    # Reports that must not match: another caller; another template; the same call long ago.
    fake.record_call(
        "OTP",
        caller="0999999999",
        callee=phone(0),
        campaign_id="1",
        param={"template_name": "otp_demo", "code_otp": "000000"},
    )
    fake.record_call(
        "OTP",
        caller=CALLER,
        callee=phone(0),
        campaign_id="1",
        param={"template_name": "otp_elsewhere", "code_otp": "000000"},
    )
    old = fake.record_call(
        "OTP",
        caller=CALLER,
        callee=phone(0),
        campaign_id="1",
        param={"template_name": "otp_demo", "code_otp": "000000"},
    )
    for field in ("create_time", "start_time"):
        old[field] = "2020-01-01T00:00:00Z"
    old["end_time"] = "2020-01-01T00:00:15Z"
    old["answer_time"] = "2020-01-01T00:00:06Z"
    summary = await pbx.fan_out([otp(0)], reconcile=True).run()
    assert (summary.unknown, summary.ok) == (1, 0)
    assert fake.dials[phone(0)] == 0
    assert fake.count("/v1/report") >= 1  # it did look


async def test_reconcile_on_rerun_settles_a_journaled_unknown(
    fake: FakeTel4vn, pbx: AutocallClient, tmp_path: Path
) -> None:
    journal = str(tmp_path / "run.jsonl")
    fake.inject(OTP, drop="after")
    first = await collect(pbx.fan_out([otp(0)], journal=journal))
    assert first[0].status is JobStatus.UNKNOWN
    again = await collect(pbx.fan_out([otp(0)], journal=journal, reconcile=True))
    assert again[0].status is JobStatus.OK
    assert again[0].call_id == fake.calls_to(phone(0))[0]["call_id"]
    assert fake.dials[phone(0)] == 1


async def test_reconcile_never_takes_another_jobs_call(
    fake: FakeTel4vn, pbx: AutocallClient
) -> None:
    # Same callee, caller and template: job A is placed normally, job B meets a 500 (its
    # call never placed). A's report lies in the run's window and must not settle B.
    def fail_next(result: JobResult) -> None:
        fake.inject(OTP, status=500)

    jobs = [otp(5, code="111111"), otp(5, code="222222")]
    results = await collect(pbx.fan_out(jobs, concurrency=1, reconcile=True, on_result=fail_next))
    fake.clear_faults()
    got = {r.job.code: r for r in results}
    assert got["111111"].status is JobStatus.OK
    assert got["222222"].status is JobStatus.UNKNOWN
    assert got["222222"].call_id is None
    assert fake.dials[phone(5)] == 1


async def test_reconcile_reads_past_the_first_page_of_reports(
    fake: FakeTel4vn, pbx: AutocallClient
) -> None:
    for k in range(25):  # other calls to the same person, listed before ours
        fake.record_call(
            "OTP",
            caller=CALLER,
            callee=phone(7),
            campaign_id="1",
            param={"template_name": "otp_demo", "code_otp": f"9{k:05d}"},
        )
    fake.inject(OTP, drop="after")
    results = await collect(pbx.fan_out([otp(7, code="555555")], reconcile=True))
    assert results[0].status is JobStatus.OK
    assert results[0].call_id == fake.calls_to(phone(7))[-1]["call_id"]


async def test_reconcile_settles_a_tts_job_and_journals_the_settlement(
    fake: FakeTel4vn, pbx: AutocallClient, tmp_path: Path
) -> None:
    journal = str(tmp_path / "run.jsonl")
    fake.inject(TTS, drop="after")
    jobs = [tts(3), tts(4)]
    first = await pbx.fan_out(jobs, concurrency=1, journal=journal, reconcile=True).run()
    assert (first.ok, first.unknown) == (2, 0)
    again = await collect(pbx.fan_out(jobs, concurrency=1, journal=journal))
    assert [r.status for r in again] == [JobStatus.SKIPPED] * 2
    assert fake.dials[phone(3)] == fake.dials[phone(4)] == 1


# =========================================================================== progress, callbacks


async def test_progress_bar_with_tqdm(
    fake: FakeTel4vn, pbx: AutocallClient, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("tqdm")
    fake.inject(OTP, status=500)
    summary = await pbx.fan_out([otp(i) for i in range(5)], concurrency=1, progress=True).run()
    assert summary.total == 5
    err = capsys.readouterr().err.lower()
    assert "5/5" in err
    assert "/s" in err  # the rate (tqdm puts the ETA next to it)
    for word in ("ok", "unknown"):
        assert word in err, f"{word!r} missing from the progress bar: {err[-300:]!r}"


async def test_progress_on_resume_starts_at_the_jobs_already_done(
    fake: FakeTel4vn, pbx: AutocallClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("tqdm")
    journal = str(tmp_path / "run.jsonl")
    jobs = [otp(i) for i in range(5)]
    # The first run is the head of the same file (how a run stopped early looks).
    await pbx.fan_out(jobs[:3], journal=journal).run()
    capsys.readouterr()
    await pbx.fan_out(jobs, journal=journal, progress=True).run()
    frames = capsys.readouterr().err.replace("\r", "\n").split("\n")
    counts = [f for f in frames if "/5" in f]
    assert counts, frames
    assert "3/5" in counts[0], counts[0]
    assert "5/5" in counts[-1], counts[-1]


async def test_progress_without_tqdm_logs_instead(
    fake: FakeTel4vn,
    pbx: AutocallClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for name in ("tqdm", "tqdm.auto", "tqdm.asyncio", "tqdm.std"):
        monkeypatch.setitem(sys.modules, name, None)
    caplog.set_level(logging.INFO)
    summary = await pbx.fan_out([otp(i) for i in range(3)], progress=True).run()
    assert summary.ok == 3
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("tel4vn_async")]
    assert any("ok" in line for line in lines), lines  # the log line stands in for the bar


async def test_on_result_sync_is_called_once_per_result(
    fake: FakeTel4vn, pbx: AutocallClient
) -> None:
    seen: list[JobResult] = []
    jobs = [otp(0), otp(1), otp(0), otp(2, callee="x")]
    await pbx.fan_out(jobs, on_result=seen.append).run()
    assert len(seen) == 4
    assert Counter(r.status for r in seen) == Counter(
        {JobStatus.OK: 2, JobStatus.SKIPPED: 1, JobStatus.FAILED: 1}
    )


async def test_on_result_async_is_awaited(fake: FakeTel4vn, pbx: AutocallClient) -> None:
    seen: list[str] = []

    async def cb(result: JobResult) -> None:
        await asyncio.sleep(0.001)
        seen.append(result.job.callee)

    results = await collect(pbx.fan_out([otp(i) for i in range(4)], on_result=cb))
    assert sorted(seen) == sorted(r.job.callee for r in results)


async def test_on_result_raising_is_logged_not_fatal(
    fake: FakeTel4vn, pbx: AutocallClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)

    def boom(result: JobResult) -> None:
        raise RuntimeError("callback-exploded")

    async def aboom(result: JobResult) -> None:
        raise RuntimeError("async-callback-exploded")

    summary = await pbx.fan_out([otp(i) for i in range(3)], on_result=boom).run()
    assert summary.ok == 3
    results = await collect(pbx.fan_out([otp(i) for i in range(10, 13)], on_result=aboom))
    assert [r.status for r in results] == [JobStatus.OK] * 3
    text = "\n".join(
        r.getMessage() + (str(r.exc_info[1]) if r.exc_info else "") for r in caplog.records
    )
    assert "callback-exploded" in text
    assert "async-callback-exploded" in text


# =========================================================================== stopping


def counting(n: int, pulled: list[int], *, keyed: bool = False) -> Iterator[OtpJob]:
    """Jobs 0..n-1, counting in ``pulled[0]`` how many were taken; keyed ``k<callee>``."""
    for i in range(n):
        pulled[0] += 1
        yield otp(i, key=f"k{phone(i)}") if keyed else otp(i)


def assert_started_before_sent(fake: FakeTel4vn, journal: Path) -> None:
    """Every request that reached the server has its started line (jobs keyed ``k<callee>``),
    and every finished line follows a started one."""
    callees = set(sent_callees(fake))
    assert callees
    index = journal_index(journal, {f"k{c}" for c in callees})
    for callee in callees:
        kinds = index[f"k{callee}"]
        assert kinds[:1] == ["started"], (callee, kinds)
        assert kinds.count("started") == 1, (callee, kinds)


async def test_break_out_of_async_for_stops_pulling_and_dialling(
    fake: FakeTel4vn, pbx: AutocallClient, tmp_path: Path
) -> None:
    fake.latency = 0.02
    pulled = [0]
    before = live_tasks()
    journal = tmp_path / "run.jsonl"
    got = 0
    runner = pbx.fan_out(counting(100_000, pulled, keyed=True), concurrency=4, journal=str(journal))
    async for _result in runner:
        got += 1
        if got == 3:
            break
    del runner
    await asyncio.sleep(0.1)  # calls in flight may finish
    settled = fake.count(OTP)
    pulled_then = pulled[0]
    await asyncio.sleep(0.3)
    assert fake.count(OTP) == settled, "still dialling after the loop was left"
    assert pulled[0] == pulled_then, "still pulling jobs after the loop was left"
    # a window of jobs a few times `concurrency` may be pulled ahead; 100,000 must not be
    assert pulled[0] <= settled + 3 * 4 + 4, f"{pulled[0]} jobs pulled for {settled} sent"
    assert live_tasks() - before == set()
    assert_started_before_sent(fake, journal)


async def test_cancelling_run_stops_pulling_and_propagates(
    fake: FakeTel4vn, pbx: AutocallClient, tmp_path: Path
) -> None:
    fake.latency = 0.02
    pulled = [0]
    before = live_tasks()
    journal = tmp_path / "run.jsonl"
    jobs = counting(100_000, pulled, keyed=True)
    task = asyncio.ensure_future(pbx.fan_out(jobs, concurrency=4, journal=str(journal)).run())
    await until_sent(fake, 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    settled, pulled_then = fake.count(OTP), pulled[0]
    await asyncio.sleep(0.3)
    assert fake.count(OTP) == settled
    assert pulled[0] == pulled_then
    assert pulled[0] <= settled + 3 * 4 + 4
    assert live_tasks() - before == set()
    assert_started_before_sent(fake, journal)


async def test_timeout_around_run_is_honoured(fake: FakeTel4vn, pbx: AutocallClient) -> None:
    fake.latency = 0.02
    pulled = [0]
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(
            pbx.fan_out(counting(100_000, pulled), concurrency=2).run(), timeout=0.2
        )
    assert pulled[0] < 100


async def test_second_cancel_exits_at_once_and_the_rerun_redials_no_one(
    fake: FakeTel4vn, pbx: AutocallClient, tmp_path: Path
) -> None:
    journal = str(tmp_path / "run.jsonl")
    fake.latency = 0.5  # calls in flight for half a second
    jobs = [otp(i, key=f"k{phone(i)}") for i in range(8)]
    task = asyncio.ensure_future(pbx.fan_out(jobs, concurrency=3, journal=journal).run())
    await until_sent(fake, 3)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    task.cancel()
    await asyncio.sleep(0.05)
    task.cancel()  # the second Ctrl-C
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert loop.time() - t0 < 0.3, "a second cancel waited for the calls in flight"
    assert_started_before_sent(fake, Path(journal))
    await asyncio.sleep(0.5)  # the server finishes placing the calls it got
    fake.latency = 0.0
    results = by_callee(await collect(pbx.fan_out(jobs, concurrency=3, journal=journal)))
    assert all(fake.dials[j.callee] == 1 for j in jobs)
    cut = {c for c, n in sent_callees(fake).items() if n}
    for job in jobs:
        assert sent_callees(fake)[job.callee] == 1
        if job.callee in cut and results[job.callee].status is not JobStatus.OK:
            assert results[job.callee].status in (JobStatus.UNKNOWN, JobStatus.SKIPPED)


async def test_cancel_during_a_retry_after_wait_is_prompt(
    fake: FakeTel4vn, pbx: AutocallClient
) -> None:
    fake.inject(OTP, status=429, retry_after=4)
    task = asyncio.ensure_future(pbx.fan_out([otp(i) for i in range(3)], concurrency=1).run())
    await until_sent(fake, 1)
    await asyncio.sleep(0.05)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert loop.time() - t0 < 1.0


async def test_nothing_is_sent_until_iterated(fake: FakeTel4vn, pbx: AutocallClient) -> None:
    runner = pbx.fan_out([otp(0)])
    await asyncio.sleep(0.05)
    assert fake.count(OTP) == 0
    assert (await runner.run()).ok == 1


async def test_bad_arguments_are_refused_at_once(fake: FakeTel4vn, pbx: AutocallClient) -> None:
    for kwargs in ({"concurrency": 0}, {"rate": 0}, {"rate": -1.0}):
        with pytest.raises(ValidationError):
            await pbx.fan_out([otp(0)], **kwargs).run()
    assert fake.count(OTP) == 0


async def test_task_count_does_not_grow_with_jobs(fake: FakeTel4vn, pbx: AutocallClient) -> None:
    peak = [0]
    before = len(asyncio.all_tasks())

    def sample(result: JobResult) -> None:
        peak[0] = max(peak[0], len(asyncio.all_tasks()) - before)

    jobs = [otp(i) for i in range(150)]
    summary = await pbx.fan_out(jobs, concurrency=5, on_result=sample).run()
    assert summary.ok == 150
    # the workers, a journal/progress helper or two, and the fake's side of 5 connections
    assert peak[0] <= 5 + 5 + 10, f"{peak[0]} tasks alive for 150 jobs at concurrency 5"


# =========================================================================== secrets


async def test_secrets_never_in_journal_repr_or_error_text(
    fake: FakeTel4vn, pbx: AutocallClient, tmp_path: Path
) -> None:
    secret = "cb-SECRET-7f3a9"
    journal = tmp_path / "run.jsonl"
    good = otp(0, callback_url="https://hooks.example.vn/x", callback_apikey=secret)
    bad = otp(1, callee="nope", callback_url="https://hooks.example.vn/x", callback_apikey=secret)
    worse = otp(2, callback_url="ftp://nowhere", callback_apikey=secret)
    runner = pbx.fan_out([good, bad, worse], journal=str(journal))
    assert secret not in repr(runner)
    assert fake.api_key not in repr(runner)
    results = await collect(runner)
    token = fake.received(OTP)[0].token or "no-token"
    text = journal.read_text(encoding="utf-8")
    for leak in (secret, fake.api_key, token):
        assert leak not in text, "a secret in the journal"
    for obj in (good, bad, *results):
        assert secret not in repr(obj)
        assert secret not in str(obj)
    for r in results:
        if r.error is not None:
            assert secret not in str(r.error)
            assert secret not in repr(r.error)
    summary = await pbx.fan_out([otp(3, callback_apikey=secret)]).run()
    assert secret not in repr(summary)
    # the secret was sent to the server, where it belongs
    assert fake.received(OTP)[0].json["callback_apikey"] == secret
