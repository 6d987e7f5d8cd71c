"""``pbx.reports``: the autocall call reports (``/v1/report``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._convert import structure
from .._resource import APIResource, unwrap
from .._sansio import Request
from .._validate import check_id, check_int, check_phone, path_segment
from ..errors import NotFoundError
from ..models.autocall import Report
from ..pagination import AsyncPager, Page, follow_offset

__all__ = ["Reports"]

_MAX_PAGE = 1000


def _to_report(record: Mapping[str, Any]) -> Report:
    return structure(record, Report)


class Reports(APIResource):
    """Reports of the calls placed: one per call, with its times, key press and params."""

    def list(
        self,
        caller: str | None = None,
        callee: str | None = None,
        page_size: int = 100,
        *,
        offset: int = 0,
    ) -> AsyncPager[Report]:
        """Every call report, optionally of one caller and/or callee, page by page.

        API: GET /v1/report

        ``async for report in pbx.reports.list(callee="0987654321"): ...``; ``await`` it
        for the first page only. The listing has no total: it ends on a short or empty
        page, without asking for one more.

        Args:
            caller: only calls from this number (3 to 15 digits, an optional ``+``).
            callee: only calls to this number, likewise.
            page_size: records per request (``limit``), 1 to 1000.
            offset: skip this many reports first (to resume a listing), 0 or more.

        Raises:
            ValidationError: a bad argument, before anything is sent.
        """
        query: dict[str, object] = {
            "limit": check_int(page_size, "page_size", low=1, high=_MAX_PAGE),
            "offset": check_int(offset, "offset"),
        }
        if caller is not None:
            query["caller"] = check_phone(caller, "caller")
        if callee is not None:
            query["callee"] = check_phone(callee, "callee")
        return AsyncPager(
            self._fetch, query, follow_offset(short_page_ends=True), path="/v1/report"
        )

    async def _fetch(self, query: Mapping[str, object]) -> Page[Report]:
        return await self._get_page("/v1/report", query, _to_report)

    async def get(self, call_id: str) -> Report:
        """The report of one call.

        API: GET /v1/report/{call_id}

        Args:
            call_id: the call's id (up to 255 characters; not only dots), quoted into
                one path segment.

        Raises:
            ValidationError: a bad ``call_id``, before anything is sent.
            NotFoundError: no call has this id.
        """
        call = check_id(call_id, "call_id")
        request = Request("GET", f"/v1/report/{path_segment(call, 'call_id')}")
        record = unwrap(await self._request(request), request)
        if not record or "data" in record:  # {"data": {}}, {"data": null}, {"data": []}
            raise NotFoundError(
                f"no report for call {call!r}",
                status=200,
                method="GET",
                path=request.path,
            )
        return structure(record, Report)
