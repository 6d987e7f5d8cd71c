"""``cc.autodialer`` and ``cc.autocall_queues``: import customers into dialing queues."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .._convert import structure
from ..errors import ValidationError
from ..models.callcenter import ImportResult, QueueCustomer
from ._base import Resource, queue_customers, text

__all__ = ["AutocallQueues", "Autodialer"]

CustomerArg = QueueCustomer | Mapping[str, Any]


def _count(value: object, field: str, *, low: int) -> int:
    # The spec's samples send these as strings ("150") and as numbers (5): take both.
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValidationError(f"{field} must be an integer >= {low}, got {value!r}", field=field)
    return value


def _queue_body(queue_code: str) -> dict[str, str]:
    return {"queue_code": text(queue_code, "queue_code")}


class Autodialer:
    """Autodialer queues: customers dialed for agents, ``precall_ratio`` calls per agent."""

    def __init__(self, resource: Resource) -> None:
        self._r = resource

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
            campaign_id: the campaign's id.
            queue_code: the queue's code.
            precall_ratio: the calls placed per available agent, in percent (150).
            max_recall_count: how often to call a customer again after a failed call.
            customers: ``QueueCustomer``s or ``{"id": ..., "mobiles": [...]}`` dicts.
            queue_agents: the agents' extensions: one string, or a list (sent
                comma-separated).

        Raises:
            BadRequestError: e.g. ``campaign is invalid``.
            ValidationError: a required field is missing or malformed; nothing sent.
        """
        body: dict[str, Any] = {
            "campaign_id": text(campaign_id, "campaign_id"),
            "queue_code": text(queue_code, "queue_code"),
            # The reference sends the numbers as strings.
            "precall_ratio": str(_count(precall_ratio, "precall_ratio", low=1)),
            "max_recall_count": str(_count(max_recall_count, "max_recall_count", low=0)),
        }
        if queue_agents is not None:
            if isinstance(queue_agents, str):
                body["queue_agents"] = text(queue_agents, "queue_agents")
            else:
                agents = [text(a, f"queue_agents[{i}]") for i, a in enumerate(queue_agents)]
                if not agents:
                    raise ValidationError("queue_agents must not be empty", field="queue_agents")
                body["queue_agents"] = ",".join(agents)
        body["customers"] = queue_customers(customers)
        await self._r._call("POST", "/v2/autodialer/queue", json=body, places_call=True)

    async def start(self, queue_code: str) -> None:
        """Resume a stopped queue.

        API: POST /v2/autodialer/queue/start

        Raises:
            NotFoundError: ``queue not found``.
        """
        await self._r._call("POST", "/v2/autodialer/queue/start", json=_queue_body(queue_code))

    async def stop(self, queue_code: str) -> None:
        """Pause a queue.

        API: POST /v2/autodialer/queue/stop

        Raises:
            NotFoundError: ``queue not found``.
        """
        await self._r._call("POST", "/v2/autodialer/queue/stop", json=_queue_body(queue_code))

    async def delete(self, queue_code: str) -> None:
        """Delete a (stopped) queue.

        API: POST /v2/autodialer/queue/delete

        Raises:
            NotFoundError: ``queue not found``.
        """
        await self._r._call("POST", "/v2/autodialer/queue/delete", json=_queue_body(queue_code))


class AutocallQueues:
    """Autocall queues: customers called by the PBX and played an IVR template."""

    def __init__(self, resource: Resource) -> None:
        self._r = resource

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
            queue_code: the queue's code.
            template: the IVR template to play.
            customers: ``QueueCustomer``s (their ``fields`` carry the template's
                variables) or dicts in the spec's shape.
            concurrent_call: calls at once.
            max_recall_count: how often to call a customer again after a failed call.
            min_recall_duration: call again when the customer hung up sooner (seconds).

        Returns:
            The ids imported (``success``) and refused (``fail``).

        Raises:
            BadRequestError: ``import fail`` (its ``details["data"]`` holds the lists).
            ValidationError: a required field is missing or malformed; nothing sent.
        """
        body: dict[str, Any] = {
            "queue_code": text(queue_code, "queue_code"),
            "template": text(template, "template"),
        }
        for field, value, low in (
            ("concurrent_call", concurrent_call, 1),
            ("max_recall_count", max_recall_count, 0),
            ("min_recall_duration", min_recall_duration, 0),
        ):
            if value is not None:
                body[field] = _count(value, field, low=low)
        body["customers"] = queue_customers(customers)
        answer = await self._r._call("POST", "/v2/autocall/queue", json=body, places_call=True)
        data = answer.get("data") if isinstance(answer, Mapping) else None
        return structure(data if isinstance(data, Mapping) else {}, ImportResult)

    async def block(self, queue_code: str, customer_ids: Iterable[str]) -> None:
        """Put customers on a queue's do-not-call list; those not yet dialed are skipped.

        API: POST /v2/autocall/queue/dnc

        Raises:
            NotFoundError: ``queue not found``.
            ValidationError: no customer ids, or an empty one; nothing sent.
        """
        if isinstance(customer_ids, str | bytes):
            raise ValidationError("customer_ids must be a list of ids", field="customer_ids")
        ids = [text(c, f"customer_ids[{i}]") for i, c in enumerate(customer_ids)]
        if not ids:
            raise ValidationError("customer_ids must not be empty", field="customer_ids")
        body = {**_queue_body(queue_code), "customers": [{"id": c} for c in ids]}
        await self._r._call("POST", "/v2/autocall/queue/dnc", json=body)

    async def start(self, queue_code: str) -> None:
        """Resume a stopped queue.

        API: POST /v2/autocall/queue/start

        Raises:
            NotFoundError: ``queue not found``.
        """
        await self._r._call("POST", "/v2/autocall/queue/start", json=_queue_body(queue_code))

    async def stop(self, queue_code: str) -> None:
        """Pause a queue.

        API: POST /v2/autocall/queue/stop

        Raises:
            NotFoundError: ``queue not found``.
        """
        await self._r._call("POST", "/v2/autocall/queue/stop", json=_queue_body(queue_code))

    async def delete(self, queue_code: str) -> None:
        """Delete a (stopped) queue.

        API: POST /v2/autocall/queue/delete

        Raises:
            NotFoundError: ``queue not found``.
        """
        await self._r._call("POST", "/v2/autocall/queue/delete", json=_queue_body(queue_code))
