"""``tel4vn demo``: the main job against the embedded fake server, in a few seconds.

Each step shows what the SDK does that a hand-written aiohttp loop does not: one token
for a hundred concurrent requests, a CDR scroll that survives a 503 and a dropped
connection, a thousand OTP calls under a 429 storm with one request per job or close,
a lost answer settled from the call reports without ringing anyone twice, webhook events
received once each, and an export to CSV. Nothing goes to the network: the server is
``FakeTel4vn`` on 127.0.0.1, and every count printed is the fake's own.
"""

from __future__ import annotations

import asyncio
import csv
import sys
import tempfile
import time
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path

import attrs
from aiohttp import web

from .. import Attempt, RetryPolicy, Token
from ..autocall import AutocallClient
from ..bulk import JobResult, OtpJob
from ..callcenter import CallCenterClient
from ..models import CallStatus, Cdr, Voice
from ..testing import FakeTel4vn
from ..webhooks import CallEvent, webhook_app

__all__ = ["demo"]

OTP = "/v1/autocall/otp"
CAMPAIGN = "1"
CALLER = "0281234567"
TEMPLATE = "otp_login"
FAN_OUT = 1_000
STORM_RATE = 500  # calls a second the fake PBX admits: below what the run would send
CDRS = 2_500
# Quick retries keep the demo in seconds; the defaults (0.5 s, doubling) suit a real PBX.
FAST_RETRIES = RetryPolicy(backoff_base=0.05, backoff_max=0.5)


def say(text: str = "") -> None:
    """One line of the demo's output, flushed at once (a pipe shows it as it happens)."""
    print(text, flush=True)


def until(token: Token) -> str:
    """A token told as a person reads it: ``valid until 11:09`` (local time)."""
    if token.expires_at is None:
        return "valid until a 401 answers it (the server gave no expiry)"
    return f"valid until {token.expires_at.astimezone():%H:%M}"


def show_retry(attempt: Attempt) -> None:
    """``on_attempt`` hook: a line for each attempt the SDK is about to retry."""
    if not attempt.will_retry:
        return
    cause = str(attempt.status) if attempt.status else "a dropped connection"
    say(
        f"    retrying {attempt.method} {attempt.path} after {cause} "
        f"(try {attempt.number}, again in {attempt.wait or 0:.2f}s)"
    )


@attrs.define
class Step:
    """One row of the closing table."""

    name: str
    result: str = "done"
    seconds: float = 0.0


@attrs.define
class Summary:
    """The steps run so far, for the closing table."""

    rows: list[Step] = attrs.Factory(list)

    @contextmanager
    def step(self, name: str, title: str) -> Iterator[Step]:
        """Time a step under a numbered heading; set ``result`` on the row given."""
        say()
        say(f"{len(self.rows) + 1}. {title}")
        row = Step(name)
        started = time.perf_counter()
        yield row
        row.seconds = time.perf_counter() - started
        self.rows.append(row)

    def table(self) -> list[str]:
        """The rows as a plain-text table, with a total."""
        total = sum(row.seconds for row in self.rows)
        cells = [("step", "result", "time")]
        cells += [(row.name, row.result, f"{row.seconds:.1f}s") for row in self.rows]
        cells += [("total", "", f"{total:.1f}s")]
        width = [max(len(cell[i]) for cell in cells) for i in (0, 1)]
        return [f"  {n:<{width[0]}}  {r:<{width[1]}}  {t:>5}" for n, r, t in cells]


async def demo() -> int:
    """Run the demo on a fresh fake server; returns the exit code (0)."""
    summary = Summary()
    step = summary.step
    with tempfile.TemporaryDirectory(prefix="tel4vn-demo-") as folder:
        async with FakeTel4vn() as fake:
            say(f"TEL4VN demo: the SDK against a fake server at {fake.url} (no network used)")
            today = date.today()
            fake.seed_cdrs(CDRS, start=today - timedelta(days=6), end=today)
            account = await CallCenterClient.login(fake.url, fake.username, fake.password)
            # trust_env=False: the fake is local, no proxy from the environment may intrude.
            cc = CallCenterClient(
                fake.url,
                api_key=account.api_key,
                on_attempt=show_retry,
                retry_policy=FAST_RETRIES,
                trust_env=False,
            )
            pbx = AutocallClient(
                fake.url, api_key=account.api_key, retry_policy=FAST_RETRIES, trust_env=False
            )
            async with cc, pbx:
                with step("tokens", "Log in; a hundred requests share one token") as row:
                    row.result = await tokens(fake, cc, account.username or "?")
                with step(
                    "CDR scroll", "A CDR scroll through a 503 and a dropped connection"
                ) as row:
                    row.result = await scroll(fake, cc)
                await pbx.templates.create_otp(
                    CAMPAIGN, TEMPLATE, "Ma xac nhan cua ban la {{code_otp}}", Voice.SOUTH_F_03, 1.0
                )
                with step("OTP fan-out", f"{FAN_OUT:,} OTP calls under a 429 storm") as row:
                    row.result = await storm(fake, pbx)
                with step("lost answer", "An answer lost after the call was placed") as row:
                    row.result = await lost_answer(fake, pbx, Path(folder) / "run.jsonl")
                with step("webhook", "Call events posted to a webhook receiver") as row:
                    row.result = await webhook(fake, pbx)
                with step("CSV export", "Today's CDRs exported to CSV") as row:
                    row.result = await export(cc, Path(folder) / "cdrs-today.csv")
    say()
    say("summary")
    for line in summary.table():
        say(line)
    return 0


async def tokens(fake: FakeTel4vn, cc: CallCenterClient, username: str) -> str:
    """A hundred concurrent requests on a fresh client: they share one token request."""
    say(f"  logged in as {username}; the api_key stays secret (never printed nor logged)")
    await asyncio.gather(*(cc.calls.list() for _ in range(100)))
    asked = fake.token_requests
    say(f"  100 concurrent requests on a fresh client: {asked} token request (single flight)")
    say(f"  call center token {until(await cc.session.token())}, renewed before then")
    return f"100 requests, {asked} token request"


async def scroll(fake: FakeTel4vn, cc: CallCenterClient) -> str:
    """Scroll every CDR while the server fails twice mid-way; count what arrives."""
    seen: set[str] = set()
    answered = 0
    async for cdr in cc.cdrs.list(page_size=250):
        seen.add(cdr.id or "")
        answered += cdr.status is CallStatus.ANSWERED
        # Faults queued mid-scroll hit the next page requests, as a real outage would.
        if len(seen) == 1_000:
            fake.inject("/v2/cdr", status=503, retry_after=0.05)
        elif len(seen) == 1_750:
            # Twice: aiohttp itself re-sends a GET once when a kept-alive connection
            # drops; the second drop, on a fresh connection, is the SDK's to retry.
            fake.inject("/v2/cdr", drop="before", times=2)
    _, served = fake.cdr_batch({}, 0, 0)  # the fake's own count
    lost = "none lost" if len(seen) == served else f"{served - len(seen)} LOST"
    say(f"  scrolled {len(seen):,} CDRs of the fake's {served:,}: {lost} ({answered:,} answered)")
    return f"{len(seen):,} of {served:,} CDRs, {lost}"


async def storm(fake: FakeTel4vn, pbx: AutocallClient) -> str:
    """A thousand OTP calls against a PBX admitting fewer a second than asked."""
    fake.limit_rate(OTP, STORM_RATE, burst=10)
    # A list, not a generator, so the bar knows the total and shows the time left.
    jobs = [
        OtpJob(
            callee=f"0912{i:06d}",
            code=f"{(i * 7919) % 1_000_000:06d}",
            template=TEMPLATE,
            caller=CALLER,
            campaign_id=CAMPAIGN,
        )
        for i in range(FAN_OUT)
    ]
    # A bar on a terminal only: piped output stays plain lines.
    run = pbx.fan_out(jobs, concurrency=50, progress=sys.stderr.isatty())
    done = await run.run()
    fake.limit_rate(OTP, None)
    sent = fake.count(OTP)
    dialled_twice = sum(1 for i in range(FAN_OUT) if fake.dials[f"0912{i:06d}"] > 1)
    say(
        f"  {done.ok} ok, {done.failed} failed, {done.unknown} unknown in {done.elapsed:.1f}s; "
        f"nobody dialled twice ({dialled_twice})"
    )
    say(
        f"  {sent:,} requests for {FAN_OUT:,} jobs: {done.throttled} answered 429, "
        "each slowing the whole run (no retry storm)"
    )
    return f"{done.ok} ok, {sent:,} requests"


async def lost_answer(fake: FakeTel4vn, pbx: AutocallClient, journal: Path) -> str:
    """A call placed whose answer is lost: UNKNOWN, never redialled, then reconciled."""
    callee = "0987654320"
    jobs = [
        OtpJob(callee=callee, code="424242", template=TEMPLATE, caller=CALLER, campaign_id=1),
        OtpJob(callee="0987654322", code="111111", template=TEMPLATE, caller=CALLER, campaign_id=1),
    ]
    fake.inject(OTP, drop="after")  # the PBX places the call, then the connection drops
    first = await _results(pbx.fan_out(jobs, concurrency=1, journal=journal))
    lost = first[0]
    say(
        f"  {callee}: {lost.status.value.upper()} ({type(lost.error).__name__}): the call "
        "may have been placed, so it is not retried"
    )
    again = await _results(pbx.fan_out(jobs, concurrency=1, journal=journal, reconcile=True))
    settled = again[0]
    say(
        f"  rerun with the journal and reconcile=True: {settled.status.value.upper()}, "
        f"call {settled.call_id} found in the call reports"
    )
    say(f"  {callee} dialled {_times(fake.dials[callee])} (the fake's own count)")
    return f"UNKNOWN -> {settled.status.value.upper()}, dialled {_times(fake.dials[callee])}"


async def webhook(fake: FakeTel4vn, pbx: AutocallClient) -> str:
    """An OTP call whose events the fake posts to a receiver; each is handled once."""
    received: list[CallEvent] = []
    secret = "demo-webhook-key"
    fake.webhook_redeliver = 1  # the PBX re-sends when unsure: each event arrives twice
    async with _serve(webhook_app(received.append, api_key=secret)) as url:
        call = await pbx.calls.otp(
            campaign_id=CAMPAIGN,
            caller=CALLER,
            callee="0987654324",
            template=TEMPLATE,
            code="777777",
            callback_url=url,
            callback_apikey=secret,
        )
        deliveries = await fake.deliveries_settled()
    fake.webhook_redeliver = 0
    states = ", ".join(event.state.value for event in received)
    say(f"  received {len(received)} events for call {call.call_id}: {states}")
    last = received[-1]
    say(
        f"  the {last.state.value} event: {last.to_number}, {last.billsec}s billed, "
        f"status {last.status}"
    )
    say(f"  {len(deliveries)} deliveries, {len(deliveries) - len(received)} repeats dropped")
    return f"{len(received)} events, {len(deliveries) - len(received)} repeats dropped"


async def export(cc: CallCenterClient, path: Path) -> str:
    """Today's CDRs to a CSV file, streamed: one page in memory at a time."""
    columns = ("id", "started_at", "direction", "status", "duration", "billsec", "to_number")
    rows = 0
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        async for cdr in cc.cdrs.list(start_date=date.today()):
            writer.writerow(_row(cdr))
            rows += 1
    with path.open(encoding="utf-8") as f:
        lines = f.read().splitlines()
    say(f"  wrote {rows} CDRs to {path.name}: {len(lines)} lines with the header")
    for line in lines[:2]:
        say(f"    {line}")
    return f"{rows} rows"


# --------------------------------------------------------------------------- helpers


def _row(cdr: Cdr) -> list[str]:
    def text(value: object) -> str:
        if value is None:
            return ""
        if isinstance(value, datetime):
            return value.isoformat(sep=" ")
        return str(getattr(value, "value", value))  # an enum's API value, not its repr

    return [
        text(v)
        for v in (
            cdr.id,
            cdr.started_at,
            cdr.direction,
            cdr.status,
            cdr.duration,
            cdr.billsec,
            cdr.to_number,
        )
    ]


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


async def _results(runner: AsyncIterable[JobResult]) -> list[JobResult]:
    results = [result async for result in runner]
    return sorted(results, key=lambda r: r.index)


@asynccontextmanager
async def _serve(app: web.Application) -> AsyncIterator[str]:
    """Serve ``app`` on a free local port; yields the receiver's URL."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        yield f"http://127.0.0.1:{port}/tel4vn/events"
    finally:
        await runner.cleanup()
