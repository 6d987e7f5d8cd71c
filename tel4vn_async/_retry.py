"""The attempts of one request: sent through the transport, decoded, retried while the
rules allow, each told to ``on_attempt``.

Which failures may be retried is a pure rule (``_sansio.should_retry``); how long to wait
is ``RetryPolicy``: exponential backoff with full jitter from the ``backoff`` package,
or exactly the server's ``Retry-After``. The happy path computes no wait at all.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

import attrs
import backoff

from ._sansio import Request, decode_response, should_retry
from ._transport import Response, Transport
from .errors import APIError, ConnectError, OutcomeUnknownError, Tel4vnError, TransportError

__all__ = ["Attempt", "OnAttempt", "RetryPolicy", "send_with_retries"]

_log = logging.getLogger("tel4vn_async")


@attrs.frozen
class RetryPolicy:
    """How retries wait: exponential backoff with full jitter, ``Retry-After`` honoured.

    Attributes:
        backoff_base: the first wait's upper bound, in seconds; it doubles each try.
        backoff_max: the cap on a computed wait.
        max_retry_after: the longest ``Retry-After`` the SDK waits out; a server asking
            for longer gets its error raised at once, ``retry_after`` attached.
        sleep: what waits (``asyncio.sleep``); a test can pass a fake clock's.
    """

    backoff_base: float = 0.5
    backoff_max: float = 10.0
    max_retry_after: float = 60.0
    sleep: Callable[[float], Awaitable[None]] = attrs.field(
        default=asyncio.sleep, repr=False, eq=False
    )

    def waits(self) -> Iterator[float]:
        """The computed waits of one request's retries: full jitter over 2^n growth."""
        growth = backoff.expo(factor=self.backoff_base, max_value=self.backoff_max)
        next(growth)  # backoff's wait generators start with a priming yield
        for ceiling in growth:
            yield backoff.full_jitter(ceiling)

    def wait_before_retry(self, error: Tel4vnError, waits: Iterator[float]) -> float | None:
        """Seconds to wait before retrying after ``error``, or None to give up now.

        A ``Retry-After`` is waited out exactly, unless it exceeds ``max_retry_after``.
        """
        retry_after = getattr(error, "retry_after", None)
        if retry_after is None:
            return next(waits)
        return retry_after if retry_after <= self.max_retry_after else None


@attrs.frozen
class Attempt:
    """One attempt of one request, as ``on_attempt`` is told of it.

    Attributes:
        method, path: the request (the path carries no query string).
        number: 1 for the first try, 2 for the first retry, ...
        status: the HTTP status answered, or None when no response came.
        error: the error this attempt ended in, or None when it succeeded.
        will_retry: whether the SDK will try again.
        wait: seconds it waits first, when it will retry.
        retry_after: the server's ``Retry-After``, in seconds, when it sent one.
        elapsed: seconds the attempt took.
    """

    method: str
    path: str
    number: int
    status: int | None
    error: Tel4vnError | None
    will_retry: bool
    wait: float | None
    retry_after: float | None
    elapsed: float


OnAttempt = Callable[[Attempt], "Awaitable[None] | None"]
"""A callback told of every attempt of every request: plain or async."""


async def send_with_retries(
    transport: Transport,
    request: Request,
    *,
    url: str,
    headers: Mapping[str, str],
    timeout: float,
    policy: RetryPolicy,
    max_retries: int,
    on_attempt: OnAttempt | None,
) -> Any:
    """Send ``request`` until it succeeds or may not be retried (API.md section 3).

    Returns:
        The decoded JSON payload of the answer.

    Raises:
        Tel4vnError: the last attempt's error, typed; for a call-placing request whose
            answer was lost, ``OutcomeUnknownError``.
    """
    waits = None
    number = 0
    while True:
        number += 1
        started = time.perf_counter()
        response: Response | None = None
        try:
            response = await transport.send(request, url=url, headers=headers, timeout=timeout)
            payload = decode_response(request, response.status, response.headers, response.body)
        except TransportError as exc:
            error: Tel4vnError = _outcome(request, exc)
        except APIError as exc:
            error = exc
        else:
            if on_attempt is not None:
                await _tell(on_attempt, request, number, response.status, None, None, started)
            return payload
        wait = None
        if number <= max_retries and should_retry(request, error):
            waits = waits or policy.waits()
            wait = policy.wait_before_retry(error, waits)
        if on_attempt is not None:
            status = response.status if response is not None else None
            await _tell(on_attempt, request, number, status, error, wait, started)
        if wait is None:
            raise error
        _log.info(
            "retrying %s %s in %.2fs after %s (try %d)",
            request.method,
            request.path,
            wait,
            f"{type(error).__name__} {getattr(error, 'status', '') or ''}".rstrip(),
            number,
        )
        await policy.sleep(wait)


async def _tell(
    on_attempt: OnAttempt,
    request: Request,
    number: int,
    status: int | None,
    error: Tel4vnError | None,
    wait: float | None,
    started: float,
) -> None:
    attempt = Attempt(
        method=request.method,
        path=request.path,
        number=number,
        status=status,
        error=error,
        will_retry=wait is not None,
        wait=wait,
        retry_after=getattr(error, "retry_after", None),
        elapsed=time.perf_counter() - started,
    )
    try:
        result = on_attempt(attempt)
        if inspect.isawaitable(result):
            await result
    except Exception:  # a metrics hook never breaks a request
        _log.exception("on_attempt raised; ignored")


def _outcome(request: Request, error: TransportError) -> TransportError:
    """A failure after a call-placing request may have gone out: its outcome is unknown."""
    if (
        not request.places_call
        or isinstance(error, ConnectError | OutcomeUnknownError)
        or error.status is not None
    ):
        return error
    unknown = OutcomeUnknownError(
        f"{error.args[0] if error.args else error}; the call may have been placed",
        method=error.method,
        path=error.path,
    )
    unknown.__cause__ = error
    return unknown
