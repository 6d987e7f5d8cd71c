"""``pbx.reports``: the autocall call reports (``/v1/report``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import quote

from .._convert import structure
from .._sansio import Request
from .._validate import check_count, check_phone, require
from ..errors import NotFoundError, ValidationError
from ..models.autocall import Report
from ..pagination import AsyncPager, Page, follow_offset, page_from

if TYPE_CHECKING:
    from .._client import BaseClient

__all__ = ["Reports"]

_MAX_PAGE = 1000


class Reports:
    """Reports of the calls placed: one per call, with its times, key press and params."""

    def __init__(self, client: BaseClient) -> None:
        self._client = client

    def list(
        self, caller: str | None = None, callee: str | None = None, page_size: int = 100
    ) -> AsyncPager[Report]:
        """Every call report, optionally of one caller and/or callee, page by page.

        API: GET /v1/report

        ``async for report in pbx.reports.list(callee="0987654321"): ...``; ``await`` it
        for the first page only. The listing has no total: it ends on a short or empty
        page, without asking for one more.

        Args:
            caller: only calls from this number.
            callee: only calls to this number.
            page_size: records per request (``limit``), 1 to 1000.

        Raises:
            ValidationError: a bad argument, before anything is sent.
        """
        query: dict[str, object] = {
            "limit": check_count(page_size, "page_size", _MAX_PAGE),
            "offset": 0,
        }
        if caller is not None:
            query["caller"] = check_phone(caller, "caller")
        if callee is not None:
            query["callee"] = check_phone(callee, "callee")
        return AsyncPager(self._fetch, query, follow_offset(short_page_ends=True))

    async def _fetch(self, query: Mapping[str, object]) -> Page[Report]:
        body = await self._client.request("GET", "/v1/report", params=query)
        return page_from(body, query, lambda r: structure(r, Report))

    async def get(self, call_id: str) -> Report:
        """The report of one call.

        API: GET /v1/report/{call_id}

        Raises:
            ValidationError: an empty ``call_id``, before anything is sent.
            NotFoundError: no call has this id.
        """
        if not isinstance(call_id, str):
            raise ValidationError(f"call_id must be a string, got {call_id!r}", field="call_id")
        require(call_id, "call_id")
        path = f"/v1/report/{quote(call_id.strip(), safe='')}"
        body = await self._client._send(Request("GET", path))
        data = body.get("data") if isinstance(body, Mapping) else None
        if isinstance(data, list) and len(data) == 1:  # some servers wrap it in a list
            data = data[0]
        if not isinstance(data, Mapping) or not data:
            raise NotFoundError(
                f"no report for call {call_id.strip()!r}", status=200, method="GET", path=path
            )
        return structure(data, Report)
