"""Per-key state of a bulk run, in a private temporary sqlite database: flat memory.

A run may hold millions of keys: the jobs an earlier run journaled (replayed into the
ledger by ``Journal.open``) and every key claimed in this run. A dict of them would grow
with the jobs; sqlite keeps them in a temporary file that the connection deletes when
closed (the OS unlinks it at once, so even a killed process leaves nothing behind), with
a page cache of a few MiB, so memory stays flat however many keys pass through.

The surface is small (``record``, ``claim``, ``count_done``, ``close``): the seam another
ledger, one shared by several processes, implements.
"""

from __future__ import annotations

import enum
import sqlite3

import attrs

__all__ = ["STATUSES", "Claim", "Entry", "Ledger"]

STATUSES = frozenset({"started", "ok", "failed", "unknown"})
"""The states a journaled key can be in: dialled and not heard of since, or a result."""


class Claim(enum.Enum):
    """What ``Ledger.claim`` answers when no earlier run journaled the key."""

    NEW = "new"
    """Seen for the first time, in this run and in the journal: dial it."""
    REPEATED = "repeated"
    """Already claimed earlier in this run: a duplicate job, never dialled twice."""


@attrs.frozen
class Entry:
    """The last state an earlier run journaled for one key."""

    key: str
    """The job's key."""
    status: str
    """``"started"`` (dialled, no result written), ``"ok"``, ``"failed"`` or ``"unknown"``."""
    call_id: str | None = None
    """The call's id when the call was placed (``"ok"``)."""
    error: str | None = None
    """``"ErrorClass: message"`` of the error that failed the job, or left it unknown."""
    retryable: bool = False
    """The failure provably never reached the server (429, 503, no connection)."""
    at: float = 0.0
    """Unix time of the started line; of the finished line when there was no started one."""

    @property
    def done(self) -> bool:
        """Whether the job needs nothing more: placed, or failed for good."""
        return self.status == "ok" or (self.status == "failed" and not self.retryable)


# WITHOUT ROWID: the key is the B-tree's own key, so a lookup reads one tree, not two.
# `claimed` marks the keys this run has claimed; the other columns are the journal's.
# Texts are stored as bytes (see _blob).
_SCHEMA = """
CREATE TABLE entry (
    key BLOB PRIMARY KEY NOT NULL,
    status TEXT,
    call_id BLOB,
    error BLOB,
    retryable INTEGER NOT NULL DEFAULT 0,
    at REAL NOT NULL DEFAULT 0,
    claimed INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID
"""
_RECORD = """
INSERT INTO entry (key, status, call_id, error, retryable, at) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (key) DO UPDATE SET status = excluded.status, call_id = excluded.call_id,
    error = excluded.error, retryable = excluded.retryable, at = excluded.at
"""
_CLAIM_NEW = "INSERT OR IGNORE INTO entry (key, claimed) VALUES (?, 1)"
_LOOK_UP = "SELECT claimed, status, call_id, error, retryable, at FROM entry WHERE key = ?"
_MARK_CLAIMED = "UPDATE entry SET claimed = 1 WHERE key = ?"
_COUNT_DONE = (
    "SELECT count(*) FROM entry WHERE status = 'ok' OR (status = 'failed' AND NOT retryable)"
)


def _blob(text: str) -> bytes:
    # sqlite3 refuses a str holding a lone surrogate, which a user's key, or a server's
    # message read from a "\ud800" escape, may hold: stored as bytes, every str fits.
    return text.encode("utf-8", "surrogatepass")


def _key(key: str) -> bytes:
    if not key.isascii():
        # A surrogate pair comes back from a journal line as the one character it
        # stands for (JSON knows no difference): a key is the same either way.
        key = key.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
    return _blob(key)


def _blob_or_none(text: str | None) -> bytes | None:
    return None if text is None else _blob(text)


def _text(blob: bytes | None) -> str | None:
    return None if blob is None else blob.decode("utf-8", "surrogatepass")


_CACHE_KIB = 4096
"""The page cache: what the ledger holds in memory, whatever the number of keys.

Measured with 500,000 random keys, a cache holding the whole database made a claim only
about a third faster than 4 MiB: most of the time goes to the statements themselves.
"""
_BATCH = 1024  # records sent to sqlite together: a third cheaper than one by one


class Ledger:
    """Per-key state for up to millions of keys, with flat memory.

    ``record`` is fed by the journal's replay (in a worker thread, before the run), then
    ``claim`` is called once per job, on the event loop: the two never run at once.
    """

    def __init__(self, *, cache_kib: int = _CACHE_KIB) -> None:
        """Create the database.

        Args:
            cache_kib: its page cache, the memory it holds (KiB).
        """
        # "" names a private temporary on-disk database, deleted when closed.
        self._db = sqlite3.connect("", check_same_thread=False, isolation_level=None)
        for pragma in (
            f"cache_size = -{int(cache_kib)}",
            # Nothing here must outlive the process: no durability, no rollback journal.
            "synchronous = OFF",
            "journal_mode = OFF",
            "locking_mode = EXCLUSIVE",
        ):
            self._db.execute(f"PRAGMA {pragma}")
        self._db.execute(_SCHEMA)
        # One transaction for the ledger's life: a commit per statement costs more than
        # the statement, and there is nothing to commit to.
        self._db.execute("BEGIN")
        self._claims = self._db.cursor()  # reused: a cursor per claim costs more
        self._staged: list[tuple[bytes, str, bytes | None, bytes | None, bool, float]] = []
        self._journaled = False
        self._closed = False

    def record(self, entry: Entry) -> None:
        """Set the journaled state of ``entry.key``; the last one recorded wins.

        Raises:
            ValueError: ``entry.status`` is not one of ``STATUSES``.
        """
        if entry.status not in STATUSES:
            raise ValueError(f"unknown journal status {entry.status!r}")
        call_id, error = _blob_or_none(entry.call_id), _blob_or_none(entry.error)
        self._staged.append(
            (_key(entry.key), entry.status, call_id, error, entry.retryable, entry.at)
        )
        if len(self._staged) >= _BATCH:
            self._flush()

    def _flush(self) -> None:
        self._db.executemany(_RECORD, self._staged)  # in order: the last one wins
        self._staged.clear()
        self._journaled = True

    def claim(self, key: str) -> Claim | Entry:
        """Mark ``key`` seen in this run and say what is known of it.

        Returns:
            ``Claim.NEW`` for a key neither journaled nor claimed before;
            ``Claim.REPEATED`` when this run claimed it already; the earlier run's
            ``Entry`` the first time this run claims a journaled key.
        """
        if self._staged:
            self._flush()
        blob = (_key(key),)
        # Each statement costs a few microseconds: take the order that needs one for the
        # usual case. Without a journal almost every key is new: one INSERT, whose
        # rowcount is 0 when the key was there. With one, most keys were journaled:
        # one SELECT first.
        if not self._journaled:
            if self._claims.execute(_CLAIM_NEW, blob).rowcount:
                return Claim.NEW
            row = self._claims.execute(_LOOK_UP, blob).fetchone()
        else:
            row = self._claims.execute(_LOOK_UP, blob).fetchone()
            if row is None:
                self._claims.execute(_CLAIM_NEW, blob)
                return Claim.NEW
        claimed, status, call_id, error, retryable, at = row
        if claimed:
            return Claim.REPEATED
        self._claims.execute(_MARK_CLAIMED, blob)
        return Entry(key, status, _text(call_id), _text(error), bool(retryable), at)

    def count_done(self) -> int:
        """How many recorded keys need nothing more (``Entry.done``): for progress."""
        if self._staged:
            self._flush()
        (count,) = self._db.execute(_COUNT_DONE).fetchone()
        return int(count)

    def close(self) -> None:
        """Close and delete the database. Idempotent."""
        if not self._closed:
            self._closed = True
            self._staged.clear()
            self._db.close()
