"""Hostile answers over real HTTP: a cursor that stops advancing ends a listing within a
few requests, yielding no record twice; values no model can hold leave their field None;
a token that is not header-safe is no token.

Each test runs a small aiohttp.web server on 127.0.0.1 scripted for one answer FakeTel4vn
does not give, and counts the requests it received.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import web

from tel4vn_async import AuthenticationError, AutocallClient, CallCenterClient
from tel4vn_async.errors import IncompleteListingError, TransportError
from tel4vn_async.models import CallDirection, CallStatus, Cdr

from .conftest import FAST_RETRY

Answer = Callable[[dict[str, str]], Any]
"""The answer to one listing request, from its query: a JSON-ready value, or JSON text."""

TOKEN = {"data": {"token": "tok-1", "expired_in": 3600, "token_type": "Bearer"}}


class Server:
    """Answers both token endpoints with ``token`` and ``path`` with ``answer``."""

    def __init__(self, path: str, answer: Answer, token: Any = TOKEN) -> None:
        self.path, self.answer, self.token = path, answer, token
        self.queries: list[dict[str, str]] = []
        self.token_requests = 0
        self.auth: list[str | None] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.path in ("/v2/auth/token", "/v1/auth/token"):
            self.token_requests += 1
            return _json(self.token)
        if request.path != self.path:
            return web.json_response({"error": f"no route {request.path}"}, status=404)
        self.queries.append(dict(request.query))
        self.auth.append(request.headers.get("Authorization"))
        assert len(self.queries) <= 50, "the listing did not stop"
        return _json(self.answer(dict(request.query)))


def _json(body: Any) -> web.Response:
    text = body if isinstance(body, str) else json.dumps(body)
    return web.Response(text=text, content_type="application/json")


@asynccontextmanager
async def serve(path: str, answer: Answer, token: Any = TOKEN) -> AsyncIterator[Server]:
    server = Server(path, answer, token)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", server.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.01)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        server.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        yield server
    finally:
        await runner.cleanup()


def call_center(server: Server) -> CallCenterClient:
    return CallCenterClient(server.url, "key", retry_policy=FAST_RETRY, trust_env=False)


def cdr(i: int) -> dict[str, Any]:
    return {"id": f"cdr-{i}", "direction": "outbound", "time_started": "2024-01-01 08:00:00"}


def cdrs(start: int, stop: int) -> list[dict[str, Any]]:
    return [cdr(i) for i in range(start, stop)]


def ids(start: int, stop: int) -> list[str]:
    return [f"cdr-{i}" for i in range(start, stop)]


async def scroll(server: Server, page_size: int = 3) -> tuple[list[str | None], bool]:
    """The CDR ids yielded, and whether the scroll ended without IncompleteListingError."""
    got: list[str | None] = []
    async with call_center(server) as cc:
        try:
            async for item in cc.cdrs.list(page_size=page_size):
                got.append(item.id)
        except IncompleteListingError:
            return got, False
    return got, True


# --------------------------------------------------------------------------- cursors


def scroll_cycle(total: int | None = None) -> Answer:
    def answer(query: dict[str, str]) -> Any:
        extra = {} if total is None else {"total": total}
        if query.get("scroll_id") == "s1":
            return {"data": cdrs(3, 6), "scroll_id": "s2", **extra}
        return {"data": cdrs(0, 3), "scroll_id": "s1", **extra}

    return answer


def fresh_id_same_batch() -> Answer:
    count = itertools.count()
    return lambda query: {"data": cdrs(0, 3), "scroll_id": f"sc{next(count)}"}


def same_id_new_records(pages: int) -> Answer:
    count = itertools.count()

    def answer(query: dict[str, str]) -> Any:
        n = next(count)
        return {"data": cdrs(n * 3, n * 3 + 3) if n < pages else [], "scroll_id": "es-1"}

    return answer


def ignored_offset(total: int | None) -> Answer:
    return lambda query: {"data": cdrs(0, 3), "offset": 0, "limit": 3, "total": total}


def offset_going_back(total: int) -> Answer:
    """Offsets 0, 3, then back to 0: the server serves (and echoes) its own cursor."""

    def answer(query: dict[str, str]) -> Any:
        served = int(query.get("offset", 0)) % 6
        return {"data": cdrs(served, served + 3), "offset": served, "total": total}

    return answer


@pytest.mark.parametrize(
    ("make", "expected", "requests", "complete"),
    [
        pytest.param(lambda: scroll_cycle(), ids(0, 6), 3, True, id="scroll-id-cycle"),
        pytest.param(lambda: scroll_cycle(1_000), ids(0, 6), 3, False, id="scroll-id-cycle-total"),
        pytest.param(lambda: fresh_id_same_batch(), ids(0, 3), 2, True, id="fresh-id-same-batch"),
        pytest.param(lambda: same_id_new_records(5), ids(0, 15), 6, True, id="same-id-new-records"),
        pytest.param(lambda: ignored_offset(10**6), ids(0, 3), 2, False, id="ignored-offset-total"),
        pytest.param(lambda: ignored_offset(None), ids(0, 3), 2, True, id="ignored-offset"),
        pytest.param(lambda: offset_going_back(100), ids(0, 6), 3, False, id="offset-going-back"),
    ],
)
async def test_a_cdr_scroll_whose_cursor_stops_advancing_ends(
    make: Callable[[], Answer], expected: list[str], requests: int, complete: bool
) -> None:
    async with serve("/v2/cdr", make()) as server:
        got, ended_cleanly = await scroll(server)
    assert got == expected  # no record twice
    assert len(server.queries) == requests
    assert ended_cleanly is complete


async def test_the_incomplete_listing_error_says_how_much_was_delivered() -> None:
    async with serve("/v2/cdr", scroll_cycle(1_000)) as server, call_center(server) as cc:
        with pytest.raises(IncompleteListingError, match="6 of the 1000") as info:
            await cc.cdrs.list(page_size=3).collect()
    assert isinstance(info.value, TransportError)


async def test_a_long_elasticsearch_scroll_keeps_its_one_scroll_id() -> None:
    # 20,000 records under one scroll id: nothing mistaken for a repeat.
    async with serve("/v2/cdr", same_id_new_records(40)) as server:
        got, ended_cleanly = await scroll(server, page_size=500)
    assert ended_cleanly
    assert len(got) == len(set(got)) == 120
    assert len(server.queries) == 41
    assert all(q.get("scroll_id") == "es-1" for q in server.queries[1:])


async def test_customers_with_an_ignored_offset_under_a_large_total() -> None:
    def answer(query: dict[str, str]) -> Any:
        return {"data": [{"customer_id": f"c{i}"} for i in range(2)], "total": 10**6}

    got: list[str | None] = []

    async def listing(cc: CallCenterClient) -> None:
        async for customer in cc.customers.list(page_size=2):
            got.append(customer.customer_id)

    async with serve("/v2/customer", answer) as server, call_center(server) as cc:
        with pytest.raises(IncompleteListingError, match="2 of the 1000000"):
            await listing(cc)
    assert got == ["c0", "c1"]
    assert [q["offset"] for q in server.queries] == ["0", "2"]


@pytest.mark.parametrize("total", [-1, -(10**9), 10**30, "lots"])
async def test_a_total_that_is_no_count_is_unknown(total: object) -> None:
    def answer(query: dict[str, str]) -> Any:
        offset = int(query["offset"])
        rows = [{"customer_id": f"c{i}"} for i in range(offset, min(offset + 2, 5))]
        return {"data": rows, "total": total}

    async with serve("/v2/customer", answer) as server, call_center(server) as cc:
        got = [c.customer_id async for c in cc.customers.list(page_size=2)]
    assert got == [f"c{i}" for i in range(5)]
    assert [q["offset"] for q in server.queries] == ["0", "2", "4", "5"]  # to the empty batch


async def test_reports_with_an_ignored_offset_end_after_one_repeat() -> None:
    def answer(query: dict[str, str]) -> Any:
        return {"data": [{"call_id": f"r{i}"} for i in range(3)]}

    async with (
        serve("/v1/report", answer) as server,
        AutocallClient(server.url, "key", retry_policy=FAST_RETRY, trust_env=False) as pbx,
    ):
        got = [r.call_id async for r in pbx.reports.list(page_size=3)]
    assert got == ["r0", "r1", "r2"]
    assert len(server.queries) == 2


@pytest.mark.parametrize("junk", [{"a": 1}, ["s1"], True, 1.5, ""])
async def test_a_scroll_id_that_is_no_string_falls_back_to_the_offset(junk: object) -> None:
    def answer(query: dict[str, str]) -> Any:
        assert "scroll_id" not in query
        offset = int(query.get("offset", 0))
        return {"data": cdrs(offset, min(offset + 3, 7)), "scroll_id": junk, "total": 7}

    async with serve("/v2/cdr", answer) as server:
        got, ended_cleanly = await scroll(server)
    assert got == ids(0, 7)
    assert ended_cleanly


# --------------------------------------------------------------------------- values

# A number literal past 4,300 digits fails the whole body in json.loads: a TransportError
# for the page (the codec's business); as a string it is just an unreadable value.
HOSTILE_CDR = (
    '{"data": [{"id": "cdr-0", "time_started": 1e20, "time_answered": NaN,'
    ' "time_ended": -Infinity, "ringAt": 1e400, "duration": "1e400", "billsec": "nan",'
    ' "status": {"deep": [[[]]]}, "direction": ["in"], "cause": NaN,'
    ' "customer_id": "' + "9" * 5000 + '", "extension": 1' + "0" * 400 + "},"
    ' {"id": "cdr-1", "time_started": 123456789012345678901234567890, "duration": 7,'
    ' "recording_url": "' + "x" * 100_000 + '"}], "total": 2}'
)


async def test_values_no_model_can_hold_leave_their_fields_none() -> None:
    async with serve("/v2/cdr", lambda query: HOSTILE_CDR) as server, call_center(server) as cc:
        got: list[Cdr] = await cc.cdrs.list(page_size=10).collect()
    first, second = got
    assert first.id == "cdr-0"
    assert (first.started_at, first.answered_at, first.ended_at, first.ringing_at) == (None,) * 4
    assert (first.duration, first.billsec, first.cause) == (None,) * 3
    assert first.customer_id == "9" * 5000  # a string field: the text as sent
    assert first.extension == "1" + "0" * 400
    assert first.status is CallStatus.UNKNOWN
    assert first.direction is CallDirection.UNKNOWN
    assert first.raw["time_started"] == 1e20  # raw keeps what was sent
    assert first.raw["ringAt"] == float("inf")
    assert second.started_at is None
    assert second.duration == 7
    assert second.recording_url == "x" * 100_000


# --------------------------------------------------------------------------- tokens


@pytest.mark.parametrize(
    "token",
    ["tok\r\nX-Injected: 1", "tok\n", "to\x00k", "tok\x7f", "tök", "to k", "tok\u2028"],
    ids=["crlf", "lf", "nul", "del", "non-ascii", "space", "line-separator"],
)
async def test_a_token_that_is_not_header_safe_is_no_token(token: str) -> None:
    body = {"data": {"token": token, "expired_in": 3600}}
    async with (
        serve("/v2/cdr", lambda q: {"data": []}, token=body) as server,
        call_center(server) as cc,
    ):
        with pytest.raises(AuthenticationError, match="without a token"):
            await cc.cdrs.list()
    assert server.queries == []  # nothing was sent with it


@pytest.mark.parametrize(
    "expiry",
    ["1e20", "NaN", "Infinity", "-Infinity", "1e400", "1" + "0" * 400, "true", '"nan"'],
)
@pytest.mark.parametrize("key", ["expired_in", "expire_at"])
async def test_a_token_with_an_unusable_expiry_is_used_without_one(key: str, expiry: str) -> None:
    body = '{"data": {"token": "tok-9", "%s": %s}}' % (key, expiry)  # noqa: UP031
    async with (
        serve("/v2/cdr", lambda q: {"data": []}, token=body) as server,
        call_center(server) as cc,
    ):
        for _ in range(3):
            await cc.cdrs.list()
    assert server.auth == ["Bearer tok-9"] * 3
    assert server.token_requests == 1
