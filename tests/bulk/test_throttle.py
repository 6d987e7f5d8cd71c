"""The bulk run's adaptive throttle: its arithmetic, ``acquire`` on virtual time, a 429 storm.

The async tests run on ``VirtualLoop``, an event loop whose clock jumps to the next
timer instead of waiting: seconds of pacing take microseconds, every time read is exact,
and no test reads the wall clock. A deadlock there raises instead of hanging.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import math
import selectors
from collections.abc import Coroutine, Sequence
from typing import Any, NamedTuple, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tel4vn_async.bulk._throttle import (
    BETA,
    MAX_PAUSE,
    MIN_RATE,
    RECOVERY_CALLS,
    WINDOW_MARGIN,
    AdaptiveThrottle,
    ThrottleState,
    cut_from,
    decreased_rate,
    recovered_rate,
    window_limit,
    window_opens_at,
)
from tel4vn_async.testing._ratelimit import TokenBucket

T = TypeVar("T")

# Grant times are float sums: a grant due at exactly t + 1 + WINDOW_MARGIN may read a hair less.
EPS = 1e-9


class _JumpingSelector(selectors.SelectSelector):
    """Never blocks: waiting for the next timer moves the virtual clock there instead."""

    def __init__(self, loop: VirtualLoop) -> None:
        super().__init__()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is None:
            raise RuntimeError("every task waits and no timer is set: a deadlock")
        self._loop.now += timeout
        return super().select(0)


class VirtualLoop(asyncio.SelectorEventLoop):
    """An event loop on virtual time, starting at 0.0."""

    def __init__(self) -> None:
        self.now = 0.0
        super().__init__(_JumpingSelector(self))

    def time(self) -> float:
        return self.now


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on a fresh ``VirtualLoop``."""
    loop = VirtualLoop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


def throttle(rate: float | None, **kwargs: Any) -> AdaptiveThrottle:
    """A throttle on the running (virtual) loop's clock."""
    return AdaptiveThrottle(rate=rate, clock=asyncio.get_running_loop().time, **kwargs)


def assert_window(grants: Sequence[float], rate: float) -> None:
    """No window ``[t, t + 1 + WINDOW_MARGIN)`` holds more than ``floor(rate)`` grants (>= 1)."""
    limit = max(1, math.floor(rate))
    for i, start in enumerate(grants):
        inside = bisect.bisect_left(grants, start + 1.0 + WINDOW_MARGIN - EPS) - i
        assert inside <= limit, f"{inside} grants in the window from {start}"


def assert_spacing(grants: Sequence[float], interval: float) -> None:
    """Consecutive grants are ``interval`` apart at least: no burst."""
    gaps = [b - a for a, b in itertools.pairwise(grants)]
    assert min(gaps, default=interval) >= interval - EPS


def test_the_window_check_catches_a_crowded_window() -> None:
    assert_window([0.0, 0.5, 1.03], 2)
    with pytest.raises(AssertionError):
        assert_window([0.0, 0.5, 1.02], 2)


# --- The arithmetic -------------------------------------------------------------------


def test_a_cut_starts_from_the_lower_known_rate() -> None:
    assert cut_from(100.0, 40.0) == 40.0
    assert cut_from(30.0, 40.0) == 30.0
    assert cut_from(None, 40.0) == 40.0
    assert cut_from(30.0, None) == 30.0
    assert cut_from(None, None) is None


def test_a_cut_keeps_beta_of_the_rate_but_not_below_the_floor() -> None:
    assert decreased_rate(100.0, 0.5) == pytest.approx(100.0 * BETA)
    assert decreased_rate(0.6, 0.5) == 0.5


def test_recovery_follows_the_cubic_curve_in_successes() -> None:
    assert recovered_rate(100.0, 0, None) == pytest.approx(100.0 * BETA)
    # Near the old peak the curve is flat: half way back covers most of the distance.
    assert recovered_rate(100.0, RECOVERY_CALLS // 2, None) > 96.0
    assert recovered_rate(100.0, RECOVERY_CALLS, None) == pytest.approx(100.0)
    assert recovered_rate(100.0, 2 * RECOVERY_CALLS, None) == pytest.approx(100.0 * (2 - BETA))
    assert recovered_rate(100.0, 2 * RECOVERY_CALLS, 110.0) == 110.0


@given(
    peak=st.floats(0.1, 1e4),
    cap=st.none() | st.floats(0.1, 1e4),
    successes=st.integers(0, 10 * RECOVERY_CALLS),
)
@settings(max_examples=50, deadline=None)
def test_recovery_never_falls_and_never_passes_the_cap(
    peak: float, cap: float | None, successes: int
) -> None:
    rate = recovered_rate(peak, successes, cap)
    assert recovered_rate(peak, successes + 1, cap) >= rate
    assert cap is None or rate <= cap


@pytest.mark.parametrize(("rate", "limit"), [(0.5, 1), (1.0, 1), (1.5, 1), (20.0, 20), (20.9, 20)])
def test_a_window_holds_floor_rate_grants_and_at_least_one(rate: float, limit: int) -> None:
    assert window_limit(rate) == limit


def test_the_window_opens_after_the_grant_limit_back() -> None:
    assert window_opens_at([0.0, 0.5], 3) == -math.inf
    assert window_opens_at([0.0, 0.5, 0.7], 3) == pytest.approx(1.0 + WINDOW_MARGIN)
    assert window_opens_at([0.0, 0.5, 0.7], 2) == pytest.approx(1.5 + WINDOW_MARGIN)


# --- ThrottleState --------------------------------------------------------------------


def grant_all(state: ThrottleState, count: int, now: float = 0.0) -> list[float]:
    """Grant ``count`` requests, each as soon as the state allows (as ``acquire`` would)."""
    grants = []
    for _ in range(count):
        now = max(now, state.ready_at())
        state.grant(now)
        grants.append(now)
    return grants


@pytest.mark.parametrize("rate", [0.0, -1.0, math.nan, math.inf])
def test_a_rate_must_be_positive_and_finite(rate: float) -> None:
    with pytest.raises(ValueError, match="rate must be a positive number"):
        ThrottleState(rate)


@pytest.mark.parametrize("max_pause", [-1.0, math.nan])
def test_max_pause_must_not_be_negative(max_pause: float) -> None:
    with pytest.raises(ValueError, match="max_pause"):
        ThrottleState(None, max_pause=max_pause)


def test_grants_are_paced_and_the_window_adds_its_margin() -> None:
    grants = grant_all(ThrottleState(20.0), 22)
    assert grants[:20] == pytest.approx([i / 20 for i in range(20)])
    # The 21st would be paced at 1.0, but 0.0 to 1.0 would hold 21 grants.
    assert grants[20] == pytest.approx(1.0 + WINDOW_MARGIN)
    assert grants[21] == pytest.approx(1.05 + WINDOW_MARGIN)


def test_a_fractional_rate_spaces_grants_by_its_interval() -> None:
    assert grant_all(ThrottleState(0.5), 4) == pytest.approx([0.0, 2.0, 4.0, 6.0])


def test_without_a_rate_nothing_waits_until_a_refusal() -> None:
    state = ThrottleState(None)
    assert grant_all(state, 50) == [0.0] * 50
    assert state.rate is None
    assert state.throttled(0.002, sent_at=0.0, retry_after=None)
    # 50 sent at once read as 50 over the shortest span measured, 0.1 s: 500/s.
    assert state.rate == pytest.approx(BETA * 500.0)
    assert state.ready_at() == pytest.approx(1 / (BETA * 500.0))


def test_a_refusal_with_nothing_sent_and_no_rate_cuts_nothing() -> None:
    state = ThrottleState(None)
    assert not state.throttled(1.0, sent_at=None, retry_after=None)
    assert state.rate is None


def test_refusals_of_requests_sent_before_the_cut_do_not_cut_again() -> None:
    state = ThrottleState(100.0)
    grants = grant_all(state, 20)  # 0.00 .. 0.19
    assert state.throttled(0.2, sent_at=grants[5], retry_after=None)
    after_first = BETA * 100.0
    assert state.rate == pytest.approx(after_first)
    for sent_at in grants[6:]:
        assert not state.throttled(0.21, sent_at=sent_at, retry_after=None)
    assert state.rate == after_first
    assert state.throttles == 15
    # A request granted after the cut reports the new rate: its refusal cuts again.
    (later,) = grant_all(state, 1, now=0.2)
    assert state.throttled(later + 0.005, sent_at=later, retry_after=None)
    assert state.rate == pytest.approx(BETA * after_first)


def test_a_stale_refusal_still_pauses() -> None:
    state = ThrottleState(100.0)
    grant_all(state, 5)
    assert state.throttled(0.1, sent_at=0.0, retry_after=None)
    assert not state.throttled(0.2, sent_at=0.01, retry_after=2.0)
    assert state.paused_until == pytest.approx(2.2)
    assert state.ready_at() == pytest.approx(2.2)


def test_an_unknown_sent_at_counts_only_after_a_new_grant() -> None:
    state = ThrottleState(100.0)
    grant_all(state, 5)
    assert state.throttled(0.1, sent_at=None, retry_after=None)
    assert not state.throttled(0.12, sent_at=None, retry_after=None)
    grant_all(state, 1, now=0.2)
    assert state.throttled(0.25, sent_at=None, retry_after=None)


def test_pauses_extend_never_shorten_and_are_capped() -> None:
    state = ThrottleState(None, max_pause=5.0)
    state.throttled(1.0, sent_at=None, retry_after=3.0)
    state.throttled(1.5, sent_at=None, retry_after=1.0)
    assert state.paused_until == pytest.approx(4.0)
    state.throttled(2.0, sent_at=None, retry_after=3600.0)
    assert state.paused_until == pytest.approx(7.0)
    assert MAX_PAUSE == 60.0


@pytest.mark.parametrize("retry_after", [None, 0.0, -1.0, math.nan, math.inf])
def test_a_missing_or_nonsense_retry_after_does_not_pause(retry_after: float | None) -> None:
    state = ThrottleState(None)
    state.throttled(1.0, sent_at=None, retry_after=retry_after)
    assert state.paused_until == -math.inf


def test_successes_before_any_refusal_keep_the_user_rate() -> None:
    state = ThrottleState(10.0)
    for _ in range(5):
        state.succeeded()
    assert state.rate == 10.0


def test_the_rate_climbs_back_to_the_cut_then_above() -> None:
    state = ThrottleState(None)
    grant_all(state, 10)
    state.throttled(0.05, sent_at=0.0, retry_after=None)
    peak = 10 / 0.1  # ten grants within the shortest span measured
    assert state.rate == pytest.approx(BETA * peak)
    for _ in range(RECOVERY_CALLS):
        state.succeeded()
    assert state.rate == pytest.approx(peak)
    for _ in range(RECOVERY_CALLS):
        state.succeeded()
    assert (state.rate or 0.0) > peak


def test_recovery_never_passes_the_user_rate() -> None:
    state = ThrottleState(5.0)
    grant_all(state, 10)
    state.throttled(2.0, sent_at=1.8, retry_after=None)
    assert (state.rate or math.inf) < 5.0
    for _ in range(10 * RECOVERY_CALLS):
        state.succeeded()
    assert state.rate == 5.0


def test_cuts_stop_at_the_floor_or_the_user_rate_below_it() -> None:
    state = ThrottleState(None)
    now = 0.0
    for _ in range(40):
        (now,) = grant_all(state, 1, now=now + 0.01)
        state.throttled(now, sent_at=now, retry_after=None)
    assert state.rate == MIN_RATE
    slow = ThrottleState(0.2)
    grant_all(slow, 2)
    slow.throttled(10.0, sent_at=5.0, retry_after=None)
    assert slow.rate == 0.2


def test_the_send_rate_is_measured_lately_and_counts_silence() -> None:
    state = ThrottleState(None)
    for i in range(100):
        grant_all(state, 1, now=i / 100)  # 100/s for a second
    measured = state.measured_rate(0.995)
    assert measured == pytest.approx(100.0, rel=0.1)
    # A slow sender is read over its last grants, not as one grant or none.
    slow = ThrottleState(None)
    for i in range(20):
        grant_all(slow, 1, now=float(i))
    assert slow.measured_rate(19.5) == pytest.approx(8 / 7.5)
    # Silence (a pause included) lowers the reading: the server accepted no more.
    assert (slow.measured_rate(100.0) or 0.0) < 0.1


def test_a_sender_slower_than_the_rate_is_cut_from_what_it_sent() -> None:
    state = ThrottleState(100.0)
    for i in range(20):
        grant_all(state, 1, now=i / 10)  # workers manage 10/s of the 100 allowed
    state.throttled(1.95, sent_at=1.9, retry_after=None)
    assert state.rate == pytest.approx(BETA * 10.0, rel=0.1)


_OPS = st.lists(
    st.tuples(
        st.sampled_from(["ask", "ask", "refuse", "ok"]),
        st.floats(0.0, 2.0),
        st.none() | st.floats(-1.0, 5.0),
        st.none() | st.integers(0, 6),
    ),
    max_size=100,
)


@given(cap=st.none() | st.floats(0.2, 60.0), ops=_OPS)
@settings(max_examples=80, deadline=None)
def test_any_sequence_keeps_pacing_pauses_window_and_bounds(
    cap: float | None, ops: list[tuple[str, float, float | None, int | None]]
) -> None:
    state = ThrottleState(cap)
    floor = MIN_RATE if cap is None else min(MIN_RATE, cap)
    now, pause_end, cut_at = 0.0, -math.inf, -math.inf
    grants: list[float] = []
    for kind, dt, retry_after, back in ops:
        now += dt
        if kind == "ask":
            now = max(now, state.ready_at())
            assert now >= pause_end
            if grants and state.rate is not None:
                assert now - grants[-1] >= 1.0 / state.rate - EPS
            state.grant(now)
            grants.append(now)
        elif kind == "refuse":
            sent_at = grants[-1 - back] if back is not None and back < len(grants) else None
            cut = state.throttled(now, sent_at=sent_at, retry_after=retry_after)
            if sent_at is not None and sent_at <= cut_at:
                assert not cut
            cut_at = now if cut else cut_at
            if retry_after is not None and retry_after > 0:
                pause_end = max(pause_end, now + retry_after)
        else:
            state.succeeded()
        if state.rate is not None:
            assert floor <= state.rate <= (math.inf if cap is None else cap)
    if cap is not None:
        assert_window(grants, cap)
        assert_spacing(grants, 1.0 / cap)


# --- acquire on virtual time ----------------------------------------------------------


async def acquire_all(limiter: AdaptiveThrottle, count: int) -> list[float]:
    """Start ``count`` tasks acquiring at once; their grant times in order of arrival."""
    return list(await asyncio.gather(*(limiter.acquire() for _ in range(count))))


def test_acquire_paces_and_windows_concurrent_tasks() -> None:
    async def main() -> list[float]:
        return await acquire_all(throttle(10.0), 35)

    grants = run(main())
    assert grants[:10] == pytest.approx([i / 10 for i in range(10)])
    assert grants[10] == pytest.approx(1.0 + WINDOW_MARGIN)
    assert_window(grants, 10.0)
    assert_spacing(grants, 0.1)


def test_acquire_takes_fractional_rates() -> None:
    async def main() -> list[float]:
        return await acquire_all(throttle(0.5), 4)

    assert run(main()) == pytest.approx([0.0, 2.0, 4.0, 6.0])


def test_without_a_rate_acquire_never_waits() -> None:
    sleeps: list[float] = []

    async def counted_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        await asyncio.sleep(seconds)

    async def main() -> list[float]:
        return await acquire_all(throttle(None, sleep=counted_sleep), 100)

    assert run(main()) == [0.0] * 100
    assert sleeps == []


def test_acquire_sleeps_once_per_slot_never_spins() -> None:
    sleeps: list[float] = []

    async def counted_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        await asyncio.sleep(seconds)

    async def main() -> None:
        limiter = throttle(10.0, sleep=counted_sleep)
        await acquire_all(limiter, 30)
        limiter.throttled(sent_at=None, retry_after=5.0)
        await acquire_all(limiter, 10)

    run(main())
    # 29 paced waits, then one for the pause, then 9 paced waits at the cut rate.
    assert len(sleeps) == 39
    assert min(sleeps) > 0


def test_grants_follow_arrival_order() -> None:
    async def main() -> list[int]:
        limiter = throttle(1000.0)
        order: list[int] = []

        async def one(i: int) -> None:
            await limiter.acquire()
            order.append(i)

        await asyncio.gather(*(one(i) for i in range(300)))
        return order

    assert run(main()) == list(range(300))


async def cancel_some(count: int, rate: float, cancel_at: float, every: int) -> list[float]:
    """``count`` tasks acquire; at ``cancel_at``, the sleeping head and every ``every``-th
    waiter are cancelled. Returns the survivors' grant times in order of arrival, then
    one more grant asked after all."""
    limiter = throttle(rate)
    tasks = [asyncio.ensure_future(limiter.acquire()) for _ in range(count)]
    await asyncio.sleep(cancel_at)
    waiting = [i for i, task in enumerate(tasks) if not task.done()]
    for i in waiting:
        if i == waiting[0] or i % every == 0:
            tasks[i].cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    survivors = [r for r in results if not isinstance(r, BaseException)]
    assert all(isinstance(r, asyncio.CancelledError) for r in results if r not in survivors)
    return [*survivors, await limiter.acquire()]


def test_cancelled_waiters_lose_no_slot_and_leak_none() -> None:
    survivors = run(cancel_some(300, 100.0, 0.505, every=3))
    assert len(survivors) < 300 * 3 // 4
    # Exactly the grants of a run that never had the cancelled tasks: no gap, no leak.
    assert survivors == run(acquire_all_fresh(len(survivors), 100.0))


async def acquire_all_fresh(count: int, rate: float) -> list[float]:
    return await acquire_all(throttle(rate), count)


def test_a_waiter_cancelled_once_woken_hands_its_turn_on() -> None:
    async def main() -> list[float | None]:
        limiter = throttle(10.0)
        tasks: list[asyncio.Future[float]] = []

        async def one(i: int) -> float:
            granted = await limiter.acquire()
            if i == 3:
                # The release has just woken task 4, which has not run yet.
                tasks[4].cancel()
            return granted

        tasks.extend(asyncio.ensure_future(one(i)) for i in range(8))
        results = await asyncio.gather(*tasks, return_exceptions=True)
        return [r if isinstance(r, float) else None for r in results]

    grants = run(main())
    assert grants[4] is None
    assert [g for g in grants if g is not None] == pytest.approx([i / 10 for i in range(7)])


@given(
    count=st.integers(1, 120),
    cancel_at=st.floats(0.0, 1.5),
    every=st.integers(1, 7),
)
@settings(max_examples=20, deadline=None)
def test_cancellation_at_any_moment_keeps_order_pacing_and_window(
    count: int, cancel_at: float, every: int
) -> None:
    grants = run(cancel_some(count, 50.0, cancel_at, every))
    assert grants == sorted(grants)
    assert_spacing(grants, 1 / 50)
    assert_window(grants, 50.0)


def test_retry_after_pauses_every_job() -> None:
    async def main() -> tuple[list[float], AdaptiveThrottle]:
        limiter = throttle(None)
        await acquire_all(limiter, 10)
        await asyncio.sleep(0.3)
        limiter.throttled(sent_at=0.0, retry_after=2.0)
        return await acquire_all(limiter, 20), limiter

    grants, limiter = run(main())
    assert grants[0] == pytest.approx(2.3)
    assert limiter.rate is not None
    assert_spacing(grants, 1 / limiter.rate)


def test_a_refusal_heard_while_the_head_sleeps_delays_it() -> None:
    async def main() -> list[float]:
        limiter = throttle(1.0)
        await limiter.acquire()
        head = asyncio.ensure_future(limiter.acquire())  # due at 1.025
        await asyncio.sleep(0.5)
        limiter.throttled(sent_at=0.0, retry_after=3.0)
        return [await head, await limiter.acquire()]

    head, following = run(main())
    assert head == pytest.approx(3.5)
    assert following - head >= 1.0 / (BETA * 1.0) - EPS


def test_a_refusal_slows_every_job_to_the_cut_rate() -> None:
    async def main() -> tuple[list[float], list[float]]:
        limiter = throttle(100.0)
        before = await acquire_all(limiter, 10)
        limiter.throttled(sent_at=before[-1], retry_after=None)
        return before, await acquire_all(limiter, 20)

    before, after = run(main())
    assert before == pytest.approx([i / 100 for i in range(10)])
    # The cut rate, lower than the user's, governs the pacing.
    assert_spacing(after, 1 / (BETA * 100.0))


def test_recovery_never_paces_above_the_user_rate() -> None:
    async def main() -> tuple[list[float], float | None]:
        limiter = throttle(5.0)
        first = await acquire_all(limiter, 3)
        limiter.throttled(sent_at=first[-1], retry_after=None)
        for _ in range(10 * RECOVERY_CALLS):
            limiter.succeeded()
        return first + await acquire_all(limiter, 20), limiter.rate

    grants, rate = run(main())
    assert rate == 5.0
    assert_spacing(grants, 1 / 5)
    assert_window(grants, 5.0)


async def test_the_default_clock_and_sleep_work() -> None:
    limiter = AdaptiveThrottle(rate=1000.0)
    grants = [await limiter.acquire() for _ in range(4)]
    assert grants == sorted(grants)
    assert limiter.throttles == 0


# --- A simulated 429 storm ------------------------------------------------------------


class Outcome(NamedTuple):
    requests: int
    refused: int
    finished: float
    grants: list[float]


async def simulate(
    *, jobs: int, workers: int, rate: float | None, server_rate: float, burst: int
) -> Outcome:
    """``workers`` tasks run ``jobs`` calls against a server token bucket (answering 429
    with a ``Retry-After`` above its rate, as FakeTel4vn does) over 2 ms round trips;
    each refusal is told to the throttle and retried after it, as the transport does."""
    loop = asyncio.get_running_loop()
    limiter = throttle(rate)
    server = TokenBucket(server_rate, burst)
    pending = iter(range(jobs))
    grants: list[float] = []
    refused = 0

    async def call() -> None:
        nonlocal refused
        while True:
            sent_at = await limiter.acquire()
            grants.append(sent_at)
            await asyncio.sleep(0.001)
            wait = server.wait(loop.time())
            if wait == 0:
                server.take()
            await asyncio.sleep(0.001)
            if wait == 0:
                limiter.succeeded()
                return
            refused += 1
            limiter.throttled(sent_at=sent_at, retry_after=max(wait, 0.001))
            await asyncio.sleep(max(wait, 0.001))

    async def worker() -> None:
        for _ in pending:
            await call()

    await asyncio.gather(*(worker() for _ in range(workers)))
    assert limiter.throttles == refused
    return Outcome(len(grants), refused, loop.time(), grants)


def test_a_429_storm_without_a_rate_sends_near_one_request_per_job() -> None:
    outcome = run(simulate(jobs=1000, workers=50, rate=None, server_rate=1000.0, burst=20))
    # 30 of the refusals are the first burst (50 workers at once, 20 admitted).
    assert outcome.refused < 100
    assert outcome.requests == 1000 + outcome.refused
    assert outcome.finished < 3 * 1000 / 1000.0


def test_a_user_rate_below_the_servers_is_never_refused_nor_exceeded() -> None:
    outcome = run(simulate(jobs=1000, workers=50, rate=500.0, server_rate=1000.0, burst=20))
    assert outcome.refused == 0
    assert_window(outcome.grants, 500.0)
    assert outcome.finished < 1.1 * 1000 / 500.0


def test_a_user_rate_above_the_servers_adapts_down() -> None:
    outcome = run(simulate(jobs=1000, workers=50, rate=2000.0, server_rate=1000.0, burst=20))
    assert outcome.refused < 100
    assert_window(outcome.grants, 2000.0)
    assert outcome.finished < 3 * 1000 / 1000.0


def test_a_server_with_no_burst_still_sees_few_refusals() -> None:
    outcome = run(simulate(jobs=1000, workers=50, rate=None, server_rate=200.0, burst=1))
    # 49 of them are the first burst: every worker at once, one admitted.
    assert outcome.refused < 100
    assert outcome.finished < 1.5 * 1000 / 200.0


def test_a_refusal_before_the_rate_can_be_measured_cuts_from_the_cap() -> None:
    # One call in 0.1 s reads as 10/s whatever the run could do: a first-call 429 must
    # not cut a 60/s run to 7/s.
    state = ThrottleState(60.0)
    state.grant(0.0)
    assert state.measured_rate(0.01) is None
    assert state.throttled(0.01, sent_at=0.0, retry_after=None)
    assert state.rate == pytest.approx(0.7 * 60.0)
    unlimited = ThrottleState(None)
    unlimited.grant(0.0)
    assert not unlimited.throttled(0.01, sent_at=0.0, retry_after=1.0)  # paused, not cut
    assert unlimited.rate is None
    assert unlimited.paused_until == pytest.approx(1.01)
