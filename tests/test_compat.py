"""Each aiohttp internal the SDK relies on (``_compat``) still behaves as it assumes."""

from __future__ import annotations

import asyncio
import gc
import warnings

import aiohttp

from tel4vn_async._compat import (
    AutoclosePayload,
    close_connections_now,
    connecting,
    session_middlewares,
)
from tel4vn_async.testing import FakeTel4vn, Fault


async def test_close_connections_now_closes_a_session_synchronously(fake: FakeTel4vn) -> None:
    session = aiohttp.ClientSession()
    async with session.get(fake.url + "/v2/call") as response:
        await response.read()
    assert not session.closed
    close_connections_now(session)
    assert session.closed  # so aiohttp has nothing to warn about when it is collected
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        del session
        gc.collect()


async def test_session_middlewares_reads_the_ones_a_session_was_built_with() -> None:
    async def passthrough(
        request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        return await handler(request)

    async with aiohttp.ClientSession(middlewares=(passthrough,)) as session:
        assert session_middlewares(session) == (passthrough,)
    async with aiohttp.ClientSession() as session:
        assert session_middlewares(session) == ()


def test_an_autoclose_payload_needs_no_explicit_close() -> None:
    class Nothing(AutoclosePayload):
        async def write(self, writer: object) -> None:
            return None

        def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
            return ""

    assert Nothing(b"").autoclose is True


async def test_connecting_tells_a_request_waiting_for_a_connection_from_one_sent(
    fake: FakeTel4vn,
) -> None:
    fake.inject("/v2/call", Fault(delay=0.3))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session:

        async def get() -> None:
            async with session.get(fake.url + "/v2/call") as response:
                await response.read()

        sent, waiting = asyncio.create_task(get()), None
        await asyncio.sleep(0.1)
        waiting = asyncio.create_task(get())
        await asyncio.sleep(0.05)
        assert connecting(waiting)  # the one connection is the first one's
        assert not connecting(sent)  # sent, waiting for its answer
        await asyncio.gather(sent, waiting)
        assert not connecting(waiting)  # done: in no coroutine at all
