"""The fake's authentication endpoints: login and both families' token endpoints."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ._base import FAKE, FakeBase, json_response

__all__ = ["routes"]

routes = web.RouteTableDef()

# The reference autocall sample's expiry: a 2021 timestamp, long past.
_SPEC_SAMPLE_EXPIRE_AT = 1613636318


def _num(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _token_body(fake: FakeBase, token: str, family: str) -> dict[str, Any]:
    style = fake.token_style or family
    lifetime = fake.token_lifetime
    now = fake.clock()
    user_id = "avavavav-1111-2222-3333-eeeeeeee"
    if style in ("callcenter", "flat", "none"):
        data: dict[str, Any] = {
            "client_id": "aaaaaaaa-1111-2222-3333-eeeeeeee",
            "domain_uuid": "dddddddd-1111-2222-3333-eeeeeeee",
            "refresh_token": "",
            "token": token,
            "token_type": "Bearer",
            "user_id": user_id,
        }
        if lifetime is not None and style != "none":
            data["expired_in"] = _num(lifetime)
        if style == "flat":
            return {"code": 200, "content": "successfully", **data}
        return {"code": 200, "content": "successfully", "data": data}
    if style == "pbx":
        data = {"token": token, "user_id": user_id}
        if lifetime is not None:
            data["expired"] = _num(now + lifetime)
        return {"data": data}
    data = {
        "user_id": user_id,
        "access_token": token,
        "refresh_token": "",
        "token_type": "Bearer",
        "scope": "",
    }
    if style == "past":
        data["expire_at"] = _SPEC_SAMPLE_EXPIRE_AT
    elif lifetime is not None:
        data["expire_at"] = _num(lifetime if style == "duration" else now + lifetime)
    return {"data": data}


async def _token(request: web.Request, family: str) -> web.Response:
    fake = request.app[FAKE]
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or body.get("api_key") != fake.api_key:
        return json_response(
            {"code": 401, "content": "api_key is invalid", "error": "Unauthorized"}, 401
        )
    return json_response(_token_body(fake, fake.issue_token(), family))


@routes.post("/v2/auth/token")
async def callcenter_token(request: web.Request) -> web.Response:
    return await _token(request, "callcenter")


@routes.post("/v1/auth/token")
async def autocall_token(request: web.Request) -> web.Response:
    return await _token(request, "autocall")


@routes.post("/v1/auth")
async def login(request: web.Request) -> web.Response:
    fake = request.app[FAKE]
    try:
        body = await request.json()
    except ValueError:
        body = None
    if (
        not isinstance(body, dict)
        or body.get("username") != fake.username
        or body.get("password") != fake.password
    ):
        return json_response(
            {"code": 401, "content": "username or password is incorrect", "error": "Unauthorized"},
            401,
        )
    return json_response(
        {
            "code": 200,
            "content": "successfully",
            "data": {
                "api_key": fake.api_key,
                "domain_uuid": "dddddddd-1111-2222-3333-eeeeeeee",
                "enabled": "true",
                "extension": "110",
                "level": "admin",
                "user_uuid": "aaaaaaaa-1111-2222-3333-eeeeeeee",
                "username": fake.username.split("@")[0],
            },
        }
    )
