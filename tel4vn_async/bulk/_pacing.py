"""How a bulk run's client is bound to its throttle: every attempt is heard, every retry
is paced, and each worker's state is known to the hooks through a context variable."""

from __future__ import annotations

import contextvars
import enum
import inspect
from collections.abc import Callable
from typing import TypeVar

import attrs

from .._client import BaseClient
from .._retry import Attempt, OnAttempt
from ._jobs import OTP_PATH, TTS_PATH
from ._throttle import AdaptiveThrottle

__all__ = ["SLOT", "NotSent", "Phase", "Slot", "paced_client"]

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


SLOT: contextvars.ContextVar[Slot] = contextvars.ContextVar("tel4vn_bulk_slot")


class NotSent(Exception):
    """The run stopped while a job waited to be (re)sent: it was never placed."""


def paced_client(client: _C, throttle: AdaptiveThrottle, stopping: Callable[[], bool]) -> _C:
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
                throttle.throttled(sent_at=sent_at, retry_after=attempt.retry_after)
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
