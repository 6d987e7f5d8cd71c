"""Property tests of the pure response decoder: no answer, however hostile, escapes as
anything but a Tel4vnError, and a call-placing request never reads a 5xx as success."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tel4vn_async import Tel4vnError
from tel4vn_async._sansio import ErrorShape, Request, decode_response, redact, should_retry
from tel4vn_async.errors import APIError, OutcomeUnknownError

KEYS = st.sampled_from(
    ["code", "status", "error", "message", "content", "success", "data", "token", "x", "limit"]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["fail", "success", "USER_BUSY", "404", "queue not found", "", " 0 "])
    | st.text(max_size=20)
)
JSON = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=5),
    max_leaves=20,
)
REQUESTS = st.builds(
    Request,
    method=st.sampled_from(["GET", "POST", "DELETE"]),
    path=st.just("/v2/x"),
    places_call=st.booleans(),
    error_shapes=st.sampled_from(list(ErrorShape)),
)
HEADERS = st.dictionaries(
    st.sampled_from(["Retry-After", "Content-Type", "Location"]),
    st.text(max_size=30),
    max_size=3,
)


def _decode(request: Request, status: int, headers: dict[str, str], body: bytes) -> Any:
    try:
        return decode_response(request, status, headers, body)
    except Tel4vnError as error:
        should_retry(request, error)  # the retry rule reads any error without failing
        return error


@settings(max_examples=80, deadline=None)
@given(REQUESTS, st.integers(min_value=100, max_value=599), HEADERS, JSON)
def test_any_json_answer_decodes_or_raises_a_typed_error(
    request: Request, status: int, headers: dict[str, str], body: object
) -> None:
    outcome = _decode(request, status, headers, json.dumps(body).encode())
    if request.places_call and 500 <= status != 503:
        # The phone may be ringing: never a success, and never a retry.
        assert isinstance(outcome, Tel4vnError)
        assert not should_retry(request, outcome)
    if isinstance(outcome, APIError):
        assert outcome.body == redact(body)


@settings(max_examples=60, deadline=None)
@given(REQUESTS, st.integers(min_value=100, max_value=599), HEADERS, st.binary(max_size=200))
def test_any_bytes_decode_or_raise_a_typed_error(
    request: Request, status: int, headers: dict[str, str], body: bytes
) -> None:
    _decode(request, status, headers, body)


@settings(max_examples=30, deadline=None)
@given(REQUESTS, st.integers(min_value=1, max_value=60_000), st.sampled_from("[{"))
def test_deep_nesting_is_a_typed_error_or_a_value(request: Request, depth: int, open_: str) -> None:
    close = "]" if open_ == "[" else "}"
    inner = '"a":' if open_ == "{" else ""
    body = (open_ + inner) * depth + "1" + close * depth
    outcome = _decode(request, 200, {}, body.encode())
    if isinstance(outcome, Tel4vnError) and request.places_call:
        assert isinstance(outcome, OutcomeUnknownError)
