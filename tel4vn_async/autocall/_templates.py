"""``pbx.templates``: OTP and text-to-speech templates (``/v1/campaign/{id}/...``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import attrs

from .._sansio import Request
from .._validate import check_enum, check_range, require
from ..errors import ValidationError
from ..models.autocall import OtpTemplate, PressOption, Sound, TtsTemplate, Voice, VoiceType

if TYPE_CHECKING:
    from .._client import BaseClient

__all__ = ["Templates", "campaign_text"]

CODE_OTP = "{{code_otp}}"

PressOptionLike = PressOption | Mapping[str, Any]
SoundLike = Sound | Mapping[str, Any]


def campaign_text(campaign_id: object) -> str:
    """A campaign id (an int or a string) as the text sent, or ValidationError."""
    if isinstance(campaign_id, bool) or not isinstance(campaign_id, int | str):
        raise ValidationError(
            f"campaign_id must be an int or a string, got {campaign_id!r}", field="campaign_id"
        )
    text = str(campaign_id).strip()
    require(text, "campaign_id")
    return text


def _campaign_path(campaign_id: int | str, kind: str) -> tuple[str, str]:
    """The campaign id as text and the path ``/v1/campaign/{id}/{kind}``."""
    text = campaign_text(campaign_id)
    return text, f"/v1/campaign/{quote(text, safe='')}/{kind}"


def _name(name: str) -> str:
    if not isinstance(name, str):
        raise ValidationError(f"name must be a string, got {name!r}", field="name")
    require(name, "name")
    return name.strip()


def _speed(speed: float, field: str = "speed") -> float:
    return float(check_range(speed, 0, 2, field))


def _text(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{field} must be a string, got {value!r}", field=field)
    require(value, field)
    return value


def _check_source(
    voice_type: VoiceType, content: str | None, audio_file: str | None, field: str
) -> None:
    """tts needs ``content`` and no ``audio_file``; audio_file the other way round."""
    wanted, unwanted = ("content", "audio_file")
    if voice_type is VoiceType.AUDIO_FILE:
        wanted, unwanted = unwanted, wanted
    values = {"content": content, "audio_file": audio_file}
    _text(values[wanted], f"{field}.{wanted}" if field else wanted)
    if values[unwanted] is not None:
        name = f"{field}.{unwanted}" if field else unwanted
        raise ValidationError(f"{name} does not go with voice_type {voice_type.value}", field=name)


def _fields(value: Mapping[str, Any], allowed: set[str], field: str) -> dict[str, Any]:
    unknown = set(value) - allowed
    if unknown:
        raise ValidationError(
            f"{field} has unknown keys {sorted(unknown)}; allowed: {sorted(allowed)}", field=field
        )
    return dict(value)


def press_option(value: PressOptionLike, field: str) -> PressOption:
    """A ``PressOption`` from a model or a dict in the spec's shape, checked."""
    if isinstance(value, Mapping):
        raw = _fields(value, {"press_num", "type", "content", "audio_file"}, field)
        if "press_num" not in raw:
            raise ValidationError(f"{field}.press_num is required", field=f"{field}.press_num")
        type_ = check_enum(raw.get("type", "tts"), VoiceType, f"{field}.type")
        value = PressOption(raw["press_num"], type_, raw.get("content"), raw.get("audio_file"))
    elif not isinstance(value, PressOption):
        raise ValidationError(
            f"{field} must be a PressOption or a dict, got {value!r}", field=field
        )
    num = value.press_num
    if isinstance(num, bool) or not isinstance(num, int) or not 0 <= num <= 9:
        raise ValidationError(
            f"{field}.press_num must be a key from 0 to 9, got {num!r}", field=f"{field}.press_num"
        )
    type_ = check_enum(value.type, VoiceType, f"{field}.type")
    _check_source(type_, value.content, value.audio_file, field)
    return PressOption(num, type_, value.content, value.audio_file)


def sound(value: SoundLike, field: str) -> Sound:
    """A ``Sound`` from a model or a dict in the spec's shape, checked."""
    if isinstance(value, Mapping):
        raw = _fields(value, {"enable", "voice_type", "content", "audio_file"}, field)
        voice_type = check_enum(raw.get("voice_type", "tts"), VoiceType, f"{field}.voice_type")
        enable = raw.get("enable", True)
        if not isinstance(enable, bool):
            raise ValidationError(
                f"{field}.enable must be true or false, got {enable!r}", field=f"{field}.enable"
            )
        value = Sound(voice_type, raw.get("content"), raw.get("audio_file"), enable)
    elif not isinstance(value, Sound):
        raise ValidationError(f"{field} must be a Sound or a dict, got {value!r}", field=field)
    voice_type = check_enum(value.voice_type, VoiceType, f"{field}.voice_type")
    _check_source(voice_type, value.content, value.audio_file, field)
    return Sound(voice_type, value.content, value.audio_file, value.enable)


def _press_options(values: Iterable[PressOptionLike]) -> tuple[PressOption, ...]:
    if isinstance(values, str | bytes | Mapping):
        raise ValidationError("press_options must be a list of options", field="press_options")
    options = tuple(press_option(v, f"press_options[{i}]") for i, v in enumerate(values))
    seen: set[int] = set()
    for i, option in enumerate(options):
        if option.press_num in seen:
            raise ValidationError(
                f"press_options[{i}].press_num {option.press_num} is used twice",
                field=f"press_options[{i}].press_num",
            )
        seen.add(option.press_num)
    return options


class Templates:
    """OTP and text-to-speech templates of a campaign."""

    def __init__(self, client: BaseClient) -> None:
        self._client = client

    async def create_otp(
        self,
        campaign_id: int | str,
        name: str,
        content: str,
        voice: Voice | str,
        speed: float,
    ) -> OtpTemplate:
        """Create an OTP template: ``content`` read aloud with the code at ``{{code_otp}}``.

        API: POST /v1/campaign/{campaignId}/otp

        Args:
            campaign_id: the campaign id the PBX issued.
            name: the template's name, unique; calls refer to it.
            content: the text read, containing ``{{code_otp}}``.
            voice: a ``Voice`` or its value, e.g. ``"south-f-03"``.
            speed: reading speed from 0 to 2 (1 is normal).

        Returns:
            The template, with its ``placeholders``.

        Raises:
            ValidationError: a bad argument, before anything is sent.
        """
        campaign, path = _campaign_path(campaign_id, "otp")
        name = _name(name)
        content = _text(content, "content")
        if CODE_OTP not in content:
            raise ValidationError(f"content must contain {CODE_OTP}", field="content")
        voice = check_enum(voice, Voice, "voice")
        speed = _speed(speed)
        body = {"name": name, "voice_tts": voice.value, "speed_tts": speed, "content": content}
        answer = await self._client._send(Request("POST", path, json=body))
        return OtpTemplate(campaign, name, content, voice, speed, raw=_raw(answer))

    async def create_tts(
        self,
        campaign_id: int | str,
        name: str,
        *,
        content: str | None = None,
        voice_type: VoiceType | str = "tts",
        voice: Voice | str | None = None,
        speed: float | None = None,
        audio_file: str | None = None,
        press_options: Iterable[PressOptionLike] = (),
        exit_sound: SoundLike | None = None,
        invalid_sound: SoundLike | None = None,
    ) -> TtsTemplate:
        """Create a text-to-speech (or audio file) template, with optional key presses.

        API: POST /v1/campaign/{campaignId}/template

        Args:
            campaign_id: the campaign id the PBX issued.
            name: the template's name, unique; calls refer to it.
            content: the text read (voice_type tts), with ``{{key}}`` placeholders that
                each call fills from its ``params``.
            voice_type: ``"tts"`` (read ``content``) or ``"audio_file"`` (play ``audio_file``).
            voice: a ``Voice`` or its value (tts only); None leaves the server's default.
            speed: reading speed from 0 to 2 (tts only); None leaves the server's default.
            audio_file: an uploaded file's name (voice_type audio_file).
            press_options: ``PressOption`` models or dicts
                (``{"press_num": 1, "type": "tts", "content": "..."}``), one per key.
            exit_sound: a ``Sound`` or dict played when the template ends.
            invalid_sound: a ``Sound`` or dict played on a key with no option.

        Returns:
            The template, with its ``placeholders``.

        Raises:
            ValidationError: a bad argument, before anything is sent.
        """
        campaign, path = _campaign_path(campaign_id, "template")
        name = _name(name)
        kind = check_enum(voice_type, VoiceType, "voice_type")
        _check_source(kind, content, audio_file, "")
        if kind is VoiceType.AUDIO_FILE and (voice is not None or speed is not None):
            field = "voice" if voice is not None else "speed"
            raise ValidationError(f"{field} is for voice_type tts only", field=field)
        checked_voice = None if voice is None else check_enum(voice, Voice, "voice")
        checked_speed = None if speed is None else _speed(speed)
        options = _press_options(press_options)
        exit_ = None if exit_sound is None else sound(exit_sound, "exit_sound")
        invalid = None if invalid_sound is None else sound(invalid_sound, "invalid_sound")
        template = TtsTemplate(
            campaign,
            name,
            kind,
            content,
            checked_voice,
            checked_speed,
            audio_file,
            options,
            exit_,
            invalid,
        )
        answer = await self._client._send(Request("POST", path, json=_tts_body(template)))
        return attrs.evolve(template, raw=_raw(answer))


def _tts_body(t: TtsTemplate) -> dict[str, Any]:
    body: dict[str, Any] = {"name": t.name, "voice_type": t.voice_type.value}
    if t.content is not None:
        body["content"] = t.content
    if t.audio_file is not None:
        body["audio_file"] = t.audio_file
    if t.voice is not None:
        body["voice_tts"] = t.voice.value
    if t.speed is not None:
        body["speed_tts"] = t.speed
    body["enable_option"] = bool(t.press_options)
    if t.press_options:
        body["press_options"] = [o.to_json() for o in t.press_options]
    if t.exit_sound is not None:
        body["exit_sound"] = t.exit_sound.to_json()
    if t.invalid_sound is not None:
        body["invalid_sound"] = t.invalid_sound.to_json()
    return body


def _raw(answer: object) -> dict[str, Any]:
    return dict(answer) if isinstance(answer, Mapping) else {}
