"""pbx.calls against FakeTel4vn: bodies sent, dials counted, the call-placing retry rule."""

from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime
from typing import Any

import pytest

from tel4vn_async import (
    AutocallClient,
    BadRequestError,
    OutcomeUnknownError,
    ServerError,
    ValidationError,
)
from tel4vn_async.autocall.calls import otp_body, tts_body
from tel4vn_async.models.autocall import Amount, CallResult, SpokenNumber, TtsTemplate
from tel4vn_async.testing import FakeTel4vn, Fault

from ..conftest import FAST_RETRY

CAMPAIGN = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeee"
OTP: dict[str, Any] = {
    "campaign_id": CAMPAIGN,
    "caller": "0123456789",
    "callee": "0987654321",
    "template": "otp_demo",
    "code": "123ABC",
}
TTS: dict[str, Any] = {
    "caller": "0123456789",
    "template": "thong_bao_no_cuoc_01",
    "params": {
        "customer_name": "Nguyễn Văn A",
        "due_amount": "10.410.000",
        "due_date": "30/01/2021",
    },
}
DEBT = TtsTemplate(
    "1",
    "thong_bao_no_cuoc_01",
    content="Chào bạn {{customer_name}} vui lòng thanh toán khoản nợ {{due_amount}} "
    "trước ngày {{due_date}}",
)


# ----------------------------------------------------------------------------- OTP


async def test_otp_sends_the_spec_body_and_dials_once(
    fake: FakeTel4vn, pbx: AutocallClient
) -> None:
    result = await pbx.calls.otp(
        **OTP, callback_url="https://demo.webhook.com", callback_apikey="api_key_123", queue=True
    )

    assert isinstance(result, CallResult)
    assert result.status == "success"
    assert result.call_id == fake.calls[0]["call_id"]
    [sent] = fake.received("/v1/autocall/otp", "POST")
    assert sent.json == {
        "campaign_id": CAMPAIGN,
        "caller": "0123456789",
        "callee": "0987654321",
        "param": {"template_name": "otp_demo", "code_otp": "123ABC"},
        "callback_url": "https://demo.webhook.com",
        "callback_apikey": "api_key_123",
        "queue": True,
    }
    assert fake.dials == {"0987654321": 1}


async def test_otp_leaves_out_what_was_not_given(fake: FakeTel4vn, pbx: AutocallClient) -> None:
    await pbx.calls.otp(**{**OTP, "code": 4321})
    assert fake.received("/v1/autocall/otp")[0].json == {
        "campaign_id": CAMPAIGN,
        "caller": "0123456789",
        "callee": "0987654321",
        "param": {"template_name": "otp_demo", "code_otp": "4321"},
    }


async def test_otp_takes_the_template_it_created(fake: FakeTel4vn, pbx: AutocallClient) -> None:
    template = await pbx.templates.create_otp(3, "otp_new", "Mã {{code_otp}}", "north-f-01", 1)
    await pbx.calls.otp(**{**OTP, "template": template})
    assert fake.received("/v1/autocall/otp")[0].json["param"]["template_name"] == "otp_new"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"callee": "09-8765"}, "callee"),
        ({"callee": "12"}, "callee"),
        ({"caller": ""}, "caller"),
        ({"caller": "hotline"}, "caller"),
        ({"code": ""}, "code"),
        ({"code": "12 34"}, "code"),
        ({"code": True}, "code"),
        ({"code": "1" * 17}, "code"),
        ({"template": " "}, "template"),
        ({"template": DEBT}, "template"),
        ({"campaign_id": ""}, "campaign_id"),
        ({"callback_url": "demo.webhook.com"}, "callback_url"),
        ({"callback_apikey": "k"}, "callback_apikey"),
        ({"callback_url": "https://x.vn", "callback_apikey": ""}, "callback_apikey"),
    ],
)
async def test_otp_rejects_bad_input_and_sends_nothing(
    fake: FakeTel4vn, pbx: AutocallClient, change: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as info:
        await pbx.calls.otp(**{**OTP, **change})
    assert info.value.field == field
    assert len(fake.requests) == 0
    assert sum(fake.dials.values()) == 0


async def test_an_unknown_template_is_the_servers_bad_request(
    fake: FakeTel4vn, pbx: AutocallClient
) -> None:
    with pytest.raises(BadRequestError) as info:
        await pbx.calls.otp(**{**OTP, "template": "no_such_template"})
    assert "param.template_name" in info.value.details
    assert fake.count("/v1/autocall/otp") == 1
    assert sum(fake.dials.values()) == 0


# ----------------------------------------------------------------------------- TTS


async def test_tts_to_one_callee_sends_the_spec_body(fake: FakeTel4vn, pbx: AutocallClient) -> None:
    result = await pbx.calls.tts(
        **TTS,
        callee="0987654321",
        campaign_id=CAMPAIGN,
        callback_url="https://demo.webhook.com",
        callback_apikey="api_key_123",
    )

    assert result.call_id == fake.calls_to("0987654321")[0]["call_id"]
    assert fake.received("/v1/autocall/voice", "POST")[0].json == {
        "campaign_id": CAMPAIGN,
        "caller": "0123456789",
        "callee": "0987654321",
        "param": {
            "template_name": "thong_bao_no_cuoc_01",
            "customer_name": "Nguyễn Văn A",
            "due_amount": "10.410.000",
            "due_date": "30/01/2021",
        },
        "callback_url": "https://demo.webhook.com",
        "callback_apikey": "api_key_123",
    }
    assert fake.dials == {"0987654321": 1}


async def test_tts_to_several_callees_dials_each_once(
    fake: FakeTel4vn, pbx: AutocallClient
) -> None:
    await pbx.calls.tts(**TTS, callees=["0987654321", "1234567890"], queue=True)

    sent = fake.received("/v1/autocall/voice")[0].json
    assert sent["callees"] == ["0987654321", "1234567890"]
    assert "callee" not in sent
    assert sent["queue"] is True
    assert fake.dials == {"0987654321": 1, "1234567890": 1}


async def test_tts_formats_amounts_numbers_and_dates(fake: FakeTel4vn, pbx: AutocallClient) -> None:
    fake.seed_template(1, "all_kinds", "{{a}} {{n}} {{d}} {{t}} {{digits}} {{text}}")
    await pbx.calls.tts(
        caller="0123456789",
        callee="0987654321",
        template="all_kinds",
        params={
            "a": Amount(10410000),
            "n": SpokenNumber(15),
            "d": date(2021, 1, 30),
            "t": datetime(2021, 12, 5, 17, 30),
            "digits": 123456789,
            "text": "0987654321",
        },
    )
    assert fake.received("/v1/autocall/voice")[0].json["param"] == {
        "template_name": "all_kinds",
        "a": "10.410.000",
        "n": "#15",
        "d": "30/01/2021",
        "t": "05/12/2021",
        "digits": 123456789,
        "text": "0987654321",
    }


async def test_tts_checks_params_against_the_templates_placeholders(
    fake: FakeTel4vn, pbx: AutocallClient
) -> None:
    with pytest.raises(ValidationError) as info:
        await pbx.calls.tts(
            caller="0123456789",
            callee="0987654321",
            template=DEBT,
            params={"customer_name": "A", "due_date": date(2021, 1, 30)},
        )
    assert info.value.field == "params.due_amount"
    assert len(fake.requests) == 0

    await pbx.calls.tts(
        caller="0123456789",
        callee="0987654321",
        template=DEBT,
        params={"customer_name": "A", "due_amount": Amount(5000), "due_date": "30/01/2021"},
    )
    assert fake.dials == {"0987654321": 1}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({}, "callee"),  # neither callee nor callees
        ({"callee": "0987654321", "callees": ["0987654322"]}, "callee"),
        ({"callees": []}, "callees"),
        ({"callees": "0987654321"}, "callees"),
        ({"callees": ["0987654321", "abc"]}, "callees[1]"),
        ({"callees": ["0987654321", "0987654322", "0987654321"]}, "callees[2]"),
        ({"callee": "0987654321", "caller": "x"}, "caller"),
        ({"callee": "0987654321", "params": {"due_date": None}}, "params.due_date"),
        ({"callee": "0987654321", "params": {"due_amount": 10.5}}, "params.due_amount"),
        ({"callee": "0987654321", "params": {"flag": True}}, "params.flag"),
        ({"callee": "0987654321", "params": {"x": ""}}, "params.x"),
        ({"callee": "0987654321", "params": {"template_name": "x"}}, "params.template_name"),
        ({"callee": "0987654321", "params": ["a"]}, "params"),
        ({"callee": "0987654321", "campaign_id": " "}, "campaign_id"),
        ({"callee": "0987654321", "callback_apikey": "k"}, "callback_apikey"),
    ],
)
async def test_tts_rejects_bad_input_and_sends_nothing(
    fake: FakeTel4vn, pbx: AutocallClient, change: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as info:
        await pbx.calls.tts(**{**TTS, **change})
    assert info.value.field == field
    assert len(fake.requests) == 0


# ------------------------------------------------------------------ the retry rule, section 3


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize("kind", ["otp", "tts"])
async def test_a_call_refused_unprocessed_is_retried_once_and_dialled_once(
    fake: FakeTel4vn, pbx: AutocallClient, status: int, kind: str
) -> None:
    path = "/v1/autocall/otp" if kind == "otp" else "/v1/autocall/voice"
    fake.inject(path, status=status, retry_after=0.01 if status == 429 else None)

    if kind == "otp":
        await pbx.calls.otp(**OTP)
    else:
        await pbx.calls.tts(**TTS, callee="0987654321")

    assert fake.count(path) == 2
    assert [r.status for r in fake.received(path)] == [status, 200]
    assert fake.dials == {"0987654321": 1}


@pytest.mark.parametrize("kind", ["otp", "tts"])
async def test_a_call_dropped_after_handling_is_outcome_unknown_with_one_dial(
    fake: FakeTel4vn, pbx: AutocallClient, kind: str
) -> None:
    path = "/v1/autocall/otp" if kind == "otp" else "/v1/autocall/voice"
    fake.inject(path, drop="after", times=3)

    call = pbx.calls.otp(**OTP) if kind == "otp" else pbx.calls.tts(**TTS, callee="0987654321")
    with pytest.raises(OutcomeUnknownError):
        await call

    assert fake.count(path) == 1
    assert fake.dials == {"0987654321": 1}
    assert len(fake.calls_to("0987654321")) == 1  # the report exists: it can be reconciled


@pytest.mark.parametrize(
    "fault", [Fault(status=500), Fault(status=502, html=True), Fault(drop="before")], ids=repr
)
async def test_a_call_that_may_have_been_processed_is_never_retried(
    fake: FakeTel4vn, pbx: AutocallClient, fault: Fault
) -> None:
    fake.inject("/v1/autocall/otp", fault, times=3)
    with pytest.raises((ServerError, OutcomeUnknownError)):
        await pbx.calls.otp(**OTP)
    assert fake.count("/v1/autocall/otp") == 1


async def test_an_answer_without_a_call_id_is_outcome_unknown(
    fake: FakeTel4vn, pbx: AutocallClient
) -> None:
    fake.inject("/v1/autocall/otp", status=200, body={"status": "success"})
    with pytest.raises(OutcomeUnknownError, match="call_id"):
        await pbx.calls.otp(**OTP)
    assert fake.count("/v1/autocall/otp") == 1


async def test_hundreds_of_concurrent_calls_under_faults_never_dial_anyone_twice(
    fake: FakeTel4vn, pbx: AutocallClient
) -> None:
    callees = [f"09{n:08d}" for n in range(400)]
    for fault in (
        Fault(drop="after"),
        Fault(status=503),
        Fault(status=429, retry_after=0.01),
        Fault(status=500),
        Fault(drop="before"),
    ):
        fake.inject("/v1/autocall/otp", fault, times=30)
        fake.inject("/v1/autocall/voice", fault, times=10)

    async def dial(n: int, callee: str) -> str:
        try:
            if n % 4:
                await pbx.calls.otp(**{**OTP, "callee": callee, "code": f"{n:06d}"})
            else:
                await pbx.calls.tts(**TTS, callee=callee)
        except OutcomeUnknownError:
            return "unknown"
        except ServerError:
            return "failed"
        return "ok"

    outcomes = await asyncio.gather(*(dial(n, c) for n, c in enumerate(callees)))

    by_callee = dict(zip(callees, outcomes, strict=True))
    assert max(fake.dials.values()) == 1
    assert all(fake.dials[c] == 1 for c, o in by_callee.items() if o == "ok")
    # Every drop and every 500 (a gateway may have passed the call on) ends one call as
    # unknown; the 429s and 503s were refused unprocessed and retried.
    assert outcomes.count("unknown") == 120
    assert outcomes.count("failed") == 0
    assert outcomes.count("ok") == 280
    assert all(len(fake.calls_to(c)) == fake.dials[c] for c in callees)


# ------------------------------------------------------------------ secrets and token shapes


async def test_callback_apikey_never_reaches_a_repr_log_or_error(
    fake: FakeTel4vn, pbx: AutocallClient, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "hook-secret-4f9a"
    caplog.set_level(logging.DEBUG, logger="tel4vn_async")
    fake.inject(
        "/v1/autocall/otp",
        status=400,
        body={"code": 400, "content": f"callback_apikey {secret} is invalid"},
    )
    with pytest.raises(BadRequestError) as info:
        await pbx.calls.otp(**OTP, callback_url="https://x.vn", callback_apikey=secret)

    assert secret not in str(info.value)
    assert secret not in repr(info.value)
    assert secret not in caplog.text
    assert fake.received("/v1/autocall/otp")[0].json["callback_apikey"] == secret


@pytest.mark.parametrize("style", ["autocall", "pbx", "past", "duration", "flat"])
async def test_calls_work_with_every_token_shape(fake: FakeTel4vn, style: Any) -> None:
    fake.token_style = style
    async with AutocallClient(fake.url, api_key=fake.api_key, retry_policy=FAST_RETRY) as pbx:
        await pbx.calls.otp(**OTP)
        await pbx.calls.otp(**{**OTP, "callee": "0987654322"})
    assert fake.token_requests == 1
    assert fake.dials == {"0987654321": 1, "0987654322": 1}


# ------------------------------------------------------------------ pure body builders


async def test_otp_and_tts_send_what_their_body_builders_build(
    fake: FakeTel4vn, pbx: AutocallClient
) -> None:
    otp_args: dict[str, Any] = {**OTP, "callback_url": "https://x.vn", "callback_apikey": "k"}
    tts_args: dict[str, Any] = {**TTS, "callees": ["0987654321", "0987654322"], "queue": True}
    await pbx.calls.otp(**otp_args)
    await pbx.calls.tts(**tts_args)
    assert fake.received("/v1/autocall/otp")[0].json == otp_body(**otp_args)
    assert fake.received("/v1/autocall/voice")[0].json == tts_body(**tts_args)


def test_body_builders_check_without_sending() -> None:
    with pytest.raises(ValidationError) as info:
        otp_body(**{**OTP, "callee": "12"})
    assert info.value.field == "callee"
    with pytest.raises(ValidationError) as info:
        tts_body(**{**TTS, "callee": "0987654321", "params": {"due_date": object()}})
    assert info.value.field == "params.due_date"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"queue": "yes"}, "queue"),
        ({"queue": None}, "queue"),
        ({"queue": 1}, "queue"),
        ({"callee": 10**400}, "callee"),
        ({"code": 10**400}, "code"),
        ({"code": -5}, "code"),
        ({"code": "\u0661\u0662\u0663"}, "code"),
        ({"template": "otp\x00demo"}, "template"),
        ({"campaign_id": object()}, "campaign_id"),
        ({"callback_url": "https://x.vn/\r\nX: 1"}, "callback_url"),
        ({"callback_url": "https://x.vn", "callback_apikey": object()}, "callback_apikey"),
        (
            {"callback_url": "https://x.vn", "callback_apikey": "hook-secret-77\n"},
            "callback_apikey",
        ),
    ],
)
async def test_otp_refuses_hostile_values_and_never_echoes_the_key(
    fake: FakeTel4vn, pbx: AutocallClient, change: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as info:
        await pbx.calls.otp(**{**OTP, **change})
    assert info.value.field == field
    assert "hook-secret" not in str(info.value)
    assert len(fake.requests) == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"params": {"n": 10**400}}, "params.n"),
        ({"params": {"n": float("nan")}}, "params.n"),
        ({"params": {"n": "x" * 1001}}, "params.n"),
        ({"params": {"n": "a\x00b"}}, "params.n"),
        ({"params": {5: "x"}}, "params"),
        ({"params": {"a\nb": "x"}}, "params"),
        ({"params": {"a": Amount(10**30)}}, "params.a"),
        ({"callees": ["0987654321", None]}, "callees[1]"),
        ({"callees": {"0987654321": 1}}, "callees"),
        ({"queue": "true"}, "queue"),
    ],
)
async def test_tts_refuses_hostile_values(
    fake: FakeTel4vn, pbx: AutocallClient, change: dict[str, Any], field: str
) -> None:
    args = {**TTS, "callee": None if "callees" in change else "0987654321", **change}
    with pytest.raises(ValidationError) as info:
        await pbx.calls.tts(**args)
    assert info.value.field == field
    assert len(fake.requests) == 0
