"""``cdrs export``, ``reports export``, ``customers export`` against the fake server."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from tel4vn_async import CallCenterClient
from tel4vn_async.cli._common import cell
from tel4vn_async.testing import FakeTel4vn, Fault

from .conftest import Run

CDR_PATH = "/v2/cdr"


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def fake_cdr_ids(fake: FakeTel4vn, n: int) -> list[str]:
    records, _ = fake.cdr_batch({}, 0, n)
    return [r["id"].strip() for r in records]  # the API pads some ids; the SDK strips


async def sdk_cdrs(fake: FakeTel4vn, **filters: Any) -> list[dict[str, Any]]:
    async with CallCenterClient(fake.url, api_key=fake.api_key) as cc:
        return [c.to_dict() async for c in cc.cdrs.list(**filters)]


async def test_cdrs_to_csv_hold_every_record_with_the_models_columns(
    fake: FakeTel4vn, tel4vn: Run, tmp_path: Path
) -> None:
    fake.seed_cdrs(230)
    out = tmp_path / "cdrs.csv"

    done = await tel4vn("cdrs", "export", "--page-size", "100", "-o", str(out))

    assert done.code == 0, done.err
    assert "wrote 230 cdrs" in done.err
    rows = read_csv(out)
    expected = await sdk_cdrs(fake)
    assert [r["id"] for r in rows] == fake_cdr_ids(fake, 230)
    assert list(rows[0]) == list(expected[0])  # the header: the model's fields, no raw
    assert rows == [{k: cell(v) for k, v in e.items()} for e in expected]


async def test_cdrs_to_json_lines_with_filters_sent_as_the_sdk_sends_them(
    fake: FakeTel4vn, tel4vn: Run, tmp_path: Path
) -> None:
    fake.seed_cdrs(120)
    out = tmp_path / "out.jsonl"  # the format follows the suffix

    done = await tel4vn("cdrs", "export", "--direction", "outbound", "--start", "2000-01-01",
                        "--end", "2100-01-01 00:00:00", "-o", str(out))  # fmt: skip

    assert done.code == 0, done.err
    expected = await sdk_cdrs(fake, direction="outbound", start_date="2000-01-01",
                              end_date="2100-01-01 00:00:00")  # fmt: skip
    assert 0 < len(expected) < 120
    assert read_jsonl(out) == expected
    query = fake.received(CDR_PATH)[0].query
    assert query["direction"] == "outbound"
    assert query["end_date"] == "2100-01-01 00:00:00"


async def test_cdrs_to_stdout_as_csv(fake: FakeTel4vn, tel4vn: Run) -> None:
    fake.seed_cdrs(7)
    done = await tel4vn("cdrs", "export", "--raw")
    assert done.code == 0
    rows = list(csv.DictReader(done.out.splitlines()))
    assert len(rows) == 7
    assert list(rows[0])[:2] == ["id", "sip_call_id"]
    assert json.loads(rows[0]["raw"])["id"].strip() == rows[0]["id"]  # as received


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--start", "yesterday"], "start_date"),
        (["--start", "2024-02-02", "--end", "2024-02-01"], "end_date"),
        (["--phone", "12"], "phone"),
        (["--page-size", "0"], "page_size"),
        (["--direction", "sideways"], "direction"),
        (["--resume"], "--resume needs --output"),
    ],
)
async def test_bad_arguments_exit_2_and_send_nothing(
    fake: FakeTel4vn, tel4vn: Run, args: list[str], field: str
) -> None:
    done = await tel4vn("cdrs", "export", *args)
    assert done.code == 2
    assert field in done.err
    assert "Traceback" not in done.err
    assert fake.count() == 0


async def test_an_interrupted_export_resumed_has_no_record_twice_and_none_missing(
    fake: FakeTel4vn, tel4vn: Run, tmp_path: Path
) -> None:
    fake.seed_cdrs(450)
    out = tmp_path / "cdrs.csv"

    async def export(*extra: str) -> Any:
        return await tel4vn("--max-retries", "0", "cdrs", "export", "--page-size", "100",
                            "-o", str(out), *extra)  # fmt: skip

    # Let two pages through, then answer 500 until the export gives up.
    _interrupt_after_pages(fake, 2)
    cut = await export()
    assert cut.code == 1
    assert "--resume" in cut.err
    assert "200 cdrs are in" in cut.err
    assert len(read_csv(out)) == 200

    fake.clear_faults()
    resumed = await export("--resume")
    assert resumed.code == 0, resumed.err
    assert "resumed after 200" in resumed.err
    assert [r["id"] for r in read_csv(out)] == fake_cdr_ids(fake, 450)
    assert fake.received(CDR_PATH)[-3].query["offset"] == "200"  # not fetched again


def _interrupt_after_pages(fake: FakeTel4vn, pages: int) -> None:
    """The next ``pages`` listing requests succeed; every one after them gets a 500."""
    fake.inject("*", Fault(), method="GET", times=pages)  # no-op faults: answered normally
    fake.inject("*", Fault(status=500), method="GET", times=50)


async def test_a_torn_last_record_is_cut_off_and_written_again(
    fake: FakeTel4vn, tel4vn: Run, tmp_path: Path
) -> None:
    fake.seed_cdrs(60)
    out = tmp_path / "cdrs.jsonl"
    full = await tel4vn("cdrs", "export", "-o", str(out))
    assert full.code == 0
    lines = out.read_text(encoding="utf-8").splitlines(keepends=True)
    out.write_text("".join(lines[:25]) + lines[25][:40], encoding="utf-8")  # killed mid-write

    resumed = await tel4vn("cdrs", "export", "--page-size", "10", "-o", str(out), "--resume")

    assert resumed.code == 0, resumed.err
    assert [r["id"] for r in read_jsonl(out)] == fake_cdr_ids(fake, 60)
    assert fake.received(CDR_PATH)[-1].query.get("offset") in ("55", "60")


async def test_resume_of_a_finished_export_adds_nothing(
    fake: FakeTel4vn, tel4vn: Run, tmp_path: Path
) -> None:
    fake.seed_cdrs(30)
    out = tmp_path / "cdrs.csv"
    assert (await tel4vn("cdrs", "export", "-o", str(out))).code == 0
    before = out.read_bytes()
    again = await tel4vn("cdrs", "export", "-o", str(out), "--resume")
    assert again.code == 0
    assert "wrote 0 cdrs" in again.err
    assert out.read_bytes() == before


async def test_resume_into_another_exports_file_is_a_usage_error(
    fake: FakeTel4vn, tel4vn: Run, tmp_path: Path
) -> None:
    out = tmp_path / "other.csv"
    out.write_text("a,b\n1,2\n", encoding="utf-8")
    done = await tel4vn("cdrs", "export", "-o", str(out), "--resume")
    assert done.code == 2
    assert "header" in done.err
    assert fake.count() == 0
    assert out.read_text(encoding="utf-8") == "a,b\n1,2\n"


async def test_reports_export_with_callee_filter(
    fake: FakeTel4vn, tel4vn: Run, tmp_path: Path
) -> None:
    fake.seed_reports(12)
    fake.seed_reports(3, callee="0987654321")
    out = tmp_path / "reports.csv"

    done = await tel4vn("reports", "export", "--callee", "0987654321", "-o", str(out))

    assert done.code == 0, done.err
    rows = read_csv(out)
    assert [r["callee"] for r in rows] == ["0987654321"] * 3
    assert {r["call_id"] for r in rows} == {c["call_id"] for c in fake.calls_to("0987654321")}
    assert json.loads(rows[0]["param"])["template_name"] == "otp_demo"  # nested: JSON


async def test_reports_export_resumed(fake: FakeTel4vn, tel4vn: Run, tmp_path: Path) -> None:
    fake.seed_reports(25)
    out = tmp_path / "reports.jsonl"
    _interrupt_after_pages(fake, 1)
    cut = await tel4vn("--max-retries", "0", "reports", "export", "--page-size", "10",
                       "-o", str(out))  # fmt: skip
    assert cut.code == 1
    fake.clear_faults()
    resumed = await tel4vn("reports", "export", "--page-size", "10", "-o", str(out), "--resume")
    assert resumed.code == 0, resumed.err
    assert [r["call_id"] for r in read_jsonl(out)] == [c["call_id"] for c in fake.calls]


async def test_customers_export_of_one_campaign(
    fake: FakeTel4vn, tel4vn: Run, tmp_path: Path
) -> None:
    campaigns = fake.seed_customers(40, campaigns=2)
    out = tmp_path / "customers.csv"

    done = await tel4vn("customers", "export", "--campaign-id", campaigns[1], "--page-size",
                        "7", "--format", "csv", "-o", str(out))  # fmt: skip

    assert done.code == 0, done.err
    rows = read_csv(out)
    mine = [c for c in fake.customers() if c["campaign_id"] == campaigns[1]]
    assert [r["customer_id"] for r in rows] == [c["customer_id"] for c in mine]
    assert rows[0]["status"] == mine[0]["status"].lower() or rows[0]["status"]


async def test_customers_export_resumed(fake: FakeTel4vn, tel4vn: Run, tmp_path: Path) -> None:
    fake.seed_customers(33)
    out = tmp_path / "customers.csv"
    _interrupt_after_pages(fake, 2)
    cut = await tel4vn("--max-retries", "0", "customers", "export", "--page-size", "10",
                       "-o", str(out))  # fmt: skip
    assert cut.code == 1
    assert len(read_csv(out)) == 20
    fake.clear_faults()
    resumed = await tel4vn("customers", "export", "--page-size", "10", "-o", str(out),
                           "--resume")  # fmt: skip
    assert resumed.code == 0
    ids = [r["customer_id"] for r in read_csv(out)]
    assert ids == [c["customer_id"] for c in fake.customers()]


async def test_a_server_that_ignores_the_offset_gets_no_record_written_twice(
    fake: FakeTel4vn, tel4vn: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A scroll-id server whose first request ignores the offset: it starts over.
    fake.seed_cdrs(95)
    fake.cdr_scroll_style = "scroll_id"
    batch, open_scroll = fake.cdr_batch, fake.open_scroll
    position = {"next": 0}

    def starting_over(query: Any, offset: int, limit: int) -> Any:
        if "scroll_id" not in query:
            offset = 0
        records, total = batch(query, offset, limit)
        position["next"] = offset + len(records)
        return records, total

    monkeypatch.setattr(fake, "cdr_batch", starting_over)
    monkeypatch.setattr(fake, "open_scroll", lambda _: open_scroll(position["next"]))
    out = tmp_path / "cdrs.csv"
    _interrupt_after_pages(fake, 3)
    cut = await tel4vn("--max-retries", "0", "cdrs", "export", "--page-size", "20",
                       "-o", str(out))  # fmt: skip
    assert cut.code == 1
    fake.clear_faults()

    resumed = await tel4vn("cdrs", "export", "--page-size", "20", "-o", str(out), "--resume")

    assert resumed.code == 0, resumed.err
    assert "wrote 35 cdrs" in resumed.err
    assert [r["id"] for r in read_csv(out)] == fake_cdr_ids(fake, 95)
