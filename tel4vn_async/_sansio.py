"""The pure core: requests as data, responses decoded into data or a typed error.

Nothing here does I/O, so every rule about the API's many error shapes, its
``Retry-After`` header and which failures may be retried is a plain function with
plain unit tests. The I/O around it lives in ``_transport``.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping
from datetime import date, datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import attrs

from ._codec import loads
from ._validate import check_date, check_int, check_number, check_text, parse_int
from .errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    CallRejectedError,
    ConnectError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitError,
    ServerError,
    Tel4vnError,
    TransportError,
    UserBusyError,
    UserNotRegisteredError,
)

__all__ = [
    "ErrorShape",
    "Request",
    "decode_response",
    "error_from_body",
    "format_query",
    "parse_retry_after",
    "redact",
    "secrets_in",
    "should_retry",
]

_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
SECRET_KEYS = frozenset(
    {
        "api_key",
        "apikey",
        "password",
        "token",
        "access_token",
        "refresh_token",
        "callback_apikey",
        "authorization",
    }
)


# Deeper than this, a hostile body's values are cut rather than walked (no RecursionError).
_MAX_DEPTH = 64
_LEAVES = frozenset({str, int, float, bool, type(None)})


def redact(value: object, _depth: int = 0) -> object:
    """A copy of a JSON-like value with every secret-bearing key's value masked, at any depth.

    Nesting below ``_MAX_DEPTH`` levels is replaced by ``"..."``.
    """
    if _depth >= _MAX_DEPTH and isinstance(value, Mapping | list | tuple):
        return "..."
    if isinstance(value, Mapping):
        return {
            # A leaf (most of a record's values) has nothing to walk: kept without a call.
            k: "***"
            if str(k).lower() in SECRET_KEYS
            else (v if type(v) in _LEAVES else redact(v, _depth + 1))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v, _depth + 1) for v in value]
    return value


def secrets_in(value: object, _depth: int = 0) -> tuple[str, ...]:
    """The string values of every secret-bearing key in a JSON-like value."""
    if _depth >= _MAX_DEPTH:
        return ()
    if isinstance(value, Mapping):
        found: list[str] = []
        for key, item in value.items():
            if str(key).lower() in SECRET_KEYS and isinstance(item, str):
                found.append(item)
            else:
                found.extend(secrets_in(item, _depth + 1))
        return tuple(found)
    if isinstance(value, list | tuple):
        return tuple(s for item in value for s in secrets_in(item, _depth + 1))
    return ()


class ErrorShape(enum.Flag):
    """Failure shapes an endpoint declares on its ``Request``, beyond the explicit signals.

    Every answer is checked for the explicit ones: the HTTP status, a ``code``, a
    ``status: "fail"``, an ``error``, ``success: false``. These two shapes are errors
    only where the spec shows them, as a success body elsewhere may look the same.
    """

    NONE = 0
    BARE_MESSAGE = enum.auto()
    """``{"message": "queue not found"}`` alone is an error unless it says success."""
    FIELD_LIST = enum.auto()
    """``{"content": [{"phone_number": "Does not match ..."}]}`` lists field errors."""


def _upper(method: str) -> str:
    return method.upper()


def _default_idempotent(instance: Request) -> bool:
    return instance.method in _IDEMPOTENT_METHODS and not instance.places_call


@attrs.frozen(repr=False)
class Request:
    """One API call, before it is sent.

    Attributes:
        method: the HTTP method, upper case.
        path: the path below the base URL, with its leading slash and no query.
        params: query parameters, already formatted as strings.
        json: the JSON body, if any.
        data: a non-JSON body (multipart form), if any.
        auth: whether to send the bearer token.
        places_call: the request can ring a phone (or import numbers to dial): it is
            never retried once the server may have received it.
        idempotent: sending it twice does no harm; defaults from the method.
        timeout: seconds to wait for the answer, instead of the client's ``timeout``
            (a synchronous click-to-call waits for the agent to pick up).
        error_shapes: the failure shapes this endpoint's spec shows beyond the explicit
            signals (see ``ErrorShape``).
    """

    method: str = attrs.field(converter=_upper)
    path: str
    params: Mapping[str, str] | None = None
    json: Any = None
    data: Any = None
    auth: bool = True
    places_call: bool = False
    idempotent: bool = attrs.field(default=attrs.Factory(_default_idempotent, takes_self=True))
    timeout: float | None = None
    error_shapes: ErrorShape = ErrorShape.NONE

    @property
    def retry_safe(self) -> bool:
        """Whether a failure after sending may be retried (reads and idempotent writes)."""
        return self.idempotent and not self.places_call

    def __repr__(self) -> str:
        body = f", json={redact(self.json)!r}" if self.json is not None else ""
        flags = ", places_call=True" if self.places_call else ""
        return f"Request({self.method} {self.path}{body}{flags})"


# Longer than a user's URL: a server's scroll_id comes back through here.
_MAX_QUERY_TEXT = 8_192


def format_query(params: Mapping[str, object]) -> dict[str, str]:
    """Query parameters as the API expects them: None dropped, bools as true/false.

    Dates are sent as ``YYYY-MM-DD`` and datetimes as ``YYYY-MM-DD HH:MM:SS``
    (``check_date``), enums as their value, numbers as their digits.

    Raises:
        ValidationError: a value that is not a string, a finite number, a bool, a date or
            an enum, or text with a control character (``field`` is its key): nothing
            of it may reach the URL.
    """
    out: dict[str, str] = {}
    for key, value in params.items():
        if isinstance(value, enum.Enum):
            value = value.value
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, date):
            out[key] = check_date(value, key)
        elif isinstance(value, int):
            out[key] = str(check_int(value, key, low=-(2**63), high=2**63 - 1))
        elif isinstance(value, float):
            out[key] = repr(check_number(value, key, low=-math.inf, high=math.inf))
        else:
            out[key] = check_text(value, key, max_length=_MAX_QUERY_TEXT, strip=False, blank=True)
    return out


# --------------------------------------------------------------------------- responses

_CALL_ERRORS: dict[str, type[CallRejectedError]] = {
    "USER_NOT_REGISTERED": UserNotRegisteredError,
    "USER_BUSY": UserBusyError,
}
_FAIL_STATUSES = frozenset({"fail", "failed", "failure", "error"})
_SUCCESS_STATUSES = frozenset({"success", "successful", "successfully", "ok"})
_ENVELOPE_KEYS = frozenset({"status", "error", "message", "code", "content", "success"})
_CODE_RE = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$")
_NOT_FOUND_RE = re.compile(r"not (?:be )?(?:found|exist)", re.IGNORECASE)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    base = datetime.now(timezone.utc).timestamp() if now is None else now
    return max(0.0, when.timestamp() - base)


def as_int(value: object) -> int | None:
    """An int from an int or a digit string (the API sends both); else None.

    The one parser of numbers: ``_validate.parse_int``.
    """
    return parse_int(value)


def _field_errors(value: object) -> dict[str, object]:
    """``[{"phone_number": "Does not match ..."}]`` -> ``{"phone_number": "..."}``."""
    out: dict[str, object] = {}
    items = value if isinstance(value, list) else [value]
    for item in items:
        if isinstance(item, Mapping):
            for key, msg in item.items():
                key = str(key)
                out[key] = f"{out[key]}; {msg}" if key in out else msg
    return out


_NO_SHAPES = ErrorShape.NONE


def _looks_failed(body: Mapping[str, Any], shapes: ErrorShape) -> bool:
    """Whether a 2xx body reports a failure: explicit signals, then declared shapes."""
    status = body.get("status")
    status = status.strip().lower() if isinstance(status, str) else None
    # A flat record (a CDR) has a "status" of its own: "fail" there is data, not an error,
    # unless the body is an error envelope with nothing else in it.
    if status in _FAIL_STATUSES and (
        body.get("error") or body.get("message") or set(body) <= _ENVELOPE_KEYS
    ):
        return True
    if body.get("success") is False:
        return True
    code = body.get("code")
    code = None if code is None else as_int(code)
    if code is not None and (code >= 400 or 0 < code < 100):
        return True
    if body.get("error"):
        return True
    if shapes is _NO_SHAPES:  # most endpoints: no Flag arithmetic on every answer
        return False
    if ErrorShape.FIELD_LIST in shapes and isinstance(body.get("content"), list):
        return bool(body["content"])
    if ErrorShape.BARE_MESSAGE in shapes:
        message = body.get("message")
        # {"message": "successfully"} and {"message": "queue not found"} share one shape.
        return (
            isinstance(message, str)
            and status not in _SUCCESS_STATUSES
            and set(body) <= {"message", "status"}
            and "success" not in message.lower()
            and message.strip().lower() not in {"ok", "done", "created", "true"}
        )
    return False


def _message(body: Mapping[str, Any], details: Mapping[str, object], fallback: str) -> str:
    for key in ("message", "content", "error", "msg"):
        value = body.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    if details:
        return "; ".join(f"{k}: {v}" for k, v in details.items())
    return fallback


def _error_code(body: Mapping[str, Any]) -> str | int | None:
    error = body.get("error")
    if isinstance(error, str) and _CODE_RE.match(error.strip()):
        return error.strip()
    code = body.get("code")
    number = as_int(code)
    if number is not None:
        return number
    if isinstance(code, str) and code.strip():
        return code.strip()
    if isinstance(error, str) and error.strip():
        return error.strip()
    return None


def _class_for_status(status: int) -> type[APIError] | None:
    if status in (400, 422):
        return BadRequestError
    if status in (401, 403):
        return AuthenticationError
    if status == 404:
        return NotFoundError
    if status == 429:
        return RateLimitError
    if status >= 500:
        return ServerError
    if status >= 400:
        return APIError
    return None


def error_from_body(
    request: Request,
    status: int,
    body: object,
    *,
    retry_after: float | None = None,
) -> APIError | OutcomeUnknownError | None:
    """The typed error a decoded response reports, or None when it reports success.

    The most specific signal wins: a known call error code (``USER_NOT_REGISTERED``)
    beats a ``code`` inside the body, which beats the HTTP status. For a call-placing
    request, a 5xx other than 503 that names no rejection is ``OutcomeUnknownError``.
    """
    if status < 400 and _reports_success(request, body):
        return None
    mapping: Mapping[str, Any] = body if isinstance(body, Mapping) else {}

    details = _field_errors(mapping.get("content")) or _field_errors(mapping.get("error"))
    data = mapping.get("data")
    if isinstance(data, Mapping) and data:
        details.setdefault("data", redact(data))
    code = _error_code(mapping)
    message = _message(mapping, details, fallback=f"HTTP {status}")

    body_status = as_int(mapping.get("code"))
    effective = body_status if body_status is not None and body_status >= 400 else None
    if effective is None and status >= 400:
        effective = status

    cls: type[APIError]
    if isinstance(code, str) and code in _CALL_ERRORS:
        cls = _CALL_ERRORS[code]
    elif request.places_call and _may_have_placed(effective, details):
        return OutcomeUnknownError(
            f"HTTP {effective}: the server failed after it may have placed the call",
            status=status,
            method=request.method,
            path=request.path,
            retry_after=retry_after,
        )
    elif effective is not None:
        cls = _class_for_status(effective) or APIError
    elif str(mapping.get("status", "")).strip().lower() in _FAIL_STATUSES:
        cls = CallRejectedError
    elif _NOT_FOUND_RE.search(message):
        cls = NotFoundError
    else:
        cls = BadRequestError
    return cls(
        message,
        status=status,
        code=code,
        details=details,
        method=request.method,
        path=request.path,
        retry_after=retry_after,
        body=redact(body),
    )


def _reports_success(request: Request, body: object) -> bool:
    """Whether a decoded body of a status below 400 says it succeeded (``_looks_failed``)."""
    # type() first: a decoded object is a dict, and the Mapping check is an ABC's.
    if not (type(body) is dict or isinstance(body, Mapping)) or not body:
        return True
    return not _looks_failed(body, request.error_shapes)


def _may_have_placed(status: int | None, details: Mapping[str, object]) -> bool:
    """Whether a call-placing request's 5xx leaves the call's fate unknown (API.md 3).

    A 503 is a refusal before any work; any other 5xx may come from a gateway that passed
    the call on, unless the body names a definite rejection (field errors).
    """
    return status is not None and status >= 500 and status != 503 and not details


def decode_response(
    request: Request,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
) -> Any:
    """The JSON payload of a response, or raise the typed error it reports.

    Raises:
        APIError: a subclass chosen by ``error_from_body``.
        OutcomeUnknownError: a call-placing request answered a 5xx other than 503.
        TransportError: the body is not JSON (an HTML error page, a truncated body).
        OutcomeUnknownError: the same, for a call-placing request whose answer is lost.
    """
    if 300 <= status < 400:
        # Redirects are followed for reads only; for anything else one is no answer at all.
        raise TransportError(
            f"HTTP {status}: redirected to {headers.get('Location', 'nowhere')!r}, not followed",
            status=status,
            method=request.method,
            path=request.path,
        )
    if not body.strip():
        payload: Any = None
    else:
        try:
            payload = loads(body)
        except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
            retry_after = parse_retry_after(headers.get("Retry-After"))
            kind = headers.get("Content-Type", "").split(";")[0] or "a non-JSON body"
            text = f"HTTP {status}: expected JSON, got {kind}"
            # A call-placing request answered 2xx (or 5xx other than 503) with garbage
            # may well have rung the phone: its outcome is unknown.
            unknown = request.places_call and (status < 400 or status >= 500) and status != 503
            cls = OutcomeUnknownError if unknown else TransportError
            raise cls(
                text,
                status=status,
                method=request.method,
                path=request.path,
                retry_after=retry_after,
            ) from None
    if status < 400 and _reports_success(request, payload):
        return payload  # the usual answer: no Retry-After to read, no error to build
    retry_after = parse_retry_after(headers.get("Retry-After"))
    error = error_from_body(request, status, payload, retry_after=retry_after)
    if error is not None:
        raise error
    return payload


_REFUSED_UNPROCESSED = frozenset({429, 503})


def _retryable_status(status: int | None, retry_safe: bool) -> bool:
    if status is None:
        return False
    if retry_safe:
        return status == 429 or 500 <= status <= 599
    return status in _REFUSED_UNPROCESSED


def should_retry(request: Request, error: Tel4vnError) -> bool:
    """Whether ``error`` may be retried for ``request`` (API.md section 3).

    Reads retry connection errors, timeouts, 429 and 5xx. A call-placing or otherwise
    non-idempotent request retries only when it provably never reached the server
    (``ConnectError``) or the server refused it unprocessed (429, 503).
    """
    if isinstance(error, ConnectError):
        return True
    if isinstance(error, APIError):
        if not isinstance(error, RateLimitError | ServerError):
            return False
        code = error.code if isinstance(error.code, int) else None
        return _retryable_status(error.status, request.retry_safe) or _retryable_status(
            code, request.retry_safe
        )
    if isinstance(error, OutcomeUnknownError):
        return False
    if isinstance(error, TransportError):
        if error.status is None:
            return request.retry_safe
        return _retryable_status(error.status, request.retry_safe)
    return False
