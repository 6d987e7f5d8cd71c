"""``cc.cdrs`` against FakeTel4vn: scrolling in every style, paging, filters, failures."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import Any

import pytest

from tel4vn_async import (
    CallCenterClient,
    IncompleteListingError,
    NotFoundError,
    ServerError,
    ValidationError,
)
from tel4vn_async.models.callcenter import CallDirection, Cdr
from tel4vn_async.pagination import AsyncPager, Page
from tel4vn_async.testing import FakeTel4vn
from tel4vn_async.testing._cdr_data import cdr_facts, cdr_record

N = 2_500
PAGE = 250
STYLES = ("offset", "echo", "scroll_id")


async def scroll_ids(pager: AsyncPager[Cdr], inject_at: int | None, fake: FakeTel4vn) -> list[str]:
    seen: list[str] = []
    async for cdr in pager:
        assert cdr.id is not None
        seen.append(cdr.id)
        if len(seen) == inject_at:
            fake.inject("/v2/cdr", status=503, retry_after=0)
    return seen


@pytest.mark.parametrize("mapping", ["default", "flex"])
@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("inject_at", [None, 1_375], ids=["clean", "503-mid-scroll"])
async def test_scroll_yields_each_cdr_exactly_once(
    fake: FakeTel4vn,
    cc: CallCenterClient,
    style: Any,
    mapping: Any,
    inject_at: int | None,
) -> None:
    fake.seed_cdrs(N, mapping=mapping)
    fake.cdr_scroll_style = style
    seen = await scroll_ids(cc.cdrs.list(page_size=PAGE), inject_at, fake)

    assert len(seen) == N
    assert seen == [cdr_facts(i)["id"] for i in range(N)]  # each once, in order
    log = fake.received("/v2/cdr")
    answered = [r for r in log if r.status == 200]
    # With no total (scroll_id) only an empty batch ends the scroll.
    assert len(answered) == N // PAGE + (style == "scroll_id")
    assert len(log) == len(answered) + (inject_at is not None)
    assert all(r.query["limit"] == str(PAGE) for r in log)
    assert "offset" not in log[0].query
    assert "scroll_id" not in log[0].query
    if inject_at is not None:
        failed = [i for i, r in enumerate(log) if r.status == 503]
        assert len(failed) == 1
        assert log[failed[0]].query == log[failed[0] + 1].query  # the same page, retried
    if style == "scroll_id":
        assert all("scroll_id" in r.query for r in log[1:])
    else:
        offsets = [int(r.query.get("offset", 0)) for r in answered]
        assert offsets == list(range(0, N, PAGE))


async def test_scroll_filters_are_sent_and_applied(fake: FakeTel4vn, cc: CallCenterClient) -> None:
    fake.seed_cdrs(3_000)
    pager = cc.cdrs.list(
        start_date=date(2024, 1, 1),
        end_date=datetime(2024, 1, 1, 20, 0, 0),
        direction=CallDirection.INBOUND,
        extension="102",
        page_size=100,
    )
    cdrs = await pager.collect()
    expected = [
        cdr_facts(i)["id"]
        for i in range(3_000)
        if cdr_facts(i)["direction"] == "inbound"
        and cdr_facts(i)["extension"] == "102"
        and cdr_facts(i)["started"] <= datetime(2024, 1, 1, 20, 0, 0)
    ]
    assert expected  # the filter matches something
    assert [c.id for c in cdrs] == expected
    query = fake.received("/v2/cdr")[0].query
    assert query == {
        "start_date": "2024-01-01",
        "end_date": "2024-01-01 20:00:00",
        "direction": "inbound",
        "extension": "102",
        "limit": "100",
    }


async def test_direction_and_dates_as_strings(fake: FakeTel4vn, cc: CallCenterClient) -> None:
    await cc.cdrs.list(
        direction="OUTBOUND", start_date="2024-01-01 08:00:00", duration=10, phone="0899000001"
    )
    assert fake.received("/v2/cdr")[0].query == {
        "direction": "outbound",
        "start_date": "2024-01-01 08:00:00",
        "duration": "10",
        "phone": "0899000001",
        "limit": "500",
    }


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"direction": "sideways"}, "direction"),
        ({"start_date": "18/02/2021"}, "start_date"),
        ({"end_date": "2021-02-30"}, "end_date"),
        ({"start_date": "2021-02-19", "end_date": "2021-02-18"}, "end_date"),
        ({"duration": -1}, "duration"),
        ({"phone": "09-abc"}, "phone"),
        ({"extension": " "}, "extension"),
        ({"page_size": 0}, "page_size"),
        ({"page_size": 10_001}, "page_size"),
    ],
)
async def test_bad_filters_raise_before_sending(
    fake: FakeTel4vn, cc: CallCenterClient, kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as info:
        cc.cdrs.list(**kwargs)
    assert info.value.field == field
    if "page_size" not in kwargs:
        with pytest.raises(ValidationError) as info:
            await cc.cdrs.page(1, 10, **kwargs)
        assert info.value.field == field
    assert fake.count("/v2/cdr") == 0


async def test_await_gives_the_first_page_and_pages_go_page_by_page(
    fake: FakeTel4vn, cc: CallCenterClient
) -> None:
    fake.seed_cdrs(1_050)
    first = await cc.cdrs.list(page_size=200)
    assert isinstance(first, Page)
    assert len(first.items) == 200
    assert (first.total, first.limit, first.offset) == (1_050, 200, 200)
    sizes = [len(page.items) async for page in cc.cdrs.list(page_size=200).pages()]
    assert sizes == [200, 200, 200, 200, 200, 50]
    assert fake.count("/v2/cdr") == 1 + 6


async def test_page_mode(fake: FakeTel4vn, cc: CallCenterClient) -> None:
    fake.seed_cdrs(1_000, mapping="flex")
    page = await cc.cdrs.page(3, 50, extension="101")
    assert fake.received("/v2/cdr")[0].query == {"page": "3", "limit": "50", "extension": "101"}
    expected = [cdr_facts(i)["id"] for i in range(1_000) if cdr_facts(i)["extension"] == "101"]
    assert [c.id for c in page.items] == expected[100:150]
    assert page.total == len(expected)
    assert all(c.mapping == "flex" for c in page.items)
    for bad in ((0, 10), (1, 0), (True, 10)):
        with pytest.raises(ValidationError):
            await cc.cdrs.page(*bad)
    assert fake.count("/v2/cdr") == 1


def client_tasks() -> set[asyncio.Task[Any]]:
    # The fake's own connection handlers (server side) are not the client's doing.
    return {t for t in asyncio.all_tasks() if "RequestHandler" not in repr(t.get_coro())}


async def test_breaking_out_leaves_nothing_behind(fake: FakeTel4vn, cc: CallCenterClient) -> None:
    fake.seed_cdrs(5_000)
    await cc.session.token()
    before = client_tasks()
    fake.inject("/v2/cdr", delay=0, times=2)  # the first two pages: as usual
    fake.inject("/v2/cdr", delay=5.0)  # the third: still in flight at the break
    count = 0
    async for _ in cc.cdrs.list(page_size=100):
        count += 1
        if count == 120:
            await asyncio.sleep(0.1)  # the caller at work: the page ahead is on its way
        if count == 150:
            break
    assert fake.count("/v2/cdr") == 3  # one page ahead, no more
    await asyncio.sleep(0.05)
    assert client_tasks() == before  # the request ahead was cancelled


async def test_the_page_ahead_is_requested_before_this_one_is_used(
    fake: FakeTel4vn, cc: CallCenterClient
) -> None:
    fake.seed_cdrs(1_000)
    pager = cc.cdrs.list(page_size=100)
    iterator = aiter(pager)
    await anext(iterator)
    await asyncio.sleep(0.05)
    assert fake.count("/v2/cdr") == 2
    for _ in range(99):
        await anext(iterator)
    await asyncio.sleep(0.05)
    assert fake.count("/v2/cdr") == 2  # page 2 is still unused: page 3 waits
    await anext(iterator)
    await asyncio.sleep(0.05)
    assert fake.count("/v2/cdr") == 3
    del iterator


async def test_empty_listing(fake: FakeTel4vn, cc: CallCenterClient) -> None:
    fake.seed_cdrs(0)
    assert await cc.cdrs.list().collect() == []
    assert fake.count("/v2/cdr") == 1


async def test_a_repeated_scroll_id_and_batch_ends_the_scroll(
    fake: FakeTel4vn, cc: CallCenterClient
) -> None:
    stuck = {"data": [cdr_record(1)], "scroll_id": "same"}
    fake.inject("/v2/cdr", status=200, body=stuck, times=5)
    items = await cc.cdrs.list(page_size=1).collect()
    assert fake.count("/v2/cdr") == 2
    assert len(items) == 1  # the repeated batch is never handed out again


async def test_a_server_echoing_a_stale_offset_cannot_loop(
    fake: FakeTel4vn, cc: CallCenterClient
) -> None:
    # The same two records at offset 0 forever, under a total of 6: the second answer
    # repeats the first, so the listing stops there, yields nothing twice, and says it
    # fell short of the total rather than truncating silently.
    body = {"data": [cdr_record(0), cdr_record(1)], "limit": 2, "offset": 0, "total": 6}
    fake.inject("/v2/cdr", status=200, body=body, times=10)
    items: list[Cdr] = []

    async def scroll() -> None:
        async for cdr in cc.cdrs.list(page_size=2):
            items.append(cdr)

    with pytest.raises(IncompleteListingError, match="2 of the 6") as info:
        await scroll()
    assert len(items) == 2
    assert (info.value.method, info.value.path) == ("GET", "/v2/cdr")
    assert [r.query.get("offset") for r in fake.received("/v2/cdr")] == [None, "2"]


async def test_a_lasting_failure_mid_scroll_raises(fake: FakeTel4vn, cc: CallCenterClient) -> None:
    fake.seed_cdrs(1_000)
    seen = 0

    async def scroll() -> None:
        nonlocal seen
        async for _ in cc.cdrs.list(page_size=100):
            seen += 1
            if seen == 250:
                fake.inject("/v2/cdr", status=503, times=10)

    with pytest.raises(ServerError):
        await scroll()
    assert seen == 300


async def test_get_by_id_and_by_sip_call_id(fake: FakeTel4vn, cc: CallCenterClient) -> None:
    fake.seed_cdrs(100)
    facts = cdr_facts(42)
    by_id = await cc.cdrs.get(facts["id"])
    by_sip = await cc.cdrs.get(facts["sip_call_id"])
    assert by_id == by_sip
    assert by_id.id == facts["id"]
    assert by_id.sip_call_id == facts["sip_call_id"]
    assert [r.path for r in fake.received()[-2:]] == [
        f"/v2/cdr/{facts['id']}",
        f"/v2/cdr/{facts['sip_call_id']}",
    ]
    with pytest.raises(NotFoundError):
        await cc.cdrs.get("ffffffff-cdr0-4000-8000-000000000000")
    with pytest.raises(ValidationError):
        await cc.cdrs.get("  ")
    with pytest.raises(NotFoundError) as info:
        await cc.cdrs.get("a/b")  # quoted: one path segment, not a route of its own
    assert info.value.path == "/v2/cdr/a%2Fb"
    assert fake.received()[-1].path in ("/v2/cdr/a%2Fb", "/v2/cdr/a/b")


async def test_hundreds_of_concurrent_gets(fake: FakeTel4vn, cc: CallCenterClient) -> None:
    fake.seed_cdrs(300, mapping="flex")
    fake.inject("/v2/cdr/" + cdr_facts(7)["id"], status=503)
    cdrs = await asyncio.gather(*(cc.cdrs.get(cdr_facts(i)["id"]) for i in range(300)))
    assert [c.id for c in cdrs] == [cdr_facts(i)["id"] for i in range(300)]
    assert fake.token_requests == 1


@pytest.mark.parametrize("style", STYLES)
async def test_two_pages_ahead_yield_each_cdr_once_and_never_ask_past_the_total(
    fake: FakeTel4vn, cc: CallCenterClient, style: Any
) -> None:
    fake.seed_cdrs(1_050)
    fake.cdr_scroll_style = style
    ids = [cdr.id async for cdr in cc.cdrs.list(page_size=100, prefetch=2)]
    assert len(ids) == len(set(ids)) == 1_050
    offsets = [int(r.query.get("offset") or 0) for r in fake.received("/v2/cdr")]
    assert max(offsets) < 1_050
    assert len(offsets) <= 12  # 11 pages; at most one guess ahead left over


@pytest.mark.parametrize("prefetch", [0, 3, "2", None, 1.5])
async def test_a_bad_prefetch_is_refused_before_sending(
    fake: FakeTel4vn, cc: CallCenterClient, prefetch: object
) -> None:
    with pytest.raises(ValidationError) as info:
        cc.cdrs.list(prefetch=prefetch)  # type: ignore[arg-type]
    assert info.value.field == "prefetch"
    assert fake.count("/v2/cdr") == 0
