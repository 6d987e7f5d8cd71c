"""How a bulk run's client is bound to its throttle: every attempt is heard, every retry
is paced, and each worker's state is known to the hooks through a context variable.

The single-process runner and the distributed worker (``tel4vn_async.redis``) both dial
through ``send``, with a client from ``paced_client``; only their ``Throttle`` differs.
"""

from __future__ import annotations

import contextvars
import enum
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol, TypeVar

import attrs

from .._client import BaseClient
from .._retry import Attempt, OnAttempt
from ._jobs import OTP_PATH, TTS_PATH, Prepared

if TYPE_CHECKING:
    from ..autocall._client import AutocallClient
    from ..models.autocall import CallResult

__all__ = ["SLOT", "NotSent", "Phase", "Slot", "Throttle", "paced_client", "send"]

_C = TypeVar("_C", bound=BaseClient)
_CALL_PATHS = frozenset({OTP_PATH, TTS_PATH})


class Phase(enum.Enum):
    """Where a worker is with its job: what stopping the run may cut short."""

    WAITING = "waiting"  # pulling, journaling, waiting for the throttle: nothing sent yet
    SENDING = "sending"  # the request may be on the wire
    RETRY_WAIT = "retry wait"  # between attempts, after a provably unsent one
    EMITTING = "emitting"  # the result is journaled and counted; handing it over


@attrs.define
class Slot:
    """One worker's state, seen by the hooks below."""

    phase: Phase = Phase.WAITING
    attempts: int = 0
    sent_at: float | None = None
    """When the throttle granted the attempt on the wire: a 429 to an older grant than
    the last slow-down does not slow the run again."""
    since: float | None = None
    """Unix time the job's first request went out (``send`` sets it): where the window
    of call reports that may settle it, should its outcome be unknown, begins."""


SLOT: contextvars.ContextVar[Slot] = contextvars.ContextVar("tel4vn_bulk_slot")


class NotSent(Exception):
    """The run stopped while a job waited to be (re)sent: it was never placed."""


class Throttle(Protocol):
    """What paces a run: ``AdaptiveThrottle`` in one process, a Redis bucket across many."""

    async def acquire(self) -> float:
        """Wait for a send slot; returns the time it was granted (on the throttle's clock)."""
        ...

    def throttled(
        self, *, sent_at: float | None, retry_after: float | None
    ) -> Awaitable[None] | None:
        """A 429/503 answered the request granted at ``sent_at``."""
        ...

    def succeeded(self) -> None:
        """A call was answered without a refusal."""
        ...


async def send(
    client: AutocallClient,
    throttle: Throttle,
    prepared: Prepared,
    slot: Slot,
    stopping: Callable[[], bool],
) -> CallResult:
    """Place ``prepared``'s call once ``throttle`` grants a slot, through ``client`` (one
    from ``paced_client``, so its retries are paced too).

    Raises:
        NotSent: the run stopped before the request went out.
        Tel4vnError: the call failed (``OutcomeUnknownError``: it may have been placed).
    """
    slot.sent_at = await throttle.acquire()
    if stopping():
        raise NotSent
    slot.phase = Phase.SENDING
    slot.since = time.time()
    return await client.calls._place(prepared.path, prepared.body)


def paced_client(client: _C, throttle: Throttle, stopping: Callable[[], bool]) -> _C:
    """A client sharing ``client``'s connections and token whose every call-placing
    attempt is told to ``throttle`` (then to the user's ``on_attempt``), and whose retry
    waits end with a throttle slot, so retries are paced with everything else."""
    user_hook = client._on_attempt
    sleep = client._policy.sleep

    async def observe(attempt: Attempt) -> None:
        if attempt.path in _CALL_PATHS:
            slot = SLOT.get(None)
            if slot is not None:
                slot.attempts += 1
            if attempt.status in (429, 503):
                sent_at = slot.sent_at if slot is not None else None
                heard = throttle.throttled(sent_at=sent_at, retry_after=attempt.retry_after)
                if heard is not None:  # a shared throttle tells the others first
                    await heard
            elif attempt.status is not None and attempt.status < 500:
                throttle.succeeded()  # answered, even if refused: not rate limited
        if user_hook is not None:
            outcome = user_hook(attempt)
            if inspect.isawaitable(outcome):
                await outcome

    async def paced_sleep(wait: float) -> None:
        slot = SLOT.get(None)
        if slot is None:  # not a worker's request (a token fetch's retry, say)
            await sleep(wait)
            return
        slot.phase = Phase.RETRY_WAIT
        if stopping():
            raise NotSent
        await sleep(wait)
        slot.sent_at = await throttle.acquire()
        if stopping():
            raise NotSent
        slot.phase = Phase.SENDING

    hook: OnAttempt = observe
    return client._derive(
        on_attempt=hook, retry_policy=attrs.evolve(client._policy, sleep=paced_sleep)
    )
