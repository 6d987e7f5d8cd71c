"""``cc.autocall_queues``: import customers into an autocall queue, played a template."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .._resource import APIResource
from .._validate import check_id, check_int, check_list, check_queue_customers, check_text
from ..models.callcenter import ImportResult
from .autodialer import CustomerArg, queue_body

__all__ = ["AutocallQueues"]


class AutocallQueues(APIResource):
    """Autocall queues: customers called by the PBX and played an IVR template."""

    async def create(
        self,
        *,
        queue_code: str,
        template: str,
        customers: Iterable[CustomerArg],
        concurrent_call: int | None = None,
        max_recall_count: int | None = None,
        min_recall_duration: int | None = None,
    ) -> ImportResult:
        """Import customers into an autocall queue; the PBX calls them with ``template``.

        Never sent twice (see ``Autodialer.create_queue``).

        API: POST /v2/autocall/queue

        Args:
            queue_code: the queue's code (up to 255 characters).
            template: the IVR template to play (one line, up to 1,000 characters).
            customers: ``QueueCustomer``s (their ``fields`` carry the template's
                variables) or dicts in the spec's shape (100,000 at most; other keys
                are sent as JSON values, see ``QueueCustomer.to_json``).
            concurrent_call: calls at once (1 to 2**31 - 1).
            max_recall_count: how often to call a customer again after a failed call
                (0 to 2**31 - 1).
            min_recall_duration: call again when the customer hung up sooner (seconds,
                0 to 2**31 - 1). The three numbers may also be strings of digits.

        Returns:
            The ids imported (``success``) and refused (``fail``).

        Raises:
            BadRequestError: ``import fail`` (its ``details["data"]`` holds the lists).
            ValidationError: a required field is missing or malformed; nothing sent.
        """
        body: dict[str, Any] = {
            "queue_code": check_id(queue_code, "queue_code"),
            "template": check_text(template, "template"),
        }
        for field, value, low in (
            ("concurrent_call", concurrent_call, 1),
            ("max_recall_count", max_recall_count, 0),
            ("min_recall_duration", min_recall_duration, 0),
        ):
            if value is not None:
                body[field] = check_int(value, field, low=low, digit_strings=True)
        body["customers"] = check_queue_customers(customers)
        return await self._post(
            "/v2/autocall/queue", json=body, places_call=True, cast_to=ImportResult
        )

    async def block(self, queue_code: str, customer_ids: Iterable[str]) -> None:
        """Put customers on a queue's do-not-call list; those not yet dialed are skipped.

        API: POST /v2/autocall/queue/dnc

        Args:
            queue_code: the queue's code (up to 255 characters).
            customer_ids: the customers' ids (a list, not one string; 100,000 at most).

        Raises:
            NotFoundError: ``queue not found``.
            ValidationError: no customer ids, or a bad one; nothing sent.
        """
        ids = check_list(customer_ids, "customer_ids", check_id)
        body = {**queue_body(queue_code), "customers": [{"id": c} for c in ids]}
        await self._post("/v2/autocall/queue/dnc", json=body)

    async def start(self, queue_code: str) -> None:
        """Resume a stopped queue.

        API: POST /v2/autocall/queue/start

        Raises:
            NotFoundError: ``queue not found``.
        """
        await self._post("/v2/autocall/queue/start", json=queue_body(queue_code))

    async def stop(self, queue_code: str) -> None:
        """Pause a queue.

        API: POST /v2/autocall/queue/stop

        Raises:
            NotFoundError: ``queue not found``.
        """
        await self._post("/v2/autocall/queue/stop", json=queue_body(queue_code))

    async def delete(self, queue_code: str) -> None:
        """Delete a (stopped) queue.

        API: POST /v2/autocall/queue/delete

        Raises:
            NotFoundError: ``queue not found``.
        """
        await self._post("/v2/autocall/queue/delete", json=queue_body(queue_code))
