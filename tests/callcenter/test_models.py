"""Call Center models against the spec's samples and the quirks of API.md section 6."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tel4vn_async._convert import structure
from tel4vn_async.models.callcenter import (
    CallDirection,
    CallStatus,
    Cdr,
    Customer,
    CustomerStatus,
    Event,
    EventType,
    ImportResult,
    LiveCall,
    UserStatus,
)
from tel4vn_async.testing._cdr_data import cdr_facts, cdr_record

DEFAULT_SAMPLE = {
    "id": "01b7d166-b564-42ec-80a1-4ad343225934 ",
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
FLEX_SAMPLE = {
    "cdrId": "0c1d6ff3-c9b0-4fd1-8f5c-7be53f5f6973",
    "sip_call_id": "80bea701-49de-123a-89ab-fa163e3b9b38",
    "recordFile": "http://recording.demo/0c1d6ff3-c9b0-4fd1-8f5c-7be53f5f6973",
    "extensionId": "101",
    "to": "0899888999",
    "hangupAt": "2021-06-17 14:14:56",
    "answeredAt": "2021-06-17 14:14:33",
    "ringAt": "2021-06-17 14:14:36",
    "dialAt": "2021-06-17 14:14:31",
    "status": "answered",
    "duration": 25,
    "direction": "outbound",
    "billsec": 23,
    "customerId": "KH1",
}


def test_cdr_default_mapping_sample() -> None:
    cdr = structure(DEFAULT_SAMPLE, Cdr)
    assert cdr.mapping == "default"
    assert cdr.id == "01b7d166-b564-42ec-80a1-4ad343225934"  # trailing space stripped
    assert cdr.raw["id"].endswith(" ")
    assert cdr.direction is CallDirection.UNKNOWN  # the integer 3
    assert cdr.status is CallStatus.BUSY
    assert cdr.recording_url is None
    assert cdr.receive_dest is None
    assert cdr.answered_at is None
    assert cdr.started_at == datetime(2021, 2, 18, 17, 20, 58)  # naive, never shifted
    assert cdr.ended_at == datetime(2021, 2, 18, 17, 21, 5)
    assert (cdr.extension, cdr.from_number, cdr.to_number) == ("101", "19001919", "0899888999")
    assert (cdr.customer_id, cdr.cause, cdr.duration) == ("KH1", "NORMAL_CLEARING", 7)


def test_cdr_flex_mapping_sample() -> None:
    cdr = structure(FLEX_SAMPLE, Cdr)
    assert cdr.mapping == "flex"
    assert cdr.id == "0c1d6ff3-c9b0-4fd1-8f5c-7be53f5f6973"
    assert cdr.extension == "101"
    assert cdr.to_number == "0899888999"
    assert cdr.customer_id == "KH1"
    assert cdr.recording_url == FLEX_SAMPLE["recordFile"]
    assert cdr.started_at == datetime(2021, 6, 17, 14, 14, 31)
    assert cdr.ringing_at == datetime(2021, 6, 17, 14, 14, 36)
    assert cdr.answered_at == datetime(2021, 6, 17, 14, 14, 33)
    assert cdr.ended_at == datetime(2021, 6, 17, 14, 14, 56)
    assert (cdr.status, cdr.direction) == (CallStatus.ANSWERED, CallDirection.OUTBOUND)
    assert (cdr.duration, cdr.billsec) == (25, 23)


@pytest.mark.parametrize("i", range(12))
def test_both_mappings_of_one_record_agree(i: int) -> None:
    default = structure(cdr_record(i, "default"), Cdr)
    flex = structure(cdr_record(i, "flex"), Cdr)
    facts = cdr_facts(i)
    for cdr in (default, flex):
        assert cdr.id == facts["id"]
        assert cdr.started_at == facts["started"]
        assert cdr.answered_at == facts["answered"]
        assert cdr.ended_at == facts["ended"]
        assert cdr.duration == facts["duration"]
        assert cdr.extension == facts["extension"]
        assert cdr.status is CallStatus(facts["status"])
    assert (default.mapping, flex.mapping) == ("default", "flex")


def test_cdr_quirks_never_fatal() -> None:
    record = {
        **DEFAULT_SAMPLE,
        "duration": " 12 ",
        "billsec": "9",
        "status": "SOMETHING_NEW",
        "direction": "sideways",
        "time_answered": "0001-01-01T00:00:00Z",
        "time_ended": "not a time",
        "brand_new_field": {"x": 1},
    }
    cdr = structure(record, Cdr)
    assert (cdr.duration, cdr.billsec) == (12, 9)
    assert cdr.status is CallStatus.UNKNOWN
    assert cdr.direction is CallDirection.UNKNOWN
    assert cdr.answered_at is None
    assert cdr.ended_at is None  # unreadable: None, and raw keeps it
    assert cdr.raw["time_ended"] == "not a time"
    assert cdr.raw["brand_new_field"] == {"x": 1}
    assert cdr.started_at == datetime(2021, 2, 18, 17, 20, 58)


def test_iso_times_are_aware() -> None:
    cdr = structure({"id": "x", "time_started": "2024-01-02T03:04:05.123Z"}, Cdr)
    assert cdr.started_at == datetime(2024, 1, 2, 3, 4, 5, 123000, tzinfo=timezone.utc)


def test_customer_sample() -> None:
    customer = structure(
        {
            "campaign_id": "aaaaaaaa-1111-2222-3333-eeeeeeee",
            "contract_number": "ABC123",
            "created_at": "2021-07-15T12:50:23.805319Z",
            "customer_code": "KH01",
            "customer_id": "dddddddd-1111-2222-3333-eeeeeeee ",
            "customer_name": "Khach Hang 01",
            "phone_number": "0899888998",
            "status": "NEW",
            "updated_at": "0001-01-01T00:00:00Z",
        },
        Customer,
    )
    assert customer.customer_id == "dddddddd-1111-2222-3333-eeeeeeee"
    assert customer.status is CustomerStatus.NEW
    assert customer.created_at == datetime(2021, 7, 15, 12, 50, 23, 805319, tzinfo=timezone.utc)
    assert customer.updated_at is None
    assert structure({"status": "no-answered"}, Customer).status is (CustomerStatus.NO_ANSWERED)
    assert structure({"status": "archived"}, Customer).status is CustomerStatus.UNKNOWN


def test_user_status_bool_strings() -> None:
    data = {"agent_name": "A", "ext_loggedin": "false", "extension": "101", "user_id": " u1 "}
    status = structure(data, UserStatus)
    assert status.ext_loggedin is False
    assert status.user_uuid == "u1"
    assert structure({"ext_loggedin": "true"}, UserStatus).ext_loggedin is True


def test_event_hides_its_callback_key() -> None:
    event = structure(
        {"event_domain_uuid": "e1", "event_name": "HANGUP", "callback_apikey": "s3cret"}, Event
    )
    assert event.event_name is EventType.HANGUP
    assert event.id == "e1"
    assert event.callback_apikey == "s3cret"
    assert "s3cret" not in repr(event)
    assert structure({"event_name": "missed"}, Event).event_name is EventType.UNKNOWN


def test_live_call_and_import_result() -> None:
    call = structure(
        {"call_id": "c1", "created_time": "2021-06-08 17:37:37", "direction": "outbound"},
        LiveCall,
    )
    assert call.created_time == datetime(2021, 6, 8, 17, 37, 37)
    assert call.direction is CallDirection.OUTBOUND
    result = structure({"fail": [], "success": ["TEL4VN_Test"]}, ImportResult)
    assert (result.success, result.fail) == (["TEL4VN_Test"], [])


def test_models_are_frozen_and_slotted() -> None:
    cdr = structure(FLEX_SAMPLE, Cdr)
    with pytest.raises(AttributeError):
        cdr.id = "other"  # type: ignore[misc]
    assert not hasattr(cdr, "__dict__")
