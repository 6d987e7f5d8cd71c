"""The bulk journal: its lines (pure, with properties), then the file: torn and damaged
lines, the header, the lock, batched fsyncs, write errors, cancellation, and a SIGKILL."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tel4vn_async import JournalError
from tel4vn_async.bulk._journal import Journal, _Opening
from tel4vn_async.bulk._journal_format import (
    Finished,
    Header,
    Line,
    Started,
    decode,
    encode,
    entry_of,
    read_lines,
    scan,
)
from tel4vn_async.bulk._ledger import Claim, Entry, Ledger

T0 = 1796311866.123  # 2026-12-03T15:31:06.123Z


class Clock:
    """Unix time that stands still until moved."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


class Syncs:
    """The journal's fsync, counted; once armed, it takes ``delay`` and raises ``fail``."""

    def __init__(self) -> None:
        self.count = 0
        self.fail: Exception | None = None
        self.delay = 0.0

    def __call__(self, fd: int) -> None:
        if self.fail is not None:
            time.sleep(self.delay)  # in the writer's thread
            raise self.fail
        self.count += 1
        os.fsync(fd)


def as_json_reads(line: Line) -> Any:
    """``line`` as a JSON reader gives it back: a surrogate pair as the character it
    encodes (a Python str can hold either; JSON knows no difference)."""

    def pair(_: object, __: object, value: object) -> object:
        if isinstance(value, str):
            return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
        return value

    return type(line)(**attrs.asdict(line, value_serializer=pair))


def states(lines: list[Started | Finished]) -> dict[str, Entry]:
    """The model of a replay: each key's state is its last line's."""
    return {line.key: entry_of(as_json_reads(line)) for line in lines}


def replay(data: bytes) -> tuple[Header | None, dict[str, Entry], int]:
    found: dict[str, Entry] = {}
    result = scan(read_lines(io.BytesIO(data)), lambda e: found.__setitem__(e.key, e), name="j")
    return result.header, found, result.end


# ---------------------------------------------------------------------- the lines, pure

# Any text, lone surrogates included: they must survive the trip through UTF-8.
texts = st.text(max_size=12) | st.lists(
    st.characters() | st.characters(categories=["Cs"]), max_size=12
).map("".join)
times = st.integers(946684800000, 4102444800000).map(lambda ms: ms / 1000)  # 2000..2100
headers = st.builds(
    Header, fingerprint=texts, head=st.integers(0, 10**12), created=times, sdk=texts
)
events: st.SearchStrategy[Started | Finished] = st.one_of(
    st.builds(Started, key=texts, callee=texts, at=times),
    st.builds(
        Finished,
        key=texts,
        status=st.sampled_from(["ok", "failed", "unknown"]),
        call_id=st.none() | texts,
        error=st.none() | texts,
        retryable=st.booleans(),
        at=times,
        started_at=st.none() | times,
    ),
)
# Keys of one character at most: lines of one key follow each other.
journals = st.tuples(
    headers, st.lists(events.map(lambda e: attrs.evolve(e, key=e.key[:1])), max_size=12)
)


def test_each_kind_of_line_reads_as_documented() -> None:
    started = Started("otp-1", "0987654321", T0)
    ok = Finished("otp-1", "ok", call_id="c-81", at=T0 + 1, started_at=T0)
    failed = Finished("otp-2", "failed", error="RateLimitError: slow down", retryable=True, at=T0)
    header = Header("9f2c", 100, T0, "0.1.0")

    assert encode(started) == (
        b'{"event":"started","key":"otp-1","callee":"0987654321","at":"2026-12-03T15:31:06.123Z"}\n'
    )
    assert encode(ok) == (
        b'{"event":"finished","key":"otp-1","status":"ok","call_id":"c-81",'
        b'"at":"2026-12-03T15:31:07.123Z","started_at":"2026-12-03T15:31:06.123Z"}\n'
    )
    assert encode(failed) == (
        b'{"event":"finished","key":"otp-2","status":"failed","error":"RateLimitError: slow down",'
        b'"retryable":true,"at":"2026-12-03T15:31:06.123Z"}\n'
    )
    assert encode(header) == (
        b'{"format":"tel4vn_async.journal","version":1,"fingerprint":"9f2c","head":100,'
        b'"created":"2026-12-03T15:31:06.123Z","sdk":"0.1.0"}\n'
    )
    # A finished line's state dates from its started line: reconciling looks from there.
    assert entry_of(ok) == Entry("otp-1", "ok", "c-81", None, False, T0)
    assert entry_of(failed) == Entry("otp-2", "failed", None, failed.error, True, T0)


@given(line=st.one_of(headers, events))
@settings(max_examples=100, deadline=None)
def test_any_line_round_trips_on_one_line(line: Line) -> None:
    raw = encode(line)

    assert raw.count(b"\n") == 1
    assert raw.endswith(b"\n")
    raw.decode("utf-8")  # strict UTF-8, whatever the text held
    assert decode(raw) == as_json_reads(line)


@given(journal=journals, data=st.data())
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_a_journal_cut_at_any_byte_replays_to_a_prefix_of_its_states(
    journal: tuple[Header, list[Started | Finished]], data: st.DataObject
) -> None:
    header, lines = journal
    raws = [encode(header), *map(encode, lines)]
    whole = b"".join(raws)
    cut = data.draw(st.integers(0, len(whole)), label="cut")

    got_header, got, end = replay(whole[:cut])  # never raises

    whole_lines = whole[:cut].count(b"\n")  # a line without its newline is torn
    assert got_header == (as_json_reads(header) if whole_lines else None)
    assert got == states(lines[: max(whole_lines - 1, 0)])
    assert end == len(b"".join(raws[:whole_lines]))


@given(journal=journals, data=st.data())
@settings(max_examples=60, deadline=None)
def test_a_damaged_line_is_refused_by_number_unless_it_is_the_last(
    journal: tuple[Header, list[Started | Finished]], data: st.DataObject
) -> None:
    header, lines = journal
    raws = [encode(header), *map(encode, lines)]
    bad = data.draw(st.integers(0, len(raws) - 1), label="bad")
    # Not JSON, not an object, zeros (what a crash may leave), a misplaced line.
    garbage = [b"{not json\n", b"[1]\n", b"\x00\x00\n", raws[0] if bad else raws[-1]]
    raws[bad] = data.draw(st.sampled_from(garbage), label="garbage")
    last = bad == len(raws) - 1

    if bad == 0 and last and raws[0].startswith(b"\x00"):  # a header torn at creation
        assert replay(raws[0]) == (None, {}, 0)
    elif bad == 0 and (not last or raws[0] != encode(header)):
        with pytest.raises(JournalError, match="not a tel4vn_async journal"):
            replay(b"".join(raws))
    elif last:  # the last line: a crash's leftovers, ignored
        assert replay(b"".join(raws))[1] == states(lines[:-1])
    else:
        with pytest.raises(JournalError, match=f"damaged at line {bad + 1} "):
            replay(b"".join(raws))


def test_a_later_started_line_means_dialled_again() -> None:
    lines: list[Started | Finished] = [
        Started("k", "09", T0),
        Finished("k", "failed", error="ConnectError: x", retryable=True, at=T0, started_at=T0),
        Started("k", "09", T0 + 5),
    ]
    data = b"".join(map(encode, [Header("f", 1, T0), *lines]))

    assert replay(data)[1] == {"k": Entry("k", "started", at=T0 + 5)}


@pytest.mark.parametrize(
    ("first", "message"),
    [
        (b"callee,code\n0987654321,123456\n", "not a tel4vn_async journal"),
        (b"callee,code", "not a tel4vn_async journal"),  # one line, even without newline
        (b'{"format":"tel4vn_async.journal","version":2}\n', "newer tel4vn_async"),
    ],
)
def test_other_files_and_newer_journals_are_refused(first: bytes, message: str) -> None:
    with pytest.raises(JournalError, match=message):
        replay(first)


@pytest.mark.parametrize("torn", [b"", b"{", b'{"format":"tel4vn_as', b"\x00" * 40])
def test_a_torn_header_is_a_new_journal(torn: bytes) -> None:
    assert replay(torn) == (None, {}, 0)


def test_replay_streams_the_file() -> None:
    data = b"".join(
        [encode(Header("f", 1, T0))]
        + [encode(Started(f"key-{i:06d}", "0987654321", T0)) for i in range(5000)]
    )
    count = 0

    def record(entry: Entry) -> None:
        nonlocal count
        count += 1

    file = io.BytesIO(data)
    tracemalloc.start()
    try:
        scan(read_lines(file), record, name="j")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert count == 5000
    assert peak < 64 * 1024  # the ~460 kB of lines never sit in memory together


# ---------------------------------------------------------------------- the file


async def new_journal(
    path: Path, *, sync: Syncs | None = None, clock: Clock | None = None
) -> tuple[Journal, Ledger]:
    ledger = Ledger()
    journal = await Journal.open(path, ledger, sync=sync or Syncs(), clock=clock or Clock())
    assert journal.header is None
    await journal.write_header("fp", 3)
    return journal, ledger


async def reopen(path: Path) -> tuple[Journal, Ledger]:
    ledger = Ledger()
    try:
        return await Journal.open(path, ledger, clock=Clock()), ledger
    except BaseException:
        ledger.close()  # refused: its database would be left for the collector (3.13 warns)
        raise


async def test_a_journal_is_resumed_with_each_key_in_its_last_state(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    clock = Clock()
    journal, ledger = await new_journal(path, clock=clock)
    for key in ("a", "b", "c", "d"):
        await journal.started(key, callee="0987654321")
    clock.now = T0 + 9  # results come later; a key's time stays that of its dial
    journal.finished("a", "ok", call_id="c-1")
    journal.finished("b", "failed", error="CallRejectedError: no", retryable=False)
    journal.finished("c", "failed", error="RateLimitError: slow", retryable=True)
    journal.finished("never-started", "unknown")
    await journal.close()
    await journal.close()  # idempotent
    ledger.close()

    journal, ledger = await reopen(path)
    try:
        assert journal.header == Header("fp", 3, T0)
        journal.check("fp", 3)
        assert journal.done == 2  # a (ok) and b (failed for good)
        assert ledger.claim("a") == Entry("a", "ok", "c-1", None, False, T0)
        assert ledger.claim("c") == Entry("c", "failed", None, "RateLimitError: slow", True, T0)
        assert ledger.claim("d") == Entry("d", "started", at=T0)
        assert ledger.claim("d") is Claim.REPEATED
        assert ledger.claim("never-started") == Entry("never-started", "unknown", at=T0 + 9)
        assert ledger.claim("e") is Claim.NEW
    finally:
        await journal.close()
        ledger.close()


async def test_a_torn_last_line_is_ignored_and_cut_at_every_byte(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    journal, ledger = await new_journal(path)
    await journal.started("a", callee="0987654321")
    await journal.started("b", callee="0987654321")
    await journal.close()
    ledger.close()
    whole = path.read_bytes()
    last = whole.rindex(b"\n", 0, len(whole) - 1) + 1

    for cut in range(last, len(whole)):
        path.write_bytes(whole[:cut])
        journal, ledger = await reopen(path)
        try:
            assert ledger.claim("b") is Claim.NEW, cut
            assert path.read_bytes() == whole[:last]  # cut before anything is appended
            await journal.started("c", callee="0987654321")
        finally:
            await journal.close()
            ledger.close()
        journal, ledger = await reopen(path)  # and the file reads cleanly after
        await journal.close()
        assert isinstance(ledger.claim("c"), Entry)
        ledger.close()


async def test_a_damaged_middle_line_is_refused_with_its_number(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    journal, ledger = await new_journal(path)
    for key in "abc":
        await journal.started(key, callee="0987654321")
    await journal.close()
    ledger.close()
    lines = path.read_bytes().splitlines(keepends=True)
    lines[2] = lines[2].replace(b'"key"', b'"kez"')
    path.write_bytes(b"".join(lines))

    with pytest.raises(JournalError, match=rf"{path} is damaged at line 3 \(.*'key'"):
        await reopen(path)
    assert path.read_bytes() == b"".join(lines)  # untouched

    path.write_bytes(path.read_bytes().replace(b'"kez"', b'"key"'))
    journal, ledger = await reopen(path)  # repaired; and the refusal left it unlocked
    await journal.close()
    assert isinstance(ledger.claim("b"), Entry)
    ledger.close()


async def test_a_file_that_is_no_journal_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "jobs.csv"
    path.write_bytes(b"callee,code")

    with pytest.raises(JournalError, match="not a tel4vn_async journal"):
        await reopen(path)
    assert path.read_bytes() == b"callee,code"


async def test_a_journal_for_other_jobs_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    journal, ledger = await new_journal(path)
    await journal.close()
    ledger.close()
    journal, ledger = await reopen(path)

    journal.check("fp", 3)
    for fingerprint, head in (("other", 3), ("fp", 2)):
        with pytest.raises(JournalError) as refused:
            journal.check(fingerprint, head)
        assert str(refused.value) == (
            f"journal {path} was written for other jobs (its first 3 jobs differ); use a new"
            " journal file, or the file of jobs it was made for"
        )
    with pytest.raises(JournalError, match="has a header already"):
        await journal.write_header("fp", 3)
    await journal.close()
    ledger.close()


async def test_a_second_run_on_the_same_journal_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    journal, ledger = await new_journal(path)

    with pytest.raises(JournalError, match=f"journal {path} is in use by another run"):
        await reopen(path)
    await journal.started("a", callee="0987654321")  # the first run goes on
    await journal.close()

    second, ledger2 = await reopen(path)  # unlocked by close
    await second.close()
    ledger.close()
    ledger2.close()


async def test_hundreds_of_started_calls_share_a_few_fsyncs(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    syncs = Syncs()
    journal, ledger = await new_journal(path, sync=syncs)
    syncs.count = 0

    async def job(i: int) -> None:
        await journal.started(f"k{i}", callee="0987654321")
        # Returned: the line is in the file (read through another handle).
        assert f'"key":"k{i}"'.encode() in path.read_bytes()
        journal.finished(f"k{i}", "ok", call_id=f"c{i}")

    await asyncio.gather(*(job(i) for i in range(300)))
    after_started = syncs.count
    await journal.close()
    ledger.close()

    assert 1 <= after_started <= 5  # one per batch, not one per line
    assert path.read_bytes().count(b"\n") == 1 + 600


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), RuntimeError("?")])
async def test_a_write_error_fails_the_waiters_and_every_later_call(
    tmp_path: Path, failure: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "run.jsonl"
    syncs = Syncs()
    journal, ledger = await new_journal(path, sync=syncs)
    await journal.started("a", callee="0987654321")
    journal.finished("a", "ok", call_id="c-1")
    syncs.fail, syncs.delay = failure, 0.05

    first = asyncio.ensure_future(journal.started("b", callee="09"))
    await asyncio.sleep(0.02)  # its batch is being written, and fails
    queued = [asyncio.ensure_future(journal.started(k, callee="09")) for k in "cd"]
    await asyncio.sleep(0)
    queued[1].cancel()
    outcomes = await asyncio.gather(first, *queued, return_exceptions=True)

    assert [type(o) for o in outcomes] == [JournalError, JournalError, asyncio.CancelledError]
    assert str(failure) in str(outcomes[0])
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # the writer is fine
    with pytest.raises(JournalError, match="cannot be written"):
        await journal.started("e", callee="09")
    with pytest.raises(JournalError, match="cannot be written"):
        journal.finished("b", "ok")
    # The finished line of "a" was in the failed batch: close says so, once.
    with pytest.raises(JournalError, match=r"1 finished line\(s\) lost"):
        await journal.close()
    await journal.close()
    ledger.close()


async def test_a_cancelled_started_call_breaks_nothing(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    journal, ledger = await new_journal(path)
    tasks = [asyncio.ensure_future(journal.started(f"k{i}", callee="09")) for i in range(20)]
    await asyncio.sleep(0)
    tasks[7].cancel()
    done = await asyncio.gather(*tasks, return_exceptions=True)

    assert isinstance(done[7], asyncio.CancelledError)
    assert done[:7] + done[8:] == [None] * 19
    await journal.started("after", callee="09")  # the writer goes on
    await journal.close()
    ledger.close()
    text = path.read_text()
    assert all(f'"key":"k{i}"' in text for i in range(20) if i != 7)
    assert '"key":"after"' in text


async def test_close_writes_what_is_queued_even_when_cancelled(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    journal, ledger = await new_journal(path)
    for i in range(50):
        journal.finished(f"k{i}", "unknown", error="OutcomeUnknownError: dropped")
    closing = asyncio.ensure_future(journal.close())
    await asyncio.sleep(0)
    closing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closing
    await journal.close()  # after the cancellation: nothing left to do
    ledger.close()

    assert path.read_bytes().count(b'"status":"unknown"') == 50
    journal, ledger = await reopen(path)  # closed, unlocked, readable
    await journal.close()
    assert ledger.count_done() == 0
    ledger.close()
    with pytest.raises(JournalError, match="is closed"):
        journal.finished("x", "ok")


async def test_a_writer_cancelled_by_someone_else_loses_no_line(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    journal, ledger = await new_journal(path)
    journal.finished("a", "ok")
    (writer,) = asyncio.all_tasks() - {asyncio.current_task()}
    writer.cancel()  # as a shutdown cancelling every task would
    await asyncio.sleep(0.01)

    with pytest.raises(JournalError, match="writer task was stopped"):
        await journal.started("b", callee="09")
    await journal.close()
    ledger.close()
    assert b'"key":"a"' in path.read_bytes()


async def test_refusals_of_misuse(tmp_path: Path) -> None:
    ledger = Ledger()
    journal = await Journal.open(tmp_path / "run.jsonl", ledger)
    with pytest.raises(JournalError, match="write_header"):
        await journal.started("a", callee="09")
    with pytest.raises(ValueError, match="not 'started'"):
        journal.finished("a", "started")
    await journal.close()
    with pytest.raises(JournalError, match="cannot be opened"):
        await Journal.open(tmp_path / "no" / "such" / "dir.jsonl", ledger)
    ledger.close()


async def test_lone_surrogates_survive_the_journal_and_the_ledger(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    journal, ledger = await new_journal(path)
    await journal.started("k\udc80", callee="09")
    journal.finished("k\udc80", "unknown", error="APIError: \ud800 from a server")
    await journal.close()
    ledger.close()

    journal, ledger = await reopen(path)
    await journal.close()
    entry = ledger.claim("k\udc80")
    ledger.close()
    assert entry == Entry("k\udc80", "unknown", None, "APIError: \ud800 from a server", at=T0)


def test_an_open_cancelled_meanwhile_never_leaves_the_file_locked(tmp_path: Path) -> None:
    for abandon_first in (False, True):
        fd = os.open(tmp_path / "run.jsonl", os.O_RDWR | os.O_CREAT)
        opening = _Opening()
        if abandon_first:  # open() was cancelled, then the thread hands the file over
            opening.abandon()
            opening.deliver(fd)
        else:  # the thread handed it over, but open() was cancelled before taking it
            opening.deliver(fd)
            opening.abandon()
        with pytest.raises(OSError, match="Bad file descriptor"):
            os.fstat(fd)


class SlowLedger(Ledger):
    """Records the thread the replay runs on, and can hold it."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: set[int] = set()
        self.hold = threading.Event()
        self.hold.set()

    def record(self, entry: Entry) -> None:
        self.threads.add(threading.get_ident())
        self.hold.wait(5)
        super().record(entry)


async def test_replay_runs_off_the_loop_and_a_cancelled_open_unlocks(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    journal, ledger = await new_journal(path)
    for i in range(10):
        await journal.started(f"k{i}", callee="09")
    await journal.close()
    ledger.close()
    slow = SlowLedger()

    journal = await Journal.open(path, slow)
    await journal.close()
    assert slow.threads
    assert threading.get_ident() not in slow.threads

    slow.hold.clear()
    opening = asyncio.ensure_future(Journal.open(path, slow))
    await asyncio.sleep(0.05)  # the replay is under way, held
    opening.cancel()
    asyncio.get_running_loop().call_later(0.05, slow.hold.set)
    with pytest.raises(asyncio.CancelledError):
        await opening
    # Cancelled open() returned once its thread was done with the ledger and the file.
    slow.hold.clear()  # a replay still running would now block, and fail below
    slow.close()
    journal, ledger = await reopen(path)  # unlocked
    await journal.close()
    assert isinstance(ledger.claim("k9"), Entry)
    ledger.close()


# ---------------------------------------------------------------------- a crash

CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from tel4vn_async.bulk._journal import Journal
    from tel4vn_async.bulk._ledger import Ledger

    async def main(path):
        journal = await Journal.open(path, Ledger())
        await journal.write_header("fp", 1)

        async def worker(w):
            for i in range(10**9):
                key = f"w{w}-{i}"
                await journal.started(key, callee="0987654321")
                sys.stdout.write(key + "\\n")  # acknowledged: the request may go out
                sys.stdout.flush()
                journal.finished(key, "ok", call_id="c")

        await asyncio.gather(*(worker(w) for w in range(40)))

    asyncio.run(main(sys.argv[1]))
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_a_sigkilled_writer_leaves_every_acknowledged_line(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    acknowledged = []
    try:
        for line in child.stdout:
            acknowledged.append(line.strip())
            if len(acknowledged) == 1000:
                os.kill(child.pid, signal.SIGKILL)
                break
        acknowledged += [line.strip() for line in child.stdout]  # printed before the kill
    finally:
        child.kill()
        child.wait()
        child.stdout.close()
    assert len(acknowledged) >= 1000

    async def check() -> None:
        journal, ledger = await reopen(path)  # replays cleanly, cutting a torn last line
        await journal.close()
        assert journal.header is not None
        for key in acknowledged:
            assert isinstance(ledger.claim(key), Entry), key
        ledger.close()

    asyncio.run(check())
