"""The paginator and its next-page math, without a network."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import tracemalloc
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import pytest

from tel4vn_async.errors import IncompleteListingError, TransportError
from tel4vn_async.pagination import (
    AsyncPager,
    Follow,
    Page,
    Progress,
    Query,
    envelope,
    fingerprint,
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


def test_page_from_converts_every_mapping_and_only_mappings() -> None:
    import types

    from tel4vn_async.pagination import page_from

    proxy = types.MappingProxyType({"b": 2})
    records = [{"a": 1}, proxy, ["x"], None, 5, "r", {"c": 3}]
    got = page_from({"data": records}, {"limit": 10}, lambda r: r)
    assert got.items == [{"a": 1}, proxy, {"c": 3}]
    assert got.items[0] is records[0]  # handed to convert as decoded, never copied


# --------------------------------------------------------------------------- cursors that stop


def test_page_total_or_limit_that_is_no_count_is_unknown() -> None:
    for bad in (-1, -(10**9), 2**53 + 1, 10**30):
        assert Page(items=[1], total=bad).total is None
    assert Page(items=[1], total=0).total == 0
    assert Page(items=[1], total=2**53).total == 2**53
    assert Page(items=[1], limit=0).limit is None
    assert Page(items=[1], limit=-1).limit is None


def test_envelope_reads_no_scroll_id_from_junk_and_unwraps_deep_data() -> None:
    for junk in ({"a": 1}, [1, 2], True, 1.5, "", "  ", 10**30):
        assert envelope({"data": [1], "scroll_id": junk})[1]["scroll_id"] is None
    assert envelope({"data": [1], "scroll_id": 42})[1]["scroll_id"] == "42"
    deep: dict[str, Any] = {"data": [1, 2], "total": 2}
    for _ in range(63):
        deep = {"data": deep}
    assert envelope(deep) == (
        [1, 2],
        {"total": 2, "limit": None, "offset": None, "scroll_id": None},
    )
    for _ in range(5_000):  # no recursion, however deep the wrapping: no records
        deep = {"data": deep}
    assert envelope(deep)[0] == []
    looped: dict[str, Any] = {}
    looped["data"] = looped  # not from JSON, but no hang either
    assert envelope(looped)[0] == []


def test_fingerprint_sees_the_batch_not_the_envelope() -> None:
    assert fingerprint([]) is None
    assert fingerprint([1, 2, 3]) == fingerprint([1, 2, 3])
    assert fingerprint([1, 2, 3]) != fingerprint([1, 2, 4])
    assert fingerprint([1, 2, 3]) != fingerprint([1, 2, 3, 3])

    @attrs.frozen
    class Model:
        id: str
        raw: dict[str, Any] = attrs.field(eq=False, repr=False)

    # A model is known by what was sent (``raw``), which its repr may leave out.
    same = [Model("a", {"id": "a", "extra": 1})]
    other = [Model("a", {"id": "a", "extra": 2})]
    assert fingerprint(same) == fingerprint([Model("a", {"id": "a", "extra": 1})])
    assert fingerprint(same) != fingerprint(other)


def test_progress_admits_new_pages_and_ends_on_any_repeat() -> None:
    a, b, c = Page(items=[1, 2]), Page(items=[3, 4]), Page(items=[5, 6])
    progress = Progress()
    assert [progress.admit(p) for p in (a, b, c)] == [True, True, True]
    assert progress.delivered == 6
    assert progress.admit(Page(items=[1, 2])) is False  # not the page just before: any page
    assert progress.admit(Page(items=[])) is True  # an empty page is the follow rule's end
    assert progress.delivered == 6


def test_progress_raises_when_a_repeat_stops_short_of_the_total() -> None:
    progress = Progress("/v2/cdr")
    assert progress.admit(Page(items=[1, 2], total=10))
    with pytest.raises(IncompleteListingError, match="2 of the 10") as info:
        progress.admit(Page(items=[1, 2], total=10))
    assert (info.value.method, info.value.path) == ("GET", "/v2/cdr")
    assert isinstance(info.value, TransportError)
    # A repeat once the total is reached is just the end; an absurd total is unknown.
    done = Progress()
    assert done.admit(Page(items=[1, 2], total=2))
    assert done.admit(Page(items=[1, 2], total=2)) is False
    unknown = Progress()
    assert unknown.admit(Page(items=[1, 2], total=-5))
    assert unknown.admit(Page(items=[1, 2], total=10**30)) is False


Record = Mapping[str, Any]
Serve = Callable[[Query], Page[Record]]


def records(start: int, stop: int) -> list[Record]:
    return [{"n": i} for i in range(start, stop)]


A, B = records(0, 3), records(3, 6)


def scroll_cycle(total: int | None) -> Serve:
    """Scroll ids s1 -> B, s2 -> A: pages cycle A, B, A, B."""

    def serve(query: Query) -> Page[Record]:
        if query.get("scroll_id") == "s1":
            return Page(items=B, scroll_id="s2", total=total)
        return Page(items=A, scroll_id="s1", total=total)

    return serve


def fresh_id_same_batch() -> Serve:
    """A new scroll id each time, and the server ignores it: the same batch again."""
    count = itertools.count()
    return lambda query: Page(items=A, scroll_id=f"s{next(count)}")


def same_id_new_records(pages: int) -> Serve:
    """Elasticsearch: one scroll id for the whole scroll, new records each time."""
    count = itertools.count()

    def serve(query: Query) -> Page[Record]:
        n = next(count)
        return Page(items=records(3 * n, 3 * n + 3) if n < pages else [], scroll_id="s")

    return serve


def same_id_same_batch() -> Serve:
    return lambda query: Page(items=A, scroll_id="s")


def ignored_offset(total: int | None) -> Serve:
    return lambda query: Page(items=A, offset=0, total=total, limit=3)


def offset_going_back(total: int | None) -> Serve:
    """Serves pages 0, 1, then from 0 again (echoing the offset it served)."""

    def serve(query: Query) -> Page[Record]:
        served = int(str(query.get("offset", 0))) % 6
        return Page(items=records(served, served + 3), offset=served, total=total, limit=3)

    return serve


# shape, follow, expected records (each once), requests, claimed total reached?
SHAPES: list[tuple[str, Callable[[], Serve], Follow, list[Record], int, bool]] = [
    ("scroll-cycle", lambda: scroll_cycle(None), follow_scroll, A + B, 3, True),
    ("scroll-cycle-short-of-total", lambda: scroll_cycle(100), follow_scroll, A + B, 3, False),
    ("fresh-id-same-batch", fresh_id_same_batch, follow_scroll, A, 2, True),
    ("same-id-same-batch", same_id_same_batch, follow_scroll, A, 2, True),
    ("same-id-new-records", lambda: same_id_new_records(4), follow_scroll, records(0, 12), 5, True),
    ("ignored-offset", lambda: ignored_offset(None), follow_offset(), A, 2, True),
    ("ignored-offset-huge-total", lambda: ignored_offset(10**6), follow_offset(), A, 2, False),
    ("ignored-offset-cdr", lambda: ignored_offset(10**6), follow_scroll, A, 2, False),
    ("offset-going-back", lambda: offset_going_back(None), follow_offset(), A + B, 3, True),
    ("offset-going-back-total", lambda: offset_going_back(50), follow_offset(), A + B, 3, False),
    (
        "reports-full-pages",
        lambda: ignored_offset(None),
        follow_offset(short_page_ends=True),
        A,
        2,
        True,
    ),
]


class Counting:
    """An in-memory server for one shape that counts the requests it answers."""

    def __init__(self, serve: Serve) -> None:
        self.serve, self.requests = serve, 0

    async def fetch(self, query: Query) -> Page[Record]:
        self.requests += 1
        assert self.requests <= 50, "the listing did not stop"
        await asyncio.sleep(0)
        return self.serve(query)


async def run_items(pager: AsyncPager[Any]) -> tuple[list[Any], bool]:
    """The items handed out, and whether the listing ended without IncompleteListingError."""
    got: list[Any] = []
    try:
        async for item in pager:
            got.append(item)
    except IncompleteListingError:
        return got, False
    return got, True


@pytest.mark.parametrize(
    ("make", "follow", "expected", "requests", "complete"),
    [pytest.param(*shape[1:], id=shape[0]) for shape in SHAPES],
)
async def test_a_cursor_that_stops_advancing_ends_the_listing(
    make: Callable[[], Serve],
    follow: Follow,
    expected: list[Record],
    requests: int,
    complete: bool,
) -> None:
    server = Counting(make())
    got, ended_cleanly = await run_items(AsyncPager(server.fetch, {"limit": 3}, follow))
    assert got == expected  # each record once, in order
    assert (server.requests, ended_cleanly) == (requests, complete)

    server = Counting(make())
    pages: list[list[Record]] = []
    with contextlib.suppress(IncompleteListingError):
        async for page in AsyncPager(server.fetch, {"limit": 3}, follow).pages():
            pages.append(page.items)
    assert [r for p in pages for r in p] == expected
    assert server.requests == requests

    if not complete:
        server = Counting(make())
        with pytest.raises(IncompleteListingError, match=f"{len(expected)} of the"):
            await AsyncPager(server.fetch, {"limit": 3}, follow, path="/v2/x").collect()


async def test_an_iteration_that_ended_on_a_repeat_stays_ended() -> None:
    server = Counting(ignored_offset(10**6))
    iterator = aiter(AsyncPager(server.fetch, {"limit": 3}, follow_offset()))
    assert [await anext(iterator) for _ in range(3)] == A
    with pytest.raises(IncompleteListingError):
        await anext(iterator)
    with pytest.raises(StopAsyncIteration):  # no request goes out again
        await anext(iterator)
    assert server.requests == 2


async def test_a_long_scroll_streams_with_flat_memory() -> None:
    # 50 pages of 1,000: what grows with the scroll is one fingerprint per page.
    source = Source(50_000)
    pager = AsyncPager(source.fetch, {"limit": 1_000, "offset": 0}, follow_offset())
    tracemalloc.start()
    try:
        count = 0
        async for _ in pager:
            count += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 50_000
    assert len(source.queries) == 50
    assert peak < 1_000_000  # two pages' worth, not the listing's
