"""``cc.customers``: customers uploaded for autodialing."""

from __future__ import annotations

from typing import Any

import attrs

from .._convert import structure
from .._resource import APIResource
from .._sansio import ErrorShape
from .._validate import check_customer_phone, check_id, check_int, check_text, path_segment
from ..errors import OutcomeUnknownError
from ..models.callcenter import Customer
from ..pagination import AsyncPager, Page, Query, follow_offset

__all__ = ["Customers"]

MAX_PAGE_SIZE = 10_000


@attrs.frozen
class _Created:
    """``{"code": 201, "content": "successfully", "id": "..."}``."""

    id: str | None = attrs.field(default=None, metadata={"keys": ("id", "customer_id")})
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


def _to_customer(record: Any) -> Customer:
    return structure(record, Customer)


class Customers(APIResource):
    """Customers uploaded to a campaign; the PBX autodials each for an agent."""

    async def _fetch(self, query: Query) -> Page[Customer]:
        return await self._get_page("/v2/customer", query, _to_customer)

    def list(
        self, campaign_id: str | None = None, *, page_size: int = 100, offset: int = 0
    ) -> AsyncPager[Customer]:
        """Every customer (of one campaign, if given), paged by ``limit``/``offset``.

        API: GET /v2/customer

        Args:
            campaign_id: only this campaign's customers (up to 255 characters).
            page_size: customers per request (``limit``), 1 to 10,000.
            offset: skip this many customers first (to resume a listing), 0 or more.

        Raises:
            ValidationError: a bad page size, offset or an empty campaign id; nothing sent.
        """
        query: dict[str, Any] = {
            "limit": check_int(page_size, "page_size", low=1, high=MAX_PAGE_SIZE),
            "offset": check_int(offset, "offset"),
        }
        if campaign_id is not None:
            query["campaign_id"] = check_id(campaign_id, "campaign_id")
        return AsyncPager(self._fetch, query, follow_offset(), path="/v2/customer")

    async def get(self, customer_id: str) -> Customer:
        """One customer by id.

        API: GET /v2/customer/{customer_id}

        Args:
            customer_id: the customer's id (up to 255 characters; not only dots).

        Raises:
            NotFoundError: no such customer.
            ValidationError: a bad id; nothing sent.
        """
        path = f"/v2/customer/{path_segment(customer_id, 'customer_id')}"
        return await self._get(path, cast_to=Customer)

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
            campaign_id: the campaign's id (up to 255 characters).
            customer_code: your code for the customer (up to 255 characters).
            phone_number: a Vietnamese number, matching ``^(84|0[3|5|7|8|9])+([0-9]{8})$``.
            contract_number: the contract's number (up to 255 characters).
            customer_name: the customer's name (one line, up to 1,000 characters).

        Returns:
            The new customer's id.

        Raises:
            BadRequestError: the server refused a field (``details`` names it).
            ValidationError: a required field is missing, or the number does not match;
                nothing sent.
        """
        body: dict[str, str] = {
            "campaign_id": check_id(campaign_id, "campaign_id"),
            "customer_code": check_id(customer_code, "customer_code"),
            "phone_number": check_customer_phone(phone_number, "phone_number"),
            "contract_number": check_id(contract_number, "contract_number"),
        }
        if customer_name is not None:
            body["customer_name"] = check_text(customer_name, "customer_name")
        created = await self._post(
            "/v2/customer",
            json=body,
            places_call=True,
            error_shapes=ErrorShape.FIELD_LIST,
            cast_to=_Created,
        )
        if not created.id:
            # Accepted, but we cannot tell which customer: it will be dialled all the same.
            raise OutcomeUnknownError(
                "the customer was created but the answer carries no id",
                status=200,
                method="POST",
                path="/v2/customer",
            )
        return created.id
