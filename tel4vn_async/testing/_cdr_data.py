"""The fake's CDRs: each generated from its index, so a million cost no memory.

When a call started comes from a ``CdrTimeline`` (a start and a step), so CDR ``i`` of
any timeline is computed alone, and the calls stay in time order: a date filter finds
its first and last match by bisection instead of scanning every record.
"""

from __future__ import annotations

import bisect
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

import attrs

__all__ = [
    "CDR_BASE_TIME",
    "DEFAULT_TIMELINE",
    "CdrMappingName",
    "CdrTimeline",
    "cdr_facts",
    "cdr_matches",
    "cdr_record",
    "date_window",
    "fmt_time",
]

CdrMappingName = Literal["default", "flex"]

CDR_BASE_TIME = datetime(2024, 1, 1, 8, 0, 0)
_DEFAULT_STEP = 37.0  # seconds between calls when no range is given


@attrs.frozen
class CdrTimeline:
    """When each seeded call started: CDR ``i`` at ``start + floor(i * step)`` seconds.

    Times are zone-less wall-clock times, as the API sends them.
    """

    start: datetime = CDR_BASE_TIME
    step: float = _DEFAULT_STEP

    def started(self, i: int) -> datetime:
        """When CDR ``i`` started (whole seconds, never before CDR ``i - 1``)."""
        return self.start + timedelta(seconds=int(i * self.step))

    @classmethod
    def spanning(
        cls, n: int, start: date | datetime | None, end: date | datetime | None
    ) -> CdrTimeline:
        """``n`` calls spread evenly from ``start`` (inclusive) to ``end`` (exclusive).

        A ``date`` start means its midnight and a ``date`` end the end of that day, so
        ``start=end=date.today()`` puts every call within today. An aware datetime is
        taken in this machine's local time. With only one bound, calls are 37 s apart
        from it (after ``start``, or up to ``end``); with neither, from 2024-01-01 08:00.

        Raises:
            ValueError: ``end`` is not after ``start``.
        """
        first = None if start is None else _wall(start, end_of_day=False)
        last = None if end is None else _wall(end, end_of_day=True)
        if first is not None and last is not None:
            if last <= first:
                raise ValueError(f"end ({last}) must be after start ({first})")
            return cls(first, (last - first).total_seconds() / max(n, 1))
        if last is not None:
            return cls(last - timedelta(seconds=_DEFAULT_STEP * max(n, 1)))
        return cls(first or CDR_BASE_TIME)


DEFAULT_TIMELINE = CdrTimeline()


def _wall(moment: date | datetime, *, end_of_day: bool) -> datetime:
    if isinstance(moment, datetime):
        # The API's times are zone-less local wall clock: an aware time is converted.
        return moment.astimezone().replace(tzinfo=None) if moment.tzinfo else moment
    if not isinstance(moment, date):
        raise TypeError(f"expected a date or datetime, got {type(moment).__name__}")
    return datetime.combine(moment + timedelta(days=1) if end_of_day else moment, time())


_STATUSES = ("answered", "busy", "no-answered", "cancel", "not-available", "invalid")
_DIRECTIONS = ("outbound", "inbound", "local")


def fmt_time(moment: datetime) -> str:
    """A time as the API writes it: ``YYYY-MM-DD HH:MM:SS``, zone-less."""
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def cdr_facts(i: int, timeline: CdrTimeline = DEFAULT_TIMELINE) -> dict[str, Any]:
    """The logical facts of CDR number ``i`` (what filters compare), in neither mapping."""
    status = _STATUSES[i % len(_STATUSES)]
    duration = 5 + i % 120
    started = timeline.started(i)
    return {
        "id": f"{i:08x}-cdr0-4000-8000-{i:012x}",
        "sip_call_id": f"{i:08x}-49de-123a-89ab-fa163e3b9b38",
        "status": status,
        "direction": _DIRECTIONS[i % len(_DIRECTIONS)],
        "duration": duration,
        "billsec": duration - 4 if status == "answered" else 0,
        "extension": str(101 + i % 3),
        "phone": f"089{9000000 + i % 1000000:07d}",
        "customer_id": f"KH{i % 500}",
        "started": started,
        "ringing": started + timedelta(seconds=2),
        "answered": started + timedelta(seconds=4) if status == "answered" else None,
        "ended": started + timedelta(seconds=duration),
    }


def cdr_record(
    i: int, mapping: CdrMappingName = "default", timeline: CdrTimeline = DEFAULT_TIMELINE
) -> dict[str, Any]:
    """CDR number ``i`` as the API sends it in ``mapping``, quirks included."""
    f = cdr_facts(i, timeline)
    answered = fmt_time(f["answered"]) if f["answered"] else ""
    recording = f"http://recording.demo/{f['id']}" if f["answered"] else ""
    inbound = f["direction"] == "inbound"
    if mapping == "flex":
        return {
            "cdrId": f["id"],
            "sip_call_id": f["sip_call_id"],
            "recordFile": recording,
            "extensionId": f["extension"],
            "to": f["extension"] if inbound else f["phone"],
            "hangupAt": fmt_time(f["ended"]),
            "answeredAt": answered,
            "ringAt": fmt_time(f["ringing"]),
            "dialAt": fmt_time(f["started"]),
            "status": f["status"],
            "duration": f["duration"],
            "direction": f["direction"],
            "billsec": f["billsec"],
            "customerId": f["customer_id"],
        }
    return {
        "id": f["id"] + (" " if i % 7 == 3 else ""),  # the spec's sample id with a space
        "sip_call_id": f["sip_call_id"],
        "cause": "NORMAL_CLEARING" if f["status"] == "answered" else "USER_BUSY",
        "duration": str(f["duration"]) if i % 5 == 1 else f["duration"],
        "direction": 3 if i % 11 == 10 else f["direction"],  # the reference sample's integer
        "recording_url": recording,
        "extension": f["extension"],
        "from_number": f["phone"] if inbound else "19001919",
        "to_number": f["extension"] if inbound else f["phone"],
        "receive_dest": "",
        "time_started": fmt_time(f["started"]),
        "time_answered": answered,
        "time_ended": fmt_time(f["ended"]),
        "status": f["status"].upper(),
        "customer_id": f["customer_id"],
    }


def date_window(count: int, timeline: CdrTimeline, query: Any) -> range:
    """The indexes of the CDRs within the query's ``start_date``/``end_date``.

    Start times never decrease with the index, so both ends are found by bisection:
    a date filter over a million CDRs reads about forty of them, not a million.
    """

    def started(i: int) -> str:
        return fmt_time(timeline.started(i))

    start, end = query.get("start_date"), query.get("end_date")
    lo = bisect.bisect_left(range(count), start, key=started) if start else 0
    # cdr_matches compares ``end`` with as many leading characters (a date: the day).
    hi = (
        bisect.bisect_right(range(count), end, key=lambda i: started(i)[: len(end)])
        if end
        else count
    )
    return range(lo, max(lo, hi))


def cdr_matches(f: dict[str, Any], query: Any) -> bool:
    """Whether CDR facts ``f`` pass the query's filters, compared as the fake's API does."""
    started = fmt_time(f["started"])
    start, end = query.get("start_date"), query.get("end_date")
    if start and started < start:
        return False
    if end and started[: len(end)] > end:
        return False
    if "duration" in query and str(f["duration"]) != query["duration"]:
        return False
    if "extension" in query and f["extension"] != query["extension"]:
        return False
    if "phone" in query and query["phone"] not in (f["phone"], "19001919"):
        return False
    return not ("direction" in query and f["direction"] != query["direction"])
