"""The fake's Call Center API: ``CallCenterFake`` gathers the area mixins (CDRs in
``_cdrs``, calls in ``_calls``); customers, campaigns and queues live here.

Seeded customers carry the API's quirks: Go's zero time for "never updated", timestamps
with microseconds. Error answers come in the shapes the spec shows: a bare ``message`` in
a 200, ``code: 404`` in a 200, ``content`` as a list of field errors.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

from aiohttp import web

from ._base import FAKE, int_param, json_body, json_response
from ._calls import CallsFake
from ._cdr_data import CdrMappingName, cdr_record
from ._cdrs import CdrFake, ScrollStyle

__all__ = [
    "DEFAULT_CAMPAIGN",
    "CallCenterFake",
    "CdrMappingName",
    "ScrollStyle",
    "cdr_record",
    "routes",
]

routes = web.RouteTableDef()

_CUSTOMER_STATUSES = ("NEW", "QUEUE", "ANSWERED", "BUSY", "NO-ANSWERED", "CANCEL", "FAIL")
_CUSTOMER_PHONE = re.compile(r"^(84|0[3|5|7|8|9])+([0-9]{8})$")
_GO_ZERO = "0001-01-01T00:00:00Z"
DEFAULT_CAMPAIGN = "aaaaaaaa-1111-2222-3333-eeeeeeee"


class CallCenterFake(CdrFake, CallsFake):
    """FakeTel4vn's Call Center controls and seeding helpers (mixed into FakeTel4vn).

    CDRs: ``seed_cdrs(n, mapping=..., start=..., end=...)``, ``cdr_scroll_style``. Calls:
    ``registered_extensions``, ``busy_extensions``, ``add_live_call(...)``, ``users()``.
    Here: ``campaigns``, ``customers()``, ``seed_customers(n, campaigns=...)``,
    ``queues(kind)``.
    """

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
        """Add ``n`` customers spread over ``campaigns`` campaigns (round robin).

        Customers get codes ``KH00000``, ``KH00001``, ... (continuing after those already
        there), phone numbers ``0899000000`` up, statuses cycling through every value,
        and the API's quirks: Go's zero time as ``updated_at`` for two in three,
        ``created_at`` with microseconds. The first campaign is ``DEFAULT_CAMPAIGN``.

        Example::

            campaigns = fake.seed_customers(250, campaigns=2)
            async for customer in cc.customers.list(campaign_id=campaigns[1]):
                ...  # 125 customers

        Args:
            n: how many customers to add.
            campaigns: how many campaigns to spread them over (1 or more).

        Returns:
            The campaign ids, ``DEFAULT_CAMPAIGN`` first (all known to ``campaigns``).
        """
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


# ------------------------------------------------------------------------------ queues


@routes.post("/v2/autodialer/queue")
async def autodialer_import(request: web.Request) -> web.Response:
    fake = request.app[FAKE]
    body = await json_body(request)
    if body.get("campaign_id") not in fake.campaigns:
        return json_response({"message": "campaign is invalid"})
    fake.queues("autodialer")[str(body.get("queue_code"))] = {**body, "running": True}
    return json_response({"message": "successfully"})


@routes.post("/v2/autocall/queue")
async def autocall_import(request: web.Request) -> web.Response:
    fake = request.app[FAKE]
    body = await json_body(request)
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
        body = await json_body(request)
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


# ------------------------------------------------------------------------------ customers


@routes.get("/v2/customer")
async def list_customers(request: web.Request) -> web.Response:
    fake = request.app[FAKE]
    limit = max(1, int_param(request.query.get("limit"), 10))
    offset = max(0, int_param(request.query.get("offset"), 0))
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
    body = await json_body(request)
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
