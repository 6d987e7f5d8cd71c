"""Bulk OTP and text-to-speech calls that never ring a person twice (API.md section 7).

``async for result in pbx.fan_out(jobs, concurrency=50, rate=20, journal="run.jsonl")``
dials each job once, within a rate, journaled so that a crashed run can be resumed:

- ``_jobs``: ``OtpJob``/``TtsJob`` and ``prepare`` (checks, the request, the key);
- ``_source``: the jobs pulled lazily by the workers, the journal's fingerprint;
- ``_ledger``: each key's state (seen in this run, or journaled), on disk;
- ``_journal``, ``_journal_format``: the append-only JSON-lines journal (``started``
  before, ``finished`` after);
- ``_throttle``: the run's one adaptive rate;
- ``_pacing``: the client bound to it (every attempt heard, every retry paced);
- ``_reconcile``: settling UNKNOWN jobs from the call reports;
- ``_progress``: the progress bar or log lines;
- ``_runner``: ``BulkRunner``, which drives them.
"""

from ._jobs import OtpJob, TtsJob
from ._results import BulkSummary, JobResult, JobStatus
from ._runner import BulkRunner, OnResult

__all__ = ["BulkRunner", "BulkSummary", "JobResult", "JobStatus", "OnResult", "OtpJob", "TtsJob"]
