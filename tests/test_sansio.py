"""Unit tests of the pure request/response core (``tel4vn_async._sansio``).

Every error body below is one the vendor specs (callcenter-api.md, autocall-api.md) or
NOTES.md show; the class each must raise is the one API.md section 2 demands, and the
retry verdicts are API.md section 3's. No I/O, no sleeps.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from email.utils import format_datetime
from enum import Enum
from typing import Any

import attrs
import pytest
from multidict import CIMultiDict

from tel4vn_async._sansio import (
    ErrorShape,
    Request,
    decode_response,
    error_from_body,
    format_query,
    parse_retry_after,
    redact,
    should_retry,
)
from tel4vn_async.errors import (
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

SECRET = "s3cr3t-aaaa-bbbb-cccc-dddd"
USER_NOT_REGISTERED_MSG = "User not registered extension with Softphone or IP Phone"
PHONE_PATTERN_MSG = "Does not match pattern '^(84|0[3|5|7|8|9])+([0-9]{8})$'"
HTML = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"

# Requests as the SDK builds them for the endpoints whose error samples are tested.
CLICK2CALL = Request(
    "GET", "/v1/click2call", params={"ext": "101", "phone": "0899098899"}, places_call=True
)
CLICK2CALL_ASYNC = Request(
    "GET", "/v1/click2call/async", params={"ext": "101", "phone": "0899098899"}, places_call=True
)
CLICK2CALL_V2 = Request(
    "POST",
    "/v2/click2call",
    json={"id": "KH1", "mobile": "0899098899", "agent": "101"},
    places_call=True,
)
OTP_CALL = Request(
    "POST",
    "/v1/autocall/otp",
    json={"caller": "0123456789", "callee": "0987654321"},
    places_call=True,
)
AUTOCALL_IMPORT = Request(
    "POST", "/v2/autocall/queue", json={"queue_code": "Autocall-Q1"}, places_call=True
)
TRANSFER = Request("POST", "/v2/call/01b7d166/transfer", json={"ext": "101"})
BARGE = Request("POST", "/v2/call/01b7d166/barge", json={"ext": "101"})
# The endpoints whose spec shows a bare {"message"} error declare it; so do customers for
# a {"content": [...]} list of field errors.
AUTODIALER_CREATE = Request(
    "POST",
    "/v2/autodialer/queue",
    json={"queue_code": "Autodialer"},
    error_shapes=ErrorShape.BARE_MESSAGE,
)
AUTODIALER_STOP = Request(
    "POST",
    "/v2/autodialer/queue/stop",
    json={"queue_code": "Autodialer"},
    error_shapes=ErrorShape.BARE_MESSAGE,
)
AUTOCALL_STOP = Request("POST", "/v2/autocall/queue/stop", json={"queue_code": "Autocall-Q1"})
USER_STATUS = Request("GET", "/v2/user/aaaaaaaa-1111/status")
CUSTOMER_GET = Request("GET", "/v2/customer/dddddddd-1111")
CUSTOMER_CREATE = Request(
    "POST", "/v2/customer", json={"phone_number": "123"}, error_shapes=ErrorShape.FIELD_LIST
)
CDRS = Request("GET", "/v2/cdr", params={"limit": "10"})
EVENTS = Request("GET", "/v1/event")
EVENT_CREATE = Request(
    "POST", "/v1/event", json={"callback_url": "https://webhook.demo/", "event": "hangup"}
)
EVENT_DELETE = Request("DELETE", "/v1/event/1")
CC_TOKEN = Request("POST", "/v2/auth/token", json={"api_key": SECRET}, auth=False, idempotent=True)

ANY = object()
"""Marks an attribute whose value the contract leaves open."""


def _json(value: object) -> bytes:
    return json.dumps(value).encode()


def _raises(
    request: Request,
    status: int,
    body: bytes,
    headers: Mapping[str, str] | None = None,
) -> Tel4vnError:
    with pytest.raises(Tel4vnError) as info:
        decode_response(request, status, headers or {}, body)
    return info.value


# --------------------------------------------------------------------------- Request


def test_request_method_is_upper_cased() -> None:
    assert Request("get", "/v2/cdr").method == "GET"
    assert Request("Post", "/v1/event").method == "POST"


@pytest.mark.parametrize(
    ("method", "idempotent"),
    [
        ("GET", True),
        ("HEAD", True),
        ("PUT", True),
        ("DELETE", True),
        ("POST", False),
        ("PATCH", False),
    ],
)
def test_request_idempotency_defaults_from_the_method(method: str, idempotent: bool) -> None:
    request = Request(method, "/v1/x")
    assert request.idempotent is idempotent
    assert request.retry_safe is idempotent


def test_call_placing_get_is_neither_idempotent_nor_retry_safe() -> None:
    # click-to-call is a GET, yet it rings a phone (API.md section 3).
    assert CLICK2CALL.method == "GET"
    assert CLICK2CALL.idempotent is False
    assert CLICK2CALL.retry_safe is False


def test_explicitly_idempotent_post_is_retry_safe() -> None:
    assert CC_TOKEN.retry_safe is True


def test_places_call_overrides_an_explicit_idempotent_flag() -> None:
    request = Request("POST", "/v1/autocall/voice", places_call=True, idempotent=True)
    assert request.retry_safe is False


def test_request_is_frozen() -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        CDRS.path = "/v2/other"  # type: ignore[misc]


@pytest.mark.parametrize(
    "json_body",
    [
        pytest.param({"api_key": SECRET}, id="api_key"),
        pytest.param({"username": "foo@test.tel4vn.com", "password": SECRET}, id="password"),
        pytest.param(
            {"callback_url": "https://webhook.demo/", "callback_apikey": SECRET}, id="callback"
        ),
        pytest.param({"token": SECRET}, id="token"),
        pytest.param({"access_token": SECRET, "refresh_token": SECRET}, id="access_token"),
        pytest.param({"Authorization": f"Bearer {SECRET}"}, id="authorization"),
        pytest.param({"API_KEY": SECRET}, id="upper-case-key"),
        pytest.param({"outer": {"inner": {"api_key": SECRET}}}, id="nested"),
        pytest.param({"items": [{"password": SECRET}, {"apikey": SECRET}]}, id="in-list"),
    ],
)
def test_request_repr_never_shows_secrets_in_the_json_body(json_body: dict[str, Any]) -> None:
    request = Request("POST", "/v1/auth", json=json_body)
    for text in (repr(request), str(request), f"{request}", repr([request])):
        assert SECRET not in text
        assert "POST" in text
        assert "/v1/auth" in text


def test_request_repr_never_shows_secrets_in_params_or_form_data() -> None:
    request = Request(
        "POST",
        "/v1/audio",
        params={"api_key": SECRET, "token": SECRET},
        data={"password": SECRET, "file": b"RIFF"},
    )
    assert SECRET not in repr(request)
    assert SECRET not in str(request)


def test_request_repr_keeps_non_secret_fields_readable() -> None:
    request = Request("POST", "/v1/event", json={"event": "hangup", "api_key": SECRET})
    text = repr(request)
    assert "hangup" in text
    assert SECRET not in text


# --------------------------------------------------------------------------- redact


def test_redact_masks_every_secret_key_at_any_depth() -> None:
    value = {
        "api_key": SECRET,
        "Password": SECRET,
        "data": {"access_token": SECRET, "user_id": "u1", "list": [{"callback_apikey": SECRET}]},
        "ok": [1, "two", None],
    }
    out = redact(value)
    assert SECRET not in json.dumps(out)
    assert isinstance(out, dict)
    assert out["data"]["user_id"] == "u1"
    assert out["ok"] == [1, "two", None]
    assert out["api_key"] != SECRET


def test_redact_does_not_mutate_its_input() -> None:
    value: dict[str, Any] = {"api_key": SECRET, "nested": {"password": SECRET}}
    redact(value)
    assert value == {"api_key": SECRET, "nested": {"password": SECRET}}


@pytest.mark.parametrize("value", [None, 1, "plain", 2.5, True])
def test_redact_leaves_scalars_alone(value: object) -> None:
    assert redact(value) == value


# --------------------------------------------------------------------------- format_query


class _Direction(str, Enum):
    OUTBOUND = "outbound"


def test_format_query_drops_none_and_formats_values() -> None:
    query = format_query(
        {
            "start_date": date(2021, 2, 18),
            "end_date": datetime(2021, 2, 19, 17, 20, 58, 123456),
            "auto_answer": True,
            "queue": False,
            "limit": 50,
            "offset": 0,
            "direction": _Direction.OUTBOUND,
            "phone": "0899888999",
            "hotline": None,
        }
    )
    assert query == {
        "start_date": "2021-02-18",
        "end_date": "2021-02-19 17:20:58",
        "auto_answer": "true",
        "queue": "false",
        "limit": "50",
        "offset": "0",
        "direction": "outbound",
        "phone": "0899888999",
    }


def test_format_query_values_are_all_strings() -> None:
    query = format_query({"duration": 10, "ratio": 1.5, "ext": "101"})
    assert all(isinstance(v, str) for v in query.values())
    assert query == {"duration": "10", "ratio": "1.5", "ext": "101"}


def test_format_query_of_nothing_is_empty() -> None:
    assert format_query({}) == {}
    assert format_query({"a": None}) == {}


# --------------------------------------------------------------------------- Retry-After

HTTP_DATE = "Wed, 21 Oct 2015 07:28:00 GMT"
HTTP_DATE_TS = datetime(2015, 10, 21, 7, 28, tzinfo=timezone.utc).timestamp()


@pytest.mark.parametrize(
    ("value", "now", "expected"),
    [
        ("120", None, 120.0),
        (" 3 ", None, 3.0),
        ("1.5", None, 1.5),
        ("0", None, 0.0),
        ("-5", None, 0.0),
        (None, None, None),
        ("", None, None),
        ("soon", None, None),
        (HTTP_DATE, HTTP_DATE_TS - 30, 30.0),
        (HTTP_DATE, HTTP_DATE_TS + 30, 0.0),
        ("Wed, 21 Oct 2015 07:28:00 -0000", HTTP_DATE_TS - 10, 10.0),
    ],
)
def test_parse_retry_after(value: str | None, now: float | None, expected: float | None) -> None:
    assert parse_retry_after(value, now) == expected


def test_parse_retry_after_http_date_defaults_to_the_current_clock() -> None:
    when = datetime.now(timezone.utc) + timedelta(seconds=120)
    wait = parse_retry_after(format_datetime(when, usegmt=True))
    assert wait is not None
    assert 115.0 <= wait <= 120.0


# --------------------------------------------------------------------------- error bodies


@attrs.frozen
class ErrorCase:
    request: Request
    status: int
    body: object
    cls: type[APIError]
    code: object = ANY
    message: object = ANY
    details: object = attrs.Factory(dict)


ERROR_CASES = [
    # Click-to-call and call control: {"status": "fail", "error": CODE[, "message"]}.
    pytest.param(
        ErrorCase(
            CLICK2CALL,
            200,
            {"status": "fail", "error": "USER_NOT_REGISTERED"},
            UserNotRegisteredError,
            code="USER_NOT_REGISTERED",
        ),
        id="click2call-fail-user-not-registered",
    ),
    pytest.param(
        ErrorCase(
            CLICK2CALL_ASYNC,
            200,
            {"status": "fail", "message": USER_NOT_REGISTERED_MSG, "error": "USER_NOT_REGISTERED"},
            UserNotRegisteredError,
            code="USER_NOT_REGISTERED",
            message=USER_NOT_REGISTERED_MSG,
        ),
        id="click2call-async-fail-with-message",
    ),
    pytest.param(
        ErrorCase(
            CLICK2CALL_V2,
            200,
            {
                "code": "1",
                "status": "fail",
                "message": USER_NOT_REGISTERED_MSG,
                "error": "USER_NOT_REGISTERED",
            },
            UserNotRegisteredError,
            code="USER_NOT_REGISTERED",
            message=USER_NOT_REGISTERED_MSG,
        ),
        id="click2call-v2-code-1",
    ),
    pytest.param(
        ErrorCase(
            TRANSFER,
            200,
            {"status": "fail", "error": "USER_NOT_REGISTERED"},
            UserNotRegisteredError,
            code="USER_NOT_REGISTERED",
        ),
        id="transfer-user-not-registered",
    ),
    pytest.param(
        ErrorCase(
            TRANSFER,
            200,
            {"status": "fail", "error": "USER_BUSY"},
            UserBusyError,
            code="USER_BUSY",
        ),
        id="transfer-user-busy",
    ),
    pytest.param(
        ErrorCase(
            CLICK2CALL_V2,
            200,
            {"code": "1", "status": "fail", "message": "busy", "error": "USER_BUSY"},
            UserBusyError,
            code="USER_BUSY",
            message="busy",
        ),
        id="click2call-v2-user-busy",
    ),
    pytest.param(
        ErrorCase(CLICK2CALL, 200, {"error": "USER_BUSY"}, UserBusyError, code="USER_BUSY"),
        id="user-busy-without-status",
    ),
    pytest.param(
        ErrorCase(
            BARGE,
            200,
            {"status": "fail", "error": "INVALID_EXTENSION"},
            CallRejectedError,
            code="INVALID_EXTENSION",
        ),
        id="fail-with-unknown-call-code",
    ),
    # Most specific signal wins over the HTTP status.
    pytest.param(
        ErrorCase(
            CLICK2CALL,
            400,
            {"status": "fail", "error": "USER_NOT_REGISTERED"},
            UserNotRegisteredError,
            code="USER_NOT_REGISTERED",
        ),
        id="http-400-user-not-registered",
    ),
    pytest.param(
        ErrorCase(
            CLICK2CALL_V2,
            400,
            {
                "code": "1",
                "status": "fail",
                "message": USER_NOT_REGISTERED_MSG,
                "error": "USER_NOT_REGISTERED",
            },
            UserNotRegisteredError,
            code="USER_NOT_REGISTERED",
            message=USER_NOT_REGISTERED_MSG,
        ),
        id="http-400-v2-user-not-registered",
    ),
    # {"code": 404, "content": ...} in a 200, or with a real 404.
    pytest.param(
        ErrorCase(
            AUTOCALL_STOP,
            200,
            {"code": 404, "content": "queue not found"},
            NotFoundError,
            code=404,
            message="queue not found",
        ),
        id="code-404-queue-not-found-in-200",
    ),
    pytest.param(
        ErrorCase(
            USER_STATUS,
            200,
            {"code": 404, "content": "user is not existed", "error": "Not Found"},
            NotFoundError,
            code=404,
            message="user is not existed",
        ),
        id="code-404-user-is-not-existed-in-200",
    ),
    pytest.param(
        ErrorCase(
            USER_STATUS,
            404,
            {"code": 404, "content": "user is not existed", "error": "Not Found"},
            NotFoundError,
            code=404,
            message="user is not existed",
        ),
        id="http-404-user-is-not-existed",
    ),
    pytest.param(
        ErrorCase(
            CUSTOMER_GET,
            404,
            {"code": 404, "content": "Not Found", "error": "Not Found"},
            NotFoundError,
            code=404,
            message="Not Found",
        ),
        id="http-404-customer-not-found",
    ),
    pytest.param(
        ErrorCase(
            CUSTOMER_GET,
            200,
            {"code": "404", "content": "Not Found", "error": "Not Found"},
            NotFoundError,
            code=404,
            message="Not Found",
        ),
        id="code-404-as-string",
    ),
    # {"message": ...} alone: the same shape as the success body.
    pytest.param(
        ErrorCase(
            AUTODIALER_CREATE,
            200,
            {"message": "campaign is invalid"},
            BadRequestError,
            code=None,
            message="campaign is invalid",
        ),
        id="message-campaign-is-invalid",
    ),
    pytest.param(
        ErrorCase(
            AUTODIALER_STOP,
            200,
            {"message": "queue not found"},
            NotFoundError,
            code=None,
            message="queue not found",
        ),
        id="message-queue-not-found",
    ),
    pytest.param(
        ErrorCase(
            AUTODIALER_CREATE,
            400,
            {"message": "campaign is invalid"},
            BadRequestError,
            code=None,
            message="campaign is invalid",
        ),
        id="http-400-message-campaign-is-invalid",
    ),
    # content as a list of field errors.
    pytest.param(
        ErrorCase(
            CUSTOMER_CREATE,
            200,
            {"code": 400, "content": [{"phone_number": PHONE_PATTERN_MSG}], "error": "Bad Request"},
            BadRequestError,
            code=400,
            details={"phone_number": PHONE_PATTERN_MSG},
        ),
        id="content-field-errors-in-200",
    ),
    pytest.param(
        ErrorCase(
            CUSTOMER_CREATE,
            400,
            {"code": 400, "content": [{"phone_number": PHONE_PATTERN_MSG}], "error": "Bad Request"},
            BadRequestError,
            code=400,
            details={"phone_number": PHONE_PATTERN_MSG},
        ),
        id="content-field-errors-in-400",
    ),
    pytest.param(
        ErrorCase(
            CUSTOMER_CREATE,
            400,
            {
                "code": 400,
                "content": [{"phone_number": PHONE_PATTERN_MSG}, {"campaign_id": "is required"}],
                "error": "Bad Request",
            },
            BadRequestError,
            code=400,
            details={"phone_number": PHONE_PATTERN_MSG, "campaign_id": "is required"},
        ),
        id="content-several-field-errors",
    ),
    # Queue import failure with its (empty) result lists.
    pytest.param(
        ErrorCase(
            AUTOCALL_IMPORT,
            200,
            {"code": 400, "content": "import fail", "data": {"fail": [], "success": []}},
            BadRequestError,
            code=400,
            message="import fail",
            details={"data": {"fail": [], "success": []}},
        ),
        id="code-400-import-fail",
    ),
    # {"error": "..."} and {"error": [{"(root)": "..."}]}.
    pytest.param(
        ErrorCase(
            OTP_CALL,
            200,
            {"error": "invalid campaign_id"},
            BadRequestError,
            message="invalid campaign_id",
        ),
        id="error-string-in-200",
    ),
    pytest.param(
        ErrorCase(
            OTP_CALL,
            400,
            {"error": "invalid campaign_id"},
            BadRequestError,
            message="invalid campaign_id",
        ),
        id="error-string-in-400",
    ),
    pytest.param(
        ErrorCase(
            OTP_CALL,
            200,
            {"error": [{"(root)": "callee is required"}]},
            BadRequestError,
            code=None,
            details={"(root)": "callee is required"},
        ),
        id="error-root-list-in-200",
    ),
    pytest.param(
        ErrorCase(
            OTP_CALL,
            400,
            {"error": [{"(root)": "callee is required"}]},
            BadRequestError,
            code=None,
            details={"(root)": "callee is required"},
        ),
        id="error-root-list-in-400",
    ),
    # A code inside a 200 body maps like the HTTP status it names.
    pytest.param(
        ErrorCase(
            CDRS,
            200,
            {"code": 401, "content": "token is expired"},
            AuthenticationError,
            code=401,
            message="token is expired",
        ),
        id="code-401-in-200",
    ),
    pytest.param(
        ErrorCase(
            CDRS,
            200,
            {"code": 429, "content": "too many requests"},
            RateLimitError,
            code=429,
            message="too many requests",
        ),
        id="code-429-in-200",
    ),
    pytest.param(
        ErrorCase(
            CDRS,
            200,
            {"code": 500, "content": "internal server error"},
            ServerError,
            code=500,
            message="internal server error",
        ),
        id="code-500-in-200",
    ),
    # HTTP statuses, with and without a JSON body.
    pytest.param(
        ErrorCase(CDRS, 401, {"error": "invalid token"}, AuthenticationError),
        id="http-401-error-body",
    ),
    pytest.param(
        ErrorCase(CDRS, 403, {"message": "forbidden"}, AuthenticationError, message="forbidden"),
        id="http-403-message-body",
    ),
    pytest.param(
        ErrorCase(
            CDRS,
            500,
            {"code": 500, "content": "internal server error", "error": "Internal Server Error"},
            ServerError,
            code=500,
            message="internal server error",
        ),
        id="http-500-code-body",
    ),
    pytest.param(
        ErrorCase(CDRS, 502, {"message": "bad gateway"}, ServerError, message="bad gateway"),
        id="http-502-message-body",
    ),
]


@pytest.mark.parametrize("case", ERROR_CASES)
def test_decode_response_maps_error_bodies(case: ErrorCase) -> None:
    error = _raises(case.request, case.status, _json(case.body))
    assert type(error) is case.cls, f"{type(error).__name__}: {error}"
    assert isinstance(error, APIError)
    assert error.status == case.status
    assert error.method == case.request.method
    assert error.path == case.request.path
    if case.code is not ANY:
        assert error.code == case.code
    assert isinstance(error.message, str)
    assert error.message.strip()
    if case.message is not ANY:
        assert error.message == case.message
    assert error.details == case.details
    assert error.retry_after is None
    # The decoded-body entry point gives the same verdict.
    direct = error_from_body(case.request, case.status, case.body)
    assert type(direct) is case.cls
    assert direct is not None
    assert (direct.status, direct.code, direct.message, direct.details) == (
        error.status,
        error.code,
        error.message,
        error.details,
    )


def test_call_error_without_message_still_names_its_code() -> None:
    error = _raises(CLICK2CALL, 200, _json({"status": "fail", "error": "USER_NOT_REGISTERED"}))
    assert "USER_NOT_REGISTERED" in str(error)


def test_field_errors_are_reachable_from_the_exception_text_or_details() -> None:
    body = {"code": 400, "content": [{"phone_number": PHONE_PATTERN_MSG}], "error": "Bad Request"}
    error = _raises(CUSTOMER_CREATE, 400, _json(body))
    assert isinstance(error, BadRequestError)
    assert "phone_number" in error.details


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, AuthenticationError),
        (404, NotFoundError),
        (429, RateLimitError),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (504, ServerError),
    ],
)
def test_http_error_status_without_error_body(status: int, cls: type[APIError]) -> None:
    for body in (b"", b"{}", b"null"):
        error = _raises(CDRS, status, body)
        assert type(error) is cls, body
        assert isinstance(error, APIError)
        assert error.status == status
        assert error.method == "GET"
        assert error.path == "/v2/cdr"
        assert error.details == {}
        assert error.message


def test_unknown_4xx_status_is_an_api_error() -> None:
    error = _raises(CDRS, 409, _json({"content": "conflict"}))
    assert isinstance(error, APIError)
    assert error.status == 409


# --------------------------------------------------------------------------- Retry-After header


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"Retry-After": "30"}, id="dict"),
        pytest.param(CIMultiDict({"retry-after": "30"}), id="case-insensitive"),
    ],
)
def test_429_carries_retry_after_seconds(headers: Mapping[str, str]) -> None:
    error = _raises(CDRS, 429, _json({"message": "too many requests"}), headers)
    assert type(error) is RateLimitError
    assert isinstance(error, RateLimitError)
    assert error.status == 429
    assert error.retry_after == 30.0


def test_429_carries_retry_after_http_date() -> None:
    when = datetime.now(timezone.utc) + timedelta(seconds=120)
    headers = {"Retry-After": format_datetime(when, usegmt=True)}
    error = _raises(CDRS, 429, b"", headers)
    assert isinstance(error, RateLimitError)
    assert error.retry_after is not None
    assert 115.0 <= error.retry_after <= 120.0


def test_429_without_retry_after() -> None:
    error = _raises(CDRS, 429, b"")
    assert isinstance(error, RateLimitError)
    assert error.retry_after is None


def test_503_carries_retry_after() -> None:
    error = _raises(CDRS, 503, b"", {"Retry-After": "5"})
    assert type(error) is ServerError
    assert isinstance(error, ServerError)
    assert error.retry_after == 5.0


# --------------------------------------------------------------------------- success bodies

CC_CDR = {
    "id": "01b7d166-b564-42ec-80a1-4ad343225934",
    "sip_call_id": "aabbccddee112233..",
    "cause": "NORMAL_CLEARING",
    "duration": 7,
    "direction": 3,
    "recording_url": "",
    "extension": "101",
    "from_number": "19001919",
    "to_number": "0899888999",
    "receive_dest": "",
    "time_started": "2021-02-18 17:20:58",
    "time_answered": "",
    "time_ended": "2021-02-18 17:21:05",
    "status": "BUSY",
    "customer_id": "KH1",
}
AUTOCALL_REPORT = {
    "answer_time": "2021-05-05T08:12:40Z",
    "billsec": 9,
    "call_id": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeee",
    "caller": "0123456789",
    "callee": "0987654321",
    "hangup_cause": "NORMAL_CLEARING",
    "param": '{"customer_name":"Van A","template_name":"thong_bao"}',
    "type": "VOICE",
}

SUCCESS_CASES = [
    pytest.param(
        CC_TOKEN,
        200,
        {
            "code": 200,
            "content": "successfully",
            "data": {"expired_in": 14763877, "token": "tok", "token_type": "Bearer"},
        },
        id="cc-token",
    ),
    pytest.param(
        CC_TOKEN,
        200,
        {"data": {"access_token": "tok", "expire_at": 1613636318, "token_type": "Bearer"}},
        id="autocall-token",
    ),
    pytest.param(
        Request("POST", "/v1/auth", json={"password": SECRET}),
        200,
        {"code": 200, "content": "successfully", "data": {"api_key": "k", "enabled": "true"}},
        id="cc-login",
    ),
    pytest.param(
        CLICK2CALL,
        200,
        {"status": "success", "call_id": "01b7d166-b564-42ec-80a1-4ad343225934"},
        id="click2call-status-success",
    ),
    pytest.param(
        CLICK2CALL_V2,
        200,
        {"code": "0", "call_id": "50038035-0717-40f1-b7af-eb92021b012e", "status": "success"},
        id="click2call-v2-code-0",
    ),
    pytest.param(
        TRANSFER,
        200,
        {"status": "success", "call_id": "01b7d166", "ext": "101"},
        id="transfer-success",
    ),
    pytest.param(OTP_CALL, 200, {"call_id": "aaaa", "status": "success"}, id="otp-success"),
    pytest.param(AUTODIALER_CREATE, 200, {"message": "successfully"}, id="message-successfully"),
    pytest.param(
        AUTOCALL_IMPORT,
        200,
        {"code": 200, "content": "successfully", "data": {"fail": [], "success": ["TEL4VN_Test"]}},
        id="autocall-import-code-200",
    ),
    pytest.param(AUTOCALL_STOP, 200, {"code": 200, "content": "successfully"}, id="code-200"),
    pytest.param(
        CUSTOMER_CREATE,
        200,
        {"code": 201, "content": "successfully", "id": "dddddddd"},
        id="code-201-in-200",
    ),
    pytest.param(
        CUSTOMER_CREATE,
        201,
        {"code": 201, "content": "successfully", "id": "dddddddd"},
        id="code-201-in-201",
    ),
    pytest.param(EVENT_CREATE, 200, {"created": True}, id="created-true"),
    pytest.param(EVENT_CREATE, 200, {"created": "true"}, id="created-string-true"),
    pytest.param(EVENT_DELETE, 200, {"deleted": True}, id="deleted-true"),
    pytest.param(
        EVENTS,
        200,
        {"data": [{"event_name": "hangup", "callback_url": "https://webhook.demo/"}]},
        id="event-list",
    ),
    pytest.param(
        CDRS, 200, {"data": [CC_CDR], "limit": 10, "offset": 10, "total": 35}, id="cdr-list"
    ),
    pytest.param(CDRS, 200, {"data": [], "scroll_id": "abc"}, id="cdr-scroll-empty"),
    pytest.param(Request("GET", "/v2/cdr/01b7d166"), 200, CC_CDR, id="flat-cdr-status-busy"),
    pytest.param(
        CUSTOMER_GET,
        200,
        {"code": 200, "content": "successfully", "data": {"customer_id": "d", "status": "fail"}},
        id="customer-whose-status-is-fail",
    ),
    pytest.param(
        Request("GET", "/v1/report"), 200, {"data": [AUTOCALL_REPORT]}, id="autocall-reports"
    ),
    pytest.param(
        OTP_CALL,
        200,
        {"status": "success", "message": "call is being processed"},
        id="status-success-with-message",
    ),
    pytest.param(CDRS, 200, [], id="bare-list"),
    # Without a declared shape, a bare message or a content list is data, not an error.
    pytest.param(AUTOCALL_STOP, 200, {"message": "queue started"}, id="undeclared-bare-message"),
    pytest.param(CDRS, 200, {"content": [{"id": "1"}]}, id="undeclared-content-list"),
    pytest.param(USER_STATUS, 200, {"message": "queue not found"}, id="undeclared-not-found-msg"),
]


def test_a_declared_field_list_in_a_200_without_code_is_a_bad_request() -> None:
    body = {"content": [{"phone_number": PHONE_PATTERN_MSG}]}
    error = _raises(CUSTOMER_CREATE, 200, _json(body))
    assert type(error) is BadRequestError
    assert isinstance(error, APIError)
    assert error.details == {"phone_number": PHONE_PATTERN_MSG}
    undeclared = Request("POST", "/v2/customer", json={})
    assert decode_response(undeclared, 200, {}, _json(body)) == body


@pytest.mark.parametrize(("request_", "status", "body"), SUCCESS_CASES)
def test_decode_response_returns_success_bodies(request_: Request, status: int, body: Any) -> None:
    assert decode_response(request_, status, {}, _json(body)) == body
    assert error_from_body(request_, status, body) is None


@pytest.mark.parametrize("body", [b"", b"   \n", b"null"], ids=["empty", "blank", "null"])
@pytest.mark.parametrize("request_", [CDRS, CLICK2CALL], ids=["read", "call"])
def test_empty_200_body_is_none(body: bytes, request_: Request) -> None:
    assert decode_response(request_, 200, {}, body) is None


def test_204_no_content_is_none() -> None:
    assert decode_response(EVENT_DELETE, 204, {}, b"") is None


def test_decode_response_accepts_non_ascii_json() -> None:
    body = {"data": {"agent_name": "Nguyễn Văn A"}}
    raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
    assert decode_response(USER_STATUS, 200, {}, raw) == body


# --------------------------------------------------------------------------- broken bodies

HTML_HEADERS = {"Content-Type": "text/html; charset=utf-8"}


@pytest.mark.parametrize("status", [200, 201, 400, 401, 403, 404, 429, 500, 502, 503, 504])
def test_html_body_is_a_transport_error_carrying_the_status(status: int) -> None:
    error = _raises(CDRS, status, HTML, HTML_HEADERS)
    assert type(error) is TransportError
    assert isinstance(error, TransportError)
    assert error.status == status
    assert error.method == "GET"
    assert error.path == "/v2/cdr"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"code": 200, "content": "succ', id="truncated"),
        pytest.param(b"{'code': 200}", id="single-quotes"),
        pytest.param(b"\x00\xff\xfe\x80garbage", id="binary"),
        pytest.param(b"Bad Gateway", id="plain-text"),
        pytest.param(b'{"a": 1}{"b": 2}', id="two-documents"),
    ],
)
def test_malformed_json_is_a_transport_error(body: bytes) -> None:
    for status in (200, 400, 502):
        error = _raises(EVENT_CREATE, status, body, {"Content-Type": "application/json"})
        assert type(error) is TransportError, status
        assert isinstance(error, TransportError)
        assert error.status == status
        assert error.method == "POST"
        assert error.path == "/v1/event"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(HTML, id="html"),
        pytest.param(b'{"status": "succ', id="truncated-json"),
        pytest.param(b"\x00\xff garbage", id="garbage"),
    ],
)
def test_call_placing_request_with_unreadable_200_is_outcome_unknown(body: bytes) -> None:
    for request_ in (CLICK2CALL, CLICK2CALL_V2, OTP_CALL, AUTOCALL_IMPORT):
        error = _raises(request_, 200, body, HTML_HEADERS)
        assert isinstance(error, OutcomeUnknownError), request_
        assert error.status == 200
        assert error.method == request_.method
        assert error.path == request_.path
        assert should_retry(request_, error) is False


@pytest.mark.parametrize("status", [429, 503])
def test_call_placing_request_refused_unprocessed_is_not_outcome_unknown(status: int) -> None:
    error = _raises(CLICK2CALL, status, HTML, HTML_HEADERS)
    assert isinstance(error, TransportError)
    assert not isinstance(error, OutcomeUnknownError)
    assert error.status == status
    assert should_retry(CLICK2CALL, error) is True


@pytest.mark.parametrize("status", [400, 401, 404, 500, 502, 504])
def test_call_placing_request_with_unreadable_error_is_never_retried(status: int) -> None:
    error = _raises(CLICK2CALL, status, HTML, HTML_HEADERS)
    assert isinstance(error, TransportError)
    assert error.status == status
    assert should_retry(CLICK2CALL, error) is False


def test_decode_errors_never_show_request_secrets() -> None:
    request = Request("POST", "/v1/auth", json={"username": "foo", "password": SECRET})
    for status, body in ((200, HTML), (401, b""), (400, _json({"message": "wrong password"}))):
        error = _raises(request, status, body, HTML_HEADERS)
        assert SECRET not in str(error)
        assert SECRET not in repr(error)


# --------------------------------------------------------------------------- should_retry

READS = (CDRS, CC_TOKEN, EVENT_DELETE)
"""Reads and idempotent requests: retried on timeouts, 429 and 5xx."""
NON_RETRY_SAFE = (CLICK2CALL, CLICK2CALL_V2, OTP_CALL, AUTOCALL_IMPORT, EVENT_CREATE)
"""Call-placing, data-importing and non-idempotent requests."""


def _rid(request: Request) -> str:
    return f"{request.method}-{request.path}"


def _api_error(cls: type[APIError], status: int, code: str | int | None = None) -> APIError:
    return cls("failed", status=status, code=code, method="GET", path="/v2/cdr")


@pytest.mark.parametrize("request_", READS + NON_RETRY_SAFE, ids=_rid)
def test_connect_error_is_always_retried(request_: Request) -> None:
    error = ConnectError("cannot connect", method=request_.method, path=request_.path)
    assert should_retry(request_, error) is True


@pytest.mark.parametrize("request_", READS, ids=_rid)
def test_reads_retry_timeouts_and_dropped_connections(request_: Request) -> None:
    assert should_retry(request_, TransportError("timed out")) is True


@pytest.mark.parametrize("request_", NON_RETRY_SAFE, ids=_rid)
def test_non_retry_safe_requests_never_retry_after_sending(request_: Request) -> None:
    assert should_retry(request_, TransportError("timed out")) is False
    assert should_retry(request_, OutcomeUnknownError("connection lost")) is False


@pytest.mark.parametrize("status", [429, 500, 501, 502, 503, 504, 520])
def test_reads_retry_429_and_every_5xx(status: int) -> None:
    cls = RateLimitError if status == 429 else ServerError
    for request_ in READS:
        assert should_retry(request_, _api_error(cls, status)) is True, request_
        # The same status on an undecodable (HTML) response.
        assert should_retry(request_, TransportError("html", status=status)) is True, request_


@pytest.mark.parametrize("status", [429, 503])
def test_non_retry_safe_requests_retry_429_and_503(status: int) -> None:
    cls = RateLimitError if status == 429 else ServerError
    for request_ in NON_RETRY_SAFE:
        assert should_retry(request_, _api_error(cls, status)) is True, request_


@pytest.mark.parametrize("status", [500, 501, 502, 504, 520])
def test_non_retry_safe_requests_do_not_retry_other_5xx(status: int) -> None:
    for request_ in NON_RETRY_SAFE:
        assert should_retry(request_, _api_error(ServerError, status)) is False, request_
        assert should_retry(request_, TransportError("html", status=status)) is False, request_


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(_api_error(BadRequestError, 400), id="400"),
        pytest.param(_api_error(AuthenticationError, 401), id="401"),
        pytest.param(_api_error(AuthenticationError, 403), id="403"),
        pytest.param(_api_error(NotFoundError, 404), id="404"),
        pytest.param(_api_error(NotFoundError, 200, 404), id="code-404-in-200"),
        pytest.param(_api_error(APIError, 409), id="409"),
        pytest.param(
            _api_error(UserNotRegisteredError, 200, "USER_NOT_REGISTERED"), id="not-registered"
        ),
        pytest.param(_api_error(UserBusyError, 200, "USER_BUSY"), id="busy"),
        pytest.param(_api_error(CallRejectedError, 200, "X_Y"), id="rejected"),
        pytest.param(OutcomeUnknownError("lost", status=200), id="outcome-unknown"),
        pytest.param(TransportError("html", status=200), id="unreadable-200"),
        pytest.param(TransportError("html", status=404), id="unreadable-404"),
    ],
)
def test_client_errors_are_never_retried(error: Tel4vnError) -> None:
    for request_ in READS + NON_RETRY_SAFE:
        assert should_retry(request_, error) is False, request_


@pytest.mark.parametrize(
    ("body", "read_retries", "call_retries"),
    [
        pytest.param({"code": 429, "content": "slow down"}, True, True, id="code-429"),
        pytest.param({"code": 503, "content": "unavailable"}, True, True, id="code-503"),
        pytest.param({"code": 500, "content": "internal"}, True, False, id="code-500"),
    ],
)
def test_error_code_inside_a_200_body_drives_the_retry_rule(
    body: dict[str, Any], read_retries: bool, call_retries: bool
) -> None:
    read_error = _raises(CDRS, 200, _json(body))
    call_error = _raises(CLICK2CALL, 200, _json(body))
    assert should_retry(CDRS, read_error) is read_retries
    assert should_retry(CLICK2CALL, call_error) is call_retries


def test_end_to_end_http_429_with_retry_after_is_retried_for_a_call() -> None:
    error = _raises(OTP_CALL, 429, b"", {"Retry-After": "2"})
    assert isinstance(error, RateLimitError)
    assert error.retry_after == 2.0
    assert should_retry(OTP_CALL, error) is True


def test_end_to_end_http_500_is_retried_for_a_read_only() -> None:
    read_error = _raises(CDRS, 500, _json({"message": "boom"}))
    call_error = _raises(OTP_CALL, 500, _json({"message": "boom"}))
    assert should_retry(CDRS, read_error) is True
    assert should_retry(OTP_CALL, call_error) is False


def test_secrets_in_finds_every_secret_bearing_value() -> None:
    from tel4vn_async._sansio import secrets_in

    body = {
        "callee": "0987654321",
        "callback_apikey": "hook-key",
        "param": {"password": "pw-1", "code_otp": "123"},
        "items": [{"api_key": "k-2"}, {"token": 5}],
    }
    assert set(secrets_in(body)) == {"hook-key", "pw-1", "k-2"}
    assert secrets_in(None) == ()
