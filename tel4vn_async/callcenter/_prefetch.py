"""A pager that fetches the next page (or two) while the caller works through the current one."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from .._sansio import as_int
from ..pagination import AsyncPager, FetchPage, Follow, Page, Progress, Query

__all__ = ["PrefetchPager"]

T = TypeVar("T")
Raw = Mapping[str, Any]
_YIELD_EVERY = 32


class PrefetchPager(AsyncPager[T]):
    """An ``AsyncPager`` whose ``async for`` over items keeps requests ahead.

    ``fetch_raw`` gets a page of raw records and ``convert`` makes one record a model.
    Iterating items, the request for page k+1 goes out before the records of page k are
    converted, one by one as the caller asks for them: the server prepares the next page
    while this process does its share of the work. With ``prefetch=2``, an offset listing
    whose ``total`` is known also keeps the request for page k+2 in flight (see
    ``_foreseen``), never past ``total``, and never with a scroll id: there the next
    cursor is only known from the answer. A page is held raw until its turn and converted
    record by record, so at most ``1 + prefetch`` pages are in memory. Leaving the loop
    early (``break``, an exception) cancels the requests ahead as soon as the iterator is
    dropped, so nothing is left running. ``await`` and ``.pages()`` behave as in
    ``AsyncPager``, and so does the end of an iteration on a page the server already
    answered (``IncompleteListingError`` when a claimed ``total`` was not reached); that
    check runs on the raw page, before any of its records is converted.

    Raises:
        ValueError: ``prefetch`` is not 1 or 2.
    """

    def __init__(
        self,
        fetch_raw: FetchPage[Raw],
        convert: Callable[[Raw], T],
        first_query: Query,
        follow: Follow,
        *,
        path: str | None = None,
        prefetch: int = 1,
    ) -> None:
        if prefetch not in (1, 2):
            raise ValueError(f"prefetch must be 1 or 2, got {prefetch!r}")

        async def fetch(query: Query) -> Page[T]:
            page = await fetch_raw(query)
            return Page(
                items=[convert(r) for r in page.items],
                total=page.total,
                limit=page.limit,
                offset=page.offset,
                scroll_id=page.scroll_id,
            )

        super().__init__(fetch, first_query, follow, path=path)
        self._fetch_raw = fetch_raw
        self._convert = convert
        self._prefetch = prefetch

    def __aiter__(self) -> _PrefetchItems[T]:
        return _PrefetchItems(
            self._fetch_raw,
            self._convert,
            self._first,
            self._follow,
            Progress(self._path),
            self._prefetch,
        )


def _foreseen(query: Query, page: Page[Raw]) -> Query | None:
    """The query of the page after ``query``'s, guessed from ``page`` (the one before it).

    Only for an offset listing with a known ``total``: the server is taken to step by the
    size of its last batch, and nothing at or past ``total`` is asked for. A guess is only
    a head start: the pager uses its answer only when ``follow`` asks for that very query.
    """
    offset = as_int(query.get("offset"))
    if page.scroll_id is not None or "scroll_id" in query or page.total is None:
        return None
    if offset is None or not page.items:
        return None
    after = offset + len(page.items)
    return {**query, "offset": after} if after < page.total else None


def _drop(task: asyncio.Task[Page[Raw]]) -> None:
    """Cancel a request nobody will read; retrieve an error it already has (unlogged)."""
    if not task.done():
        with contextlib.suppress(RuntimeError):  # a closed loop: nothing runs any more
            task.cancel()
    elif not task.cancelled():
        task.exception()  # retrieved: an abandoned page's error is nobody's to log


class _PrefetchItems(Generic[T]):
    """A plain class, not a generator: dropping it (``break``) runs ``__del__`` at once."""

    __slots__ = (
        "_ahead",
        "_batch",
        "_convert",
        "_depth",
        "_fetch",
        "_follow",
        "_index",
        "_previous",
        "_progress",
        "_query",
    )

    def __init__(
        self,
        fetch: FetchPage[Raw],
        convert: Callable[[Raw], T],
        first: Query,
        follow: Follow,
        progress: Progress,
        depth: int = 1,
    ) -> None:
        self._fetch = fetch
        self._convert = convert
        self._follow = follow
        self._depth = depth
        self._query: Query | None = first
        """The query of the next page to hand out (the first of ``_ahead``, when any)."""
        self._ahead: deque[tuple[Query, asyncio.Task[Page[Raw]]]] = deque()
        """The requests in flight, in order: ``_query``'s, then a foreseen one."""
        self._previous: Page[Raw] | None = None
        self._progress = progress
        self._batch: Sequence[Raw] = ()
        self._index = 0

    def __aiter__(self) -> _PrefetchItems[T]:
        return self

    async def __anext__(self) -> T:
        while self._index >= len(self._batch):
            if self._query is None:
                raise StopAsyncIteration
            await self._next_page(self._query)
        item = self._batch[self._index]
        self._index += 1
        if self._index % _YIELD_EVERY == 0:
            # Converting is CPU work: let the loop move the requests ahead (and any other
            # task) along every so many records instead of once per page.
            await asyncio.sleep(0)
        return self._convert(item)

    async def _next_page(self, query: Query) -> None:
        """Receive the page of ``query`` (``_query``) into ``_batch``; send the ones after."""
        try:
            page = await (self._ahead.popleft()[1] if self._ahead else self._fetch(query))
            self._query = None  # a repeated page ends the iteration, error or not
            if not self._progress.admit(page):
                raise StopAsyncIteration
        except BaseException:
            self._drop_ahead()
            raise
        self._query = self._follow(query, page, self._previous)
        self._previous, self._batch, self._index = page, page.items, 0
        self._send_ahead(page)
        if self._ahead:
            # Let the new request go out now, before this page's records are converted.
            await asyncio.sleep(0)

    def _send_ahead(self, page: Page[Raw]) -> None:
        """Have ``_query``'s request in flight, and the foreseen one after it (``_depth`` 2).

        A request already in flight is kept when it is for the query now wanted (a guess
        that came true), else cancelled.
        """
        wanted: list[Query] = []
        if self._query is not None and page.items:
            wanted.append(self._query)
            if self._depth > 1 and (after := _foreseen(self._query, page)) is not None:
                wanted.append(after)
        kept: deque[tuple[Query, asyncio.Task[Page[Raw]]]] = deque()
        while self._ahead and len(kept) < len(wanted) and self._ahead[0][0] == wanted[len(kept)]:
            kept.append(self._ahead.popleft())
        self._drop_ahead()
        for query in wanted[len(kept) :]:
            kept.append((query, asyncio.ensure_future(self._fetch(query))))
        self._ahead = kept

    def _drop_ahead(self) -> None:
        while self._ahead:
            _drop(self._ahead.popleft()[1])

    def __del__(self) -> None:
        for _, task in self._ahead:
            _drop(task)
