"""The fake's Autocall (PBX) endpoints (templates, OTP and TTS calls, audio, reports).

State lives in ``fake.state["autocall"]``: templates per campaign (the spec's two sample
templates are there from the start), one call record per callee dialled (which is also
that call's report), and the uploads received (name, size and digest; the bytes are
streamed through and dropped). Answers use the reference file's shapes and quirks:
``{"created": "true"}`` with a string bool, reports with no ``total``, ``param`` as a JSON
string, ``keypress`` null, an unanswered call's ``answer_time`` as ``""``.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any

from aiohttp import BodyPartReader, web

from ._base import FAKE, FakeBase, json_response

__all__ = ["AutocallFake", "routes"]

routes = web.RouteTableDef()

VOICES = frozenset(
    {"north-m-01", "north-f-01", "north-m-02", "north-f-02", "south-m-03", "south-f-03"}
)
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
_USER_ID = "11111111-bbbb-cccc-dddd-22222222"
_SAMPLE_TEMPLATES: dict[str, dict[str, dict[str, Any]]] = {
    "1": {
        "otp_demo": {
            "kind": "otp",
            "name": "otp_demo",
            "voice_tts": "south-f-03",
            "speed_tts": 1.2,
            "content": "Mã xác nhận của bạn là {{code_otp}} xin nhắc lại mã xác nhận của bạn "
            "là {{code_otp}}",
        },
        "thong_bao_no_cuoc_01": {
            "kind": "tts",
            "name": "thong_bao_no_cuoc_01",
            "voice_type": "tts",
            "voice_tts": "south-f-03",
            "speed_tts": 1.2,
            "content": "Chào bạn {{customer_name}} vui lòng thanh toán khoản nợ {{due_amount}} "
            "trước ngày {{due_date}}",
        },
    }
}


def placeholders(template: dict[str, Any]) -> set[str]:
    """Every ``{{key}}`` a stored template uses, press options and sounds included."""
    texts = [template.get("content")]
    texts += [o.get("content") for o in template.get("press_options") or ()]
    texts += [(template.get(k) or {}).get("content") for k in ("exit_sound", "invalid_sound")]
    return {m for text in texts if isinstance(text, str) for m in _PLACEHOLDER.findall(text)}


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class AutocallFake(FakeBase):
    """FakeTel4vn's Autocall controls and seeding helpers (mixed into FakeTel4vn).

    Seeding: ``seed_template(campaign_id, name, content, kind=)``, ``seed_reports(n)``,
    ``record_call(...)``. State: ``templates``, ``calls`` (one report per call),
    ``calls_to(callee)``, ``uploads``; ``dials[callee]`` counts the rings.
    """

    @property
    def _autocall(self) -> dict[str, Any]:
        if "autocall" not in self.state:
            self.state["autocall"] = {
                "templates": {
                    c: {n: dict(t) for n, t in ts.items()} for c, ts in _SAMPLE_TEMPLATES.items()
                },
                "calls": [],
                "uploads": [],
            }
        state: dict[str, Any] = self.state["autocall"]
        return state

    @property
    def templates(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Templates per campaign id, then per name: the body received plus ``kind``
        (``otp`` or ``tts``)."""
        templates: dict[str, dict[str, dict[str, Any]]] = self._autocall["templates"]
        return templates

    @property
    def calls(self) -> list[dict[str, Any]]:
        """One record per callee dialled, oldest first: the call's report, as served."""
        calls: list[dict[str, Any]] = self._autocall["calls"]
        return calls

    @property
    def uploads(self) -> list[dict[str, Any]]:
        """Audio uploads received: ``field``, ``filename``, ``content_type``, ``size``,
        ``sha256`` (the bytes themselves are not kept)."""
        uploads: list[dict[str, Any]] = self._autocall["uploads"]
        return uploads

    def calls_to(self, callee: str) -> list[dict[str, Any]]:
        """The calls placed to ``callee``."""
        return [c for c in self.calls if c["callee"] == callee]

    def find_template(self, name: str, kind: str) -> dict[str, Any] | None:
        """A template of ``kind`` by name, in any campaign."""
        for by_name in self.templates.values():
            template = by_name.get(name)
            if template is not None and template["kind"] == kind:
                return template
        return None

    def seed_template(
        self, campaign_id: str | int, name: str, content: str, kind: str = "tts"
    ) -> None:
        """Store a template as if created through the API (no request): an ``otp`` one
        for ``pbx.calls.otp``, a ``tts`` one for ``pbx.calls.tts`` (which must then fill
        every ``{{key}}`` of ``content``). The same name in the campaign is replaced; the
        spec's samples ``otp_demo`` and ``thong_bao_no_cuoc_01`` are there from the start.

        Example::

            fake.seed_template(1, "otp_login", "Ma cua ban la {{code_otp}}", kind="otp")
            fake.seed_template(1, "nhac_no", "Chao {{name}}, ban no {{amount}}")
            await pbx.calls.otp(campaign_id=1, caller="0281234567",
                                callee="0987654321", template="otp_login", code="123456")

        Args:
            campaign_id: the campaign it belongs to.
            name: the name calls refer to it by.
            content: the text read, with ``{{key}}`` placeholders (``{{code_otp}}`` for
                an OTP template's code).
            kind: ``"otp"`` or ``"tts"``.
        """
        self.templates.setdefault(str(campaign_id), {})[name] = {
            "kind": kind,
            "name": name,
            "voice_type": "tts",
            "content": content,
        }

    def seed_reports(
        self, n: int, *, caller: str = "0123456789", callee: str | None = None
    ) -> list[dict[str, Any]]:
        """Add ``n`` reports of OTP calls as if placed earlier (no dial is counted), with
        the ``otp_demo`` template and codes ``000000``, ``000001``, ...; a callee ending in
        an odd digit did not answer. ``pbx.reports.list()`` and ``.get()`` serve them.

        Example::

            fake.seed_reports(3, callee="0987654321")
            assert len([r async for r in pbx.reports.list(callee="0987654321")]) == 3

        Args:
            n: how many reports.
            caller: the number they were placed from.
            callee: the number they rang; None gives each its own (``0900000000``, ...).

        Returns:
            The reports added, as served.
        """
        return [
            self.record_call(
                "OTP",
                caller=caller,
                callee=callee or f"09{i:08d}",
                campaign_id="eeeeeeee-dddd-cccc-bbbb-aaaaaaaa",
                param={"template_name": "otp_demo", "code_otp": f"{i:06d}"},
            )
            for i in range(n)
        ]

    def record_call(
        self, kind: str, *, caller: str, callee: str, campaign_id: str | None, param: dict[str, Any]
    ) -> dict[str, Any]:
        """Store one call's report as the call endpoints do, without counting a dial. A
        callee ending in an odd digit never answers (``NO_ANSWER``, ``billsec`` 0).

        Example::

            fake.record_call("VOICE", caller="0281234567", callee="0987654320",
                             campaign_id=None, param={"template_name": "nhac_no"})

        Args:
            kind: the report's ``type``: ``"OTP"`` or ``"VOICE"`` (a TTS call).
            caller, callee, campaign_id: as the call was placed.
            param: the call's parameters, served as a JSON string as the API does.

        Returns:
            The report stored (also in ``calls``).
        """
        now = datetime.now(timezone.utc).replace(microsecond=0)
        answered = not callee[-1:].isdigit() or int(callee[-1]) % 2 == 0
        record: dict[str, Any] = {
            "answer_time": _iso(now + timedelta(seconds=6)) if answered else "",
            "billsec": 9 if answered else 0,
            "call_id": self.next_id(),
            # The spec documents a string and samples an int: the fake sends both.
            "call_time": 1 if kind == "OTP" else "1",
            "caller": caller,
            "callee": callee,
            "campaign_id": campaign_id,
            "create_time": _iso(now),
            "duration": 15 if answered else 30,
            "end_time": _iso(now + timedelta(seconds=15 if answered else 30)),
            "hangup_cause": "NORMAL_CLEARING" if answered else "NO_ANSWER",
            "keypress": "1" if answered and kind == "VOICE" else None,
            "param": json.dumps(param, ensure_ascii=False, separators=(",", ":")),
            "start_time": _iso(now),
            "type": kind,
            "user_id": _USER_ID,
        }
        self.calls.append(record)
        return record


# --------------------------------------------------------------------------- helpers


def _bad(fields: dict[str, str]) -> web.Response:
    return json_response(
        {"code": 400, "content": [{k: v} for k, v in fields.items()], "error": "Bad Request"}, 400
    )


async def _json_body(request: web.Request) -> dict[str, Any] | None:
    try:
        body = await request.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _check_voice(body: dict[str, Any], errors: dict[str, str]) -> None:
    if "voice_tts" in body and body["voice_tts"] not in VOICES:
        errors["voice_tts"] = "voice_tts is not supported"
    speed = body.get("speed_tts")
    if speed is not None and (not isinstance(speed, int | float) or not 0 <= speed <= 2):
        errors["speed_tts"] = "speed_tts must be from 0 to 2"


def _store_template(
    fake: AutocallFake, campaign_id: str, body: dict[str, Any], kind: str
) -> web.Response:
    campaign = fake.templates.setdefault(campaign_id, {})
    if body["name"] in campaign:
        return json_response(
            {"code": 400, "content": "template name already exists", "error": "Bad Request"}, 400
        )
    campaign[body["name"]] = {"kind": kind, **body}
    return json_response({"created": "true"})


# --------------------------------------------------------------------------- templates


@routes.post("/v1/campaign/{campaign_id}/otp")
async def create_otp_template(request: web.Request) -> web.Response:
    body = await _json_body(request)
    if body is None:
        return _bad({"(root)": "body must be a JSON object"})
    errors: dict[str, str] = {}
    if not body.get("name"):
        errors["name"] = "name is required"
    if "{{code_otp}}" not in str(body.get("content", "")):
        errors["content"] = "content must contain {{code_otp}}"
    _check_voice(body, errors)
    if errors:
        return _bad(errors)
    return _store_template(request.app[FAKE], request.match_info["campaign_id"], body, "otp")


@routes.post("/v1/campaign/{campaign_id}/template")
async def create_tts_template(request: web.Request) -> web.Response:
    body = await _json_body(request)
    if body is None:
        return _bad({"(root)": "body must be a JSON object"})
    errors: dict[str, str] = {}
    if not body.get("name"):
        errors["name"] = "name is required"
    voice_type = body.get("voice_type", "tts")
    if voice_type not in ("tts", "audio_file"):
        errors["voice_type"] = "voice_type must be tts or audio_file"
    elif not body.get("content" if voice_type == "tts" else "audio_file"):
        need = "content" if voice_type == "tts" else "audio_file"
        errors[need] = f"{need} is required for voice_type {voice_type}"
    _check_voice(body, errors)
    if errors:
        return _bad(errors)
    return _store_template(request.app[FAKE], request.match_info["campaign_id"], body, "tts")


# --------------------------------------------------------------------------- calls


@routes.post("/v1/autocall/otp")
async def autocall_otp(request: web.Request) -> web.Response:
    fake = request.app[FAKE]
    body = await _json_body(request) or {}
    callee = str(body.get("callee", ""))
    if not callee or not body.get("caller"):
        return json_response(
            {"code": 400, "content": [{"callee": "callee is required"}], "error": "Bad Request"},
            400,
        )
    param = body.get("param")
    if param is not None:  # older raw tests post no param at all
        if not isinstance(param, dict) or not param.get("code_otp"):
            return _bad({"param.code_otp": "code_otp is required"})
        if fake.find_template(str(param.get("template_name")), "otp") is None:
            return _bad({"param.template_name": "template not found"})
    fake.dials[callee] += 1
    record = fake.record_call(
        "OTP",
        caller=str(body["caller"]),
        callee=callee,
        campaign_id=body.get("campaign_id"),
        param=param or {},
    )
    return json_response({"call_id": record["call_id"], "status": "success"})


@routes.post("/v1/autocall/voice")
async def autocall_voice(request: web.Request) -> web.Response:
    fake = request.app[FAKE]
    body = await _json_body(request)
    if body is None:
        return _bad({"(root)": "body must be a JSON object"})
    callees = body.get("callees") if "callees" in body else [body.get("callee")]
    errors: dict[str, str] = {}
    if not body.get("caller"):
        errors["caller"] = "caller is required"
    if not isinstance(callees, list) or not callees or not all(callees):
        errors["callee"] = "callee is required"
    param = body.get("param")
    if not isinstance(param, dict):
        errors["param"] = "param is required"
    else:
        template = fake.find_template(str(param.get("template_name")), "tts")
        if template is None:
            errors["param.template_name"] = "template not found"
        else:
            for key in sorted(placeholders(template) - set(param)):
                errors[f"param.{key}"] = f"{key} is required by the template"
    if errors:
        return _bad(errors)
    assert isinstance(callees, list)
    assert isinstance(param, dict)
    records = []
    for callee in callees:
        fake.dials[str(callee)] += 1
        records.append(
            fake.record_call(
                "VOICE",
                caller=str(body["caller"]),
                callee=str(callee),
                campaign_id=body.get("campaign_id"),
                param=param,
            )
        )
    return json_response({"call_id": records[0]["call_id"], "status": "success"})


# --------------------------------------------------------------------------- audio


@routes.post("/v1/audio")
async def upload_audio(request: web.Request) -> web.Response:
    fake = request.app[FAKE]
    if not request.content_type.startswith("multipart/"):
        return _bad({"file": "multipart/form-data with a file field is required"})
    reader = await request.multipart()
    found = None
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            continue
        digest, size = hashlib.sha256(), 0
        while chunk := await part.read_chunk(256 * 1024):
            digest.update(chunk)
            size += len(chunk)
        if part.name == "file":
            found = {
                "field": part.name,
                "filename": part.filename,
                "content_type": part.headers.get("Content-Type"),
                "size": size,
                "sha256": digest.hexdigest(),
            }
    if found is None:
        return _bad({"file": "file is required"})
    if not found["size"]:
        return _bad({"file": "file is empty"})
    fake.uploads.append(found)
    return json_response({"created": "true"})


# --------------------------------------------------------------------------- reports


def _int_query(request: web.Request, key: str, default: int) -> int:
    try:
        return max(0, int(request.query.get(key, default)))
    except ValueError:
        return default


@routes.get("/v1/report")
async def list_reports(request: web.Request) -> web.Response:
    fake = request.app[FAKE]
    caller, callee = request.query.get("caller"), request.query.get("callee")
    records = [
        r
        for r in fake.calls
        if (caller is None or r["caller"] == caller) and (callee is None or r["callee"] == callee)
    ]
    offset, limit = _int_query(request, "offset", 0), _int_query(request, "limit", 10)
    return json_response({"data": records[offset : offset + limit]})


@routes.get("/v1/report/{call_id}")
async def get_report(request: web.Request) -> web.Response:
    call_id = request.match_info["call_id"]
    for record in request.app[FAKE].calls:
        if record["call_id"] == call_id:
            return json_response({"data": record})
    return json_response({"code": 404, "content": "call not found", "error": "Not Found"}, 404)
