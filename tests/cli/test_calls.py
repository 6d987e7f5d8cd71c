"""``otp`` and ``tts``: one call each."""

from __future__ import annotations

from tel4vn_async.testing import FakeTel4vn, Fault

from .conftest import Run

OTP = ["otp", "--campaign-id", "1", "--caller", "0281234567", "--template", "otp_demo"]


async def test_otp_prints_the_call_id(fake: FakeTel4vn, tel4vn: Run) -> None:
    done = await tel4vn(*OTP, "--callee", "0987654321", "--code", "123456")
    assert done.code == 0, done.err
    assert done.out.strip() == fake.calls_to("0987654321")[0]["call_id"]


async def test_an_unknown_outcome_says_where_to_look_and_is_not_resent(
    fake: FakeTel4vn, tel4vn: Run
) -> None:
    fake.inject("/v1/autocall/otp", Fault(drop="after"))
    done = await tel4vn(*OTP, "--callee", "0987654321", "--code", "123456")
    assert done.code == 1
    assert done.err.startswith("tel4vn: outcome unknown: the call may have been placed")
    assert "tel4vn reports export --callee 0987654321" in done.err
    assert len(done.err.strip().splitlines()) == 1
    assert fake.dials["0987654321"] == 1


async def test_tts_sends_its_params(fake: FakeTel4vn, tel4vn: Run) -> None:
    done = await tel4vn("tts", "--caller", "0281234567", "--callee", "0987654321",
                        "--template", "thong_bao_no_cuoc_01", "-p", "customer_name=An",
                        "-p", "due_amount=100000", "-p", "due_date=01/02/2025")  # fmt: skip
    assert done.code == 0, done.err
    assert done.out.strip() == fake.calls_to("0987654321")[0]["call_id"]
    assert fake.received("/v1/autocall/voice")[0].json["param"]["customer_name"] == "An"


async def test_bad_arguments_exit_2_naming_the_field_and_send_nothing(
    fake: FakeTel4vn, tel4vn: Run
) -> None:
    cases = [
        ([*OTP, "--callee", "12", "--code", "1"], "callee"),
        ([*OTP, "--callee", "0987654321", "--code", "12 34"], "code"),
        (["tts", "--caller", "0281234567", "--callee", "0987654321", "--template", "t",
          "-p", "novalue"], "--param"),
        (["otp", "--caller", "0281234567"], "Missing option"),
    ]  # fmt: skip
    for args, field in cases:
        done = await tel4vn(*args)
        assert done.code == 2, (args, done.err)
        assert field in done.err
    assert fake.count() == 0


async def test_a_refused_call_is_one_line_with_status_and_message(
    fake: FakeTel4vn, tel4vn: Run
) -> None:
    done = await tel4vn(*OTP.copy()[:-1], "no_such_template", "--callee", "0987654321",
                        "--code", "1")  # fmt: skip
    assert done.code == 1
    assert done.err.startswith("tel4vn: API error 400")
    assert "template not found" in done.err
    assert len(done.err.strip().splitlines()) == 1
