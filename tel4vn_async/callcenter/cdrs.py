"""``cc.cdrs``: call detail records, scrolled or paged."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from .._convert import structure
from .._validate import check_count, check_enum, check_phone, format_query_date
from ..errors import ValidationError
from ..models.callcenter import CallDirection, Cdr
from ..pagination import AsyncPager, Page, Query, follow_scroll, page_from, single_page
from ._base import Resource, path_id, text
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
    start = None if start_date is None else format_query_date(start_date, "start_date")
    end = None if end_date is None else format_query_date(end_date, "end_date")
    if start is not None and end is not None and len(start) == len(end) and end < start:
        raise ValidationError(f"end_date {end!r} is before start_date {start!r}", field="end_date")
    out: dict[str, object] = {"start_date": start, "end_date": end}
    if duration is not None:
        if isinstance(duration, bool) or not isinstance(duration, int) or duration < 0:
            raise ValidationError(
                f"duration must be a non-negative integer, got {duration!r}", field="duration"
            )
        out["duration"] = duration
    if extension is not None:
        out["extension"] = text(extension, "extension")
    if phone is not None:
        out["phone"] = check_phone(phone, "phone")
    if direction is not None:
        out["direction"] = check_enum(direction, CallDirection, "direction").value
    return out


def _to_cdr(record: Mapping[str, Any]) -> Cdr:
    return structure(record, Cdr)


class Cdrs:
    """Call detail records: the history of calls."""

    def __init__(self, resource: Resource) -> None:
        self._r = resource

    async def _fetch(self, query: Query) -> Page[Mapping[str, Any]]:
        body = await self._r._call("GET", "/v2/cdr", params=query)
        return page_from(body, query, dict)

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
            duration: calls of this duration, in seconds.
            extension: calls from or to this extension.
            phone: calls from or to this number.
            direction: ``inbound``, ``outbound`` or ``local`` (a ``CallDirection``).
            page_size: records per request (``limit``), 1 to 10,000.

        Raises:
            ValidationError: a filter is malformed; raised here, before anything is sent.
        """
        query: dict[str, Any] = cdr_filters(
            start_date=start_date,
            end_date=end_date,
            duration=duration,
            extension=extension,
            phone=phone,
            direction=direction,
        )
        query["limit"] = check_count(page_size, "page_size", MAX_PAGE_SIZE)
        return PrefetchPager(self._fetch, _to_cdr, query, follow_scroll)

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
            page: the page number, from 1.
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
        query["page"] = check_count(page, "page", 2**31)
        query["limit"] = check_count(limit, "limit", MAX_PAGE_SIZE)
        return await PrefetchPager(self._fetch, _to_cdr, query, single_page)

    async def get(self, cdr_id_or_sip_call_id: str) -> Cdr:
        """One CDR, by its id or its SIP Call-ID.

        API: GET /v2/cdr/{id}

        Raises:
            NotFoundError: no such CDR.
        """
        path = f"/v2/cdr/{path_id(cdr_id_or_sip_call_id, 'cdr_id_or_sip_call_id')}"
        body = await self._r._call("GET", path)
        return self._r._model(body, Cdr, "GET", path)
