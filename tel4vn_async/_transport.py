"""The one I/O seam: send a ``Request`` over aiohttp, decode it, retry what may be retried."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Generator
from typing import Any, cast

import aiohttp
import attrs
import backoff

from ._sansio import Request, decode_response, should_retry
from .errors import (
    ClientClosedError,
    ConnectError,
    OutcomeUnknownError,
    Tel4vnError,
    TransportError,
)

__all__ = ["RetryPolicy", "Transport"]

_log = logging.getLogger("tel4vn_async")

# Methods aiohttp re-sends by itself when a connection drops (RFC 9112 section 9.3.1).
_AIOHTTP_RESENDS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})


@attrs.frozen
class RetryPolicy:
    """How retries wait: exponential backoff with full jitter, ``Retry-After`` honoured.

    Attributes:
        backoff_base: the first wait's upper bound, in seconds; it doubles each try.
        backoff_max: the cap on a computed wait.
        max_retry_after: the longest ``Retry-After`` the SDK waits out; a server asking
            for longer gets its error raised at once, ``retry_after`` attached.
    """

    backoff_base: float = 0.5
    backoff_max: float = 10.0
    max_retry_after: float = 60.0

    def waits(self) -> Generator[float | None, BaseException, None]:
        """A ``backoff`` wait generator: each exception sent in yields the wait before a retry.

        An exception with a ``retry_after`` (from the server's header) waits exactly that.
        """
        attempt = 0
        error = yield None
        while True:
            retry_after = getattr(error, "retry_after", None)
            if retry_after is not None:
                wait = float(retry_after)
            else:
                wait = random.uniform(0, min(self.backoff_max, self.backoff_base * 2**attempt))
            attempt += 1
            error = yield wait


class _Retry(Exception):
    """Carries an error the policy allows to retry through ``backoff``."""

    def __init__(self, error: Tel4vnError) -> None:
        super().__init__()
        self.error = error
        self.retry_after: float | None = getattr(error, "retry_after", None)


class _ResponseLost(aiohttp.ClientError):
    """The connection failed after the request went out; hides it from aiohttp's resend."""


async def _no_resend(
    request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
) -> aiohttp.ClientResponse:
    # aiohttp silently re-sends a GET once when its connection drops. A click-to-call is a
    # GET, so for call-placing requests the drop is re-raised as a type aiohttp won't retry.
    try:
        return await handler(request)
    except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError):
        raise
    except (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError) as exc:
        raise _ResponseLost(str(exc)) from exc


class Transport:
    """Sends requests to one base URL, owning its aiohttp session unless given one."""

    def __init__(
        self,
        base_url: str,
        *,
        http_session: aiohttp.ClientSession | None = None,
        timeout: float = 30.0,
        max_retries: int = 3,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = http_session
        self._owns_session = http_session is None
        self._connect_timeout = timeout
        self._timeout = aiohttp.ClientTimeout(total=None, connect=timeout, sock_read=timeout)
        self.max_retries = max_retries
        self.retry_policy = retry_policy or RetryPolicy()
        self._closed = False
        self._send_retrying = backoff.on_exception(
            cast(Any, self.retry_policy.waits),
            _Retry,
            max_tries=lambda: self.max_retries + 1,
            giveup=self._give_up,
            jitter=None,
            on_backoff=_log_backoff,
            logger=None,
        )(self._attempt)

    @property
    def closed(self) -> bool:
        return self._closed

    def _http(self) -> aiohttp.ClientSession:
        if self._closed:
            raise ClientClosedError("the client is closed")
        if self._session is None:
            # Created lazily, inside the running loop that will use it.
            self._session = aiohttp.ClientSession()
        return self._session

    async def close(self) -> None:
        """Close the aiohttp session if this transport created it; idempotent."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None and self._owns_session:
            await session.close()

    def __del__(self) -> None:
        # A client dropped without close(): free its connections now, so aiohttp has no
        # "Unclosed client session" to warn about. Best effort: the loop may be gone.
        session = self._session
        if session is None or not self._owns_session or session.closed:
            return
        close = getattr(session.connector, "_close", None)
        if close is not None:
            with contextlib.suppress(Exception):
                close()

    async def send(self, request: Request, token: str | None = None) -> Any:
        """Send ``request``, retrying per its kind, and return the decoded JSON payload."""
        try:
            return await self._send_retrying(request, token)
        except _Retry as retry:
            raise retry.error from retry.error.__cause__

    def _give_up(self, retry: Exception) -> bool:
        wait = getattr(retry, "retry_after", None)
        return wait is not None and wait > self.retry_policy.max_retry_after

    async def _attempt(self, request: Request, token: str | None) -> Any:
        try:
            status, headers, body = await self._exchange(request, token)
            return decode_response(request, status, headers, body)
        except Tel4vnError as error:
            if should_retry(request, error):
                raise _Retry(error) from error
            raise

    async def _exchange(self, request: Request, token: str | None) -> tuple[int, Any, bytes]:
        http = self._http()
        headers = {"Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        extra: dict[str, Any] = {}
        if not request.retry_safe and request.method in _AIOHTTP_RESENDS:
            extra["middlewares"] = (*getattr(http, "_middlewares", ()), _no_resend)
        if _log.isEnabledFor(logging.DEBUG):
            _log.debug("sending %r params=%s", request, sorted(request.params or ()))
        started = time.perf_counter()
        try:
            async with http.request(
                request.method,
                self.base_url + request.path,
                params=request.params,
                json=request.json,
                data=request.data,
                headers=headers,
                timeout=self._timeout
                if request.timeout is None
                else aiohttp.ClientTimeout(
                    total=None, connect=self._connect_timeout, sock_read=request.timeout
                ),
                # The spec's curl lines follow redirects (-L); only reads may, as a redirected
                # POST turns into a GET and a call-placing request must go out exactly once.
                allow_redirects=request.retry_safe,
                **extra,
            ) as response:
                body = await response.read()
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            raise ConnectError(
                f"cannot connect: {type(exc).__name__}",
                method=request.method,
                path=request.path,
            ) from exc
        except RuntimeError as exc:
            if self._closed:  # closed while this request was in flight
                raise ClientClosedError("the client was closed during the request") from exc
            raise
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            cls = OutcomeUnknownError if request.places_call else TransportError
            what = "timed out" if isinstance(exc, asyncio.TimeoutError) else "connection lost"
            raise cls(
                f"{what} after sending {request.method} {request.path}: {type(exc).__name__}",
                method=request.method,
                path=request.path,
            ) from exc
        if _log.isEnabledFor(logging.DEBUG):
            _log.debug(
                "%s %s -> %d (%.1f ms)",
                request.method,
                request.path,
                response.status,
                (time.perf_counter() - started) * 1000,
            )
        return response.status, response.headers, body


def _log_backoff(details: Any) -> None:
    retry = details.get("exception")
    error = retry.error if isinstance(retry, _Retry) else retry
    request = details["args"][0]
    _log.info(
        "retrying %s %s in %.2fs after %s (try %d)",
        request.method,
        request.path,
        details.get("wait", 0.0),
        f"{type(error).__name__} {getattr(error, 'status', '') or ''}".rstrip(),
        details["tries"],
    )
