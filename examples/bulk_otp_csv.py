"""Send one OTP call per row of a CSV file, safely: a journal, a progress bar, a result file.

    .venv/bin/python examples/bulk_otp_csv.py [jobs.csv] [--journal run.jsonl]

The CSV has a header row and the columns ``callee,code`` (and optionally ``key``). Without
a file, a sample of 200 rows is written to a temporary folder. Runs against the embedded
fake server unless TEL4VN_AUTOCALL_URL/TEL4VN_BASE_URL and an api_key are set (then also
set TEL4VN_CAMPAIGN_ID, TEL4VN_CALLER and TEL4VN_TEMPLATE).

Run it again with the same ``--journal`` after a crash or a Ctrl-C: the calls already
placed are skipped, those whose outcome was lost are reported UNKNOWN (and looked up in
the call reports), never dialled twice. The results go to ``<journal>.results.csv``;
the exit code is 3 when a job failed or is unknown.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tel4vn_async import AutocallClient, JobResult, OtpJob
from tel4vn_async.testing import FakeTel4vn


def read_jobs(path: Path, *, campaign: str, caller: str, template: str) -> Iterator[OtpJob]:
    """One job per row, read lazily: a file of a million rows never sits in memory."""
    with path.open(newline="", encoding="utf-8") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            yield OtpJob(
                callee=(row.get("callee") or "").strip(),
                code=(row.get("code") or "").strip(),
                template=template,
                caller=caller,
                campaign_id=campaign,
                key=(row.get("key") or "").strip() or None,
                data=line,  # carried to the result: which line of the file it was
            )


def sample_csv(folder: Path, rows: int = 200) -> Path:
    path = folder / "jobs.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["callee", "code"])
        for i in range(rows):
            writer.writerow([f"09{i:08d}", f"{(i * 7919) % 1_000_000:06d}"])
        writer.writerow(["not-a-phone", "123456"])  # a bad row: it fails alone
    return path


async def run(csv_path: Path, journal: Path) -> int:
    async with contextlib.AsyncExitStack() as stack:
        base_url = os.environ.get("TEL4VN_AUTOCALL_URL") or os.environ.get("TEL4VN_BASE_URL")
        api_key = os.environ.get("TEL4VN_AUTOCALL_API_KEY") or os.environ.get("TEL4VN_API_KEY")
        if not (base_url and api_key):
            fake = await stack.enter_async_context(FakeTel4vn())
            base_url, api_key = fake.url, fake.api_key
        pbx = await stack.enter_async_context(AutocallClient(base_url, api_key=api_key))
        jobs = read_jobs(
            csv_path,
            campaign=os.environ.get("TEL4VN_CAMPAIGN_ID", "1"),
            caller=os.environ.get("TEL4VN_CALLER", "0281234567"),
            template=os.environ.get("TEL4VN_TEMPLATE", "otp_demo"),
        )
        results_path = journal.with_suffix(".results.csv")
        with results_path.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(["line", "callee", "status", "call_id", "error", "reason"])

            def write(result: JobResult) -> None:
                error = f"{type(result.error).__name__}: {result.error}" if result.error else ""
                callee = getattr(result.job, "callee", "")
                status = result.status.value
                writer.writerow(
                    [result.job.data, callee, status, result.call_id, error, result.reason]
                )

            runner = pbx.fan_out(
                jobs,
                concurrency=50,
                rate=200,
                journal=journal,
                progress=True,
                reconcile=True,
                on_result=write,
            )
            summary = await runner.run()
        print(summary)
        for note in summary.notes:
            print("note:", note)
        print(f"results: {results_path}")
        return 3 if summary.failed or summary.unknown else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", nargs="?", type=Path, help="the jobs (callee,code[,key])")
    parser.add_argument("--journal", type=Path, help="the run's journal (JSON lines)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = args.csv or sample_csv(Path(tmp))
        journal = args.journal or Path(tmp) / "run.jsonl"
        code = asyncio.run(run(csv_path, journal))
    # The sample has one bad row on purpose: that is the expected outcome, not a failure.
    return 0 if args.csv is None and code == 3 else code


if __name__ == "__main__":
    sys.exit(main())
