"""The fake's Call Center endpoints (events, CDRs, click-to-call, calls, queues, users, ...).

Seeded data carries the API's quirks: CDR ids with a trailing space, the integer
``direction`` of the reference sample, numbers sent as strings, ``""`` for "no time", Go's
zero time on customers, ``"true"``/``"false"`` strings. CDRs are generated from their
index on demand, so a million of them cost no memory. Error answers come in the shapes
the spec shows: ``status: "fail"`` in a 200, ``code: 404`` in a 200, a bare ``message``,
``content`` as a list of field errors.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from aiohttp import web

from ._base import FAKE, FakeBase, json_response
from ._cdr_data import CdrMappingName, cdr_facts, cdr_matches, cdr_record, fmt_time

__all__ = ["CallCenterFake", "CdrMappingName", "ScrollStyle", "cdr_record", "routes"]

routes = web.RouteTableDef()

ScrollStyle = Literal["offset", "echo", "scroll_id"]

_CUSTOMER_STATUSES = ("NEW", "QUEUE", "ANSWERED", "BUSY", "NO-ANSWERED", "CANCEL", "FAIL")
_CUSTOMER_PHONE = re.compile(r"^(84|0[3|5|7|8|9])+([0-9]{8})$")
_GO_ZERO = "0001-01-01T00:00:00Z"
DEFAULT_CAMPAIGN = "aaaaaaaa-1111-2222-3333-eeeeeeee"


_CDR_FILTERS = ("start_date", "end_date", "duration", "extension", "phone", "direction")


class CallCenterFake(FakeBase):
    """FakeTel4vn's Call Center controls and seeding helpers (mixed into FakeTel4vn).

    ``seed_cdrs(n, mapping=...)``, ``cdr_scroll_style``, ``seed_customers(n, campaigns=...)``,
    ``register_extension``/``unregister_extension``, ``busy_extensions``,
    ``add_live_call``, ``add_user``.
    """

    # ---------------------------------------------------------------- CDRs

    def seed_cdrs(self, n: int, mapping: CdrMappingName = "default") -> None:
        """Serve ``n`` CDRs in ``mapping``; records are generated from their index on demand."""
        self.state["cc_cdrs"] = {"count": n, "mapping": mapping, "scrolls": {}}

    @property
    def cdr_scroll_style(self) -> ScrollStyle:
        """How a scroll request is answered: ``offset`` (the response's ``offset`` is the
        next cursor), ``echo`` (it repeats the request's offset, ``-1`` when none was sent)
        or ``scroll_id`` (only ``data`` and an opaque ``scroll_id``, no total)."""
        style: ScrollStyle = self.state.get("cc_scroll_style", "offset")
        return style

    @cdr_scroll_style.setter
    def cdr_scroll_style(self, style: ScrollStyle) -> None:
        if style not in ("offset", "echo", "scroll_id"):
            raise ValueError(f"unknown scroll style {style!r}")
        self.state["cc_scroll_style"] = style

    def _cdrs(self) -> dict[str, Any]:
        cdrs: dict[str, Any] = self.state.setdefault(
            "cc_cdrs", {"count": 35, "mapping": "default", "scrolls": {}}
        )
        return cdrs

    def cdr_batch(self, query: Any, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        """The CDRs ``offset..offset+limit`` of those matching ``query``, and their total."""
        cdrs = self._cdrs()
        count, mapping = cdrs["count"], cdrs["mapping"]
        if not any(k in query for k in _CDR_FILTERS):
            stop = min(count, offset + limit)
            return [cdr_record(i, mapping) for i in range(offset, stop)], count
        # Filtered listings scan every record: fine for the few thousand a test seeds.
        hits = [i for i in range(count) if cdr_matches(cdr_facts(i), query)]
        return [cdr_record(i, mapping) for i in hits[offset : offset + limit]], len(hits)

    def find_cdr(self, key: str) -> dict[str, Any] | None:
        """The CDR whose id or SIP Call-ID is ``key``."""
        match = re.match(r"^([0-9a-f]{8})-(?:cdr0-|49de-)", key.strip())
        cdrs = self._cdrs()
        if match is None or int(match.group(1), 16) >= cdrs["count"]:
            return None
        i = int(match.group(1), 16)
        facts = cdr_facts(i)
        if key.strip() not in (facts["id"], facts["sip_call_id"]):
            return None
        return cdr_record(i, cdrs["mapping"])

    # ---------------------------------------------------------------- extensions, calls, users

    @property
    def registered_extensions(self) -> set[str]:
        """Extensions logged in on a softphone (101 to 103 at first)."""
        return registered_extensions(self.state)

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

    # ---------------------------------------------------------------- customers, campaigns

    @property
    def campaigns(self) -> set[str]:
        """Campaign ids the server knows (queue imports and customers need one)."""
        known: set[str] = self.state.setdefault("cc_campaigns", {DEFAULT_CAMPAIGN})
        return known

    def customers(self) -> list[dict[str, Any]]:
        """The uploaded customers, as the API lists them."""
        customers: list[dict[str, Any]] = self.state.setdefault("cc_customers", [])
        return customers

    def seed_customers(self, n: int, campaigns: int = 1) -> list[str]:
        """Add ``n`` customers spread over ``campaigns`` campaigns; returns the campaign ids."""
        ids = [DEFAULT_CAMPAIGN] + [
            f"{c:08x}-cccc-2222-3333-eeeeeeee" for c in range(1, max(campaigns, 1))
        ]
        self.campaigns.update(ids)
        customers = self.customers()
        start = len(customers)
        for k in range(start, start + n):
            created = datetime(2021, 7, 15, 12, 50) + timedelta(seconds=k, microseconds=k % 999983)
            customers.append(
                {
                    "campaign_id": ids[k % len(ids)],
                    "contract_number": f"HD{k:06d}",
                    "created_at": created.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                    "customer_code": f"KH{k:05d}",
                    "customer_id": f"{k:08x}-cust-2222-3333-eeeeeeee",
                    "customer_name": f"Khach Hang {k:05d}",
                    "phone_number": f"0899{k % 1000000:06d}",
                    "status": _CUSTOMER_STATUSES[k % len(_CUSTOMER_STATUSES)],
                    "updated_at": _GO_ZERO if k % 3 else "2021-07-16T08:00:00+07:00",
                }
            )
        return ids

    def queues(self, kind: str) -> dict[str, dict[str, Any]]:
        """The queues imported, by code: ``kind`` is ``autodialer`` or ``autocall``."""
        queues: dict[str, dict[str, Any]] = self.state.setdefault(f"cc_{kind}_queues", {})
        return queues


def registered_extensions(state: dict[str, Any]) -> set[str]:
    """Extensions logged in on a softphone: click-to-call works only from these."""
    exts: set[str] = state.setdefault("registered_extensions", {"101", "102", "103"})
    return exts


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


# ------------------------------------------------------------------------------ events


@routes.get("/v1/event")
async def list_events(request: web.Request) -> web.Response:
    return json_response({"data": request.app[FAKE].state.setdefault("cc_events", [])})


@routes.post("/v1/event")
async def create_event(request: web.Request) -> web.Response:
    fake = request.app[FAKE]
    body = await _json_body(request)
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


# ------------------------------------------------------------------------------ CDRs


@routes.get("/v2/cdr")
async def list_cdrs(request: web.Request) -> web.Response:
    fake = request.app[FAKE]
    query = request.query
    limit = max(1, _int(query.get("limit"), 10))
    if "page" in query:  # pagination mode
        page = max(1, _int(query.get("page"), 1))
        offset = (page - 1) * limit
        batch, total = fake.cdr_batch(query, offset, limit)
        return json_response({"data": batch, "limit": limit, "page": page, "total": total})
    style = fake.cdr_scroll_style
    scrolls: dict[str, int] = fake._cdrs()["scrolls"]
    if style == "scroll_id" and "scroll_id" in query:
        if query["scroll_id"] not in scrolls:
            return json_response(
                {"code": 400, "content": "scroll_id is invalid", "error": "Bad Request"}, 400
            )
        offset = scrolls[query["scroll_id"]]
    else:
        offset = max(0, _int(query.get("offset"), 0))
    batch, total = fake.cdr_batch(query, offset, limit)
    if style == "scroll_id":
        scroll_id = f"sc{secrets.token_hex(6)}"
        scrolls[scroll_id] = offset + len(batch)
        return json_response({"data": batch, "scroll_id": scroll_id})
    if style == "echo":
        echoed = _int(query.get("offset"), -1)
        return json_response({"data": batch, "limit": limit, "offset": echoed, "total": total})
    return json_response(
        {"data": batch, "limit": limit, "offset": offset + len(batch), "total": total}
    )


@routes.get("/v2/cdr/{cdr_id}")
async def get_cdr(request: web.Request) -> web.Response:
    record = request.app[FAKE].find_cdr(request.match_info["cdr_id"])
    if record is None:
        return json_response({"code": 404, "content": "cdr not found", "error": "Not Found"}, 404)
    return json_response(record)


# ------------------------------------------------------------------------------ click-to-call


def _place_call(fake: CallCenterFake, ext: str, phone: str, *, v2: bool = False) -> dict[str, Any]:
    code = {"code": "1"} if v2 else {}
    if ext not in registered_extensions(fake.state):
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
    body = await _json_body(request)
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
    ext = str((await _json_body(request)).get("ext", ""))
    calls = fake.state.setdefault("live_calls", [])
    call = next((c for c in calls if c["call_id"] == call_id), None)
    if call is None:
        return json_response(
            {"status": "fail", "error": "CALL_NOT_FOUND", "message": "call not found"}, 404
        )
    if ext not in registered_extensions(fake.state):
        return json_response({"status": "fail", "error": "USER_NOT_REGISTERED"})
    fake.state.setdefault("cc_call_actions", []).append((call_id, action, ext))
    if action == "transfer":
        call["source"] = ext
    return json_response({"status": "success", "call_id": call_id, "ext": ext})


# ------------------------------------------------------------------------------ queues


@routes.post("/v2/autodialer/queue")
async def autodialer_import(request: web.Request) -> web.Response:
    fake = request.app[FAKE]
    body = await _json_body(request)
    if body.get("campaign_id") not in fake.campaigns:
        return json_response({"message": "campaign is invalid"})
    fake.queues("autodialer")[str(body.get("queue_code"))] = {**body, "running": True}
    return json_response({"message": "successfully"})


@routes.post("/v2/autocall/queue")
async def autocall_import(request: web.Request) -> web.Response:
    fake = request.app[FAKE]
    body = await _json_body(request)
    success: list[str] = []
    fail: list[str] = []
    for customer in body.get("customers") or []:
        ok = isinstance(customer, dict) and customer.get("id") and customer.get("mobiles")
        (success if ok else fail).append(str(customer.get("id", "")))
    if not body.get("template") or not success:
        return json_response(
            {"code": 400, "content": "import fail", "data": {"fail": fail, "success": []}}
        )
    queue = fake.queues("autocall").setdefault(
        str(body["queue_code"]), {"customers": [], "blocked": set(), "running": True}
    )
    queue["customers"].extend(body["customers"])
    queue["template"] = body["template"]
    return json_response(
        {"code": 200, "content": "successfully", "data": {"fail": fail, "success": success}}
    )


def _queue_control(kind: str, action: str) -> Any:
    async def handler(request: web.Request) -> web.Response:
        fake = request.app[FAKE]
        body = await _json_body(request)
        queues = fake.queues(kind)
        code = str(body.get("queue_code", ""))
        if code not in queues:
            if kind == "autodialer":
                return json_response({"message": "queue not found"})
            return json_response({"code": 404, "content": "queue not found"})
        if action == "delete":
            del queues[code]
        elif action == "dnc":
            queues[code]["blocked"].update(str(c.get("id")) for c in body.get("customers", []))
        else:
            queues[code]["running"] = action == "start"
        if kind == "autodialer":
            return json_response({"message": "successfully"})
        return json_response({"code": 200, "content": "successfully"})

    return handler


for _kind in ("autodialer", "autocall"):
    for _action in ("start", "stop", "delete"):
        routes.post(f"/v2/{_kind}/queue/{_action}")(_queue_control(_kind, _action))
routes.post("/v2/autocall/queue/dnc")(_queue_control("autocall", "dnc"))


# ------------------------------------------------------------------------------ users, customers


@routes.get("/v2/user/{user_id}/status")
async def user_status(request: web.Request) -> web.Response:
    wanted = request.match_info["user_id"]
    for user in request.app[FAKE].users():
        if wanted in (user["user_uuid"], user["username"]):
            return json_response({"code": 200, "content": "successfully", "data": user})
    return json_response({"code": 404, "content": "user is not existed", "error": "Not Found"})


@routes.get("/v2/customer")
async def list_customers(request: web.Request) -> web.Response:
    fake = request.app[FAKE]
    limit = max(1, _int(request.query.get("limit"), 10))
    offset = max(0, _int(request.query.get("offset"), 0))
    campaign = request.query.get("campaign_id")
    rows = [c for c in fake.customers() if campaign is None or c["campaign_id"] == campaign]
    return json_response(
        {
            "code": 200,
            "content": "successfully",
            "data": rows[offset : offset + limit],
            "limit": limit,
            "offset": offset,
            "total": len(rows),
        }
    )


@routes.get("/v2/customer/{customer_id}")
async def get_customer(request: web.Request) -> web.Response:
    wanted = request.match_info["customer_id"]
    for customer in request.app[FAKE].customers():
        if customer["customer_id"] == wanted:
            return json_response({"code": 200, "content": "successfully", "data": customer})
    return json_response({"code": 404, "content": "Not Found", "error": "Not Found"}, 404)


@routes.post("/v2/customer")
async def create_customer(request: web.Request) -> web.Response:
    fake = request.app[FAKE]
    body = await _json_body(request)
    errors: list[dict[str, str]] = [
        {key: f"{key} is required"}
        for key in ("campaign_id", "customer_code", "phone_number", "contract_number")
        if not body.get(key)
    ]
    phone = str(body.get("phone_number", ""))
    if phone and not _CUSTOMER_PHONE.match(phone):
        errors.append({"phone_number": f"Does not match pattern '{_CUSTOMER_PHONE.pattern}'"})
    if errors:
        return json_response({"code": 400, "content": errors, "error": "Bad Request"}, 400)
    if body["campaign_id"] not in fake.campaigns:
        return json_response({"code": 404, "content": "campaign not found", "error": "Not Found"})
    new_id = fake.next_id()
    fake.customers().append(
        {
            "campaign_id": body["campaign_id"],
            "contract_number": body["contract_number"],
            "created_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "customer_code": body["customer_code"],
            "customer_id": new_id,
            "customer_name": body.get("customer_name", ""),
            "phone_number": phone,
            "status": "NEW",
            "updated_at": _GO_ZERO,
        }
    )
    return json_response({"code": 201, "content": "successfully", "id": new_id})
