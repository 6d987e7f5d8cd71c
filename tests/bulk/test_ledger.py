"""The Ledger: claims against a model, journaled states (the last recorded wins), the
count of finished keys, and memory that stays flat however many keys pass."""

from __future__ import annotations

import hashlib
import sqlite3
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tel4vn_async.bulk._ledger import Claim, Entry, Ledger


def test_a_fresh_key_is_new_then_repeated() -> None:
    ledger = Ledger()
    try:
        assert ledger.claim("a") is Claim.NEW
        assert ledger.claim("a") is Claim.REPEATED
        assert ledger.claim("b") is Claim.NEW
        assert ledger.claim("a") is Claim.REPEATED
    finally:
        ledger.close()


def test_a_journaled_key_gives_its_entry_once_then_is_repeated() -> None:
    ledger = Ledger()
    entry = Entry("a", "unknown", None, "OutcomeUnknownError: dropped", False, 12.5)
    ledger.record(Entry("a", "started", at=12.5))
    ledger.record(entry)
    try:
        assert ledger.claim("a") == entry
        assert ledger.claim("a") is Claim.REPEATED
        assert ledger.claim("b") is Claim.NEW  # a key the journal never saw
        assert ledger.claim("b") is Claim.REPEATED
    finally:
        ledger.close()


def test_the_last_record_of_a_key_wins_across_batches() -> None:
    ledger = Ledger()
    for round_ in range(3):  # thousands of records: several batches
        for i in range(1500):
            ledger.record(Entry(f"k{i}", "ok", f"c{round_}", at=float(round_)))
    try:
        for i in range(1500):
            assert ledger.claim(f"k{i}") == Entry(f"k{i}", "ok", "c2", at=2.0)
    finally:
        ledger.close()


# Lone surrogates too: a key or a server's message may hold one.
keys = st.sampled_from(["a", "b", "c", "\udc80", "a\ud800", "é"])
texts = st.text(max_size=5) | st.lists(
    st.characters() | st.characters(categories=["Cs"]), max_size=5
).map("".join)
entries = st.builds(
    Entry,
    key=keys,
    status=st.sampled_from(["started", "ok", "failed", "unknown"]),
    call_id=st.none() | texts,
    error=st.none() | texts,
    retryable=st.booleans(),
    at=st.floats(0, 2e9),
)


@given(records=st.lists(entries, max_size=12), claims=st.lists(keys, max_size=12))
@settings(max_examples=100, deadline=None)
def test_claims_follow_the_model(records: list[Entry], claims: list[str]) -> None:
    journaled = {entry.key: entry for entry in records}  # the last one wins
    claimed: set[str] = set()
    ledger = Ledger()
    try:
        for entry in records:
            ledger.record(entry)
        assert ledger.count_done() == sum(e.done for e in journaled.values())
        for key in claims:
            expected = Claim.REPEATED if key in claimed else journaled.get(key, Claim.NEW)
            claimed.add(key)
            assert ledger.claim(key) == expected
    finally:
        ledger.close()


def test_a_key_is_the_same_text_however_its_surrogates_are_paired() -> None:
    ledger = Ledger()
    ledger.record(Entry("\U00010000", "ok", "c1"))  # as a journal line reads it back
    try:
        assert ledger.claim("\ud800\udc00") == Entry("\ud800\udc00", "ok", "c1")
        assert ledger.claim("\U00010000") is Claim.REPEATED
    finally:
        ledger.close()


def test_done_counts_the_keys_that_need_nothing_more() -> None:
    ledger = Ledger()
    for entry in (
        Entry("ok", "ok", "c1"),
        Entry("failed", "failed", error="CallRejectedError: no"),
        Entry("retry", "failed", error="RateLimitError: slow", retryable=True),
        Entry("sent", "started"),
        Entry("lost", "unknown"),
        Entry("redialled", "ok", "c2"),
        Entry("redialled", "started"),  # dialled again after it was done
    ):
        ledger.record(entry)
    try:
        assert ledger.count_done() == 2
        assert Entry("x", "ok").done
        assert Entry("x", "failed").done
        assert not Entry("x", "failed", retryable=True).done
        assert not Entry("x", "unknown").done
    finally:
        ledger.close()


def test_a_bad_status_is_refused_and_a_closed_ledger_is_final() -> None:
    ledger = Ledger()
    with pytest.raises(ValueError, match="'done'"):
        ledger.record(Entry("a", "done"))
    ledger.close()
    ledger.close()  # idempotent
    with pytest.raises(sqlite3.ProgrammingError):
        ledger.claim("a")


def _rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_memory_stays_flat_however_many_keys() -> None:
    ledger = Ledger(cache_kib=512)  # a small cache, filled sooner
    # Keys like derived ones (hex digests), in no order: claims land all over the file.
    digests = (hashlib.blake2b(b"%d" % i, digest_size=16).hexdigest() for i in range(10**9))
    try:
        for _ in range(20_000):  # fills the page cache
            ledger.claim(next(digests))
        before = _rss_mib()
        for _ in range(60_000):  # in memory, these keys alone would take ~4 MiB
            ledger.claim(next(digests))
        grown = _rss_mib() - before
    finally:
        ledger.close()

    assert grown < 1.5, f"{grown:.1f} MiB"
