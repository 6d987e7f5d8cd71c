"""``bulk otp FILE.csv`` and ``bulk tts FILE.csv``: a fan-out from a CSV, with a results CSV.

The CSV is read twice, lazily both times: once to count its rows (the progress bar's
total) and to check its header before anything is sent, then row by row as the run pulls
jobs, so a file of a million rows never sits in memory. Each job carries its row's line
number (``data=``), which its result line and the results CSV name. A row the CSV itself
makes unusable (more cells than the header) never becomes a job: it is written to the
results as failed, with its line, and counted.

With ``--redis URL`` the same CSV is submitted to Redis as a distributed run instead
(``_scale.submit_csv``): workers started with ``tel4vn worker`` dial it, and this command
follows its progress and writes the same results CSV. ``bulk status RUN`` reads a run's
progress from any machine.
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
from . import _scale
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
        line, callee = _scale.result_row(result)
        self._csv.writerow([line, result.key or "", callee, result.status.value,
                            result.call_id or "", error, result.reason or "",
                            result.attempts])  # fmt: skip
        if result.status in (JobStatus.FAILED, JobStatus.UNKNOWN):
            self._show(line, f"{result.status.value}: {error or result.reason or ''}")

    def add_bad_row(self, bad: RowError, *, show: bool = True) -> None:
        self.bad_rows += 1
        message = f"ValidationError: row: {bad.message}"
        self._csv.writerow([bad.line, "", "", JobStatus.FAILED.value, "", message, "", 0])
        if show:
            self._show(bad.line, f"failed: {message}")

    def flush(self) -> None:
        self._stream.flush()


def _summary_line(summary: BulkSummary, results: Results, path: Path) -> str:
    text = str(summary)
    if results.bad_rows:
        text += f"; {results.bad_rows} unreadable row(s) failed"
    return f"{text}; results in {path}"


@attrs.frozen
class RunOptions:
    """The options of ``bulk otp|tts`` beyond the jobs: a local run's, or a distributed one's."""

    results_path: Path | None
    concurrency: int | None
    rate: float | None
    journal: Path | None
    reconcile: bool
    redial_unknown: bool
    redis_url: str | None
    run_id: str | None
    no_follow: bool

    def check(self) -> None:
        """Refuse the options that belong to the other kind of run.

        Raises:
            CliError: an option of a local run with ``--redis``, or the reverse (exit 2).
        """
        if self.redis_url is not None:
            local = {"--concurrency": self.concurrency is not None,
                     "--journal": self.journal is not None,
                     "--redial-unknown": self.redial_unknown}  # fmt: skip
            given = [name for name, used in local.items() if used]
            if given:
                raise CliError(
                    f"{', '.join(given)}: not with --redis (each worker sets its own "
                    "concurrency, and the run's claims in Redis replace the journal)"
                )
            return
        remote = {"--run": self.run_id is not None, "--no-follow": self.no_follow}
        given = [name for name, used in remote.items() if used]
        if given:
            raise CliError(f"{', '.join(given)}: only with --redis URL")


def _run(settings: Settings, jobs: CsvJobs, csv_file: Path, options: RunOptions) -> int:
    options.check()
    results_path = _results_path(csv_file, options.results_path)
    if options.redis_url is not None:
        return _run_on_redis(settings, jobs, results_path, options, options.redis_url)
    pbx = settings.autocall()  # ConfigurationError: exit 2, nothing sent
    sink: list[Results] = []  # the results file, opened once the options are checked
    runner = pbx.fan_out(  # ValidationError for a bad option: exit 2, nothing sent
        jobs, concurrency=20 if options.concurrency is None else options.concurrency,
        rate=options.rate, journal=options.journal, progress=on_terminal(),
        on_result=lambda result: sink[0].add(result), reconcile=options.reconcile,
        redial_unknown=options.redial_unknown,
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


def _run_on_redis(
    settings: Settings, jobs: CsvJobs, results_path: Path, options: RunOptions, url: str
) -> int:
    if options.rate is not None and not options.rate > 0:
        raise CliError(f"invalid --rate: must be more than 0, got {options.rate:g}")
    bad_rows: list[RowError] = []  # held until the results file opens (rare: few rows)

    def on_bad_row(bad: RowError) -> None:
        bad_rows.append(bad)
        if len(bad_rows) <= _SHOWN_FAILURES:
            click.echo(f"line {bad.line}: failed: ValidationError: row: {bad.message}", err=True)

    jobs.on_bad_row = on_bad_row

    def results(stream: TextIO) -> Results:
        writer = Results(stream)
        writer.shown = len(bad_rows)  # already printed, as they were read
        for bad in bad_rows:
            writer.add_bad_row(bad, show=False)
        return writer

    code = _scale.submit_csv(
        settings, jobs, redis_url=url, run_id=options.run_id, rate=options.rate,
        follow=not options.no_follow, reconcile=options.reconcile, results=results,
        results_path=results_path, rows=len(jobs),
    )  # fmt: skip
    if options.no_follow and bad_rows:
        click.echo(f"{len(bad_rows)} unreadable row(s) failed: not part of the run", err=True)
    return code


def _run_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.argument("csv_file", metavar="FILE.csv",
                       type=click.Path(exists=True, dir_okay=False, path_type=Path)),
        click.option("--template", required=True, help="The template's name."),
        click.option("--caller", required=True, help="The number calling (a hotline)."),
        click.option("--concurrency", type=int,
                     help="Calls in flight at most (default 20; not with --redis: each "
                     "worker has its own)."),
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
        _scale.redis_option,
        click.option("--run", "run_id", metavar="ID",
                     help="With --redis: the run's id (default: a new random one). The same "
                     "file submitted again under the same id dials no one twice."),
        click.option("--no-follow", is_flag=True,
                     help="With --redis: print the run id and exit once submitted."),
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

    In this process, or with --redis URL by workers on any number of machines (tel4vn
    worker); bulk status RUN shows a distributed run's progress.

    \b
    Exit codes: 0 every job ok or skipped, 3 some failed or are unknown (the results
    CSV says which, by line), 1 an API or transport error, 2 a usage error.
    """


@bulk.command("otp")
@click.option("--campaign-id", required=True, help="The campaign's id.")
@_run_options
@click.pass_obj
def bulk_otp(
    settings: Settings, /, campaign_id: str, csv_file: Path, template: str, caller: str,
    **options: Any,
) -> int:  # fmt: skip
    """One OTP call per row of FILE.csv: columns callee, code and optionally key.

    With --redis URL the rows are submitted as a run that the workers dial (tel4vn
    worker), and its progress is followed until done.
    """
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
    return _run(settings, jobs, csv_file, RunOptions(**options))


@bulk.command("tts")
@click.option("--campaign-id", help="The campaign's id (optional for TTS).")
@_run_options
@click.pass_obj
def bulk_tts(
    settings: Settings, /, campaign_id: str | None, csv_file: Path, template: str, caller: str,
    **options: Any,
) -> int:  # fmt: skip
    """One text-to-speech call per row of FILE.csv: columns callee, optionally key, and
    every other column a template parameter ({{name}} filled from column name).

    With --redis URL the rows are submitted as a run that the workers dial (tel4vn
    worker), and its progress is followed until done.
    """
    tts_body(caller=caller, template=template, callee=_SAMPLE_PHONE, campaign_id=campaign_id)
    header, rows = read_header(csv_file, ("callee",))
    del header  # the params are each row's other cells

    def make(row: dict[str, str], line: int) -> TtsJob:
        params = {k: v for k, v in row.items() if k not in _RESERVED}
        return TtsJob(callee=row.get("callee", ""), template=template, params=params or None,
                      caller=caller, campaign_id=campaign_id, key=row.get("key") or None,
                      data=line)  # fmt: skip

    jobs = CsvJobs(csv_file, make, lambda bad: None, rows)
    return _run(settings, jobs, csv_file, RunOptions(**options))


bulk.add_command(_scale.bulk_status)
