"""``parse_event``: every sample body of the spec and NOTES.md, the quirks, malformed input."""

from __future__ import annotations

import contextlib
import json
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tel4vn_async
from tel4vn_async import CallDirection, CallStatus, ValidationError
from tel4vn_async.webhooks import MAX_DEPTH, CallEvent, CallState, parse_event

# callcenter-api.md, "Event Hook Data": verbatim.
SPEC_SAMPLE: dict[str, Any] = {
    "call_id": "avavavav-1111-2222-3333-eeeeeeee",
    "sip_call_id": "dddddddd-1111-2222-3333-eeeeeeee",
    "domain": "test.tel4vn.com",
    "direction": "outbound",
    "from_number": "0899888999",
    "to_number": "101",
    "hotline": "19001919",
    "state": "hangup",
    "duration": 10,
    "billsec": 5,
    "recording_url": "http://recording.demo/ad4c9b90-c071-405a-9723-980d2e5e1623",
}
# NOTES.md, "Webhooks": the later docs' states and fields; "Value quirks": press_key "{}",
# numbers as strings, "" as no value, both time formats, ids with trailing spaces.
LATER_SAMPLE: dict[str, Any] = {
    **SPEC_SAMPLE,
    "state": "cdr_autocall",
    "status": "answered",
    "application": "autocall",
    "ref_id": "ref-42",
    "press_key": "{}",
    "customer_id": "KH00001 ",
    "time_started": "2021-07-15 12:50:00",
    "time_answered": "2021-07-15T05:50:06.123456Z",
    "time_ended": "2021-07-15T12:50:15+07:00",
}
QUIRKS_SAMPLE: dict[str, Any] = {
    "call_id": "avavavav-1111-2222-3333-eeeeeeee ",
    "state": "MISSED",
    "duration": "30",
    "billsec": "0",
    "recording_url": "",
    "status": "",
    "time_answered": "",
    "time_started": "0001-01-01T00:00:00Z",
    "press_key": '{"1": "confirm"}',
    "direction": 3,
    "unknown_new_field": [1, 2],
}

CASES = [
    pytest.param(SPEC_SAMPLE, {"state": CallState.HANGUP, "duration": 10, "billsec": 5}, id="spec"),
    pytest.param(
        {**SPEC_SAMPLE, "state": "ringing", "duration": None, "billsec": None},
        {"state": CallState.RINGING, "duration": None},
        id="spec-ringing",
    ),
    pytest.param(
        {**SPEC_SAMPLE, "state": "answered"}, {"state": CallState.ANSWERED}, id="answered"
    ),
    pytest.param(
        {**SPEC_SAMPLE, "state": "cdr", "status": "ANSWERED"},
        {"state": CallState.CDR, "status": CallStatus.ANSWERED, "is_cdr": True},
        id="spec-cdr",
    ),
    pytest.param(
        LATER_SAMPLE,
        {
            "state": CallState.CDR_AUTOCALL,
            "is_cdr": True,
            "status": CallStatus.ANSWERED,
            "application": "autocall",
            "ref_id": "ref-42",
            "press_key": {},
            "customer_id": "KH00001",
            "time_started": datetime(2021, 7, 15, 12, 50),  # zone-less stays naive
            "time_answered": datetime(2021, 7, 15, 5, 50, 6, 123456, tzinfo=timezone.utc),
            "time_ended": datetime.fromisoformat("2021-07-15T12:50:15+07:00"),
        },
        id="later-docs",
    ),
    pytest.param(
        QUIRKS_SAMPLE,
        {
            "call_id": "avavavav-1111-2222-3333-eeeeeeee",
            "state": CallState.MISSED,
            "duration": 30,
            "billsec": 0,
            "recording_url": None,
            "status": None,
            "time_answered": None,
            "time_started": None,
            "press_key": {"1": "confirm"},
            "direction": CallDirection.UNKNOWN,
        },
        id="quirks",
    ),
]


@pytest.mark.parametrize(("body", "expected"), CASES)
@pytest.mark.parametrize("form", ["bytes", "str", "mapping"])
def test_every_sample_body_parses(
    body: dict[str, Any], expected: dict[str, Any], form: str
) -> None:
    given_body: bytes | str | dict[str, Any] = body
    if form != "mapping":
        given_body = json.dumps(body) if form == "str" else json.dumps(body).encode()

    event = parse_event(given_body)

    for name, value in expected.items():
        assert getattr(event, name) == value, name
    assert event.raw == body  # every field kept as received, unknown ones too
    assert isinstance(event, tel4vn_async.CallEvent)


def test_the_spec_sample_fills_every_documented_field() -> None:
    event = parse_event(SPEC_SAMPLE)

    assert event.call_id == SPEC_SAMPLE["call_id"]
    assert event.sip_call_id == SPEC_SAMPLE["sip_call_id"]
    assert event.domain == "test.tel4vn.com"
    assert event.direction is CallDirection.OUTBOUND
    assert (event.from_number, event.to_number, event.hotline) == ("0899888999", "101", "19001919")
    assert event.recording_url == SPEC_SAMPLE["recording_url"]
    assert event.dedupe_key == (SPEC_SAMPLE["call_id"], "hangup")


def test_an_unknown_state_is_kept() -> None:
    event = parse_event({"call_id": "c1", "state": " Transferred "})

    assert event.state is CallState.UNKNOWN
    assert event.state_raw == "Transferred"
    assert event.raw["state"] == " Transferred "
    assert event.dedupe_key == ("c1", "transferred")  # two unknown states stay apart


def test_an_unreadable_optional_value_leaves_its_field_none() -> None:
    event = parse_event(
        {"call_id": "c", "state": "hangup", "duration": "ten", "press_key": "[" * 5000}
    )

    assert event.duration is None
    assert event.press_key is None  # hostile JSON inside the string: never a RecursionError
    assert event.raw["press_key"] == "[" * 5000


MALFORMED = [
    pytest.param(b"not json", "body", "not JSON", id="not-json"),
    pytest.param(b"\xff\xfe{", "body", "not JSON", id="not-utf8"),
    pytest.param(b"", "body", "not JSON", id="empty"),
    pytest.param(b"[1, 2]", "body", "JSON object", id="a-list"),
    pytest.param('"hangup"', "body", "JSON object", id="a-string"),
    pytest.param(b'{"state": "hangup"}', "call_id", "call_id", id="no-call-id"),
    pytest.param(b'{"call_id": "  ", "state": "hangup"}', "call_id", "call_id", id="blank-id"),
    pytest.param(b'{"call_id": true, "state": "hangup"}', "call_id", "call_id", id="bool-id"),
    pytest.param({"call_id": 10**5000, "state": "cdr"}, "call_id", "call_id", id="huge-int-id"),
    pytest.param(b'{"call_id": "c"}', "state", "state", id="no-state"),
    pytest.param(b'{"call_id": "c", "state": 3}', "state", "state", id="state-not-text"),
    pytest.param(b'{"a": ' * 10_000 + b"1" + b"}" * 10_000, "body", "nested", id="too-deep"),
    pytest.param(
        json.dumps(
            {"call_id": "c", "state": "cdr", "x": [[[[[[[[[[[[[[[[[[[[0]]]]]]]]]]]]]]]]]]]]}
        ),
        None,
        None,
        id="nested-but-fine",
    ),
]


@pytest.mark.parametrize(("body", "field", "words"), MALFORMED)
def test_malformed_bodies_raise_validation_error(
    body: bytes | str | dict[str, Any], field: str | None, words: str | None
) -> None:
    if field is None:
        assert parse_event(body).state is CallState.CDR
        return
    with pytest.raises(ValidationError) as info:
        parse_event(body)
    assert info.value.field == field
    assert words is not None
    assert words in str(info.value)


def test_nesting_deeper_than_the_limit_is_refused_even_as_a_mapping() -> None:
    deep: object = 0
    for _ in range(MAX_DEPTH):
        deep = [deep]
    with pytest.raises(ValidationError, match="nested"):
        parse_event({"call_id": "c", "state": "cdr", "x": deep})


def test_a_body_over_the_cap_is_refused_before_decoding() -> None:
    body = json.dumps({"call_id": "c", "state": "cdr", "pad": "x" * 100}).encode()
    with pytest.raises(ValidationError, match="larger than 64 bytes") as info:
        parse_event(body, max_size=64)
    assert info.value.field == "body"
    assert parse_event(body, max_size=len(body)).call_id == "c"


def test_a_body_of_another_type_is_refused() -> None:
    with pytest.raises(ValidationError, match="bytes, str or a mapping"):
        parse_event(42)  # type: ignore[arg-type]


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["", " ", "{}", "[[[[", "0001-01-01T00:00:00Z", "2021-07-15 12:50:00"]),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
event_like = st.fixed_dictionaries(
    {},
    optional={
        name: json_values
        for name in (
            "call_id",
            "state",
            "duration",
            "billsec",
            "press_key",
            "time_started",
            "direction",
            "status",
            "recording_url",
            "sip_call_id",
        )
    },
)


@settings(max_examples=100, deadline=None)
@given(body=json_values | event_like | st.binary(max_size=64) | st.text(max_size=64))
def test_any_json_like_input_gives_an_event_or_a_validation_error(body: Any) -> None:
    candidates: list[Any] = [body]
    if not isinstance(body, bytes | str):
        with contextlib.suppress(ValueError):
            candidates.append(json.dumps(body).encode())
    for candidate in candidates:
        try:
            event = parse_event(candidate) if isinstance(candidate, bytes | str | dict) else None
        except ValidationError:
            continue
        if event is None:
            with pytest.raises(ValidationError):
                parse_event(candidate)
            continue
        assert isinstance(event, CallEvent)
        assert event.call_id
        assert isinstance(event.state, CallState)
