"""``cc.cdrs``: call detail records, scrolled or paged."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from .._convert import reader
from .._resource import APIResource
from .._validate import check_date, check_enum, check_id, check_int, check_phone, path_segment
from ..errors import ValidationError
from ..models.callcenter import CallDirection, Cdr
from ..pagination import AsyncPager, Page, Query, follow_scroll, single_page
from ._prefetch import PrefetchPager

__all__ = ["Cdrs"]

DateArg = date | datetime | str
MAX_PAGE_SIZE = 10_000


def cdr_filters(
    *,
    start_date: DateArg | None,
    end_date: DateArg | None,
    duration: int | None,
    extension: str | None,
    phone: str | None,
    direction: CallDirection | str | None,
) -> dict[str, object]:
    """The CDR filters, checked and formatted as the query takes them."""
    start = None if start_date is None else check_date(start_date, "start_date")
    end = None if end_date is None else check_date(end_date, "end_date")
    if start is not None and end is not None and len(start) == len(end) and end < start:
        raise ValidationError(f"end_date {end!r} is before start_date {start!r}", field="end_date")
    out: dict[str, object] = {"start_date": start, "end_date": end}
    if duration is not None:
        out["duration"] = check_int(duration, "duration")
    if extension is not None:
        out["extension"] = check_id(extension, "extension")
    if phone is not None:
        out["phone"] = check_phone(phone, "phone")
    if direction is not None:
        out["direction"] = check_enum(direction, CallDirection, "direction").value
    return out


_to_cdr = reader(Cdr)
"""One decoded CDR record to a ``Cdr`` whose ``raw`` is that very record, not a copy.

The record comes from a page just decoded, which nothing else keeps: ``cdr.raw`` is the
decoded object itself. (``Cdr``'s structure function is generated here, at import.)
"""


def _as_decoded(record: Mapping[str, Any]) -> Mapping[str, Any]:
    return record  # kept as decoded until its turn: converted (and kept as raw) then


class Cdrs(APIResource):
    """Call detail records: the history of calls."""

    async def _fetch(self, query: Query) -> Page[Mapping[str, Any]]:
        return await self._get_page("/v2/cdr", query, _as_decoded)

    def list(
        self,
        *,
        start_date: DateArg | None = None,
        end_date: DateArg | None = None,
        duration: int | None = None,
        extension: str | None = None,
        phone: str | None = None,
        direction: CallDirection | str | None = None,
        page_size: int = 500,
        prefetch: int = 1,
        offset: int = 0,
    ) -> AsyncPager[Cdr]:
        """Every CDR matching the filters, in the API's scroll mode.

        ``async for cdr in cc.cdrs.list(...)`` streams them all, fetching the next page
        while you handle the current one (two pages in memory at most); ``await`` gives
        the first page; ``.pages()`` goes page by page. The cursor is the server's
        ``scroll_id`` when it sends one, else the offset.

        API: GET /v2/cdr

        Args:
            start_date: calls started from then: a ``date`` (sent ``YYYY-MM-DD``), a
                ``datetime`` (``YYYY-MM-DD HH:MM:SS``, wall-clock as given) or such a string.
            end_date: calls started until then; the same forms.
            duration: calls of this duration, in seconds (0 to 2**31 - 1).
            extension: calls from or to this extension (up to 255 characters).
            phone: calls from or to this number (3 to 15 digits, an optional ``+``).
            direction: ``inbound``, ``outbound`` or ``local`` (a ``CallDirection``).
            page_size: records per request (``limit``), 1 to 10,000.
            prefetch: pages requested ahead while you iterate, 1 or 2. With 2, an offset
                listing with a known ``total`` keeps two requests in flight (never past
                the total; a scroll id is only known from the answer, so it stays at 1).
            offset: skip this many CDRs first (to resume a listing), 0 or more: the first
                request's offset cursor; a server that answers with a scroll id then
                goes on from its own cursor.

        Raises:
            ValidationError: a filter is malformed; raised here, before anything is sent.
        """
        ahead = check_int(prefetch, "prefetch", low=1, high=2)
        query: dict[str, Any] = cdr_filters(
            start_date=start_date,
            end_date=end_date,
            duration=duration,
            extension=extension,
            phone=phone,
            direction=direction,
        )
        query["limit"] = check_int(page_size, "page_size", low=1, high=MAX_PAGE_SIZE)
        if check_int(offset, "offset"):  # the first request names no cursor by default
            query["offset"] = offset
        return PrefetchPager(
            self._fetch, _to_cdr, query, follow_scroll, path="/v2/cdr", prefetch=ahead
        )

    async def page(
        self,
        page: int,
        limit: int,
        *,
        start_date: DateArg | None = None,
        end_date: DateArg | None = None,
        duration: int | None = None,
        extension: str | None = None,
        phone: str | None = None,
        direction: CallDirection | str | None = None,
    ) -> Page[Cdr]:
        """One page of CDRs in the API's pagination mode, for random access.

        API: GET /v2/cdr?page=&limit=

        Args:
            page: the page number, from 1 (to 2**31 - 1).
            limit: records per page, 1 to 10,000.
            start_date: see ``list``; so are the other filters.

        Raises:
            ValidationError: a bad page, limit or filter; nothing is sent.
        """
        query: dict[str, Any] = cdr_filters(
            start_date=start_date,
            end_date=end_date,
            duration=duration,
            extension=extension,
            phone=phone,
            direction=direction,
        )
        query["page"] = check_int(page, "page", low=1)
        query["limit"] = check_int(limit, "limit", low=1, high=MAX_PAGE_SIZE)
        return await PrefetchPager(self._fetch, _to_cdr, query, single_page, path="/v2/cdr")

    async def get(self, cdr_id_or_sip_call_id: str) -> Cdr:
        """One CDR, by its id or its SIP Call-ID.

        API: GET /v2/cdr/{id}

        Args:
            cdr_id_or_sip_call_id: the CDR's id or SIP Call-ID (up to 255 characters; not
                only dots), quoted into one path segment.

        Raises:
            NotFoundError: no such CDR.
            ValidationError: a bad id; nothing sent.
        """
        path = f"/v2/cdr/{path_segment(cdr_id_or_sip_call_id, 'cdr_id_or_sip_call_id')}"
        return await self._get(path, cast_to=Cdr)
