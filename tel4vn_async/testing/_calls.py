"""The fake's Call Center call endpoints: events (webhook subscriptions),
click-to-call in its three versions, live calls and their actions, agents' status.

Answers come in the shapes the spec shows: ``status: "fail"`` with an ``error`` code in a
200 (``USER_NOT_REGISTERED``, ``USER_BUSY``), ``code: "1"`` as a string on v2, ``code: 404``
in a 200, ``"true"``/``"false"`` strings.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from ._base import FAKE, FakeBase, json_body, json_response
from ._cdr_data import fmt_time

__all__ = ["CallsFake", "routes"]

routes = web.RouteTableDef()


class CallsFake(FakeBase):
    """FakeTel4vn's call controls: ``registered_extensions``, ``busy_extensions``,
    ``add_live_call``, ``users()``."""

    @property
    def registered_extensions(self) -> set[str]:
        """Extensions logged in on a softphone (101 to 103 at first): click-to-call
        works only from these."""
        exts: set[str] = self.state.setdefault("registered_extensions", {"101", "102", "103"})
        return exts

    @property
    def busy_extensions(self) -> set[str]:
        """Registered extensions that answer ``USER_BUSY``."""
        busy: set[str] = self.state.setdefault("cc_busy_extensions", set())
        return busy

    def add_live_call(self, **fields: Any) -> dict[str, Any]:
        """Add a call in progress (``GET /v2/call``); returns it with defaults filled in."""
        call = {
            "call_id": self.next_id(),
            "context": "test.tel4vn.com",
            "created_time": fmt_time(datetime.now().replace(microsecond=0)),
            "destination": "0899123456",
            "direction": "outbound",
            "ip": "1.2.3.4",
            "source": "101",
            "state": "CS_EXECUTE",
            **fields,
        }
        self.state.setdefault("live_calls", []).append(call)
        return call

    def users(self) -> list[dict[str, Any]]:
        """The tenant's users (two at first: test.user01 logged in, test.user02 not)."""
        users: list[dict[str, Any]] = self.state.setdefault(
            "cc_users",
            [
                {
                    "agent_name": "Test User 01",
                    "ext_loggedin": "true",
                    "extension": "101",
                    "user_uuid": "aaaaaaaa-1111-2222-3333-eeeeeeee",
                    "username": "test.user01",
                },
                {
                    "agent_name": "Test User 02",
                    "ext_loggedin": "false",
                    "extension": "104",
                    "user_uuid": "bbbbbbbb-1111-2222-3333-eeeeeeee",
                    "username": "test.user02",
                },
            ],
        )
        return users


# ------------------------------------------------------------------------------ events


@routes.get("/v1/event")
async def list_events(request: web.Request) -> web.Response:
    return json_response({"data": request.app[FAKE].state.setdefault("cc_events", [])})


@routes.post("/v1/event")
async def create_event(request: web.Request) -> web.Response:
    fake = request.app[FAKE]
    body = await json_body(request)
    if not body.get("callback_url") or not body.get("event"):
        return json_response(
            {"code": 400, "content": [{"callback_url": "is required"}], "error": "Bad Request"},
            400,
        )
    fake.state.setdefault("cc_events", []).append(
        {
            "event_domain_uuid": fake.next_id(),
            "domain_uuid": "dddddddd-1111-2222-3333-eeeeeeee",
            "domain_name": "test.tel4vn.com",
            "event_name": body["event"],
            "callback_url": body["callback_url"],
            "callback_apikey": body.get("callback_apikey", ""),
        }
    )
    return json_response({"created": True})


@routes.delete("/v1/event/{event_id}")
async def delete_event(request: web.Request) -> web.Response:
    events = request.app[FAKE].state.setdefault("cc_events", [])
    wanted = request.match_info["event_id"]
    kept = [e for e in events if e["event_domain_uuid"] != wanted]
    if len(kept) == len(events):
        return json_response({"code": 404, "content": "event not found"})  # a 404 in a 200
    events[:] = kept
    return json_response({"deleted": True})


# ------------------------------------------------------------------------------ click-to-call


def _place_call(fake: CallsFake, ext: str, phone: str, *, v2: bool = False) -> dict[str, Any]:
    code = {"code": "1"} if v2 else {}
    if ext not in fake.registered_extensions:
        return {
            **code,
            "status": "fail",
            "message": "User not registered extension with Softphone or IP Phone",
            "error": "USER_NOT_REGISTERED",
        }
    if ext in fake.busy_extensions:
        return {**code, "status": "fail", "error": "USER_BUSY"}
    fake.dials[phone] += 1
    return {**({"code": "0"} if v2 else {}), "status": "success", "call_id": fake.next_id()}


@routes.get("/v1/click2call")
async def click2call_sync(request: web.Request) -> web.Response:
    fake = request.app[FAKE]
    answer = _place_call(fake, request.query.get("ext", ""), request.query.get("phone", ""))
    answer.pop("message", None)  # the sync endpoint's error sample has no message
    return json_response(answer)


@routes.get("/v1/click2call/async")
async def click2call_async(request: web.Request) -> web.Response:
    fake = request.app[FAKE]
    ext, phone = request.query.get("ext", ""), request.query.get("phone", "")
    return json_response(_place_call(fake, ext, phone))


@routes.post("/v2/click2call")
async def click2call_v2(request: web.Request) -> web.Response:
    fake = request.app[FAKE]
    body = await json_body(request)
    ext, mobile = str(body.get("agent", "")), str(body.get("mobile", ""))
    return json_response(_place_call(fake, ext, mobile, v2=True))


# ------------------------------------------------------------------------------ live calls


@routes.get("/v2/call")
async def list_calls(request: web.Request) -> web.Response:
    calls = request.app[FAKE].state.setdefault("live_calls", [])
    return json_response({"data": calls, "total": len(calls)})


@routes.post("/v2/call/{call_id}/{action:transfer|listen|whisper|barge}")
async def call_action(request: web.Request) -> web.Response:
    fake = request.app[FAKE]
    call_id, action = request.match_info["call_id"], request.match_info["action"]
    ext = str((await json_body(request)).get("ext", ""))
    calls = fake.state.setdefault("live_calls", [])
    call = next((c for c in calls if c["call_id"] == call_id), None)
    if call is None:
        return json_response(
            {"status": "fail", "error": "CALL_NOT_FOUND", "message": "call not found"}, 404
        )
    if ext not in fake.registered_extensions:
        return json_response({"status": "fail", "error": "USER_NOT_REGISTERED"})
    fake.state.setdefault("cc_call_actions", []).append((call_id, action, ext))
    if action == "transfer":
        call["source"] = ext
    return json_response({"status": "success", "call_id": call_id, "ext": ext})


# ------------------------------------------------------------------------------ users


@routes.get("/v2/user/{user_id}/status")
async def user_status(request: web.Request) -> web.Response:
    wanted = request.match_info["user_id"]
    for user in request.app[FAKE].users():
        if wanted in (user["user_uuid"], user["username"]):
            return json_response({"code": 200, "content": "successfully", "data": user})
    return json_response({"code": 404, "content": "user is not existed", "error": "Not Found"})
