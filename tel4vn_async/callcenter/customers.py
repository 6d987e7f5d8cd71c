"""``cc.customers`` (customers uploaded for autodialing) and ``cc.users`` (user status)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._convert import structure
from .._validate import check_count, check_customer_phone
from ..errors import TransportError
from ..models.callcenter import Customer, UserStatus
from ..pagination import AsyncPager, Page, Query, follow_offset, page_from
from ._base import Resource, path_id, text

__all__ = ["Customers", "Users"]

MAX_PAGE_SIZE = 10_000


class Customers:
    """Customers uploaded to a campaign; the PBX autodials each for an agent."""

    def __init__(self, resource: Resource) -> None:
        self._r = resource

    async def _fetch(self, query: Query) -> Page[Customer]:
        body = await self._r._call("GET", "/v2/customer", params=query)
        return page_from(body, query, lambda r: structure(r, Customer))

    def list(self, campaign_id: str | None = None, *, page_size: int = 100) -> AsyncPager[Customer]:
        """Every customer (of one campaign, if given), paged by ``limit``/``offset``.

        API: GET /v2/customer

        Args:
            campaign_id: only this campaign's customers.
            page_size: customers per request (``limit``), 1 to 10,000.

        Raises:
            ValidationError: a bad page size or an empty campaign id; nothing sent.
        """
        query: dict[str, Any] = {
            "limit": check_count(page_size, "page_size", MAX_PAGE_SIZE),
            "offset": 0,
        }
        if campaign_id is not None:
            query["campaign_id"] = text(campaign_id, "campaign_id")
        return AsyncPager(self._fetch, query, follow_offset())

    async def get(self, customer_id: str) -> Customer:
        """One customer by id.

        API: GET /v2/customer/{customer_id}

        Raises:
            NotFoundError: no such customer.
        """
        path = f"/v2/customer/{path_id(customer_id, 'customer_id')}"
        body = await self._r._call("GET", path)
        return self._r._model(body, Customer, "GET", path)

    async def create(
        self,
        *,
        campaign_id: str,
        customer_code: str,
        phone_number: str,
        contract_number: str,
        customer_name: str | None = None,
    ) -> str:
        """Upload a customer; the PBX autodials it for an agent within 7 days.

        Sent once only: the upload leads to a call, so a failure after it may have reached
        the server raises ``OutcomeUnknownError`` rather than a second upload.

        API: POST /v2/customer

        Args:
            campaign_id: the campaign's id.
            customer_code: your code for the customer.
            phone_number: a Vietnamese number, matching ``^(84|0[3|5|7|8|9])+([0-9]{8})$``.
            contract_number: the contract's number.
            customer_name: the customer's name.

        Returns:
            The new customer's id.

        Raises:
            BadRequestError: the server refused a field (``details`` names it).
            ValidationError: a required field is missing, or the number does not match;
                nothing sent.
        """
        body: dict[str, str] = {
            "campaign_id": text(campaign_id, "campaign_id"),
            "customer_code": text(customer_code, "customer_code"),
            "phone_number": check_customer_phone(phone_number, "phone_number"),
            "contract_number": text(contract_number, "contract_number"),
        }
        if customer_name is not None:
            body["customer_name"] = text(customer_name, "customer_name")
        answer = await self._r._call("POST", "/v2/customer", json=body, places_call=True)
        for source in (answer, answer.get("data") if isinstance(answer, Mapping) else None):
            if isinstance(source, Mapping):
                new_id = source.get("id") or source.get("customer_id")
                if isinstance(new_id, str | int) and str(new_id).strip():
                    return str(new_id).strip()
        raise TransportError(
            "the customer was created but the answer carries no id",
            status=200,
            method="POST",
            path="/v2/customer",
        )


class Users:
    """Users (agents) of the tenant."""

    def __init__(self, resource: Resource) -> None:
        self._r = resource

    async def status(self, user_id: str) -> UserStatus:
        """A user's extension and whether it is logged in on a softphone.

        API: GET /v2/user/{user_id}/status

        Args:
            user_id: the user's id or user name (``test.user01``).

        Raises:
            NotFoundError: ``user is not existed``.
        """
        path = f"/v2/user/{path_id(user_id, 'user_id')}/status"
        body = await self._r._call("GET", path)
        return self._r._model(body, UserStatus, "GET", path)
