"""``pbx.calls``: OTP and text-to-speech calls (``/v1/autocall/otp``, ``/v1/autocall/voice``).

These requests ring phones, so they go out with ``places_call=True``: retried only when
the server provably never got them (no connection, 429, 503); any other failure after
sending raises ``OutcomeUnknownError`` and is never retried.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from .._resource import APIResource
from .._validate import (
    check_flag,
    check_id,
    check_int,
    check_key,
    check_list,
    check_phone,
    check_secret,
    check_text,
    check_url,
)
from ..errors import OutcomeUnknownError, ValidationError
from ..models.autocall import Amount, CallResult, OtpTemplate, SpokenNumber, TtsTemplate

__all__ = ["Calls", "format_param", "otp_body", "tts_body"]

ParamValue = str | int | date | Amount | SpokenNumber
_OTP_CODE = re.compile(r"[0-9A-Za-z]{1,16}")
_RESERVED = "template_name"
# Ints in a JSON body fit the server's 64-bit integers.
_LOW, _HIGH = -(2**63), 2**63 - 1


def format_param(value: object, field: str) -> str | int:
    """A template key's value the way the TTS engine reads it right.

    ``date`` and ``datetime`` become ``dd/mm/yyyy``; ``Amount`` becomes ``"10.410.000"``
    (read as an amount), ``SpokenNumber`` ``"#15"`` (read as a number); an ``int`` is
    sent as is (read digit by digit) and a ``str`` untouched (up to 1,000 characters,
    line breaks allowed).

    Raises:
        ValidationError: another type (a float, a bool, None), an empty string, or a
            number that does not fit 64 bits.
    """
    if isinstance(value, Amount | SpokenNumber):
        check_int(value.value, field, low=_LOW, high=_HIGH)
        return str(value)
    if isinstance(value, bool):
        raise ValidationError(f"{field} must be text, a number or a date, got a bool", field=field)
    if isinstance(value, date):  # datetime too: the day is what a template reads
        # Not strftime: "%Y" drops the zero padding of years before 1000 on glibc.
        return f"{value.day:02d}/{value.month:02d}/{value.year:04d}"
    if isinstance(value, int):
        return check_int(value, field, low=_LOW, high=_HIGH)
    if isinstance(value, str):
        return check_text(value, field, multiline=True, strip=False)
    hint = " (wrap an amount in Amount(...) or a number in SpokenNumber(...))"
    raise ValidationError(
        f"{field} must be a str, an int, a date, Amount or SpokenNumber, got a "
        f"{type(value).__name__}" + (hint if isinstance(value, float) else ""),
        field=field,
    )


def _template_name(template: object, kind: type[OtpTemplate | TtsTemplate]) -> str:
    if isinstance(template, OtpTemplate | TtsTemplate):
        if not isinstance(template, kind):
            raise ValidationError(
                f"template must be a {kind.__name__} or a name, got a {type(template).__name__}",
                field="template",
            )
        template = template.name
    return check_text(template, "template")


def _callback(url: object, apikey: object) -> dict[str, str]:
    out: dict[str, str] = {}
    if url is not None:
        out["callback_url"] = check_url(url, "callback_url")
    if apikey is not None:
        if url is None:
            raise ValidationError(
                "callback_apikey needs a callback_url to be sent to", field="callback_apikey"
            )
        out["callback_apikey"] = check_secret(apikey, "callback_apikey")
    return out


def _callees(callee: object, callees: object) -> dict[str, Any]:
    if (callee is None) == (callees is None):
        raise ValidationError("give exactly one of callee or callees", field="callee")
    if callee is not None:
        return {"callee": check_phone(callee, "callee")}
    # A number listed twice would be dialled twice.
    return {"callees": check_list(callees, "callees", check_phone, unique=True)}


def _params(params: object, template: object) -> dict[str, str | int]:
    if params is not None and not isinstance(params, Mapping):
        raise ValidationError(
            f"params must be a mapping, got a {type(params).__name__}", field="params"
        )
    out: dict[str, str | int] = {}
    for key, value in (params or {}).items():
        name = check_key(key, "params")
        if name == _RESERVED:
            raise ValidationError(
                "params must not set template_name: pass template= instead",
                field="params.template_name",
            )
        out[name] = format_param(value, f"params.{name}")
    if isinstance(template, TtsTemplate):
        missing = sorted(template.placeholders - set(out))
        if missing:
            raise ValidationError(
                f"params lack the template's keys {missing}", field=f"params.{missing[0]}"
            )
    return out


def _queue(queue: object) -> dict[str, bool]:
    return {"queue": True} if check_flag(queue, "queue") else {}


def otp_body(
    *,
    campaign_id: int | str,
    caller: str,
    callee: str,
    template: str | OtpTemplate,
    code: str | int,
    callback_url: str | None = None,
    callback_apikey: str | None = None,
    queue: bool = False,
) -> dict[str, Any]:
    """The body of an OTP call, checked: what ``Calls.otp`` sends, with nothing sent.

    A bulk runner can check a job with it before dialling. Arguments as for ``Calls.otp``.

    Returns:
        The JSON body of ``POST /v1/autocall/otp``.

    Raises:
        ValidationError: a bad argument; ``field`` names it.
    """
    body: dict[str, Any] = {
        "campaign_id": check_id(campaign_id, "campaign_id"),
        "caller": check_phone(caller, "caller"),
        "callee": check_phone(callee, "callee"),
    }
    name = _template_name(template, OtpTemplate)
    code_text = check_id(code, "code", max_length=16)
    if not _OTP_CODE.fullmatch(code_text):
        raise ValidationError("code must be 1 to 16 letters or digits", field="code")
    body["param"] = {"template_name": name, "code_otp": code_text}
    body.update(_callback(callback_url, callback_apikey))
    body.update(_queue(queue))
    return body


def tts_body(
    *,
    caller: str,
    template: str | TtsTemplate,
    callee: str | None = None,
    callees: Iterable[str] | None = None,
    params: Mapping[str, ParamValue] | None = None,
    campaign_id: int | str | None = None,
    callback_url: str | None = None,
    callback_apikey: str | None = None,
    queue: bool = False,
) -> dict[str, Any]:
    """The body of a text-to-speech call, checked: what ``Calls.tts`` sends, with nothing
    sent.

    A bulk runner can check a job with it before dialling. Arguments as for ``Calls.tts``.

    Returns:
        The JSON body of ``POST /v1/autocall/voice``.

    Raises:
        ValidationError: a bad argument; ``field`` names it.
    """
    body: dict[str, Any] = {}
    if campaign_id is not None:
        body["campaign_id"] = check_id(campaign_id, "campaign_id")
    body["caller"] = check_phone(caller, "caller")
    body.update(_callees(callee, callees))
    name = _template_name(template, TtsTemplate)
    body["param"] = {"template_name": name, **_params(params, template)}
    body.update(_callback(callback_url, callback_apikey))
    body.update(_queue(queue))
    return body


class Calls(APIResource):
    """OTP and text-to-speech calls: each request rings phones."""

    async def otp(
        self,
        *,
        campaign_id: int | str,
        caller: str,
        callee: str,
        template: str | OtpTemplate,
        code: str | int,
        callback_url: str | None = None,
        callback_apikey: str | None = None,
        queue: bool = False,
    ) -> CallResult:
        """Call ``callee`` and read ``code`` with an OTP template.

        API: POST /v1/autocall/otp

        Args:
            campaign_id: the campaign id the PBX issued (an int or up to 255 characters).
            caller: the number (hotline) calling: 3 to 15 digits, an optional ``+``.
            callee: the number to call, likewise.
            template: an OTP template's name (up to 1,000 characters), or the
                ``OtpTemplate`` itself.
            code: the code to read, 1 to 16 ASCII letters or digits.
            callback_url: where the PBX posts this call's events (http or https, up to
                2,048 characters).
            callback_apikey: the key the PBX sends with them (a secret: never logged nor
                shown in an error; one line, up to 1,000 characters); needs a callback_url.
            queue: queue the call when the plan's concurrent calls are in use (a bool).

        Returns:
            The call's id and status.

        Raises:
            ValidationError: a bad argument, before anything is sent.
            OutcomeUnknownError: the request may have reached the server but its answer
                was lost: the phone may be ringing. It is not retried.
        """
        body = otp_body(
            campaign_id=campaign_id,
            caller=caller,
            callee=callee,
            template=template,
            code=code,
            callback_url=callback_url,
            callback_apikey=callback_apikey,
            queue=queue,
        )
        return await self._place("/v1/autocall/otp", body)

    async def tts(
        self,
        *,
        caller: str,
        template: str | TtsTemplate,
        callee: str | None = None,
        callees: Iterable[str] | None = None,
        params: Mapping[str, ParamValue] | None = None,
        campaign_id: int | str | None = None,
        callback_url: str | None = None,
        callback_apikey: str | None = None,
        queue: bool = False,
    ) -> CallResult:
        """Call ``callee`` (or each of ``callees``) and read a template filled with ``params``.

        API: POST /v1/autocall/voice

        Args:
            caller: the number (hotline) calling: 3 to 15 digits, an optional ``+``.
            template: a TTS template's name (up to 1,000 characters), or the
                ``TtsTemplate`` itself (then ``params`` must fill each of its placeholders).
            callee: the number to call; or
            callees: several numbers to call (each listed once, 100,000 at most).
            params: the template's keys: ``str`` as is (up to 1,000 characters),
                ``int`` read digit by digit, ``date`` as dd/mm/yyyy,
                ``Amount(10410000)`` as an amount, ``SpokenNumber(15)`` as a number.
            campaign_id: the campaign id the PBX issued, if any.
            callback_url: where the PBX posts the calls' events (http or https).
            callback_apikey: the key the PBX sends with them (a secret: never logged nor
                shown in an error); needs a callback_url.
            queue: queue the call when the plan's concurrent calls are in use (a bool).

        Returns:
            The call's id and status.

        Raises:
            ValidationError: a bad argument, before anything is sent.
            OutcomeUnknownError: the request may have reached the server but its answer
                was lost: the phones may be ringing. It is not retried.
        """
        body = tts_body(
            caller=caller,
            template=template,
            callee=callee,
            callees=callees,
            params=params,
            campaign_id=campaign_id,
            callback_url=callback_url,
            callback_apikey=callback_apikey,
            queue=queue,
        )
        return await self._place("/v1/autocall/voice", body)

    async def _place(self, path: str, body: dict[str, Any]) -> CallResult:
        result = await self._post(path, json=body, places_call=True, cast_to=CallResult)
        if not result.call_id:
            # Answered "success" but without an id: the call may well be ringing.
            raise OutcomeUnknownError(
                "the server answered without a call_id", status=200, method="POST", path=path
            )
        return result
