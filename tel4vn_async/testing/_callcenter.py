"""The fake's Call Center endpoints (events, CDRs, click-to-call, calls, queues, users, ...)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ._base import FAKE, FakeBase, json_response

__all__ = ["CallCenterFake", "routes"]

routes = web.RouteTableDef()


class CallCenterFake(FakeBase):
    """FakeTel4vn's Call Center controls and seeding helpers (mixed into FakeTel4vn)."""


def registered_extensions(state: dict[str, Any]) -> set[str]:
    """Extensions logged in on a softphone: click-to-call works only from these."""
    exts: set[str] = state.setdefault("registered_extensions", {"101", "102", "103"})
    return exts


@routes.get("/v2/call")
async def list_calls(request: web.Request) -> web.Response:
    calls = request.app[FAKE].state.setdefault("live_calls", [])
    return json_response({"data": calls, "total": len(calls)})


@routes.get("/v1/click2call/async")
async def click2call_async(request: web.Request) -> web.Response:
    fake = request.app[FAKE]
    ext, phone = request.query.get("ext", ""), request.query.get("phone", "")
    if ext not in registered_extensions(fake.state):
        return json_response(
            {
                "status": "fail",
                "message": "User not registered extension with Softphone or IP Phone",
                "error": "USER_NOT_REGISTERED",
            }
        )
    fake.dials[phone] += 1
    return json_response({"status": "success", "call_id": fake.next_id()})
