"""``tel4vn demo``: the main job on the embedded fake, in seconds; what it prints is what
happened (the fake's own counts), with no raw reprs and no secrets."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import io
import re
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
import pytest

from tel4vn_async import Token
from tel4vn_async.cli import _demo
from tel4vn_async.testing import FakeTel4vn


@attrs.define
class Run:
    output: str
    code: int
    seconds: float
    fake: FakeTel4vn


@pytest.fixture(scope="module")
def run() -> Run:
    """One demo run for the whole module: it is the slow part (a few seconds)."""
    fakes: list[FakeTel4vn] = []

    class Recorded(FakeTel4vn):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            fakes.append(self)

    buffer = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_demo, "FakeTel4vn", Recorded)
        started = time.perf_counter()
        # A thread of its own: asyncio.run must not meet pytest-asyncio's event loop.
        with contextlib.redirect_stdout(buffer), concurrent.futures.ThreadPoolExecutor(1) as pool:
            code = pool.submit(asyncio.run, _demo.demo()).result()
        seconds = time.perf_counter() - started
    return Run(buffer.getvalue(), code, seconds, fakes[0])


def test_exits_0(run: Run) -> None:
    # How long it takes is the README's claim, measured by hand: tests assert no times.
    assert run.code == 0


def test_a_token_is_told_as_valid_until_a_local_time(run: Run) -> None:
    assert re.search(r"token valid until \d\d:\d\d\b", run.output)
    assert "1 token request (single flight)" in run.output


def test_the_scroll_retries_are_shown_and_nothing_is_lost(run: Run) -> None:
    assert "retrying GET /v2/cdr after 503" in run.output
    assert "retrying GET /v2/cdr after a dropped connection" in run.output
    assert "scrolled 2,500 CDRs of the fake's 2,500: none lost" in run.output


def test_the_fan_out_is_all_ok_with_requests_close_to_the_jobs(run: Run) -> None:
    assert "1000 ok, 0 failed, 0 unknown" in run.output
    assert "nobody dialled twice (0)" in run.output
    match = re.search(r"([\d,]+) requests for 1,000 jobs: (\d+) answered 429", run.output)
    assert match, run.output
    sent = int(match.group(1).replace(",", ""))
    assert 1000 <= sent <= 1250
    assert sent == 1000 + int(match.group(2))


def test_the_lost_answer_is_unknown_then_reconciled_and_dialled_once(run: Run) -> None:
    assert "0987654320: UNKNOWN (OutcomeUnknownError)" in run.output
    assert "reconcile=True: OK, call " in run.output
    assert "0987654320 dialled once (the fake's own count)" in run.output
    assert run.fake.dials["0987654320"] == 1


def test_webhook_events_are_received_once_each(run: Run) -> None:
    assert re.search(r"received 4 events for call \S+: ringing, answered, hangup, cdr", run.output)
    assert "8 deliveries, 4 repeats dropped" in run.output


def test_the_csv_has_a_line_per_cdr_of_today_and_a_header(run: Run) -> None:
    match = re.search(
        r"wrote (\d+) CDRs to cdrs-today.csv: (\d+) lines with the header", run.output
    )
    assert match, run.output
    rows, lines = int(match.group(1)), int(match.group(2))
    today = datetime.now().date().isoformat()
    assert rows == run.fake.cdr_batch({"start_date": today}, 0, 0)[1] > 0
    assert lines == rows + 1
    assert "id,started_at,direction,status,duration,billsec,to_number" in run.output


def test_it_ends_with_a_summary_table(run: Run) -> None:
    table = run.output.split("\nsummary\n", 1)[1].splitlines()
    assert table[0].split() == ["step", "result", "time"]
    names = [line.split("  ")[1] for line in table[1:]]
    assert names == [
        "tokens",
        "CDR scroll",
        "OTP fan-out",
        "lost answer",
        "webhook",
        "CSV export",
        "total",
    ]
    assert all(re.search(r"\d+\.\ds$", line) for line in table[1:])


def test_no_raw_repr_and_no_secret_is_printed(run: Run) -> None:
    out = run.output
    assert "access_token" not in out
    assert not re.search(r"\b[A-Z]\w*\(\w+=", out), "an object's repr was printed"
    assert "object at 0x" not in out
    secrets = {run.fake.api_key, run.fake.password, "demo-webhook-key"}
    secrets |= {r.token for r in run.fake.requests if r.token}
    assert len(secrets) > 3
    assert not [s for s in secrets if s in out]


def test_until_tells_the_local_time_of_expiry() -> None:
    expires = datetime(2030, 5, 6, 4, 9, tzinfo=timezone.utc)
    token = Token("t", expires_at=expires)
    assert _demo.until(token) == f"valid until {expires.astimezone():%H:%M}"
    assert "valid until" in _demo.until(Token("t"))


def test_the_summary_table_aligns_its_columns() -> None:
    summary = _demo.Summary(rows=[_demo.Step("a", "short", 0.04), _demo.Step("longer", "x", 1.26)])
    assert summary.table() == [
        "  step    result   time",
        "  a       short    0.0s",
        "  longer  x        1.3s",
        "  total            1.3s",
    ]


def test_until_a_past_expiry_still_reads_as_a_time() -> None:
    past = datetime.now(timezone.utc) - timedelta(hours=1)
    assert re.fullmatch(r"valid until \d\d:\d\d", _demo.until(Token("t", expires_at=past)))
