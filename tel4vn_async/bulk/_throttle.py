"""The one adaptive throttle of a bulk run: smooth pacing, ``Retry-After`` pauses, a rate
that falls on refusals and climbs back as calls succeed.

Every attempt of every job (the transport's retries too) passes ``acquire`` first, and
every 429 or 503 reaches ``throttled``, so one throttle sees and shapes all a run sends.
The control follows the idea of botocore's adaptive retry mode (a paced bucket whose
rate is cut multiplicatively and regrown on a cubic curve); the differences are ours:

- A refusal cuts the rate to ``BETA`` times the lower of the rate in force and the send
  rate measured. Refusals of requests granted before the last cut are not counted: they
  report the old rate, and a storm of them must cut once, not once per answer.
- ``Retry-After`` pauses every job until then, whatever the request's age.
- Recovery is counted in successes, not seconds: back to the rate that was cut after
  ``RECOVERY_CALLS`` successes, slowly near it, then probing above it. So about one
  request in ``RECOVERY_CALLS`` is refused, at one call a second as at a thousand.
- The user's ``rate`` caps everything; ``None`` starts unlimited and sets a rate at the
  first refusal, from the send rate measured then.

Pacing grants one request every ``1/rate`` seconds, never a burst. Under a user's rate,
a sliding window also holds every ``[t, t + 1 + WINDOW_MARGIN)`` to ``floor(rate)`` grants
(at least one), so no one-second window the server measures sees more than ``rate``.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence

__all__ = [
    "BETA",
    "MIN_RATE",
    "RECOVERY_CALLS",
    "WINDOW_MARGIN",
    "AdaptiveThrottle",
    "ThrottleState",
    "cut_from",
    "decreased_rate",
    "recovered_rate",
    "window_limit",
    "window_opens_at",
]

BETA = 0.7
"""The share of the rate kept after a refusal (botocore's and TCP CUBIC's choice)."""

RECOVERY_CALLS = 100
"""Successes after a cut to climb back to the rate that was cut: about one refusal per
this many calls in a long run at the server's limit."""

MIN_RATE = 0.5
"""Refusals never push the rate below this (calls per second), unless the user's is lower:
slower than that, the server's ``Retry-After`` is the better guide."""

WINDOW_MARGIN = 0.025
"""Seconds added to the one-second window: the gap between a grant and its request's
arrival (a task switch, a connection from the pool) and the jitter of the server's clock
would otherwise let a server see ``floor(rate) + 1`` requests in one of its seconds."""

MAX_PAUSE = 60.0
"""The longest ``Retry-After`` obeyed by default (``RetryPolicy.max_retry_after``'s default)."""

# The send rate is measured over the last _MEASURE_SPAN, stretched back to hold at least
# _MEASURE_GRANTS grants (a slow run's reading would be one grant or none), and never
# over less than _MIN_MEASURE_SPAN, or the first burst of an unlimited run (every worker at
# once) would read as an endless rate. In simulation a shorter floor overestimated a
# server's limit (more refusals before settling), a longer one underestimated it (a
# slower climb); a longer window lagged behind a climbing rate and cut too deep.
_MEASURE_SPAN = 0.2
_MEASURE_GRANTS = 8
_MIN_MEASURE_SPAN = 0.1


def cut_from(current: float | None, measured: float | None) -> float | None:
    """The rate a refusal cuts from: the lower of the rate in force and the one measured.

    Returns:
        None when neither is known (unlimited, and nothing sent yet).
    """
    known = [rate for rate in (current, measured) if rate is not None]
    return min(known) if known else None


def decreased_rate(peak: float, floor: float) -> float:
    """The rate after a refusal cut it from ``peak``: ``BETA`` of it, never below ``floor``."""
    return max(floor, BETA * peak)


def recovered_rate(peak: float, successes: int, cap: float | None) -> float:
    """The rate ``successes`` calls after a cut from ``peak``: CUBIC's curve, in calls.

    It starts at ``BETA * peak``, flattens as it reaches ``peak`` after ``RECOVERY_CALLS``
    successes, then rises ever faster above it, never above ``cap``.
    """
    distance = successes / RECOVERY_CALLS - 1.0
    rate = peak * (1.0 + (1.0 - BETA) * distance**3)
    return rate if cap is None else min(cap, rate)


def window_limit(cap: float) -> int:
    """The most grants a one-second window may hold under the user's rate ``cap``."""
    return max(1, math.floor(cap))


def window_opens_at(grants: Sequence[float], limit: int) -> float:
    """The earliest time of a next grant keeping ``limit`` grants at most in any window.

    A grant made ``1 + WINDOW_MARGIN`` seconds or more after the grant ``limit`` back
    keeps every window ``[t, t + 1 + WINDOW_MARGIN)`` to ``limit`` grants.

    Args:
        grants: the latest grant times, oldest first.
        limit: the most grants a window may hold.
    """
    if len(grants) < limit:
        return -math.inf
    return grants[-limit] + 1.0 + WINDOW_MARGIN


class ThrottleState:
    """The throttle's arithmetic and memory, without I/O: each method takes the clock reading.

    Attributes:
        cap: the user's rate (None: no cap).
        rate: the rate in force, never above ``cap`` (None: unlimited so far).
        paused_until: no grant before this clock reading (a ``Retry-After``).
        throttles: refusals heard, counted or not.
    """

    def __init__(self, cap: float | None, *, max_pause: float = MAX_PAUSE) -> None:
        if cap is not None and not (math.isfinite(cap) and cap > 0):
            raise ValueError(f"rate must be a positive number of calls per second, not {cap!r}")
        if not max_pause >= 0:
            raise ValueError(f"max_pause must be 0 or more seconds, not {max_pause!r}")
        self.cap = cap
        self.rate: float | None = cap
        self.paused_until = -math.inf
        self.throttles = 0
        self._floor = MIN_RATE if cap is None else min(MIN_RATE, cap)
        self._max_pause = max_pause
        self._peak = cap  # the rate cut last (where recovery flattens)
        self._successes = 0  # since the last cut
        self._cut_at = -math.inf  # when: refusals of requests granted by then are stale
        self._last_grant: float | None = None
        self._window: deque[float] | None = None if cap is None else deque(maxlen=window_limit(cap))
        self._recent: deque[float] = deque()  # the latest grants, to measure the send rate

    def ready_at(self) -> float:
        """The earliest clock reading at which the next grant may be made."""
        ready = self.paused_until
        if self.rate is not None and self._last_grant is not None:
            ready = max(ready, self._last_grant + 1.0 / self.rate)
        if self._window is not None and self._window.maxlen is not None:
            ready = max(ready, window_opens_at(self._window, self._window.maxlen))
        return ready

    def grant(self, now: float) -> None:
        """Record a grant made at ``now`` (no earlier than ``ready_at()``)."""
        self._last_grant = now
        if self._window is not None:
            self._window.append(now)
        self._recent.append(now)
        self._forget(now)

    def measured_rate(self, now: float) -> float | None:
        """The send rate lately, grants per second; None before enough grants to tell.

        Pauses count as time: a server that paused us accepted only this much.
        """
        self._forget(now)
        if len(self._recent) < _MEASURE_GRANTS:
            # Too few grants to tell a rate (a run's first calls, one at a time): one call
            # in 0.1 s would read as 10/s whatever the run could do.
            return None
        return len(self._recent) / max(_MIN_MEASURE_SPAN, now - self._recent[0])

    def throttled(self, now: float, *, sent_at: float | None, retry_after: float | None) -> bool:
        """Hear a refusal; returns whether it cut the rate.

        Args:
            now: the clock reading.
            sent_at: when the refused request was granted; None assumes the latest grant.
            retry_after: the server's ``Retry-After`` in seconds, or None.
        """
        self.throttles += 1
        if retry_after is not None and retry_after > 0 and math.isfinite(retry_after):
            pause_end = now + min(retry_after, self._max_pause)
            self.paused_until = max(self.paused_until, pause_end)
        if sent_at is None:
            sent_at = now if self._last_grant is None else self._last_grant
        if sent_at <= self._cut_at:
            return False
        peak = cut_from(self.rate, self.measured_rate(now))
        if peak is None:
            return False
        self._peak = max(peak, self._floor)
        self.rate = decreased_rate(peak, self._floor)
        self._successes = 0
        self._cut_at = now
        return True

    def succeeded(self) -> None:
        """Hear a success: the rate climbs back along the recovery curve."""
        if self._peak is None or self._cut_at == -math.inf:
            return  # never cut: the rate is the user's cap, or unlimited
        self._successes += 1
        self.rate = max(self._floor, recovered_rate(self._peak, self._successes, self.cap))

    def _forget(self, now: float) -> None:
        recent = self._recent
        while len(recent) > _MEASURE_GRANTS and recent[0] <= now - _MEASURE_SPAN:
            recent.popleft()


class AdaptiveThrottle:
    """Paces a whole run's requests; slows on 429/503, pauses on ``Retry-After``, recovers.

    Args:
        rate: the user's cap in calls per second (None: none; unlimited until refused).
        clock: seconds, never stepping back; ``acquire`` returns its readings.
        sleep: how ``acquire`` waits (tests pass one running on a fake clock).
        max_pause: the longest ``Retry-After`` obeyed; longer ones pause this long.

    Raises:
        ValueError: ``rate`` not a positive finite number.
    """

    def __init__(
        self,
        *,
        rate: float | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_pause: float = MAX_PAUSE,
    ) -> None:
        self._state = ThrottleState(rate, max_pause=max_pause)
        self._clock = clock
        self._sleep = sleep
        # asyncio.Lock queues waiters in order and wakes only the first on release: FIFO
        # grants, no thundering herd, and a cancelled waiter hands its turn on.
        self._lock = asyncio.Lock()

    @property
    def rate(self) -> float | None:
        """The rate in force now, calls per second (None: not limited yet)."""
        return self._state.rate

    @property
    def throttles(self) -> int:
        """How many 429/503 answers it heard, retried or not."""
        return self._state.throttles

    async def acquire(self) -> float:
        """Wait for a send slot, in arrival order; returns the clock time it was granted."""
        async with self._lock:
            while True:
                now = self._clock()
                ready = self._state.ready_at()
                if ready <= now:
                    self._state.grant(now)
                    return now
                # Re-read after waking: a refusal heard meanwhile may push the slot later.
                # A rise heard meanwhile counts from the next slot: waking early for it
                # would cost a wake-up per success, for at most one old interval saved.
                await self._sleep(ready - now)

    def throttled(self, *, sent_at: float | None, retry_after: float | None) -> None:
        """A 429/503 answered a request granted at ``sent_at`` (None: unknown).

        Args:
            sent_at: what ``acquire`` returned for that request. None assumes the latest
                grant, which may count a stale refusal; pass it where known.
            retry_after: the answer's ``Retry-After`` in seconds: every job waits it out.
        """
        self._state.throttled(self._clock(), sent_at=sent_at, retry_after=retry_after)

    def succeeded(self) -> None:
        """A call was accepted: the rate climbs back toward where it was cut."""
        self._state.succeeded()
