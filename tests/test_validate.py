"""The validators of ``_validate``: examples of each, then hypothesis properties over
hostile values (each returns a value of its type or raises ValidationError naming a
field, never anything else)."""

from __future__ import annotations

import enum
import json
import math
import re
from collections.abc import Callable
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tel4vn_async import ValidationError
from tel4vn_async._sansio import as_int, format_query
from tel4vn_async._validate import (
    MAX_ID,
    MAX_INT,
    MAX_TEXT,
    check_customer_phone,
    check_date,
    check_enum,
    check_flag,
    check_id,
    check_int,
    check_json_value,
    check_key,
    check_list,
    check_number,
    check_phone,
    check_queue_customers,
    check_secret,
    check_text,
    check_url,
    optional,
    parse_int,
    path_segment,
    queue_customer,
)
from tel4vn_async.autocall.calls import format_param, otp_body, tts_body
from tel4vn_async.models.autocall import Amount
from tel4vn_async.models.callcenter import CallDirection, EventType, QueueCustomer


def field_of(check: Callable[..., object], *args: object, **kwargs: object) -> str | None:
    """The ``field`` of the ValidationError that ``check(*args, **kwargs)`` raises."""
    with pytest.raises(ValidationError) as info:
        check(*args, **kwargs)
    return info.value.field


# ----------------------------------------------------------------------------- text


def test_text_is_stripped_and_bounded() -> None:
    assert check_text("  Sales  ", "name") == "Sales"
    assert check_text(" a ", "name", strip=False) == " a "
    assert check_text("x" * MAX_TEXT, "name") == "x" * MAX_TEXT
    assert field_of(check_text, "x" * (MAX_TEXT + 1), "name") == "name"
    assert check_text("x" * 5000, "content", max_length=5000) == "x" * 5000


@pytest.mark.parametrize(
    "value", [None, 5, True, b"x", ["x"], "", "  ", "\t\n", "a\r\nb", "a\x00", "\x7f", "\ud800"]
)
def test_text_refuses_non_strings_blanks_and_control_characters(value: object) -> None:
    assert field_of(check_text, value, "name") == "name"


def test_multiline_text_takes_line_breaks_but_no_other_control_character() -> None:
    assert check_text("a\nb\tc\r\n", "content", multiline=True) == "a\nb\tc"
    for bad in ("a\x00b", "\x1b[0m", "\x0b", "a\x85b", "\udfff"):
        assert field_of(check_text, bad, "content", multiline=True) == "content"


def test_blank_text_only_when_allowed() -> None:
    assert check_text("", "q", blank=True) == ""
    assert check_text("  ", "q", blank=True, strip=False) == "  "


def test_a_huge_string_is_refused_without_quoting_it() -> None:
    with pytest.raises(ValidationError) as info:
        check_text("x" * 100_000, "name")
    assert len(str(info.value)) < 200
    assert "100,000" in str(info.value)


# ----------------------------------------------------------------------------- secrets


@pytest.mark.parametrize(
    "value", ["", "   ", "hunter2-secret\n", "hunter2-secret\x00", "hunter2-" * 200, 123456789]
)
def test_a_secret_never_shows_in_its_error(value: object) -> None:
    with pytest.raises(ValidationError) as info:
        check_secret(value, "callback_apikey")
    assert info.value.field == "callback_apikey"
    assert "hunter2" not in str(info.value)
    assert "123456789" not in str(info.value)


def test_a_secret_is_sent_as_given() -> None:
    assert check_secret(" k3y ", "callback_apikey") == " k3y "


# ----------------------------------------------------------------------------- ids and paths


def test_ids_take_strings_and_non_negative_ints() -> None:
    assert check_id(" KH1 ", "id") == "KH1"
    assert check_id(101, "ext") == "101"
    assert check_id(0, "ext") == "0"
    assert check_id("x" * MAX_ID, "id") == "x" * MAX_ID
    for bad in (-1, True, 1.0, 10**400, 10**5000, "x" * (MAX_ID + 1), "a\nb", None, b"1"):
        assert field_of(check_id, bad, "id") == "id"


@pytest.mark.parametrize(
    ("value", "segment"),
    [
        ("a/b", "a%2Fb"),
        ("a?b", "a%3Fb"),
        ("a#b", "a%23b"),
        ("100%", "100%25"),
        ("  x  ", "x"),
        ("a b", "a%20b"),
        ("%2e%2e", "%252e%252e"),
        ("test.user01", "test.user01"),
        ("é", "%C3%A9"),
        ("a..", "a.."),
        (42, "42"),
    ],
)
def test_path_segments_are_quoted_to_stay_one_segment(value: object, segment: str) -> None:
    assert path_segment(value, "user_id") == segment


@pytest.mark.parametrize("value", [".", "..", "...", "/", "./..", " .. ", "//", "", "a\r\nb"])
def test_path_segments_that_would_leave_their_route_are_refused(value: str) -> None:
    assert field_of(path_segment, value, "user_id") == "user_id"


# ----------------------------------------------------------------------------- phones


def test_phones() -> None:
    assert check_phone(" 0123456789 ", "caller") == "0123456789"
    assert check_phone("+84987654321", "callee") == "+84987654321"
    assert check_phone(101, "ext") == "101"
    bad_phones: list[object] = ["12", "1" * 16, "+", "09-8765", "\uff10" * 10, "\u0660" * 10]
    bad_phones += ["0123\n456", -101, True, 1.5, None, b"0123456789", 10**400, "x" * 100_000]
    for bad in bad_phones:
        assert field_of(check_phone, bad, "callee") == "callee"


def test_customer_phones_follow_the_spec_pattern() -> None:
    assert check_customer_phone("0899098899", "phone_number") == "0899098899"
    assert check_customer_phone("8489909889", "phone_number") == "8489909889"
    for bad in ("0123456789", "0899 098 899", "+84899098899", "0899098899\n0899098899"):
        assert field_of(check_customer_phone, bad, "phone_number") == "phone_number"


# ----------------------------------------------------------------------------- urls


def test_urls() -> None:
    assert check_url(" https://hooks.example/t4?a=1 ", "callback_url") == (
        "https://hooks.example/t4?a=1"
    )
    assert check_url("http://127.0.0.1:8080/x", "callback_url") == "http://127.0.0.1:8080/x"
    for bad in (
        "ftp://x.vn",
        "hooks.example",
        "http://",
        "http://:80",
        "https://a b.vn",
        "https://x.vn/\r\nX-Evil: 1",
        "http://[::1",
        "http://x.vn:99999",
        "javascript:alert(1)",
        "https://" + "a" * 3000,
        5,
        None,
    ):
        assert field_of(check_url, bad, "callback_url") == "callback_url"


# ----------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        (5, 5),
        (-5, -5),
        (10**400, 10**400),
        (" 42 ", 42),
        ("-7", -7),
        ("9" * 18, int("9" * 18)),
        ("9" * 19, None),
        ("--5", None),
        ("\u00b2", None),
        ("\u0661", None),
        ("1.0", None),
        (True, None),
        (1.0, None),
        (None, None),
    ],
)
def test_parse_int_and_as_int_are_one_parser(value: object, parsed: int | None) -> None:
    assert parse_int(value) == parsed
    assert as_int(value) == parsed


def test_ints() -> None:
    assert check_int(0, "duration") == 0
    assert check_int(MAX_INT, "duration") == MAX_INT
    assert check_int("150", "precall_ratio", low=1, digit_strings=True) == 150
    for bad in (-1, MAX_INT + 1, 10**400, True, 1.0, "5", None, math.nan):
        assert field_of(check_int, bad, "duration") == "duration"
    assert field_of(check_int, "0", "r", low=1, digit_strings=True) == "r"
    assert field_of(check_int, "lots", "r", digit_strings=True) == "r"


def test_numbers() -> None:
    assert check_number(1, "speed", low=0, high=2) == 1.0
    assert check_number(2.0, "speed", low=0, high=2) == 2.0
    assert check_number(0, "speed", low=0, high=2) == 0.0
    assert check_number(0.5, "timeout", low=0, high=3600, low_exclusive=True) == 0.5
    assert field_of(check_number, 0, "timeout", low=0, high=9, low_exclusive=True) == "timeout"
    for bad in (math.nan, math.inf, -math.inf, -0.1, 2.5, 10**400, True, "1", None, Decimal(1)):
        assert field_of(check_number, bad, "speed", low=0, high=2) == "speed"


def test_flags() -> None:
    assert check_flag(True, "queue") is True
    assert check_flag(False, "queue") is False
    for bad in ("yes", "true", 1, 0, None, 1.0):
        assert field_of(check_flag, bad, "queue") == "queue"


# ----------------------------------------------------------------------------- enums, dates


def test_enums() -> None:
    assert check_enum("HANGUP ", EventType, "event") is EventType.HANGUP
    assert check_enum(EventType.CDR, EventType, "event") is EventType.CDR
    for bad in (EventType.UNKNOWN, "unknown", "create", "", 5, None, "x" * 100_000, "\x00cdr"):
        assert field_of(check_enum, bad, EventType, "event") == "event"


def test_dates() -> None:
    assert check_date(date(2021, 2, 18), "start_date") == "2021-02-18"
    assert check_date(datetime(2021, 2, 19, 17, 20, 58, 999), "d") == "2021-02-19 17:20:58"
    aware = datetime(2021, 2, 19, 17, 20, 58, tzinfo=timezone(timedelta(hours=7)))
    assert check_date(aware, "d") == "2021-02-19 17:20:58"  # wall-clock as given
    assert check_date(date(1, 1, 1), "d") == "0001-01-01"
    assert check_date(" 2021-02-18 ", "d") == "2021-02-18"
    assert check_date("2021-02-18 23:59:59", "d") == "2021-02-18 23:59:59"
    bad_dates: list[object] = ["2021-02-30", "2021-13-01", "2021-2-1", "\uff12021-01-01"]
    bad_dates += ["2021-01-01T00:00:00", 5, None, 1.5, b"2021-01-01", time(1, 2)]
    for bad in bad_dates:
        assert field_of(check_date, bad, "d") == "d"


def test_format_query_uses_the_one_date_format_and_refuses_what_cannot_be_sent() -> None:
    assert format_query({"d": date(1, 1, 1), "e": CallDirection.OUTBOUND, "f": 2.5}) == {
        "d": "0001-01-01",
        "e": "outbound",
        "f": "2.5",
    }
    for bad in (object(), math.nan, 10**400, "a\r\nb", "\ud800", [1], b"x"):
        assert field_of(format_query, {"phone": bad}) == "phone"


# ----------------------------------------------------------------------------- lists


def test_lists() -> None:
    assert check_list(("0123", 1234), "callees", check_phone) == ["0123", "1234"]
    assert check_list(iter(["a"]), "ids", check_id) == ["a"]
    assert check_list([], "opts", check_id, allow_empty=True) == []
    assert field_of(check_list, [], "ids", check_id) == "ids"
    assert field_of(check_list, "abc", "ids", check_id) == "ids"
    assert field_of(check_list, {"a": 1}, "ids", check_id) == "ids"
    assert field_of(check_list, 5, "ids", check_id) == "ids"
    assert field_of(check_list, ["a", ""], "ids", check_id) == "ids[1]"
    assert field_of(check_list, ["1234", 1234], "c", check_phone, unique=True) == "c[1]"
    assert field_of(check_list, range(10**9), "ids", check_id, max_items=3) == "ids"


def test_optional() -> None:
    assert optional(check_id, None, "id") is None
    assert optional(check_id, 5, "id") == "5"


# ----------------------------------------------------------------------------- free-form JSON


class Colour(enum.Enum):
    RED = "red"


@pytest.mark.parametrize(
    ("value", "sent"),
    [
        (date(2021, 7, 13), "2021-07-13"),
        (datetime(2021, 7, 13, 9, 30), "2021-07-13T09:30:00"),
        (time(9, 30), "09:30:00"),
        (Decimal("150"), 150),
        (Decimal("-0"), 0),
        (Decimal("10.5"), 10.5),
        (Decimal("0.1"), 0.1),
        (Decimal("0.10000000000000000001"), "0.10000000000000000001"),
        (Decimal("1E+400"), "1E+400"),
        (Decimal(2**63), str(2**63)),
        (Colour.RED, "red"),
        (CallDirection.INBOUND, "inbound"),
        ("", ""),
        ("line\nbreak", "line\nbreak"),
        (None, None),
        (True, True),
        (2**63 - 1, 2**63 - 1),
        ([1, "a", date(2021, 1, 2)], [1, "a", "2021-01-02"]),
        ({"n": Decimal("2")}, {"n": 2}),
    ],
)
def test_json_values_are_sent_as_json(value: object, sent: object) -> None:
    out = check_json_value(value, "due")
    assert out == sent
    assert type(out) is type(sent)
    json.dumps(out, allow_nan=False)


@pytest.mark.parametrize(
    ("value", "field"),
    [
        (object(), "due"),
        ({1, 2}, "due"),
        (math.nan, "due"),
        (math.inf, "due"),
        (Decimal("NaN"), "due"),
        (Decimal("sNaN"), "due"),
        (Decimal("-Infinity"), "due"),
        (2**63, "due"),
        (b"x", "due"),
        ("a\x00b", "due"),
        ("x" * (MAX_TEXT + 1), "due"),
        ([1, object()], "due[1]"),
        ({"a": {"b": math.nan}}, "due.a.b"),
        ({5: 1}, "due"),
        ({"": 1}, "due"),
        (
            [[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]],
            "due[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]",
        ),
    ],
)
def test_values_that_are_not_json_are_refused(value: object, field: str) -> None:
    assert field_of(check_json_value, value, "due") == field


def test_keys() -> None:
    assert check_key("due_date", "params") == "due_date"
    for bad in (5, "", " ", "a\nb", "x" * (MAX_ID + 1), None):
        assert field_of(check_key, bad, "params") == "params"


def test_queue_customers_name_the_bad_part() -> None:
    good = {"id": " K1 ", "mobiles": ["0899123456"], "due": date(2021, 7, 13)}
    assert check_queue_customers(
        [good, QueueCustomer("K2", ["0899123457"], {"n": Decimal(5)})]
    ) == [
        {"id": "K1", "mobiles": ["0899123456"], "due": "2021-07-13"},
        {"n": 5, "id": "K2", "mobiles": ["0899123457"]},
    ]
    cases: list[tuple[object, str]] = [
        (None, "customers"),
        ("K1", "customers"),
        ([], "customers"),
        ([42], "customers[0]"),
        ([good, {"mobiles": ["0899123456"]}], "customers[1].id"),
        ([{"id": "K", "mobiles": ["12"]}], "customers[0].mobiles[0]"),
        ([{"id": "K", "mobiles": "0899123456"}], "customers[0].mobiles"),
        ([{**good, "due": object()}], "customers[0].due"),
        ([{**good, "tags": {1}}], "customers[0].tags"),
        ([{**good, "x": [1, math.nan]}], "customers[0].x[1]"),
        ([{**good, 5: "x"}], "customers[0].fields"),
        ([QueueCustomer("K", ["0899123456"], {"amount": math.nan})], "customers[0].amount"),
        ([QueueCustomer("K", None)], "customers[0].mobiles"),  # type: ignore[arg-type]
        ([QueueCustomer(None, ["0899123456"])], "customers[0].id"),  # type: ignore[arg-type]
        ([QueueCustomer("K", ["0899123456"], None)], "customers[0].fields"),  # type: ignore[arg-type]
    ]
    for customers, field in cases:
        with pytest.raises(ValidationError) as info:
            check_queue_customers(customers)
        assert info.value.field == field, customers
        assert str(info.value).startswith(field), str(info.value)


def test_queue_customer_to_json() -> None:
    customer = QueueCustomer("K", ("0899123456",), {"due": date(2021, 7, 13), "id": "ignored"})
    assert customer.to_json() == {"due": "2021-07-13", "id": "K", "mobiles": ["0899123456"]}
    assert queue_customer("K", ["0899123456"], {}) == {"id": "K", "mobiles": ["0899123456"]}
    with pytest.raises(ValidationError) as info:
        QueueCustomer("K", ["0899123456"], {"x": object()}).to_json()
    assert info.value.field == "x"


# ----------------------------------------------------------------------------- body builders


def test_otp_body_is_the_body_sent() -> None:
    assert otp_body(
        campaign_id=7, caller="0123456789", callee="0987654321", template="otp_demo", code=42
    ) == {
        "campaign_id": "7",
        "caller": "0123456789",
        "callee": "0987654321",
        "param": {"template_name": "otp_demo", "code_otp": "42"},
    }


def test_tts_body_is_the_body_sent() -> None:
    assert tts_body(
        caller="0123456789",
        template="t",
        callees=["0987654321"],
        params={"a": Amount(1000)},
        callback_url="https://x.vn",
        callback_apikey="k",
        queue=True,
    ) == {
        "caller": "0123456789",
        "callees": ["0987654321"],
        "param": {"template_name": "t", "a": "1.000"},
        "callback_url": "https://x.vn",
        "callback_apikey": "k",
        "queue": True,
    }


# ----------------------------------------------------------------------------- properties

_CONTROL = st.sampled_from(["\x00", "\r", "\n", "\r\n", "\t", "\x1b", "\x7f", "\x85", "\ud800"])
HOSTILE_TEXT = st.one_of(
    st.text(max_size=20),
    st.tuples(st.text(max_size=8), _CONTROL, st.text(max_size=8)).map("".join),
    st.sampled_from(
        [
            "",
            " ",
            ".",
            "..",
            "/",
            "0123456789",
            "\u0661\u0662",
            "\uff10" * 10,
            "9" * 30,
            "x" * 100_000,
        ]
    ),
)
HOSTILE_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([10**400, -(10**400), 2**63, -(2**63) - 1, 2**31]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=True, allow_infinity=True),
    HOSTILE_TEXT,
    st.binary(max_size=10),
    st.dates(),
    st.datetimes(),
    st.builds(object),
    st.sampled_from([EventType.HANGUP, EventType.UNKNOWN, CallDirection.LOCAL]),
)
HOSTILE = st.recursive(
    HOSTILE_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=5), st.integers()), inner, max_size=3),
        st.frozensets(st.integers(), max_size=3),
    ),
    max_leaves=8,
)

_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def _is_json(value: object) -> bool:
    json.dumps(value, allow_nan=False)
    return True


# Each validator: how to call it and what a success must look like.
VALIDATORS: dict[str, tuple[Callable[[object], object], Callable[[Any], object]]] = {
    "check_text": (
        lambda v: check_text(v, "f"),
        lambda r: isinstance(r, str) and r.strip() == r and not _CONTROLS.search(r),
    ),
    "check_secret": (lambda v: check_secret(v, "f"), lambda r: isinstance(r, str) and r.strip()),
    "check_id": (lambda v: check_id(v, "f"), lambda r: isinstance(r, str) and 0 < len(r) <= MAX_ID),
    "path_segment": (
        lambda v: path_segment(v, "f"),
        lambda r: isinstance(r, str) and re.fullmatch(r"[A-Za-z0-9_.~%-]+", r) and r.strip("."),
    ),
    "check_phone": (
        lambda v: check_phone(v, "f"),
        lambda r: isinstance(r, str) and re.fullmatch(r"\+?[0-9]{3,15}", r),
    ),
    "check_customer_phone": (lambda v: check_customer_phone(v, "f"), lambda r: isinstance(r, str)),
    "check_url": (
        lambda v: check_url(v, "f"),
        lambda r: isinstance(r, str) and r.startswith(("http://", "https://")),
    ),
    "check_int": (
        lambda v: check_int(v, "f", low=1, high=10_000, digit_strings=True),
        lambda r: type(r) is int and 1 <= r <= 10_000,
    ),
    "check_number": (
        lambda v: check_number(v, "f", low=0, high=2),
        lambda r: type(r) is float and 0 <= r <= 2,
    ),
    "check_flag": (lambda v: check_flag(v, "f"), lambda r: type(r) is bool),
    "check_enum": (
        lambda v: check_enum(v, EventType, "f"),
        lambda r: isinstance(r, EventType) and r is not EventType.UNKNOWN,
    ),
    "check_date": (
        lambda v: check_date(v, "f"),
        lambda r: isinstance(r, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}( .{8})?", r),
    ),
    "check_list": (
        lambda v: check_list(v, "f", check_phone),
        lambda r: isinstance(r, list) and r and all(isinstance(x, str) for x in r),
    ),
    "check_key": (lambda v: check_key(v, "f"), lambda r: isinstance(r, str)),
    "check_json_value": (lambda v: check_json_value(v, "f"), _is_json),
    "check_queue_customers": (
        lambda v: check_queue_customers(v),
        lambda r: isinstance(r, list) and _is_json(r),
    ),
    "format_query": (
        lambda v: format_query({"f": v}),
        lambda r: all(isinstance(x, str) and not _CONTROLS.search(x) for x in r.values()),
    ),
    "format_param": (
        lambda v: format_param(v, "f"),
        lambda r: isinstance(r, str | int) and not isinstance(r, bool),
    ),
    "otp_body": (
        lambda v: otp_body(campaign_id=v, caller=v, callee=v, template=v, code=v),  # type: ignore[arg-type]
        _is_json,
    ),
    "tts_body": (
        lambda v: tts_body(caller="0123456789", template="t", callees=v, params=v),  # type: ignore[arg-type]
        _is_json,
    ),
}


@settings(max_examples=150, deadline=None)
@given(value=HOSTILE)
def test_each_validator_returns_its_type_or_names_the_field(value: object) -> None:
    for name, (run, valid) in VALIDATORS.items():
        outcome = _outcome(run, value)
        if isinstance(outcome, ValidationError):
            assert outcome.field, name
            assert len(str(outcome)) < 1_000, name  # a huge value is never quoted whole
        else:
            assert valid(outcome), (name, outcome)


def _outcome(run: Callable[[object], object], value: object) -> object:
    """What ``run(value)`` returns, or the ValidationError it raises (anything else fails)."""
    try:
        return run(value)
    except ValidationError as error:
        return error


def test_parse_int_never_raises() -> None:
    @settings(max_examples=50, deadline=None)
    @given(value=HOSTILE)
    def check(value: object) -> None:
        result = parse_int(value)
        assert result is None or type(result) is int

    check()


@settings(max_examples=100, deadline=None)
@given(secret=st.text(min_size=1, max_size=40), bad=_CONTROL)
def test_a_secret_with_a_control_character_is_never_echoed(secret: str, bad: str) -> None:
    value = "s3cr3t-" + secret + bad
    with pytest.raises(ValidationError) as info:
        check_secret(value, "callback_apikey")
    assert "s3cr3t-" not in str(info.value)


@settings(max_examples=100, deadline=None)
@given(text=st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=50))
def test_a_path_segment_is_one_segment_that_decodes_to_the_id(text: str) -> None:
    if not text.strip().strip("./"):
        assert field_of(path_segment, text, "id") == "id"
        return
    segment = path_segment(text, "id")
    assert not set(segment) & set("/?#; ")
    assert unquote(segment) == text.strip()


@settings(max_examples=50, deadline=None)
@given(phone=st.from_regex(r"\+?[0-9]{3,15}", fullmatch=True))
def test_every_dialable_number_is_accepted_as_given(phone: str) -> None:
    assert check_phone(phone, "callee") == phone
