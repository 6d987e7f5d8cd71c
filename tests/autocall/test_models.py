"""Pure parts of the Autocall models: placeholders, amounts, voices, param formatting."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from tel4vn_async import ValidationError
from tel4vn_async.autocall.calls import format_param
from tel4vn_async.models.autocall import (
    Amount,
    OtpTemplate,
    PressOption,
    Sound,
    SpokenNumber,
    TtsTemplate,
    Voice,
    VoiceType,
    placeholders_of,
)


def test_voices_are_the_six_of_the_spec() -> None:
    assert [v.value for v in Voice] == [
        "north-m-01",
        "north-f-01",
        "north-m-02",
        "north-f-02",
        "south-m-03",
        "south-f-03",
    ]
    assert Voice("SOUTH-F-03") is Voice.SOUTH_F_03


def test_placeholders_are_found_everywhere_in_a_template() -> None:
    assert placeholders_of("a {{x}} b {{ y }} {{x}} {y} {{}}", None) == {"x", "y"}
    template = TtsTemplate(
        "1",
        "t",
        content="{{a}}",
        press_options=(PressOption(1, content="{{b}}"), PressOption(2, VoiceType.AUDIO_FILE)),
        exit_sound=Sound(content="{{c}}"),
        invalid_sound=Sound(VoiceType.AUDIO_FILE, audio_file="x.wav"),
    )
    assert template.placeholders == {"a", "b", "c"}
    otp = OtpTemplate("1", "o", "{{code_otp}} {{code_otp}}", Voice.NORTH_F_01, 1.0)
    assert otp.placeholders == {"code_otp"}


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Amount(10410000), "10.410.000"),
        (Amount(999), "999"),
        (Amount(1000), "1.000"),
        (Amount(-25000), "-25.000"),
        (Amount(Decimal("5000")), "5.000"),
        (SpokenNumber(15), "#15"),
        (date(2021, 1, 30), "30/01/2021"),
        (datetime(2021, 1, 30, 23, 59), "30/01/2021"),
        ("Nguyễn Văn A", "Nguyễn Văn A"),
        (123456789, 123456789),
    ],
)
def test_param_values_follow_the_spec_formatting_notes(value: object, text: object) -> None:
    assert format_param(value, "params.k") == text


def test_amounts_must_be_whole() -> None:
    with pytest.raises(ValueError, match="whole"):
        Amount(Decimal("10.5"))
    with pytest.raises(TypeError):
        Amount(10.0)


@pytest.mark.parametrize("value", [None, True, 1.5, [1], {"a": 1}, ""])
def test_other_param_values_are_refused(value: object) -> None:
    with pytest.raises(ValidationError) as info:
        format_param(value, "params.k")
    assert info.value.field == "params.k"
