"""``pbx.calls``: OTP and text-to-speech calls (``/v1/autocall/otp``, ``/v1/autocall/voice``).

These requests ring phones, so they go out with ``places_call=True``: retried only when
the server provably never got them (no connection, 429, 503); any other failure after
sending raises ``OutcomeUnknownError`` and is never retried.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from .._convert import structure
from .._sansio import Request
from .._validate import check_each, check_phone, require
from ..errors import OutcomeUnknownError, ValidationError
from ..models.autocall import Amount, CallResult, OtpTemplate, SpokenNumber, TtsTemplate
from ._templates import campaign_text

if TYPE_CHECKING:
    from .._client import BaseClient

__all__ = ["Calls", "format_param"]

ParamValue = str | int | date | Amount | SpokenNumber
_OTP_CODE = re.compile(r"^[0-9A-Za-z]{1,16}$")
_RESERVED = "template_name"


def format_param(value: object, field: str) -> str | int:
    """A template key's value the way the TTS engine reads it right.

    ``date`` and ``datetime`` become ``dd/mm/yyyy``; ``Amount`` becomes ``"10.410.000"``
    (read as an amount), ``SpokenNumber`` ``"#15"`` (read as a number); an ``int`` is
    sent as is (read digit by digit) and a ``str`` untouched.
    """
    if isinstance(value, Amount | SpokenNumber):
        return str(value)
    if isinstance(value, bool):
        raise ValidationError(f"{field} must be text, a number or a date, got a bool", field=field)
    if isinstance(value, date):  # datetime too: the day is what a template reads
        return value.strftime("%d/%m/%Y")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        require(value, field)
        return value
    hint = " (wrap an amount in Amount(...) or a number in SpokenNumber(...))"
    raise ValidationError(
        f"{field} must be a str, an int, a date, Amount or SpokenNumber, got {value!r}"
        + (hint if isinstance(value, float) else ""),
        field=field,
    )


def _template_name(
    template: str | OtpTemplate | TtsTemplate, kind: type[OtpTemplate | TtsTemplate]
) -> str:
    if isinstance(template, OtpTemplate | TtsTemplate):
        if not isinstance(template, kind):
            raise ValidationError(
                f"template must be a {kind.__name__} or a name, got a {type(template).__name__}",
                field="template",
            )
        name: str = template.name
        return name
    if not isinstance(template, str):
        raise ValidationError(f"template must be a name, got {template!r}", field="template")
    require(template, "template")
    return template.strip()


def _callback(url: str | None, apikey: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    if url is not None:
        if not isinstance(url, str) or not url.strip().lower().startswith(("http://", "https://")):
            raise ValidationError(
                "callback_url must be an http:// or https:// URL", field="callback_url"
            )
        out["callback_url"] = url.strip()
    if apikey is not None:
        if url is None:
            raise ValidationError(
                "callback_apikey needs a callback_url to be sent to", field="callback_apikey"
            )
        if not isinstance(apikey, str) or not apikey.strip():
            # The value is a secret: it never goes into the message.
            raise ValidationError(
                "callback_apikey must be a non-empty string", field="callback_apikey"
            )
        out["callback_apikey"] = apikey
    return out


def _callees(callee: str | None, callees: Iterable[str] | None) -> dict[str, Any]:
    if (callee is None) == (callees is None):
        raise ValidationError("give exactly one of callee or callees", field="callee")
    if callee is not None:
        return {"callee": check_phone(callee, "callee")}
    assert callees is not None
    numbers = [
        check_phone(c, f"callees[{i}]") for i, c in enumerate(check_each(callees, "callees"))
    ]
    for i, number in enumerate(numbers):
        if number in numbers[:i]:
            raise ValidationError(
                f"callees[{i}] {number} is listed twice: it would be dialled twice",
                field=f"callees[{i}]",
            )
    return {"callees": numbers}


def _params(
    params: Mapping[str, ParamValue] | None, template: str | OtpTemplate | TtsTemplate
) -> dict[str, str | int]:
    if params is not None and not isinstance(params, Mapping):
        raise ValidationError(f"params must be a mapping, got {params!r}", field="params")
    out: dict[str, str | int] = {}
    for key, value in (params or {}).items():
        if not isinstance(key, str) or not key.strip():
            raise ValidationError(f"params keys must be names, got {key!r}", field="params")
        if key == _RESERVED:
            raise ValidationError(
                "params must not set template_name: pass template= instead",
                field="params.template_name",
            )
        out[key] = format_param(value, f"params.{key}")
    if isinstance(template, TtsTemplate):
        missing = sorted(template.placeholders - set(out))
        if missing:
            raise ValidationError(
                f"params lack the template's keys {missing}", field=f"params.{missing[0]}"
            )
    return out


class Calls:
    """OTP and text-to-speech calls: each request rings phones."""

    def __init__(self, client: BaseClient) -> None:
        self._client = client

    async def otp(
        self,
        *,
        campaign_id: str,
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
            campaign_id: the campaign id the PBX issued.
            caller: the number (hotline) calling.
            callee: the number to call.
            template: an OTP template's name, or the ``OtpTemplate`` itself.
            code: the code to read, 1 to 16 letters or digits.
            callback_url: where the PBX posts this call's events.
            callback_apikey: the key the PBX sends with them (a secret: never logged).
            queue: queue the call when the plan's concurrent calls are in use.

        Returns:
            The call's id and status.

        Raises:
            ValidationError: a bad argument, before anything is sent.
            OutcomeUnknownError: the request may have reached the server but its answer
                was lost: the phone may be ringing. It is not retried.
        """
        code_text = str(code).strip() if isinstance(code, str | int) else ""
        if isinstance(code, bool) or not _OTP_CODE.match(code_text):
            raise ValidationError("code must be 1 to 16 letters or digits", field="code")
        body: dict[str, Any] = {
            "campaign_id": campaign_text(campaign_id),
            "caller": check_phone(caller, "caller"),
            "callee": check_phone(callee, "callee"),
            "param": {
                "template_name": _template_name(template, OtpTemplate),
                "code_otp": code_text,
            },
            **_callback(callback_url, callback_apikey),
        }
        if queue:
            body["queue"] = True
        return await self._place("/v1/autocall/otp", body)

    async def tts(
        self,
        *,
        caller: str,
        template: str | TtsTemplate,
        callee: str | None = None,
        callees: Iterable[str] | None = None,
        params: Mapping[str, ParamValue] | None = None,
        campaign_id: str | None = None,
        callback_url: str | None = None,
        callback_apikey: str | None = None,
        queue: bool = False,
    ) -> CallResult:
        """Call ``callee`` (or each of ``callees``) and read a template filled with ``params``.

        API: POST /v1/autocall/voice

        Args:
            caller: the number (hotline) calling.
            template: a TTS template's name, or the ``TtsTemplate`` itself (then
                ``params`` must fill each of its placeholders).
            callee: the number to call; or
            callees: several numbers to call (each listed once).
            params: the template's keys: ``str`` as is, ``int`` read digit by digit,
                ``date`` as dd/mm/yyyy, ``Amount(10410000)`` as an amount,
                ``SpokenNumber(15)`` as a number.
            campaign_id: the campaign id the PBX issued, if any.
            callback_url: where the PBX posts the calls' events.
            callback_apikey: the key the PBX sends with them (a secret: never logged).
            queue: queue the call when the plan's concurrent calls are in use.

        Returns:
            The call's id and status.

        Raises:
            ValidationError: a bad argument, before anything is sent.
            OutcomeUnknownError: the request may have reached the server but its answer
                was lost: the phones may be ringing. It is not retried.
        """
        body: dict[str, Any] = {}
        if campaign_id is not None:
            body["campaign_id"] = campaign_text(campaign_id)
        body["caller"] = check_phone(caller, "caller")
        body.update(_callees(callee, callees))
        name = _template_name(template, TtsTemplate)
        body["param"] = {"template_name": name, **_params(params, template)}
        body.update(_callback(callback_url, callback_apikey))
        if queue:
            body["queue"] = True
        return await self._place("/v1/autocall/voice", body)

    async def _place(self, path: str, body: dict[str, Any]) -> CallResult:
        answer = await self._client._send(Request("POST", path, json=body, places_call=True))
        if not isinstance(answer, Mapping) or not str(answer.get("call_id") or "").strip():
            # Answered "success" but without an id: the call may well be ringing.
            raise OutcomeUnknownError(
                "the server answered without a call_id", status=200, method="POST", path=path
            )
        return structure(answer, CallResult)
