"""``PrefetchPager`` with an in-memory fetch: order, one page ahead, errors, cancellation."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Mapping
from typing import Any

import pytest

from tel4vn_async.callcenter._prefetch import PrefetchPager
from tel4vn_async.pagination import Page, Query, follow_offset

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
