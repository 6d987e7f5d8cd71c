"""``cc.click2call`` and ``cc.calls`` against FakeTel4vn, failure shapes included."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tel4vn_async import (
    CallCenterClient,
    CallRejectedError,
    NotFoundError,
    OutcomeUnknownError,
    UserBusyError,
    UserNotRegisteredError,
    ValidationError,
)
from tel4vn_async.models.callcenter import CallDirection, ClickToCallResult
from tel4vn_async.testing import FakeTel4vn

PHONE = "0899098899"


@pytest.mark.parametrize(
    ("method", "path"), [("call", "/v1/click2call"), ("start", "/v1/click2call/async")]
)
async def test_click_to_call_get(
    fake: FakeTel4vn, cc: CallCenterClient, method: str, path: str
) -> None:
    place = getattr(cc.click2call, method)
    result = await place(
        "101", PHONE, auto_answer=True, hotline="19001919", customer_id="KH1", src_cid_name="Sales"
    )
    assert isinstance(result, ClickToCallResult)
    assert result.status == "success"
    assert result.call_id
    assert fake.dials[PHONE] == 1
    [sent] = fake.received(path, "GET")
    assert sent.query == {
        "ext": "101",
        "phone": PHONE,
        "auto_answer": "true",
        "hotline": "19001919",
        "customer_id": "KH1",
        "src_cid_name": "Sales",
    }


@pytest.mark.parametrize("method", ["call", "start"])
async def test_click_to_call_unregistered_and_busy(
    fake: FakeTel4vn, cc: CallCenterClient, method: str
) -> None:
    place = getattr(cc.click2call, method)
    with pytest.raises(UserNotRegisteredError) as info:
        await place("199", PHONE)
    assert info.value.code == "USER_NOT_REGISTERED"
    assert isinstance(info.value, CallRejectedError)
    fake.busy_extensions.add("102")
    with pytest.raises(UserBusyError):
        await place("102", PHONE)
    assert fake.dials[PHONE] == 0
    assert fake.count() - fake.token_requests == 2  # neither was retried


async def test_dial_posts_v2(fake: FakeTel4vn, cc: CallCenterClient) -> None:
    result = await cc.click2call.dial("KH1", PHONE, "103")
    assert result.code == "0"
    assert result.call_id
    assert fake.received("/v2/click2call", "POST")[0].json == {
        "id": "KH1",
        "mobile": PHONE,
        "agent": "103",
    }
    with pytest.raises(UserNotRegisteredError) as info:  # {"code": "1", "status": "fail", ...}
        await cc.click2call.dial("KH1", PHONE, "555")
    assert "not registered" in info.value.message
    assert fake.dials[PHONE] == 1


@pytest.mark.parametrize(
    ("args", "kwargs", "field"),
    [
        (("101", "09x"), {}, "phone"),
        (("", PHONE), {}, "ext"),
        (("101", PHONE), {"hotline": "hot"}, "hotline"),
        (("101", PHONE), {"dest_cid_number": "1"}, "dest_cid_number"),
    ],
)
async def test_click_to_call_validation(
    fake: FakeTel4vn,
    cc: CallCenterClient,
    args: tuple[str, str],
    kwargs: dict[str, Any],
    field: str,
) -> None:
    for place in (cc.click2call.call, cc.click2call.start):
        with pytest.raises(ValidationError) as info:
            await place(*args, **kwargs)
        assert info.value.field == field
    with pytest.raises(ValidationError) as info:
        await cc.click2call.dial("KH1", "12", "101")
    assert info.value.field == "mobile"
    assert fake.count() == 0


@pytest.mark.parametrize("path", ["/v1/click2call", "/v1/click2call/async", "/v2/click2call"])
async def test_a_lost_answer_is_never_redialled(
    fake: FakeTel4vn, cc: CallCenterClient, path: str
) -> None:
    await cc.session.token()
    fake.inject(path, drop="after")
    if path == "/v2/click2call":
        place = cc.click2call.dial("KH1", PHONE, "101")
    elif path.endswith("async"):
        place = cc.click2call.start("101", PHONE)
    else:
        place = cc.click2call.call("101", PHONE)
    with pytest.raises(OutcomeUnknownError):
        await place
    assert fake.dials[PHONE] == 1
    assert fake.count(path) == 1


async def test_a_503_before_dialling_is_retried_once_then_rings_once(
    fake: FakeTel4vn, cc: CallCenterClient
) -> None:
    fake.inject("/v1/click2call/async", status=503, retry_after=0)
    await cc.click2call.start("101", PHONE)
    assert fake.count("/v1/click2call/async") == 2
    assert fake.dials[PHONE] == 1


async def test_hundreds_of_concurrent_click_to_calls(
    fake: FakeTel4vn, cc: CallCenterClient
) -> None:
    phones = [f"0899{i:06d}" for i in range(300)]
    results = await asyncio.gather(
        *(cc.click2call.start(str(101 + i % 3), p) for i, p in enumerate(phones))
    )
    assert len({r.call_id for r in results}) == 300
    assert all(fake.dials[p] == 1 for p in phones)
    assert fake.token_requests == 1


async def test_list_live_calls(fake: FakeTel4vn, cc: CallCenterClient) -> None:
    assert await cc.calls.list() == []
    fake.add_live_call(call_id="c1 ", created_time="2021-06-08 17:37:37", direction="outbound")
    fake.add_live_call(direction="inbound", state="CS_EXCHANGE_MEDIA", surprise=True)
    calls = await cc.calls.list()
    assert next(c.call_id for c in calls) == "c1"
    assert calls[0].created_time is not None
    assert calls[0].created_time.hour == 17
    assert calls[1].direction is CallDirection.INBOUND
    assert calls[1].raw["surprise"] is True
    assert fake.count("/v2/call", "GET") == 2


@pytest.mark.parametrize("action", ["transfer", "listen", "whisper", "barge"])
async def test_call_actions(fake: FakeTel4vn, cc: CallCenterClient, action: str) -> None:
    call = fake.add_live_call()
    result = await getattr(cc.calls, action)(call["call_id"], "102")
    assert (result.status, result.call_id, result.ext) == ("success", call["call_id"], "102")
    [sent] = fake.received(f"/v2/call/{call['call_id']}/{action}", "POST")
    assert sent.json == {"ext": "102"}
    assert fake.state["cc_call_actions"] == [(call["call_id"], action, "102")]

    with pytest.raises(UserNotRegisteredError):
        await getattr(cc.calls, action)(call["call_id"], "999")
    with pytest.raises(NotFoundError):
        await getattr(cc.calls, action)("no-such-call", "102")
    with pytest.raises(ValidationError) as info:
        await getattr(cc.calls, action)(call["call_id"], " ")
    assert info.value.field == "ext"
    assert len(fake.state["cc_call_actions"]) == 1
    assert fake.count(f"/v2/call/{call['call_id']}/{action}") == 2


async def test_a_synchronous_click_to_call_waits_as_long_as_it_is_told(
    fake: FakeTel4vn, make_cc: Any
) -> None:
    cc: CallCenterClient = make_cc(timeout=0.2)
    await cc.session.token()
    fake.inject("/v1/click2call", delay=0.5, times=2)  # the agent takes a while to pick up

    result = await cc.click2call.call("101", PHONE, timeout=2.0)
    assert result.status == "success"
    with pytest.raises(OutcomeUnknownError, match="timed out"):
        await cc.click2call.call("101", "0899098898")  # the client's 0.2 s: the answer is lost

    assert fake.count("/v1/click2call") == 2
    assert fake.dials[PHONE] == 1


@pytest.mark.parametrize("timeout", [-1, 0, 0.0, float("nan"), float("inf"), "5", True, 10**400])
async def test_a_bad_timeout_is_refused_before_the_call_is_placed(
    fake: FakeTel4vn, cc: CallCenterClient, timeout: Any
) -> None:
    with pytest.raises(ValidationError) as info:
        await cc.click2call.call("101", PHONE, timeout=timeout)
    assert info.value.field == "timeout"
    assert fake.dials[PHONE] == 0
    assert fake.count() == 0


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("src_cid_name", object()),
        ("dest_cid_name", object()),
        ("src_cid_name", "Sales\r\nX-Injected: 1"),
        ("dest_cid_name", "x" * 1001),
        ("auto_answer", "yes"),
        ("auto_answer", 1),
        ("customer_id", "KH\x001"),
        ("hotline", 10**400),
    ],
)
async def test_options_are_checked_not_stringified(
    fake: FakeTel4vn, cc: CallCenterClient, option: str, value: object
) -> None:
    options: dict[str, Any] = {option: value}
    for place in (cc.click2call.call, cc.click2call.start):
        with pytest.raises(ValidationError) as info:
            await place("101", PHONE, **options)
        assert info.value.field == option
    assert fake.count() == 0


async def test_an_int_extension_is_sent_as_its_digits(
    fake: FakeTel4vn, cc: CallCenterClient
) -> None:
    await cc.click2call.start(101, PHONE, auto_answer=False)  # type: ignore[arg-type]
    assert fake.received("/v1/click2call/async")[0].query == {
        "ext": "101",
        "phone": PHONE,
        "auto_answer": "false",
    }
