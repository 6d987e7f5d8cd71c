"""``cdrs export``, ``reports export``, ``customers export``: a listing streamed to CSV or
JSON lines, page by page (constant memory), with ``--resume`` after an interruption.

Every listing pages by offset (CDRs in scroll mode fall back to it: the offset cursor),
so a resumed export counts the whole records already in the file and asks for the
records from that offset. Should the server ignore the offset and start over (it answers
the file's first record again), the records already written are skipped as they stream
by instead: fetched again, never written twice.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO, TypeVar

import attrs
import click

from ..autocall import AutocallClient
from ..callcenter import CallCenterClient
from ..errors import Tel4vnError
from ..models import Cdr, Customer, Report
from ..models._base import Model
from ..pagination import AsyncPager
from ._common import EXIT_API, CliError, Settings, columns, progress_bar, record_dict
from ._records import CsvWriter, Existing, Format, JsonlWriter, Writer, infer_format, scan

__all__ = ["cdrs", "customers", "reports"]

F = TypeVar("F", bound=Callable[..., Any])
Client = CallCenterClient | AutocallClient


@attrs.frozen
class Listing:
    """What an export streams: the model, the field that identifies a record, the client
    family, and how to make the pager from the command's filters (checked there)."""

    name: str
    model: type[Model]
    id_field: str
    family: str
    pager: Callable[[Any], Callable[..., AsyncPager[Any]]]


def _output_options(func: F) -> F:
    """The options every export takes."""
    for decorator in reversed(
        [
            click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]),
                         help="CSV (a header row; nested values as JSON) or JSON lines. "
                         "Default: from --output's suffix (.jsonl/.ndjson/.json), else csv."),
            click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
                         help="The file to write (default: stdout)."),
            click.option("--resume", is_flag=True,
                         help="Append to an existing --output, after its last whole record."),
            click.option("--raw", is_flag=True,
                         help="Add each record as received (a 'raw' column/field)."),
        ]
    ):  # fmt: skip
        func = decorator(func)
    return func


def _client(settings: Settings, family: str) -> Client:
    return settings.callcenter() if family == "callcenter" else settings.autocall()


class _Sink:
    """The output, opened when the first page has arrived: a server that cannot be
    reached leaves no empty file behind (nor a lone header on stdout)."""

    def __init__(self, output: Path | None, fmt: Format, cols: list[str], existing: Existing):
        self._output, self._fmt, self._cols, self._existing = output, fmt, cols, existing
        self._stream: TextIO | None = None
        self.writer: Writer | None = None

    def open(self) -> Writer:
        if self.writer is None:
            append = self._existing.end > 0
            if self._output is None:
                self._stream = sys.stdout
            else:
                self._stream = self._output.open("a" if append else "w", newline="",
                                                 encoding="utf-8")  # fmt: skip
            header = self._fmt == "csv" and not self._existing.header
            self.writer = (
                CsvWriter(self._stream, self._cols, header=header)
                if self._fmt == "csv"
                else JsonlWriter(self._stream)
            )
        return self.writer

    def flush(self) -> None:
        if self._stream is not None:
            self._stream.flush()

    def close(self) -> None:
        if self._stream is not None and self._output is not None:
            self._stream.close()
        self._stream = None


@attrs.define
class _Run:
    """One export's counts, for its last line and for the error that may cut it short."""

    listing: Listing
    output: Path | None
    before: int = 0
    written: int = 0

    def where(self) -> str:
        return str(self.output) if self.output is not None else "stdout"


async def _stream(
    client: Client, pager: AsyncPager[Any], sink: _Sink, run: _Run, existing: Existing,
    raw: bool,
) -> None:  # fmt: skip
    """Write every record of ``pager`` (started at ``existing.records``) to ``sink``."""
    skip = 0  # records to drop: those already written, when the server ignored the offset
    first_page = True
    bar = progress_bar(initial=existing.records, unit=" records", desc=run.listing.name)
    try:
        async with client:
            async for page in pager.pages():
                items = page.items
                writer = sink.open()
                if first_page and existing.records and existing.first_id is not None and items:
                    first_id = getattr(items[0], run.listing.id_field, None)
                    if first_id is not None and str(first_id) == existing.first_id:
                        skip = existing.records  # it started over: skip what is written
                first_page = False
                bar.set_total(page.total)
                dropped = min(skip, len(items))
                skip -= dropped
                for item in items[dropped:]:
                    writer.write(record_dict(item, raw=raw))
                run.written += len(items) - dropped
                bar.update(len(items) - dropped)
                sink.flush()  # an interruption then loses no page already received
    finally:
        bar.close()


def _export(
    settings: Settings, listing: Listing, filters: dict[str, Any], *, fmt: str | None,
    output: Path | None, resume: bool, raw: bool,
) -> int:  # fmt: skip
    """Check everything, then stream the listing; returns the exit code."""
    if resume and output is None:
        raise CliError("--resume needs --output FILE: stdout cannot be resumed")
    if output is not None and not output.parent.is_dir():
        raise CliError(f"--output {output}: no such directory {output.parent}")
    form = infer_format(fmt, output)
    cols = columns(listing.model, raw=raw)
    existing = Existing()
    if resume and output is not None:
        existing = scan(output, form, cols, listing.id_field)
    client = _client(settings, listing.family)  # ConfigurationError: exit 2, nothing sent
    try:
        # ValidationError: exit 2, nothing sent. Every listing here takes an offset.
        pager = listing.pager(client)(**filters, offset=existing.records)
    except BaseException:
        asyncio.run(client.close())
        raise
    run = _Run(listing, output, before=existing.records)
    sink = _Sink(output, form, cols, existing)
    try:
        asyncio.run(_stream(client, pager, sink, run, existing, raw))
    except Tel4vnError as error:
        if output is None or sink.writer is None:
            raise
        from ._app import describe

        raise CliError(
            f"{describe(error)[0]}; {run.before + run.written} {listing.name} are in "
            f"{output}: run the same command with --resume to continue",
            EXIT_API,
        ) from error
    finally:
        sink.close()
    resumed = f" (resumed after {run.before})" if resume and run.before else ""
    click.echo(f"wrote {run.written} {listing.name} to {run.where()}{resumed}", err=True)
    return 0


@click.group()
def cdrs() -> None:
    """Call detail records (Call Center API)."""


@cdrs.command("export")
@click.option("--start", metavar="DATE", help="Calls started from then: YYYY-MM-DD or "
              "'YYYY-MM-DD HH:MM:SS' (the server's wall clock).")  # fmt: skip
@click.option("--end", metavar="DATE", help="Calls started until then; the same forms.")
@click.option("--duration", type=int, help="Calls of this duration, in seconds.")
@click.option("--extension", help="Calls from or to this extension.")
@click.option("--phone", help="Calls from or to this number.")
@click.option("--direction", type=click.Choice(["inbound", "outbound", "local"]))
@click.option("--page-size", type=int, default=500, show_default=True,
              help="Records per request (1 to 10,000).")  # fmt: skip
@_output_options
@click.pass_obj
def cdrs_export(
    settings: Settings, start: str | None, end: str | None, duration: int | None,
    extension: str | None, phone: str | None, direction: str | None, page_size: int,
    fmt: str | None, output: Path | None, resume: bool, raw: bool,
) -> int:  # fmt: skip
    """Stream CDRs to CSV or JSON lines.

    --resume counts the whole records already in --output (a record torn by the
    interruption is cut off and written again) and continues from that offset: the CDR
    scroll's offset cursor. The CDRs of a closed period (an --end in the past) keep
    their order, so the resumed file has no record twice and none missing; with an
    open period, calls made meanwhile may shift the offsets. A server that ignores the
    offset is detected (it starts over with the file's first record): the records
    already written are then fetched again and skipped, never written twice.
    """
    filters = {"start_date": start, "end_date": end, "duration": duration,
               "extension": extension, "phone": phone, "direction": direction,
               "page_size": page_size}  # fmt: skip
    return _export(settings, CDRS, filters, fmt=fmt, output=output, resume=resume, raw=raw)


@click.group()
def reports() -> None:
    """Autocall call reports (Autocall API)."""


@reports.command("export")
@click.option("--caller", help="Only calls from this number.")
@click.option("--callee", help="Only calls to this number.")
@click.option("--page-size", type=int, default=100, show_default=True,
              help="Records per request (1 to 1,000).")  # fmt: skip
@_output_options
@click.pass_obj
def reports_export(
    settings: Settings, caller: str | None, callee: str | None, page_size: int,
    fmt: str | None, output: Path | None, resume: bool, raw: bool,
) -> int:  # fmt: skip
    """Stream call reports to CSV or JSON lines.

    --resume counts the whole records already in --output (a torn last one is cut off
    and written again) and continues from that offset (the listing's limit/offset).
    Reports have no time filter: the resumed file is exact when no call matching the
    filters was placed since the interrupted run (new reports may shift the offsets).
    """
    filters = {"caller": caller, "callee": callee, "page_size": page_size}
    return _export(settings, REPORTS, filters, fmt=fmt, output=output, resume=resume, raw=raw)


@click.group()
def customers() -> None:
    """Customers uploaded for autodialing (Call Center API)."""


@customers.command("export")
@click.option("--campaign-id", help="Only this campaign's customers.")
@click.option("--page-size", type=int, default=100, show_default=True,
              help="Records per request (1 to 10,000).")  # fmt: skip
@_output_options
@click.pass_obj
def customers_export(
    settings: Settings, campaign_id: str | None, page_size: int, fmt: str | None,
    output: Path | None, resume: bool, raw: bool,
) -> int:  # fmt: skip
    """Stream customers to CSV or JSON lines.

    --resume counts the whole records already in --output (a torn last one is cut off
    and written again) and continues from that offset (the listing's limit/offset).
    The resumed file is exact when no customer was uploaded (to the campaign) since the
    interrupted run.
    """
    filters = {"campaign_id": campaign_id, "page_size": page_size}
    return _export(settings, CUSTOMERS, filters, fmt=fmt, output=output, resume=resume, raw=raw)


CDRS = Listing("cdrs", Cdr, "id", "callcenter", lambda c: c.cdrs.list)
REPORTS = Listing("reports", Report, "call_id", "autocall", lambda c: c.reports.list)
CUSTOMERS = Listing("customers", Customer, "customer_id", "callcenter", lambda c: c.customers.list)
