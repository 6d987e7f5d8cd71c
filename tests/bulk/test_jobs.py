"""The pure parts of a bulk run: jobs, keys, the source, the fingerprint, report matching,
results and the progress line."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tel4vn_async import BulkSummary, JobResult, JobStatus, OtpJob, TtsJob, ValidationError
from tel4vn_async.autocall.calls import otp_body, tts_body
from tel4vn_async.bulk._jobs import OTP_PATH, TTS_PATH, prepare
from tel4vn_async.bulk._progress import Progress
from tel4vn_async.bulk._reconcile import SLACK, matches
from tel4vn_async.bulk._results import Tally
from tel4vn_async.bulk._source import Source, fingerprint
from tel4vn_async.errors import BadRequestError, OutcomeUnknownError
from tel4vn_async.models import Report


def otp(callee: str = "0987654321", code: str | int = "123456", **kw: Any) -> OtpJob:
    fields: dict[str, Any] = {"template": "otp_demo", "caller": "0281234567", "campaign_id": 1}
    fields.update(kw)
    return OtpJob(callee, code, **fields)


def tts(callee: str = "0987654321", **params: Any) -> TtsJob:
    return TtsJob(callee, "notice", params or {"name": "An"}, "0281234567")


# --------------------------------------------------------------------------- prepare


def test_an_otp_job_sends_what_calls_otp_sends() -> None:
    job = otp(callback_url="https://hooks.example.vn/a", callback_apikey="s3cret-key")
    prepared = prepare(job)
    assert prepared.path == OTP_PATH
    assert prepared.body == otp_body(
        campaign_id=1,
        caller="0281234567",
        callee="0987654321",
        template="otp_demo",
        code="123456",
        callback_url="https://hooks.example.vn/a",
        callback_apikey="s3cret-key",
    )
    assert prepared.callee == "0987654321"
    assert prepared.caller == "0281234567"
    assert prepared.param == {"template_name": "otp_demo", "code_otp": "123456"}


def test_a_tts_job_sends_what_calls_tts_sends() -> None:
    prepared = prepare(TtsJob("0987654321", "notice", {"name": "An", "n": 5}, "0281234567"))
    assert prepared.path == TTS_PATH
    assert prepared.body == tts_body(
        caller="0281234567", template="notice", callee="0987654321", params={"name": "An", "n": 5}
    )
    assert prepare(TtsJob("0987654321", "notice", None, "0281234567")).param == {
        "template_name": "notice"
    }


def test_the_secret_is_not_in_a_jobs_repr() -> None:
    assert "s3cret-key" not in repr(otp(callback_url="https://h.vn/", callback_apikey="s3cret-key"))


@pytest.mark.parametrize(
    ("job", "field"),
    [
        (otp(callee="12"), "callee"),
        (otp(code="12 34"), "code"),
        (otp(template=""), "template"),
        (otp(caller=None), "caller"),
        (otp(campaign_id=-1), "campaign_id"),
        (otp(key=""), "key"),
        (otp(key="k" * 256), "key"),
        (otp(key=5), "key"),
        (otp(callback_apikey="k"), "callback_apikey"),
        (TtsJob("0987654321", "notice", {"x": 1.5}, "0281234567"), "params.x"),
        (TtsJob("0987654321", "notice", ["x"], "0281234567"), "params"),  # type: ignore[arg-type]
        ({"callee": "0987654321"}, "job"),
        (None, "job"),
    ],
)
def test_a_bad_job_is_refused_naming_its_field(job: Any, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        prepare(job)
    assert caught.value.field == field


def test_derived_keys_follow_the_callee_the_template_and_the_code() -> None:
    key = prepare(otp()).key
    assert key.startswith("otp-")
    assert len(key) == 36
    assert prepare(otp()).key == key
    # The same call to the same person from another line or campaign is the same job.
    assert prepare(otp(caller="0289999999", campaign_id=7)).key == key
    assert prepare(otp(code=123456)).key == key  # the code as sent: "123456" either way
    assert prepare(otp(code="654321")).key != key
    assert prepare(otp(callee="0987654322")).key != key
    assert prepare(otp(template="other")).key != key
    assert prepare(tts()).key.startswith("tts-")
    assert prepare(tts(name="An")).key != prepare(tts(name="Binh")).key


def test_a_users_key_is_kept() -> None:
    assert prepare(otp(key="order-42")).key == "order-42"


@given(st.lists(st.tuples(st.from_regex(r"0[0-9]{9}", fullmatch=True), st.integers(0, 999999))))
def test_distinct_calls_have_distinct_keys(calls: list[tuple[str, int]]) -> None:
    keys = {prepare(otp(callee=c, code=f"{n:06d}")).key for c, n in calls}
    assert len(keys) == len(set(calls))


# --------------------------------------------------------------------------- source


def _drain(source: Source) -> list[tuple[int, Any]]:
    async def go() -> list[tuple[int, Any]]:
        out = []
        while (item := await source.next()) is not None:
            out.append(item)
        return out

    return asyncio.run(go())


def test_a_source_hands_out_the_head_first_then_the_rest_in_order() -> None:
    pulled: list[int] = []

    def gen() -> Iterator[int]:
        for i in range(10):
            pulled.append(i)
            yield i

    source = Source(gen())
    assert source.total is None
    assert asyncio.run(source.read_head(3)) == [0, 1, 2]
    assert pulled == [0, 1, 2]  # lazily: nothing past the head yet
    assert _drain(source) == list(enumerate(range(10)))


def test_an_async_source_is_read_by_many_workers_without_overlap() -> None:
    async def gen() -> AsyncIterator[int]:
        for i in range(200):
            await asyncio.sleep(0)
            yield i

    async def go() -> list[tuple[int, Any]]:
        source = Source(gen())
        out: list[tuple[int, Any]] = []

        async def worker() -> None:
            while (item := await source.next()) is not None:
                out.append(item)

        await asyncio.gather(*(worker() for _ in range(20)))
        return out

    out = asyncio.run(go())
    assert sorted(out) == list(enumerate(range(200)))


def test_a_sized_source_knows_its_total() -> None:
    assert Source([1, 2, 3]).total == 3


@pytest.mark.parametrize("jobs", ["0987654321", b"x", 5, None])
def test_a_source_must_be_iterable(jobs: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        Source(jobs)
    assert caught.value.field == "jobs"


def test_the_fingerprint_follows_the_jobs_and_their_order() -> None:
    a, b = otp(callee="0987654321"), otp(callee="0987654322")
    assert fingerprint([a, b]) == fingerprint([otp(callee="0987654321"), b])
    assert fingerprint([a, b]) != fingerprint([b, a])
    assert fingerprint([a, "junk"]) == fingerprint([a, None])  # a bad job counts by position
    assert fingerprint([a, "junk"]) != fingerprint([a])


# --------------------------------------------------------------------------- reconcile


def _report(**fields: Any) -> Report:
    base: dict[str, Any] = {
        "call_id": "c-1",
        "caller": "0281234567",
        "callee": "0987654321",
        "param": {"template_name": "otp_demo", "code_otp": "123456"},
        "create_time": datetime(2026, 12, 3, 8, 0, tzinfo=timezone.utc),
    }
    base.update(fields)
    return Report(**base)


T0 = datetime(2026, 12, 3, 8, 0, tzinfo=timezone.utc).timestamp()


def test_a_report_of_the_call_matches() -> None:
    assert matches(_report(), prepare(otp()), T0 - 1, T0 + 1)


@pytest.mark.parametrize(
    "fields",
    [
        {"callee": "0987654322"},
        {"caller": "0280000000"},
        {"param": {"template_name": "other", "code_otp": "123456"}},
        {"param": {"template_name": "otp_demo", "code_otp": "999999"}},
        {"create_time": datetime(2026, 12, 3, 9, 0, tzinfo=timezone.utc)},
        {"create_time": None},
    ],
)
def test_a_report_of_another_call_does_not_match(fields: dict[str, Any]) -> None:
    assert not matches(_report(**fields), prepare(otp()), T0 - 1, T0 + 1)


def test_a_report_time_without_a_zone_is_the_pbxs_local_time() -> None:
    local = datetime(2026, 12, 3, 15, 0)  # 15:00 at UTC+7 is 08:00 UTC
    assert matches(_report(create_time=local), prepare(otp()), T0 - 1, T0 + 1)
    assert not matches(
        _report(create_time=local - timedelta(hours=7)), prepare(otp()), T0 - 1, T0 + 1
    )


def test_the_slack_allows_for_clock_skew_but_not_for_another_day() -> None:
    assert 60 <= SLACK <= 600


# --------------------------------------------------------------------------- results


def test_results_and_summary() -> None:
    tally = Tally()
    tally.add(JobResult("a", 0, "k0", JobStatus.OK, call_id="c"))
    tally.add(JobResult("b", 1, "k1", JobStatus.FAILED, error=BadRequestError("no", status=400)))
    tally.add(JobResult("c", 2, "k2", JobStatus.UNKNOWN, error=OutcomeUnknownError("lost")))
    tally.add(JobResult("d", 3, "k3", JobStatus.SKIPPED, reason="repeated"))
    summary = tally.summary(1.5)
    assert summary == BulkSummary(
        ok=1,
        failed=1,
        unknown=1,
        skipped=1,
        total=4,
        elapsed=1.5,
        errors={"BadRequestError": 1, "OutcomeUnknownError": 1},
    )
    assert str(summary).startswith("4 jobs in 1.5s: 1 ok, 1 failed, 1 unknown, 1 skipped")
    assert JobResult("a", 0, "k", JobStatus.OK).ok
    assert not JobResult("a", 0, "k", JobStatus.SKIPPED).ok


def test_the_progress_line_has_the_counts_the_rate_and_the_time_left() -> None:
    progress = Progress(total=10, initial=0)
    tally = Tally()
    for i in range(4):
        tally.add(JobResult(i, i, f"k{i}", JobStatus.OK))
    line = progress.line(tally, progress._started + 2.0)
    assert "4 done (ok 4, failed 0, unknown 0, skipped 0)" in line
    assert "2.0/s" in line
    assert "about 3s left" in line
