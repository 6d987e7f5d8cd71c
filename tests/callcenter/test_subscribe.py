"""``cc.events.subscribe`` / ``unsubscribe`` against FakeTel4vn: idempotent registration."""

from __future__ import annotations

import pytest

from tel4vn_async import CallCenterClient, EventType, ValidationError
from tel4vn_async.testing import FakeTel4vn

URL = "https://bot.example/tel4vn/events"


async def test_subscribe_creates_the_missing_hooks_and_is_idempotent(
    fake: FakeTel4vn, cc: CallCenterClient
) -> None:
    await cc.events.create("https://someone.else/hook", "cdr")  # another app's hook: left alone
    await cc.events.create(URL, EventType.HANGUP, "k3y-123")  # already there: kept

    hooks = await cc.events.subscribe(URL, callback_apikey="k3y-123")

    assert sorted(h.event_name.value for h in hooks if h.event_name) == [
        "answered", "cdr", "hangup", "ringing"
    ]  # fmt: skip
    assert {h.callback_url for h in hooks} == {URL}
    assert fake.count("/v1/event", "POST") == 2 + 3  # the two above, then the three missing

    again = await cc.events.subscribe(URL, callback_apikey="k3y-123")  # a restarted bot

    assert fake.count("/v1/event", "POST") == 5  # nothing created the second time
    assert [h.id for h in again] == [h.id for h in hooks]
    assert len(await cc.events.list()) == 5


async def test_subscribe_to_some_events(fake: FakeTel4vn, cc: CallCenterClient) -> None:
    hooks = await cc.events.subscribe(URL, events=["cdr", EventType.HANGUP, "CDR"])

    assert [h.event_name for h in hooks] == [EventType.CDR, EventType.HANGUP]
    assert fake.count("/v1/event", "POST") == 2
    assert [h.event_name for h in await cc.events.subscribe(URL, events="cdr")] == [EventType.CDR]
    assert fake.count("/v1/event", "POST") == 2


async def test_a_new_callback_apikey_replaces_the_hooks_with_the_old_one(
    fake: FakeTel4vn, cc: CallCenterClient
) -> None:
    old = await cc.events.subscribe(URL, events=["cdr"], callback_apikey="old-key-1")

    new = await cc.events.subscribe(URL, events=["cdr"], callback_apikey="new-key-2")

    assert [h.callback_apikey for h in new] == ["new-key-2"]
    assert new[0].id != old[0].id
    assert fake.count(f"/v1/event/{old[0].id}", "DELETE") == 1


async def test_unsubscribe_removes_the_urls_hooks_and_is_idempotent(
    fake: FakeTel4vn, cc: CallCenterClient
) -> None:
    await cc.events.subscribe(URL)
    await cc.events.create("https://someone.else/hook", "cdr")

    assert await cc.events.unsubscribe(URL, events=["cdr"]) == 1
    assert await cc.events.unsubscribe(URL) == 3
    assert await cc.events.unsubscribe(URL) == 0
    assert [h.callback_url for h in await cc.events.list()] == ["https://someone.else/hook"]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"callback_url": "ftp://bot.example/x"}, "callback_url"),
        ({"callback_url": ""}, "callback_url"),
        ({"events": []}, "events"),
        ({"events": ["hangup", "transferred"]}, "events[1]"),
        ({"events": "unknown"}, "events[0]"),
        ({"callback_apikey": " "}, "callback_apikey"),
    ],
)
async def test_bad_arguments_are_refused_before_anything_is_sent(
    fake: FakeTel4vn, cc: CallCenterClient, kwargs: dict[str, object], field: str
) -> None:
    kwargs.setdefault("callback_url", URL)
    with pytest.raises(ValidationError) as info:
        await cc.events.subscribe(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field
    if "callback_apikey" not in kwargs:
        with pytest.raises(ValidationError):
            await cc.events.unsubscribe(**kwargs)  # type: ignore[arg-type]
    assert len(fake.requests) == 0  # not even a token request
