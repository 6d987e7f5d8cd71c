"""Black-box acceptance tests of API.md sections 4 (listings), 5 (resources), 6 (models).

Every test talks to a scripted aiohttp.web server (``tests/scripted_server.py``) that
answers with the vendor spec's literal sample bodies (and the variants of spec/NOTES.md)
and records each request, so the tests assert exactly what the SDK sent. Only the public
API is used.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp import web

from tel4vn_async import (
    APIError,
    AsyncPager,
    AutocallClient,
    BadRequestError,
    CallCenterClient,
    CallRejectedError,
    CallStatus,
    Cdr,
    Customer,
    CustomerStatus,
    EventType,
    NotFoundError,
    Page,
    PressOption,
    QueueCustomer,
    Report,
    Sound,
    UserBusyError,
    UserNotRegisteredError,
    UserStatus,
    ValidationError,
    Voice,
)

from ..scripted_server import CC_TOKEN, Handler, Rec, Reply, Responder, ScriptedServer, no_route

T = TypeVar("T")

# --------------------------------------------------------------------------- test server


def spec_tokens(token: str) -> Handler:
    """The token endpoints answering ``token`` in each family's reference shape."""

    async def answer(request: web.Request) -> web.StreamResponse:
        if request.path == CC_TOKEN:
            data: dict[str, Any] = {"token": token, "expired_in": 3600}
            return web.json_response({"code": 200, "content": "successfully", "data": data})
        data = {"access_token": token, "expire_at": int(time.time()) + 3600}
        return web.json_response({"data": {**data, "token_type": "Bearer"}})

    return answer


@pytest.fixture
async def server() -> AsyncIterator[ScriptedServer]:
    """A spec-sample server: every request the test did not script is answered 418."""
    async with ScriptedServer(fallback=no_route) as srv:
        srv.token_handler = spec_tokens("t")
        yield srv


@pytest.fixture
async def cc(server: ScriptedServer) -> AsyncIterator[CallCenterClient]:
    async with CallCenterClient(server.url, api_key="key", max_retries=0) as client:
        yield client


@pytest.fixture
async def pbx(server: ScriptedServer) -> AsyncIterator[AutocallClient]:
    async with AutocallClient(server.url, api_key="key", max_retries=0) as client:
        yield client


async def collect(pager: AsyncPager[T]) -> list[T]:
    return [item async for item in pager]


async def collect_bounded(pager: AsyncPager[T], bound: int) -> list[T]:
    """Items of ``pager``, failing (not hanging) if it yields more than ``bound``."""
    out: list[T] = []
    async for item in pager:
        out.append(item)
        if len(out) > bound:
            pytest.fail(f"the pager yielded more than {bound} items: it does not stop")
    return out


# --------------------------------------------------------------------------- spec samples

CDR_DEFAULT_1: dict[str, Any] = {
    "id": "ad4c9b90-c071-405a-9723-980d2e5e1623",
    "sip_call_id": "112233aabbccddee..",
    "cause": "NORMAL_CLEARING",
    "duration": 11,
    "direction": 3,
    "recording_url": "http://recording.demo/ad4c9b90-c071-405a-9723-980d2e5e1623",
    "extension": "101",
    "from_number": "19001919",
    "to_number": "0899888999",
    "receive_dest": "",
    "time_started": "2021-02-17 17:30:35",
    "time_answered": "2021-02-17 17:30:43",
    "time_ended": "2021-02-17 17:30:46",
    "status": "ANSWERED",
    "customer_id": "KH1",
}
CDR_DEFAULT_2: dict[str, Any] = {
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
CDR_FLEX_1: dict[str, Any] = {
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
CDR_FLEX_2: dict[str, Any] = {
    "cdrId": "b689a2e3-0e12-47f4-8dc7-516c1dd10828",
    "sip_call_id": "c92973c8-49e1-123a-89ab-fa163e3b9b38",
    "recordFile": "",
    "extensionId": "101",
    "to": "0899888999",
    "hangupAt": "2021-06-17 14:38:10",
    "answeredAt": "",
    "ringAt": "2021-06-17 14:38:05",
    "dialAt": "2021-06-17 14:38:01",
    "status": "busy",
    "duration": 9,
    "direction": "outbound",
    "billsec": 0,
    "customerId": "KH1",
}
CDR_LIST_DEFAULT = {"data": [CDR_DEFAULT_1, CDR_DEFAULT_2], "limit": 10, "offset": 10, "total": 35}
CDR_LIST_FLEX = {"data": [CDR_FLEX_1, CDR_FLEX_2], "limit": 10, "offset": 10, "total": 35}

EVENT: dict[str, Any] = {
    "event_domain_uuid": "avavavav-1111-2222-3333-eeeeeeee",
    "domain_uuid": "dddddddd-1111-2222-3333-eeeeeeee",
    "domain_name": "test.tel4vn.com",
    "event_name": "hangup",
    "callback_url": "https://webhook.demo/",
    "callback_apikey": "foo",
}
LIVE_CALL: dict[str, Any] = {
    "call_id": "01b7d166-b564-42ec-80a1-4ad343225934",
    "context": "test.tel4vn.com",
    "created_time": "2021-06-08 17:37:37",
    "destination": "0899123456",
    "direction": "outbound",
    "ip": "1.2.3.4",
    "source": "101",
    "state": "CS_EXECUTE",
}
CALL_ID = "01b7d166-b564-42ec-80a1-4ad343225934"
C2C_OK = {"status": "success", "call_id": CALL_ID}
C2C_FAIL = {"status": "fail", "error": "USER_NOT_REGISTERED"}
C2C_FAIL_ASYNC = {
    "status": "fail",
    "message": "User not registered extension with Softphone or IP Phone",
    "error": "USER_NOT_REGISTERED",
}
C2C_V2_OK = {"code": "0", "call_id": "50038035-0717-40f1-b7af-eb92021b012e", "status": "success"}
C2C_V2_FAIL = {
    "code": "1",
    "status": "fail",
    "message": "User not registered extension with Softphone or IP Phone",
    "error": "USER_NOT_REGISTERED",
}
CUSTOMER_1: dict[str, Any] = {
    "campaign_id": "aaaaaaaa-1111-2222-3333-eeeeeeee",
    "contract_number": "ABC123",
    "created_at": "2021-07-15T12:50:23.805319Z",
    "customer_code": "KH01",
    "customer_id": "dddddddd-1111-2222-3333-eeeeeeee",
    "customer_name": "Khach Hang 01",
    "phone_number": "0899888998",
    "status": "NEW",
    "updated_at": "0001-01-01T00:00:00Z",
}
CUSTOMER_2: dict[str, Any] = {
    "campaign_id": "aaaaaaaa-1111-2222-3333-eeeeeeee",
    "contract_number": "DEF456",
    "created_at": "2021-07-15T12:50:24.565573Z",
    "customer_code": "KH01",
    "customer_id": "gggggggg-1111-2222-3333-eeeeeeee",
    "customer_name": "Khach Hang 02",
    "phone_number": "0899888999",
    "status": "NEW",
    "updated_at": "0001-01-01T00:00:00Z",
}
CUSTOMER_LIST: dict[str, Any] = {
    "code": 200,
    "content": "successfully",
    "data": [CUSTOMER_1, CUSTOMER_2],
    "limit": 10,
    "offset": 0,
    "total": 200,
}
USER_STATUS: dict[str, Any] = {
    "code": 200,
    "content": "successfully",
    "data": {
        "agent_name": "Test User 01",
        "ext_loggedin": "false",
        "extension": "101",
        "user_uuid": "aaaaaaaa-1111-2222-3333-eeeeeeee",
        "username": "test.user01",
    },
}
REPORT: dict[str, Any] = {
    "answer_time": "2021-05-05T08:12:40Z",
    "billsec": 9,
    "call_id": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeee",
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
}
OK_CODE = {"code": 200, "content": "successfully"}
QUEUE_NOT_FOUND = {"code": 404, "content": "queue not found"}
MSG_OK = {"message": "successfully"}
UTC = timezone.utc
LONG_TOKEN = "eyJhbGciOiJSU0EtT0FFUC0yNTYiLCJlbmMiOiJBMjU2R0NNIn0.dGVzdA"


def naive(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, sec: int = 0
) -> datetime:
    """A zone-less datetime: the wall clock the spec's ``YYYY-MM-DD HH:MM:SS`` shows."""
    return datetime(year, month, day, hour, minute, sec)


# =========================================================================== section 5: events


async def test_events_list_returns_spec_fields(
    server: ScriptedServer, cc: CallCenterClient
) -> None:
    server.on("GET", "/v1/event", {"data": [EVENT, {**EVENT, "event_name": "cdr", "x": 1}]})
    events = await cc.events.list()
    assert isinstance(events, list)
    assert len(events) == 2
    ev = events[0]
    assert ev.event_domain_uuid == "avavavav-1111-2222-3333-eeeeeeee"
    assert ev.domain_uuid == "dddddddd-1111-2222-3333-eeeeeeee"
    assert ev.domain_name == "test.tel4vn.com"
    assert ev.event_name == EventType.HANGUP
    assert ev.callback_url == "https://webhook.demo/"
    assert ev.callback_apikey == "foo"
    assert events[1].event_name == EventType.CDR
    assert events[1].raw["x"] == 1
    assert [(r.method, r.path) for r in server.requests] == [("GET", "/v1/event")]
    assert server.requests[0].auth == "Bearer t"


@pytest.mark.parametrize("event", [EventType.RINGING, "ringing", "RINGING"])
async def test_events_create_sends_spec_body(
    server: ScriptedServer, cc: CallCenterClient, event: EventType | str
) -> None:
    server.on("POST", "/v1/event", {"created": True})
    created = await cc.events.create("https://webhook.demo/", event, callback_apikey="foo")
    assert created
    [rec] = server.requests
    assert rec.body == {
        "callback_url": "https://webhook.demo/",
        "callback_apikey": "foo",
        "event": "ringing",
    }


async def test_events_create_without_apikey(server: ScriptedServer, cc: CallCenterClient) -> None:
    server.on("POST", "/v1/event", {"created": True})
    await cc.events.create(callback_url="https://webhook.demo/", event="cdr")
    [rec] = server.requests
    assert rec.body.get("callback_url") == "https://webhook.demo/"
    assert rec.body.get("event") == "cdr"
    assert rec.body.get("callback_apikey") in (None, "")


async def test_events_create_unknown_event_not_sent(
    server: ScriptedServer, cc: CallCenterClient
) -> None:
    with pytest.raises(ValidationError):
        await cc.events.create("https://webhook.demo/", "create")
    assert server.nothing_sent


async def test_events_delete(server: ScriptedServer, cc: CallCenterClient) -> None:
    server.on("DELETE", "/v1/event/eeeeeeee-1111-2222-3333-eeeeeeee", {"deleted": True})
    await cc.events.delete("eeeeeeee-1111-2222-3333-eeeeeeee")
    assert [(r.method, r.path) for r in server.requests] == [
        ("DELETE", "/v1/event/eeeeeeee-1111-2222-3333-eeeeeeee")
    ]


# =========================================================================== section 6: Cdr


def _check_default_1(cdr: Cdr) -> None:
    assert isinstance(cdr, Cdr)
    assert cdr.mapping == "default"
    assert cdr.id == "ad4c9b90-c071-405a-9723-980d2e5e1623"
    assert cdr.sip_call_id == "112233aabbccddee.."
    assert cdr.cause == "NORMAL_CLEARING"
    assert cdr.duration == 11
    assert cdr.billsec is None
    assert cdr.status == CallStatus.ANSWERED
    assert cdr.extension == "101"
    assert cdr.from_number == "19001919"
    assert cdr.to_number == "0899888999"
    assert cdr.customer_id == "KH1"
    assert cdr.recording_url == "http://recording.demo/ad4c9b90-c071-405a-9723-980d2e5e1623"
    assert cdr.receive_dest is None
    assert cdr.started_at == naive(2021, 2, 17, 17, 30, 35)
    assert cdr.started_at is not None
    assert cdr.started_at.tzinfo is None
    assert cdr.ringing_at is None
    assert cdr.answered_at == naive(2021, 2, 17, 17, 30, 43)
    assert cdr.ended_at == naive(2021, 2, 17, 17, 30, 46)
    assert cdr.raw == CDR_DEFAULT_1
    assert cdr.raw["direction"] == 3


def _check_default_2(cdr: Cdr) -> None:
    assert cdr.mapping == "default"
    assert cdr.id == "01b7d166-b564-42ec-80a1-4ad343225934"  # trailing space stripped
    assert cdr.status == CallStatus.BUSY
    assert cdr.recording_url is None  # "" -> None
    assert cdr.answered_at is None  # "" -> None
    assert cdr.started_at == naive(2021, 2, 18, 17, 20, 58)
    assert cdr.ended_at == naive(2021, 2, 18, 17, 21, 5)
    assert cdr.duration == 7


def _check_flex_1(cdr: Cdr) -> None:
    assert isinstance(cdr, Cdr)
    assert cdr.mapping == "flex"
    assert cdr.id == "0c1d6ff3-c9b0-4fd1-8f5c-7be53f5f6973"
    assert cdr.sip_call_id == "80bea701-49de-123a-89ab-fa163e3b9b38"
    assert cdr.recording_url == "http://recording.demo/0c1d6ff3-c9b0-4fd1-8f5c-7be53f5f6973"
    assert cdr.extension == "101"
    assert cdr.to_number == "0899888999"
    assert cdr.from_number is None
    assert cdr.customer_id == "KH1"
    assert cdr.status == CallStatus.ANSWERED
    assert cdr.direction is not None
    assert str(cdr.direction.value if hasattr(cdr.direction, "value") else cdr.direction) == (
        "outbound"
    )
    assert cdr.duration == 25
    assert cdr.billsec == 23
    assert cdr.started_at == naive(2021, 6, 17, 14, 14, 31)
    assert cdr.ringing_at == naive(2021, 6, 17, 14, 14, 36)
    assert cdr.answered_at == naive(2021, 6, 17, 14, 14, 33)
    assert cdr.ended_at == naive(2021, 6, 17, 14, 14, 56)
    assert cdr.ended_at is not None
    assert cdr.ended_at.tzinfo is None
    assert cdr.raw == CDR_FLEX_1


def _check_flex_2(cdr: Cdr) -> None:
    assert cdr.mapping == "flex"
    assert cdr.id == "b689a2e3-0e12-47f4-8dc7-516c1dd10828"
    assert cdr.recording_url is None
    assert cdr.answered_at is None
    assert cdr.billsec == 0
    assert cdr.status == CallStatus.BUSY
    assert cdr.ringing_at == naive(2021, 6, 17, 14, 38, 5)


async def test_cdrs_list_await_gives_first_page_default(
    server: ScriptedServer, cc: CallCenterClient
) -> None:
    server.on("GET", "/v2/cdr", CDR_LIST_DEFAULT)
    page = await cc.cdrs.list(page_size=10)
    assert isinstance(page, Page)
    assert page.total == 35
    assert page.limit == 10
    assert page.offset == 10
    assert len(page.items) == 2
    _check_default_1(page.items[0])
    _check_default_2(page.items[1])
    [rec] = server.requests
    assert rec.method == "GET"
    assert rec.path == "/v2/cdr"
    assert rec.query.get("limit") == "10"
    assert "page" not in rec.query  # scroll mode, not pagination mode


async def test_cdrs_list_flex_mapping(server: ScriptedServer, cc: CallCenterClient) -> None:
    server.on("GET", "/v2/cdr", CDR_LIST_FLEX)
    page = await cc.cdrs.list()
    assert page.total == 35
    _check_flex_1(page.items[0])
    _check_flex_2(page.items[1])


async def test_cdrs_get_default_and_flex(server: ScriptedServer, cc: CallCenterClient) -> None:
    server.on("GET", "/v2/cdr/01b7d166-b564-42ec-80a1-4ad343225934", CDR_DEFAULT_2)
    server.on("GET", "/v2/cdr/80bea701-49de-123a-89ab-fa163e3b9b38", CDR_FLEX_1)
    cdr = await cc.cdrs.get("01b7d166-b564-42ec-80a1-4ad343225934")
    _check_default_2(cdr)
    flex = await cc.cdrs.get("80bea701-49de-123a-89ab-fa163e3b9b38")  # by sip_call_id
    _check_flex_1(flex)
    assert [(r.method, r.path) for r in server.requests] == [
        ("GET", "/v2/cdr/01b7d166-b564-42ec-80a1-4ad343225934"),
        ("GET", "/v2/cdr/80bea701-49de-123a-89ab-fa163e3b9b38"),
    ]


async def test_cdrs_get_wrapped_in_data(server: ScriptedServer, cc: CallCenterClient) -> None:
    server.on("GET", "/v2/cdr/x1", {"code": 200, "content": "successfully", "data": CDR_FLEX_1})
    cdr = await cc.cdrs.get("x1")
    assert cdr.id == "0c1d6ff3-c9b0-4fd1-8f5c-7be53f5f6973"
    assert cdr.mapping == "flex"


async def test_cdrs_get_not_found(server: ScriptedServer, cc: CallCenterClient) -> None:
    server.on("GET", "/v2/cdr/nope", Reply(404, {"code": 404, "content": "Not Found"}))
    with pytest.raises(NotFoundError):
        await cc.cdrs.get("nope")


async def test_cdr_quirks_strings_unknowns_and_time_formats(
    server: ScriptedServer, cc: CallCenterClient
) -> None:
    record = {
        **CDR_DEFAULT_1,
        "id": "  abc  ",
        "duration": "11",
        "billsec": "5",
        "direction": "inbound",
        "status": "SOMETHING-NEW",
        "time_started": "2021-02-17T10:30:35Z",
        "time_answered": "2021-02-17T17:30:43.123+07:00",
        "time_ended": "0001-01-01T00:00:00Z",
        "brand_new_field": {"nested": True},
    }
    server.on("GET", "/v2/cdr/abc", record)
    cdr = await cc.cdrs.get("abc")
    assert cdr.id == "abc"
    assert cdr.duration == 11
    assert cdr.billsec == 5
    assert cdr.status != CallStatus.ANSWERED
    assert cdr.raw["status"] == "SOMETHING-NEW"
    assert cdr.raw["brand_new_field"] == {"nested": True}
    assert cdr.started_at == datetime(2021, 2, 17, 10, 30, 35, tzinfo=UTC)
    assert cdr.started_at is not None
    assert cdr.started_at.tzinfo is not None
    assert cdr.answered_at == datetime(
        2021, 2, 17, 17, 30, 43, 123000, tzinfo=timezone(timedelta(hours=7))
    )
    assert cdr.answered_at is not None
    assert cdr.answered_at.utcoffset() == timedelta(hours=7)
    assert cdr.ended_at is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2021-02-17 17:30:35", naive(2021, 2, 17, 17, 30, 35)),
        ("2021-02-17T17:30:35Z", datetime(2021, 2, 17, 17, 30, 35, tzinfo=UTC)),
        ("2021-02-17T17:30:35.5Z", datetime(2021, 2, 17, 17, 30, 35, 500000, tzinfo=UTC)),
        ("2021-02-17T17:30:35.123456Z", datetime(2021, 2, 17, 17, 30, 35, 123456, tzinfo=UTC)),
        (
            "2021-02-17T17:30:35+07:00",
            datetime(2021, 2, 17, 17, 30, 35, tzinfo=timezone(timedelta(hours=7))),
        ),
        ("", None),
        ("0001-01-01T00:00:00Z", None),
        ("1970-01-01T08:00:00+08:00", None),
    ],
)
async def test_cdr_time_formats(
    server: ScriptedServer, cc: CallCenterClient, value: str, expected: datetime | None
) -> None:
    server.on("GET", "/v2/cdr/t", {**CDR_FLEX_1, "dialAt": value})
    cdr = await cc.cdrs.get("t")
    assert cdr.started_at == expected
    if expected is not None:
        assert cdr.started_at is not None
        assert (cdr.started_at.tzinfo is None) == (expected.tzinfo is None)
        assert cdr.started_at.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize("key", ["time_ringing", "time_ringging"])
async def test_cdr_ringing_field_name_drift(
    server: ScriptedServer, cc: CallCenterClient, key: str
) -> None:
    server.on("GET", "/v2/cdr/r", {**CDR_DEFAULT_1, key: "2021-02-17 17:30:37"})
    cdr = await cc.cdrs.get("r")
    assert cdr.ringing_at == naive(2021, 2, 17, 17, 30, 37)
    assert cdr.mapping == "default"


def test_models_are_frozen_slotted_attrs() -> None:
    import attrs

    from tel4vn_async import (
        CallControlResult,
        CallResult,
        ClickToCallResult,
        Event,
        ImportResult,
        LiveCall,
    )

    for cls in (
        Cdr,
        Customer,
        Report,
        UserStatus,
        Event,
        LiveCall,
        ImportResult,
        CallResult,
        ClickToCallResult,
        CallControlResult,
    ):
        assert attrs.has(cls), cls
        assert "__slots__" in cls.__dict__, cls
    cdr = Cdr(id="x")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        cdr.id = "y"  # type: ignore[misc]


# =========================================================================== section 4: CDR paging


def _cdr(i: int) -> dict[str, Any]:
    return {**CDR_FLEX_1, "cdrId": f"cdr-{i}", "sip_call_id": f"sip-{i}"}


def _offset_server(
    records: list[dict[str, Any]],
    *,
    total: bool = True,
    echo: str = "offset",
) -> Responder:
    """Serve ``records`` by the request's ``limit``/``offset`` (as the reference does)."""

    def reply(rec: Rec) -> Any:
        offset = int(rec.query.get("offset", "0"))
        limit = int(rec.query.get("limit", "10"))
        body: dict[str, Any] = {"data": records[offset : offset + limit], "limit": limit}
        if echo == "offset":
            body["offset"] = offset
        elif echo == "minus_one":
            body["offset"] = -1
        elif echo == "page":
            body["page"] = offset // limit + 1
        if total:
            body["total"] = len(records)
        return body

    return reply


async def test_cdrs_offset_cursor_iterates_all_and_stops_at_total(
    server: ScriptedServer, cc: CallCenterClient
) -> None:
    records = [_cdr(i) for i in range(5)]
    server.on("GET", "/v2/cdr", _offset_server(records))
    got = await collect_bounded(cc.cdrs.list(page_size=2), 50)
    assert [c.id for c in got] == [f"cdr-{i}" for i in range(5)]
    offsets = [int(r.query.get("offset", "0")) for r in server.requests]
    assert offsets == [0, 2, 4]  # stops at total: no request for offset 6
    assert all(r.query.get("limit") == "2" for r in server.requests)
    assert all("scroll_id" not in r.query and "page" not in r.query for r in server.requests)


@pytest.mark.parametrize("echo", ["none", "minus_one", "page"])
async def test_cdrs_offset_cursor_response_variants(
    server: ScriptedServer, cc: CallCenterClient, echo: str
) -> None:
    records = [_cdr(i) for i in range(5)]
    server.on("GET", "/v2/cdr", _offset_server(records, echo=echo))
    got = await collect_bounded(cc.cdrs.list(page_size=2), 50)
    assert [c.id for c in got] == [f"cdr-{i}" for i in range(5)]
    offsets = [int(r.query.get("offset", "0")) for r in server.requests]
    assert offsets == [0, 2, 4]


async def test_cdrs_offset_cursor_stops_on_empty_batch_without_total(
    server: ScriptedServer, cc: CallCenterClient
) -> None:
    records = [_cdr(i) for i in range(4)]
    server.on("GET", "/v2/cdr", _offset_server(records, total=False))
    got = await collect_bounded(cc.cdrs.list(page_size=2), 50)
    assert [c.id for c in got] == [f"cdr-{i}" for i in range(4)]
    offsets = [int(r.query.get("offset", "0")) for r in server.requests]
    assert offsets[:3] == [0, 2, 4]
    assert len(offsets) == 3  # the empty batch at offset 4 ends it


async def test_cdrs_offset_cursor_takes_max_of_response_offset(
    server: ScriptedServer, cc: CallCenterClient
) -> None:
    def reply(rec: Rec) -> Any:
        offset = int(rec.query.get("offset", "0"))
        if offset == 0:  # the server says this batch sits at offset 10
            return {"data": [_cdr(0), _cdr(1)], "limit": 2, "offset": 10, "total": 13}
        if offset == 10:
            return {"data": [_cdr(2), _cdr(3)], "limit": 2, "offset": 10, "total": 13}
        if offset == 12:
            return {"data": [_cdr(4)], "limit": 2, "offset": 12, "total": 13}
        return {"data": [], "limit": 2, "offset": offset, "total": 13}

    server.on("GET", "/v2/cdr", reply)
    got = await collect_bounded(cc.cdrs.list(page_size=2), 50)
    assert [c.id for c in got] == [f"cdr-{i}" for i in range(5)]
    offsets = [int(r.query.get("offset", "0")) for r in server.requests]
    # max(10, 0 + 2) = 10; max(10, 10 + 2) = 12; max(12, 12 + 1) = 13 = total: stop.
    assert offsets == [0, 10, 12]


async def test_cdrs_scroll_id_is_sent_back(server: ScriptedServer, cc: CallCenterClient) -> None:
    def reply(rec: Rec) -> Any:
        sid = rec.query.get("scroll_id")
        if sid is None:
            return {"data": [_cdr(0), _cdr(1)], "scroll_id": "s1"}
        if sid == "s1":
            return {"data": [_cdr(2), _cdr(3)], "scroll_id": "s2"}
        if sid == "s2":
            return {"data": [_cdr(4)], "scroll_id": "s3"}
        return {"data": [], "scroll_id": sid}

    server.on("GET", "/v2/cdr", reply)
    got = await collect_bounded(
        cc.cdrs.list(start_date=date(2024, 1, 1), direction="outbound", page_size=2), 50
    )
    assert [c.id for c in got] == [f"cdr-{i}" for i in range(5)]
    assert [r.query.get("scroll_id") for r in server.requests] == [None, "s1", "s2", "s3"]
    for rec in server.requests:  # the filters go with every request
        assert rec.query.get("start_date") == "2024-01-01"
        assert rec.query.get("direction") == "outbound"


async def test_cdrs_scroll_id_repeated_forever_does_not_loop(
    server: ScriptedServer, cc: CallCenterClient
) -> None:
    def reply(rec: Rec) -> Any:
        if len(server.requests) > 30:  # safety net so a failing SDK does not hang
            return {"data": []}
        return {"data": [_cdr(0), _cdr(1)], "scroll_id": "same"}

    server.on("GET", "/v2/cdr", reply)
    await asyncio.wait_for(collect_bounded(cc.cdrs.list(page_size=2), 40), 10)
    assert len(server.requests) <= 3


async def test_cdrs_repeated_offset_forever_does_not_loop(
    server: ScriptedServer, cc: CallCenterClient
) -> None:
    """A server that ignores the offset and answers the same batch at the same offset."""

    def reply(rec: Rec) -> Any:
        if len(server.requests) > 30:  # safety net so a failing SDK does not hang
            return {"data": []}
        return {"data": [_cdr(0), _cdr(1)], "limit": 2, "offset": 0}

    server.on("GET", "/v2/cdr", reply)
    await asyncio.wait_for(collect(cc.cdrs.list(page_size=2)), 10)
    assert len(server.requests) <= 3, (
        f"{len(server.requests)} requests for a server repeating offset 0 and the same batch"
    )


async def test_cdrs_scroll_id_with_total_yields_each_record_once(
    server: ScriptedServer, cc: CallCenterClient
) -> None:
    def reply(rec: Rec) -> Any:
        sid = rec.query.get("scroll_id")
        if sid is None:
            return {"data": [_cdr(0), _cdr(1)], "scroll_id": "s1", "total": 3}
        if sid == "s1":
            return {"data": [_cdr(2)], "scroll_id": "s2", "total": 3}
        return {"data": [], "scroll_id": "s2", "total": 3}

    server.on("GET", "/v2/cdr", reply)
    got = await collect_bounded(cc.cdrs.list(page_size=2), 20)
    assert [c.id for c in got] == ["cdr-0", "cdr-1", "cdr-2"]
    assert len(server.requests) <= 3


async def test_listing_meta_sent_as_strings(server: ScriptedServer, cc: CallCenterClient) -> None:
    server.on(
        "GET",
        "/v2/cdr",
        {"data": [CDR_DEFAULT_1, CDR_DEFAULT_2], "limit": "10", "offset": "10", "total": "35"},
    )
    page = await cc.cdrs.list()
    assert (page.total, page.limit, page.offset) == (35, 10, 10)


async def test_unknown_enum_values_are_not_fatal(
    server: ScriptedServer, cc: CallCenterClient
) -> None:
    server.on("GET", "/v2/customer", {"data": [{**CUSTOMER_1, "status": "archived"}], "total": 1})
    server.on("GET", "/v1/event", {"data": [{**EVENT, "event_name": "missed"}]})
    server.on("GET", "/v2/call", {"data": [{**LIVE_CALL, "direction": "sideways"}], "total": 1})
    server.on("GET", "/v2/cdr/u", {**CDR_FLEX_1, "direction": "sideways", "status": "queued"})
    customer = (await cc.customers.list()).items[0]
    assert customer.status != CustomerStatus.NEW
    assert customer.raw["status"] == "archived"
    event = (await cc.events.list())[0]
    assert event.event_name not in (EventType.HANGUP, EventType.CDR)
    assert event.raw["event_name"] == "missed"
    call = (await cc.calls.list())[0]
    assert call.raw["direction"] == "sideways"
    cdr = await cc.cdrs.get("u")
    assert cdr.raw["status"] == "queued"
    assert cdr.status not in (CallStatus.ANSWERED, CallStatus.BUSY)
    assert cdr.id == "0c1d6ff3-c9b0-4fd1-8f5c-7be53f5f6973"


async def test_cdrs_pages_iterates_page_objects(
    server: ScriptedServer, cc: CallCenterClient
) -> None:
    records = [_cdr(i) for i in range(5)]
    server.on("GET", "/v2/cdr", _offset_server(records))
    pages = [p async for p in cc.cdrs.list(page_size=2).pages()]
    non_empty = [p for p in pages if p.items]
    assert [len(p.items) for p in non_empty] == [2, 2, 1]
    assert all(isinstance(p, Page) for p in pages)
    assert all(isinstance(c, Cdr) for p in pages for c in p.items)
    assert non_empty[0].total == 5
    assert non_empty[1].offset == 2


async def test_cdrs_break_leaves_nothing_running(
    server: ScriptedServer, cc: CallCenterClient
) -> None:
    records = [_cdr(i) for i in range(10)]
    server.on("GET", "/v2/cdr", _offset_server(records))
    async for _cdr_item in cc.cdrs.list(page_size=2):
        break
    await asyncio.sleep(0.05)
    mine = asyncio.current_task()
    # The test server's own connection handlers (aiohttp.web_protocol) are not the SDK's.
    others = [t for t in asyncio.all_tasks() if t is not mine and "web_protocol" not in repr(t)]
    assert [t for t in others if not t.done()] == []


async def test_cdrs_list_filters_are_sent_formatted(
    server: ScriptedServer, cc: CallCenterClient
) -> None:
    server.on("GET", "/v2/cdr", {"data": []})
    await cc.cdrs.list(
        start_date=date(2021, 2, 18),
        end_date=datetime(2021, 2, 19, 0, 0, 0),
        duration=10,
        extension="101",
        phone="0899888999",
        direction="outbound",
        page_size=50,
    )
    await cc.cdrs.list(start_date="2021-02-18 17:20:58", end_date="2021-02-19", direction="inbound")
    first, second = server.requests
    assert first.query == {
        "start_date": "2021-02-18",
        "end_date": "2021-02-19 00:00:00",
        "duration": "10",
        "extension": "101",
        "phone": "0899888999",
        "direction": "outbound",
        "limit": "50",
    } or {k: v for k, v in first.query.items() if k != "offset"} == {
        "start_date": "2021-02-18",
        "end_date": "2021-02-19 00:00:00",
        "duration": "10",
        "extension": "101",
        "phone": "0899888999",
        "direction": "outbound",
        "limit": "50",
    }
    assert second.query["start_date"] == "2021-02-18 17:20:58"
    assert second.query["end_date"] == "2021-02-19"
    assert second.query["direction"] == "inbound"


@pytest.mark.parametrize(
    "filters",
    [
        {"start_date": "18/02/2021"},
        {"end_date": "yesterday"},
        {"phone": "abc"},
        {"phone": "12"},
        {"direction": "sideways"},
    ],
)
async def test_cdrs_bad_filters_raise_before_sending(
    server: ScriptedServer, cc: CallCenterClient, filters: dict[str, Any]
) -> None:
    server.on("GET", "/v2/cdr", {"data": []})
    with pytest.raises(ValidationError):
        await cc.cdrs.list(**filters)
    assert server.nothing_sent


async def test_cdrs_page_uses_pagination_mode(server: ScriptedServer, cc: CallCenterClient) -> None:
    server.on(
        "GET",
        "/v2/cdr",
        {"data": [CDR_DEFAULT_1, CDR_DEFAULT_2], "limit": 10, "page": 2, "total": 35},
    )
    page = await cc.cdrs.page(2, 10, direction="outbound", start_date=date(2021, 2, 18))
    assert isinstance(page, Page)
    assert page.total == 35
    assert page.limit == 10
    assert len(page.items) == 2
    _check_default_1(page.items[0])
    [rec] = server.requests
    assert rec.path == "/v2/cdr"
    assert rec.query["page"] == "2"
    assert rec.query["limit"] == "10"
    assert rec.query["direction"] == "outbound"
    assert rec.query["start_date"] == "2021-02-18"
    assert "scroll_id" not in rec.query


async def test_cdrs_page_reference_shape(server: ScriptedServer, cc: CallCenterClient) -> None:
    server.on("GET", "/v2/cdr", CDR_LIST_FLEX)
    page = await cc.cdrs.page(page=2, limit=10)
    assert page.total == 35
    assert page.limit == 10
    assert page.offset == 10
    _check_flex_1(page.items[0])
    assert len(server.requests) == 1


# =========================================================================== click-to-call


async def test_click2call_call_sync(server: ScriptedServer, cc: CallCenterClient) -> None:
    server.on("GET", "/v1/click2call", C2C_OK)
    result = await cc.click2call.call("101", "0899098899")
    assert result.call_id == CALL_ID
    [rec] = server.requests
    assert rec.method == "GET"
    assert rec.query == {"ext": "101", "phone": "0899098899"}


async def test_click2call_call_options(server: ScriptedServer, cc: CallCenterClient) -> None:
    server.on("GET", "/v1/click2call", C2C_OK)
    await cc.click2call.call(
        "101",
        "0899098899",
        src_cid_name="Click2Call",
        dest_cid_number="0899098899",
        auto_answer=True,
        hotline="19001919",
        customer_id="KH1",
    )
    [rec] = server.requests
    assert rec.query["ext"] == "101"
    assert rec.query["phone"] == "0899098899"
    assert rec.query["src_cid_name"] == "Click2Call"
    assert rec.query["dest_cid_number"] == "0899098899"
    assert rec.query["auto_answer"].lower() in ("true", "1")
    assert rec.query["hotline"] == "19001919"
    assert rec.query["customer_id"] == "KH1"


async def test_click2call_start_async(server: ScriptedServer, cc: CallCenterClient) -> None:
    server.on("GET", "/v1/click2call/async", C2C_OK)
    result = await cc.click2call.start("101", "0899098899")
    assert result.call_id == CALL_ID
    [rec] = server.requests
    assert (rec.method, rec.path) == ("GET", "/v1/click2call/async")
    assert rec.query == {"ext": "101", "phone": "0899098899"}


async def test_click2call_dial_v2(server: ScriptedServer, cc: CallCenterClient) -> None:
    server.on("POST", "/v2/click2call", C2C_V2_OK)
    result = await cc.click2call.dial("KH1", "0899098899", "101")
    assert result.call_id == "50038035-0717-40f1-b7af-eb92021b012e"
    [rec] = server.requests
    assert (rec.method, rec.path) == ("POST", "/v2/click2call")
    assert rec.body == {"id": "KH1", "mobile": "0899098899", "agent": "101"}


@pytest.mark.parametrize("status", [200, 400])
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/click2call", C2C_FAIL),
        ("GET", "/v1/click2call/async", C2C_FAIL_ASYNC),
        ("POST", "/v2/click2call", C2C_V2_FAIL),
    ],
)
async def test_click2call_user_not_registered(
    server: ScriptedServer,
    cc: CallCenterClient,
    status: int,
    method: str,
    path: str,
    body: dict[str, Any],
) -> None:
    server.on(method, path, Reply(status, body))
    if path == "/v1/click2call":
        attempt = cc.click2call.call("101", "0899098899")
    elif path == "/v1/click2call/async":
        attempt = cc.click2call.start("101", "0899098899")
    else:
        attempt = cc.click2call.dial("KH1", "0899098899", "101")
    with pytest.raises(UserNotRegisteredError) as info:
        await attempt
    assert isinstance(info.value, CallRejectedError)
    assert isinstance(info.value, APIError)
    assert info.value.code == "USER_NOT_REGISTERED"
    assert len(server.requests) == 1  # a call-placing request is never resent


async def test_click2call_user_busy(server: ScriptedServer, cc: CallCenterClient) -> None:
    server.on("GET", "/v1/click2call/async", {"status": "fail", "error": "USER_BUSY"})
    with pytest.raises(UserBusyError):
        await cc.click2call.start("101", "0899098899")
    assert len(server.requests) == 1


@pytest.mark.parametrize("phone", ["12", "abc", "+1234567890123456", "0899-098-899", ""])
async def test_click2call_bad_phone_not_sent(
    server: ScriptedServer, cc: CallCenterClient, phone: str
) -> None:
    with pytest.raises(ValidationError):
        await cc.click2call.start("101", phone)
    with pytest.raises(ValidationError):
        await cc.click2call.call("101", phone)
    with pytest.raises(ValidationError):
        await cc.click2call.dial("KH1", phone, "101")
    assert server.nothing_sent


@pytest.mark.parametrize("phone", ["101", "0123456789", "+84899098899", "123456789012345"])
async def test_click2call_accepts_3_to_15_digits(
    server: ScriptedServer, cc: CallCenterClient, phone: str
) -> None:
    server.on("GET", "/v1/click2call/async", C2C_OK)
    await cc.click2call.start("101", phone)
    assert server.requests[0].query["phone"] == phone


# =========================================================================== calls


async def test_calls_list(server: ScriptedServer, cc: CallCenterClient) -> None:
    server.on("GET", "/v2/call", {"data": [LIVE_CALL], "total": 1})
    calls = await cc.calls.list()
    assert isinstance(calls, list)
    [call] = calls
    assert call.call_id == CALL_ID
    assert call.source == "101"
    assert call.destination == "0899123456"
    assert call.state == "CS_EXECUTE"
    assert call.context == "test.tel4vn.com"
    assert call.ip == "1.2.3.4"
    assert call.created_time == naive(2021, 6, 8, 17, 37, 37)
    assert [(r.method, r.path) for r in server.requests] == [("GET", "/v2/call")]


@pytest.mark.parametrize("action", ["transfer", "listen", "whisper", "barge"])
async def test_call_control(server: ScriptedServer, cc: CallCenterClient, action: str) -> None:
    path = f"/v2/call/{CALL_ID}/{action}"
    server.on("POST", path, {"status": "success", "call_id": CALL_ID, "ext": "101"})
    result = await getattr(cc.calls, action)(CALL_ID, "101")
    assert result.call_id == CALL_ID
    assert result.ext == "101"
    [rec] = server.requests
    assert (rec.method, rec.path) == ("POST", path)
    assert rec.body == {"ext": "101"}


@pytest.mark.parametrize("action", ["transfer", "listen", "whisper", "barge"])
async def test_call_control_user_not_registered(
    server: ScriptedServer, cc: CallCenterClient, action: str
) -> None:
    server.on("POST", f"/v2/call/{CALL_ID}/{action}", C2C_FAIL)
    with pytest.raises(UserNotRegisteredError):
        await getattr(cc.calls, action)(CALL_ID, "101")


# =========================================================================== autodialer

AUTODIALER_BODY: dict[str, Any] = {
    "campaign_id": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeee",
    "queue_code": "Autodialer",
    "precall_ratio": "150",
    "max_recall_count": "2",
    "queue_agents": "5001",
    "customers": [{"id": "TEL4VN_Test", "mobiles": ["0899123456"]}],
}


async def test_autodialer_create_queue_spec_body(
    server: ScriptedServer, cc: CallCenterClient
) -> None:
    server.on("POST", "/v2/autodialer/queue", MSG_OK)
    await cc.autodialer.create_queue(
        campaign_id="aaaaaaaa-bbbb-cccc-dddd-eeeeeeee",
        queue_code="Autodialer",
        precall_ratio="150",
        max_recall_count="2",
        queue_agents="5001",
        customers=[{"id": "TEL4VN_Test", "mobiles": ["0899123456"]}],
    )
    [rec] = server.requests
    assert (rec.method, rec.path) == ("POST", "/v2/autodialer/queue")
    assert rec.body == AUTODIALER_BODY


async def test_autodialer_create_queue_models_and_ints(
    server: ScriptedServer, cc: CallCenterClient
) -> None:
    server.on("POST", "/v2/autodialer/queue", MSG_OK)
    await cc.autodialer.create_queue(
        campaign_id="aaaaaaaa-bbbb-cccc-dddd-eeeeeeee",
        queue_code="Autodialer",
        precall_ratio=150,
        max_recall_count=2,
        customers=[QueueCustomer(id="TEL4VN_Test", mobiles=["0899123456"])],
    )
    [rec] = server.requests
    assert str(rec.body["precall_ratio"]) == "150"
    assert str(rec.body["max_recall_count"]) == "2"
    assert rec.body["customers"] == [{"id": "TEL4VN_Test", "mobiles": ["0899123456"]}]
    assert rec.body["campaign_id"] == "aaaaaaaa-bbbb-cccc-dddd-eeeeeeee"
    assert rec.body["queue_code"] == "Autodialer"


async def test_autodialer_campaign_invalid(server: ScriptedServer, cc: CallCenterClient) -> None:
    # a one-letter token would be scrubbed out of the message
    server.token_handler = spec_tokens(LONG_TOKEN)
    server.on("POST", "/v2/autodialer/queue", {"message": "campaign is invalid"})
    with pytest.raises(BadRequestError) as info:
        await cc.autodialer.create_queue(
            campaign_id="x",
            queue_code="Autodialer",
            precall_ratio="150",
            max_recall_count="2",
            customers=[{"id": "TEL4VN_Test", "mobiles": ["0899123456"]}],
        )
    assert "campaign is invalid" in str(info.value.message)
    assert len(server.requests) == 1


@pytest.mark.parametrize("action", ["start", "stop", "delete"])
async def test_autodialer_queue_actions(
    server: ScriptedServer, cc: CallCenterClient, action: str
) -> None:
    server.on("POST", f"/v2/autodialer/queue/{action}", MSG_OK)
    await getattr(cc.autodialer, action)("Autodialer")
    [rec] = server.requests
    assert (rec.method, rec.path) == ("POST", f"/v2/autodialer/queue/{action}")
    assert rec.body == {"queue_code": "Autodialer"}


@pytest.mark.parametrize("action", ["start", "stop", "delete"])
async def test_autodialer_queue_not_found(
    server: ScriptedServer, cc: CallCenterClient, action: str
) -> None:
    server.on("POST", f"/v2/autodialer/queue/{action}", {"message": "queue not found"})
    with pytest.raises(NotFoundError):
        await getattr(cc.autodialer, action)("Nope")


async def test_autodialer_bad_mobile_not_sent(server: ScriptedServer, cc: CallCenterClient) -> None:
    with pytest.raises(ValidationError):
        await cc.autodialer.create_queue(
            campaign_id="c",
            queue_code="q",
            precall_ratio=150,
            max_recall_count=2,
            customers=[{"id": "TEL4VN_Test", "mobiles": ["08x99"]}],
        )
    assert server.nothing_sent


# =========================================================================== autocall queues

AUTOCALL_QUEUE_CUSTOMER: dict[str, Any] = {
    "id": "TEL4VN_Test",
    "mobiles": ["0982596021"],
    "contract_number": "HD123456",
    "upcoming_due_date": "2021-07-13",
    "upcoming_amount": 5000000,
    "due_date": "2021-07-13",
    "dpd": 5,
    "number_of_ovd_inst": 6,
    "total_ovd_amount": 3211100,
}
AUTOCALL_QUEUE_BODY: dict[str, Any] = {
    "queue_code": "Autocall-Q1",
    "template": "IVR-1",
    "concurrent_call": 5,
    "max_recall_count": 3,
    "min_recall_duration": 3,
    "customers": [AUTOCALL_QUEUE_CUSTOMER],
}
AUTOCALL_QUEUE_OK: dict[str, Any] = {
    "code": 200,
    "content": "successfully",
    "data": {"fail": [], "success": ["TEL4VN_Test"]},
}


async def test_autocall_queue_create_spec_body(
    server: ScriptedServer, cc: CallCenterClient
) -> None:
    server.on("POST", "/v2/autocall/queue", AUTOCALL_QUEUE_OK)
    result = await cc.autocall_queues.create(
        queue_code="Autocall-Q1",
        template="IVR-1",
        concurrent_call=5,
        max_recall_count=3,
        min_recall_duration=3,
        customers=[dict(AUTOCALL_QUEUE_CUSTOMER)],
    )
    assert list(result.success) == ["TEL4VN_Test"]
    assert list(result.fail) == []
    [rec] = server.requests
    assert (rec.method, rec.path) == ("POST", "/v2/autocall/queue")
    assert rec.body == AUTOCALL_QUEUE_BODY


async def test_autocall_queue_create_with_models(
    server: ScriptedServer, cc: CallCenterClient
) -> None:
    server.on("POST", "/v2/autocall/queue", AUTOCALL_QUEUE_OK)
    fields = {k: v for k, v in AUTOCALL_QUEUE_CUSTOMER.items() if k not in ("id", "mobiles")}
    await cc.autocall_queues.create(
        queue_code="Autocall-Q1",
        template="IVR-1",
        customers=[QueueCustomer(id="TEL4VN_Test", mobiles=["0982596021"], fields=fields)],
    )
    [rec] = server.requests
    assert rec.body["queue_code"] == "Autocall-Q1"
    assert rec.body["template"] == "IVR-1"
    assert rec.body["customers"] == [AUTOCALL_QUEUE_CUSTOMER]
    for optional in ("concurrent_call", "max_recall_count", "min_recall_duration"):
        assert rec.body.get(optional) is None


async def test_autocall_queue_import_fail(server: ScriptedServer, cc: CallCenterClient) -> None:
    server.on(
        "POST",
        "/v2/autocall/queue",
        {"code": 400, "content": "import fail", "data": {"fail": [], "success": []}},
    )
    with pytest.raises(BadRequestError):
        await cc.autocall_queues.create(
            queue_code="Autocall-Q1",
            template="IVR-1",
            customers=[{"id": "TEL4VN_Test", "mobiles": ["0982596021"]}],
        )
    assert len(server.requests) == 1


async def test_autocall_queue_block(server: ScriptedServer, cc: CallCenterClient) -> None:
    server.on("POST", "/v2/autocall/queue/dnc", OK_CODE)
    await cc.autocall_queues.block("Autocall-Q1", ["KH_01", "KH_02", "KH_03"])
    [rec] = server.requests
    assert (rec.method, rec.path) == ("POST", "/v2/autocall/queue/dnc")
    assert rec.body == {
        "queue_code": "Autocall-Q1",
        "customers": [{"id": "KH_01"}, {"id": "KH_02"}, {"id": "KH_03"}],
    }


async def test_autocall_queue_block_not_found(server: ScriptedServer, cc: CallCenterClient) -> None:
    server.on("POST", "/v2/autocall/queue/dnc", QUEUE_NOT_FOUND)
    with pytest.raises(NotFoundError):
        await cc.autocall_queues.block("Nope", ["KH_01"])


@pytest.mark.parametrize("action", ["start", "stop", "delete"])
async def test_autocall_queue_actions(
    server: ScriptedServer, cc: CallCenterClient, action: str
) -> None:
    server.on("POST", f"/v2/autocall/queue/{action}", OK_CODE)
    await getattr(cc.autocall_queues, action)("Autocall-Q1")
    [rec] = server.requests
    assert (rec.method, rec.path) == ("POST", f"/v2/autocall/queue/{action}")
    assert rec.body == {"queue_code": "Autocall-Q1"}


@pytest.mark.parametrize("action", ["start", "stop", "delete"])
@pytest.mark.parametrize("status", [200, 404])
async def test_autocall_queue_not_found(
    server: ScriptedServer, cc: CallCenterClient, action: str, status: int
) -> None:
    # a one-letter token would be scrubbed out of the message
    server.token_handler = spec_tokens(LONG_TOKEN)
    server.on("POST", f"/v2/autocall/queue/{action}", Reply(status, QUEUE_NOT_FOUND))
    with pytest.raises(NotFoundError) as info:
        await getattr(cc.autocall_queues, action)("Nope")
    assert "queue not found" in info.value.message


# =========================================================================== users


async def test_users_status(server: ScriptedServer, cc: CallCenterClient) -> None:
    server.on("GET", "/v2/user/test.user01/status", USER_STATUS)
    status = await cc.users.status("test.user01")
    assert isinstance(status, UserStatus)
    assert status.agent_name == "Test User 01"
    assert status.ext_loggedin is False
    assert status.extension == "101"
    assert status.user_uuid == "aaaaaaaa-1111-2222-3333-eeeeeeee"
    assert status.username == "test.user01"
    assert [(r.method, r.path) for r in server.requests] == [("GET", "/v2/user/test.user01/status")]


@pytest.mark.parametrize(
    ("value", "expected"), [("true", True), ("t", True), ("f", False), (True, True)]
)
async def test_users_status_bool_quirks(
    server: ScriptedServer, cc: CallCenterClient, value: object, expected: bool
) -> None:
    body = {**USER_STATUS, "data": {**USER_STATUS["data"], "ext_loggedin": value}}
    server.on("GET", "/v2/user/aaaaaaaa-1111-2222-3333-eeeeeeee/status", body)
    status = await cc.users.status("aaaaaaaa-1111-2222-3333-eeeeeeee")
    assert status.ext_loggedin is expected


async def test_users_status_user_id_drift(server: ScriptedServer, cc: CallCenterClient) -> None:
    data = {k: v for k, v in USER_STATUS["data"].items() if k != "user_uuid"}
    data["user_id"] = "aaaaaaaa-1111-2222-3333-eeeeeeee"
    server.on("GET", "/v2/user/u1/status", {"code": 200, "content": "successfully", "data": data})
    status = await cc.users.status("u1")
    assert status.user_uuid == "aaaaaaaa-1111-2222-3333-eeeeeeee"


async def test_users_status_not_existed(server: ScriptedServer, cc: CallCenterClient) -> None:
    server.on(
        "GET",
        "/v2/user/ghost/status",
        {"code": 404, "content": "user is not existed", "error": "Not Found"},
    )
    with pytest.raises(NotFoundError):
        await cc.users.status("ghost")


# =========================================================================== customers


def _check_customer_1(c: Customer) -> None:
    assert isinstance(c, Customer)
    assert c.campaign_id == "aaaaaaaa-1111-2222-3333-eeeeeeee"
    assert c.contract_number == "ABC123"
    assert c.customer_code == "KH01"
    assert c.customer_id == "dddddddd-1111-2222-3333-eeeeeeee"
    assert c.customer_name == "Khach Hang 01"
    assert c.phone_number == "0899888998"
    assert c.status == CustomerStatus.NEW
    assert c.created_at == datetime(2021, 7, 15, 12, 50, 23, 805319, tzinfo=UTC)
    assert c.created_at is not None
    assert c.created_at.tzinfo is not None
    assert c.updated_at is None  # Go's zero time


async def test_customers_list_first_page(server: ScriptedServer, cc: CallCenterClient) -> None:
    server.on("GET", "/v2/customer", CUSTOMER_LIST)
    page = await cc.customers.list(campaign_id="aaaaaaaa-1111-2222-3333-eeeeeeee", page_size=10)
    assert isinstance(page, Page)
    assert page.total == 200
    assert page.limit == 10
    assert page.offset == 0
    assert len(page.items) == 2
    _check_customer_1(page.items[0])
    assert page.items[1].customer_id == "gggggggg-1111-2222-3333-eeeeeeee"
    [rec] = server.requests
    assert (rec.method, rec.path) == ("GET", "/v2/customer")
    assert rec.query["campaign_id"] == "aaaaaaaa-1111-2222-3333-eeeeeeee"
    assert rec.query["limit"] == "10"
    assert rec.query.get("offset", "0") == "0"
    assert "page" not in rec.query


async def test_customers_list_pages_by_limit_offset(
    server: ScriptedServer, cc: CallCenterClient
) -> None:
    records = [{**CUSTOMER_1, "customer_id": f"c{i}"} for i in range(5)]

    def reply(rec: Rec) -> Any:
        offset = int(rec.query.get("offset", "0"))
        limit = int(rec.query["limit"])
        return {
            "code": 200,
            "content": "successfully",
            "data": records[offset : offset + limit],
            "limit": limit,
            "offset": offset,
            "total": len(records),
        }

    server.on("GET", "/v2/customer", reply)
    got = await collect_bounded(cc.customers.list(page_size=2), 50)
    assert [c.customer_id for c in got] == [f"c{i}" for i in range(5)]
    assert [int(r.query.get("offset", "0")) for r in server.requests] == [0, 2, 4]
    assert "campaign_id" not in server.requests[0].query


@pytest.mark.parametrize("echo", ["none", "minus_one", "page"])
async def test_customers_list_response_variants(
    server: ScriptedServer, cc: CallCenterClient, echo: str
) -> None:
    records = [{**CUSTOMER_2, "customer_id": f"c{i}"} for i in range(5)]
    server.on("GET", "/v2/customer", _offset_server(records, echo=echo))
    got = await collect_bounded(cc.customers.list(page_size=2), 50)
    assert [c.customer_id for c in got] == [f"c{i}" for i in range(5)]
    assert [int(r.query.get("offset", "0")) for r in server.requests] == [0, 2, 4]


async def test_customers_get(server: ScriptedServer, cc: CallCenterClient) -> None:
    server.on(
        "GET",
        "/v2/customer/dddddddd-1111-2222-3333-eeeeeeee",
        {"code": 200, "content": "successfully", "data": CUSTOMER_1},
    )
    customer = await cc.customers.get("dddddddd-1111-2222-3333-eeeeeeee")
    _check_customer_1(customer)


async def test_customers_get_not_found(server: ScriptedServer, cc: CallCenterClient) -> None:
    server.on(
        "GET", "/v2/customer/nope", {"code": 404, "content": "Not Found", "error": "Not Found"}
    )
    with pytest.raises(NotFoundError):
        await cc.customers.get("nope")


CUSTOMER_CREATE_BODY: dict[str, Any] = {
    "campaign_id": "aaaaaaaa-1111-2222-3333-eeeeeeee",
    "customer_name": "Khach Hang 01",
    "customer_code": "KH01",
    "phone_number": "0899888998",
    "contract_number": "ABC123",
}


async def test_customers_create_posts_to_v2_customer(
    server: ScriptedServer, cc: CallCenterClient
) -> None:
    server.on(
        "POST",
        "/v2/customer",
        {"code": 201, "content": "successfully", "id": "dddddddd-1111-2222-3333-eeeeeeee"},
    )
    new_id = await cc.customers.create(**CUSTOMER_CREATE_BODY)
    assert new_id == "dddddddd-1111-2222-3333-eeeeeeee"
    [rec] = server.requests
    assert (rec.method, rec.path) == ("POST", "/v2/customer")
    assert rec.body == CUSTOMER_CREATE_BODY


@pytest.mark.parametrize("phone", ["0123456789", "12345", "089988899", "+84899888998", "abc"])
async def test_customers_create_phone_pattern(
    server: ScriptedServer, cc: CallCenterClient, phone: str
) -> None:
    with pytest.raises(ValidationError):
        await cc.customers.create(**{**CUSTOMER_CREATE_BODY, "phone_number": phone})
    assert server.nothing_sent


@pytest.mark.parametrize("phone", ["0399888998", "0599888998", "0799888998", "8499888998"])
async def test_customers_create_phone_pattern_accepts(
    server: ScriptedServer, cc: CallCenterClient, phone: str
) -> None:
    server.on("POST", "/v2/customer", {"code": 201, "content": "successfully", "id": "x"})
    assert await cc.customers.create(**{**CUSTOMER_CREATE_BODY, "phone_number": phone}) == "x"
    assert server.requests[0].body["phone_number"] == phone


async def test_customers_create_field_errors(server: ScriptedServer, cc: CallCenterClient) -> None:
    error_body = {
        "code": 400,
        "content": [{"phone_number": "Does not match pattern '^(84|0[3|5|7|8|9])+([0-9]{8})$'"}],
        "error": "Bad Request",
    }
    # a one-letter token would be scrubbed out of the details
    server.token_handler = spec_tokens(LONG_TOKEN)
    for status in (400, 200):
        server.on("POST", "/v2/customer", Reply(status, error_body))
        with pytest.raises(BadRequestError) as info:
            await cc.customers.create(**CUSTOMER_CREATE_BODY)
        details = info.value.details
        assert details
        assert "phone_number" in details
        assert "Does not match pattern" in str(details["phone_number"])
    assert len(server.requests) == 2


# =========================================================================== autocall templates

OTP_TEMPLATE_BODY: dict[str, Any] = {
    "name": "otp_demo",
    "voice_tts": "south-f-03",
    "speed_tts": 1.2,
    "content": (
        "Mã xác nhận của bạn là {{code_otp}} xin nhắc lại mã xác nhận của bạn là {{code_otp}}"
    ),
}


@pytest.mark.parametrize("voice", [Voice.SOUTH_F_03, "south-f-03"])
async def test_templates_create_otp(
    server: ScriptedServer, pbx: AutocallClient, voice: Voice | str
) -> None:
    server.on("POST", "/v1/campaign/1/otp", {"created": "true"})
    template = await pbx.templates.create_otp(
        1, "otp_demo", OTP_TEMPLATE_BODY["content"], voice, 1.2
    )
    assert template.name == "otp_demo"
    [rec] = server.requests
    assert (rec.method, rec.path) == ("POST", "/v1/campaign/1/otp")
    assert rec.body == OTP_TEMPLATE_BODY
    assert rec.auth == "Bearer t"


def test_voice_values() -> None:
    assert {v.name: v.value for v in Voice} == {
        "NORTH_M_01": "north-m-01",
        "NORTH_F_01": "north-f-01",
        "NORTH_M_02": "north-m-02",
        "NORTH_F_02": "north-f-02",
        "SOUTH_M_03": "south-m-03",
        "SOUTH_F_03": "south-f-03",
    }
    assert {e.name for e in EventType} >= {"HANGUP", "RINGING", "ANSWERED", "CDR"}


@pytest.mark.parametrize(
    ("content", "voice", "speed"),
    [
        ("Mã của bạn là {{code}}", "south-f-03", 1.0),
        ("Mã của bạn là code_otp", "south-f-03", 1.0),
        ("Mã {{code_otp}}", "east-m-01", 1.0),
        ("Mã {{code_otp}}", "south-f-03", 2.5),
        ("Mã {{code_otp}}", "south-f-03", -0.1),
    ],
)
async def test_templates_create_otp_validation(
    server: ScriptedServer, pbx: AutocallClient, content: str, voice: str, speed: float
) -> None:
    with pytest.raises(ValidationError):
        await pbx.templates.create_otp("1", "otp_demo", content, voice, speed)
    assert server.nothing_sent


@pytest.mark.parametrize("speed", [0, 2, 0.0, 2.0, 1])
async def test_templates_speed_bounds_accepted(
    server: ScriptedServer, pbx: AutocallClient, speed: float
) -> None:
    server.on("POST", "/v1/campaign/1/otp", {"created": "true"})
    await pbx.templates.create_otp("1", "otp_demo", "Mã {{code_otp}}", "north-m-01", speed)
    assert server.requests[0].body["speed_tts"] == speed


TTS_TEMPLATE_BODY: dict[str, Any] = {
    "name": "thong_bao_no_cuoc_01",
    "content": "Chào bạn {{key_field_1}} vui lòng thanh toán khoản nợ {{key_field_2}} trước ngày {{key_field_3}}",  # noqa: E501
    "voice_type": "tts",
    "voice_tts": "south-f-03",
    "speed_tts": 1.2,
    "enable_option": True,
    "press_options": [
        {"press_num": 1, "type": "tts", "content": "{{key_field_1}} đã bấm phím một"},
        {"press_num": 2, "type": "tts", "content": "{{key_field_1}} đã bấm phím hai"},
    ],
    "exit_sound": {
        "enable": True,
        "voice_type": "tts",
        "content": "Cám ơn {{key_field_1}} đã sử dụng",
    },
    "invalid_sound": {
        "enable": True,
        "voice_type": "tts",
        "content": "{{key_field_1}} đã nhập sai",
    },
}


async def test_templates_create_tts_with_dicts(server: ScriptedServer, pbx: AutocallClient) -> None:
    server.on("POST", "/v1/campaign/1/template", {"created": "true"})
    body = TTS_TEMPLATE_BODY
    template = await pbx.templates.create_tts(
        1,
        "thong_bao_no_cuoc_01",
        content=body["content"],
        voice_type="tts",
        voice="south-f-03",
        speed=1.2,
        press_options=[dict(o) for o in body["press_options"]],
        exit_sound=dict(body["exit_sound"]),
        invalid_sound=dict(body["invalid_sound"]),
    )
    assert template.name == "thong_bao_no_cuoc_01"
    [rec] = server.requests
    assert (rec.method, rec.path) == ("POST", "/v1/campaign/1/template")
    assert rec.body == TTS_TEMPLATE_BODY


async def test_templates_create_tts_with_models(
    server: ScriptedServer, pbx: AutocallClient
) -> None:
    server.on("POST", "/v1/campaign/1/template", {"created": "true"})
    body = TTS_TEMPLATE_BODY
    await pbx.templates.create_tts(
        "1",
        "thong_bao_no_cuoc_01",
        content=body["content"],
        voice=Voice.SOUTH_F_03,
        speed=1.2,
        press_options=[
            PressOption(press_num=1, content="{{key_field_1}} đã bấm phím một"),
            PressOption(press_num=2, content="{{key_field_1}} đã bấm phím hai"),
        ],
        exit_sound=Sound(content="Cám ơn {{key_field_1}} đã sử dụng"),
        invalid_sound=Sound(content="{{key_field_1}} đã nhập sai"),
    )
    assert server.requests[0].body == TTS_TEMPLATE_BODY


async def test_templates_create_tts_audio_file(server: ScriptedServer, pbx: AutocallClient) -> None:
    server.on("POST", "/v1/campaign/7/template", {"created": "true"})
    await pbx.templates.create_tts(
        7, "audio_tpl", voice_type="audio_file", audio_file="AUDIO_1.wav"
    )
    body = server.requests[0].body
    assert body["name"] == "audio_tpl"
    assert body["voice_type"] == "audio_file"
    assert body["audio_file"] == "AUDIO_1.wav"
    assert "voice_tts" not in body
    assert not body.get("enable_option")


async def test_templates_create_tts_validation(server: ScriptedServer, pbx: AutocallClient) -> None:
    with pytest.raises(ValidationError):
        await pbx.templates.create_tts("1", "x", content="hi", voice="nobody")
    with pytest.raises(ValidationError):
        await pbx.templates.create_tts("1", "x", content="hi", speed=3)
    assert server.nothing_sent


# =========================================================================== autocall calls

OTP_CALL_BODY: dict[str, Any] = {
    "campaign_id": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeee",
    "caller": "0123456789",
    "callee": "0987654321",
    "param": {"template_name": "otp_demo", "code_otp": "123ABC"},
    "callback_url": "https://demo.webhook.com",
    "callback_apikey": "api_key_123",
    "queue": True,
}
CALL_OK = {"call_id": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeee", "status": "success"}


async def test_calls_otp_spec_body(server: ScriptedServer, pbx: AutocallClient) -> None:
    server.on("POST", "/v1/autocall/otp", CALL_OK)
    result = await pbx.calls.otp(
        campaign_id="aaaaaaaa-bbbb-cccc-dddd-eeeeeeee",
        caller="0123456789",
        callee="0987654321",
        template="otp_demo",
        code="123ABC",
        callback_url="https://demo.webhook.com",
        callback_apikey="api_key_123",
        queue=True,
    )
    assert result.call_id == "aaaaaaaa-bbbb-cccc-dddd-eeeeeeee"
    assert result.status == "success"
    [rec] = server.requests
    assert (rec.method, rec.path) == ("POST", "/v1/autocall/otp")
    assert rec.body == OTP_CALL_BODY


async def test_calls_otp_minimal_body(server: ScriptedServer, pbx: AutocallClient) -> None:
    server.on("POST", "/v1/autocall/otp", CALL_OK)
    await pbx.calls.otp(
        campaign_id="c1", caller="0123456789", callee="0987654321", template="otp", code="9"
    )
    body = server.requests[0].body
    assert body["campaign_id"] == "c1"
    assert body["caller"] == "0123456789"
    assert body["callee"] == "0987654321"
    assert body["param"] == {"template_name": "otp", "code_otp": "9"}
    assert body.get("queue") in (None, False)
    assert "callback_url" not in body or body["callback_url"] is None


@pytest.mark.parametrize(("caller", "callee"), [("12", "0987654321"), ("0123456789", "09x")])
async def test_calls_otp_bad_numbers_not_sent(
    server: ScriptedServer, pbx: AutocallClient, caller: str, callee: str
) -> None:
    with pytest.raises(ValidationError):
        await pbx.calls.otp(
            campaign_id="c1", caller=caller, callee=callee, template="otp", code="1"
        )
    assert server.nothing_sent


TTS_CALL_BODY: dict[str, Any] = {
    "caller": "1234567890",
    "callees": ["0987654321", "1234567890"],
    "param": {
        "template_name": "thong_bao_no_cuoc_1",
        "customer_name": "Nguyễn Văn A",
        "due_amount": "10.410.000",
        "due_date": "30/1/2021",
    },
    "callback_url": "https://demo.webhook.com",
    "callback_apikey": "api_key_123",
    "queue": True,
}


async def test_calls_tts_callees_spec_body(server: ScriptedServer, pbx: AutocallClient) -> None:
    server.on("POST", "/v1/autocall/voice", CALL_OK)
    result = await pbx.calls.tts(
        caller="1234567890",
        callees=["0987654321", "1234567890"],
        template="thong_bao_no_cuoc_1",
        params={
            "customer_name": "Nguyễn Văn A",
            "due_amount": "10.410.000",
            "due_date": "30/1/2021",
        },
        callback_url="https://demo.webhook.com",
        callback_apikey="api_key_123",
        queue=True,
    )
    assert result.call_id == "aaaaaaaa-bbbb-cccc-dddd-eeeeeeee"
    [rec] = server.requests
    assert (rec.method, rec.path) == ("POST", "/v1/autocall/voice")
    assert rec.body == TTS_CALL_BODY


async def test_calls_tts_single_callee_with_campaign(
    server: ScriptedServer, pbx: AutocallClient
) -> None:
    server.on("POST", "/v1/autocall/voice", CALL_OK)
    await pbx.calls.tts(
        campaign_id="aaaaaaaa-bbbb-cccc-dddd-eeeeeeee",
        caller="0123456789",
        callee="0987654321",
        template="thong_bao_no_cuoc_01",
        params={
            "customer_name": "Nguyễn Văn A",
            "due_amount": "10.410.000",
            "due_date": "30/1/2021",
        },
        callback_url="https://demo.webhook.com",
        callback_apikey="api_key_123",
    )
    body = server.requests[0].body
    assert body["campaign_id"] == "aaaaaaaa-bbbb-cccc-dddd-eeeeeeee"
    assert body["caller"] == "0123456789"
    assert body["callee"] == "0987654321"
    assert "callees" not in body
    assert body["param"] == {
        "template_name": "thong_bao_no_cuoc_01",
        "customer_name": "Nguyễn Văn A",
        "due_amount": "10.410.000",
        "due_date": "30/1/2021",
    }
    assert body.get("queue") in (None, False)


async def test_calls_tts_bad_callee_not_sent(server: ScriptedServer, pbx: AutocallClient) -> None:
    with pytest.raises(ValidationError):
        await pbx.calls.tts(caller="0123456789", callee="1", template="t")
    with pytest.raises(ValidationError):
        await pbx.calls.tts(caller="0123456789", callees=["0987654321", "x"], template="t")
    assert server.nothing_sent


async def test_calls_otp_rejected(server: ScriptedServer, pbx: AutocallClient) -> None:
    server.on("POST", "/v1/autocall/otp", {"status": "fail", "error": "USER_BUSY"})
    with pytest.raises(UserBusyError):
        await pbx.calls.otp(
            campaign_id="c1", caller="0123456789", callee="0987654321", template="otp", code="1"
        )
    assert len(server.requests) == 1


# =========================================================================== audio


async def test_audio_upload_path(
    server: ScriptedServer, pbx: AutocallClient, tmp_path: Path
) -> None:
    server.on("POST", "/v1/audio", {"created": "true"})
    audio = tmp_path / "AUDIO_1.wav"
    audio.write_bytes(b"RIFF" + bytes(range(256)) * 10)
    await pbx.audio.upload(str(audio))
    await pbx.audio.upload(audio)  # a pathlib.Path works as well
    first, second = server.requests
    assert (first.method, first.path) == ("POST", "/v1/audio")
    assert first.files == {"file": ("AUDIO_1.wav", audio.read_bytes())}
    assert second.files == first.files


async def test_audio_upload_bytes_and_file_object(
    server: ScriptedServer, pbx: AutocallClient
) -> None:
    server.on("POST", "/v1/audio", {"created": "true"})
    await pbx.audio.upload(b"abcdef", filename="a.wav")
    await pbx.audio.upload(io.BytesIO(b"ghijkl"), filename="b.wav")
    assert [r.files for r in server.requests] == [
        {"file": ("a.wav", b"abcdef")},
        {"file": ("b.wav", b"ghijkl")},
    ]


async def test_audio_upload_open_file_uses_its_name(
    server: ScriptedServer, pbx: AutocallClient, tmp_path: Path
) -> None:
    server.on("POST", "/v1/audio", {"created": "true"})
    audio = tmp_path / "greeting.wav"
    audio.write_bytes(b"RIFFdata")
    with audio.open("rb") as handle:
        await pbx.audio.upload(handle)
    assert server.requests[0].files == {"file": ("greeting.wav", b"RIFFdata")}


# =========================================================================== reports


def _check_report(r: Report) -> None:
    assert isinstance(r, Report)
    assert r.call_id == "aaaaaaaa-bbbb-cccc-dddd-eeeeeeee"
    assert r.caller == "0123456789"
    assert r.callee == "0987654321"
    assert r.campaign_id == "eeeeeeee-dddd-cccc-bbbb-aaaaaaaa"
    assert r.answer_time == datetime(2021, 5, 5, 8, 12, 40, tzinfo=UTC)
    assert r.create_time == datetime(2021, 5, 5, 8, 12, 34, tzinfo=UTC)
    assert r.start_time == datetime(2021, 5, 5, 8, 12, 34, tzinfo=UTC)
    assert r.end_time == datetime(2021, 5, 5, 8, 12, 43, tzinfo=UTC)
    assert r.end_time is not None
    assert r.end_time.tzinfo is not None
    assert r.duration == 12
    assert r.billsec == 9
    assert r.call_time == 1
    assert r.keypress == "2"
    assert r.param == {"customer_name": "Van A", "template_name": "thong_bao"}
    assert r.type == "VOICE"
    assert r.hangup_cause == "NORMAL_CLEARING"
    assert r.user_id == "11111111-bbbb-cccc-dddd-22222222"


async def test_reports_list_first_page(server: ScriptedServer, pbx: AutocallClient) -> None:
    server.on("GET", "/v1/report", {"data": [REPORT]})
    page = await pbx.reports.list(caller="0123456789", callee="0987654321", page_size=10)
    assert isinstance(page, Page)
    assert page.total is None
    assert len(page.items) == 1
    _check_report(page.items[0])
    [rec] = server.requests
    assert (rec.method, rec.path) == ("GET", "/v1/report")
    assert rec.query["limit"] == "10"
    assert rec.query.get("offset", "0") == "0"
    assert rec.query["caller"] == "0123456789"
    assert rec.query["callee"] == "0987654321"


async def test_reports_stop_on_short_page_without_extra_request(
    server: ScriptedServer, pbx: AutocallClient
) -> None:
    records = [{**REPORT, "call_id": f"r{i}"} for i in range(5)]

    def reply(rec: Rec) -> Any:
        offset = int(rec.query.get("offset", "0"))
        limit = int(rec.query["limit"])
        return {"data": records[offset : offset + limit]}

    server.on("GET", "/v1/report", reply)
    got = await collect_bounded(pbx.reports.list(page_size=2), 50)
    assert [r.call_id for r in got] == [f"r{i}" for i in range(5)]
    assert [int(r.query.get("offset", "0")) for r in server.requests] == [0, 2, 4]


async def test_reports_stop_on_empty_page(server: ScriptedServer, pbx: AutocallClient) -> None:
    records = [{**REPORT, "call_id": f"r{i}"} for i in range(4)]

    def reply(rec: Rec) -> Any:
        offset = int(rec.query.get("offset", "0"))
        limit = int(rec.query["limit"])
        return {"data": records[offset : offset + limit]}

    server.on("GET", "/v1/report", reply)
    got = await collect_bounded(pbx.reports.list(page_size=2), 50)
    assert len(got) == 4
    assert [int(r.query.get("offset", "0")) for r in server.requests] == [0, 2, 4]


async def test_reports_get(server: ScriptedServer, pbx: AutocallClient) -> None:
    server.on("GET", "/v1/report/aaaaaaaa-bbbb-cccc-dddd-eeeeeeee", {"data": REPORT})
    report = await pbx.reports.get("aaaaaaaa-bbbb-cccc-dddd-eeeeeeee")
    _check_report(report)
    assert [(r.method, r.path) for r in server.requests] == [
        ("GET", "/v1/report/aaaaaaaa-bbbb-cccc-dddd-eeeeeeee")
    ]


async def test_report_quirks(server: ScriptedServer, pbx: AutocallClient) -> None:
    record = {
        **REPORT,
        "call_id": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeee ",
        "keypress": None,
        "call_time": "3",
        "duration": "12",
        "answer_time": "",
        "end_time": "0001-01-01T00:00:00Z",
        "param": {"template_name": "otp_demo", "code_otp": "1"},
        "extra": "kept",
    }
    server.on("GET", "/v1/report", {"data": [record]})
    [report] = (await pbx.reports.list()).items
    assert report.call_id == "aaaaaaaa-bbbb-cccc-dddd-eeeeeeee"
    assert report.keypress is None
    assert report.call_time == 3
    assert report.duration == 12
    assert report.answer_time is None
    assert report.end_time is None
    assert report.param == {"template_name": "otp_demo", "code_otp": "1"}
    assert report.raw["extra"] == "kept"


async def test_reports_bad_filter_not_sent(server: ScriptedServer, pbx: AutocallClient) -> None:
    with pytest.raises(ValidationError):
        pbx.reports.list(callee="not-a-number")
    assert server.nothing_sent
