"""The fake's CDR endpoints (``GET /v2/cdr``, ``GET /v2/cdr/{id}``) and their controls.

CDRs are generated from their index on demand (``_cdr_data``), so a million of them cost
no memory. A listing is answered in pagination mode (``page``) or scroll mode, and a
scroll in one of the three styles servers have been seen to use (``cdr_scroll_style``).
"""

from __future__ import annotations

import re
import secrets
from datetime import date, datetime
from typing import Any, Literal

from aiohttp import web

from ._base import FAKE, FakeBase, int_param, json_response
from ._cdr_data import (
    DEFAULT_TIMELINE,
    CdrMappingName,
    CdrTimeline,
    cdr_facts,
    cdr_matches,
    cdr_record,
    date_window,
)

__all__ = ["CdrFake", "CdrMappingName", "ScrollStyle", "routes"]

routes = web.RouteTableDef()

ScrollStyle = Literal["offset", "echo", "scroll_id"]

_DATE_FILTERS = ("start_date", "end_date")
_OTHER_FILTERS = ("duration", "extension", "phone", "direction")
_CDR_FILTERS = _DATE_FILTERS + _OTHER_FILTERS


class CdrFake(FakeBase):
    """FakeTel4vn's CDR controls: ``seed_cdrs(n, mapping=..., start=..., end=...)``,
    ``cdr_scroll_style``."""

    def seed_cdrs(
        self,
        n: int,
        mapping: CdrMappingName = "default",
        *,
        start: date | datetime | None = None,
        end: date | datetime | None = None,
    ) -> None:
        """Serve ``n`` CDRs (replacing any seeded before), generated on demand from their
        index: a million cost no memory.

        The calls are spread evenly from ``start`` to ``end``, oldest first; a ``date``
        end counts its whole day. Without a range they start at 2024-01-01 08:00, 37 s
        apart. Statuses, directions, extensions (101 to 103) and durations cycle through
        every value, so any filter finds some. Times are zone-less, as the API's are.

        Example::

            today = date.today()
            fake.seed_cdrs(500, start=today - timedelta(days=6), end=today)  # a week
            async for cdr in cc.cdrs.list(start_date=today):  # about 70 of them
                ...

        Args:
            n: how many CDRs (0 or more).
            mapping: the field names served: ``"default"`` (``time_started``, ...) or
                ``"flex"`` (``cdrId``, ``dialAt``, ...), two shapes the API has used.
            start: the first call's start (a date means its midnight).
            end: when the last call has started by (exclusive; a date means the end of
                that day).

        Raises:
            ValueError: ``n`` is negative, or ``end`` is not after ``start``.
        """
        if n < 0:
            raise ValueError(f"n must be 0 or more, got {n}")
        timeline = CdrTimeline.spanning(n, start, end)
        self.state["cc_cdrs"] = {
            "count": n,
            "mapping": mapping,
            "timeline": timeline,
            "scrolls": {},
        }

    @property
    def cdr_timeline(self) -> CdrTimeline:
        """When the seeded calls start: ``cdr_timeline.started(i)`` is CDR ``i``'s time."""
        timeline: CdrTimeline = self._cdr_state.get("timeline", DEFAULT_TIMELINE)
        return timeline

    @property
    def cdr_scroll_style(self) -> ScrollStyle:
        """How a scroll request is answered: ``offset`` (the response's ``offset`` is the
        next cursor), ``echo`` (it repeats the request's offset, ``-1`` when none was sent)
        or ``scroll_id`` (only ``data`` and an opaque ``scroll_id``, no total)."""
        style: ScrollStyle = self.state.get("cc_scroll_style", "offset")
        return style

    @cdr_scroll_style.setter
    def cdr_scroll_style(self, style: ScrollStyle) -> None:
        if style not in ("offset", "echo", "scroll_id"):
            raise ValueError(f"unknown scroll style {style!r}")
        self.state["cc_scroll_style"] = style

    @property
    def _cdr_state(self) -> dict[str, Any]:
        # 35 CDRs until a test seeds its own: enough for a listing of a few pages.
        cdrs: dict[str, Any] = self.state.setdefault(
            "cc_cdrs", {"count": 35, "mapping": "default", "scrolls": {}}
        )
        return cdrs

    def cdr_batch(self, query: Any, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        """The CDRs ``offset..offset+limit`` of those matching ``query``, and their total."""
        cdrs = self._cdr_state
        count, mapping, timeline = cdrs["count"], cdrs["mapping"], self.cdr_timeline
        if not any(k in query for k in _CDR_FILTERS):
            stop = min(count, offset + limit)
            return [cdr_record(i, mapping, timeline) for i in range(offset, stop)], count
        window = date_window(count, timeline, query)
        if not any(k in query for k in _OTHER_FILTERS):  # dates only: no scan needed
            page = window[offset : offset + limit]
            return [cdr_record(i, mapping, timeline) for i in page], len(window)
        # Other filters scan the date window: fine for the few thousand a test seeds.
        hits = [i for i in window if cdr_matches(cdr_facts(i, timeline), query)]
        return [cdr_record(i, mapping, timeline) for i in hits[offset : offset + limit]], len(hits)

    def find_cdr(self, key: str) -> dict[str, Any] | None:
        """The CDR whose id or SIP Call-ID is ``key``."""
        match = re.match(r"^([0-9a-f]{8})-(?:cdr0-|49de-)", key.strip())
        cdrs = self._cdr_state
        if match is None or int(match.group(1), 16) >= cdrs["count"]:
            return None
        i = int(match.group(1), 16)
        facts = cdr_facts(i, self.cdr_timeline)
        if key.strip() not in (facts["id"], facts["sip_call_id"]):
            return None
        return cdr_record(i, cdrs["mapping"], self.cdr_timeline)

    def open_scroll(self, position: int) -> str:
        """A new opaque ``scroll_id`` whose next batch starts at CDR ``position``."""
        scroll_id = f"sc{secrets.token_hex(6)}"
        self._cdr_state["scrolls"][scroll_id] = position
        return scroll_id

    def scroll_position(self, scroll_id: str) -> int | None:
        """Where the scroll ``scroll_id`` resumes, or None for an id never handed out."""
        position: int | None = self._cdr_state["scrolls"].get(scroll_id)
        return position


@routes.get("/v2/cdr")
async def list_cdrs(request: web.Request) -> web.Response:
    fake = request.app[FAKE]
    query = request.query
    limit = max(1, int_param(query.get("limit"), 10))
    if "page" in query:  # pagination mode
        page = max(1, int_param(query.get("page"), 1))
        offset = (page - 1) * limit
        batch, total = fake.cdr_batch(query, offset, limit)
        return json_response({"data": batch, "limit": limit, "page": page, "total": total})
    style = fake.cdr_scroll_style
    if style == "scroll_id" and "scroll_id" in query:
        position = fake.scroll_position(query["scroll_id"])
        if position is None:
            return json_response(
                {"code": 400, "content": "scroll_id is invalid", "error": "Bad Request"}, 400
            )
        offset = position
    else:
        offset = max(0, int_param(query.get("offset"), 0))
    batch, total = fake.cdr_batch(query, offset, limit)
    if style == "scroll_id":
        scroll_id = fake.open_scroll(offset + len(batch))
        return json_response({"data": batch, "scroll_id": scroll_id})
    if style == "echo":
        echoed = int_param(query.get("offset"), -1)
        return json_response({"data": batch, "limit": limit, "offset": echoed, "total": total})
    return json_response(
        {"data": batch, "limit": limit, "offset": offset + len(batch), "total": total}
    )


@routes.get("/v2/cdr/{cdr_id}")
async def get_cdr(request: web.Request) -> web.Response:
    record = request.app[FAKE].find_cdr(request.match_info["cdr_id"])
    if record is None:
        return json_response({"code": 404, "content": "cdr not found", "error": "Not Found"}, 404)
    return json_response(record)
