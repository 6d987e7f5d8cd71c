"""The paginator and its next-page math, without a network."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from tel4vn_async.pagination import (
    AsyncPager,
    Page,
    envelope,
    follow_offset,
    follow_scroll,
    next_offset,
    next_scroll,
    single_page,
)


def page(n: int, **meta: Any) -> Page[int]:
    return Page(items=list(range(n)), **meta)


@pytest.mark.parametrize(
    ("request_offset", "limit", "received", "short_ends", "expected"),
    [
        (0, 10, page(10, total=35, offset=0), False, 10),  # echoed offset
        (0, 10, page(10, total=35, offset=10), False, 10),  # "next" offset, as the spec shows
        (10, 10, page(10, total=35, offset=-1), False, 20),  # later docs echo -1
        (30, 10, page(5, total=35, offset=30), False, None),  # reached total
        (20, 10, page(10, total=30), False, None),  # exactly at total
        (0, 10, page(0, total=35), False, None),  # empty batch
        (0, 100, page(50, total=500), False, 50),  # server capped the page size
        (0, 10, page(4), True, None),  # short batch ends a listing with no total
        (0, 10, page(4), False, 4),  # ... but not a CDR scroll
        (0, 10, page(10), True, 10),
        (40, 10, page(10, offset=5), False, 50),  # a stale response offset never goes back
    ],
)
def test_next_offset(
    request_offset: int,
    limit: int,
    received: Page[int],
    short_ends: bool,
    expected: int | None,
) -> None:
    assert next_offset(request_offset, limit, received, short_page_ends=short_ends) == expected


def test_next_scroll_follows_the_servers_scroll_id() -> None:
    first = Page(items=[1, 2], scroll_id="s1")
    second = Page(items=[3, 4], scroll_id="s1")  # the same id again is normal
    assert next_scroll(None, first) == "s1"
    assert next_scroll(first, second) == "s1"
    assert next_scroll(second, Page(items=[3, 4], scroll_id="s1")) is None  # stuck: stop
    assert next_scroll(second, Page(items=[], scroll_id="s2")) is None  # empty: done
    assert next_scroll(None, Page(items=[1])) is None


def test_follow_scroll_prefers_the_scroll_id_then_the_offset() -> None:
    query: Mapping[str, object] = {"limit": 2, "offset": 0, "direction": "outbound"}
    assert follow_scroll(query, Page(items=[1, 2], scroll_id="abc"), None) == {
        **query,
        "scroll_id": "abc",
    }
    assert follow_scroll(query, Page(items=[1, 2], total=10, offset=0), None) == {
        **query,
        "offset": 2,
    }
    assert follow_scroll(query, Page(items=[1, 2], total=2), None) is None
    assert single_page(query, Page(items=[1, 2], total=10), None) is None


@pytest.mark.parametrize(
    ("body", "records", "meta"),
    [
        (
            {"data": [1, 2], "limit": 10, "offset": "0", "total": 35},
            [1, 2],
            {"total": 35, "limit": 10, "offset": 0, "scroll_id": None},
        ),
        (
            {"data": [1], "scroll_id": "xyz"},
            [1],
            {"total": None, "limit": None, "offset": None, "scroll_id": "xyz"},
        ),
        ({"data": None}, [], {"total": None, "limit": None, "offset": None, "scroll_id": None}),
        ([1, 2, 3], [1, 2, 3], {}),
        ("nonsense", [], {}),
    ],
)
def test_envelope_splits_records_from_paging_fields(
    body: object, records: list[Any], meta: dict[str, Any]
) -> None:
    assert envelope(body) == (records, meta)


class Source:
    """An in-memory listing of ``size`` items served through the offset rule."""

    def __init__(self, size: int, *, total: bool = True) -> None:
        self.size, self.total, self.queries = size, total, []  # type: ignore[var-annotated]

    async def fetch(self, query: Mapping[str, object]) -> Page[int]:
        self.queries.append(dict(query))
        offset, limit = int(str(query.get("offset", 0))), int(str(query["limit"]))
        items = list(range(offset, min(offset + limit, self.size)))
        return Page(items=items, total=self.size if self.total else None, offset=offset)


async def test_a_pager_is_awaitable_and_iterable() -> None:
    source = Source(25)
    pager = AsyncPager(source.fetch, {"limit": 10, "offset": 0}, follow_offset())

    first = await pager
    assert first.items == list(range(10))
    assert [i async for i in pager] == list(range(25))
    assert [len(p) async for p in pager.pages()] == [10, 10, 5]
    assert await pager.collect(limit=12) == list(range(12))
    # one for await, three for the items, three for the pages, two for collect
    assert len(source.queries) == 9


async def test_a_listing_without_total_stops_on_the_short_page_without_an_extra_request() -> None:
    source = Source(25, total=False)
    pager = AsyncPager(
        source.fetch, {"limit": 10, "offset": 0}, follow_offset(short_page_ends=True)
    )

    assert [i async for i in pager] == list(range(25))
    assert [q["offset"] for q in source.queries] == [0, 10, 20]


async def test_breaking_out_leaves_nothing_pending() -> None:
    source = Source(1000)
    pager = AsyncPager(source.fetch, {"limit": 10, "offset": 0}, follow_offset())
    seen = []
    async for item in pager:
        seen.append(item)
        if item == 14:
            break
    assert seen == list(range(15))
    assert len(source.queries) == 2


def test_a_repeated_batch_ends_a_listing_with_no_total() -> None:
    first = Page(items=[1, 2], offset=0)
    again = Page(items=[1, 2], offset=0)  # the server ignores the cursor
    assert next_offset(0, 2, first, short_page_ends=False) == 2
    assert next_offset(2, 2, again, short_page_ends=False, previous=first) is None
    # with a total, the offset rule alone ends it
    assert next_offset(2, 2, Page(items=[1, 2], offset=0, total=6), short_page_ends=False) == 4


def test_a_stale_echoed_offset_is_stepped_over() -> None:
    # the server echoes offset 0 every time but serves the right records
    previous = Page(items=[1, 2], offset=0)
    assert (
        next_offset(2, 2, Page(items=[3, 4], offset=0), short_page_ends=False, previous=previous)
        == 4
    )


def test_a_server_capped_page_size_is_no_short_page() -> None:
    capped = Page(items=list(range(10)), limit=10)  # asked for 100, the server sends 10
    assert next_offset(0, 100, capped, short_page_ends=True) == 10
    assert next_offset(0, 100, Page(items=list(range(10))), short_page_ends=True) is None


def test_falling_back_to_the_offset_drops_a_stale_scroll_id() -> None:
    query = {"limit": 2, "scroll_id": "old"}
    assert follow_scroll(query, Page(items=[1, 2], offset=0, total=10), None) == {
        "limit": 2,
        "offset": 2,
    }


def test_page_from_fills_what_the_server_does_not_echo() -> None:
    from tel4vn_async.pagination import page_from

    got = page_from({"data": [{"a": 1}, "junk"], "offset": -1}, {"limit": 5, "offset": 10}, dict)
    assert got == Page(items=[{"a": 1}], total=None, limit=5, offset=10)
