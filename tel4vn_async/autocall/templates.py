"""``pbx.templates``: OTP and text-to-speech templates (``/v1/campaign/{id}/...``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from .._resource import APIResource
from .._validate import (
    MAX_CONTENT,
    MAX_ID,
    check_enum,
    check_flag,
    check_id,
    check_int,
    check_list,
    check_number,
    check_text,
    path_segment,
)
from ..errors import ValidationError
from ..models.autocall import OtpTemplate, PressOption, Sound, TtsTemplate, Voice, VoiceType

__all__ = ["Templates"]

CODE_OTP = "{{code_otp}}"

PressOptionLike = PressOption | Mapping[str, Any]
SoundLike = Sound | Mapping[str, Any]


def _campaign_path(campaign_id: object, kind: str) -> tuple[str, str]:
    """The campaign id as text and the path ``/v1/campaign/{id}/{kind}``."""
    text = check_id(campaign_id, "campaign_id")
    return text, f"/v1/campaign/{path_segment(text, 'campaign_id')}/{kind}"


def _content(value: object, field: str) -> str:
    """Text read aloud: up to 5,000 characters, line breaks allowed, sent as given."""
    return check_text(value, field, max_length=MAX_CONTENT, multiline=True, strip=False)


def _speed(value: object, field: str = "speed") -> float:
    return check_number(value, field, low=0, high=2)


def _check_source(
    voice_type: VoiceType, content: object, audio_file: object, field: str
) -> tuple[str | None, str | None]:
    """tts needs ``content`` and no ``audio_file``; audio_file the other way round.

    Returns:
        ``(content, audio_file)`` as sent, one of them None.
    """

    def name(key: str) -> str:
        return f"{field}.{key}" if field else key

    checked: tuple[str | None, str | None]
    if voice_type is VoiceType.AUDIO_FILE:
        checked = (None, check_text(audio_file, name("audio_file"), max_length=MAX_ID))
        unwanted, other = content, name("content")
    else:
        checked = (_content(content, name("content")), None)
        unwanted, other = audio_file, name("audio_file")
    if unwanted is not None:
        raise ValidationError(
            f"{other} does not go with voice_type {voice_type.value}", field=other
        )
    return checked


def _fields(value: Mapping[Any, Any], allowed: set[str], field: str) -> dict[str, Any]:
    unknown = [k for k in value if k not in allowed]
    if unknown:
        # Sorted by repr: the keys may be of mixed types, which sorted() cannot compare.
        names = sorted(repr(k)[:40] for k in unknown)
        raise ValidationError(
            f"{field} has unknown keys {names}; allowed: {sorted(allowed)}", field=field
        )
    return dict(value)


def press_option(value: object, field: str) -> PressOption:
    """A ``PressOption`` from a model or a dict in the spec's shape, checked."""
    if isinstance(value, Mapping):
        raw = _fields(value, {"press_num", "type", "content", "audio_file"}, field)
        if "press_num" not in raw:
            raise ValidationError(f"{field}.press_num is required", field=f"{field}.press_num")
        type_ = check_enum(raw.get("type", "tts"), VoiceType, f"{field}.type")
        value = PressOption(raw["press_num"], type_, raw.get("content"), raw.get("audio_file"))
    elif not isinstance(value, PressOption):
        raise ValidationError(
            f"{field} must be a PressOption or a dict, got a {type(value).__name__}", field=field
        )
    num = check_int(value.press_num, f"{field}.press_num", low=0, high=9)
    type_ = check_enum(value.type, VoiceType, f"{field}.type")
    content, audio_file = _check_source(type_, value.content, value.audio_file, field)
    return PressOption(num, type_, content, audio_file)


def sound(value: object, field: str) -> Sound:
    """A ``Sound`` from a model or a dict in the spec's shape, checked."""
    if isinstance(value, Mapping):
        raw = _fields(value, {"enable", "voice_type", "content", "audio_file"}, field)
        voice_type = check_enum(raw.get("voice_type", "tts"), VoiceType, f"{field}.voice_type")
        value = Sound(
            voice_type, raw.get("content"), raw.get("audio_file"), raw.get("enable", True)
        )
    elif not isinstance(value, Sound):
        raise ValidationError(
            f"{field} must be a Sound or a dict, got a {type(value).__name__}", field=field
        )
    voice_type = check_enum(value.voice_type, VoiceType, f"{field}.voice_type")
    content, audio_file = _check_source(voice_type, value.content, value.audio_file, field)
    enable = check_flag(value.enable, f"{field}.enable")
    return Sound(voice_type, content, audio_file, enable)


def _press_options(values: object) -> tuple[PressOption, ...]:
    options = check_list(values, "press_options", press_option, max_items=10, allow_empty=True)
    seen: set[int] = set()
    for i, option in enumerate(options):
        if option.press_num in seen:
            raise ValidationError(
                f"press_options[{i}].press_num {option.press_num} is used twice",
                field=f"press_options[{i}].press_num",
            )
        seen.add(option.press_num)
    return tuple(options)


class Templates(APIResource):
    """OTP and text-to-speech templates of a campaign."""

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
            campaign_id: the campaign id the PBX issued (an int or up to 255 characters).
            name: the template's name, unique; calls refer to it (one line, up to 1,000
                characters).
            content: the text read, containing ``{{code_otp}}`` (up to 5,000 characters).
            voice: a ``Voice`` or its value, e.g. ``"south-f-03"``.
            speed: reading speed from 0 to 2 (1 is normal).

        Returns:
            The template, with its ``placeholders``.

        Raises:
            ValidationError: a bad argument, before anything is sent.
        """
        campaign, path = _campaign_path(campaign_id, "otp")
        checked_name = check_text(name, "name")
        text = _content(content, "content")
        if CODE_OTP not in text:
            raise ValidationError(f"content must contain {CODE_OTP}", field="content")
        checked_voice = check_enum(voice, Voice, "voice")
        checked_speed = _speed(speed)
        body = {
            "name": checked_name,
            "voice_tts": checked_voice.value,
            "speed_tts": checked_speed,
            "content": text,
        }
        answer = await self._post(path, json=body)
        return OtpTemplate(
            campaign, checked_name, text, checked_voice, checked_speed, raw=_raw(answer)
        )

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
            campaign_id: as for ``create_otp``; so is ``name``.
            content: the text read (voice_type tts), with ``{{key}}`` placeholders that
                each call fills from its ``params`` (up to 5,000 characters).
            voice_type: ``"tts"`` (read ``content``) or ``"audio_file"`` (play ``audio_file``).
            voice: a ``Voice`` or its value (tts only); None leaves the server's default.
            speed: reading speed from 0 to 2 (tts only); None leaves the server's default.
            audio_file: an uploaded file's name (voice_type audio_file; up to 255
                characters).
            press_options: ``PressOption`` models or dicts
                (``{"press_num": 1, "type": "tts", "content": "..."}``), one per key
                0 to 9.
            exit_sound: a ``Sound`` or dict played when the template ends.
            invalid_sound: a ``Sound`` or dict played on a key with no option.

        Returns:
            The template, with its ``placeholders``.

        Raises:
            ValidationError: a bad argument, before anything is sent.
        """
        campaign, path = _campaign_path(campaign_id, "template")
        checked_name = check_text(name, "name")
        kind = check_enum(voice_type, VoiceType, "voice_type")
        text, audio = _check_source(kind, content, audio_file, "")
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
            checked_name,
            kind,
            text,
            checked_voice,
            checked_speed,
            audio,
            options,
            exit_,
            invalid,
        )
        answer = await self._post(path, json=_tts_body(template))
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
