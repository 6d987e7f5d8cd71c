"""pbx.reports against FakeTel4vn: paging with no total, filters, the record's quirks."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from tel4vn_async import AutocallClient, NotFoundError, ServerError, ValidationError
from tel4vn_async._convert import structure
from tel4vn_async.models.autocall import Report
from tel4vn_async.pagination import Page
from tel4vn_async.testing import FakeTel4vn

from .test_calls import OTP, TTS


def offsets(fake: FakeTel4vn) -> list[tuple[str, str]]:
    return [(r.query["offset"], r.query["limit"]) for r in fake.received("/v1/report", "GET")]


async def test_list_stops_on_a_short_page_without_an_extra_request(
    fake: FakeTel4vn, pbx: AutocallClient
) -> None:
    seeded = fake.seed_reports(25)

    reports = [r async for r in pbx.reports.list(page_size=10)]

    assert [r.call_id for r in reports] == [s["call_id"] for s in seeded]
    assert offsets(fake) == [("0", "10"), ("10", "10"), ("20", "10")]


async def test_list_stops_on_an_empty_page(fake: FakeTel4vn, pbx: AutocallClient) -> None:
    fake.seed_reports(20)
    assert len([r async for r in pbx.reports.list(page_size=10)]) == 20
    assert offsets(fake) == [("0", "10"), ("10", "10"), ("20", "10")]


async def test_an_empty_listing_is_one_request(fake: FakeTel4vn, pbx: AutocallClient) -> None:
    assert [r async for r in pbx.reports.list()] == []
    assert offsets(fake) == [("0", "100")]


async def test_await_gives_the_first_page(fake: FakeTel4vn, pbx: AutocallClient) -> None:
    fake.seed_reports(5)
    page = await pbx.reports.list(page_size=3)
    assert isinstance(page, Page)
    assert len(page.items) == 3
    assert page.total is None
    assert (page.limit, page.offset) == (3, 0)
    assert fake.count("/v1/report") == 1


async def test_list_filters_by_caller_and_callee(fake: FakeTel4vn, pbx: AutocallClient) -> None:
    fake.seed_reports(3)
    fake.seed_reports(2, caller="02873001234", callee="0911222333")

    found = [r async for r in pbx.reports.list(caller="02873001234", callee="0911222333")]

    assert [(r.caller, r.callee) for r in found] == [("02873001234", "0911222333")] * 2
    assert fake.received("/v1/report")[0].query == {
        "limit": "100",
        "offset": "0",
        "caller": "02873001234",
        "callee": "0911222333",
    }


async def test_reports_of_placed_calls_decode_their_quirks(
    fake: FakeTel4vn, pbx: AutocallClient
) -> None:
    otp = await pbx.calls.otp(**OTP)  # ends in 1: the fake's callee never answers
    tts = await pbx.calls.tts(**TTS, callee="0987654322")

    [first, second] = [r async for r in pbx.reports.list()]

    assert first.call_id == otp.call_id
    assert first.type == "OTP"
    assert first.param == {"template_name": "otp_demo", "code_otp": "123ABC"}
    assert first.answer_time is None  # sent as ""
    assert first.keypress is None  # sent as null
    assert first.billsec == 0
    assert first.create_time is not None
    assert first.create_time.tzinfo is not None
    assert second.call_id == tts.call_id
    assert second.type == "VOICE"
    assert second.param["customer_name"] == "Nguyễn Văn A"
    assert second.keypress == "1"
    assert second.call_time == 1  # sent as the string "1"
    assert second.answer_time is not None
    assert second.answer_time.tzinfo is timezone.utc


async def test_get_one_report(fake: FakeTel4vn, pbx: AutocallClient) -> None:
    result = await pbx.calls.otp(**OTP)

    report = await pbx.reports.get(result.call_id)

    assert report.call_id == result.call_id
    assert report.callee == "0987654321"
    assert fake.received(f"/v1/report/{result.call_id}", "GET")


async def test_get_an_unknown_call_is_not_found(fake: FakeTel4vn, pbx: AutocallClient) -> None:
    with pytest.raises(NotFoundError):
        await pbx.reports.get("no-such-call")


async def test_get_an_empty_data_is_not_found(fake: FakeTel4vn, pbx: AutocallClient) -> None:
    fake.inject("/v1/report/x", status=200, body={"data": None})
    with pytest.raises(NotFoundError):
        await pbx.reports.get("x")


async def test_reading_reports_is_retried_on_5xx(fake: FakeTel4vn, pbx: AutocallClient) -> None:
    fake.seed_reports(2)
    fake.inject("/v1/report", status=502, times=2)
    assert len([r async for r in pbx.reports.list()]) == 2
    assert fake.count("/v1/report") == 3

    fake.inject("/v1/report", status=500, times=10)
    with pytest.raises(ServerError):
        await pbx.reports.list()
    assert fake.count("/v1/report") == 3 + 4  # max_retries=3


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"page_size": 0}, "page_size"),
        ({"page_size": 1001}, "page_size"),
        ({"page_size": True}, "page_size"),
        ({"caller": "abc"}, "caller"),
        ({"callee": "1"}, "callee"),
    ],
)
async def test_list_rejects_bad_input_before_sending(
    fake: FakeTel4vn, pbx: AutocallClient, kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as info:
        pbx.reports.list(**kwargs)
    assert info.value.field == field
    assert len(fake.requests) == 0


@pytest.mark.parametrize("call_id", ["", "  ", None])
async def test_get_rejects_an_empty_call_id(
    fake: FakeTel4vn, pbx: AutocallClient, call_id: Any
) -> None:
    with pytest.raises(ValidationError) as info:
        await pbx.reports.get(call_id)
    assert info.value.field == "call_id"
    assert len(fake.requests) == 0


def test_the_spec_sample_record() -> None:
    sample = {
        "answer_time": "2021-05-05T08:12:40Z",
        "billsec": 9,
        "call_id": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeee ",
        "call_time": 1,
        "caller": "0123456789",
        "callee": "0987654321",
        "campaign_id": "eeeeeeee-dddd-cccc-bbbb-aaaaaaaa",
        "create_time": "2021-05-05T08:12:34Z",
        "duration": 12,
        "end_time": "2021-05-05T08:12:43Z",
        "hangup_cause": "NORMAL_CLEARING",
        "keypress": "2",
        "param": '{"customer_name":"Van A","template_name":"thong_bao"}',
        "start_time": "2021-05-05T08:12:34Z",
        "type": "VOICE",
        "user_id": "11111111-bbbb-cccc-dddd-22222222",
        "new_field": "kept",
    }
    report = structure(sample, Report)
    assert report.call_id == "aaaaaaaa-bbbb-cccc-dddd-eeeeeeee"
    assert report.param == {"customer_name": "Van A", "template_name": "thong_bao"}
    assert report.answer_time == datetime(2021, 5, 5, 8, 12, 40, tzinfo=timezone.utc)
    assert report.keypress == "2"
    assert report.raw["new_field"] == "kept"
