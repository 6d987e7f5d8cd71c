"""Unit tests of the converter (``tel4vn_async._convert``) and the ``Account`` model.

The value quirks are API.md section 6 and NOTES.md "Value quirks"; the account samples
are the login responses of callcenter-api.md and autocall-api.md.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
import pytest

from tel4vn_async import Account as PublicAccount
from tel4vn_async import TransportError
from tel4vn_async._convert import parse_datetime, structure
from tel4vn_async.models import Account, Cdr, OtpTemplate, Report

API_KEY = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeee"
ICT = timezone(timedelta(hours=7))

CC_LOGIN_DATA: dict[str, Any] = {
    "api_key": API_KEY,
    "domain_uuid": "dddddddd-1111-2222-3333-eeeeeeee",
    "enabled": "true",
    "extension": "110",
    "level": "admin",
    "user_uuid": "aaaaaaaa-1111-2222-3333-eeeeeeee",
    "username": "adminfortest",
}
AUTOCALL_LOGIN_DATA: dict[str, Any] = {
    "user_uuid": "aaaaaaaa-1111-2222-3333-eeeeeeee",
    "domain_uuid": "dddddddd-1111-2222-3333-eeeeeeee",
    "username": "foo",
    "api_key": API_KEY,
    "user_enabled": "true",
    "level": "admin",
}


@pytest.fixture
def vietnam_local_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run with the process's local zone at UTC+7 (a POSIX rule: no tzdata needed)."""
    monkeypatch.setenv("TZ", "ICT-7")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


# --------------------------------------------------------------------------- parse_datetime


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(None, id="none"),
        pytest.param("", id="empty"),
        pytest.param("   ", id="blank"),
        pytest.param("0001-01-01T00:00:00Z", id="go-zero-time"),
        pytest.param("1970-01-01T08:00:00+08:00", id="epoch-at-plus-8"),
        pytest.param("1970-01-01T00:00:00Z", id="epoch-utc"),
    ],
)
def test_no_time_values_are_none(value: object) -> None:
    assert parse_datetime(value) is None


def test_zone_less_time_stays_naive_with_the_same_wall_clock() -> None:
    parsed = parse_datetime("2021-02-17 17:30:35")
    assert parsed == datetime(2021, 2, 17, 17, 30, 35)
    assert parsed is not None
    assert parsed.tzinfo is None


@pytest.mark.usefixtures("vietnam_local_time")
def test_zone_less_time_is_never_shifted_by_the_local_zone() -> None:
    parsed = parse_datetime("2021-06-17 14:14:56")
    assert parsed is not None
    assert parsed.tzinfo is None
    assert (parsed.hour, parsed.minute, parsed.second) == (14, 14, 56)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(
            "2021-05-05T08:12:40Z",
            datetime(2021, 5, 5, 8, 12, 40, tzinfo=timezone.utc),
            id="z",
        ),
        pytest.param(
            "2021-07-15T12:50:23.805319Z",
            datetime(2021, 7, 15, 12, 50, 23, 805319, tzinfo=timezone.utc),
            id="z-micro",
        ),
        pytest.param(
            "2024-01-02T03:04:05+07:00",
            datetime(2024, 1, 2, 3, 4, 5, tzinfo=ICT),
            id="plus-7",
        ),
        pytest.param(
            "2024-01-02T03:04:05.5-05:00",
            datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=timezone(timedelta(hours=-5))),
            id="minus-5",
        ),
        pytest.param(
            "2024-01-02T03:04:05+00:00",
            datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
            id="plus-0",
        ),
    ],
)
def test_iso_times_with_a_zone_are_aware(value: str, expected: datetime) -> None:
    parsed = parse_datetime(value)
    assert parsed is not None
    assert parsed.tzinfo is not None
    assert parsed.utcoffset() == expected.utcoffset()
    assert parsed == expected
    # The wall clock is the one sent, not converted to UTC or the local zone.
    assert parsed.replace(tzinfo=None) == expected.replace(tzinfo=None)


def test_offset_time_is_the_same_instant_as_utc() -> None:
    parsed = parse_datetime("2024-01-02T03:04:05+07:00")
    assert parsed == datetime(2024, 1, 1, 20, 4, 5, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("fraction", "micro"),
    [
        ("", 0),
        (".1", 100000),
        (".12", 120000),
        (".123", 123000),
        (".1234", 123400),
        (".12345", 123450),
        (".123456", 123456),
        (".000001", 1),
    ],
)
def test_zero_to_six_fractional_digits(fraction: str, micro: int) -> None:
    for zone in ("Z", "+07:00"):
        parsed = parse_datetime(f"2021-07-15T12:50:23{fraction}{zone}")
        assert parsed is not None
        assert parsed.microsecond == micro
        assert parsed.second == 23
        assert parsed.tzinfo is not None


def test_iso_time_without_a_zone_is_naive() -> None:
    parsed = parse_datetime("2021-06-08T17:37:37")
    assert parsed == datetime(2021, 6, 8, 17, 37, 37)
    assert parsed is not None
    assert parsed.tzinfo is None


def test_real_times_near_the_no_time_values_are_kept() -> None:
    assert parse_datetime("1970-01-01T09:00:00+08:00") == datetime(
        1970, 1, 1, 1, 0, tzinfo=timezone.utc
    )
    assert parse_datetime("1970-01-02T08:00:00+08:00") is not None


def test_datetime_passes_through() -> None:
    value = datetime(2021, 2, 17, 17, 30, 35, tzinfo=ICT)
    assert parse_datetime(value) is value


@pytest.mark.parametrize(
    "value",
    ["not a time", "2021-13-01 00:00:00", "2021-02-30 10:00:00", "17:30:35", "2021/02/17 17:30"],
)
def test_garbage_times_are_rejected(value: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        parse_datetime(value)


# --------------------------------------------------------------------------- scalars


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("true", True),
        ("false", False),
        ("t", True),
        ("f", False),
        (True, True),
        (False, False),
    ],
)
def test_booleans_from_strings(value: object, expected: bool) -> None:
    assert structure(value, bool) is expected


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("f", False), (None, None)])
def test_optional_booleans(value: object, expected: bool | None) -> None:
    assert structure(value, bool | None) is expected  # type: ignore[arg-type]


def test_unknown_boolean_string_is_rejected_not_guessed() -> None:
    with pytest.raises(TransportError, match="maybe"):
        structure("maybe", bool)


@pytest.mark.parametrize(
    ("value", "cls", "expected"),
    [
        ("150", int, 150),
        ("0", int, 0),
        ("1", int, 1),
        ("-3", int, -3),
        (" 42 ", int, 42),
        (7, int, 7),
        ("1.5", float, 1.5),
        ("1", float, 1.0),
        (2, float, 2.0),
        (101, str, "101"),
    ],
)
def test_numbers_sent_as_strings(value: object, cls: type[Any], expected: object) -> None:
    result = structure(value, cls)
    assert result == expected
    assert type(result) is cls


def test_numbers_inside_containers() -> None:
    assert structure(["150", 2, "3"], list[int]) == [150, 2, 3]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", None),
        ("0001-01-01T00:00:00Z", None),
        ("1970-01-01T08:00:00+08:00", None),
        (None, None),
        ("2021-02-17 17:30:35", datetime(2021, 2, 17, 17, 30, 35)),
        ("2021-05-05T08:12:40Z", datetime(2021, 5, 5, 8, 12, 40, tzinfo=timezone.utc)),
    ],
)
def test_structure_optional_datetime(value: object, expected: datetime | None) -> None:
    result = structure(value, datetime | None)  # type: ignore[arg-type]
    assert result == expected
    if isinstance(result, datetime) and isinstance(expected, datetime):
        assert (result.tzinfo is None) == (expected.tzinfo is None)


# --------------------------------------------------------------------------- models


@attrs.frozen
class _Sample:
    id: str
    count: int | None = None
    active: bool | None = None
    when: datetime | None = None
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


def test_model_with_raw_absorbs_every_quirk_at_once() -> None:
    data = {
        "id": "KH1",
        "count": "150",
        "active": "f",
        "when": "0001-01-01T00:00:00Z",
        "brand_new_field": {"x": 1},
    }
    sample = structure(data, _Sample)
    assert sample == _Sample(id="KH1", count=150, active=False, when=None)
    assert sample.raw == data


def test_model_keeps_a_copy_of_the_input() -> None:
    data: dict[str, Any] = {"id": "KH1"}
    sample = structure(data, _Sample)
    data["id"] = "changed"
    assert sample.raw == {"id": "KH1"}


def test_model_missing_optional_fields_take_defaults() -> None:
    sample = structure({"id": "KH1"}, _Sample)
    assert (sample.count, sample.active, sample.when) == (None, None, None)


def test_model_rejects_a_non_object() -> None:
    with pytest.raises(TransportError, match="_Sample") as info:
        structure(["KH1"], _Sample)
    assert isinstance(info.value.__cause__, TypeError)


# --------------------------------------------------------------------------- Account


def test_account_from_the_callcenter_login_sample() -> None:
    account = structure(CC_LOGIN_DATA, Account)
    assert account.api_key == API_KEY
    assert account.username == "adminfortest"
    assert account.user_uuid == "aaaaaaaa-1111-2222-3333-eeeeeeee"
    assert account.domain_uuid == "dddddddd-1111-2222-3333-eeeeeeee"
    assert account.extension == "110"
    assert account.level == "admin"
    assert account.enabled is True
    assert account.raw == CC_LOGIN_DATA


def test_account_from_the_autocall_login_sample() -> None:
    account = structure(AUTOCALL_LOGIN_DATA, Account)
    assert account.api_key == API_KEY
    assert account.username == "foo"
    assert account.user_uuid == "aaaaaaaa-1111-2222-3333-eeeeeeee"
    assert account.domain_uuid == "dddddddd-1111-2222-3333-eeeeeeee"
    assert account.extension is None
    assert account.level == "admin"
    assert account.enabled is True  # from user_enabled
    assert account.raw == AUTOCALL_LOGIN_DATA


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("enabled", "true", True),
        ("enabled", "false", False),
        ("enabled", "t", True),
        ("enabled", "f", False),
        ("enabled", True, True),
        ("enabled", False, False),
        ("user_enabled", "false", False),
        ("user_enabled", "f", False),
        ("user_enabled", True, True),
    ],
)
def test_account_enabled_from_either_key(key: str, value: object, expected: bool) -> None:
    account = structure({"api_key": API_KEY, key: value}, Account)
    assert account.enabled is expected


def test_account_without_enabled_is_none() -> None:
    assert structure({"api_key": API_KEY}, Account).enabled is None


def test_account_keeps_unknown_fields_in_raw() -> None:
    data = {**CC_LOGIN_DATA, "tenant_plan": "gold", "roles": ["admin", "agent"], "quota": 5}
    account = structure(data, Account)
    assert account.raw["tenant_plan"] == "gold"
    assert account.raw["roles"] == ["admin", "agent"]
    assert account.raw["quota"] == 5
    assert account.username == "adminfortest"


def test_account_extension_sent_as_a_number() -> None:
    account = structure({**CC_LOGIN_DATA, "extension": 110}, Account)
    assert account.extension == "110"


def test_account_ids_with_stray_whitespace_are_trimmed() -> None:
    # API.md section 6: models tolerate "ids with stray whitespace" (the CDR sample's id
    # ends with a space); an id is only usable again (URLs, lookups) once trimmed.
    data = {
        **CC_LOGIN_DATA,
        "user_uuid": "aaaaaaaa-1111-2222-3333-eeeeeeee ",
        "domain_uuid": " dddddddd-1111-2222-3333-eeeeeeee",
    }
    account = structure(data, Account)
    assert account.user_uuid == "aaaaaaaa-1111-2222-3333-eeeeeeee"
    assert account.domain_uuid == "dddddddd-1111-2222-3333-eeeeeeee"


@pytest.mark.parametrize("data", [CC_LOGIN_DATA, AUTOCALL_LOGIN_DATA], ids=["cc", "autocall"])
def test_account_repr_never_shows_the_api_key(data: dict[str, Any]) -> None:
    account = structure(data, Account)
    for text in (repr(account), str(account), f"{account}", repr([account])):
        assert API_KEY not in text
        assert "Account" in text
    assert "admin" in repr(account)


def test_account_is_frozen_and_slotted() -> None:
    account = structure(CC_LOGIN_DATA, Account)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        account.api_key = "other"  # type: ignore[misc]
    assert not hasattr(account, "__dict__")


def test_account_is_exported_at_top_level() -> None:
    assert PublicAccount is Account


# --------------------------------------------------------------------------- hostile values

NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    "value",
    [1e20, -1e20, NAN, INF, -INF, 10**400, -(10**400), 253_402_300_800, 2**63],
    ids=["1e20", "-1e20", "nan", "inf", "-inf", "huge", "-huge", "year-10000", "2**63"],
)
def test_a_timestamp_no_datetime_can_hold_is_unreadable(value: float) -> None:
    if value < 0 and (isinstance(value, int) or math.isfinite(value)):
        assert parse_datetime(value) is None  # "no time", as 0 and below always were
    else:
        with pytest.raises(ValueError, match="not a time"):
            parse_datetime(value)
    cdr = structure({"id": "c1", "time_started": value, "ringAt": value}, Cdr)
    assert (cdr.started_at, cdr.ringing_at) == (None, None)
    assert cdr.raw["time_started"] is value  # raw keeps what was sent


def test_timestamps_within_range_still_read() -> None:
    assert parse_datetime(1_700_000_000) == datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)
    assert parse_datetime(253_402_300_799) == datetime(
        9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc
    )


@pytest.mark.parametrize(
    "value",
    ["1e400", "-1e400", "nan", "inf", "Infinity", 1e400, NAN, 1.5, "9" * 5000, "1_0x", [], {}],
)
def test_an_int_field_that_is_no_int_is_none(value: object) -> None:
    cdr = structure({"id": "c1", "duration": value, "billsec": value}, Cdr)
    assert (cdr.duration, cdr.billsec) == (None, None)
    with pytest.raises(TransportError):
        structure(value, int)


def test_huge_ints_that_are_ints_stay_ints() -> None:
    assert structure({"duration": 10**400}, Cdr).duration == 10**400
    assert structure({"duration": "1e20"}, Cdr).duration == 10**20
    assert structure({"duration": 1e20}, Cdr).duration == 10**20


@pytest.mark.parametrize(
    "value",
    ["nan", "inf", "-inf", "1e400", NAN, INF, -INF, 10**400],
    ids=["nan-text", "inf-text", "-inf-text", "1e400-text", "nan", "inf", "-inf", "huge-int"],
)
def test_a_non_finite_float_is_unreadable(value: object) -> None:
    with pytest.raises(TransportError, match="not a finite number"):
        structure(value, float)
    assert structure({"speed": value}, _Speed).speed is None


@attrs.frozen
class _Speed:
    speed: float | None = None
    flag: bool | None = None
    name: str | None = None
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@pytest.mark.parametrize("value", [NAN, INF, -INF])
def test_non_finite_floats_are_no_bool_and_no_string(value: float) -> None:
    model = structure({"flag": value, "name": value}, _Speed)
    assert (model.flag, model.name) == (None, None)
    assert model.raw == {"flag": value, "name": value}


def test_a_required_field_with_a_hostile_value_fails_the_record_as_a_transport_error() -> None:
    sample = {"campaign_id": "c", "name": "n", "content": "x", "voice": "north-f-01"}
    with pytest.raises(TransportError, match="OtpTemplate"):
        structure({**sample, "speed": "nan"}, OtpTemplate)
    with pytest.raises(TransportError, match="Report"):
        structure({"call_id": 10**5000}, Report)  # str() of it fails past 4,300 digits
    assert structure({**sample, "speed": "1.5"}, OtpTemplate).speed == 1.5


def test_json_in_a_string_nested_past_the_recursion_limit_is_unreadable() -> None:
    report = structure({"call_id": "r1", "param": "[" * 100_000}, Report)
    assert report.param == {}
    assert structure({"call_id": "r1", "param": '{"a": 1}'}, Report).param == {"a": 1}


def test_an_error_message_never_quotes_a_huge_value_whole() -> None:
    with pytest.raises(TransportError) as info:
        structure("x" * 1_000_000, int)
    assert len(str(info.value)) < 500
    with pytest.raises(TransportError) as info:
        structure(10**5000, float)
    assert "bits" in str(info.value)
