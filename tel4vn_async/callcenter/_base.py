"""What the Call Center resource groups share: the client's request path and small helpers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from .._convert import structure
from .._validate import check_phone, require
from ..errors import TransportError, ValidationError
from ..models.callcenter import QueueCustomer

if TYPE_CHECKING:
    from .._client import BaseClient

__all__ = ["Resource", "path_id", "queue_customers", "record", "text"]

M = TypeVar("M")


class Resource:
    """A group of endpoints on one client; every request goes through ``client._send``."""

    def __init__(self, client: BaseClient) -> None:
        self._client = client

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self._client!r}>"

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, object] | None = None,
        json: Any = None,
        places_call: bool = False,
        timeout: float | None = None,
    ) -> Any:
        return await self._client.request(
            method, path, params=params, json=json, places_call=places_call, timeout=timeout
        )

    def _model(self, body: object, cls: type[M], method: str, path: str) -> M:
        """One record from a body, flat or wrapped in ``data``."""
        data = record(body)
        if not isinstance(data, Mapping):
            raise TransportError(
                f"expected a JSON object, got {type(data).__name__}",
                status=200,
                method=method,
                path=path,
            )
        return structure(data, cls)


def record(body: object) -> object:
    """The record of a single-record response: ``data`` when it is an object, else the body."""
    if isinstance(body, Mapping):
        data = body.get("data")
        if isinstance(data, Mapping):
            return data
    return body


def text(value: object, field: str) -> str:
    """A required text argument, stripped; ints are accepted (``ext=101``)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValidationError(f"{field} must be a string, got {value!r}", field=field)
    out = str(value).strip()
    require(out, field)
    return out


def path_id(value: object, field: str) -> str:
    """An id to put in a URL path: required, and quoted so that it stays one segment."""
    return quote(text(value, field), safe="")


def queue_customers(customers: Iterable[QueueCustomer | Mapping[str, Any]]) -> list[Any]:
    """The ``customers`` of a queue import, checked: each has an ``id`` and dialable
    ``mobiles``.
    """
    if isinstance(customers, str | bytes | Mapping):
        raise ValidationError("customers must be a list of customers", field="customers")
    out: list[dict[str, Any]] = []
    for i, customer in enumerate(customers):
        where = f"customers[{i}]"
        if isinstance(customer, QueueCustomer):
            item = customer.to_json()
        elif isinstance(customer, Mapping):
            item = dict(customer)
        else:
            raise ValidationError(
                f"{where} must be a QueueCustomer or a dict, got {type(customer).__name__}",
                field=where,
            )
        item["id"] = text(item.get("id"), f"{where}.id")
        mobiles = item.get("mobiles")
        if isinstance(mobiles, str | bytes) or not isinstance(mobiles, Sequence) or not mobiles:
            raise ValidationError(
                f"{where}.mobiles must be a non-empty list of phone numbers",
                field=f"{where}.mobiles",
            )
        item["mobiles"] = [check_phone(m, f"{where}.mobiles[{j}]") for j, m in enumerate(mobiles)]
        out.append(item)
    require(out, "customers")
    return out
