"""The transport's deadlines: one loop timer for every request in flight (issue 10).

aiohttp's read timeout arms a loop timer on every read; the transport keeps each
attempt's deadline itself instead. What must hold, against real servers:

- an answer slower than the timeout fails the attempt as a timeout, and a call-placing
  request's as an unknown outcome; the client's and a request's own timeout both apply;
- a slow body is timed as a whole, not read by read;
- a cancellation from outside stays a cancellation, also when it lands together with
  the deadline;
- a request still waiting for a connection when its time is up was never sent: it fails
  as a ``ConnectError`` (aiohttp's connect timeout), never as "may have been sent";
- nothing is left behind: no deadline, no cancelled-task mark, after any of these.
"""

from __future__ import annotations

import asyncio
import sys

import aiohttp
import pytest
from aiohttp import web

from tel4vn_async import CallCenterClient
from tel4vn_async._compat import connecting
from tel4vn_async._sansio import Request
from tel4vn_async._transport import AiohttpTransport
from tel4vn_async.errors import ConnectError, OutcomeUnknownError, TransportError

from .scripted_server import ScriptedServer, trickled


def _settled(transport: AiohttpTransport) -> bool:
    deadlines = transport._deadlines
    assert deadlines is not None
    return not deadlines._due and not deadlines._expired


async def _hang(request: web.Request) -> web.StreamResponse:
    await asyncio.sleep(30)
    return web.json_response({})


# Every chunk comes well within the timeout; the whole body (0.4 s) does not.
_trickle = trickled(b'{"data": [', chunks=20, gap=0.02)


async def test_a_hung_answer_times_out_and_leaves_nothing_behind() -> None:
    async with ScriptedServer() as srv:
        srv.routes["/hang"] = _hang
        transport = AiohttpTransport(trust_env=False)
        try:
            with pytest.raises(TransportError, match=r"timed out waiting for the answer \(0.1 s\)"):
                await transport.send(
                    Request("GET", "/hang"), url=srv.url + "/hang", headers={}, timeout=0.1
                )
            assert _settled(transport)
            # The task was not left cancelled: it goes on awaiting.
            await asyncio.sleep(0)
            task = asyncio.current_task()
            assert task is not None
            if sys.version_info >= (3, 11):
                assert task.cancelling() == 0
        finally:
            await transport.aclose()
        assert srv.count("/hang") == 1


async def test_a_body_is_timed_as_a_whole_not_read_by_read() -> None:
    async with ScriptedServer() as srv:
        srv.routes["/slow"] = _trickle
        transport = AiohttpTransport(trust_env=False)
        try:
            with pytest.raises(TransportError, match="timed out"):
                await transport.send(
                    Request("GET", "/slow"), url=srv.url + "/slow", headers={}, timeout=0.15
                )
            # With time enough for the whole body, the same answer reads.
            answer = await transport.send(
                Request("GET", "/slow"), url=srv.url + "/slow", headers={}, timeout=5
            )
            assert answer.status == 200
            assert answer.body.replace(b" ", b"") == b'{"data":[]}'
            assert _settled(transport)
        finally:
            await transport.aclose()


async def test_a_requests_own_timeout_is_its_deadline() -> None:
    async with ScriptedServer() as srv:
        srv.routes["/slow"] = _trickle  # about 0.4 s in all
        transport = AiohttpTransport(trust_env=False)
        try:
            answer = await transport.send(
                Request("GET", "/slow", timeout=5), url=srv.url + "/slow", headers={}, timeout=0.05
            )
            assert answer.status == 200
        finally:
            await transport.aclose()


async def test_a_call_placing_request_that_times_out_has_an_unknown_outcome() -> None:
    async with ScriptedServer() as srv:
        srv.routes["/v1/click2call/async"] = _hang
        async with CallCenterClient(srv.url, api_key="k", timeout=0.1) as cc:
            with pytest.raises(OutcomeUnknownError, match="timed out"):
                await cc.click2call.start("101", "0899098899")
        assert srv.count("/v1/click2call/async") == 1  # never sent twice


async def test_many_requests_in_flight_each_keep_their_own_deadline() -> None:
    async def answer_after(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(float(request.query["after"]))
        return web.json_response({"after": request.query["after"]})

    async with ScriptedServer() as srv:
        srv.routes["/after"] = answer_after
        transport = AiohttpTransport(trust_env=False)
        try:

            async def one(after: float) -> object:
                request = Request("GET", "/after", params={"after": str(after)})
                try:
                    return await transport.send(
                        request, url=srv.url + "/after", headers={}, timeout=0.3
                    )
                except TransportError as error:
                    return error

            afters = [0.0, 0.05, 1.0] * 40
            results = await asyncio.gather(*(one(a) for a in afters))
            for after, result in zip(afters, results, strict=True):
                if after < 0.3:
                    assert not isinstance(result, Exception), (after, result)
                else:
                    assert isinstance(result, TransportError), (after, result)
            assert _settled(transport)
        finally:
            await transport.aclose()


async def test_a_cancellation_from_outside_stays_a_cancellation() -> None:
    async with ScriptedServer() as srv:
        srv.routes["/hang"] = _hang
        transport = AiohttpTransport(trust_env=False)
        try:
            task = asyncio.create_task(
                transport.send(
                    Request("GET", "/hang"), url=srv.url + "/hang", headers={}, timeout=5
                )
            )
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert _settled(transport)
        finally:
            await transport.aclose()


async def test_a_cancellation_landing_with_the_deadline_stays_a_cancellation() -> None:
    async with ScriptedServer() as srv:
        srv.routes["/hang"] = _hang
        transport = AiohttpTransport(trust_env=False)
        try:
            loop = asyncio.get_running_loop()
            task = asyncio.create_task(
                transport.send(
                    Request("GET", "/hang"), url=srv.url + "/hang", headers={}, timeout=0.1
                )
            )
            await asyncio.sleep(0.02)
            deadlines = transport._deadlines
            assert deadlines is not None
            # In the same turn of the loop as the deadline's own timer, a caller cancels.
            loop.call_at(deadlines._due[task][0], task.cancel)
            if sys.version_info >= (3, 11):
                with pytest.raises(asyncio.CancelledError):
                    await task
            else:  # no count of cancellations: the tie reads as the timeout (CHANGELOG)
                with pytest.raises(TransportError, match="timed out"):
                    await task
            assert _settled(transport)
        finally:
            await transport.aclose()


async def test_a_request_waiting_for_a_connection_when_its_time_is_up_was_never_sent() -> None:
    async def held(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(0.6)
        return web.json_response({"code": 200})

    async with ScriptedServer() as srv:
        srv.routes["/v1/click2call/async"] = held
        http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1))
        try:
            async with CallCenterClient(srv.url, api_key="k", http_session=http) as cc:
                await cc.session.token()
                # The one connection is busy for 0.6 s with a first call ...
                first = asyncio.create_task(cc.click2call.start("101", "0899000001"))
                await asyncio.sleep(0.05)
                # ... so a second, with 0.2 s to go, waits for a connection all its time.
                quick = cc.with_options(timeout=0.2, max_retries=0)
                second = asyncio.create_task(quick.click2call.start("101", "0899000002"))
                await asyncio.sleep(0.1)
                assert connecting(second)
                assert not connecting(first)  # sent: waiting for its answer
                with pytest.raises(ConnectError):
                    await second
                assert not isinstance(second.exception(), OutcomeUnknownError)
                await first
        finally:
            await http.close()
        callees = [rec.query.get("phone") for rec in srv.of("/v1/click2call/async")]
        assert callees == ["0899000001"]


async def test_a_call_cut_off_by_closing_the_client_says_so() -> None:
    arrived = asyncio.Event()

    async def arrive_and_hang(request: web.Request) -> web.StreamResponse:
        arrived.set()
        return await _hang(request)

    async with ScriptedServer() as srv:
        srv.routes["/v1/click2call/async"] = arrive_and_hang
        cc = CallCenterClient(srv.url, api_key="k", timeout=5)
        await cc.session.token()
        call = asyncio.create_task(cc.click2call.start("101", "0899098899"))
        await arrived.wait()
        await cc.close()
        with pytest.raises(OutcomeUnknownError, match="the client was closed during the request"):
            await call
        assert srv.count("/v1/click2call/async") == 1
