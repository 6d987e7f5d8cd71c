"""The claim ledger of a distributed run: who may dial a key, and each job's final state.

The job engine only spreads work; this ledger, in Redis, decides. A worker dials a job
only after winning ``SET <run>:claim:<key> NX`` (``claim``); the result it then records
(``record``) is the job's final state, and the first one recorded wins. A job delivered
again, or submitted twice, finds the claim and is never dialled again. A claim whose
worker died (its heartbeat key expired) before a result was recorded is settled as
``UNKNOWN`` (``abandon``, ``settle``): the call may have been placed, so it is never
redialled; ``Run.reconcile`` may settle it from the call reports.

Keys of one run share a Redis Cluster hash tag, ``<prefix>:run:{<run id>}:...``, so each
script below touches one slot:

- ``meta`` (hash): ``total``, ``ok``/``failed``/``unknown``/``skipped``, ``reconciled``,
  ``submitted``, ``created_at``, ``finished_at``, ``cap`` (the submitted rate);
- ``jobs`` (hash): key -> the job's record (its index, request and ``data``);
- ``results`` (hash): key -> the job's result (entries of jobs never admitted under a
  key, a bad job or a repeated key, are keyed by a tab and their index);
- ``errors`` (hash): error class name -> count; ``inflight`` (sorted set): claimed keys
  without a result, scored by claim time; ``claim:<key>`` (string): ``{"w", "at"}``.

Worker heartbeats (``<prefix>:worker:<id>``) and their registry (``<prefix>:workers``)
live outside the run's slot: they are read apart from the scripts, which is safe because
a dead worker stays dead and every write below is guarded by "no result yet".
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Sequence
from typing import Any

import attrs
import redis.asyncio as aioredis

from ..bulk._jobs import Prepared
from ..bulk._results import JobResult, JobStatus
from ..errors import OutcomeUnknownError, ValidationError
from ._format import bad_job_record, entry_of, error_class, job_record, key_bytes, text

__all__ = [
    "CLAIM",
    "Claimed",
    "Held",
    "Ledger",
    "RunKeys",
    "alive_workers",
    "beat",
    "check_id",
    "count_workers",
    "stop_beating",
    "worker_key",
]

_IDS = re.compile(r"[A-Za-z0-9_.:@-]{1,100}")
_STATUS_FIELD = {s: s.value for s in JobStatus}

# finish_check: once every admitted job has its result, the run is done.
# keep: keys created after the submission (results, ...) expire with the run's meta.
_COMMON = """
local function keep(meta, ...)
  local ttl = redis.call('PTTL', meta)
  if ttl > 0 then
    for _, name in ipairs({...}) do redis.call('PEXPIRE', name, ttl) end
  end
end

local function finish_check(meta)
  local m = redis.call('HMGET', meta, 'submitted', 'total', 'ok', 'failed', 'unknown', 'skipped')
  if m[1] ~= '1' then return end
  local done = (tonumber(m[3]) or 0) + (tonumber(m[4]) or 0) + (tonumber(m[5]) or 0)
    + (tonumber(m[6]) or 0)
  if done >= (tonumber(m[2]) or 0) then
    local t = redis.call('TIME')
    redis.call('HSETNX', meta, 'finished_at',
      string.format('%.6f', tonumber(t[1]) + tonumber(t[2]) / 1000000))
  end
end
"""

# KEYS: meta, jobs, results. ARGV: key, index, record.
# A key's first job is admitted (counted in total); the same job again (a submission
# repeated) changes nothing; another job with that key is SKIPPED, counted once.
_ADMIT = (
    _COMMON
    + """
local have = redis.call('HGET', KEYS[2], ARGV[1])
if not have then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
  redis.call('HINCRBY', KEYS[1], 'total', 1)
  redis.call('HDEL', KEYS[1], 'finished_at')
  return 'new'
end
if string.match(have, '^{"i":(%-?%d+)') == ARGV[2] then
  if redis.call('HEXISTS', KEYS[3], ARGV[1]) == 1 then return 'done' end
  return 'again'
end
local entry = '{"i":' .. ARGV[2] .. ',"s":"skipped","k":' .. cjson.encode(ARGV[1])
  .. ',"r":"its key came up earlier in this run","j":' .. ARGV[3] .. '}'
if redis.call('HSETNX', KEYS[3], '\\t' .. ARGV[2], entry) == 0 then return 'dup-again' end
redis.call('HINCRBY', KEYS[1], 'total', 1)
redis.call('HINCRBY', KEYS[1], 'skipped', 1)
finish_check(KEYS[1])
return 'dup'
"""
)

# KEYS: claim, results, jobs, inflight, meta. ARGV: key, worker, retention (s).
CLAIM = (
    _COMMON
    + """
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return {'done'} end
local record = redis.call('HGET', KEYS[3], ARGV[1])
if not record then return {'missing'} end
local t = redis.call('TIME')
local now = string.format('%.6f', tonumber(t[1]) + tonumber(t[2]) / 1000000)
local value = '{"w":"' .. ARGV[2] .. '","at":' .. now .. '}'
if redis.call('SET', KEYS[1], value, 'NX', 'EX', ARGV[3]) then
  redis.call('ZADD', KEYS[4], now, ARGV[1])
  keep(KEYS[5], KEYS[1], KEYS[4])  -- the run's retention, whatever this worker assumed
  return {'won', record, now}
end
return {'held', redis.call('GET', KEYS[1]) or ''}
"""
)

# KEYS: meta, results, inflight, errors, claim. ARGV: field, status, error class or '',
# entry, '1' to count it in total, owner or '' (then only while that worker's claim).
_RECORD = (
    _COMMON
    + """
if ARGV[6] ~= '' then
  local claim = redis.call('GET', KEYS[5])
  if not claim or string.match(claim, '^{"w":"([^"]*)"') ~= ARGV[6] then return 0 end
end
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[4]) == 0 then return 0 end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HINCRBY', KEYS[1], ARGV[2], 1)
if ARGV[5] == '1' then redis.call('HINCRBY', KEYS[1], 'total', 1) end
if ARGV[3] ~= '' then redis.call('HINCRBY', KEYS[4], ARGV[3], 1) end
keep(KEYS[1], KEYS[2], KEYS[3], KEYS[4])
finish_check(KEYS[1])
return 1
"""
)

# KEYS: claim, results, inflight. ARGV: key, worker. A claim given back unsent.
_RELEASE = """
local claim = redis.call('GET', KEYS[1])
if not claim or string.match(claim, '^{"w":"([^"]*)"') ~= ARGV[2] then return 0 end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return 1
"""

# KEYS: meta, results, errors. ARGV: field, entry, error class or ''. UNKNOWN -> OK.
_RECONCILED = """
local cur = redis.call('HGET', KEYS[2], ARGV[1])
if not cur or string.match(cur, '^{"i":%-?%d+,"s":"(%a+)"') ~= 'unknown' then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HINCRBY', KEYS[1], 'unknown', -1)
redis.call('HINCRBY', KEYS[1], 'ok', 1)
redis.call('HINCRBY', KEYS[1], 'reconciled', 1)
if ARGV[3] ~= '' and redis.call('HINCRBY', KEYS[3], ARGV[3], -1) <= 0 then
  redis.call('HDEL', KEYS[3], ARGV[3])
end
return 1
"""

# KEYS: meta. Every job of the submission is admitted.
_SUBMITTED = (
    _COMMON
    + """
redis.call('HSET', KEYS[1], 'submitted', '1')
finish_check(KEYS[1])
return 1
"""
)


def check_id(value: object, field: str) -> str:
    """A run or worker id: 1 to 100 letters, digits and ``_ . : @ -``.

    Raises:
        ValidationError: anything else (braces would break the run's hash tag).
    """
    if not isinstance(value, str) or not _IDS.fullmatch(value):
        raise ValidationError(
            f"{field} must be 1 to 100 letters, digits or _ . : @ -, got {value!r}", field=field
        )
    return value


@attrs.frozen
class RunKeys:
    """The Redis keys of one run, all in its hash tag."""

    prefix: str
    run_id: str

    def _key(self, name: str) -> str:
        return f"{self.prefix}:run:{{{self.run_id}}}:{name}"

    @property
    def meta(self) -> str:
        return self._key("meta")

    @property
    def jobs(self) -> str:
        return self._key("jobs")

    @property
    def results(self) -> str:
        return self._key("results")

    @property
    def errors(self) -> str:
        return self._key("errors")

    @property
    def inflight(self) -> str:
        return self._key("inflight")

    @property
    def bucket(self) -> str:
        return self._key("bucket")

    @property
    def window(self) -> str:
        return self._key("window")

    @property
    def recent(self) -> str:
        return self._key("recent")

    def claim(self, key: str) -> bytes:
        return key_bytes(self._key("claim:")) + key_bytes(key)

    def run_wide(self) -> list[str]:
        """The run's keys other than its claims (each claim expires on its own)."""
        names = (self.meta, self.jobs, self.results, self.errors, self.inflight)
        return [*names, self.bucket, self.window, self.recent]


def worker_key(prefix: str, worker_id: str) -> str:
    """A worker's heartbeat key: it exists while the worker lives."""
    return f"{prefix}:worker:{worker_id}"


def workers_key(prefix: str) -> str:
    """The registry of the workers that have heartbeaten (a sorted set, by last beat)."""
    return f"{prefix}:workers"


@attrs.frozen
class Claimed:
    """The claim was won: dial the job."""

    prepared: Prepared
    index: int
    at: float
    """Unix time of the claim, on the Redis server's clock."""


@attrs.frozen
class Held:
    """Another worker (or this one, earlier) holds the claim and no result is recorded."""

    owner: str
    at: float


def abandoned(held: Held, index: int, key: str, path: str) -> JobResult:
    """The result of a job whose worker died with its call in flight: UNKNOWN."""
    error = OutcomeUnknownError(
        "a worker died with the call in flight: it may have been placed",
        method="POST",
        path=path,
    )
    reason = (
        f"worker {held.owner} stopped heartbeating before recording a result; "
        "Run.reconcile() checks the call reports"
    )
    return JobResult(None, index, key, JobStatus.UNKNOWN, error=error, reason=reason)


# ---------------------------------------------------------------------- the ledger


class Ledger:
    """One run's claims and results in Redis.

    Args:
        redis: the client (``decode_responses`` either way).
        keys: the run's keys.
        retention: seconds the run is kept when submitting; a claim expires with the
            run (this, when the run has no expiry).
    """

    def __init__(self, redis: aioredis.Redis, keys: RunKeys, *, retention: int) -> None:
        self.redis = redis
        self.keys = keys
        self.retention = retention
        self._admit = redis.register_script(_ADMIT)
        self._claim = redis.register_script(CLAIM)
        self._record = redis.register_script(_RECORD)
        self._release = redis.register_script(_RELEASE)
        self._reconciled = redis.register_script(_RECONCILED)
        self._submitted = redis.register_script(_SUBMITTED)

    # ------------------------------------------------------------------ submitting

    async def admit(
        self, prepared: Sequence[tuple[int, Prepared, Any]], bad: Sequence[JobResult]
    ) -> list[str]:
        """Admit a batch of checked jobs ``(index, prepared, data)`` and record the bad
        ones FAILED, in one round trip.

        Returns:
            Per checked job: ``new`` or ``again`` (to enqueue), ``done`` (it has a result),
            ``dup`` (SKIPPED now: another job has its key) or ``dup-again``.
        """
        k = self.keys
        async with self.redis.pipeline(transaction=False) as pipe:
            for index, job, data in prepared:
                record = job_record(index, job, data)
                await self._admit(
                    keys=[k.meta, k.jobs, k.results],
                    args=[key_bytes(job.key), str(index), record],
                    client=pipe,
                )
            for result in bad:
                await self._record_in(pipe, f"\t{result.index}", result, count=True,
                                      job=result.job)  # fmt: skip
            for name in k.run_wide():
                pipe.expire(name, self.retention)
            replies = await pipe.execute()
        return [text(r) for r in replies[: len(prepared)]]

    async def mark_submitted(self) -> None:
        """Every job of a submission is admitted: the run is done once each has a result."""
        await self._submitted(keys=[self.keys.meta], args=[])

    # ------------------------------------------------------------------ working

    async def claim(self, key: str, worker_id: str) -> Claimed | Held | None:
        """Try to claim ``key`` for ``worker_id``.

        Returns:
            ``Claimed`` (dial it), ``Held`` (claimed without a result: its owner records
            it, or, dead, leaves it UNKNOWN), or None: it has a result, or is no job of
            this run (expired, never submitted).
        """
        keys, args = self.claim_args(key, worker_id)
        return self.verdict(key, await self._claim(keys=keys, args=args))

    def claim_args(self, key: str, worker_id: str) -> tuple[list[Any], list[Any]]:
        """The keys and arguments of the claim script (``CLAIM``)."""
        k = self.keys
        keys = [k.claim(key), k.results, k.jobs, k.inflight, k.meta]
        return keys, [key_bytes(key), worker_id, self.retention]

    @staticmethod
    def verdict(key: str, reply: Any) -> Claimed | Held | None:
        """What the claim script's reply says (``claim``)."""
        verdict = text(reply[0])
        if verdict == "won":
            record = json.loads(text(reply[1]))
            prepared = Prepared(key=key, path=record["p"], body=record["b"])
            return Claimed(prepared, int(record["i"]), float(text(reply[2])))
        if verdict == "held" and reply[1]:
            claim = json.loads(text(reply[1]))
            return Held(str(claim["w"]), float(claim["at"]))
        return None

    async def record(
        self, result: JobResult, *, since: float | None = None, worker: str | None = None
    ) -> bool:
        """Record the final state of an admitted job; the first one recorded wins.

        Args:
            result: the job's result.
            since: Unix time its call went out (where reconciling looks from).
            worker: the worker recording it.

        Returns:
            Whether this one was recorded (False: the job already had a result).
        """
        assert result.key is not None
        recorded = await self._record_in(self.redis, result.key, result, since=since, worker=worker)
        return bool(recorded)

    def record_on(self, pipe: Any, result: JobResult, *, since: float | None, worker: str) -> None:
        """Queue ``record`` in ``pipe`` as a bare EVALSHA: its reply is 1 (recorded), 0
        (a result came first) or ``NoScriptError`` (Redis lost its scripts: ``record``).
        A script registered in a pipeline would cost a SCRIPT EXISTS round trip first."""
        assert result.key is not None
        keys, args = self._record_args(result.key, result, since=since, worker=worker)
        pipe.evalsha(self._record.sha, len(keys), *keys, *args)

    async def abandon(self, key: str, held: Held) -> bool:
        """Record UNKNOWN for a job whose claim ``held`` by a dead worker has no result.

        Returns:
            Whether it was recorded (False: a result came first, or the claim changed).
        """
        reply: Any = self.redis.hmget(self.keys.jobs, [key_bytes(key)])  # typed sync-or-async
        record = (await reply)[0]
        if record is None:
            return False
        stored = json.loads(text(record))
        result = abandoned(held, int(stored["i"]), key, str(stored["p"]))
        return bool(await self._record_in(self.redis, key, result, since=held.at, owner=held.owner))

    async def release(self, key: str, worker_id: str) -> bool:
        """Give back a claim whose call was never sent (a worker stopping): another worker
        may dial the job. Only ``worker_id``'s claim, and only without a result."""
        k = self.keys
        reply = await self._release(
            keys=[k.claim(key), k.results, k.inflight], args=[key_bytes(key), worker_id]
        )
        return bool(reply)

    async def reconciled(self, result: JobResult, *, previous: str) -> bool:
        """Replace an UNKNOWN result by the OK one a call report proved; ``previous`` is
        the error class counted for it."""
        assert result.key is not None
        k = self.keys
        reply = await self._reconciled(
            keys=[k.meta, k.results, k.errors],
            args=[key_bytes(result.key), entry_of(result), previous],
        )
        return bool(reply)

    async def settle(self, *, limit: int = 10_000) -> int:
        """Record UNKNOWN for every in-flight claim whose worker is dead.

        Returns:
            How many jobs it settled.
        """
        k = self.keys
        keys = [text(key) for key in await self.redis.zrange(k.inflight, 0, limit - 1)]
        if not keys:
            return 0
        claims = await self.redis.mget([k.claim(key) for key in keys])
        held: dict[str, Held] = {}
        for key, claim in zip(keys, claims, strict=True):
            if claim is not None:
                stored = json.loads(text(claim))
                held[key] = Held(str(stored["w"]), float(stored["at"]))
        owners = {h.owner for h in held.values()}
        living = await alive_workers(self.redis, k.prefix, owners)
        settled = 0
        for key, claim in held.items():
            if claim.owner not in living and await self.abandon(key, claim):
                settled += 1
        return settled

    async def _record_in(
        self,
        client: Any,
        field: str,
        result: JobResult,
        *,
        count: bool = False,
        since: float | None = None,
        job: Any = None,
        owner: str = "",
        worker: str | None = None,
    ) -> Any:
        keys, args = self._record_args(
            field, result, count=count, since=since, job=job, owner=owner, worker=worker
        )
        return await self._record(keys=keys, args=args, client=client)

    def _record_args(
        self,
        field: str,
        result: JobResult,
        *,
        count: bool = False,
        since: float | None = None,
        job: Any = None,
        owner: str = "",
        worker: str | None = None,
    ) -> tuple[list[Any], list[Any]]:
        k = self.keys
        key = result.key if result.key is not None and not count else None
        stored_job = bad_job_record(result.index, job) if count else None
        keys = [k.meta, k.results, k.inflight, k.errors, k.claim(key or "")]
        args = [
            key_bytes(field),
            _STATUS_FIELD[result.status],
            error_class(result),
            entry_of(result, since=since, job=stored_job, worker=worker),
            "1" if count else "0",
            owner,
        ]
        return keys, args


# ---------------------------------------------------------------------- workers


async def beat(
    redis: aioredis.Redis, prefix: str, worker_id: str, ttl: float, extend: Iterable[str] = ()
) -> None:
    """A worker's heartbeat: its key lives ``ttl`` seconds; the keys in ``extend`` (the
    engine's in-progress marks of the jobs it runs) are kept alive as long."""
    ms = max(1, int(ttl * 1000))
    async with redis.pipeline(transaction=False) as pipe:
        pipe.set(worker_key(prefix, worker_id), "1", px=ms)
        pipe.zadd(workers_key(prefix), {worker_id: time.time()})
        for name in extend:
            pipe.pexpire(name, ms)
        await pipe.execute()


async def stop_beating(redis: aioredis.Redis, prefix: str, worker_id: str) -> None:
    """A worker leaving: its claims without a result can be settled at once."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.delete(worker_key(prefix, worker_id))
        pipe.zrem(workers_key(prefix), worker_id)
        await pipe.execute()


async def alive_workers(redis: aioredis.Redis, prefix: str, ids: Iterable[str]) -> set[str]:
    """Which of ``ids`` still heartbeat."""
    ordered = sorted(ids)
    if not ordered:
        return set()
    async with redis.pipeline(transaction=False) as pipe:
        for worker_id in ordered:
            pipe.exists(worker_key(prefix, worker_id))
        found = await pipe.execute()
    return {worker_id for worker_id, there in zip(ordered, found, strict=True) if there}


async def count_workers(redis: aioredis.Redis, prefix: str) -> int:
    """How many workers heartbeat now (the departed are dropped from the registry)."""
    ids = {text(i) for i in await redis.zrange(workers_key(prefix), 0, -1)}
    living = await alive_workers(redis, prefix, ids)
    gone = ids - living
    if gone:
        await redis.zrem(workers_key(prefix), *gone)
    return len(living)
