"""Export files: writing records as CSV or JSON lines, and reading back what an
interrupted export left, so that ``--resume`` can continue after its last whole record.

Pure file work, no network. A record is one line in JSON lines (``json.dumps`` escapes
newlines); in CSV it may span lines (a quoted cell may hold a newline), so the records
are found by quote parity: every ``"`` of a well-formed CSV record comes in pairs (the
quotes around a cell, and each doubled quote inside it), so a newline ends a record
exactly when the count of ``"`` since the record began is even. Scanning that way needs
no CSV parser and constant memory, and finds where a torn last record begins.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, TextIO

import attrs

from ._common import CliError, cell

__all__ = ["CsvWriter", "Existing", "Format", "JsonlWriter", "Writer", "infer_format", "scan"]

Format = Literal["csv", "jsonl"]
_JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")


def infer_format(given: str | None, output: Path | None) -> Format:
    """``--format`` if given, else from the output's suffix (``.jsonl``, ``.ndjson``,
    ``.json``: JSON lines), else CSV."""
    if given is not None:
        return "jsonl" if given == "jsonl" else "csv"
    if output is not None and output.suffix.lower() in _JSONL_SUFFIXES:
        return "jsonl"
    return "csv"


class CsvWriter:
    """Records as CSV rows under a header of ``columns``; nested values as JSON."""

    def __init__(self, stream: TextIO, columns: Sequence[str], *, header: bool) -> None:
        self._columns = list(columns)
        self._csv = csv.writer(stream, lineterminator="\n")
        if header:
            self._csv.writerow(self._columns)

    def write(self, record: dict[str, Any]) -> None:
        self._csv.writerow([cell(record.get(name)) for name in self._columns])


class JsonlWriter:
    """Records as JSON lines, one object a line, keys in the model's field order."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, record: dict[str, Any]) -> None:
        self._stream.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")


Writer = CsvWriter | JsonlWriter


@attrs.frozen
class Existing:
    """What an earlier export left in its output file.

    Attributes:
        records: the whole records in it (the header not counted).
        end: the byte offset just after the last whole record (or the header): anything
            after it is a record torn by the interruption, cut off before appending.
        first_id: the first record's id, to recognise a server that ignores the offset
            and starts over; None when there is no record or it has no id.
        header: whether a whole CSV header is there (always False for JSON lines).
    """

    records: int = 0
    end: int = 0
    first_id: str | None = None
    header: bool = False


def _whole_records(stream: io.BufferedReader, *, csv_quotes: bool) -> Iterator[tuple[bytes, int]]:
    """Each whole record's bytes and the offset just after it; a torn tail is not yielded.

    Only the current record is held in memory, however long the file is.
    """
    position = 0
    parts: list[bytes] = []
    quotes = 0
    for line in stream:
        position += len(line)
        parts.append(line)
        if csv_quotes:
            quotes += line.count(b'"')
        if line.endswith(b"\n") and quotes % 2 == 0:
            yield b"".join(parts), position
            parts, quotes = [], 0


def _csv_row(data: bytes, path: Path) -> list[str]:
    try:
        return next(csv.reader(io.StringIO(data.decode("utf-8-sig"))), [])
    except (UnicodeDecodeError, csv.Error) as error:
        raise CliError(f"{path}: not a CSV export this command wrote ({error})") from error


def _scan_csv(path: Path, columns: Sequence[str], id_column: str) -> Existing:
    with path.open("rb") as stream:
        records = _whole_records(stream, csv_quotes=True)
        first = next(records, None)
        if first is None:
            return Existing()  # empty, or a torn header: start the file over
        if _csv_row(first[0], path) != list(columns):
            raise CliError(
                f"{path}: its header is not this export's columns (another listing, format "
                "or --raw?): give another --output, or run without --resume to overwrite it"
            )
        count, end, first_id = 0, first[1], None
        for data, after in records:
            end = after
            if count == 0 and id_column in columns:
                value = _csv_row(data, path)
                index = list(columns).index(id_column)
                first_id = value[index] if index < len(value) and value[index] else None
            count += 1
        return Existing(records=count, end=end, first_id=first_id, header=True)


def _scan_jsonl(path: Path, id_field: str) -> Existing:
    with path.open("rb") as stream:
        count, end, first_id = 0, 0, None
        for data, after in _whole_records(stream, csv_quotes=False):
            end = after
            if count == 0:
                try:
                    record = json.loads(data)
                except ValueError as error:
                    raise CliError(
                        f"{path}: not a JSON lines export (its first line is no JSON "
                        "object): give another --output or --format"
                    ) from error
                if not isinstance(record, dict):
                    raise CliError(f"{path}: not a JSON lines export of records")
                value = record.get(id_field)
                first_id = None if value in (None, "") else str(value)
            count += 1
        return Existing(records=count, end=end, first_id=first_id)


def scan(path: Path, fmt: Format, columns: Sequence[str], id_field: str) -> Existing:
    """Read back an export file left by an earlier run, and cut off its torn last record.

    Args:
        path: the output file (a missing file is an empty export).
        fmt: its format.
        columns: the CSV header this export writes (checked against the file's).
        id_field: the field that identifies a record (``id`` for CDRs, ...).

    Raises:
        CliError: the file is not an export of this kind and format (exit 2).
        OSError: it cannot be read or truncated.
    """
    if not path.exists():
        return Existing()
    found = _scan_csv(path, columns, id_field) if fmt == "csv" else _scan_jsonl(path, id_field)
    if path.stat().st_size > found.end:
        with path.open("r+b") as stream:  # a record torn by the interruption: written again
            stream.truncate(found.end)
    return found
