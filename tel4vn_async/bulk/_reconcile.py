"""Settling UNKNOWN jobs from the call reports: was the call placed after all?

A job is UNKNOWN when its request may have reached the server but no answer came back.
The PBX writes a report for every call it places (``GET /v1/report?callee=``): a report
to the job's callee, from its caller, with its template (and OTP code, or TTS keys),
created within the run's time window, means the call was placed. No such report leaves
the job UNKNOWN, with the reason: reports are never guessed from.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

import attrs

from ..errors import Tel4vnError
from ..models.autocall import Report
from ._jobs import Prepared
from ._results import JobResult, JobStatus

if TYPE_CHECKING:
    from ..autocall._client import AutocallClient

__all__ = ["SLACK", "Pending", "matches", "reconcile"]

SLACK = 120.0
"""Seconds added to each side of a job's window: the PBX's clock may differ from ours."""
# A report time without a zone is the PBX's local time, as the Call Center's CDR times are.
_PBX_ZONE = timezone(timedelta(hours=7))


@attrs.frozen
class Pending:
    """An UNKNOWN job held back until the calls are done, to be reconciled."""

    result: JobResult
    prepared: Prepared
    since: float
    """Unix time its request was first sent (in this run, or the journaled one)."""


def report_time(report: Report) -> float | None:
    """The Unix time a report says its call was created (or started), if it says."""
    moment = report.create_time or report.start_time
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_PBX_ZONE)
    return moment.timestamp()


def matches(report: Report, prepared: Prepared, start: float, end: float) -> bool:
    """Whether ``report`` is of the call ``prepared`` would have placed in [start, end]."""
    if (report.callee or "").strip() != prepared.callee:
        return False
    if (report.caller or "").strip() != prepared.caller:
        return False
    sent = prepared.param
    got = report.param
    if str(got.get("template_name", "")).strip() != sent["template_name"]:
        return False
    # Every other key the report echoes must be the one sent (the OTP code, TTS keys).
    for name, value in sent.items():
        if name in got and str(got[name]) != str(value):
            return False
    moment = report_time(report)
    return moment is not None and start <= moment <= end


def _window(since: float, now: float) -> str:
    def fmt(t: float) -> str:
        return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")

    return f"between {fmt(since - SLACK)} and {fmt(now + SLACK)} UTC"


async def reconcile(
    pbx: AutocallClient, pending: Sequence[Pending], *, concurrency: int
) -> list[JobResult]:
    """Each pending job's result: OK with the call id its report names, or still
    UNKNOWN with the reason.

    The reports of ``concurrency`` callees are read at once. One report settles one job
    at most. A failure to read a callee's reports leaves its jobs UNKNOWN, with that
    failure as the reason.
    """
    now = time.time()
    by_callee: dict[str, list[Pending]] = {}
    for item in pending:
        by_callee.setdefault(item.prepared.callee, []).append(item)
    todo = iter(by_callee.items())
    results: list[JobResult] = []

    async def worker() -> None:
        for callee, items in todo:  # one shared iterator: each callee read once
            try:
                reports = [r async for r in pbx.reports.list(callee=callee, page_size=1000)]
            except Tel4vnError as error:
                reason = f"could not read the call reports: {type(error).__name__}: {error}"
                results.extend(attrs.evolve(i.result, reason=reason) for i in items)
                continue
            results.extend(_settle(items, reports, now))

    await asyncio.gather(*(worker() for _ in range(min(concurrency, len(by_callee)))))
    return results


def _settle(items: Iterable[Pending], reports: list[Report], now: float) -> list[JobResult]:
    used: set[str] = set()
    out = []
    for item in items:
        found = next(
            (
                r
                for r in reports
                if r.call_id not in used
                and matches(r, item.prepared, item.since - SLACK, now + SLACK)
            ),
            None,
        )
        if found is None:
            reason = (
                f"no report of a call to {item.prepared.callee} from {item.prepared.caller} "
                f"with template {item.prepared.param['template_name']!r} "
                f"{_window(item.since, now)}: it may not have been placed, or its report "
                "is not written yet (reconcile again later)"
            )
            out.append(attrs.evolve(item.result, reason=reason))
            continue
        used.add(found.call_id)
        out.append(
            attrs.evolve(
                item.result,
                status=JobStatus.OK,
                call_id=found.call_id,
                error=None,
                reason="reconciled: the call report shows it was placed",
            )
        )
    return out
