"""Export files read back for ``--resume``: whole records counted, a torn one cut off."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tel4vn_async.cli._common import CliError
from tel4vn_async.cli._records import CsvWriter, infer_format, scan

COLUMNS = ["id", "name", "param"]


def write_csv(path: Path, rows: list[dict[str, object]]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = CsvWriter(buffer, COLUMNS, header=True)
    for row in rows:
        writer.write(row)
    data = buffer.getvalue().encode()
    path.write_bytes(data)
    return data


ROWS: list[dict[str, object]] = [
    {"id": "a", "name": 'line one\nline "two"', "param": {"k": [1, 2]}},
    {"id": "b", "name": None, "param": True},
    {"id": "c", "name": "x,y", "param": "t"},
]


def test_a_csv_record_spanning_lines_is_one_record(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    data = write_csv(path, ROWS)
    found = scan(path, "csv", COLUMNS, "id")
    assert (found.records, found.first_id, found.header) == (3, "a", True)
    assert found.end == len(data)


@pytest.mark.parametrize("cut", [1, 5, 12, 20])
def test_a_torn_csv_record_is_cut_off_even_inside_a_quoted_newline(
    tmp_path: Path, cut: int
) -> None:
    path = tmp_path / "x.csv"
    whole = write_csv(path, ROWS[1:2])
    data = write_csv(path, [ROWS[1], ROWS[0]])
    assert len(data) > len(whole) + cut
    path.write_bytes(data[: len(whole) + cut])  # the multi-line record torn at `cut`
    found = scan(path, "csv", COLUMNS, "id")
    assert found.records == 1
    assert path.read_bytes() == whole


def test_a_torn_first_record_inside_quotes_leaves_the_header(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    data = write_csv(path, ROWS)
    header_end = data.index(b"\n") + 1
    path.write_bytes(data[: header_end + 12])  # inside "line one\n..."
    found = scan(path, "csv", COLUMNS, "id")
    assert (found.records, found.header, found.end) == (0, True, header_end)


def test_jsonl_counts_lines_and_cuts_a_torn_one(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"id": "a"}\n{"id": "b"}\n{"id": "c"')
    found = scan(path, "jsonl", COLUMNS, "id")
    assert (found.records, found.first_id) == (2, "a")
    assert path.read_bytes() == b'{"id": "a"}\n{"id": "b"}\n'


def test_a_missing_or_empty_file_is_a_fresh_export(tmp_path: Path) -> None:
    assert scan(tmp_path / "none.csv", "csv", COLUMNS, "id").records == 0
    (tmp_path / "empty.csv").write_bytes(b"")
    assert scan(tmp_path / "empty.csv", "csv", COLUMNS, "id").header is False


def test_a_csv_file_read_as_json_lines_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    write_csv(path, ROWS)
    with pytest.raises(CliError, match="not a JSON lines export"):
        scan(path, "jsonl", COLUMNS, "id")


def test_the_format_follows_the_option_then_the_suffix() -> None:
    assert infer_format(None, Path("a.jsonl")) == "jsonl"
    assert infer_format(None, Path("a.NDJSON")) == "jsonl"
    assert infer_format(None, Path("a.txt")) == "csv"
    assert infer_format(None, None) == "csv"
    assert infer_format("jsonl", Path("a.csv")) == "jsonl"
