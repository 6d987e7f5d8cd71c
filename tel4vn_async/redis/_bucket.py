"""One run-wide rate across every worker: the adaptive throttle's arithmetic in one Lua script.

``ThrottleState`` (bulk/_throttle.py) paces one process. Here the same state lives in
Redis, in the run's hash tag: a hash (``cap``, ``rate``, ``peak``, ``paused_until``,
``cut_at``, ``last_grant``, ``successes``, ``throttles``), the last ``floor(cap)`` grant
times (``window``: no ``[t, t + 1 + MARGIN)`` holds more) and the recent grants
(``recent``: the send rate measured when a refusal cuts). One script, ``_SCRIPT``, reads
and updates it atomically for every worker, on the Redis server's clock (``TIME``), so
the machines' clocks do not matter. Its constants are bulk/_throttle.py's, passed on
each call: one source of truth, and a test runs the script and ``ThrottleState`` on the
same events and compares them. A slot due within ``AHEAD`` seconds is booked at its time
(``ThrottleState`` granting at ``ready_at()``), so that the round trip to ask for it does
not stretch every interval; the window's margin is wider for it and for the workers'
differences (``MARGIN``: 0.1 s).

``RedisThrottle`` gives it the interface the single-process runner's throttle has
(``acquire``, ``throttled``, ``succeeded``, ``rate``, ``throttles``), so
``bulk._pacing.paced_client`` binds a worker's client to it unchanged; and ``claim``: a
job's claim and its first ``acquire`` in one script (``_CLAIM_ACQUIRE``), one round trip.
Successes are counted locally and sent with the next call: no round trip per success.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import redis.asyncio as aioredis

from ..bulk._throttle import (
    _MEASURE_GRANTS,
    _MEASURE_SPAN,
    _MIN_MEASURE_SPAN,
    BETA,
    MAX_PAUSE,
    MIN_RATE,
    RECOVERY_CALLS,
    WINDOW_MARGIN,
)
from ._format import text
from ._ledger import CLAIM, Claimed, Held, Ledger, RunKeys

__all__ = ["AHEAD", "MARGIN", "SPREAD", "BucketState", "RedisThrottle", "RunBucket"]

AHEAD = 0.02
"""Seconds before a slot is due when a waiting worker asks Redis for it, and books it.
Longer than a round trip to Redis (a disk flush included) and the event loop's lateness;
short, because a booked slot is sent even if a refusal is heard before it is due."""

SPREAD = 0.055
"""Seconds more for workers in several processes or on several machines: one worker's
grant may reach the server later than another's by their event loops' lateness and their
network paths' difference. Measured here: with three worker processes on a loaded 2-core
machine, a 45 ms margin let a server see ``floor(rate) + 1`` calls in one second about
once in fifteen runs."""

MARGIN = WINDOW_MARGIN + AHEAD + SPREAD
"""The window's margin across workers (0.1 s): ``WINDOW_MARGIN`` (a grant's way to the
server), ``AHEAD`` (a worker sends a booked slot once it has slept until it, a moment late
when its event loop is busy) and ``SPREAD`` (the workers' differences). A grant sent late
and one sent on time ``floor(rate)`` grants later would otherwise fall within one second
at the server. It costs a run at its cap ``MARGIN`` seconds a second (at ``rate=100``:
about 91 calls a second); a run slowed by refusals well below its cap, paced by its
spacing alone, loses nothing."""

# KEYS: bucket, window, recent.
# ARGV: op, now ('' = Redis TIME), successes, sent_at ('' = none), retry_after ('' = none),
#       max_pause, ahead (s: 'acquire' books a slot due that soon), then the constants.
# Returns {granted 0/1, value (grant time, or seconds to wait), rate or '', throttles,
#          paused_until or '', cut 0/1, seconds from now to the grant}. Numbers travel as
#          text: Lua would truncate them.
_SCRIPT = """
local B, W, R = KEYS[1], KEYS[2], KEYS[3]
local op = ARGV[1]
local now = tonumber(ARGV[2])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local new_successes = tonumber(ARGV[3])
local max_pause = tonumber(ARGV[6])
local ahead = tonumber(ARGV[7])
local BETA, RECOVERY, MIN_RATE, MARGIN = tonumber(ARGV[8]), tonumber(ARGV[9]),
  tonumber(ARGV[10]), tonumber(ARGV[11])
local SPAN, GRANTS, MIN_SPAN = tonumber(ARGV[12]), tonumber(ARGV[13]), tonumber(ARGV[14])

local function num(s) if s then return tonumber(s) end return nil end
local function fmt(x) return string.format('%.17g', x) end

local h = redis.call('HMGET', B, 'cap', 'rate', 'peak', 'paused_until', 'cut_at',
  'last_grant', 'successes', 'throttles')
local cap = num(h[1])
local rate = num(h[2]) or cap
local peak = num(h[3]) or cap
local paused_until = num(h[4])
local cut_at = num(h[5])
local last_grant = num(h[6])
local successes = num(h[7]) or 0
local throttles = num(h[8]) or 0
local floor = MIN_RATE
if cap and cap < MIN_RATE then floor = cap end
local limit = nil
if cap then limit = math.max(1, math.floor(cap)) end
local changed = {}

local function recovered(p, n)
  local distance = n / RECOVERY - 1.0
  local r = p * (1.0 + (1.0 - BETA) * distance * distance * distance)
  if cap and cap < r then return cap end
  return r
end

local function forget(t)
  while redis.call('LLEN', R) > GRANTS do
    local oldest = tonumber(redis.call('LINDEX', R, 0))
    if oldest > t - SPAN then break end
    redis.call('LPOP', R)
  end
end

local function measured(t)
  forget(t)
  local n = redis.call('LLEN', R)
  if n < GRANTS then return nil end
  local oldest = tonumber(redis.call('LINDEX', R, 0))
  return n / math.max(MIN_SPAN, t - oldest)
end

-- successes heard since this caller's last call (the rate only depends on their count)
if new_successes > 0 and peak and cut_at then
  successes = successes + new_successes
  rate = math.max(floor, recovered(peak, successes))
  changed['successes'] = successes
  changed['rate'] = rate
end

local granted, value, cut, wait = 0, 0, 0, 0
if op == 'acquire' then
  local ready = paused_until or -math.huge
  if rate and last_grant then ready = math.max(ready, last_grant + 1.0 / rate) end
  if limit and redis.call('LLEN', W) >= limit then
    ready = math.max(ready, tonumber(redis.call('LINDEX', W, -limit)) + 1.0 + MARGIN)
  end
  if ready <= now + ahead then
    -- a slot due within 'ahead' is booked at its time: the caller sends then, so the
    -- round trip to ask for it does not delay every grant (ahead 0: granted now or not)
    local at = math.max(ready, now)
    granted, value, wait = 1, at, at - now
    changed['last_grant'] = at
    if limit then
      redis.call('RPUSH', W, fmt(at))
      redis.call('LTRIM', W, -limit, -1)
    end
    redis.call('RPUSH', R, fmt(at))
    forget(at)
    local ttl = redis.call('PTTL', B)  -- the lists expire with the run
    if ttl > 0 then
      redis.call('PEXPIRE', W, ttl)
      redis.call('PEXPIRE', R, ttl)
    end
  else
    value = ready - now
  end
elseif op == 'throttled' then
  throttles = throttles + 1
  changed['throttles'] = throttles
  local retry_after = tonumber(ARGV[5])
  if retry_after and retry_after > 0 and retry_after < math.huge then
    local pause_end = now + math.min(retry_after, max_pause)
    if not paused_until or pause_end > paused_until then
      paused_until = pause_end
      changed['paused_until'] = paused_until
    end
  end
  local sent_at = tonumber(ARGV[4]) or last_grant or now
  if not (cut_at and sent_at <= cut_at) then
    local m = measured(now)
    local from = nil
    if rate and m then from = math.min(rate, m) else from = rate or m end
    if from then
      peak = math.max(from, floor)
      rate = math.max(floor, BETA * from)
      successes = 0
      cut_at = now
      cut = 1
      changed['peak'] = peak
      changed['rate'] = rate
      changed['successes'] = 0
      changed['cut_at'] = now
    end
  end
end

local flat = {}
for name, v in pairs(changed) do
  flat[#flat + 1] = name
  flat[#flat + 1] = fmt(v)
end
if #flat > 0 then redis.call('HSET', B, unpack(flat)) end
local rate_text = ''
if rate then rate_text = fmt(rate) end
local paused_text = ''
if paused_until then paused_text = fmt(paused_until) end
return {granted, fmt(value), rate_text, tostring(throttles), paused_text, cut, fmt(wait)}
"""

# KEYS: the claim script's, then the bucket's. ARGV: the claim script's (3), then the
# bucket's. The claim, and if it is won, an 'acquire' with the claim's round trip: the
# claim's reply, with the bucket's as a fourth element when the claim was won.
_CLAIM_ACQUIRE = (
    "local function claim(KEYS, ARGV)\n"
    + CLAIM
    + "\nend\nlocal function bucket(KEYS, ARGV)\n"
    + _SCRIPT
    + """
end
local c = claim({KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]}, {ARGV[1], ARGV[2], ARGV[3]})
if c[1] == 'won' then c[4] = bucket({KEYS[6], KEYS[7], KEYS[8]}, {unpack(ARGV, 4)}) end
return c
"""
)

_CONSTANTS = [  # BETA, RECOVERY, MIN_RATE; then the window's margin; then these
    repr(BETA),
    repr(float(RECOVERY_CALLS)),
    repr(MIN_RATE),
]
_MEASURE = [
    repr(_MEASURE_SPAN),
    repr(float(_MEASURE_GRANTS)),
    repr(_MIN_MEASURE_SPAN),
]


def _arg(value: float | None) -> str:
    if value is None:
        return ""
    return repr(float(value))


@attrs.frozen
class BucketState:
    """What one call of the script answered."""

    granted: bool
    """``acquire``: whether a grant was made (at ``value``)."""
    value: float
    """The grant's time; or, not granted, the seconds until one may be."""
    rate: float | None
    """The rate in force (None: unlimited so far)."""
    throttles: int
    """Refusals heard by the run."""
    paused_until: float | None
    """No grant before this time (a ``Retry-After``)."""
    cut: bool
    """``throttled``: whether this refusal cut the rate."""
    wait: float = 0.0
    """``acquire``, granted: the seconds from the script's clock reading to the grant (a
    slot booked ahead; 0 when granted at once)."""


class RunBucket:
    """The run's pacing state in Redis, one script call per event.

    ``margin``: seconds added to the one-second window (``MARGIN``; ``ThrottleState``'s
    is ``WINDOW_MARGIN``). ``now`` (seconds) replaces the Redis server's clock, for tests
    only.
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        keys: RunKeys,
        *,
        max_pause: float = MAX_PAUSE,
        margin: float = MARGIN,
    ) -> None:
        self._margin = repr(float(margin))
        self._keys = [keys.bucket, keys.window, keys.recent]
        self._script = redis.register_script(_SCRIPT)
        self._claim_acquire = redis.register_script(_CLAIM_ACQUIRE)
        self._max_pause = max_pause

    def _args(
        self,
        op: str,
        *,
        now: float | None,
        successes: int,
        sent_at: float | None = None,
        retry_after: float | None = None,
        ahead: float = 0.0,
    ) -> list[str]:
        if retry_after is not None and not math.isfinite(retry_after):
            retry_after = None
        return [
            op,
            _arg(now),
            str(successes),
            _arg(sent_at),
            _arg(retry_after),
            repr(float(self._max_pause)),
            repr(float(ahead)),
            *_CONSTANTS,
            self._margin,
            *_MEASURE,
        ]

    @staticmethod
    def _state(reply: list[Any]) -> BucketState:
        rate, paused = text(reply[2]), text(reply[4])
        return BucketState(
            granted=bool(int(reply[0])),
            value=float(text(reply[1])),
            rate=float(rate) if rate else None,
            throttles=int(text(reply[3])),
            paused_until=float(paused) if paused else None,
            cut=bool(int(reply[5])),
            wait=float(text(reply[6])),
        )

    async def claim_and_acquire(
        self, ledger: Ledger, key: str, worker_id: str, *, successes: int, ahead: float
    ) -> tuple[Claimed | Held | None, BucketState | None]:
        """``ledger.claim(key, worker_id)`` and, if it is won, ``acquire`` in the same
        script: the verdict, and the bucket's answer (None: the claim was not won, and
        ``successes`` were not counted)."""
        keys, args = ledger.claim_args(key, worker_id)
        args += self._args("acquire", now=None, successes=successes, ahead=ahead)
        reply = await self._claim_acquire(keys=keys + self._keys, args=args)
        state = self._state(reply[3]) if len(reply) > 3 else None
        return ledger.verdict(key, reply), state

    async def _call(
        self,
        op: str,
        *,
        now: float | None,
        successes: int,
        sent_at: float | None = None,
        retry_after: float | None = None,
        ahead: float = 0.0,
    ) -> BucketState:
        args = self._args(
            op,
            now=now,
            successes=successes,
            sent_at=sent_at,
            retry_after=retry_after,
            ahead=ahead,
        )
        return self._state(await self._script(keys=self._keys, args=args))

    async def acquire(
        self, *, now: float | None = None, successes: int = 0, ahead: float = 0.0
    ) -> BucketState:
        """Grant a send slot if one is free now (after counting ``successes``), or book
        the next one if it is due within ``ahead`` seconds (granted at its time)."""
        return await self._call("acquire", now=now, successes=successes, ahead=ahead)

    async def throttled(
        self,
        *,
        sent_at: float | None,
        retry_after: float | None,
        now: float | None = None,
        successes: int = 0,
    ) -> BucketState:
        """Hear a refusal of the request granted at ``sent_at`` (None: the latest grant)."""
        return await self._call(
            "throttled", now=now, successes=successes, sent_at=sent_at, retry_after=retry_after
        )

    async def peek(self, *, now: float | None = None, successes: int = 0) -> BucketState:
        """Read the state (after counting ``successes``), changing nothing else."""
        return await self._call("peek", now=now, successes=successes)


class RedisThrottle:
    """The run-wide throttle seen from one worker: what ``paced_client`` binds to.

    Grants are made in arrival order within the process (one waiter asks Redis at a
    time) and across processes by whoever asks first once a slot is free. The waiter
    asking wakes ``AHEAD`` seconds before the next slot is due and books it: the grant
    is the slot's time, not the time the request reached Redis, and the waiter sleeps
    until then. So the round trip (with ``appendfsync always``, a disk flush) and the
    event loop's lateness do not stretch every interval, and the run gets its rate.

    Args:
        bucket: the run's bucket.
        sleep: how ``acquire`` waits (tests may pass their own).
    """

    def __init__(
        self, bucket: RunBucket, *, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    ) -> None:
        self._bucket = bucket
        self._sleep = sleep
        self._lock = asyncio.Lock()
        self._successes = 0
        self._rate: float | None = None
        self._throttles = 0
        self._ahead = AHEAD
        self._booked: dict[asyncio.Task[Any], BucketState] = {}
        self._next_ask = 0.0  # time.monotonic(): the next slot is not due before this

    @property
    def rate(self) -> float | None:
        """The run's rate when last heard from Redis (None: unlimited so far)."""
        return self._rate

    @property
    def throttles(self) -> int:
        """The run's refusals when last heard from Redis."""
        return self._throttles

    def _seen(self, state: BucketState) -> None:
        self._rate, self._throttles = state.rate, state.throttles

    def _take_successes(self) -> int:
        n, self._successes = self._successes, 0
        return n

    async def claim(self, ledger: Ledger, key: str, worker_id: str) -> Claimed | Held | None:
        """``ledger.claim(key, worker_id)``; when no job of this process waits for the
        rate, with a first ``acquire`` in the same round trip: a slot granted is kept for
        this task's next ``acquire`` (``forget`` drops it, unused)."""
        if self._lock.locked():  # others wait in turn: this job will queue behind them
            return await ledger.claim(key, worker_id)
        n = self._take_successes()
        try:
            verdict, state = await self._bucket.claim_and_acquire(
                ledger, key, worker_id, successes=n, ahead=self._ahead
            )
        except BaseException:
            self._successes += n
            raise
        if state is None:
            self._successes += n  # not told: the claim was not won
        else:
            self._seen(state)
            task = asyncio.current_task()
            if state.granted and task is not None:
                self._booked[task] = state
                self._booking(state)
        return verdict

    def _booking(self, state: BucketState) -> None:
        """A slot granted: when to ask for the next one (paced at the rate heard)."""
        if state.rate:
            slot = time.monotonic() + state.wait + 1.0 / state.rate
            self._next_ask = slot - self._ahead

    def forget(self) -> None:
        """Drop the slot ``claim`` kept for this task, if unused (the run sends less)."""
        task = asyncio.current_task()
        if task is not None:
            self._booked.pop(task, None)

    async def acquire(self) -> float:
        """Wait for a run-wide send slot; returns its time on the Redis server's clock."""
        if self._booked:
            task = asyncio.current_task()
            booked = self._booked.pop(task, None) if task is not None else None
            if booked is not None:
                if booked.wait > 0:
                    await self._sleep(booked.wait)
                return booked.value
        async with self._lock:
            # The slot after the last one booked here is not due before this: asking
            # sooner would only be refused.
            early = self._next_ask - time.monotonic()
            if early > 0:
                await self._sleep(early)
            while True:
                n = self._take_successes()
                try:
                    state = await self._bucket.acquire(successes=n, ahead=self._ahead)
                except BaseException:
                    self._successes += n  # not heard: told with the next call
                    raise
                self._seen(state)
                if state.granted:
                    self._booking(state)
                    break
                # Re-read on waking: a refusal heard meanwhile may push the slot later.
                await self._sleep(max(0.0, state.value - self._ahead))
        # The next waiter may book the slot after this one meanwhile. Cancelled while
        # waiting for a booked slot, the slot goes unused: the run sends less, not more.
        if state.wait > 0:
            await self._sleep(state.wait)
        return state.value

    async def throttled(self, *, sent_at: float | None, retry_after: float | None) -> None:
        """A 429/503 answered the request granted at ``sent_at``: tell the whole run."""
        n = self._take_successes()
        try:
            state = await self._bucket.throttled(
                sent_at=sent_at, retry_after=retry_after, successes=n
            )
        except BaseException:
            self._successes += n
            raise
        self._seen(state)

    def succeeded(self) -> None:
        """A call was answered: counted here, told to Redis with the next call."""
        self._successes += 1

    async def flush(self) -> None:
        """Tell Redis the successes not told yet (a worker leaving the run)."""
        n = self._take_successes()
        if n:
            self._seen(await self._bucket.peek(successes=n))
