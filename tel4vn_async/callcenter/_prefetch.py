"""A pager that fetches the next page while the caller works through the current one."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from ..pagination import AsyncPager, FetchPage, Follow, Page, Query

__all__ = ["PrefetchPager"]

T = TypeVar("T")
Raw = Mapping[str, Any]
_YIELD_EVERY = 32


class PrefetchPager(AsyncPager[T]):
    """An ``AsyncPager`` whose ``async for`` over items keeps one request ahead.

    ``fetch_raw`` gets a page of raw records and ``convert`` makes one record a model.
    Iterating items, the request for page k+1 goes out before the records of page k are
    converted, one by one as the caller asks for them: the server prepares the next page
    while this process does its share of the work. At most two pages are held at once (one
    of them raw), so memory stays flat. Leaving the loop early (``break``, an exception)
    cancels the request ahead as soon as the iterator is dropped, so nothing is left
    running. ``await`` and ``.pages()`` behave as in ``AsyncPager``.
    """

    def __init__(
        self,
        fetch_raw: FetchPage[Raw],
        convert: Callable[[Raw], T],
        first_query: Query,
        follow: Follow,
    ) -> None:
        async def fetch(query: Query) -> Page[T]:
            page = await fetch_raw(query)
            return Page(
                items=[convert(r) for r in page.items],
                total=page.total,
                limit=page.limit,
                offset=page.offset,
                scroll_id=page.scroll_id,
            )

        super().__init__(fetch, first_query, follow)
        self._fetch_raw = fetch_raw
        self._convert = convert

    def __aiter__(self) -> _PrefetchItems[T]:
        return _PrefetchItems(self._fetch_raw, self._convert, self._first, self._follow)


class _PrefetchItems(Generic[T]):
    """A plain class, not a generator: dropping it (``break``) runs ``__del__`` at once."""

    __slots__ = (
        "_ahead",
        "_batch",
        "_convert",
        "_fetch",
        "_follow",
        "_index",
        "_previous",
        "_query",
    )

    def __init__(
        self,
        fetch: FetchPage[Raw],
        convert: Callable[[Raw], T],
        first: Query,
        follow: Follow,
    ) -> None:
        self._fetch = fetch
        self._convert = convert
        self._follow = follow
        self._query: Query | None = first
        """The query of the next page to hand out (``_ahead`` is fetching it, when set)."""
        self._ahead: asyncio.Task[Page[Raw]] | None = None
        self._previous: Page[Raw] | None = None
        self._batch: Sequence[Raw] = ()
        self._index = 0

    def __aiter__(self) -> _PrefetchItems[T]:
        return self

    async def __anext__(self) -> T:
        while self._index >= len(self._batch):
            if self._query is None:
                raise StopAsyncIteration
            query = self._query
            ahead, self._ahead = self._ahead, None
            page = await (ahead if ahead is not None else self._fetch(query))
            self._query = self._follow(query, page, self._previous)
            self._previous, self._batch, self._index = page, page.items, 0
            if self._query is not None and page.items:
                self._ahead = asyncio.ensure_future(self._fetch(self._query))
        item = self._batch[self._index]
        self._index += 1
        if self._index % _YIELD_EVERY == 0:
            # Converting is CPU work: let the loop move the request ahead (and any other
            # task) along every so many records instead of once per page.
            await asyncio.sleep(0)
        return self._convert(item)

    def __del__(self) -> None:
        ahead = self._ahead
        if ahead is None:
            return
        if not ahead.done():
            with contextlib.suppress(RuntimeError):  # a closed loop: nothing runs any more
                ahead.cancel()
        elif not ahead.cancelled():
            ahead.exception()  # retrieved: an abandoned page's error is nobody's to log
