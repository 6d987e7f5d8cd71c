"""Listings as async iterators: ``Page``, ``AsyncPager`` and the pure next-page math.

A pager is awaitable (the first page) and async-iterable (every item, page after page);
``.pages()`` iterates page by page. It holds one page at a time and starts no task, so
memory stays flat however many records stream through, and breaking out of ``async for``
leaves nothing running.

The API pages in three ways, each a pure function here:

- **offset** (``limit``/``offset``): the next offset is
  ``max(response.offset, request.offset + len(items))``; stop on an empty batch, at
  ``total``, when the offset stops advancing, or (with no ``total``) on a short batch.
- **scroll id** (newer CDR servers): send the response's ``scroll_id`` back; stop on an
  empty batch, or when the server repeats both the scroll id and the batch.
- **single page** (``cdrs.page``): no next page.

Whatever the cursor, an iteration ends when the server answers a page it has already
answered in that iteration (``Progress``): a scroll whose pages cycle, a server that
ignores the cursor and sends the same batch again, an offset that goes backwards. Each
page is fingerprinted (its length and its first, middle and last records), so this costs
a few dozen bytes and three ``repr`` calls per page, whatever the page size. When the
server had claimed a ``total`` that was not reached, the iteration raises
``IncompleteListingError`` rather than end as if the listing were complete.
"""

from __future__ import annotations

from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Mapping,
    Sequence,
    Sized,
)
from typing import Any, Generic, TypeVar

import attrs

from ._sansio import as_int as _as_int
from .errors import IncompleteListingError

__all__ = [
    "AsyncPager",
    "Page",
    "Progress",
    "envelope",
    "fingerprint",
    "follow_offset",
    "follow_scroll",
    "next_offset",
    "next_scroll",
    "page_from",
    "single_page",
]

T = TypeVar("T")

# No listing holds more records than a JSON number counts exactly; a bigger "total" (or
# a negative one) is a broken answer, read as unknown.
_MOST = 2**53


def _count(value: object) -> int | None:
    """A record count the server sent, or None (unknown) when it is no sane count."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MOST:
        return value
    return None


def _size(value: object) -> int | None:
    """A page size: a positive count, else None (a ``limit`` of 0 or -1 says nothing)."""
    count = _count(value)
    return count if count else None


@attrs.frozen
class Page(Generic[T]):
    """One page of a listing.

    Attributes:
        items: the records of this page.
        total: how many records the listing holds, when the server says (a negative or
            absurd count, beyond 2**53, is None: unknown).
        limit: the page size the server used (or was asked for); None unless positive.
        offset: the offset of this page's first record, when known.
        scroll_id: the scroll cursor the server handed out, if any.
    """

    items: list[T]
    total: int | None = attrs.field(default=None, converter=_count)
    limit: int | None = attrs.field(default=None, converter=_size)
    offset: int | None = None
    scroll_id: str | None = None

    def __len__(self) -> int:
        return len(self.items)


_MAX_WRAPS = 64
"""How deep ``envelope`` looks for the records: a loop, not recursion, and bounded."""


def envelope(body: object) -> tuple[list[Any], dict[str, Any]]:
    """Split a listing response into its raw records and its paging fields.

    Accepts ``{"data": [...], "total", "limit", "offset"|"page", "scroll_id"}`` and a bare
    list; a ``data`` that is null counts as empty, and so does one wrapped in more than
    ``_MAX_WRAPS`` objects. A ``scroll_id`` that is neither a non-blank string nor an int
    is no scroll id.
    """
    if isinstance(body, list):
        return body, {}
    if not isinstance(body, Mapping):
        return [], {}
    data = body.get("data")
    for _ in range(_MAX_WRAPS):  # {"data": {"data": [...], "total": ...}} seen in the wild
        if not isinstance(data, Mapping):
            break
        body, data = data, data.get("data")
    records = list(data) if isinstance(data, list) else []
    meta = {
        "total": _as_int(body.get("total")),
        "limit": _as_int(body.get("limit")),
        "offset": _as_int(body.get("offset")),
        "scroll_id": _scroll_id(body.get("scroll_id")),
    }
    return records, meta


def _scroll_id(value: object) -> str | None:
    # It goes back as a query parameter: a list or an object there would fail the request.
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() <= 64:
        return str(value)
    return None


def page_from(
    body: object, query: Mapping[str, object], convert: Callable[[Mapping[str, Any]], T]
) -> Page[T]:
    """The ``Page`` in a listing response: records converted, paging fields read.

    A ``limit`` or ``offset`` the server does not echo (or echoes as ``-1``) is the one
    the query asked for.
    """
    records, meta = envelope(body)
    offset = meta.get("offset")
    if offset is None or offset < 0:
        offset = _as_int(query.get("offset")) or 0
    return Page(
        # type() first: a decoded record is a dict, and isinstance(r, Mapping) is an ABC
        # check that costs more than some conversions on a long scroll.
        items=[convert(r) for r in records if type(r) is dict or isinstance(r, Mapping)],
        total=meta.get("total"),
        limit=_size(meta.get("limit")) or _as_int(query.get("limit")),
        offset=offset,
        scroll_id=meta.get("scroll_id"),
    )


def next_offset(
    request_offset: int,
    limit: int | None,
    page: Page[Any],
    *,
    short_page_ends: bool,
    previous: Page[Any] | None = None,
) -> int | None:
    """The offset of the next page, or None when the listing is done.

    Args:
        request_offset: the offset this page was asked for.
        limit: the page size asked for (the server's echoed ``limit`` wins: it may cap it).
        page: the page received.
        short_page_ends: a batch shorter than ``limit`` is the last one (for listings
            with no ``total``); with a ``total`` the short-batch rule is never needed.
        previous: the page before this one, if any.
    """
    count = len(page.items)
    if count == 0:
        return None
    following = max(page.offset if page.offset is not None else -1, request_offset + count)
    if page.total is not None:
        return following if following < page.total else None
    # With no total to reach, a server ignoring the cursor would answer the same batch
    # forever (a stale echoed offset alone is fine: max() above steps over it).
    if previous is not None and previous.items == page.items:
        return None
    limit = page.limit or limit
    if short_page_ends and limit is not None and count < limit:
        return None
    return following


def next_scroll(previous: Page[Any] | None, page: Page[Any]) -> str | None:
    """The scroll id to send for the next page, or None when the scroll is done.

    A server may hand out the same scroll id each time (as Elasticsearch does), so a
    repeated id alone is no end; a repeated id with a repeated batch is.
    """
    if not page.items or page.scroll_id is None:
        return None
    stuck = (
        previous is not None
        and previous.scroll_id == page.scroll_id
        and previous.items == page.items
    )
    return None if stuck else page.scroll_id


def _record_key(record: object) -> str:
    raw = getattr(record, "raw", record)  # a model's repr leaves out what it did not read
    try:
        return repr(raw)
    except (RecursionError, ValueError):  # deep nesting; an int past 4,300 digits
        return f"<{type(raw).__name__} of {len(raw) if isinstance(raw, Sized) else 0}>"


def fingerprint(items: Sequence[Any]) -> int | None:
    """A cheap identity of a page's content (None for an empty page).

    The page's length and its first, middle and last records: two pages with the same
    fingerprint are the same batch for any practical purpose, and computing it costs
    three ``repr`` calls however long the page is.
    """
    if not items:
        return None
    count = len(items)
    first, middle, last = items[0], items[count // 2], items[-1]
    return hash((count, _record_key(first), _record_key(middle), _record_key(last)))


class Progress:
    """One iteration over a listing: the pages it has handed out, and how many records.

    ``admit`` each page before handing out its items: a page that repeats one already
    handed out means the server's cursor stopped advancing (or cycles), so the iteration
    ends there, before any record is handed out twice.
    """

    __slots__ = ("_delivered", "_path", "_seen", "_total")

    def __init__(self, path: str | None = None) -> None:
        self._path = path
        self._seen: set[int] = set()
        self._delivered = 0
        self._total: int | None = None

    @property
    def delivered(self) -> int:
        """How many records the admitted pages held."""
        return self._delivered

    def admit(self, page: Page[Any]) -> bool:
        """Whether to hand out ``page``: False when it repeats a page already handed out.

        Raises:
            IncompleteListingError: it repeats one, and the server had claimed a ``total``
                beyond the records handed out: the rest cannot be fetched.
        """
        if page.total is not None:
            self._total = page.total
        mark = fingerprint(page.items)
        if mark is None:
            return True  # an empty page: the follow rules end the listing on it
        if mark not in self._seen:
            self._seen.add(mark)
            self._delivered += len(page.items)
            return True
        if self._total is not None and self._delivered < self._total:
            where = self._path or "the listing"
            raise IncompleteListingError(
                f"{where} stopped advancing after {self._delivered} of the {self._total} "
                "records the server claimed: it answered a page it had already sent",
                method="GET" if self._path else None,
                path=self._path,
            )
        return False


Query = Mapping[str, object]
FetchPage = Callable[[Query], Awaitable[Page[T]]]
"""Fetch the page for one query."""
Follow = Callable[[Query, Page[Any], "Page[Any] | None"], "Query | None"]
"""Pure: the query of the page after ``page`` (``previous`` came before it), or None."""


def follow_offset(*, short_page_ends: bool = False) -> Follow:
    """Page by ``limit``/``offset`` (customers, reports, CDRs without a scroll id)."""

    def follow(query: Query, page: Page[Any], previous: Page[Any] | None) -> Query | None:
        nxt = next_offset(
            _as_int(query.get("offset")) or 0,
            _as_int(query.get("limit")),
            page,
            short_page_ends=short_page_ends,
            previous=previous,
        )
        return None if nxt is None else {**query, "offset": nxt}

    return follow


def follow_scroll(query: Query, page: Page[Any], previous: Page[Any] | None) -> Query | None:
    """CDR scroll mode: the server's ``scroll_id`` when it sends one, else the offset cursor."""
    if page.scroll_id is not None:
        scroll_id = next_scroll(previous, page)
        return None if scroll_id is None else {**query, "scroll_id": scroll_id}
    # No scroll id (any more): the offset cursor, without a stale scroll id riding along.
    offset_query = {k: v for k, v in query.items() if k != "scroll_id"}
    return follow_offset()(offset_query, page, previous)


def single_page(query: Query, page: Page[Any], previous: Page[Any] | None) -> Query | None:
    """A listing of one page (``cdrs.page``: random access)."""
    return None


class AsyncPager(Generic[T]):
    """A listing: ``await`` it for the first page, ``async for`` over it for every item.

    ``async for page in pager.pages()`` goes page by page. Each iteration starts afresh
    from the first page; nothing is fetched until you await or iterate. An iteration
    ends when the server answers a page it already answered (see ``Progress``).

    Args:
        fetch: fetches the page for one query.
        first_query: the query of the first page.
        follow: the query of the page after a page, or None (``follow_offset``, ...).
        path: the endpoint, to name in an ``IncompleteListingError``.

    Raises (while iterating):
        IncompleteListingError: the server's cursor stopped advancing before the
            ``total`` it claimed was handed out.
    """

    def __init__(
        self, fetch: FetchPage[T], first_query: Query, follow: Follow, *, path: str | None = None
    ) -> None:
        self._fetch = fetch
        self._first = dict(first_query)
        self._follow = follow
        self._path = path

    def __repr__(self) -> str:
        return f"AsyncPager({self._first!r})"

    def __await__(self) -> Generator[Any, None, Page[T]]:
        return self._fetch(self._first).__await__()

    async def pages(self) -> AsyncIterator[Page[T]]:
        """Every page in order (the last one may be empty)."""
        query: Query | None = self._first
        previous: Page[T] | None = None
        progress = Progress(self._path)
        while query is not None:
            page = await self._fetch(query)
            if not progress.admit(page):
                return
            yield page
            query, previous = self._follow(query, page, previous), page

    def __aiter__(self) -> AsyncIterator[T]:
        return _Items(self)

    async def collect(self, limit: int | None = None) -> list[T]:
        """Every item in a list (at most ``limit``): for small listings only."""
        out: list[T] = []
        async for item in self:
            out.append(item)
            if limit is not None and len(out) >= limit:
                break
        return out


class _Items(Generic[T]):
    """Item iterator: a plain class, so an abandoned iteration holds no suspended frame."""

    __slots__ = ("_batch", "_index", "_pager", "_previous", "_progress", "_query")

    def __init__(self, pager: AsyncPager[T]) -> None:
        self._pager = pager
        self._query: Query | None = pager._first
        self._previous: Page[T] | None = None
        self._progress = Progress(pager._path)
        self._batch: Sequence[T] = ()
        self._index = 0

    def __aiter__(self) -> _Items[T]:
        return self

    async def __anext__(self) -> T:
        while self._index >= len(self._batch):
            if self._query is None:
                raise StopAsyncIteration
            page = await self._pager._fetch(self._query)
            query, self._query = self._query, None  # a repeated page ends it, error or not
            if not self._progress.admit(page):
                raise StopAsyncIteration
            self._query = self._pager._follow(query, page, self._previous)
            self._previous, self._batch, self._index = page, page.items, 0
        item = self._batch[self._index]
        self._index += 1
        return item
