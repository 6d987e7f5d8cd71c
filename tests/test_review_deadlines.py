"""Review of the per-attempt deadlines (commit b01c9c1), black box, against real servers.

What CHANGELOG ("Changed (speed, issue 10)") and API.md section 3 promise, tried from the
outside through the clients, with ``FakeTel4vn`` and ``ScriptedServer``:

- an answer slower than the timeout: a ``TransportError`` for a read (retried: the
  server sees ``1 + max_retries`` requests), an ``OutcomeUnknownError`` for a request
  that can place a call (never retried: the server sees one);
- a trickled body is timed as a whole;
- a request still waiting for a pooled connection when its time is up was never sent:
  ``ConnectError``, never "may have been sent";
- a cancellation from outside (``task.cancel()``, ``asyncio.timeout``, ``wait_for``)
  stays a cancellation, also when it lands together with the deadline; nothing is left
  in the transport's deadlines, and the calling task keeps no pending cancel;
- hundreds of requests in flight each keep their own deadline.

The review found four bugs, all fixed since: a request's own timeout did not bound its wait
for a connection; a request awaited through an async generator, a listing's wrapper or a
deep stack was taken for sent when its time ran out waiting for a connection; closing a
client over a caller's session left its requests in flight without a deadline; and a
request cut off by the client's own close read "the server closed the connection".
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tel4vn_async import (
    AutocallClient,
    CallCenterClient,
    ClientClosedError,
    ConnectError,
    JobStatus,
    OtpJob,
    OutcomeUnknownError,
    Tel4vnError,
    TransportError,
)
from tel4vn_async._client import BaseClient
from tel4vn_async._retry import Attempt
from tel4vn_async._transport import AiohttpTransport, _Deadlines
from tel4vn_async.testing import FakeTel4vn, Fault

from .conftest import FAST_RETRY, ClientFactory
from .scripted_server import ScriptedServer, trickled

OTP = "/v1/autocall/otp"
CALLER = "0281234567"
C2C = "/v1/click2call"
C2C_ASYNC = "/v1/click2call/async"


# --------------------------------------------------------------------------- helpers


def deadlines_of(client: BaseClient) -> _Deadlines:
    transport = client._transport
    assert isinstance(transport, AiohttpTransport)
    deadlines = transport._deadlines
    assert deadlines is not None, "the transport was never used"
    return deadlines


def settled(client: BaseClient) -> bool:
    """No deadline and no expired-task mark left behind."""
    deadlines = deadlines_of(client)
    return not deadlines._due and not deadlines._expired


async def assert_not_left_cancelled() -> None:
    """The current task has no cancel pending: its count is 0 and it goes on awaiting."""
    task = asyncio.current_task()
    assert task is not None
    if sys.version_info >= (3, 11):
        assert task.cancelling() == 0
    await asyncio.sleep(0)
    await asyncio.sleep(0.001)


async def hang(request: web.Request) -> web.StreamResponse:
    await asyncio.sleep(30)
    return web.json_response({})


def answer_after(seconds: float, body: Any = None) -> Callable[[web.Request], Any]:
    async def handler(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(seconds)
        return web.json_response(
            body if body is not None else {"status": "success", "call_id": "c-1", "data": []}
        )

    return handler


# Headers at once, then a body in 10 chunks 20 ms apart: 0.2 s in all.
trickle = trickled(b'{"status": "success", "call_id": "c-1", "data": [', chunks=10, gap=0.02)


async def until(condition: Callable[[], bool], *, within: float = 10.0) -> None:
    """Wait (bounded) until ``condition()`` holds; fail the test if it never does."""
    for _ in range(int(within / 0.005)):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the condition never held")


@pytest.fixture
async def srv() -> AsyncIterator[ScriptedServer]:
    async with ScriptedServer() as server:
        yield server


# --------------------------------------------------------------------------- reads


async def test_a_timed_out_read_is_retried_and_the_server_sees_every_try(
    fake: FakeTel4vn, make_cc: ClientFactory
) -> None:
    attempts: list[Attempt] = []
    cc = make_cc(timeout=0.1, max_retries=2, on_attempt=attempts.append)
    fake.inject("/v2/call", Fault(delay=0.6), times=3)
    with pytest.raises(TransportError, match=r"timed out waiting for the answer \(0.1 s\)") as info:
        await cc.calls.list()
    assert not isinstance(info.value, ConnectError | OutcomeUnknownError)
    assert fake.count("/v2/call") == 3  # 1 + max_retries
    assert [(a.number, a.will_retry, a.status) for a in attempts if a.path == "/v2/call"] == [
        (1, True, None),
        (2, True, None),
        (3, False, None),
    ]
    assert settled(cc)
    await assert_not_left_cancelled()
    # The faults are used up: the same client answers at once, on the same deadlines.
    assert await cc.calls.list() == []
    assert fake.count("/v2/call") == 4
    assert settled(cc)


async def test_a_read_that_times_out_once_succeeds_on_its_retry(
    fake: FakeTel4vn, make_cc: ClientFactory
) -> None:
    cc = make_cc(timeout=0.1, max_retries=1)
    fake.inject("/v2/call", Fault(delay=0.5), times=1)
    assert await cc.calls.list() == []
    assert fake.count("/v2/call") == 2
    assert settled(cc)
    await assert_not_left_cancelled()


async def test_a_trickled_read_is_timed_as_a_whole_and_retried(srv: ScriptedServer) -> None:
    srv.routes["/slow"] = trickle  # every chunk within 20 ms, the whole in 0.2 s
    async with CallCenterClient(
        srv.url, api_key="k", timeout=0.1, max_retries=1, retry_policy=FAST_RETRY
    ) as cc:
        with pytest.raises(TransportError, match=r"timed out waiting for the answer \(0.1 s\)"):
            await cc.request("GET", "/slow")
        # Given time for the whole body, the same answer reads.
        body = await cc.request("GET", "/slow", timeout=2.0)
        assert body["call_id"] == "c-1"
        assert settled(cc)
    await srv.settle()
    assert srv.count("/slow") == 3


async def test_a_requests_own_timeout_beats_the_clients_both_ways(srv: ScriptedServer) -> None:
    srv.routes["/slow"] = answer_after(0.25)
    async with (
        CallCenterClient(
            srv.url, api_key="k", timeout=0.1, max_retries=0, retry_policy=FAST_RETRY
        ) as short,
        CallCenterClient(
            srv.url, api_key="k", timeout=5.0, max_retries=2, retry_policy=FAST_RETRY
        ) as long,
    ):
        results = await asyncio.gather(
            short.request("GET", "/slow", timeout=1.0),
            long.request("GET", "/slow", timeout=0.1),
            return_exceptions=True,
        )
        assert isinstance(results[0], dict)
        assert isinstance(results[1], TransportError)
        assert "(0.1 s)" in str(results[1])
        assert settled(short)
        assert settled(long)
    await srv.settle()
    assert srv.count("/slow") == 1 + 3  # the short request's 1, the long one's 1 + 2 retries


# --------------------------------------------------------------------------- placing calls


def _otp(pbx: AutocallClient) -> Awaitable[Any]:
    return pbx.calls.otp(
        campaign_id=1, caller=CALLER, callee="0900000001", template="otp_demo", code="123456"
    )


def _tts(pbx: AutocallClient) -> Awaitable[Any]:
    params: dict[str, str | int] = {
        "customer_name": "An",
        "due_amount": 5,
        "due_date": "01/01/2027",
    }
    return pbx.calls.tts(
        caller=CALLER, callee="0900000001", template="thong_bao_no_cuoc_01", params=params
    )


@pytest.mark.parametrize(
    ("path", "place"),
    [
        (OTP, _otp),
        ("/v1/autocall/voice", _tts),
    ],
    ids=["POST otp", "POST tts"],
)
async def test_an_autocall_that_times_out_is_sent_once_and_its_outcome_unknown(
    fake: FakeTel4vn, path: str, place: Callable[[AutocallClient], Awaitable[Any]]
) -> None:
    fake.inject(path, Fault(delay=0.3))
    async with AutocallClient(
        fake.url, api_key=fake.api_key, timeout=0.1, max_retries=3, retry_policy=FAST_RETRY
    ) as pbx:
        with pytest.raises(OutcomeUnknownError, match=r"timed out.*\(0.1 s\)"):
            await place(pbx)
        assert fake.count(path) == 1
        assert settled(pbx)
        await assert_not_left_cancelled()
        # Why "unknown" is the truth: the PBX goes on and rings after the SDK gave up.
        await until(lambda: fake.dials["0900000001"] == 1)
        assert fake.count(path) == 1


@pytest.mark.parametrize(
    ("path", "place"),
    [
        (C2C_ASYNC, lambda cc: cc.click2call.start("101", "0899098899")),
        (C2C, lambda cc: cc.click2call.call("101", "0899098899")),
        ("/v2/click2call", lambda cc: cc.click2call.dial("cus-1", "0899098899", "101")),
    ],
    ids=["GET start", "GET call", "POST dial"],
)
async def test_a_click_to_call_that_times_out_is_sent_once_and_its_outcome_unknown(
    fake: FakeTel4vn,
    make_cc: ClientFactory,
    path: str,
    place: Callable[[CallCenterClient], Awaitable[Any]],
) -> None:
    cc = make_cc(timeout=0.1, max_retries=3)
    fake.inject(path, Fault(delay=0.3))
    with pytest.raises(OutcomeUnknownError, match="timed out"):
        await place(cc)
    assert fake.count(path) == 1
    assert settled(cc)
    await until(lambda: fake.dials["0899098899"] == 1)
    assert fake.count(path) == 1  # and never sent again


async def test_a_trickled_click_to_call_answer_is_an_unknown_outcome_sent_once(
    srv: ScriptedServer,
) -> None:
    srv.routes[C2C] = trickle
    async with CallCenterClient(
        srv.url, api_key="k", timeout=0.1, max_retries=3, retry_policy=FAST_RETRY
    ) as cc:
        with pytest.raises(OutcomeUnknownError, match="timed out"):
            await cc.click2call.call("101", "0899098899")
        assert settled(cc)
    await srv.settle()
    assert srv.count(C2C) == 1


async def test_a_sync_click_to_call_waits_its_own_timeout_longer_than_the_clients(
    srv: ScriptedServer,
) -> None:
    srv.routes[C2C] = answer_after(0.2)
    async with CallCenterClient(srv.url, api_key="k", timeout=0.1, max_retries=0) as cc:
        await cc.session.token()
        own, own_on_a_hasty_child = await asyncio.gather(
            cc.click2call.call("101", "0899000001", timeout=1.0),
            # A with_options client's timeout is the default, not the call's own.
            cc.with_options(timeout=0.05).click2call.call("101", "0899000002", timeout=1.0),
        )
        assert own.call_id == own_on_a_hasty_child.call_id == "c-1"
        # Without its own timeout, the client's applies.
        with pytest.raises(OutcomeUnknownError, match=r"\(0.1 s\)"):
            await cc.click2call.call("101", "0899000003")
        assert settled(cc)
    await srv.settle()
    assert sorted(r.query["phone"] for r in srv.of(C2C)) == [
        "0899000001",
        "0899000002",
        "0899000003",
    ]


async def test_a_sync_click_to_call_with_a_shorter_own_timeout_gives_up_then(
    srv: ScriptedServer,
) -> None:
    srv.routes[C2C] = answer_after(0.3)
    async with CallCenterClient(srv.url, api_key="k", timeout=5.0, max_retries=3) as cc:
        with pytest.raises(OutcomeUnknownError, match=r"\(0.1 s\)"):
            await cc.click2call.call("101", "0899000001", timeout=0.1)
        assert settled(cc)
    await srv.settle()
    assert srv.count(C2C) == 1


# --------------------------------------------------------------------------- with_options


async def test_with_options_timeout_and_the_parents_run_side_by_side(srv: ScriptedServer) -> None:
    srv.routes["/slow"] = answer_after(0.25)
    async with CallCenterClient(
        srv.url, api_key="k", timeout=0.1, max_retries=0, retry_policy=FAST_RETRY
    ) as parent:
        patient = parent.with_options(timeout=1.0)
        hasty = patient.with_options(timeout=0.05, max_retries=2)
        results = await asyncio.gather(
            parent.request("GET", "/slow"),
            patient.request("GET", "/slow"),
            hasty.request("GET", "/slow"),
            return_exceptions=True,
        )
        assert isinstance(results[0], TransportError)
        assert "(0.1 s)" in str(results[0])
        assert isinstance(results[1], dict)
        assert isinstance(results[2], TransportError)
        assert "(0.05 s)" in str(results[2])
        # The children share the parent's transport, and its deadlines: all settled.
        assert patient._transport is parent._transport
        assert settled(parent)
        # The parent's own setting did not move.
        with pytest.raises(TransportError, match=r"\(0.1 s\)"):
            await parent.request("GET", "/slow")
    await srv.settle()
    assert srv.count("/slow") == 1 + 1 + 3 + 1


# --------------------------------------------------------------------------- outside timeouts


async def test_wait_for_shorter_than_the_sdk_timeout_raises_the_outer_timeout(
    srv: ScriptedServer,
) -> None:
    srv.routes["/slow"] = answer_after(0.3)
    srv.routes[C2C_ASYNC] = answer_after(0.3)
    async with CallCenterClient(srv.url, api_key="k", timeout=0.6, max_retries=3) as cc:
        await cc.session.token()
        for call in (
            lambda: cc.request("GET", "/slow"),
            lambda: cc.click2call.start("101", "0899000001"),
        ):
            with pytest.raises(asyncio.TimeoutError) as info:
                await asyncio.wait_for(call(), 0.1)
            assert not isinstance(info.value, Tel4vnError)
            assert settled(cc)
            await assert_not_left_cancelled()
    await srv.settle()
    assert srv.count("/slow") == 1  # a cancellation is not retried
    assert srv.count(C2C_ASYNC) == 1


async def test_asyncio_timeout_shorter_than_the_sdk_timeout_raises_the_outer_timeout(
    srv: ScriptedServer,
) -> None:
    if sys.version_info < (3, 11):
        pytest.skip("asyncio.timeout and a count of cancellations are Python 3.11+")
    srv.routes[C2C_ASYNC] = answer_after(0.3)
    async with CallCenterClient(srv.url, api_key="k", timeout=0.6, max_retries=3) as cc:
        await cc.session.token()
        with pytest.raises(TimeoutError) as info:
            async with asyncio.timeout(0.1):
                await cc.click2call.start("101", "0899000001")
        assert not isinstance(info.value, Tel4vnError)
        assert settled(cc)
        await assert_not_left_cancelled()
        # The other way round: the SDK's deadline first, the outer one never fires.
        async with asyncio.timeout(2.0) as outer:
            with pytest.raises(OutcomeUnknownError, match=r"\(0.05 s\)"):
                await cc.with_options(timeout=0.05).click2call.start("101", "0899000002")
        assert not outer.expired()
        assert settled(cc)
        await assert_not_left_cancelled()
    await srv.settle()
    assert srv.count(C2C_ASYNC) == 2


async def test_an_asyncio_timeout_landing_with_the_deadline_stays_a_timeout(
    srv: ScriptedServer,
) -> None:
    if sys.version_info < (3, 11):
        pytest.skip("asyncio.timeout and a count of cancellations are Python 3.11+")
    srv.routes["/hang"] = hang
    async with CallCenterClient(
        srv.url, api_key="k", timeout=0.2, max_retries=3, retry_policy=FAST_RETRY
    ) as cc:
        await cc.session.token()
        deadlines = deadlines_of(cc)
        scopes: dict[int, Any] = {}  # asyncio.Timeout (3.11+)

        async def caller(i: int) -> tuple[str, int]:
            task = asyncio.current_task()
            assert task is not None
            try:
                async with asyncio.timeout(None) as scope:
                    scopes[i] = scope
                    await cc.request("GET", "/hang")
            except TimeoutError:
                return ("outer timeout", task.cancelling())
            return ("answered", task.cancelling())

        n = 200
        tasks = [asyncio.create_task(caller(i)) for i in range(n)]
        await until(lambda: len(deadlines._due) == n)
        # Each caller's own timeout falls in the same turn of the loop as its deadline
        # (half of them are still waiting for one of aiohttp's 100 connections).
        for i, task in enumerate(tasks):
            scopes[i].reschedule(deadlines._due[task][0])
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert results == [("outer timeout", 0)] * n
        assert settled(cc)
        await assert_not_left_cancelled()


async def test_cancelling_200_requests_in_flight_at_once(srv: ScriptedServer) -> None:
    srv.routes["/hang"] = hang
    srv.routes["/quick"] = answer_after(0)
    async with CallCenterClient(
        # A deadline well past the cancel: 200 connections may take a while on a busy machine.
        srv.url,
        api_key="k",
        timeout=10,
        max_retries=3,
        retry_policy=FAST_RETRY,
    ) as cc:
        await cc.session.token()
        deadlines = deadlines_of(cc)
        tasks = [asyncio.create_task(cc.request("GET", "/hang")) for _ in range(200)]
        await until(lambda: len(deadlines._due) == 200 and srv.count("/hang") == 100)
        for task in tasks:  # 100 waiting for their answer, 100 for a connection
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(isinstance(r, asyncio.CancelledError) for r in results)
        assert all(t.cancelled() for t in tasks)
        assert settled(cc)
        await assert_not_left_cancelled()
        # The pool is whole again: 200 quick requests all answer.
        answers = await asyncio.gather(*(cc.request("GET", "/quick") for _ in range(200)))
        assert len(answers) == 200
        assert settled(cc)
    await srv.settle()
    assert srv.count("/hang") == 100  # the others were never sent


async def test_cancelling_a_request_overdue_while_it_waits_for_a_connection(
    srv: ScriptedServer,
) -> None:
    srv.routes["/held"] = answer_after(0.35)
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1))
    try:
        async with CallCenterClient(srv.url, api_key="k", http_session=http) as cc:
            await cc.session.token()
            first = asyncio.create_task(cc.request("GET", "/held"))
            await until(lambda: srv.count("/held") == 1)
            # Its own 0.1 s pass while it waits; the transport looks again later.
            second = asyncio.create_task(cc.request("GET", "/other", timeout=0.1))
            await asyncio.sleep(0.2)
            assert not second.done()
            second.cancel()
            with pytest.raises(asyncio.CancelledError):
                await second
            assert set(deadlines_of(cc)._due) == {first}  # only the one still running
            assert not deadlines_of(cc)._expired
            await first
            assert settled(cc)
    finally:
        await http.close()
    assert srv.count("/other") == 0


# --------------------------------------------------------------------------- tokens


async def test_the_token_request_timing_out_is_a_transport_error_nothing_placed(
    srv: ScriptedServer,
) -> None:
    srv.token_handler = hang
    srv.routes[C2C_ASYNC] = answer_after(0)
    async with CallCenterClient(
        srv.url, api_key="k", timeout=0.1, max_retries=2, retry_policy=FAST_RETRY
    ) as cc:
        results = await asyncio.gather(
            *(cc.click2call.start("101", f"08990000{i:02d}") for i in range(20)),
            return_exceptions=True,
        )
        for result in results:
            assert type(result) is TransportError, result  # not an unknown outcome
            assert "/v2/auth/token" in str(result)
            assert "timed out" in str(result)
        assert srv.token_count() == 3  # one flight for the 20, retried like a read
        assert srv.count(C2C_ASYNC) == 0
        assert settled(cc)
        await assert_not_left_cancelled()
        # The token endpoint recovers: the next call fetches afresh and goes through.
        srv.token_handler = None
        placed = await cc.click2call.start("101", "0899000099")
        assert placed.call_id == "c-1"
        assert settled(cc)
    await srv.settle()
    assert srv.token_count() == 4
    assert srv.count(C2C_ASYNC) == 1


async def test_a_caller_cancelled_during_a_token_request_leaves_it_its_deadline(
    srv: ScriptedServer,
) -> None:
    srv.token_handler = hang
    async with CallCenterClient(srv.url, api_key="k", timeout=0.15, max_retries=0) as cc:
        caller = asyncio.create_task(cc.calls.list())
        await until(lambda: srv.token_count() == 1)
        inflight = cc.session._inflight
        assert inflight is not None
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller
        # The shared refresh goes on for others, bounded by its own deadline.
        await asyncio.wait_for(asyncio.wait([inflight]), 1.0)
        error = inflight.exception()
        assert isinstance(error, TransportError)
        assert "timed out" in str(error)
        assert settled(cc)
        await assert_not_left_cancelled()
    assert srv.count("/v2/call") == 0


# --------------------------------------------------------------------------- closing, reuse


async def test_a_client_closed_with_requests_in_flight_ends_them_at_once(
    srv: ScriptedServer,
) -> None:
    srv.routes["/hang"] = hang
    srv.routes[C2C_ASYNC] = hang
    cc = CallCenterClient(srv.url, api_key="k", timeout=0.3, max_retries=2, retry_policy=FAST_RETRY)
    await cc.session.token()
    reads = [asyncio.create_task(cc.request("GET", "/hang")) for _ in range(3)]
    calls = [asyncio.create_task(cc.click2call.start("101", f"089900000{i}")) for i in range(2)]
    await until(lambda: srv.count("/hang") == 3 and srv.count(C2C_ASYNC) == 2)
    await cc.close()
    results = await asyncio.wait_for(
        asyncio.gather(*reads, *calls, return_exceptions=True), timeout=1.0
    )
    for result in results[:3]:
        assert isinstance(result, TransportError | ClientClosedError), result
    for result in results[3:]:
        # They reached the server: "maybe placed", never a plain closed-client error.
        assert isinstance(result, OutcomeUnknownError), result
    assert settled(cc)
    await assert_not_left_cancelled()
    with pytest.raises(ClientClosedError):
        await cc.request("GET", "/hang")
    await srv.settle()
    assert srv.count("/hang") == 3
    assert srv.count(C2C_ASYNC) == 2


async def test_a_client_closed_over_a_callers_session_keeps_in_flight_deadlines(
    srv: ScriptedServer,
) -> None:
    srv.routes["/hang"] = hang
    http = aiohttp.ClientSession()
    cc = CallCenterClient(srv.url, api_key="k", http_session=http, timeout=0.15, max_retries=0)
    tasks: list[asyncio.Task[Any]] = []
    try:
        await cc.session.token()
        tasks = [asyncio.create_task(cc.request("GET", "/hang")) for _ in range(3)]
        await until(lambda: srv.count("/hang") == 3)
        await cc.close()
        # Each should end by its 0.15 s deadline (or at once, as closed); 0.45 s is plenty.
        done, pending = await asyncio.wait(tasks, timeout=0.45)
        assert not pending, f"{len(pending)} request(s) still running with no deadline"
        for task in done:
            assert isinstance(task.exception(), TransportError | ClientClosedError)
        assert settled(cc)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await http.close()


async def test_the_pool_still_works_after_timeouts(srv: ScriptedServer) -> None:
    srv.routes["/hang"] = hang
    srv.routes[C2C_ASYNC] = hang
    srv.routes["/quick"] = answer_after(0)
    # One connection: a slot lost to a timed-out request would starve every later one.
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1))
    try:
        async with CallCenterClient(
            srv.url, api_key="k", http_session=http, timeout=0.1, max_retries=0
        ) as cc:
            for _ in range(3):
                with pytest.raises(TransportError, match="timed out"):
                    await cc.request("GET", "/hang")
            with pytest.raises(OutcomeUnknownError):
                await cc.click2call.start("101", "0899000001")
            for _ in range(5):
                assert await cc.request("GET", "/quick")
            answers = await asyncio.gather(*(cc.request("GET", "/quick") for _ in range(10)))
            assert len(answers) == 10
            assert settled(cc)
            await assert_not_left_cancelled()
    finally:
        await http.close()
    await srv.settle()
    assert srv.count("/quick") == 15


# --------------------------------------------------------------------------- many at once


async def test_hundreds_of_requests_in_flight_each_keep_their_own_deadline(
    srv: ScriptedServer,
) -> None:
    async def after(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(float(request.query["after"]))
        return web.json_response({"after": request.query["after"]})

    srv.routes["/after"] = after
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    try:
        async with CallCenterClient(
            srv.url, api_key="k", http_session=http, timeout=5.0, max_retries=0
        ) as cc:
            await cc.session.token()
            # 200 connections opened first, 100 at a time (200 at once overflow the
            # server's listen backlog, 128, and a dropped SYN costs a second), so that no
            # request below waits to connect: its short deadline bounds connecting too.
            first = [
                asyncio.create_task(cc.request("GET", "/after", params={"after": 0.5}))
                for _ in range(100)
            ]
            await until(lambda: srv.count("/after") == 100)
            await asyncio.gather(
                *first,
                *(cc.request("GET", "/after", params={"after": 0}) for _ in range(100)),
            )
            # Long deadlines armed first, short ones after: the one timer must move
            # earlier; answers at 0.2 s must come through between short deadlines firing.
            long = [(0.45, delay) for delay in (0, 0.2, 5)]
            short = [(0.12, delay) for delay in (0.3, 5)]
            cases = long * 40 + short * 40

            async def one(timeout: float, delay: float) -> Any:
                try:
                    return await cc.request(
                        "GET", "/after", params={"after": delay}, timeout=timeout
                    )
                except TransportError as error:
                    return error

            results = await asyncio.gather(*(one(t, d) for t, d in cases))
            assert len(results) == 200
            for (timeout, delay), result in zip(cases, results, strict=True):
                if delay < timeout:
                    assert isinstance(result, dict), (timeout, delay, result)
                else:
                    assert isinstance(result, TransportError), (timeout, delay, result)
                    assert not isinstance(result, ConnectError)
                    assert f"({timeout:g} s)" in str(result)
            assert settled(cc)
            await assert_not_left_cancelled()
    finally:
        await http.close()


# --------------------------------------------------------------------------- bulk


def _otp_route(hanging: set[str]) -> Callable[[web.Request], Any]:
    async def handler(request: web.Request) -> web.StreamResponse:
        body = json.loads(await request.read())
        if body["callee"] in hanging:
            await asyncio.sleep(30)
        return web.json_response({"call_id": f"call-{body['callee']}", "status": "success"})

    return handler


def _jobs(n: int) -> list[OtpJob]:
    return [OtpJob(f"09{i:08d}", "123456", "otp_demo", CALLER, 1) for i in range(n)]


async def test_fan_out_with_a_server_hanging_on_some_jobs(srv: ScriptedServer) -> None:
    jobs = _jobs(40)
    hanging = {jobs[i].callee for i in (3, 11, 12, 30, 39)}
    srv.routes[OTP] = _otp_route(hanging)
    async with AutocallClient(
        srv.url, api_key="k", timeout=0.15, max_retries=3, retry_policy=FAST_RETRY
    ) as pbx:
        results = [r async for r in pbx.fan_out(jobs, concurrency=10)]
        assert sorted(r.index for r in results) == list(range(40))
        for result in results:
            if result.job.callee in hanging:
                assert result.status is JobStatus.UNKNOWN, result
                assert isinstance(result.error, OutcomeUnknownError)
                assert "timed out" in str(result.error)
            else:
                assert result.status is JobStatus.OK, result
                assert result.call_id == f"call-{result.job.callee}"
            assert result.attempts == 1
        assert settled(pbx)
        await assert_not_left_cancelled()
    await srv.settle()
    dialled = [r.body["callee"] for r in srv.of(OTP)]
    assert sorted(dialled) == sorted(j.callee for j in jobs)  # every one exactly once


async def test_fan_out_stopped_by_an_outer_timeout_lets_calls_in_flight_end_by_deadline(
    srv: ScriptedServer,
) -> None:
    jobs = _jobs(12)
    srv.routes[OTP] = _otp_route({j.callee for j in jobs})  # every call hangs
    async with AutocallClient(
        srv.url, api_key="k", timeout=0.25, max_retries=3, retry_policy=FAST_RETRY
    ) as pbx:
        await pbx.session.token()
        runner = pbx.fan_out(jobs, concurrency=4)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(runner.run(), 0.1)
        summary = runner.summary
        assert summary is not None
        # The 4 calls in flight ended by their own deadline, as unknown; none was pulled
        # after the stop.
        assert summary.unknown == 4
        assert summary.ok == 0
        assert settled(pbx)
        await assert_not_left_cancelled()
    await srv.settle()
    assert srv.count(OTP) == 4


# --------------------------------------------------------------------------- never sent


async def _busy_pool_then(
    srv: ScriptedServer,
    second: Callable[[CallCenterClient], Awaitable[Any]],
    *,
    client_timeout: float = 30.0,
) -> BaseException | None:
    """Hold a one-connection pool with a 0.35 s request, then run ``second`` on it.

    Returns what ``second`` raised (None if it returned).
    """
    srv.routes["/held"] = answer_after(0.35)
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1))
    try:
        async with CallCenterClient(
            srv.url, api_key="k", http_session=http, timeout=client_timeout
        ) as cc:
            await cc.session.token()
            first = asyncio.create_task(cc.with_options(timeout=30).request("GET", "/held"))
            await until(lambda: srv.count("/held") == 1)
            try:
                await second(cc)
                outcome: BaseException | None = None
            except Exception as error:
                outcome = error
            await first
            assert settled(cc)
        return outcome
    finally:
        await http.close()


async def test_a_read_waiting_for_a_connection_past_its_time_is_a_connect_error(
    srv: ScriptedServer,
) -> None:
    async def read(cc: CallCenterClient) -> Any:
        return await cc.with_options(timeout=0.15, max_retries=0).calls.list()

    outcome = await _busy_pool_then(srv, read)
    assert isinstance(outcome, ConnectError), outcome
    await srv.settle()
    assert srv.count("/v2/call") == 0


async def _from_async_generator(cc: CallCenterClient) -> Any:
    quick = cc.with_options(timeout=0.15, max_retries=0)

    async def placed() -> AsyncIterator[Any]:
        yield await quick.click2call.start("101", "0899000002")

    return [r async for r in placed()]


async def _from_a_deep_stack(cc: CallCenterClient) -> Any:
    quick = cc.with_options(timeout=0.15, max_retries=0)

    async def down(n: int) -> Any:
        if n == 0:
            return await quick.click2call.start("101", "0899000002")
        return await down(n - 1)

    return await down(60)


async def _cdrs_page(cc: CallCenterClient) -> Any:
    return await cc.with_options(timeout=0.15, max_retries=0).cdrs.page(1, 10)


async def _awaited_pager(cc: CallCenterClient) -> Any:
    return await cc.with_options(timeout=0.15, max_retries=0).customers.list()


async def _pages(cc: CallCenterClient) -> Any:
    async for page in cc.with_options(timeout=0.15, max_retries=0).customers.list().pages():
        return page
    return None


_BLIND_SPOT = (
    "BUG: _compat.connecting() walks the task's cr_await chain from its root and stops at "
    "the first awaitable that is not a coroutine ({what}); it answers False, so "
    "_Deadlines._fire cancels a request still waiting for a pooled connection and send() "
    "reports '{err}' for a request that was never sent"
)


@pytest.mark.parametrize(
    "second",
    [
        pytest.param(
            _from_async_generator,
            id="click2call inside an async generator",
        ),
        pytest.param(
            _from_a_deep_stack,
            id="click2call 60 coroutines deep",
        ),
    ],
)
async def test_a_call_waiting_for_a_connection_past_its_time_was_never_placed(
    srv: ScriptedServer, second: Callable[[CallCenterClient], Awaitable[Any]]
) -> None:
    outcome = await _busy_pool_then(srv, second)
    assert isinstance(outcome, ConnectError), outcome
    assert not isinstance(outcome, OutcomeUnknownError)
    await srv.settle()
    assert srv.count(C2C_ASYNC) == 0


@pytest.mark.parametrize(
    ("second", "path"),
    [
        pytest.param(
            _cdrs_page,
            "/v2/cdr",
            id="cdrs.page()",
        ),
        pytest.param(
            _awaited_pager,
            "/v2/customer",
            id="await customers.list()",
        ),
        pytest.param(
            _pages,
            "/v2/customer",
            id="customers.list().pages()",
        ),
    ],
)
async def test_a_listing_waiting_for_a_connection_past_its_time_was_never_sent(
    srv: ScriptedServer, second: Callable[[CallCenterClient], Awaitable[Any]], path: str
) -> None:
    outcome = await _busy_pool_then(srv, second)
    assert isinstance(outcome, ConnectError), outcome
    await srv.settle()
    assert srv.count(path) == 0


async def test_a_call_with_a_shorter_own_timeout_waiting_for_a_connection_is_never_placed(
    srv: ScriptedServer,
) -> None:
    srv.routes[C2C] = answer_after(0)

    async def call(cc: CallCenterClient) -> Any:
        return await cc.with_options(max_retries=0).click2call.call(
            "101", "0899000002", timeout=0.15
        )

    outcome = await _busy_pool_then(srv, call, client_timeout=30.0)
    assert isinstance(outcome, ConnectError), outcome
    await srv.settle()
    assert srv.count(C2C) == 0


async def test_a_call_with_a_longer_own_timeout_may_wait_that_long_for_a_connection(
    srv: ScriptedServer,
) -> None:
    srv.routes[C2C] = answer_after(0)

    async def call(cc: CallCenterClient) -> Any:
        return await cc.with_options(max_retries=0).click2call.call(
            "101", "0899000002", timeout=2.0
        )

    outcome = await _busy_pool_then(srv, call, client_timeout=0.1)
    assert outcome is None, outcome
    await srv.settle()
    assert srv.count(C2C) == 1
