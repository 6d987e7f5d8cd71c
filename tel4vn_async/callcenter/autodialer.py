"""``cc.autodialer``: import customers into an autodialer queue, dialled for agents."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .._resource import APIResource
from .._sansio import ErrorShape
from .._validate import check_id, check_int, check_list, check_queue_customers
from ..models.callcenter import QueueCustomer

__all__ = ["Autodialer", "CustomerArg", "queue_body"]

CustomerArg = QueueCustomer | Mapping[str, Any]
# A comma-separated agent list given as one string: room for a few hundred extensions.
MAX_AGENTS_TEXT = 10_000
# The autodialer answers {"message": "queue not found"} with HTTP 200 (the spec's samples).
_BARE = ErrorShape.BARE_MESSAGE


def queue_body(queue_code: str) -> dict[str, str]:
    """The body of a queue start/stop/delete (both queue kinds): ``{"queue_code": ...}``.

    Raises:
        ValidationError: a bad queue code (up to 255 characters).
    """
    return {"queue_code": check_id(queue_code, "queue_code")}


def _agents(queue_agents: object) -> str:
    """The agents' extensions, comma-separated: one string as given, or a list joined."""
    if isinstance(queue_agents, str):
        return check_id(queue_agents, "queue_agents", max_length=MAX_AGENTS_TEXT)
    return ",".join(check_list(queue_agents, "queue_agents", check_id))


class Autodialer(APIResource):
    """Autodialer queues: customers dialed for agents, ``precall_ratio`` calls per agent."""

    async def create_queue(
        self,
        *,
        campaign_id: str,
        queue_code: str,
        precall_ratio: int | str,
        max_recall_count: int | str,
        customers: Iterable[CustomerArg],
        queue_agents: str | Sequence[str] | None = None,
    ) -> None:
        """Import customers into an autodialer queue, to be dialed for the agents.

        The import can make phones ring, so it is never sent twice: a failure after it
        may have reached the server raises ``OutcomeUnknownError``.

        API: POST /v2/autodialer/queue

        Args:
            campaign_id: the campaign's id (up to 255 characters).
            queue_code: the queue's code (up to 255 characters).
            precall_ratio: the calls placed per available agent, in percent (150): a
                whole number from 1 to 2**31 - 1, or its digits as a string.
            max_recall_count: how often to call a customer again after a failed call
                (0 to 2**31 - 1, or its digits as a string).
            customers: ``QueueCustomer``s or ``{"id": ..., "mobiles": [...]}`` dicts
                (100,000 at most); other keys of a dict are sent as JSON values (see
                ``QueueCustomer.to_json``).
            queue_agents: the agents' extensions: one string (sent as given, up to
                10,000 characters), or a list of extensions (sent comma-separated).

        Raises:
            BadRequestError: e.g. ``campaign is invalid``.
            ValidationError: a required field is missing or malformed; nothing sent.
        """
        body: dict[str, Any] = {
            "campaign_id": check_id(campaign_id, "campaign_id"),
            "queue_code": check_id(queue_code, "queue_code"),
            # The reference sends the numbers as strings.
            "precall_ratio": str(
                check_int(precall_ratio, "precall_ratio", low=1, digit_strings=True)
            ),
            "max_recall_count": str(
                check_int(max_recall_count, "max_recall_count", digit_strings=True)
            ),
        }
        if queue_agents is not None:
            body["queue_agents"] = _agents(queue_agents)
        body["customers"] = check_queue_customers(customers)
        await self._post("/v2/autodialer/queue", json=body, places_call=True, error_shapes=_BARE)

    async def start(self, queue_code: str) -> None:
        """Resume a stopped queue.

        API: POST /v2/autodialer/queue/start

        Raises:
            NotFoundError: ``queue not found``.
        """
        await self._post(
            "/v2/autodialer/queue/start", json=queue_body(queue_code), error_shapes=_BARE
        )

    async def stop(self, queue_code: str) -> None:
        """Pause a queue.

        API: POST /v2/autodialer/queue/stop

        Raises:
            NotFoundError: ``queue not found``.
        """
        await self._post(
            "/v2/autodialer/queue/stop", json=queue_body(queue_code), error_shapes=_BARE
        )

    async def delete(self, queue_code: str) -> None:
        """Delete a (stopped) queue.

        API: POST /v2/autodialer/queue/delete

        Raises:
            NotFoundError: ``queue not found``.
        """
        await self._post(
            "/v2/autodialer/queue/delete", json=queue_body(queue_code), error_shapes=_BARE
        )
