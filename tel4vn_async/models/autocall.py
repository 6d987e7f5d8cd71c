"""Models of the Autocall (PBX) API: voices, templates, call results, call reports."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs

from .._enums import ApiEnum
from ._base import Model

__all__ = [
    "Amount",
    "AudioUpload",
    "CallResult",
    "OtpTemplate",
    "PressOption",
    "Report",
    "Sound",
    "SpokenNumber",
    "TtsTemplate",
    "Voice",
    "VoiceType",
    "placeholders_of",
]

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")


def placeholders_of(*texts: str | None) -> frozenset[str]:
    """The ``{{key}}`` names used in ``texts``."""
    return frozenset(m.group(1) for text in texts if text for m in _PLACEHOLDER.finditer(text))


def _whole(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise TypeError(f"expected an int, got {value!r}")
    if value != int(value):
        raise ValueError(f"expected a whole number, got {value!r}")
    return int(value)


@attrs.frozen
class Amount(Model):
    """A sum of money for a TTS call's params, read as an amount: ``Amount(10410000)``
    is sent as ``"10.410.000"`` and read "mười triệu bốn trăm mười nghìn"."""

    value: int = attrs.field(converter=_whole)
    """The whole amount."""

    def __str__(self) -> str:
        sign = "-" if self.value < 0 else ""
        return sign + f"{abs(self.value):,}".replace(",", ".")


@attrs.frozen
class SpokenNumber(Model):
    """A number for a TTS call's params, read as a number: ``SpokenNumber(15)`` is sent as
    ``"#15"`` and read "mười lăm" (a plain int is read digit by digit)."""

    value: int = attrs.field(converter=_whole)
    """The number."""

    def __str__(self) -> str:
        return f"#{self.value}"


class Voice(ApiEnum):
    """A text-to-speech voice (``voice_tts``)."""

    NORTH_M_01 = "north-m-01"
    """Northern 1, male."""
    NORTH_F_01 = "north-f-01"
    """Northern 1, female."""
    NORTH_M_02 = "north-m-02"
    """Northern 2, male."""
    NORTH_F_02 = "north-f-02"
    """Northern 2, female."""
    SOUTH_M_03 = "south-m-03"
    """Southern 1, male."""
    SOUTH_F_03 = "south-f-03"
    """Southern 1, female."""


class VoiceType(ApiEnum):
    """What a template (or a key press, exit or invalid-key sound) plays."""

    TTS = "tts"
    """Text read aloud by a voice."""
    AUDIO_FILE = "audio_file"
    """An uploaded audio file."""


@attrs.frozen
class PressOption(Model):
    """What to play when the callee presses a key (``press_options`` of a TTS template)."""

    press_num: int
    """The key, 0 to 9."""
    type: VoiceType = VoiceType.TTS
    """Read ``content`` aloud, or play ``audio_file``."""
    content: str | None = None
    """The text to read, with ``{{key}}`` placeholders (type tts)."""
    audio_file: str | None = None
    """The uploaded audio file's name (type audio_file)."""

    def to_json(self) -> dict[str, Any]:
        """The option in the spec's shape."""
        body: dict[str, Any] = {"press_num": self.press_num, "type": self.type.value}
        if self.content is not None:
            body["content"] = self.content
        if self.audio_file is not None:
            body["audio_file"] = self.audio_file
        return body


@attrs.frozen
class Sound(Model):
    """What to play at the end of a template (``exit_sound``) or on a wrong key
    (``invalid_sound``)."""

    voice_type: VoiceType = VoiceType.TTS
    """Read ``content`` aloud, or play ``audio_file``."""
    content: str | None = None
    """The text to read, with ``{{key}}`` placeholders (voice_type tts)."""
    audio_file: str | None = None
    """The uploaded audio file's name (voice_type audio_file)."""
    enable: bool = True
    """Whether the sound is played at all."""

    def to_json(self) -> dict[str, Any]:
        """The sound in the spec's shape."""
        body: dict[str, Any] = {"enable": self.enable, "voice_type": self.voice_type.value}
        if self.content is not None:
            body["content"] = self.content
        if self.audio_file is not None:
            body["audio_file"] = self.audio_file
        return body


@attrs.frozen
class OtpTemplate(Model):
    """An OTP template, as created by ``pbx.templates.create_otp``."""

    campaign_id: str
    """The campaign it belongs to (the ``{campaignId}`` of its URL)."""
    name: str
    """Its unique name: what ``pbx.calls.otp(template=...)`` refers to."""
    content: str
    """The text read to the callee, with ``{{code_otp}}`` where the code goes."""
    voice: Voice
    """The voice reading it."""
    speed: float
    """Reading speed, 0 to 2 (1 is normal)."""
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)
    """The server's answer, as received."""

    @property
    def placeholders(self) -> frozenset[str]:
        """The ``{{key}}`` names the content uses (``code_otp`` at least)."""
        return placeholders_of(self.content)


@attrs.frozen
class TtsTemplate(Model):
    """A text-to-speech template, as created by ``pbx.templates.create_tts``."""

    campaign_id: str
    """The campaign it belongs to (the ``{campaignId}`` of its URL)."""
    name: str
    """Its unique name: what ``pbx.calls.tts(template=...)`` refers to."""
    voice_type: VoiceType = VoiceType.TTS
    """Whether it reads ``content`` aloud or plays ``audio_file``."""
    content: str | None = None
    """The text read to the callee, with ``{{key}}`` placeholders (voice_type tts)."""
    voice: Voice | None = None
    """The voice reading it; None leaves the server's default."""
    speed: float | None = None
    """Reading speed, 0 to 2; None leaves the server's default."""
    audio_file: str | None = None
    """The uploaded audio file it plays (voice_type audio_file)."""
    press_options: tuple[PressOption, ...] = ()
    """What each key press plays."""
    exit_sound: Sound | None = None
    """What plays when the template ends."""
    invalid_sound: Sound | None = None
    """What plays when the callee presses a key with no option."""
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)
    """The server's answer, as received."""

    @property
    def placeholders(self) -> frozenset[str]:
        """Every ``{{key}}`` name used anywhere in the template: the ``params`` a call needs."""
        sounds = [s for s in (self.exit_sound, self.invalid_sound) if s is not None]
        return placeholders_of(
            self.content, *(o.content for o in self.press_options), *(s.content for s in sounds)
        )


@attrs.frozen
class CallResult(Model):
    """The answer to an OTP or TTS call request."""

    call_id: str
    """The call's id: look it up with ``pbx.reports.get(call_id)``."""
    status: str = "success"
    """The server's status, ``success`` (failures raise instead)."""
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)
    """The response's fields as received, unknown ones included."""


@attrs.frozen
class AudioUpload(Model):
    """An uploaded audio file."""

    filename: str
    """The name it was uploaded under: use it as a template's ``audio_file``."""
    size: int
    """How many bytes were sent."""
    created: bool = True
    """Whether the server said it was created."""
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)
    """The server's answer, as received."""


@attrs.frozen
class Report(Model):
    """One autocall call's report (``GET /v1/report``)."""

    call_id: str
    """The call's id, as returned when it was placed."""
    caller: str | None = None
    """The number that called."""
    callee: str | None = None
    """The number called."""
    campaign_id: str | None = None
    """The campaign it belongs to."""
    create_time: datetime | None = None
    """When the call was created."""
    start_time: datetime | None = None
    """When the call started."""
    answer_time: datetime | None = None
    """When the callee answered; None if never."""
    end_time: datetime | None = None
    """When the call ended."""
    duration: int | None = None
    """Seconds from start to end."""
    billsec: int | None = None
    """Seconds from answer to end."""
    keypress: str | None = None
    """The key the callee pressed; None if none."""
    user_id: str | None = None
    """The account that placed the call."""
    param: dict[str, Any] = attrs.field(factory=dict)
    """The call's parameters (``template_name`` and the template keys), decoded from JSON."""
    type: str | None = None
    """``OTP`` or ``VOICE``."""
    hangup_cause: str | None = None
    """How the call ended, e.g. ``NORMAL_CLEARING``."""
    call_time: int | None = None
    """How many times the call was tried."""
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)
    """The record's fields as received, unknown ones included."""
