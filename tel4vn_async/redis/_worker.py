"""``run_worker``: a worker process's loop, an arq ``Worker`` dialling the runs' jobs.

arq only spreads the work: it hands each job (``run_id``, ``key``) to one worker at a time.
What makes a dial happen at most once is the ledger: the worker dials only after
winning the job's claim, and records the result as the job's final state. It dials
through the same code as ``fan_out`` (``bulk._pacing.send`` with a client from
``paced_client``, results classified by ``bulk._results.dialled``), paced by the run's
one Redis bucket (``RedisThrottle``).

A heartbeat key says the worker lives; it also keeps alive arq's in-progress marks of
the jobs it runs, which are set to expire as fast as the heartbeat. So a worker killed
with jobs in hand loses them within seconds: another worker picks each up again and
finds either no claim (it was killed before claiming: the job is dialled now, once) or
a claim of a dead worker without a result (recorded UNKNOWN: never redialled).

Stopping (the task cancelled, or SIGTERM with ``handle_signals``) is graceful: no more
jobs are taken, jobs that have not sent their call give their claim back and return
to the queue for another worker, and calls in flight finish and are recorded. A second
cancellation cuts those calls off: they are recorded UNKNOWN.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
import signal
import socket
import time
from functools import cached_property
from typing import TYPE_CHECKING, Any

import attrs
import redis.asyncio as aioredis
from arq.connections import ArqRedis
from arq.constants import abort_jobs_ss, in_progress_key_prefix, job_key_prefix, retry_key_prefix
from arq.jobs import SerializationError, deserialize_job_raw
from arq.utils import timestamp_ms
from arq.worker import Retry, Worker, func
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError, RedisError

from .._validate import check_flag, check_int, check_number
from ..bulk._pacing import SLOT, NotSent, Phase, Slot, paced_client, send
from ..bulk._results import JobResult, JobStatus, dialled
from ..errors import OutcomeUnknownError, StoreError, Tel4vnError, ValidationError
from ._bucket import RedisThrottle, RunBucket
from ._connect import check_prefix, connect
from ._ledger import (
    Held,
    Ledger,
    RunKeys,
    alive_workers,
    beat,
    check_id,
    stop_beating,
)
from ._run import FUNCTION, RETENTION, dumps_job, loads_job, queue_name

if TYPE_CHECKING:
    from ..autocall._client import AutocallClient

__all__ = ["run_worker"]

_log = logging.getLogger("tel4vn_async.redis")

MAX_TRIES = 3
"""arq's tries of one job, counted but never a reason to drop one of ours. arq marks a
job in progress before our function runs and claims it: a worker killed in that gap, or
stopping workers giving an unsent job back, would spend tries, and ``max_tries`` would
then drop a job nobody dialled, leaving it without a result. Running a job again is
safe: the claim ledger, not the engine, decides who dials, and a job is put away only
once its result is recorded. Past this many tries a delivery is logged."""


def _unexpected(error: Exception, slot: Slot, path: str) -> Tel4vnError:
    """The typed error recorded for an exception that is no API answer: UNKNOWN when the
    request may have gone out, else FAILED (never sent)."""
    name = type(error).__name__
    typed: Tel4vnError
    if slot.phase is Phase.SENDING:
        typed = OutcomeUnknownError(
            f"an unexpected {name} while the call was sent: it may have been placed",
            method="POST",
            path=path,
        )
    else:
        typed = Tel4vnError(f"an unexpected {name} before the call was sent; not placed")
    typed.__cause__ = error
    return typed


_JOB_TIMEOUT = 86_400
"""arq's limit on one job: a day. A job's time is bounded by the client's timeouts and
retries and by the run's rate; the engine cutting a call mid-flight would only turn it
UNKNOWN."""

# KEYS: arq's queue. ARGV: arq's in-progress, job and retry key prefixes, the mark's life
# (ms), now (ms, arq's clock), room, ids to read from the head, where to begin among them
# (0-based). What arq's poll does (read the due head of the queue; for each id a WATCH
# transaction: no mark, still queued, then set the mark) and what its run_job reads first
# (the job, and its try counted), in one call, stopping once the room is filled. Returns
# per job started here: its id, score, payload ('' if gone) and try. Workers begin at
# random places in the head, so that they seldom try the same ids.
_START = """
local mark, job, retry, life, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local room, count, first = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local head = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES', 'LIMIT', 0, count)
local n = #head / 2
local started = {}
for j = 0, n - 1 do
  if #started >= 4 * room then break end
  local i = (first + j) % n
  local id = head[2 * i + 1]
  if redis.call('EXISTS', mark .. id) == 0 then
    redis.call('PSETEX', mark .. id, life, '1')
    local tries = redis.call('INCR', retry .. id)
    redis.call('EXPIRE', retry .. id, 88400)
    started[#started + 1] = id
    started[#started + 1] = head[2 * i + 2]
    started[#started + 1] = redis.call('GET', job .. id) or ''
    started[#started + 1] = tries
  end
end
return started
"""

_IDLE_RUN = 60.0  # seconds a run's throttle is kept after its last job here


@attrs.define
class _RunHere:
    """A run this worker serves: its ledger, its throttle, the client paced by it."""

    ledger: Ledger
    throttle: RedisThrottle
    client: Any
    active: int = 0
    used: float = attrs.field(factory=time.monotonic)


class _Worker:
    def __init__(
        self,
        client: AutocallClient,
        redis: aioredis.Redis,
        worker_id: str,
        prefix: str,
        heartbeat: float,
    ) -> None:
        self.client = client
        self.redis = redis
        self.id = worker_id
        self.prefix = prefix
        self.heartbeat = heartbeat
        self.stopping = False
        self.runs: dict[str, _RunHere] = {}
        self.slots: dict[asyncio.Task[Any], Slot] = {}
        self.unrecorded: list[tuple[str, JobResult, float | None]] = []
        self.pending: dict[str, tuple[_RunHere, JobResult, float | None]] = {}
        """Results to record with arq's clean-up of their job (``_ArqWorker.finish_job``),
        by arq job id: one round trip for both."""

    def is_stopping(self) -> bool:
        return self.stopping

    # ------------------------------------------------------------------ one job

    async def dial(self, ctx: dict[str, Any], run_id: str, key: str) -> None:
        """The arq function: dial ``key`` of ``run_id`` if this worker wins its claim."""
        if self.stopping:
            raise Retry()  # taken as the worker stopped: back to the queue, unclaimed
        run = self._enter(run_id)
        try:
            await self._dial(run, key, str(ctx["job_id"]))
        finally:
            run.active -= 1
            run.used = time.monotonic()

    def _enter(self, run_id: str) -> _RunHere:
        run = self._run(run_id)
        run.active += 1
        return run

    def _run(self, run_id: str) -> _RunHere:
        run = self.runs.get(run_id)
        if run is None:
            keys = RunKeys(self.prefix, check_id(run_id, "run_id"))
            bucket = RunBucket(self.redis, keys, max_pause=self.client._policy.max_retry_after)
            throttle = RedisThrottle(bucket)
            run = _RunHere(
                ledger=Ledger(self.redis, keys, retention=RETENTION),
                throttle=throttle,
                client=paced_client(self.client, throttle, self.is_stopping),
            )
            self.runs[run_id] = run
        return run

    async def _dial(self, run: _RunHere, key: str, job_id: str) -> None:
        try:
            verdict = await run.throttle.claim(run.ledger, key, self.id)
        except RedisError:
            # Claimed or not, nothing was sent: the job goes back to the queue (a claim
            # won unknowingly is settled UNKNOWN once this worker stops).
            _log.warning("job %s: the claim failed; back to the queue", key, exc_info=True)
            raise Retry(defer=1) from None
        if isinstance(verdict, Held):
            await self._held(run, key, verdict)
            return
        if verdict is None:
            return  # recorded already, or no longer in Redis
        task = asyncio.current_task()
        assert task is not None
        slot = Slot()
        SLOT.set(slot)
        self.slots[task] = slot
        result = JobResult(None, verdict.index, key, JobStatus.OK)
        try:
            if self.stopping:
                raise NotSent
            call = await send(run.client, run.throttle, verdict.prepared, slot, self.is_stopping)
        except (NotSent, asyncio.CancelledError, RedisError) as stop:
            if slot.phase is Phase.SENDING:  # cut off with the call in flight
                error = OutcomeUnknownError(
                    "the worker was stopped with the call in flight: it may have been placed",
                    method="POST",
                    path=verdict.prepared.path,
                )
                unknown = dialled(result, error=error, attempts=slot.attempts)
                await asyncio.shield(self._record(run, unknown, slot.since or verdict.at))
                raise
            await asyncio.shield(self._give_back(run, key))  # never sent: another may dial
            if isinstance(stop, NotSent):
                raise Retry() from None
            if isinstance(stop, RedisError):  # the run's bucket could not be read
                _log.warning("job %s: back to the queue", key, exc_info=True)
                raise Retry(defer=1) from None
            raise
        except StoreError:
            # The token could not be had from its store (Redis down): raised before the
            # request went out, and any earlier attempt was refused unplaced (a 401).
            await asyncio.shield(self._give_back(run, key))
            _log.warning("job %s: the token store failed; back to the queue", key)
            raise Retry(defer=1) from None
        except Tel4vnError as error:
            result = dialled(result, error=error, attempts=slot.attempts)
        except Exception as error:
            # A bug or a misuse, not an answer: still exactly one result, never a lost job.
            _log.exception("job %s: unexpected error while dialling", key)
            unexpected = _unexpected(error, slot, verdict.prepared.path)
            result = dialled(result, error=unexpected, attempts=slot.attempts)
        else:
            result = dialled(result, call_id=call.call_id, attempts=slot.attempts)
        finally:
            del self.slots[task]
            run.throttle.forget()  # a slot granted with the claim and not used
        # Recorded with arq's clean-up of the job, in one round trip, right after this
        # returns (``_ArqWorker.finish_job``).
        self.pending[job_id] = (run, result, slot.since)

    async def _held(self, run: _RunHere, key: str, held: Held) -> None:
        """A claimed job delivered again: its owner records it, unless it died."""
        if held.owner == self.id:
            return
        if held.owner not in await alive_workers(self.redis, self.prefix, [held.owner]):
            await run.ledger.abandon(key, held)

    async def _give_back(self, run: _RunHere, key: str) -> None:
        try:
            await run.ledger.release(key, self.id)
        except RedisError:
            # The claim stays: once this worker has stopped, the job is settled UNKNOWN.
            _log.warning("could not give back the claim on job %s", key, exc_info=True)

    def recorded(self, run: _RunHere, result: JobResult, since: float | None, reply: Any) -> None:
        """What recording ``result`` in a pipeline answered: an error keeps it to retry."""
        if isinstance(reply, Exception):
            _log.warning("could not record job %s (%s); retrying", result.key, reply)
            self.unrecorded.append((run.ledger.keys.run_id, result, since))
        elif not reply:
            _log.warning(
                "job %s: a result was recorded before this one (%s); kept",
                result.key,
                result.status.value,
            )

    async def _record(self, run: _RunHere, result: JobResult, since: float | None) -> None:
        try:
            if not await run.ledger.record(result, since=since, worker=self.id):
                _log.warning(
                    "job %s: a result was recorded before this one (%s); kept",
                    result.key,
                    result.status.value,
                )
        except RedisError:
            _log.warning("could not record job %s; retrying", result.key, exc_info=True)
            self.unrecorded.append((run.ledger.keys.run_id, result, since))

    # ------------------------------------------------------------------ upkeep

    async def beat(self, worker: Worker) -> None:
        marks = [in_progress_key_prefix + job_id for job_id in list(worker.tasks)]
        await beat(self.redis, self.prefix, self.id, self.heartbeat, marks)

    async def upkeep(self, worker: Worker) -> None:
        """Heartbeat, retry unrecorded results, and drop runs idle here."""
        while True:
            await asyncio.sleep(self.heartbeat / 4)
            try:
                await self.beat(worker)
                await self._retry_unrecorded()
                now = time.monotonic()
                for run_id, run in list(self.runs.items()):
                    if run.active == 0 and now - run.used > _IDLE_RUN:
                        del self.runs[run_id]
                        await run.throttle.flush()
            except RedisError:
                _log.warning("worker %s: heartbeat failed", self.id, exc_info=True)

    async def _retry_unrecorded(self) -> None:
        todo, self.unrecorded = self.unrecorded, []
        for run_id, result, since in todo:
            await self._record(self._run(run_id), result, since)

    def stop_waiting(self) -> None:
        """Stop: jobs waiting to send give their claim back (their tasks are cancelled)."""
        self.stopping = True
        for task, slot in list(self.slots.items()):
            if slot.phase in (Phase.WAITING, Phase.RETRY_WAIT) and not task.done():
                task.cancel()

    def cut_off(self, worker: Worker) -> None:
        """Stop at once: calls in flight are cut off (recorded UNKNOWN)."""
        self.stopping = True
        for task in list(self.slots) + list(worker.job_tasks.values()):
            if not task.done():
                task.cancel()

    async def leave(self) -> None:
        """Last words: successes told, results recorded, heartbeat removed."""
        for run in self.runs.values():
            with contextlib.suppress(RedisError):
                await run.throttle.flush()
        try:
            await self._retry_unrecorded()
            await stop_beating(self.redis, self.prefix, self.id)
        except RedisError:
            _log.warning("worker %s: could not sign off", self.id, exc_info=True)
        if self.unrecorded:
            _log.error(
                "worker %s: %d result(s) could not be recorded; those jobs will be UNKNOWN",
                self.id,
                len(self.unrecorded),
            )


class _ArqWorker(Worker):
    """arq's ``Worker``, a job costing two round trips to Redis in all (the claim with
    its first rate grant; the result with arq's clean-up) and a share of one poll,
    instead of about nine (six of them arq's).

    arq reads the head of the queue (``queue_read_limit`` ids) and tries every id with a
    WATCH transaction, four round trips each; its ``run_job`` then reads the job and
    counts its try (one more), and ``finish_job`` puts it away (one more). Here one
    script call (``_START``) reads the head and does what those transactions and reads
    do, atomically, for as many jobs as the worker has room for, beginning at a random
    place in the head (workers seldom try the same ids); ``_run_job`` runs the job as
    ``run_job`` does; and the job's result is recorded in the transaction that puts it
    away (``finish_job``). The rest of arq's loop is kept: polling, reaping finished
    tasks, its health check, burst mode, the ``Retry`` and cancellation rules.
    """

    state: _Worker
    """This worker's state (set once made)."""

    async def _poll_iteration(self) -> None:
        if self.allow_pick_jobs and self.job_counter < self.max_jobs:
            await self._start_jobs()
        for job_id, task in list(self.tasks.items()):
            if task.done():
                del self.tasks[job_id]
                task.result()  # as arq: an error in run_job propagates
        await self.heart_beat()

    async def _start_jobs(self) -> None:
        room = self.max_jobs - self.job_counter
        count = self.queue_read_limit
        life = max(1, int(self.in_progress_timeout_s * 1000))
        args: list[str | int] = [in_progress_key_prefix, job_key_prefix, retry_key_prefix]
        args += [life, timestamp_ms(), room, count, random.randrange(count)]
        reply: list[Any] = await self._start(keys=[self.queue_name], args=args)
        unused: list[str] = []
        for i in range(0, len(reply), 4):
            job_id, score, payload, tries = (
                reply[i].decode(),
                reply[i + 1],
                reply[i + 2],
                reply[i + 3],
            )
            if self.job_counter >= self.max_jobs:  # stopping meanwhile: not started here
                unused.append(in_progress_key_prefix + job_id)
                continue
            # arq's own bookkeeping of a job it starts (Worker.start_jobs).
            await self.sem.acquire()
            self.job_counter += 1
            run = self._run_job(job_id, int(float(score)), payload or None, int(tries))
            task = self.loop.create_task(run)
            task.add_done_callback(lambda _: self._release_sem_dec_counter_on_complete())
            self.tasks[job_id] = task
        if unused:
            await self.pool.delete(*unused)

    async def _run_job(self, job_id: str, score: int, payload: bytes | None, tries: int) -> None:
        """arq's ``run_job`` for this worker's one function, the job read already: what
        it does with a job gone, unreadable, for another function or tried too often (put
        away), a ``Retry`` (back to the queue, deferred as asked), a cancellation (back to
        the queue) or an error (logged, put away). No result is kept (``keep_result=0``)."""
        finish, incr_score = True, None
        try:
            function, args, kwargs, _, _ = deserialize_job_raw(
                payload or b"", deserializer=self.job_deserializer
            )
        except SerializationError:
            _log.warning("job %s: gone or unreadable; put away", job_id)
            function = ""
        if function and function != FUNCTION:
            _log.warning("job %s: no function %r here; put away", job_id, function)
        elif function and tries > MAX_TRIES:
            _log.warning("job %s: delivered %d times; the claim ledger decides", job_id, tries)
        if function != FUNCTION:
            self.jobs_failed += 1
        else:
            ctx = {**self.ctx, "job_id": job_id, "job_try": tries, "score": score}
            self.job_tasks[job_id] = task = self.loop.create_task(
                self.state.dial(ctx, *args, **kwargs)
            )
            try:
                await task
            except Retry as retry:
                finish = False
                if retry.defer_score:
                    incr_score = retry.defer_score + (timestamp_ms() - score)
                self.jobs_retried += 1
            except asyncio.CancelledError:  # as arq: run again (the ledger decides)
                finish = False
                self.jobs_retried += 1
            except Exception:
                _log.exception("job %s failed", job_id)
                self.jobs_failed += 1
            else:
                self.jobs_complete += 1
            finally:
                del self.job_tasks[job_id]
        await asyncio.shield(self.finish_job(job_id, finish, None, None, False, incr_score, None))

    async def finish_job(
        self,
        job_id: str,
        finish: bool,
        result_data: bytes | None,
        result_timeout_s: float | None,
        keep_result_forever: bool,
        incr_score: int | None,
        keep_in_progress: float | None,
    ) -> None:
        """arq's clean-up of a finished job, with the recording of its result."""
        pending = self.state.pending.pop(job_id, None)
        if pending is None or not finish or result_data or keep_in_progress is not None:
            if pending is not None:  # not arq's plain finish: recorded on its own
                await self.state._record(*pending)
            await super().finish_job(
                job_id, finish, result_data, result_timeout_s, keep_result_forever,
                incr_score, keep_in_progress,
            )  # fmt: skip
            return
        run, result, since = pending
        assert result.key is not None
        try:
            async with self.pool.pipeline(transaction=True) as tr:
                run.ledger.record_on(tr, result, since=since, worker=self.state.id)
                # What arq's finish_job sends for a finished job whose result is not kept.
                tr.delete(
                    in_progress_key_prefix + job_id,
                    retry_key_prefix + job_id,
                    job_key_prefix + job_id,
                )
                tr.zrem(abort_jobs_ss, job_id)
                tr.zrem(self.queue_name, job_id)
                replies = await tr.execute(raise_on_error=False)
        except RedisError as error:
            self.state.recorded(run, result, since, error)
            raise
        if isinstance(replies[0], NoScriptError):  # Redis restarted: load it, record
            await self.state._record(run, result, since)
        else:
            self.state.recorded(run, result, since, replies[0])

    @cached_property
    def _start(self) -> AsyncScript:
        # The in-progress keys are named in ARGV, not KEYS: arq's keys are not in one
        # Redis Cluster slot anyway, and arq does not run on a cluster.
        return self.pool.register_script(_START)


def _arq_redis(redis: aioredis.Redis) -> tuple[ArqRedis, bool]:
    """An ``ArqRedis`` on ``redis``'s connection pool (arq reads bytes: a pool decoding
    responses is copied without it). Returns it and whether it has a pool of its own."""
    pool = redis.connection_pool
    if not pool.connection_kwargs.get("decode_responses"):
        return ArqRedis(pool_or_conn=pool), False
    kwargs = {**pool.connection_kwargs, "decode_responses": False}
    own = aioredis.ConnectionPool(connection_class=pool.connection_class, **kwargs)
    return ArqRedis(pool_or_conn=own), True


def _default_id() -> str:
    host = "".join(c if c.isalnum() or c in "_.-" else "-" for c in socket.gethostname())
    return f"{host[:60] or 'host'}-{os.getpid()}-{secrets.token_hex(3)}"


async def run_worker(
    client: AutocallClient,
    redis: aioredis.Redis | str,
    *,
    concurrency: int = 20,
    burst: bool = False,
    worker_id: str | None = None,
    prefix: str = "tel4vn",
    heartbeat: float = 3.0,
    poll_delay: float = 0.05,
    handle_signals: bool = False,
) -> None:
    """Dial the jobs of every run submitted under ``prefix``, until cancelled.

    Each job is dialled at most once across all workers: only after winning its claim
    in the ledger. Calls go through ``client`` (its token, retries and connections),
    paced by each run's one Redis-wide rate. Cancel the task to stop gracefully: no more
    jobs are taken, jobs not yet sent return to the queue, calls in flight finish and are
    recorded; a second cancellation cuts them off (recorded UNKNOWN).

    Args:
        client: the ``AutocallClient`` to dial with (left open).
        redis: a ``redis.asyncio.Redis`` client or a URL (a client made from it is closed).
        concurrency: jobs in hand at once (arq's ``max_jobs``), 1 to 10,000.
        burst: return once the queue is empty, instead of waiting for more runs.
        worker_id: the worker's name in the ledger (letters, digits, ``_ . : @ -``);
            by default the host name, the process id and a random suffix.
        prefix: the prefix of every key (as ``submit`` was given).
        heartbeat: seconds the worker's heartbeat lives (refreshed four times as
            often): a killed worker's jobs are settled, or taken up, this long after.
        poll_delay: seconds between two reads of the queue when the worker has room.
        handle_signals: let SIGTERM and SIGINT stop the worker (gracefully the first
            time, at once the second); needs the main thread.

    Raises:
        ValidationError: a bad argument.
        redis.exceptions.RedisError: Redis could not be reached.
    """
    from ..autocall import AutocallClient  # at run time: the package imports this module

    if not isinstance(client, AutocallClient):
        raise ValidationError(
            f"client must be an AutocallClient, got {type(client).__name__}", field="client"
        )
    prefix = check_prefix(prefix)
    concurrency = check_int(concurrency, "concurrency", low=1, high=10_000)
    burst = check_flag(burst, "burst")
    worker_id = check_id(worker_id if worker_id is not None else _default_id(), "worker_id")
    heartbeat = check_number(heartbeat, "heartbeat", low=0.2, high=3600)
    poll_delay = check_number(poll_delay, "poll_delay", low=0.001, high=60)
    client._check_open()
    conn = connect(redis)
    arq_redis, own_pool = _arq_redis(conn)
    state = _Worker(client, conn, worker_id, prefix, heartbeat)
    worker = _ArqWorker(
        [func(state.dial, name=FUNCTION, max_tries=MAX_TRIES)],
        queue_name=queue_name(prefix),
        redis_pool=arq_redis,
        burst=burst,
        handle_signals=False,
        max_jobs=concurrency,
        job_timeout=_JOB_TIMEOUT,
        keep_result=0,
        poll_delay=poll_delay,
        job_serializer=dumps_job,
        job_deserializer=loads_job,
        log_results=False,
    )
    worker.state = state
    # In-progress marks live as long as a heartbeat, refreshed by it (arq's default is
    # the job timeout plus 10 s): a killed worker's jobs are taken up within seconds.
    worker.in_progress_timeout_s = heartbeat
    me = asyncio.current_task()
    if handle_signals and me is not None:
        _on_signals(me)
    upkeep: asyncio.Future[None] | None = None
    main: asyncio.Future[None] | None = None
    try:
        await state.beat(worker)
        upkeep = asyncio.ensure_future(state.upkeep(worker))
        main = asyncio.ensure_future(worker.main())
        try:
            await asyncio.shield(main)  # cancelling us must not cancel arq's loop at once
        finally:
            await _stop(state, worker)
    finally:
        for task in (main, upkeep):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        if handle_signals:
            _off_signals()
        try:
            await state.leave()
        finally:
            await arq_redis.aclose(close_connection_pool=own_pool)
            if conn is not redis:
                await conn.aclose()


async def _stop(state: _Worker, worker: Worker) -> None:
    """Graceful: take no more jobs, give back the unsent, let calls in flight finish.
    Cancelled meanwhile: cut the calls off, and wait for arq to put their jobs away."""
    worker.allow_pick_jobs = False
    worker.max_jobs = 0  # arq's loop, mid-way through a batch of ids, starts no more
    state.stop_waiting()
    try:
        await _drain(worker)
    except asyncio.CancelledError:
        state.cut_off(worker)
        await _drain(worker)
        raise


async def _drain(worker: Worker) -> None:
    while pending := [t for t in worker.tasks.values() if not t.done()]:
        await asyncio.wait(pending)


def _on_signals(task: asyncio.Task[Any]) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)


def _off_signals() -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.remove_signal_handler(sig)
