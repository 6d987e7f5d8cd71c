"""``bulk otp FILE.csv`` and ``bulk tts FILE.csv``: a fan-out from a CSV, with a results CSV.

The CSV is read twice, lazily both times: once to count its rows (the progress bar's
total) and to check its header before anything is sent, then row by row as the run pulls
jobs, so a file of a million rows never sits in memory. Each job carries its row's line
number (``data=``), which its result line and the results CSV name. A row the CSV itself
makes unusable (more cells than the header) never becomes a job: it is written to the
results as failed, with its line, and counted.
"""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

import attrs
import click

from ..autocall.calls import otp_body, tts_body
from ..bulk import BulkSummary, JobResult, JobStatus, OtpJob, TtsJob
from ._common import EXIT_BULK, CliError, Settings, on_terminal

__all__ = ["bulk"]

RESULT_COLUMNS = ["line", "key", "callee", "status", "call_id", "error", "reason", "attempts"]
_SHOWN_FAILURES = 20  # failure lines printed to stderr; the results CSV has them all
_RESERVED = {"callee", "key"}
_SAMPLE_PHONE = "0900000000"  # a valid callee, to check the run's common options alone


@attrs.frozen
class RowError:
    """A CSV row that is no job: its line and what is wrong."""

    line: int
    message: str


@attrs.define
class CsvJobs:
    """The jobs of a CSV file: sized (the bar's total), iterated lazily, once per run.

    Args:
        path: the CSV (UTF-8, a BOM allowed; a header row).
        make: a job from a row's cells (header names lower-cased) and its line number.
        on_bad_row: told of each row that cannot be a job (it yields nothing for it).
    """

    path: Path
    make: Callable[[dict[str, str], int], OtpJob | TtsJob]
    on_bad_row: Callable[[RowError], None]
    rows: int = 0

    def __len__(self) -> int:
        return self.rows

    def __iter__(self) -> Iterator[OtpJob | TtsJob]:
        with self.path.open(newline="", encoding="utf-8-sig") as stream:
            reader = csv.reader(stream)
            header = [name.strip().lower() for name in next(reader, [])]
            line = reader.line_num + 1
            for cells in reader:
                first, line = line, reader.line_num + 1  # a row may span lines: its first
                if not any(c.strip() for c in cells):
                    continue  # a blank line is no row
                if len(cells) > len(header):
                    self.on_bad_row(RowError(first, f"{len(cells)} cells, the header has "
                                                    f"{len(header)}"))  # fmt: skip
                    continue
                row = {name: cell.strip() for name, cell in zip(header, cells, strict=False)}
                yield self.make(row, first)


def read_header(path: Path, required: tuple[str, ...]) -> tuple[list[str], int]:
    """The CSV's header (lower-cased) and its count of non-blank rows, checked.

    Raises:
        CliError: the file cannot be read as CSV, or lacks a required column (exit 2).
    """
    try:
        with path.open(newline="", encoding="utf-8-sig") as stream:
            reader = csv.reader(stream)
            header = [name.strip().lower() for name in next(reader, [])]
            rows = sum(1 for cells in reader if any(c.strip() for c in cells))
    except (UnicodeDecodeError, csv.Error) as error:
        raise CliError(f"{path}: not a UTF-8 CSV file ({error})") from error
    missing = [name for name in required if name not in header]
    if missing:
        raise CliError(
            f"{path}: the header row lacks the column(s) {', '.join(missing)} "
            f"(it has: {', '.join(header) or 'nothing'})"
        )
    return header, rows


class Results:
    """The results CSV, written as each result is known, and the failures shown."""

    def __init__(self, stream: TextIO) -> None:
        self._csv = csv.writer(stream, lineterminator="\n")
        self._csv.writerow(RESULT_COLUMNS)
        self._stream = stream
        self.bad_rows = 0
        self.shown = 0

    def _show(self, line: object, text: str) -> None:
        self.shown += 1
        if self.shown <= _SHOWN_FAILURES:
            click.echo(f"line {line}: {text}", err=True)

    def add(self, result: JobResult) -> None:
        error = ""
        if result.error is not None:
            field = getattr(result.error, "field", None)
            prefix = f"{field}: " if field and not str(result.error).startswith(field) else ""
            error = f"{type(result.error).__name__}: {prefix}{result.error}"
        line = getattr(result.job, "data", None)
        callee = getattr(result.job, "callee", "")
        self._csv.writerow([line, result.key or "", callee, result.status.value,
                            result.call_id or "", error, result.reason or "",
                            result.attempts])  # fmt: skip
        if result.status in (JobStatus.FAILED, JobStatus.UNKNOWN):
            self._show(line, f"{result.status.value}: {error or result.reason or ''}")

    def add_bad_row(self, bad: RowError) -> None:
        self.bad_rows += 1
        message = f"ValidationError: row: {bad.message}"
        self._csv.writerow([bad.line, "", "", JobStatus.FAILED.value, "", message, "", 0])
        self._show(bad.line, f"failed: {message}")

    def flush(self) -> None:
        self._stream.flush()


def _summary_line(summary: BulkSummary, results: Results, path: Path) -> str:
    text = str(summary)
    if results.bad_rows:
        text += f"; {results.bad_rows} unreadable row(s) failed"
    return f"{text}; results in {path}"


def _run(
    settings: Settings, jobs: CsvJobs, results_path: Path, *, concurrency: int,
    rate: float | None, journal: Path | None, reconcile: bool, redial_unknown: bool,
) -> int:  # fmt: skip
    pbx = settings.autocall()  # ConfigurationError: exit 2, nothing sent
    sink: list[Results] = []  # the results file, opened once the options are checked
    runner = pbx.fan_out(  # ValidationError for a bad option: exit 2, nothing sent
        jobs, concurrency=concurrency, rate=rate, journal=journal, progress=on_terminal(),
        on_result=lambda result: sink[0].add(result), reconcile=reconcile,
        redial_unknown=redial_unknown,
    )  # fmt: skip

    async def go() -> BulkSummary:
        async with pbx:
            return await runner.run()

    with results_path.open("w", newline="", encoding="utf-8") as stream:
        results = Results(stream)
        sink.append(results)
        jobs.on_bad_row = results.add_bad_row
        summary = asyncio.run(go())
        results.flush()
    if results.shown > _SHOWN_FAILURES:
        click.echo(f"... and {results.shown - _SHOWN_FAILURES} more", err=True)
    for note in summary.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(_summary_line(summary, results, results_path))
    bad = summary.failed or summary.unknown or results.bad_rows
    return EXIT_BULK if bad else 0


def _run_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.argument("csv_file", metavar="FILE.csv",
                       type=click.Path(exists=True, dir_okay=False, path_type=Path)),
        click.option("--template", required=True, help="The template's name."),
        click.option("--caller", required=True, help="The number calling (a hotline)."),
        click.option("--concurrency", type=int, default=20, show_default=True,
                     help="Calls in flight at most."),
        click.option("--rate", type=float, help="Calls started per second at most."),
        click.option("--journal", type=click.Path(dir_okay=False, path_type=Path),
                     help="A JSON-lines journal: run again with it to resume, never "
                     "dialling anyone twice."),
        click.option("--reconcile", is_flag=True,
                     help="Settle unknown outcomes from the call reports at the end."),
        click.option("--redial-unknown", is_flag=True,
                     help="Dial again the jobs the journal shows sent without a result."),
        click.option("--results", "results_path", type=click.Path(dir_okay=False, path_type=Path),
                     help="The results CSV (default: FILE.results.csv, next to FILE.csv)."),
    ]  # fmt: skip
    for option in reversed(options):
        func = option(func)
    return func


def _results_path(csv_file: Path, given: Path | None) -> Path:
    path = given or csv_file.with_suffix(".results.csv")
    if path.resolve() == csv_file.resolve():
        raise CliError("--results must not be the input CSV")
    return path


@click.group()
def bulk() -> None:
    """Bulk OTP or TTS calls from a CSV: each person dialled at most once.

    \b
    Exit codes: 0 every job ok or skipped, 3 some failed or are unknown (the results
    CSV says which, by line), 1 an API or transport error, 2 a usage error.
    """


@bulk.command("otp")
@click.option("--campaign-id", required=True, help="The campaign's id.")
@_run_options
@click.pass_obj
def bulk_otp(
    settings: Settings, campaign_id: str, csv_file: Path, template: str, caller: str,
    concurrency: int, rate: float | None, journal: Path | None, reconcile: bool,
    redial_unknown: bool, results_path: Path | None,
) -> int:  # fmt: skip
    """One OTP call per row of FILE.csv: columns callee, code and optionally key."""
    # The options every job shares, checked once: a bad one is a usage error, not a
    # million failed jobs.
    otp_body(campaign_id=campaign_id, caller=caller, callee=_SAMPLE_PHONE, template=template,
             code="0")  # fmt: skip
    _, rows = read_header(csv_file, ("callee", "code"))

    def make(row: dict[str, str], line: int) -> OtpJob:
        return OtpJob(callee=row.get("callee", ""), code=row.get("code", ""),
                      template=template, caller=caller, campaign_id=campaign_id,
                      key=row.get("key") or None, data=line)  # fmt: skip

    jobs = CsvJobs(csv_file, make, lambda bad: None, rows)
    return _run(settings, jobs, _results_path(csv_file, results_path), concurrency=concurrency,
                rate=rate, journal=journal, reconcile=reconcile,
                redial_unknown=redial_unknown)  # fmt: skip


@bulk.command("tts")
@click.option("--campaign-id", help="The campaign's id (optional for TTS).")
@_run_options
@click.pass_obj
def bulk_tts(
    settings: Settings, campaign_id: str | None, csv_file: Path, template: str, caller: str,
    concurrency: int, rate: float | None, journal: Path | None, reconcile: bool,
    redial_unknown: bool, results_path: Path | None,
) -> int:  # fmt: skip
    """One text-to-speech call per row of FILE.csv: columns callee, optionally key, and
    every other column a template parameter ({{name}} filled from column name)."""
    tts_body(caller=caller, template=template, callee=_SAMPLE_PHONE, campaign_id=campaign_id)
    header, rows = read_header(csv_file, ("callee",))
    del header  # the params are each row's other cells

    def make(row: dict[str, str], line: int) -> TtsJob:
        params = {k: v for k, v in row.items() if k not in _RESERVED}
        return TtsJob(callee=row.get("callee", ""), template=template, params=params or None,
                      caller=caller, campaign_id=campaign_id, key=row.get("key") or None,
                      data=line)  # fmt: skip

    jobs = CsvJobs(csv_file, make, lambda bad: None, rows)
    return _run(settings, jobs, _results_path(csv_file, results_path), concurrency=concurrency,
                rate=rate, journal=journal, reconcile=reconcile,
                redial_unknown=redial_unknown)  # fmt: skip
