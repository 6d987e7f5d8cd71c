"""pbx.templates against FakeTel4vn: the JSON sent, the models returned, input checks."""

from __future__ import annotations

from typing import Any

import pytest

from tel4vn_async import AutocallClient, BadRequestError, ValidationError
from tel4vn_async.models.autocall import PressOption, Sound, TtsTemplate, Voice, VoiceType
from tel4vn_async.testing import FakeTel4vn

OTP_CONTENT = "Mã xác nhận của bạn là {{code_otp}} xin nhắc lại mã xác nhận của bạn là {{code_otp}}"
TTS_CONTENT = (
    "Chào bạn {{customer_name}} vui lòng thanh toán khoản nợ {{due_amount}} "
    "trước ngày {{due_date}}, vui lòng bấm phím 1 nếu bạn đã thanh toán"
)


async def test_create_otp_sends_the_spec_body_and_returns_the_template(
    fake: FakeTel4vn, pbx: AutocallClient
) -> None:
    template = await pbx.templates.create_otp(7, "otp_login", OTP_CONTENT, "south-f-03", 1.2)

    assert template.campaign_id == "7"
    assert template.name == "otp_login"
    assert template.voice is Voice.SOUTH_F_03
    assert template.placeholders == {"code_otp"}
    assert template.raw == {"created": "true"}
    [sent] = fake.received("/v1/campaign/7/otp", "POST")
    assert sent.json == {
        "name": "otp_login",
        "voice_tts": "south-f-03",
        "speed_tts": 1.2,
        "content": OTP_CONTENT,
    }
    assert fake.templates["7"]["otp_login"]["kind"] == "otp"


async def test_create_otp_takes_the_enum_member(fake: FakeTel4vn, pbx: AutocallClient) -> None:
    await pbx.templates.create_otp("c1", "otp_x", "code {{code_otp}}", Voice.NORTH_M_02, 0)
    assert fake.received("/v1/campaign/c1/otp")[0].json["voice_tts"] == "north-m-02"


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((1, "n", "no code here", "south-f-03", 1), "content"),
        ((1, "n", "{{ code }}", "south-f-03", 1), "content"),
        ((1, "n", OTP_CONTENT, "south-f-09", 1), "voice"),
        ((1, "n", OTP_CONTENT, "south-f-03", 2.5), "speed"),
        ((1, "n", OTP_CONTENT, "south-f-03", -0.1), "speed"),
        ((1, "n", OTP_CONTENT, "south-f-03", "1"), "speed"),
        ((1, "  ", OTP_CONTENT, "south-f-03", 1), "name"),
        (("", "n", OTP_CONTENT, "south-f-03", 1), "campaign_id"),
        ((None, "n", OTP_CONTENT, "south-f-03", 1), "campaign_id"),
    ],
)
async def test_create_otp_rejects_bad_input_before_sending(
    fake: FakeTel4vn, pbx: AutocallClient, args: tuple[Any, ...], field: str
) -> None:
    with pytest.raises(ValidationError) as info:
        await pbx.templates.create_otp(*args)
    assert info.value.field == field
    assert len(fake.requests) == 0  # nothing sent, not even a token request


async def test_create_tts_sends_the_spec_sample_shape(
    fake: FakeTel4vn, pbx: AutocallClient
) -> None:
    template = await pbx.templates.create_tts(
        1,
        "thong_bao_no_cuoc_02",
        content=TTS_CONTENT,
        voice="south-f-03",
        speed=1.2,
        press_options=[
            {"press_num": 1, "type": "tts", "content": "Cám ơn {{customer_name}} đã thanh toán"},
            PressOption(2, VoiceType.AUDIO_FILE, audio_file="cam_on.wav"),
        ],
        exit_sound={"enable": True, "voice_type": "tts", "content": "Cám ơn {{customer_name}}"},
        invalid_sound=Sound(content="{{customer_name}} đã nhập sai {{wrong_key}}"),
    )

    assert isinstance(template, TtsTemplate)
    assert template.placeholders == {"customer_name", "due_amount", "due_date", "wrong_key"}
    assert template.press_options[0] == PressOption(
        1, VoiceType.TTS, "Cám ơn {{customer_name}} đã thanh toán"
    )
    [sent] = fake.received("/v1/campaign/1/template", "POST")
    assert sent.json == {
        "name": "thong_bao_no_cuoc_02",
        "content": TTS_CONTENT,
        "voice_type": "tts",
        "enable_option": True,
        "voice_tts": "south-f-03",
        "speed_tts": 1.2,
        "press_options": [
            {"press_num": 1, "type": "tts", "content": "Cám ơn {{customer_name}} đã thanh toán"},
            {"press_num": 2, "type": "audio_file", "audio_file": "cam_on.wav"},
        ],
        "exit_sound": {"enable": True, "voice_type": "tts", "content": "Cám ơn {{customer_name}}"},
        "invalid_sound": {
            "enable": True,
            "voice_type": "tts",
            "content": "{{customer_name}} đã nhập sai {{wrong_key}}",
        },
    }


async def test_create_tts_with_an_audio_file(fake: FakeTel4vn, pbx: AutocallClient) -> None:
    template = await pbx.templates.create_tts(
        "1", "nhac_cho", voice_type=VoiceType.AUDIO_FILE, audio_file="AUDIO_1.wav"
    )
    assert template.placeholders == frozenset()
    assert fake.received("/v1/campaign/1/template")[0].json == {
        "name": "nhac_cho",
        "voice_type": "audio_file",
        "audio_file": "AUDIO_1.wav",
        "enable_option": False,
    }


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({}, "content"),
        ({"content": "x", "voice_type": "video"}, "voice_type"),
        ({"content": "x", "audio_file": "a.wav"}, "audio_file"),
        ({"voice_type": "audio_file"}, "audio_file"),
        ({"voice_type": "audio_file", "audio_file": "a.wav", "content": "x"}, "content"),
        ({"voice_type": "audio_file", "audio_file": "a.wav", "voice": "north-m-01"}, "voice"),
        ({"content": "x", "voice": "robot"}, "voice"),
        ({"content": "x", "speed": 3}, "speed"),
        (
            {"content": "x", "press_options": [{"press_num": 10, "content": "y"}]},
            "press_options[0].press_num",
        ),
        ({"content": "x", "press_options": [{"content": "y"}]}, "press_options[0].press_num"),
        ({"content": "x", "press_options": [{"press_num": 1}]}, "press_options[0].content"),
        (
            {"content": "x", "press_options": [{"press_num": 1, "type": "audio_file"}]},
            "press_options[0].audio_file",
        ),
        (
            {"content": "x", "press_options": [{"press_num": 1, "content": "y", "colour": 1}]},
            "press_options[0]",
        ),
        (
            {
                "content": "x",
                "press_options": [{"press_num": 1, "content": "y"}, PressOption(1, content="z")],
            },
            "press_options[1].press_num",
        ),
        ({"content": "x", "press_options": "1"}, "press_options"),
        ({"content": "x", "exit_sound": {"enable": "yes", "content": "y"}}, "exit_sound.enable"),
        ({"content": "x", "invalid_sound": {"voice_type": "tts"}}, "invalid_sound.content"),
        ({"content": "x", "invalid_sound": "beep"}, "invalid_sound"),
    ],
)
async def test_create_tts_rejects_bad_input_before_sending(
    fake: FakeTel4vn, pbx: AutocallClient, kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as info:
        await pbx.templates.create_tts(1, "t", **kwargs)
    assert info.value.field == field
    assert len(fake.requests) == 0


async def test_a_duplicate_name_is_the_servers_bad_request(
    fake: FakeTel4vn, pbx: AutocallClient
) -> None:
    with pytest.raises(BadRequestError, match="already exists"):
        await pbx.templates.create_otp(1, "otp_demo", OTP_CONTENT, "south-f-03", 1)
    assert fake.count("/v1/campaign/1/otp") == 1
