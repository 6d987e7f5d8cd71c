"""Every exception the SDK raises.

::

    Tel4vnError
    ├── ConfigurationError
    ├── ValidationError(ValueError)      bad input caught before any request
    ├── ClientClosedError
    ├── JournalError                     a bulk run's journal is for other jobs, in use, or damaged
    ├── TransportError                   connection failed, timeout, broken response
    │   ├── ConnectError                 no connection: the request never left (safe to retry)
    │   ├── IncompleteListingError       a listing's cursor stopped short of its claimed total
    │   └── OutcomeUnknownError          a call-placing request may have reached the server
    └── APIError                         .status, .code, .message, .details, .method, .path
        ├── BadRequestError   400        .details holds per-field errors when the body has them
        ├── AuthenticationError 401/403
        ├── NotFoundError     404
        ├── RateLimitError    429        .retry_after
        ├── ServerError       5xx
        └── CallRejectedError            body says status "fail" with an error code
            ├── UserNotRegisteredError   USER_NOT_REGISTERED
            └── UserBusyError            USER_BUSY

The API reports failure in several shapes (HTTP status, ``code`` inside a 200 body,
``status: "fail"``, a bare ``message``, ``content`` as a list of field errors); the one
decoder in ``_sansio`` maps all of them onto this tree. No exception text ever holds an
api_key, a token or a password: the client scrubs them before raising.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = [
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "CallRejectedError",
    "ClientClosedError",
    "ConfigurationError",
    "ConnectError",
    "IncompleteListingError",
    "JournalError",
    "NotFoundError",
    "OutcomeUnknownError",
    "RateLimitError",
    "ServerError",
    "StoreError",
    "Tel4vnError",
    "TransportError",
    "UserBusyError",
    "UserNotRegisteredError",
    "ValidationError",
]

_MASK = "***"


# Shorter "secrets" (a test's api_key "k") would mangle every word they occur in.
_MIN_SECRET = 4


def _scrub_text(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if len(secret) >= _MIN_SECRET:
            text = text.replace(secret, _MASK)
    return text


def _scrub_value(value: object, secrets: tuple[str, ...], depth: int = 0) -> object:
    """A copy of a JSON-like value with ``secrets`` masked in every string, at any depth."""
    if isinstance(value, str):
        return _scrub_text(value, secrets)
    if depth >= 64:  # _sansio.redact already cut anything deeper
        return value
    if isinstance(value, Mapping):
        return {
            _scrub_text(k, secrets) if isinstance(k, str) else k: _scrub_value(
                v, secrets, depth + 1
            )
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub_value(v, secrets, depth + 1) for v in value]
    return value


class Tel4vnError(Exception):
    """Base class of every error raised by tel4vn_async."""

    def _scrub(self, secrets: Iterable[str]) -> None:
        """Mask ``secrets`` in this exception's text and in every SDK error chained to it
        (a logged traceback shows the causes too), in place."""
        secrets = tuple(s for s in secrets if s)
        if not secrets:
            return
        seen: set[int] = set()
        error: BaseException | None = self
        while error is not None and id(error) not in seen:
            seen.add(id(error))
            if isinstance(error, Tel4vnError):
                error._scrub_own(secrets)
            error = error.__cause__ or error.__context__

    def _scrub_own(self, secrets: tuple[str, ...]) -> None:
        self.args = tuple(_scrub_text(a, secrets) if isinstance(a, str) else a for a in self.args)


class ConfigurationError(Tel4vnError):
    """The client is missing a base URL or an api_key, or a setting is out of range."""


class ValidationError(Tel4vnError, ValueError):
    """An argument was rejected before any request was sent.

    Attributes:
        field: the name of the offending argument, when there is one.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class JournalError(Tel4vnError):
    """A bulk run's journal cannot be used: written for other jobs, in use by another
    run, damaged before its last line, or not writable. Nothing was dialled because of it.
    """


class ClientClosedError(Tel4vnError):
    """The client was used after ``close()``."""


class StoreError(Tel4vnError):
    """A shared store (Redis, section 12) could not be reached or failed a command.

    Raised where the SDK itself talks to the store (a ``RedisTokenStore`` getting the
    token, say): no request to the API was sent because of it. The store's own exception
    is chained as ``__cause__``.
    """


class TransportError(Tel4vnError):
    """The HTTP exchange failed: no connection, a timeout, or an unreadable response.

    Attributes:
        status: the HTTP status when a response arrived but could not be decoded.
        method, path: the request that failed.
        retry_after: the response's ``Retry-After``, in seconds, when it had one.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        method: str | None = None,
        path: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.method = method
        self.path = path
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.args[0] if self.args else ''!r}, "
            f"status={self.status!r}, method={self.method!r}, path={self.path!r})"
        )


class ConnectError(TransportError):
    """No connection could be made (refused, DNS, connect timeout): nothing was sent."""


class IncompleteListingError(TransportError):
    """A listing stopped advancing (a repeated cursor or batch) before it delivered the
    ``total`` the server claimed: the records past that point could not be fetched."""


class OutcomeUnknownError(TransportError):
    """A call-placing request failed after it may have reached the server.

    The call may or may not have been placed. The SDK never retries such a request;
    look the call up (for example in the call reports) before dialling again.
    """


class APIError(Tel4vnError):
    """The server answered and reported a failure.

    Attributes:
        status: the HTTP status of the response (a 200 whose body reports an error keeps 200).
        code: the API's own error code: ``USER_NOT_REGISTERED``, the body's ``code``, ...
        message: the server's human-readable message.
        details: per-field errors (``{"phone_number": "Does not match ..."}``) or other
            structured data from the error body; empty when there is none.
        method, path: the request that failed (the path carries no query string).
        retry_after: seconds the server asked us to wait (``Retry-After``), else None.
        body: the decoded error body, secrets masked (None when there was none).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str | int | None = None,
        details: Mapping[str, object] | None = None,
        method: str | None = None,
        path: str | None = None,
        retry_after: float | None = None,
        body: object = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.details: dict[str, object] = dict(details or {})
        self.method = method
        self.path = path
        self.retry_after = retry_after
        self.body = body

    def __str__(self) -> str:
        where = f" ({self.method} {self.path})" if self.method and self.path else ""
        code = f" [{self.code}]" if self.code not in (None, "", self.status) else ""
        fields = "; ".join(
            f"{k}: {v}" for k, v in self.details.items() if isinstance(v, str | int | float)
        )
        extra = f" ({fields})" if fields and fields != self.message else ""
        return f"{self.status}{code}: {self.message}{extra}{where}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"method={self.method!r}, path={self.path!r}, message={self.message!r})"
        )

    def _scrub_own(self, secrets: tuple[str, ...]) -> None:
        super()._scrub_own(secrets)
        self.message = _scrub_text(self.message, secrets)
        if isinstance(self.code, str):
            self.code = _scrub_text(self.code, secrets)
        scrubbed = _scrub_value(self.details, secrets)
        self.details = dict(scrubbed) if isinstance(scrubbed, Mapping) else {}
        self.body = _scrub_value(self.body, secrets)


class BadRequestError(APIError):
    """The request was malformed or a field was rejected (400); see ``details``."""


class AuthenticationError(APIError):
    """The api_key or the token was refused (401/403), or no token could be obtained."""


class NotFoundError(APIError):
    """The thing asked for does not exist (404): "queue not found", "user is not existed"."""


class RateLimitError(APIError):
    """Too many requests (429); ``retry_after`` says how long the server asked us to wait."""


class ServerError(APIError):
    """The server failed (5xx); a 503 may carry ``retry_after``."""


class CallRejectedError(APIError):
    """The PBX refused to place or act on a call (``status: "fail"`` with an error code)."""


class UserNotRegisteredError(CallRejectedError):
    """The extension is not logged in on a softphone or IP phone (``USER_NOT_REGISTERED``)."""


class UserBusyError(CallRejectedError):
    """The extension is busy (``USER_BUSY``)."""
