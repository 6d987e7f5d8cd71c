"""One run-wide rate across every worker: the adaptive throttle's arithmetic in one Lua script.

``ThrottleState`` (bulk/_throttle.py) paces one process. Here the same state lives in
Redis, in the run's hash tag: a hash (``cap``, ``rate``, ``peak``, ``paused_until``,
``cut_at``, ``last_grant``, ``successes``, ``throttles``), the last ``floor(cap)`` grant
times (``window``: no ``[t, t + 1 + WINDOW_MARGIN)`` holds more) and the recent grants
(``recent``: the send rate measured when a refusal cuts). One script, ``_SCRIPT``, reads
and updates it atomically for every worker, on the Redis server's clock (``TIME``), so
the machines' clocks do not matter. Its constants are bulk/_throttle.py's, passed on
each call: one source of truth, and a test runs the script and ``ThrottleState`` on the
same events and compares them.

``RedisThrottle`` gives it the interface the single-process runner's throttle has
(``acquire``, ``throttled``, ``succeeded``, ``rate``, ``throttles``), so
``bulk._pacing.paced_client`` binds a worker's client to it unchanged. Successes are
counted locally and sent with the next call: no round trip per success.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable

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
from ._ledger import RunKeys

__all__ = ["BucketState", "RedisThrottle", "RunBucket"]

# KEYS: bucket, window, recent.
# ARGV: op, now ('' = Redis TIME), successes, sent_at ('' = none), retry_after ('' = none),
#       max_pause, then the constants.
# Returns {granted 0/1, value (grant time, or seconds to wait), rate or '', throttles,
#          paused_until or '', cut 0/1}. Numbers travel as text: Lua would truncate them.
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
local BETA, RECOVERY, MIN_RATE, MARGIN = tonumber(ARGV[7]), tonumber(ARGV[8]),
  tonumber(ARGV[9]), tonumber(ARGV[10])
local SPAN, GRANTS, MIN_SPAN = tonumber(ARGV[11]), tonumber(ARGV[12]), tonumber(ARGV[13])

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

local granted, value, cut = 0, 0, 0
if op == 'acquire' then
  local ready = paused_until or -math.huge
  if rate and last_grant then ready = math.max(ready, last_grant + 1.0 / rate) end
  if limit and redis.call('LLEN', W) >= limit then
    ready = math.max(ready, tonumber(redis.call('LINDEX', W, -limit)) + 1.0 + MARGIN)
  end
  if ready <= now then
    granted, value = 1, now
    changed['last_grant'] = now
    if limit then
      redis.call('RPUSH', W, fmt(now))
      redis.call('LTRIM', W, -limit, -1)
    end
    redis.call('RPUSH', R, fmt(now))
    forget(now)
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
return {granted, fmt(value), rate_text, tostring(throttles), paused_text, cut}
"""

_CONSTANTS = [
    repr(BETA),
    repr(float(RECOVERY_CALLS)),
    repr(MIN_RATE),
    repr(WINDOW_MARGIN),
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


class RunBucket:
    """The run's pacing state in Redis, one script call per event.

    ``now`` (seconds) replaces the Redis server's clock, for tests only.
    """

    def __init__(
        self, redis: aioredis.Redis, keys: RunKeys, *, max_pause: float = MAX_PAUSE
    ) -> None:
        self._keys = [keys.bucket, keys.window, keys.recent]
        self._script = redis.register_script(_SCRIPT)
        self._max_pause = max_pause

    async def _call(
        self,
        op: str,
        *,
        now: float | None,
        successes: int,
        sent_at: float | None = None,
        retry_after: float | None = None,
    ) -> BucketState:
        if retry_after is not None and not math.isfinite(retry_after):
            retry_after = None
        reply = await self._script(
            keys=self._keys,
            args=[
                op,
                _arg(now),
                str(successes),
                _arg(sent_at),
                _arg(retry_after),
                repr(float(self._max_pause)),
                *_CONSTANTS,
            ],
        )
        rate, paused = text(reply[2]), text(reply[4])
        return BucketState(
            granted=bool(int(reply[0])),
            value=float(text(reply[1])),
            rate=float(rate) if rate else None,
            throttles=int(text(reply[3])),
            paused_until=float(paused) if paused else None,
            cut=bool(int(reply[5])),
        )

    async def acquire(self, *, now: float | None = None, successes: int = 0) -> BucketState:
        """Grant a send slot if one is free now (after counting ``successes``)."""
        return await self._call("acquire", now=now, successes=successes)

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
    time) and across processes by whoever asks first once a slot is free.

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

    async def acquire(self) -> float:
        """Wait for a run-wide send slot; returns its time on the Redis server's clock."""
        async with self._lock:
            while True:
                n = self._take_successes()
                try:
                    state = await self._bucket.acquire(successes=n)
                except BaseException:
                    self._successes += n  # not heard: told with the next call
                    raise
                self._seen(state)
                if state.granted:
                    return state.value
                await self._sleep(state.value)

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
