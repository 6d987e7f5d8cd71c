"""The bulk run's journal: an append-only JSON-lines file that survives a crash.

Intent before action: a job's ``started`` line is written and fsynced before its request
goes out, its ``finished`` line once the result is known. A rerun replays the file into
the ``Ledger``: finished jobs are skipped, started-but-unfinished ones are reported as
unknown, never dialled again unless asked. The lines are in ``_journal_format``.

One writer task batches the lines: it takes everything queued, writes it, fsyncs once
in a worker thread, then wakes every ``started()`` of that batch. A fast run is not bound
by the disk: while one fsync runs, the next batch gathers.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import sys
import threading
import time
from collections.abc import Callable

from ..errors import JournalError
from ._journal_format import (
    HEADER_MAX,
    RESULTS,
    Finished,
    Header,
    Started,
    encode,
    read_lines,
    scan,
)
from ._ledger import Ledger

if sys.platform != "win32":
    import fcntl

__all__ = ["Journal"]

_log = logging.getLogger("tel4vn_async.bulk")


class _Batch:
    """Lines written together with one fsync, and the ``started()`` calls awaiting it."""

    __slots__ = ("data", "error", "finished", "waiters", "written")

    def __init__(self, data: bytes, waiters: list[asyncio.Future[None]], finished: int):
        self.data = data
        self.waiters = waiters
        self.finished = finished  # finished lines: nobody awaits them
        self.written = False  # set under the I/O lock: a batch is never written twice
        self.error: JournalError | None = None


class _Opening:
    """Hands the opened file from the opening thread to ``open()``, or closes it when
    ``open()`` was cancelled meanwhile (so a cancelled open never leaves a file locked)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fd: int | None = None
        self.abandoned = False

    def deliver(self, fd: int) -> None:
        with self._lock:
            if self.abandoned:
                _release(fd)
            else:
                self._fd = fd

    def abandon(self) -> None:
        with self._lock:
            self.abandoned = True
            if self._fd is not None:
                _release(self._fd)


def _lock(fd: int, name: str) -> None:
    if sys.platform == "win32":  # no fcntl: two runs on one journal go unnoticed
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise JournalError(f"journal {name} is in use by another run") from None
    except OSError as err:
        if err.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
            raise
        _log.warning("journal %s: this file system cannot lock it (%s)", name, err)


def _release(fd: int) -> None:
    if sys.platform != "win32":
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
    with contextlib.suppress(OSError):
        os.close(fd)


def _sync_directory(name: str) -> None:
    # A new file's directory entry must survive a crash too, or so would its lines.
    with contextlib.suppress(OSError):  # not possible everywhere (Windows); best effort
        fd = os.open(os.path.dirname(os.path.abspath(name)), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _open_file(
    name: str, ledger: Ledger, sync: Callable[[int], None], opening: _Opening
) -> tuple[int, Header | None, int]:
    """Open, lock, replay and repair the journal (in a worker thread)."""
    try:
        fd = os.open(name, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    except OSError as err:
        raise JournalError(f"journal {name} cannot be opened: {err}") from err
    try:
        _lock(fd, name)
        size = os.fstat(fd).st_size
        with os.fdopen(os.dup(fd), "rb") as file:
            found = scan(read_lines(file, lambda: opening.abandoned), ledger.record, name=name)
        if found.end < size and not opening.abandoned:
            _log.warning("journal %s: cut a torn last line (%d bytes)", name, size - found.end)
            os.ftruncate(fd, found.end)
            sync(fd)
        if found.end == 0:
            _sync_directory(name)
        done = ledger.count_done()
    except OSError as err:
        _release(fd)
        raise JournalError(f"journal {name} cannot be read or repaired: {err}") from err
    except BaseException:
        _release(fd)
        raise
    opening.deliver(fd)
    return fd, found.header, done


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _again(error: JournalError) -> JournalError:
    # A fresh exception per raise: one instance raised in many tasks collects all their
    # tracebacks.
    copy = JournalError(*error.args)
    copy.__cause__ = error.__cause__
    return copy


class Journal:
    """The journal of one bulk run; make it with ``await Journal.open(path, ledger)``.

    Attributes:
        path: the file.
        header: its header; None while the journal is new (``write_header`` it).
        done: how many keys earlier runs finished for good (``Entry.done``), for the
            progress bar to start from.
    """

    def __init__(
        self,
        path: str,
        fd: int,
        header: Header | None,
        done: int,
        sync: Callable[[int], None],
        clock: Callable[[], float],
    ) -> None:
        self.path, self.header, self.done = path, header, done
        self._fd: int | None = fd
        self._sync, self._clock = sync, clock
        self._lines: list[bytes] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._finished = 0  # finished lines among self._lines
        self._starts: dict[str, float] = {}  # keys started in this run, until finished
        self._wake = asyncio.Event()
        self._io = threading.Lock()  # the file, between the writer's thread and close()
        self._batch: _Batch | None = None  # in the writer's thread now
        self._error: JournalError | None = None  # refuses every later line
        self._lost = 0  # finished lines dropped by a write error, which nobody awaited
        self._closing = self._closed = False
        self._writer = asyncio.get_running_loop().create_task(self._write_loop())
        self._writer.add_done_callback(self._writer_stopped)

    @classmethod
    async def open(
        cls,
        path: str | os.PathLike[str],
        ledger: Ledger,
        *,
        sync: Callable[[int], None] = os.fsync,
        clock: Callable[[], float] = time.time,
    ) -> Journal:
        """Lock the file (creating it), replay it into ``ledger``, cut a torn last line.

        The replay streams the file in a worker thread: a million lines neither sit in
        memory nor stall the event loop.

        Args:
            sync: makes the file durable (tests count its calls).
            clock: Unix time, for the lines' times.

        Raises:
            JournalError: the file is in use by another run, cannot be opened, is not a
                journal, is of a newer format, or is damaged before its last line.
        """
        name = os.fspath(path)
        opening = _Opening()
        loop = asyncio.get_running_loop()
        replay = loop.run_in_executor(None, _open_file, name, ledger, sync, opening)
        try:
            fd, header, done = await asyncio.shield(replay)
        except asyncio.CancelledError:
            opening.abandon()
            # The thread writes to the caller's ledger: wait for it to stop (it stops
            # within a thousand lines), so the caller may close the ledger at once.
            with contextlib.suppress(Exception):
                await replay
            raise
        return cls(name, fd, header, done, sync, clock)

    def check(self, fingerprint: str, head: int) -> None:
        """Refuse a journal written for other jobs (a new journal fits any).

        Raises:
            JournalError: its header names another fingerprint or head.
        """
        header = self.header
        if header is not None and (header.fingerprint, header.head) != (fingerprint, head):
            raise JournalError(
                f"journal {self.path} was written for other jobs (its first"
                f" {header.head} jobs differ); use a new journal file, or the file of"
                " jobs it was made for"
            )

    async def write_header(self, fingerprint: str, head: int) -> None:
        """Start a new journal: its header line, durable on return.

        Raises:
            JournalError: the journal has a header already.
            ValueError: the fingerprint is too long to be read back (keep it short: a hash).
        """
        if self.header is not None:
            raise JournalError(f"journal {self.path} has a header already")
        header = Header(fingerprint, head, self._clock())
        line = encode(header)
        if len(line) > HEADER_MAX:
            raise ValueError(f"a journal's fingerprint must be short, not {len(fingerprint)} long")
        await self._append(line)
        self.header = header

    async def started(self, key: str, *, callee: str) -> None:
        """Journal that ``key`` is about to be dialled; returns once the line is durable.

        Cancelled, the line may still be written: a rerun then finds the job started
        (unknown) unless a finished line follows.

        Raises:
            JournalError: the journal is closed or cannot be written; dial nothing.
        """
        if self.header is None:
            raise JournalError(f"journal {self.path} has no header: write_header() first")
        at = self._clock()
        waiter = self._append(encode(Started(key, callee, at)))
        self._starts[key] = at
        await waiter

    def finished(
        self,
        key: str,
        status: str,
        *,
        call_id: str | None = None,
        error: str | None = None,
        retryable: bool = False,
    ) -> None:
        """Queue the result of a dialled job (``"ok"``, ``"failed"`` or ``"unknown"``).

        Not awaited: a line lost in a crash only leaves its job unknown on a rerun.

        Raises:
            ValueError: an unknown status.
            JournalError: the journal is closed or failed to write earlier lines.
        """
        if status not in RESULTS:
            raise ValueError(f"a job finishes ok, failed or unknown, not {status!r}")
        started_at = self._starts.pop(key, None)
        line = Finished(key, status, call_id, error, retryable, self._clock(), started_at)
        self._queue(encode(line))
        self._finished += 1

    def _queue(self, line: bytes) -> None:
        if self._closing:
            raise JournalError(f"journal {self.path} is closed")
        if self._error is not None:
            raise _again(self._error)
        self._lines.append(line)
        self._wake.set()

    def _append(self, line: bytes) -> asyncio.Future[None]:
        self._queue(line)
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        return waiter

    def _take(self) -> _Batch:
        batch = _Batch(b"".join(self._lines), self._waiters, self._finished)
        self._lines, self._waiters, self._finished = [], [], 0
        return batch

    async def _write_loop(self) -> None:
        while True:
            if not self._lines:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            batch = self._batch = self._take()
            await asyncio.to_thread(self._flush, batch)
            self._batch = None
            self._settle(batch)
            if self._error is not None:
                return

    def _flush(self, *batches: _Batch) -> None:
        """Write and fsync the batches not yet written (in a thread, or on close)."""
        with self._io:
            batches = tuple(batch for batch in batches if not batch.written)
            if not batches or self._fd is None:
                return
            for batch in batches:
                batch.written = True  # even if writing fails: a retry could tear the file
            try:
                _write_all(self._fd, b"".join(batch.data for batch in batches))
                self._sync(self._fd)
            except Exception as err:  # whatever failed, these lines may not be durable
                error = JournalError(f"journal {self.path} cannot be written: {err}")
                error.__cause__ = err
                for batch in batches:
                    batch.error = error

    def _settle(self, batch: _Batch) -> None:
        """Wake the batch's waiters: written, or failed (and so is every later line)."""
        waiters = batch.waiters
        if batch.error is not None and self._error is None:
            self._error = batch.error
            rest = self._take()  # never to be written: the file may end in a torn line
            self._lost += batch.finished + rest.finished
            waiters = waiters + rest.waiters
        for waiter in waiters:
            if waiter.done():  # its started() was cancelled
                continue
            if batch.error is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(_again(batch.error))

    def _drain_now(self) -> None:
        """Write what is queued or in flight, blocking the loop: for close and mishaps."""
        batches = [b for b in (self._batch, self._take()) if b is not None and b.data]
        self._batch = None
        if self._error is None:
            self._flush(*batches)
        for batch in batches:
            self._settle(batch)

    def _writer_stopped(self, writer: asyncio.Task[None]) -> None:
        if self._closing:
            return
        # Cancelled by someone else (a task group tearing down every task, say): keep
        # every line queued, and refuse the next ones.
        if not writer.cancelled() and writer.exception() is not None:
            _log.error("journal %s: its writer failed", self.path, exc_info=writer.exception())
        self._drain_now()
        if self._error is None:
            self._error = JournalError(f"journal {self.path}: its writer task was stopped")

    async def close(self) -> None:
        """Write every queued line, fsync, unlock and close the file. Idempotent.

        Safe to call after a cancellation, or when cancelled itself: the lines queued
        are then written before it returns.

        Raises:
            JournalError: finished lines were lost to a write error, so those jobs will
                be unknown on a rerun (raised once).
        """
        if self._closed:
            return
        self._closing = True
        self._wake.set()
        try:
            if not self._writer.done():
                await asyncio.wait({self._writer})
        finally:
            self._shut()
        if self._lost:
            raise JournalError(
                f"journal {self.path}: {self._lost} finished line(s) lost ({self._error});"
                " their jobs will be unknown on a rerun"
            )

    def _shut(self) -> None:
        self._closed = True
        self._writer.cancel()
        try:
            self._drain_now()
        finally:
            with self._io:
                fd, self._fd = self._fd, None
            if fd is not None:
                _release(fd)
