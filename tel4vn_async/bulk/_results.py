"""What a bulk run reports: one ``JobResult`` per job, and the ``BulkSummary`` of the run."""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Mapping
from typing import Any

import attrs

from ..errors import OutcomeUnknownError, Tel4vnError

__all__ = ["BulkSummary", "JobResult", "JobStatus", "Tally", "dialled", "error_text"]


class JobStatus(enum.Enum):
    """How a job ended."""

    OK = "ok"
    """The call was placed: ``call_id`` says which."""
    FAILED = "failed"
    """The call was not placed: bad input, or the server refused it (``error`` says why)."""
    UNKNOWN = "unknown"
    """The request may have reached the server and its answer was lost: the phone may
    have rung. Never dialled again unless ``redial_unknown=True``."""
    SKIPPED = "skipped"
    """Not dialled: done in an earlier run of the journal, or its key came up earlier in
    this run (``reason`` says which)."""


@attrs.frozen
class JobResult:
    """The result of one job of a bulk run.

    Attributes:
        job: the job as the source gave it (even when it was not a job at all).
        index: its position in the source, from 0 (a CSV's line is ``index + 2`` with a
            header row).
        key: the job's key; None when the job failed its checks before it had one.
        status: how it ended.
        call_id: the call's id: when OK, and when SKIPPED after an OK in an earlier run.
        error: why it FAILED or is UNKNOWN: a typed ``Tel4vnError``.
        attempts: requests sent for it (0 when nothing was sent).
        reason: a short note on a SKIPPED or UNKNOWN result, and on one settled by
            reconciling.
    """

    job: Any
    index: int
    key: str | None
    status: JobStatus
    call_id: str | None = None
    error: Tel4vnError | None = None
    attempts: int = 0
    reason: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the call was placed in this run (``status is JobStatus.OK``)."""
        return self.status is JobStatus.OK


def dialled(
    result: JobResult,
    *,
    attempts: int,
    call_id: str | None = None,
    error: Tel4vnError | None = None,
) -> JobResult:
    """A dialled job's result: OK with its call id when no ``error``; UNKNOWN for an
    ``OutcomeUnknownError`` (the call may have been placed); FAILED for any other error.

    The one rule both runners (one process, or workers sharing Redis) classify by.
    """
    if error is None:
        return attrs.evolve(result, call_id=call_id, attempts=attempts)
    status = JobStatus.UNKNOWN if isinstance(error, OutcomeUnknownError) else JobStatus.FAILED
    return attrs.evolve(result, status=status, error=error, attempts=attempts)


def error_text(error: Tel4vnError) -> str:
    """``"ErrorClass: message"``: how a journal or a ledger writes an error down."""
    return f"{type(error).__name__}: {error}"


@attrs.frozen
class BulkSummary:
    """The counts of a finished (or stopped) bulk run.

    Attributes:
        ok, failed, unknown, skipped: results per status.
        total: results in all (one per job pulled from the source).
        elapsed: seconds the run took.
        errors: results per error class name (``{"BadRequestError": 3, ...}``).
        reconciled: UNKNOWN jobs settled as OK from the call reports.
        throttled: 429 and 503 answers met (each slowed the run; retried when allowed).
        notes: why jobs remain UNKNOWN, and anything else worth reading.
    """

    ok: int
    failed: int
    unknown: int
    skipped: int
    total: int
    elapsed: float
    errors: Mapping[str, int] = attrs.field(factory=dict)
    reconciled: int = 0
    throttled: int = 0
    notes: tuple[str, ...] = ()

    def __str__(self) -> str:
        text = (
            f"{self.total} jobs in {self.elapsed:.1f}s: {self.ok} ok, {self.failed} failed, "
            f"{self.unknown} unknown, {self.skipped} skipped"
        )
        if self.errors:
            text += " (" + ", ".join(f"{n} {name}" for name, n in self.errors.items()) + ")"
        return text


@attrs.define
class Tally:
    """The running counts the runner, its progress bar and its summary share."""

    counts: Counter[JobStatus] = attrs.field(factory=Counter)
    errors: Counter[str] = attrs.field(factory=Counter)
    reconciled: int = 0

    def add(self, result: JobResult) -> None:
        self.counts[result.status] += 1
        if result.error is not None and result.status is not JobStatus.SKIPPED:
            self.errors[type(result.error).__name__] += 1

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def summary(
        self, elapsed: float, notes: tuple[str, ...] = (), *, throttled: int = 0
    ) -> BulkSummary:
        c = self.counts
        return BulkSummary(
            ok=c[JobStatus.OK],
            failed=c[JobStatus.FAILED],
            unknown=c[JobStatus.UNKNOWN],
            skipped=c[JobStatus.SKIPPED],
            total=self.total,
            elapsed=elapsed,
            errors=dict(self.errors.most_common()),
            reconciled=self.reconciled,
            throttled=throttled,
            notes=notes,
        )
