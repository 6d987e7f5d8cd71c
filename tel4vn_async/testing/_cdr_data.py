"""The fake's CDRs: each generated from its index, so a million cost no memory."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

__all__ = ["CDR_BASE_TIME", "CdrMappingName", "cdr_facts", "cdr_matches", "cdr_record", "fmt_time"]

CdrMappingName = Literal["default", "flex"]

CDR_BASE_TIME = datetime(2024, 1, 1, 8, 0, 0)
_STATUSES = ("answered", "busy", "no-answered", "cancel", "not-available", "invalid")
_DIRECTIONS = ("outbound", "inbound", "local")


def fmt_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def cdr_facts(i: int) -> dict[str, Any]:
    """The logical facts of CDR number ``i`` (what filters compare), in neither mapping."""
    status = _STATUSES[i % len(_STATUSES)]
    duration = 5 + i % 120
    started = CDR_BASE_TIME + timedelta(seconds=37 * i)
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


def cdr_record(i: int, mapping: CdrMappingName = "default") -> dict[str, Any]:
    """CDR number ``i`` as the API sends it in ``mapping``, quirks included."""
    f = cdr_facts(i)
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


def cdr_matches(f: dict[str, Any], query: Any) -> bool:
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
