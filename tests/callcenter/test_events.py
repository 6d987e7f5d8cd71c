"""``cc.events`` against FakeTel4vn."""

from __future__ import annotations

import pytest

from tel4vn_async import BadRequestError, CallCenterClient, NotFoundError, ValidationError
from tel4vn_async.models.callcenter import EventType
from tel4vn_async.testing import FakeTel4vn


async def test_create_list_delete(fake: FakeTel4vn, cc: CallCenterClient) -> None:
    assert await cc.events.list() == []
    assert await cc.events.create("https://hooks.example/t4", EventType.HANGUP, "k3y") is True
    assert await cc.events.create("https://hooks.example/t4", "CDR") is True
    sent = [r.json for r in fake.received("/v1/event", "POST")]
    assert sent == [
        {"callback_url": "https://hooks.example/t4", "event": "hangup", "callback_apikey": "k3y"},
        {"callback_url": "https://hooks.example/t4", "event": "cdr"},
    ]
    events = await cc.events.list()
    assert [e.event_name for e in events] == [EventType.HANGUP, EventType.CDR]
    assert events[0].callback_apikey == "k3y"
    assert "k3y" not in repr(events)

    assert await cc.events.delete(events[0].id or "") is True
    assert fake.received()[-1].path == f"/v1/event/{events[0].id}"
    assert fake.received()[-1].method == "DELETE"
    assert [e.id for e in await cc.events.list()] == [events[1].id]
    with pytest.raises(NotFoundError):  # {"code": 404, ...} in a 200
        await cc.events.delete(events[0].id or "")


@pytest.mark.parametrize(
    ("url", "event", "field"),
    [
        ("https://hooks.example", "create", "event"),  # the spec's own sample value
        ("https://hooks.example", "missed", "event"),
        ("ftp://hooks.example", "hangup", "callback_url"),
        ("hooks.example", "hangup", "callback_url"),
    ],
)
async def test_create_validation(
    fake: FakeTel4vn, cc: CallCenterClient, url: str, event: str, field: str
) -> None:
    with pytest.raises(ValidationError) as info:
        await cc.events.create(url, event)
    assert info.value.field == field
    with pytest.raises(ValidationError):
        await cc.events.delete("")
    assert fake.count() == 0


async def test_unknown_event_names_from_the_server_are_kept(
    fake: FakeTel4vn, cc: CallCenterClient
) -> None:
    fake.state["cc_events"] = [{"event_domain_uuid": "e1 ", "event_name": "cdr_autocall"}]
    [event] = await cc.events.list()
    assert event.event_name is EventType.UNKNOWN
    assert event.raw["event_name"] == "cdr_autocall"
    assert event.id == "e1"


async def test_an_echoed_callback_apikey_never_shows_in_the_error(
    fake: FakeTel4vn, cc: CallCenterClient
) -> None:
    secret = "hook-secret-4711"
    echo = f"callback_apikey {secret} is not accepted"
    fake.inject("/v1/event", method="POST", status=400, body={"code": 400, "content": echo})

    with pytest.raises(BadRequestError) as info:
        await cc.events.create("https://hooks.example/t4", "hangup", secret)

    assert fake.received("/v1/event", "POST")[0].json["callback_apikey"] == secret
    for text in (str(info.value), repr(info.value), info.value.message):
        assert secret not in text
    assert "***" in info.value.message


@pytest.mark.parametrize(
    "key", [object(), 12345678, b"hook-secret-4711", "", "  ", "hook-secret\r\n4711", "k" * 1001]
)
async def test_a_bad_callback_apikey_is_refused_and_never_echoed(
    fake: FakeTel4vn, cc: CallCenterClient, key: object
) -> None:
    with pytest.raises(ValidationError) as info:
        await cc.events.create("https://hooks.example/t4", "hangup", key)  # type: ignore[arg-type]
    assert info.value.field == "callback_apikey"
    assert "hook-secret" not in str(info.value)
    assert "12345678" not in str(info.value)
    assert fake.count() == 0


@pytest.mark.parametrize(
    "url", ["https://hooks.example/\r\nX: 1", "http://[::1", "https://a b.vn", "http://x:99999", 5]
)
async def test_a_callback_url_is_one_clean_http_url(
    fake: FakeTel4vn, cc: CallCenterClient, url: object
) -> None:
    with pytest.raises(ValidationError) as info:
        await cc.events.create(url, "hangup")  # type: ignore[arg-type]
    assert info.value.field == "callback_url"
    assert fake.count() == 0
