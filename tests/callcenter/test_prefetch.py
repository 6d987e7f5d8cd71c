"""``PrefetchPager`` with an in-memory fetch: order, one page ahead, errors, cancellation."""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from tel4vn_async.callcenter._prefetch import PrefetchPager
from tel4vn_async.errors import IncompleteListingError
from tel4vn_async.pagination import Follow, Page, Query, follow_offset, follow_scroll

from ..test_pagination import SHAPES, Counting, Record, Serve, ignored_offset, run_items

Raw = Mapping[str, Any]


class Source:
    """Pages of ``{"n": i}`` records; ``fail_at`` offsets raise; ``gate`` holds a fetch."""

    def __init__(self, total: int, fail_at: int | None = None) -> None:
        self.total = total
        self.fail_at = fail_at
        self.started: list[int] = []
        self.gate: asyncio.Event | None = None

    async def fetch(self, query: Query) -> Page[Raw]:
        offset, limit = int(str(query.get("offset", 0))), int(str(query["limit"]))
        self.started.append(offset)
        if self.gate is not None and offset > 0:
            await self.gate.wait()
        await asyncio.sleep(0)
        if offset == self.fail_at:
            raise RuntimeError(f"page at {offset} failed")
        items: list[Raw] = [{"n": i} for i in range(offset, min(offset + limit, self.total))]
        return Page(items=items, total=self.total, limit=limit, offset=offset)


def to_int(record: Raw) -> int:
    return int(record["n"])


def pager(source: Source, limit: int = 10) -> PrefetchPager[int]:
    return PrefetchPager(source.fetch, to_int, {"limit": limit}, follow_offset())


async def test_items_in_order_each_once() -> None:
    source = Source(95)
    assert [n async for n in pager(source)] == list(range(95))
    assert source.started == list(range(0, 95, 10))


async def test_await_and_pages_convert_whole_pages() -> None:
    source = Source(25)
    first = await pager(source)
    assert first.items == list(range(10))
    assert [p.items async for p in pager(source).pages()] == [
        list(range(10)),
        list(range(10, 20)),
        list(range(20, 25)),
    ]


async def test_never_more_than_one_page_ahead() -> None:
    source = Source(1_000)
    iterator = aiter(pager(source))
    for expected in range(35):
        assert await anext(iterator) == expected
        await asyncio.sleep(0)
        pages_in_use = expected // 10 + 1
        assert len(source.started) <= pages_in_use + 1


async def test_an_error_ahead_surfaces_after_the_current_page() -> None:
    source = Source(100, fail_at=20)
    got: list[int] = []

    async def run() -> None:
        async for n in pager(source):
            got.append(n)

    with pytest.raises(RuntimeError, match="page at 20"):
        await run()
    assert got == list(range(20))


async def test_dropping_the_iterator_cancels_the_fetch_ahead() -> None:
    source = Source(100)
    source.gate = asyncio.Event()  # every page after the first hangs
    iterator = aiter(pager(source))
    assert await anext(iterator) == 0
    await asyncio.sleep(0.01)
    ahead = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert len(ahead) == 1
    del iterator
    gc.collect()
    await asyncio.sleep(0)
    assert ahead[0].cancelled()


async def test_a_failed_page_ahead_nobody_reads_is_not_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = Source(100, fail_at=10)
    iterator = aiter(pager(source))
    await anext(iterator)
    await asyncio.sleep(0.01)  # the page ahead has failed by now
    del iterator
    gc.collect()
    await asyncio.sleep(0)
    assert "never retrieved" not in caplog.text


@pytest.mark.parametrize(
    ("make", "follow", "expected", "requests", "complete"),
    [pytest.param(*shape[1:], id=shape[0]) for shape in SHAPES],
)
async def test_a_cursor_that_stops_advancing_ends_the_prefetching_listing(
    make: Callable[[], Serve],
    follow: Follow,
    expected: list[Record],
    requests: int,
    complete: bool,
) -> None:
    server = Counting(make())
    converted: list[int] = []

    def convert(record: Raw) -> int:
        converted.append(record["n"])
        return int(record["n"])

    pager = PrefetchPager(server.fetch, convert, {"limit": 3}, follow, path="/v2/cdr")
    got, ended_cleanly = await run_items(pager)
    want = [r["n"] for r in expected]
    assert got == want  # each record once, in order
    assert converted == want  # the repeated page is never even converted
    assert (server.requests, ended_cleanly) == (requests, complete)
    await asyncio.sleep(0)
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []


async def test_the_prefetching_error_names_the_endpoint() -> None:
    server = Counting(ignored_offset(10**6))
    pager = PrefetchPager(server.fetch, to_int, {"limit": 3}, follow_offset(), path="/v2/cdr")
    iterator = aiter(pager)
    assert [await anext(iterator) for _ in range(3)] == [0, 1, 2]
    with pytest.raises(IncompleteListingError, match="3 of the 1000000") as info:
        await anext(iterator)
    assert (info.value.method, info.value.path) == ("GET", "/v2/cdr")
    with pytest.raises(StopAsyncIteration):
        await anext(iterator)
    assert server.requests == 2


# --------------------------------------------------------------------------- pipelining


async def test_the_next_request_goes_out_before_the_page_is_converted() -> None:
    source = Source(95)
    iterator = aiter(pager(source))
    assert await anext(iterator) == 0  # no other await: the pager yielded by itself
    assert source.started == [0, 10]


def pager2(source: Source, limit: int = 10) -> PrefetchPager[int]:
    return PrefetchPager(source.fetch, to_int, {"limit": limit}, follow_offset(), prefetch=2)


def ahead_tasks() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]


@pytest.mark.parametrize("total", [95, 100, 101, 10, 9, 0])
async def test_two_requests_ahead_within_the_total_each_page_once(total: int) -> None:
    source = Source(total)
    iterator = aiter(pager2(source))
    got: list[int] = []
    async for n in iterator:
        got.append(n)
        pages_in_use = n // 10 + 1
        assert len(source.started) <= pages_in_use + 2  # two pages ahead at most
        if n == 0:
            assert source.started == [o for o in (0, 10, 20) if o == 0 or o < total]
    assert got == list(range(total))
    assert source.started == list(range(0, max(total, 1), 10))  # none past the total, none twice
    await asyncio.sleep(0)
    assert ahead_tasks() == []


async def test_two_ahead_needs_a_total_to_stay_within() -> None:
    class NoTotal(Source):
        async def fetch(self, query: Query) -> Page[Raw]:
            page = await super().fetch(query)
            return Page(items=page.items, limit=page.limit, offset=page.offset)

    source = NoTotal(45)
    iterator = aiter(
        PrefetchPager(source.fetch, to_int, {"limit": 10}, follow_offset(), prefetch=2)
    )
    assert await anext(iterator) == 0
    assert source.started == [0, 10]  # one ahead, as with prefetch=1
    assert [n async for n in iterator] == list(range(1, 45))


async def test_two_ahead_never_guesses_a_scroll_id() -> None:
    class Scroll(Source):
        async def fetch(self, query: Query) -> Page[Raw]:
            offset = int(str(query.get("scroll_id", "s0"))[1:])
            page = await super().fetch({"limit": query["limit"], "offset": offset})
            nxt = f"s{offset + len(page.items)}"
            return Page(items=page.items, total=page.total, scroll_id=nxt)

    source = Scroll(45)
    iterator = aiter(PrefetchPager(source.fetch, to_int, {"limit": 10}, follow_scroll, prefetch=2))
    assert await anext(iterator) == 0
    await asyncio.sleep(0.01)
    assert source.started == [0, 10]  # the first page and one ahead, however long it waits
    assert [n async for n in iterator] == list(range(1, 45))
    assert source.started == [0, 10, 20, 30, 40, 45]  # a scroll ends on an empty batch


async def test_a_wrong_guess_is_cancelled_and_never_handed_out() -> None:
    class Skipping(Source):
        """Batches of ``limit`` records whose next cursor is 15 further on (``offset``)."""

        async def fetch(self, query: Query) -> Page[Raw]:
            page = await super().fetch(query)
            step = int(str(query.get("offset", 0))) + 15
            return Page(items=page.items, total=self.total, limit=page.limit, offset=step)

    source = Skipping(100)
    got = [
        n
        async for n in PrefetchPager(
            source.fetch, to_int, {"limit": 10}, follow_offset(), prefetch=2
        )
    ]
    sequential = [n async for n in pager(Skipping(100))]
    assert (
        got
        == sequential
        == [n for start in range(0, 100, 15) for n in range(start, start + 10) if n < 100]
    )
    # Each guess (the cursor plus the batch size) was asked for, and thrown away.
    assert [o for o in source.started if o % 15] == list(range(25, 100, 15))
    await asyncio.sleep(0)
    assert ahead_tasks() == []


async def test_dropping_the_iterator_cancels_both_requests_ahead() -> None:
    source = Source(100)
    source.gate = asyncio.Event()  # every page after the first hangs
    iterator = aiter(pager2(source))
    assert await anext(iterator) == 0
    await asyncio.sleep(0.01)
    ahead = ahead_tasks()
    assert len(ahead) == 2
    del iterator
    gc.collect()
    await asyncio.sleep(0)
    assert all(task.cancelled() for task in ahead)


async def test_an_error_two_pages_ahead_surfaces_in_its_turn() -> None:
    source = Source(100, fail_at=20)
    got: list[int] = []

    async def run() -> None:
        async for n in pager2(source):
            got.append(n)

    with pytest.raises(RuntimeError, match="page at 20"):
        await run()
    assert got == list(range(20))
    await asyncio.sleep(0)
    assert ahead_tasks() == []


@pytest.mark.parametrize(
    ("make", "follow", "expected", "requests", "complete"),
    [pytest.param(*shape[1:], id=shape[0]) for shape in SHAPES],
)
async def test_a_cursor_that_stops_advancing_ends_the_listing_two_ahead(
    make: Callable[[], Serve],
    follow: Follow,
    expected: list[Record],
    requests: int,
    complete: bool,
) -> None:
    server = Counting(make())
    converted: list[int] = []

    def convert(record: Raw) -> int:
        converted.append(record["n"])
        return int(record["n"])

    pager = PrefetchPager(server.fetch, convert, {"limit": 3}, follow, path="/v2/cdr", prefetch=2)
    got, ended_cleanly = await run_items(pager)
    want = [r["n"] for r in expected]
    assert got == converted == want  # each record once, in order; the repeat never converted
    assert ended_cleanly == complete
    assert requests <= server.requests <= requests + 1  # at most one guess thrown away
    await asyncio.sleep(0)
    assert ahead_tasks() == []


def test_prefetch_is_one_or_two() -> None:
    for bad in (0, 3, -1):
        with pytest.raises(ValueError, match="prefetch"):
            PrefetchPager(Source(1).fetch, to_int, {"limit": 1}, follow_offset(), prefetch=bad)


async def test_two_ahead_streams_with_flat_memory() -> None:
    # 50 pages of 1,000 records: three pages in memory at most, not the listing.
    source = Source(50_000)
    tracemalloc.start()
    try:
        count = 0
        async for _ in pager2(source, limit=1_000):
            count += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 50_000
    assert source.started == list(range(0, 50_000, 1_000))
    one_page = 1_000 * 250  # a small dict and its int, in bytes, generously
    assert peak < 4 * one_page
