"""The fake's Autocall (PBX) endpoints (templates, OTP and TTS calls, audio, reports)."""

from __future__ import annotations

from aiohttp import web

from ._base import FAKE, FakeBase, json_response

__all__ = ["AutocallFake", "routes"]

routes = web.RouteTableDef()


class AutocallFake(FakeBase):
    """FakeTel4vn's Autocall controls and seeding helpers (mixed into FakeTel4vn)."""


@routes.post("/v1/autocall/otp")
async def autocall_otp(request: web.Request) -> web.Response:
    fake = request.app[FAKE]
    body = await request.json()
    callee = str(body.get("callee", ""))
    if not callee or not body.get("caller"):
        return json_response(
            {"code": 400, "content": [{"callee": "callee is required"}], "error": "Bad Request"},
            400,
        )
    fake.dials[callee] += 1
    return json_response({"call_id": fake.next_id(), "status": "success"})
