"""Submitting a distributed run, and reading its progress, summary and results from any
process: ``submit``, ``Run``, ``RunStatus``, ``run_status``.

``submit`` pulls the jobs lazily and, a batch at a time, checks each (``bulk._jobs.prepare``,
as ``fan_out`` does), admits it to the run's ledger under its key, and enqueues one arq
job per key (id ``<run>:<key>``) in the run's queue. A bad job is recorded FAILED at once;
a job whose key came up earlier in the run is SKIPPED. Submitting the same run again
(twice, or at once from two processes) admits nothing twice: the totals stay, and the
ledger's claims see to it that nobody is dialled twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs
import redis.asyncio as aioredis
from arq.constants import job_key_prefix, result_key_prefix
from arq.jobs import serialize_job

from .._validate import check_int, check_number
from ..bulk._jobs import Prepared, given_key, prepare
from ..bulk._reconcile import Pending, reconcile
from ..bulk._results import BulkSummary, JobResult, JobStatus
from ..bulk._source import Source
from ..errors import ValidationError
from ._connect import RedisHolder, check_prefix
from ._format import decode_result, text
from ._ledger import Ledger, RunKeys, check_id, count_workers

if TYPE_CHECKING:
    from ..autocall._client import AutocallClient

__all__ = ["FUNCTION", "Run", "RunStatus", "dumps_job", "loads_job", "queue_name", "run_status"]
__all__ += ["submit"]

_log = logging.getLogger("tel4vn_async.redis")

FUNCTION = "tel4vn_dial"
"""The arq function a worker registers: ``(run_id, key)``."""
RETENTION = 7 * 86400
_BATCH = 500  # jobs admitted and enqueued per two round trips

# KEYS: the arq job key, its result key, the queue. ARGV: payload, expiry (ms), score, id.
# What ArqRedis.enqueue_job does (a job id already queued or finished is not enqueued),
# as one script, so that a batch of jobs is enqueued in one pipelined round trip instead
# of enqueue_job's three (WATCH, EXISTS, MULTI/EXEC) per job.
_ENQUEUE = """
if redis.call('EXISTS', KEYS[1], KEYS[2]) > 0 then return 0 end
redis.call('PSETEX', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[4])
return 1
"""


def queue_name(prefix: str) -> str:
    """The arq queue of every run under ``prefix``."""
    return f"{prefix}:queue"


def dumps_job(data: dict[str, Any]) -> bytes:
    """arq's job serializer here: JSON, not pickle (a job read from Redis never runs code)."""
    return json.dumps(data, separators=(",", ":")).encode()


def loads_job(raw: bytes) -> dict[str, Any]:
    """arq's job deserializer here."""
    data: dict[str, Any] = json.loads(raw)
    return data


@attrs.frozen
class RunStatus:
    """A distributed run's progress, as any process reads it (``run_status``).

    Attributes:
        run_id: the run.
        total: jobs submitted so far (each gets one result).
        ok, failed, unknown, skipped: results per status.
        in_flight: jobs claimed by a worker and not finished.
        submitted: whether the whole job source has been submitted.
        done: submitted, and every job has its result.
        rate: the run-wide rate in force, calls per second (None: unlimited so far).
        throttled: 429 and 503 answers the workers met.
        errors: results per error class name.
        started_at: Unix time the run was first submitted.
        elapsed: seconds since then (until its last result, once done).
        workers: workers heartbeating now (serving every run under the prefix).
        reconciled: UNKNOWN jobs settled as OK from the call reports.
    """

    run_id: str
    total: int
    ok: int
    failed: int
    unknown: int
    skipped: int
    in_flight: int
    submitted: bool
    done: bool
    rate: float | None
    throttled: int
    errors: Mapping[str, int]
    started_at: float
    elapsed: float
    workers: int
    reconciled: int = 0

    @property
    def finished(self) -> int:
        """Jobs with a result."""
        return self.ok + self.failed + self.unknown + self.skipped

    def summary(self) -> BulkSummary:
        """The run's counts as a ``BulkSummary`` (as ``fan_out`` returns)."""
        notes = []
        if not self.done:
            waiting = self.total - self.finished
            more = "" if self.submitted else "; the submission has not ended"
            notes.append(f"the run is not finished: {waiting} job(s) have no result yet{more}")
        if self.unknown:
            notes.append(
                f"{self.unknown} job(s) are UNKNOWN: the call may have been placed. "
                "Run.reconcile(pbx) settles them from the call reports."
            )
        return BulkSummary(
            ok=self.ok,
            failed=self.failed,
            unknown=self.unknown,
            skipped=self.skipped,
            total=self.total,
            elapsed=self.elapsed,
            errors=dict(self.errors),
            reconciled=self.reconciled,
            throttled=self.throttled,
            notes=tuple(notes),
        )

    def __str__(self) -> str:
        state = "done" if self.done else ("running" if self.submitted else "submitting")
        rate = "unlimited" if self.rate is None else f"{self.rate:.1f}/s"
        return (
            f"run {self.run_id} {state}: {self.finished}/{self.total} jobs, {self.ok} ok, "
            f"{self.failed} failed, {self.unknown} unknown, {self.skipped} skipped, "
            f"{self.in_flight} in flight; rate {rate}, {self.throttled} throttled, "
            f"{self.workers} worker(s), {self.elapsed:.1f}s"
        )


class Run(RedisHolder):
    """A distributed run in Redis: its status, its results, and reconciling them.

    ``submit`` returns one; ``Run(redis, run_id)`` opens an existing run from any process.

    Args:
        redis: a ``redis.asyncio.Redis`` client, or a URL (then the run owns its client:
            close it with ``aclose()`` or ``async with``).
        run_id: the run's id.
        prefix: the prefix of every key (as the workers were given).
    """

    def __init__(self, redis: aioredis.Redis | str, run_id: str, *, prefix: str = "tel4vn") -> None:
        prefix = check_prefix(prefix)
        run_id = check_id(run_id, "run_id")
        self._hold(redis)
        self._keys = RunKeys(prefix, run_id)
        self._ledger = Ledger(self._redis, self._keys, retention=RETENTION)

    @property
    def id(self) -> str:
        """The run's id."""
        return self._keys.run_id

    def __repr__(self) -> str:
        return f"Run({self.id!r}, prefix={self._keys.prefix!r})"

    async def status(self) -> RunStatus:
        """The run's progress now; in-flight jobs of dead workers are settled UNKNOWN first.

        Raises:
            ValidationError: no such run in Redis (never submitted, or expired).
        """
        await self._ledger.settle()
        return await _read_status(self._redis, self._keys)

    async def follow(self, interval: float = 0.5) -> AsyncIterator[RunStatus]:
        """The run's status every ``interval`` seconds, until (and including) done."""
        interval = check_number(interval, "interval", low=0.01, high=3600)
        while True:
            status = await self.status()
            yield status
            if status.done:
                return
            await asyncio.sleep(interval)

    async def wait(self, interval: float = 0.5) -> BulkSummary:
        """Wait until every job has its result; returns the run's summary."""
        last = None
        async for status in self.follow(interval):
            last = status
        assert last is not None
        return last.summary()

    async def results(self) -> AsyncIterator[JobResult]:
        """Every result recorded so far, once each, in no particular order.

        Each ``job`` is the job rebuilt from the ledger (an ``OtpJob``/``TtsJob``, its
        template by name, its ``data`` as JSON gave it back); each ``error`` the named
        ``Tel4vnError`` subclass, with its message.

        Raises:
            ValidationError: no such run in Redis (never submitted, or expired).
        """
        if not await self._redis.exists(self._keys.meta):
            raise ValidationError(
                f"no run {self.id!r} in Redis (never submitted, or expired)", field="run_id"
            )
        async for entry, record in self._entries():
            yield decode_result(entry, record)

    async def _entries(self) -> AsyncIterator[tuple[dict[str, Any], dict[str, Any] | None]]:
        seen: set[str] = set()  # HSCAN may repeat a field while the hash grows
        cursor: Any = 0
        while True:
            cursor, chunk = await self._redis.hscan(self._keys.results, cursor, count=_BATCH)
            entries = []
            for field, value in chunk.items():
                name = text(field)
                if name not in seen:
                    seen.add(name)
                    entries.append(json.loads(text(value)))
            wanted = [e["k"] for e in entries if "j" not in e and e.get("k") is not None]
            records: dict[str, dict[str, Any]] = {}
            if wanted:
                fields = [k.encode("utf-8", "surrogatepass") for k in wanted]
                reply: Any = self._redis.hmget(self._keys.jobs, fields)  # typed sync-or-async
                raw = await reply
                records = {k: json.loads(text(r)) for k, r in zip(wanted, raw, strict=True) if r}
            for entry in entries:
                yield entry, records.get(entry.get("k") or "")
            if int(cursor) == 0:
                return

    async def reconcile(self, pbx: AutocallClient, *, concurrency: int = 20) -> int:
        """Settle the UNKNOWN jobs from the call reports, as ``fan_out(reconcile=True)``
        does: a report to the callee, from the caller, with the template, in the job's
        time window, means the call was placed: OK, with its call id.

        Returns:
            How many jobs it settled.
        """
        concurrency = check_int(concurrency, "concurrency", low=1, high=1000)
        pending: list[Pending] = []
        previous: dict[str, str] = {}
        async for entry, record in self._entries():
            if entry.get("s") != JobStatus.UNKNOWN.value or record is None:
                continue
            result = decode_result(entry, record)
            assert result.key is not None
            prepared = Prepared(key=result.key, path=record["p"], body=record["b"])
            since = float(entry.get("t0") or time.time())
            pending.append(Pending(result, prepared, since))
            previous[result.key] = str((entry.get("e") or {}).get("t", ""))
        if not pending:
            return 0
        settled = 0
        for result in await reconcile(pbx, pending, concurrency=concurrency):
            if result.status is JobStatus.OK and result.key is not None:
                settled += await self._ledger.reconciled(result, previous=previous[result.key])
        return settled


async def _read_status(redis: aioredis.Redis, keys: RunKeys) -> RunStatus:
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hgetall(keys.meta)
        pipe.hgetall(keys.errors)
        pipe.zcard(keys.inflight)
        pipe.hmget(keys.bucket, ["cap", "rate", "throttles"])
        pipe.time()
        meta_raw, errors_raw, in_flight, bucket, (seconds, micros) = await pipe.execute()
    if not meta_raw:
        raise ValidationError(
            f"no run {keys.run_id!r} in Redis (never submitted, or expired)", field="run_id"
        )
    meta = {text(k): text(v) for k, v in meta_raw.items()}
    errors = {text(k): int(v) for k, v in errors_raw.items() if int(v) > 0}
    cap, rate, throttles = (text(v) if v is not None else "" for v in bucket)

    def count(name: str) -> int:
        return int(meta.get(name, 0))

    finished = sum(count(s.value) for s in JobStatus)
    submitted = meta.get("submitted") == "1"
    started = float(meta.get("created_at", 0.0))
    end = float(meta["finished_at"]) if "finished_at" in meta else seconds + micros / 1e6
    return RunStatus(
        run_id=keys.run_id,
        total=count("total"),
        ok=count("ok"),
        failed=count("failed"),
        unknown=count("unknown"),
        skipped=count("skipped"),
        in_flight=int(in_flight),
        submitted=submitted,
        done=submitted and finished >= count("total"),
        rate=float(rate or cap) if rate or cap else None,
        throttled=int(throttles or 0),
        errors=dict(sorted(errors.items(), key=lambda kv: -kv[1])),
        started_at=started,
        elapsed=max(0.0, end - started),
        workers=await count_workers(redis, keys.prefix),
        reconciled=count("reconciled"),
    )


async def run_status(
    redis: aioredis.Redis | str, run_id: str, *, prefix: str = "tel4vn"
) -> RunStatus:
    """A run's progress, from any process: what ``Run.status()`` reads.

    In-flight jobs of workers that stopped heartbeating are settled UNKNOWN first.

    Args:
        redis: a ``redis.asyncio.Redis`` client or a URL (a client made from it is closed).
        run_id: the run.
        prefix: the prefix of every key.

    Raises:
        ValidationError: a malformed id, or no such run in Redis.
    """
    async with Run(redis, run_id, prefix=prefix) as run:
        return await run.status()


async def submit(
    redis: aioredis.Redis | str,
    jobs: Iterable[Any] | AsyncIterable[Any],
    *,
    run_id: str | None = None,
    rate: float | None = None,
    retention: int = RETENTION,
    prefix: str = "tel4vn",
) -> Run:
    """Submit OTP/TTS jobs to the workers sharing ``redis``; returns the ``Run``.

    Every job gets exactly one result, as with ``fan_out``: OK, FAILED (a bad job fails
    at once, in its result), UNKNOWN or SKIPPED (a key seen earlier in the run). Submit
    the same ``run_id`` again (after a crash, say) and only what was not admitted yet is
    added; nobody is dialled twice.

    Args:
        redis: a ``redis.asyncio.Redis`` client, or a URL (the run then owns its client).
        jobs: ``OtpJob``/``TtsJob`` objects from any iterable or async iterable, pulled
            lazily and admitted in batches. Each job's ``data`` is stored as JSON.
        run_id: the run's id (letters, digits, ``_ . : @ -``); a short random one if None.
        rate: calls started per second across all workers, smoothly; None for no cap.
            The first submission of a run sets it.
        retention: seconds the run's ledger is kept in Redis (7 days by default).
        prefix: the prefix of every key; the workers must be given the same.

    Raises:
        ValidationError: a bad argument (a bad job fails alone, in its result).
        redis.exceptions.RedisError: Redis failed; submitting the run again resumes it.
    """
    run_id = check_id(run_id if run_id is not None else secrets.token_hex(5), "run_id")
    cap = None if rate is None else check_number(rate, "rate", low=0, high=1e6, low_exclusive=True)
    retention = check_int(retention, "retention", low=60, high=10 * 365 * 86400)
    source = Source(jobs)
    run = Run(redis, run_id, prefix=prefix)
    try:
        await _start(run._redis, run._keys, cap, retention)
        ledger = Ledger(run._redis, run._keys, retention=retention)
        enqueue = run._redis.register_script(_ENQUEUE)
        while True:
            batch: list[tuple[int, Any]] = []
            while len(batch) < _BATCH and (item := await source.next()) is not None:
                batch.append(item)
            if not batch:
                break
            await _admit(run._redis, ledger, enqueue, batch, retention)
        await ledger.mark_submitted()
    except BaseException:
        await run.aclose()
        raise
    return run


async def _start(redis: aioredis.Redis, keys: RunKeys, cap: float | None, retention: int) -> None:
    seconds, micros = await redis.time()
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hsetnx(keys.meta, "created_at", f"{seconds + micros / 1e6:.6f}")
        pipe.hsetnx(keys.bucket, "created_at", f"{seconds + micros / 1e6:.6f}")
        if cap is not None:
            pipe.hsetnx(keys.meta, "cap", repr(cap))
            pipe.hsetnx(keys.bucket, "cap", repr(cap))
        pipe.hget(keys.meta, "cap")
        for name in keys.run_wide():
            pipe.expire(name, retention)
        replies = await pipe.execute()
    stored = replies[4 if cap is not None else 2]
    if cap is not None and stored is not None and float(text(stored)) != cap:
        _log.warning(
            "run %s was submitted with rate=%s; it keeps it (rate=%s ignored)",
            keys.run_id,
            text(stored),
            cap,
        )


def _stored_data(job: object) -> Any:
    """A job's ``data``, checked to come back from Redis as it was given (JSON).

    Raises:
        ValidationError: ``data`` is not JSON (its job fails alone, never dialled).
    """
    data = getattr(job, "data", None)
    if data is not None:
        try:
            json.dumps(data, allow_nan=False)
        except (TypeError, ValueError, RecursionError):
            raise ValidationError(
                "data must be JSON (dicts, lists, strings, finite numbers, booleans, None) "
                f"to be kept in Redis, got a {type(data).__name__} that is not",
                field="data",
            ) from None
    return data


async def _admit(
    redis: aioredis.Redis,
    ledger: Ledger,
    enqueue: Any,
    batch: list[tuple[int, Any]],
    retention: int,
) -> None:
    good: list[tuple[int, Prepared, Any]] = []
    bad: list[JobResult] = []
    for index, job in batch:
        try:
            good.append((index, prepare(job), _stored_data(job)))
        except ValidationError as error:
            bad.append(JobResult(job, index, given_key(job), JobStatus.FAILED, error=error))
    verdicts = await ledger.admit(good, bad)
    todo = [p for (_, p, _), v in zip(good, verdicts, strict=True) if v in ("new", "again")]
    if not todo:
        return
    run_id = ledger.keys.run_id
    queue = queue_name(ledger.keys.prefix)
    now_ms = int(time.time() * 1000)
    async with redis.pipeline(transaction=False) as pipe:
        for prepared in todo:
            job_id = f"{run_id}:{prepared.key}".encode("utf-8", "surrogatepass")
            payload = serialize_job(
                FUNCTION, (run_id, prepared.key), {}, None, now_ms, serializer=dumps_job
            )
            await enqueue(
                keys=[job_key_prefix.encode() + job_id, result_key_prefix.encode() + job_id, queue],
                args=[payload, retention * 1000, now_ms, job_id],
                client=pipe,
            )
        await pipe.execute()
