"""The retry rules of API.md section 3, against FakeTel4vn's fault injection."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from tel4vn_async import (
    AutocallClient,
    BadRequestError,
    CallCenterClient,
    ConnectError,
    OutcomeUnknownError,
    RateLimitError,
    ServerError,
    TransportError,
    UserBusyError,
)
from tel4vn_async.testing import FakeTel4vn, Fault

from .conftest import FAST_RETRY, ClientFactory

OTP = {
    "campaign_id": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeee",
    "caller": "0123456789",
    "callee": "0987654321",
    "param": {"template_name": "otp_demo", "code_otp": "123456"},
}
CLICK = {"ext": "101", "phone": "0899098899"}


async def place_otp(pbx: AutocallClient) -> Any:
    return await pbx.request("POST", "/v1/autocall/otp", json=OTP, places_call=True)


async def click_to_call(cc: CallCenterClient) -> Any:
    return await cc.request("GET", "/v1/click2call/async", params=CLICK, places_call=True)


@pytest.mark.parametrize(
    "fault",
    [
        Fault(status=500),
        Fault(status=502),
        Fault(status=503),
        Fault(status=504),
        Fault(status=429, retry_after=0.01),
        Fault(status=502, html=True),
        Fault(status=200, malformed=True, drop="before"),
        Fault(drop="before"),
        Fault(drop="after"),
    ],
    ids=repr,
)
async def test_reads_survive_transient_failures(
    fake: FakeTel4vn, cc: CallCenterClient, fault: Fault
) -> None:
    await cc.session.token()
    fake.inject("/v2/call", fault, times=2)

    assert await cc.request("GET", "/v2/call") == {"data": [], "total": 0}
    assert fake.count("/v2/call") == 3
    assert fake.received("/v2/call")[-1].status == 200


async def test_reads_retry_a_timeout(fake: FakeTel4vn, make_cc: ClientFactory) -> None:
    cc = make_cc(timeout=0.2)
    fake.inject("/v2/call", delay=0.6)

    assert await cc.request("GET", "/v2/call") == {"data": [], "total": 0}
    assert fake.count("/v2/call") >= 2


async def test_reads_give_up_after_max_retries(fake: FakeTel4vn, make_cc: ClientFactory) -> None:
    cc = make_cc(max_retries=2)
    fake.inject("/v2/call", status=503, times=5)

    with pytest.raises(ServerError) as info:
        await cc.request("GET", "/v2/call")

    assert info.value.status == 503
    assert fake.count("/v2/call") == 3


async def test_max_retries_zero_sends_once(fake: FakeTel4vn, make_cc: ClientFactory) -> None:
    cc = make_cc(max_retries=0)
    fake.inject("/v2/call", status=500)

    with pytest.raises(ServerError):
        await cc.request("GET", "/v2/call")
    assert fake.count("/v2/call") == 1


@pytest.mark.parametrize("html", [False, True])
async def test_retry_after_is_waited_out(
    fake: FakeTel4vn, cc: CallCenterClient, html: bool
) -> None:
    fake.inject("/v2/call", status=429, retry_after=0.3, html=html)

    await cc.request("GET", "/v2/call")

    first, second = fake.received("/v2/call")
    assert second.received_at - first.received_at >= 0.29


async def test_a_retry_after_beyond_the_cap_is_raised_at_once(
    fake: FakeTel4vn, cc: CallCenterClient
) -> None:
    fake.inject("/v2/call", status=429, retry_after=120)

    with pytest.raises(RateLimitError) as info:
        await cc.request("GET", "/v2/call")

    assert info.value.retry_after == 120
    assert fake.count("/v2/call") == 1


async def test_a_refused_connection_is_a_connect_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cc = CallCenterClient(f"http://127.0.0.1:{port}", api_key="k", retry_policy=FAST_RETRY)
    try:
        with pytest.raises(ConnectError):
            await cc.request("GET", "/v2/call")
    finally:
        await cc.close()


# ----------------------------------------------------------------- call-placing requests


async def test_a_call_placing_post_dropped_after_handling_is_outcome_unknown(
    fake: FakeTel4vn, pbx: AutocallClient
) -> None:
    await pbx.session.token()
    fake.inject("/v1/autocall/otp", drop="after")

    with pytest.raises(OutcomeUnknownError) as info:
        await place_otp(pbx)

    assert info.value.method == "POST"
    assert fake.count("/v1/autocall/otp") == 1
    assert fake.dials["0987654321"] == 1


async def test_a_call_placing_get_is_never_resent_by_aiohttp(
    fake: FakeTel4vn, cc: CallCenterClient
) -> None:
    # aiohttp silently re-sends a GET whose connection drops; a click-to-call must not ring twice.
    await cc.session.token()
    fake.inject("/v1/click2call/async", drop="after")

    with pytest.raises(OutcomeUnknownError):
        await click_to_call(cc)

    assert fake.count("/v1/click2call/async") == 1
    assert fake.dials["0899098899"] == 1


async def test_a_call_placing_request_that_times_out_is_outcome_unknown(
    fake: FakeTel4vn,
) -> None:
    async with AutocallClient(
        fake.url, api_key=fake.api_key, timeout=0.2, retry_policy=FAST_RETRY
    ) as pbx:
        await pbx.session.token()
        fake.inject("/v1/autocall/otp", delay=0.6)
        with pytest.raises(OutcomeUnknownError, match="timed out"):
            await place_otp(pbx)
    assert fake.count("/v1/autocall/otp") == 1


@pytest.mark.parametrize(
    "fault",
    [
        Fault(status=429),
        Fault(status=503),
        Fault(status=503, html=True),
        Fault(status=429, retry_after=0.01),
    ],
    ids=repr,
)
async def test_a_call_placing_request_refused_unprocessed_is_retried(
    fake: FakeTel4vn, pbx: AutocallClient, fault: Fault
) -> None:
    await pbx.session.token()
    fake.inject("/v1/autocall/otp", fault)

    result = await place_otp(pbx)

    assert result["status"] == "success"
    assert fake.count("/v1/autocall/otp") == 2
    assert fake.dials["0987654321"] == 1


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        # A 5xx other than 503 may come from a gateway that passed the call on.
        (Fault(status=500), OutcomeUnknownError),
        (Fault(status=502), OutcomeUnknownError),
        (Fault(status=504), OutcomeUnknownError),
        (Fault(status=500, body={"status": "fail", "error": "USER_BUSY"}), UserBusyError),
        (Fault(status=500, body={"code": 400, "content": "campaign is invalid"}), BadRequestError),
        (Fault(status=502, html=True), OutcomeUnknownError),
        (Fault(status=200, malformed=True), OutcomeUnknownError),
        (Fault(status=400, html=True), TransportError),
        # The connection reached the server: a drop cannot prove the call was not placed.
        (Fault(drop="before"), OutcomeUnknownError),
    ],
    ids=repr,
)
async def test_a_call_placing_request_that_may_have_been_processed_is_not_retried(
    fake: FakeTel4vn, pbx: AutocallClient, fault: Fault, error: type[Exception]
) -> None:
    await pbx.session.token()
    fake.inject("/v1/autocall/otp", fault, times=3)

    with pytest.raises(error) as info:
        await place_otp(pbx)

    assert type(info.value) is error
    if fault.status is not None:
        assert info.value.status == fault.status  # type: ignore[attr-defined]
    assert fake.count("/v1/autocall/otp") == 1


async def test_no_callee_is_dialled_twice_under_concurrent_faults(
    fake: FakeTel4vn, pbx: AutocallClient
) -> None:
    await pbx.session.token()
    callees = [f"09{n:08d}" for n in range(300)]
    faults = [Fault(drop="after"), Fault(status=503), Fault(status=500), Fault(drop="before")]
    for fault in faults:
        fake.inject("/v1/autocall/otp", fault, times=40)

    async def dial(callee: str) -> str:
        try:
            await pbx.request(
                "POST", "/v1/autocall/otp", json={**OTP, "callee": callee}, places_call=True
            )
        except OutcomeUnknownError:
            return "unknown"
        except ServerError:
            return "failed"
        return "ok"

    outcomes = await asyncio.gather(*(dial(c) for c in callees))

    by_callee = dict(zip(callees, outcomes, strict=True))
    assert max(fake.dials.values()) == 1
    assert all(fake.dials[c] == 1 for c, o in by_callee.items() if o == "ok")
    assert all(fake.dials[c] == 0 for c, o in by_callee.items() if o == "failed")
    # Each fault ends exactly one call: drops and 500s as unknown, 503s retried.
    assert outcomes.count("unknown") == 120
    assert outcomes.count("failed") == 0
    assert outcomes.count("ok") == 180
    assert sum(fake.dials.values()) == 180 + 40  # the answered ones + those dropped after


async def test_reads_follow_redirects_but_call_placing_requests_do_not(
    fake: FakeTel4vn, cc: CallCenterClient, pbx: AutocallClient
) -> None:
    await pbx.session.token()
    fake.inject("/v2/call", status=302, headers={"Location": "/v2/call"})
    fake.inject("/v1/autocall/otp", status=307, headers={"Location": "/v1/autocall/otp"})

    assert await cc.request("GET", "/v2/call") == {"data": [], "total": 0}
    with pytest.raises(TransportError, match="not followed") as info:
        await place_otp(pbx)

    assert info.value.status == 307
    assert not isinstance(info.value, OutcomeUnknownError)
    assert fake.count("/v2/call") == 2
    assert fake.count("/v1/autocall/otp") == 1
    assert fake.dials == {}
