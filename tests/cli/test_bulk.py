"""``bulk otp`` and ``bulk tts`` from a CSV against the fake server."""

from __future__ import annotations

import csv
from pathlib import Path

from tel4vn_async.testing import FakeTel4vn, Fault

from .conftest import Run

OTP = ["--template", "otp_demo", "--caller", "0281234567", "--campaign-id", "1"]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def results(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


async def test_bulk_otp_writes_a_results_csv_and_exits_3_on_a_bad_row(
    fake: FakeTel4vn, tel4vn: Run, tmp_path: Path
) -> None:
    jobs = write(tmp_path / "jobs.csv", "callee,code\n0900000001,111111\n0900000002,222222\n"
                 "not-a-phone,333333\n0900000004,444444,extra\n0900000005,555555\n")  # fmt: skip

    done = await tel4vn("bulk", "otp", str(jobs), *OTP)

    assert done.code == 3
    assert "4 jobs in" in done.out
    assert "3 ok, 1 failed" in done.out
    assert "1 unreadable row(s) failed" in done.out
    assert "line 4: failed: ValidationError: callee" in done.err
    assert "line 5: failed: ValidationError: row: 3 cells" in done.err
    rows = {r["line"]: r for r in results(tmp_path / "jobs.results.csv")}
    assert {line: r["status"] for line, r in rows.items()} == {
        "2": "ok", "3": "ok", "4": "failed", "5": "failed", "6": "ok"
    }  # fmt: skip
    calls = {c["callee"]: c["call_id"] for c in fake.calls}
    assert rows["2"]["call_id"] == calls["0900000001"]
    assert dict(fake.dials) == {"0900000001": 1, "0900000002": 1, "0900000005": 1}


async def test_a_rerun_with_the_journal_dials_no_one_twice(
    fake: FakeTel4vn, tel4vn: Run, tmp_path: Path
) -> None:
    jobs = write(tmp_path / "jobs.csv",
                 "callee,code,key\n" + "".join(f"09000000{i:02d},{i:06d},k{i}\n"
                                               for i in range(10)))  # fmt: skip
    journal = tmp_path / "run.jsonl"
    out = tmp_path / "out.csv"
    fake.inject("/v1/autocall/otp", Fault(drop="after"))  # one answer lost: unknown

    first = await tel4vn("bulk", "otp", str(jobs), *OTP, "--journal", str(journal),
                         "--results", str(out), "--concurrency", "1")  # fmt: skip
    assert first.code == 3
    assert "1 unknown" in first.out
    again = await tel4vn("bulk", "otp", str(jobs), *OTP, "--journal", str(journal),
                         "--results", str(out), "--reconcile")  # fmt: skip

    assert again.code == 0, again.out + again.err
    assert all(n == 1 for n in fake.dials.values())
    assert len(fake.dials) == 10
    statuses = [r["status"] for r in results(out)]
    assert statuses.count("ok") == 1  # the unknown one, settled from the reports
    assert statuses.count("skipped") == 9


async def test_bulk_tts_sends_the_other_columns_as_params(
    fake: FakeTel4vn, tel4vn: Run, tmp_path: Path
) -> None:
    jobs = write(tmp_path / "tts.csv", "callee,customer_name,due_amount,due_date\n"
                 "0900000001,An,100000,01/02/2025\n0900000002,Binh,,01/02/2025\n")  # fmt: skip

    done = await tel4vn("bulk", "tts", str(jobs), "--template", "thong_bao_no_cuoc_01",
                        "--caller", "0281234567")  # fmt: skip

    assert done.code in (0, 3), done.err
    sent = fake.received("/v1/autocall/voice")[0].json
    assert sent["param"]["customer_name"] == "An"
    assert sent["param"]["due_amount"] == "100000"
    assert fake.dials["0900000001"] == 1


async def test_bad_options_and_files_exit_2_and_send_nothing(
    fake: FakeTel4vn, tel4vn: Run, tmp_path: Path
) -> None:
    good = write(tmp_path / "jobs.csv", "callee,code\n0900000001,1\n")
    no_code = write(tmp_path / "no_code.csv", "callee\n0900000001\n")
    cases = [
        ["bulk", "otp", str(no_code), *OTP],
        ["bulk", "otp", str(tmp_path / "missing.csv"), *OTP],
        ["bulk", "otp", str(good), "--template", "otp_demo", "--caller", "x1",
         "--campaign-id", "1"],
        ["bulk", "otp", str(good), *OTP, "--concurrency", "0"],
        ["bulk", "otp", str(good), *OTP, "--rate", "-1"],
        ["bulk", "otp", str(good), "--caller", "0281234567", "--campaign-id", "1"],
    ]  # fmt: skip
    for args in cases:
        done = await tel4vn(*args)
        assert done.code == 2, (args, done.err)
        assert "Traceback" not in done.err
    assert fake.count() == 0
    assert not (tmp_path / "jobs.results.csv").exists()
