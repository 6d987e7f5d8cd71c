"""``BulkRunner``: a bulk OTP/TTS run that never rings a person twice.

``concurrency`` long-lived workers pull jobs lazily from one shared ``Source``. For each
job a worker checks it (``prepare``), claims its key in the ``Ledger`` (a key seen before,
in this run or in the journal, is not dialled again), writes a durable ``started`` line to
the ``Journal``, waits for the run's one ``AdaptiveThrottle``, and sends through a client
derived from the user's: its ``on_attempt`` feeds every 429/503 and every success to the
throttle, and its retry waits are paced by it too. The result is journaled and handed to
the consumer through a bounded queue, so a slow consumer slows the run instead of
filling memory.

Stopping (a cancelled ``run()``, Ctrl-C, ``break`` out of ``async for``) is graceful: no
job is pulled any more, workers that have not sent yet give up (``SKIPPED``, journaled as
not sent), and calls in flight finish and are journaled. A second cancellation cuts them
off: their ``started`` lines make them UNKNOWN on the next run.

The ``started`` line is written before the throttle wait, not after: a grant is then
sent at once, so the rate the server sees is the rate granted, however slow the disk.
The price: a process killed (SIGKILL) while jobs wait for the throttle leaves those jobs,
at most ``concurrency``, UNKNOWN on the next run although never sent.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

import attrs

from .._sansio import Request, should_retry
from .._transport import AiohttpTransport
from .._validate import check_flag, check_int, check_number
from ..errors import (
    AuthenticationError,
    ClientClosedError,
    OutcomeUnknownError,
    StoreError,
    Tel4vnError,
    ValidationError,
)
from ._jobs import OTP_PATH, Prepared, given_key, prepare
from ._journal import Journal
from ._ledger import Claim, Entry, Ledger
from ._pacing import SLOT, NotSent, Phase, Slot, paced_client, send
from ._progress import Progress
from ._reconcile import Pending, reconcile
from ._results import BulkSummary, JobResult, JobStatus, Tally, dialled, error_text
from ._source import HEAD, Source, fingerprint
from ._throttle import AdaptiveThrottle

if TYPE_CHECKING:
    from ..autocall._client import AutocallClient

__all__ = ["BulkRunner", "OnResult"]

_log = logging.getLogger("tel4vn_async.bulk")
_MAX_CONCURRENCY = 10_000

OnResult = Callable[[JobResult], "Awaitable[None] | None"]
"""A callback given each job's result as it is known: plain or async."""


# The retry rule of section 3 for a call-placing request: what it would retry was
# provably never placed (no connection, 429, 503).
_A_CALL = Request("POST", OTP_PATH, places_call=True)


def _not_placed(error: Tel4vnError) -> bool:
    """Whether a failure proves the call never reached the PBX, transiently: worth a retry
    on the next run of the journal."""
    if isinstance(error, AuthenticationError | ClientClosedError | StoreError):
        return True  # refused before any processing, or never sent (no token to send)
    return should_retry(_A_CALL, error)


class BulkRunner:
    """A bulk run: ``async for result in runner`` yields each job's result as it is
    known; ``await runner.run()`` runs it to the end and returns the ``BulkSummary``.

    Made by ``AutocallClient.fan_out``, which documents the arguments. A runner runs once.
    """

    def __init__(
        self,
        client: AutocallClient,
        jobs: Iterable[Any] | AsyncIterable[Any],
        *,
        concurrency: int = 20,
        rate: float | None = None,
        journal: str | os.PathLike[str] | None = None,
        progress: bool = False,
        on_result: OnResult | None = None,
        redial_unknown: bool = False,
        reconcile: bool = False,
        retry_failed: bool = False,
    ) -> None:
        self._concurrency = check_int(concurrency, "concurrency", low=1, high=_MAX_CONCURRENCY)
        self._rate = (
            None
            if rate is None
            else check_number(rate, "rate", low=0, high=1e6, low_exclusive=True)
        )
        if journal is not None and not isinstance(journal, str | os.PathLike):
            raise ValidationError("journal must be a path (str or os.PathLike)", field="journal")
        if isinstance(journal, str) and not journal.strip():
            raise ValidationError("journal must not be blank", field="journal")
        self._journal_path = journal
        self._show_progress = check_flag(progress, "progress")
        if on_result is not None and not callable(on_result):
            raise ValidationError("on_result must be callable", field="on_result")
        self._on_result = on_result
        self._redial_unknown = check_flag(redial_unknown, "redial_unknown")
        self._reconcile = check_flag(reconcile, "reconcile")
        self._retry_failed = check_flag(retry_failed, "retry_failed")
        self._source = Source(jobs)
        self._pbx = client
        self._throttle = AdaptiveThrottle(rate=self._rate, max_pause=client._policy.max_retry_after)
        self._client = paced_client(client, self._throttle, self._is_stopping)
        self._tally = Tally()
        self._pending: list[Pending] = []
        self._queue: asyncio.Queue[JobResult | None] = asyncio.Queue(self._concurrency)
        self._workers: list[asyncio.Task[None]] = []
        self._closer: asyncio.Future[None] | None = None
        self._slots: dict[asyncio.Task[None], Slot] = {}
        self._stopping = False
        self._consumer_gone = False
        self._failure: BaseException | None = None
        self._ledger: Ledger | None = None
        self._journal: Journal | None = None
        self._progress: Progress | None = None
        self._started = 0.0
        self._used = False
        self.summary: BulkSummary | None = None
        """The run's summary, once it has ended (or stopped)."""

    def __repr__(self) -> str:
        state = "done" if self.summary else ("running" if self._used else "not started")
        return f"BulkRunner(concurrency={self._concurrency}, rate={self._rate}, {state})"

    def __aiter__(self) -> AsyncIterator[JobResult]:
        return self._results()

    async def run(self) -> BulkSummary:
        """Run every job and return the summary (``runner.summary`` keeps it too)."""
        async for _ in self._results():
            pass
        assert self.summary is not None
        return self.summary

    # ------------------------------------------------------------------ the run

    async def _results(self) -> AsyncIterator[JobResult]:
        if self._used:
            raise RuntimeError("a bulk runner runs once: call fan_out() again for a new run")
        self._used = True
        self._started = time.monotonic()
        finished = False
        try:
            await self._open()
            self._workers = [asyncio.ensure_future(self._work()) for _ in range(self._concurrency)]
            self._closer = asyncio.ensure_future(self._close_queue_when_done())
            while (result := await self._queue.get()) is not None:
                yield result
            if self._failure is not None:
                raise self._failure
            if self._pending:
                for result in await self._settle():
                    yield result
            finished = True
        finally:
            await self._stop()
            notes = self._notes(finished)
            self.summary = self._tally.summary(
                time.monotonic() - self._started,
                tuple(notes),
                throttled=self._throttle.throttles,
            )
            if self._progress is not None:
                self._progress.close(self._tally)

    async def _open(self) -> None:
        self._pbx._check_open()
        transport = self._pbx._transport
        pool = transport.connection_limit if isinstance(transport, AiohttpTransport) else None
        if pool and self._concurrency > pool:
            _log.warning(
                "concurrency=%d exceeds the client's pool of %d HTTP connections: at most "
                "%d calls will be in flight (give the client http_session=aiohttp."
                "ClientSession(connector=aiohttp.TCPConnector(limit=%d)))",
                self._concurrency,
                pool,
                pool,
                self._concurrency,
            )
        self._ledger = Ledger()
        if self._journal_path is not None:
            self._journal = await Journal.open(self._journal_path, self._ledger)
            header = self._journal.header
            head = await self._source.read_head(header.head if header else HEAD)
            if header is None:
                await self._journal.write_header(fingerprint(head), len(head))
            else:
                self._journal.check(fingerprint(head), len(head))
        if self._show_progress:
            done = self._journal.done if self._journal is not None else 0
            self._progress = Progress.start(total=self._source.total, initial=done)

    async def _close_queue_when_done(self) -> None:
        await asyncio.gather(*self._workers, return_exceptions=True)
        if not self._consumer_gone:
            await self._queue.put(None)

    async def _work(self) -> None:
        slot = Slot()
        SLOT.set(slot)
        task = asyncio.current_task()
        assert task is not None
        self._slots[task] = slot
        while not self._stopping:
            slot.phase, slot.attempts, slot.sent_at, slot.since = Phase.WAITING, 0, None, None
            try:
                item = await self._source.next()
            except asyncio.CancelledError:
                if self._stopping:
                    return
                raise
            except Exception as error:  # the user's job source failed: stop the run
                self._fail(error)
                return
            if item is None:
                return
            try:
                await self._job(*item, slot)
            except asyncio.CancelledError:
                if not self._stopping or slot.phase is Phase.SENDING:
                    raise
                if (uncancel := getattr(task, "uncancel", None)) is not None:
                    uncancel()
                return
            except Exception as error:  # a journal that cannot be written: stop the run
                self._fail(error)
                return

    def _fail(self, error: BaseException) -> None:
        if self._failure is None:
            self._failure = error
        self._stop_pulling()

    async def _job(self, index: int, job: Any, slot: Slot) -> None:
        try:
            prepared = prepare(job)
        except ValidationError as error:
            failed = JobResult(job, index, given_key(job), JobStatus.FAILED, error=error)
            await self._emit(failed, slot)
            return
        assert self._ledger is not None
        claim = self._ledger.claim(prepared.key)
        if claim is Claim.REPEATED:
            reason = "its key came up earlier in this run"
            skipped = JobResult(job, index, prepared.key, JobStatus.SKIPPED, reason=reason)
            await self._emit(skipped, slot)
            return
        if isinstance(claim, Entry) and not self._dial_again(claim):
            resumed = JobResult(job, index, prepared.key, JobStatus.SKIPPED)
            await self._resumed(resumed, claim, prepared, slot)
            return
        await self._dial(JobResult(job, index, prepared.key, JobStatus.OK), prepared, slot)

    def _dial_again(self, entry: Entry) -> bool:
        if entry.status == "ok":
            return False
        if entry.status == "failed":
            return entry.retryable or self._retry_failed
        return self._redial_unknown  # started or unknown: it may have rung

    async def _resumed(
        self, result: JobResult, entry: Entry, prepared: Prepared, slot: Slot
    ) -> None:
        """A job an earlier run of the journal dialled, and this one does not."""
        if entry.status == "ok":
            reason = "placed in an earlier run of the journal"
            result = attrs.evolve(result, call_id=entry.call_id, reason=reason)
        elif entry.status == "failed":
            reason = (
                f"failed in an earlier run of the journal ({entry.error}); "
                "pass retry_failed=True to try again"
            )
            result = attrs.evolve(result, reason=reason)
        else:
            error = OutcomeUnknownError(
                "sent in an earlier run of the journal, with no result recorded: the call "
                "may have been placed",
                method="POST",
                path=prepared.path,
            )
            reason = (
                "sent in an earlier run without a result; pass reconcile=True to check the "
                "call reports, redial_unknown=True to dial again"
            )
            result = attrs.evolve(result, status=JobStatus.UNKNOWN, error=error, reason=reason)
            if self._reconcile:
                self._pending.append(Pending(result, prepared, entry.at))
                return
        # A job the journal counts as done is already on the progress bar.
        await self._emit(result, slot, advance=entry.status not in ("ok", "failed"))

    async def _dial(self, result: JobResult, prepared: Prepared, slot: Slot) -> None:
        journal = self._journal
        try:
            if journal is not None:
                await journal.started(prepared.key, callee=prepared.callee)
            call = await send(self._client, self._throttle, prepared, slot, self._is_stopping)
        except (NotSent, asyncio.CancelledError) as stop:
            if not self._stopping or slot.phase is Phase.SENDING:
                raise
            await self._not_sent(result, prepared, slot)
            if isinstance(stop, asyncio.CancelledError):
                raise
            return
        except OutcomeUnknownError as error:
            result = dialled(result, error=error, attempts=slot.attempts)
            if journal is not None:
                journal.finished(prepared.key, "unknown", error=error_text(error))
            if self._reconcile:
                assert slot.since is not None  # set by send() before the request went out
                self._pending.append(Pending(result, prepared, slot.since))
                return
        except Tel4vnError as error:
            result = dialled(result, error=error, attempts=slot.attempts)
            if journal is not None:
                retryable = _not_placed(error)
                journal.finished(
                    prepared.key, "failed", error=error_text(error), retryable=retryable
                )
        else:
            result = dialled(result, call_id=call.call_id, attempts=slot.attempts)
            if journal is not None:
                journal.finished(prepared.key, "ok", call_id=call.call_id)
        await self._emit(result, slot)

    def _is_stopping(self) -> bool:
        return self._stopping

    async def _not_sent(self, result: JobResult, prepared: Prepared, slot: Slot) -> None:
        """The run stopped before this job's request went out (or before a retry of a
        refused one): journaled as a failure to retry, reported as SKIPPED."""
        reason = "the run stopped before it was sent"
        if self._journal is not None:
            self._journal.finished(prepared.key, "failed", error=reason, retryable=True)
        result = attrs.evolve(
            result, status=JobStatus.SKIPPED, attempts=slot.attempts, reason=reason
        )
        await self._emit(result, slot)

    async def _emit(self, result: JobResult, slot: Slot, *, advance: bool = True) -> None:
        slot.phase = Phase.EMITTING
        await self._record(result, advance=advance)
        if not self._consumer_gone:
            await self._queue.put(result)

    async def _record(self, result: JobResult, *, advance: bool) -> None:
        """Count a result, show it, and tell ``on_result``."""
        self._tally.add(result)
        if self._progress is not None:
            self._progress.update(self._tally, advance=advance)
        if self._on_result is not None:
            try:
                outcome = self._on_result(result)
                if inspect.isawaitable(outcome):
                    await outcome
            except Exception:  # a user's callback never stops the run
                _log.exception("on_result raised on job %d; ignored", result.index)

    async def _settle(self) -> list[JobResult]:
        """Reconcile the UNKNOWN jobs held back, and record their final results."""
        pending, self._pending = self._pending, []
        results = await reconcile(self._pbx, pending, concurrency=self._concurrency)
        for result in results:
            if result.status is JobStatus.OK:
                self._tally.reconciled += 1
                if self._journal is not None and result.key is not None:
                    self._journal.finished(result.key, "ok", call_id=result.call_id)
            await self._record(result, advance=True)
        return sorted(results, key=lambda r: r.index)

    def _notes(self, finished: bool) -> list[str]:
        notes = []
        if not finished:
            notes.append(
                "the run stopped before its end: jobs not yet pulled have no result; run "
                "again with the same journal to go on"
            )
        unknown = self._tally.counts[JobStatus.UNKNOWN]
        if unknown and self._reconcile and finished:
            notes.append(
                f"{unknown} job(s) remain UNKNOWN: no call report matched them (see each "
                "result's reason). Reports can lag: run again with the same journal and "
                "reconcile=True to check again; redial_unknown=True dials them again."
            )
        elif unknown:
            notes.append(
                f"{unknown} job(s) are UNKNOWN: the call may have been placed. Pass "
                "reconcile=True to settle them from the call reports."
            )
        return notes

    # ------------------------------------------------------------------ stopping

    def _stop_pulling(self) -> None:
        """Pull no more jobs; workers that have not sent yet give up, and once the
        consumer is gone, so do those waiting to hand a result over."""
        self._stopping = True
        spare = {Phase.WAITING, Phase.RETRY_WAIT}
        if self._consumer_gone:
            spare.add(Phase.EMITTING)
        for task, slot in self._slots.items():
            if slot.phase in spare and not task.done():
                task.cancel()

    async def _stop(self) -> None:
        """End the run: graceful once, abrupt if cancelled again while it waits."""
        self._consumer_gone = True
        self._stop_pulling()
        pending_unknown, self._pending = self._pending, []
        try:
            await asyncio.gather(*self._workers, return_exceptions=True)
        finally:
            if self._closer is not None:
                self._closer.cancel()
                await asyncio.gather(self._closer, return_exceptions=True)
            # Whatever was settled or not, UNKNOWN jobs held for reconciling still count.
            for item in pending_unknown:
                await self._record(item.result, advance=True)
            if self._journal is not None:
                await self._journal.close()
            if self._ledger is not None:
                self._ledger.close()
