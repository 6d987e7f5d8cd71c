"""``CallCenterClient``: the call-center API (events, CDRs, click-to-call, queues, ...)."""

from __future__ import annotations

from functools import cached_property

from .._client import BaseClient
from .autocall_queues import AutocallQueues
from .autodialer import Autodialer
from .calls import Calls
from .cdrs import Cdrs
from .click2call import ClickToCall
from .customers import Customers
from .events import Events
from .users import Users

__all__ = ["CallCenterClient"]


class CallCenterClient(BaseClient):
    """An asyncio client of the TEL4VN Call Center API.

    ``async with CallCenterClient("https://api.example.vn", api_key="...") as cc: ...``

    The bearer token comes from ``POST /v2/auth/token`` (``data.token``, ``data.expired_in``)
    and is refreshed by ``cc.session`` before it expires. The endpoints are grouped:
    ``events``, ``cdrs``, ``click2call``, ``calls``, ``autodialer``, ``autocall_queues``,
    ``users``, ``customers``.
    """

    _token_path = "/v2/auth/token"
    _family = "callcenter"

    @cached_property
    def events(self) -> Events:
        """Webhook registrations for call events (``/v1/event``)."""
        return Events(self)

    @cached_property
    def cdrs(self) -> Cdrs:
        """Call detail records (``/v2/cdr``)."""
        return Cdrs(self)

    @cached_property
    def click2call(self) -> ClickToCall:
        """Click-to-call (``/v1/click2call``, ``/v1/click2call/async``, ``/v2/click2call``)."""
        return ClickToCall(self)

    @cached_property
    def calls(self) -> Calls:
        """Calls in progress (``/v2/call``)."""
        return Calls(self)

    @cached_property
    def autodialer(self) -> Autodialer:
        """Autodialer queues (``/v2/autodialer/queue``)."""
        return Autodialer(self)

    @cached_property
    def autocall_queues(self) -> AutocallQueues:
        """Autocall queues (``/v2/autocall/queue``)."""
        return AutocallQueues(self)

    @cached_property
    def users(self) -> Users:
        """User status (``/v2/user/{id}/status``)."""
        return Users(self)

    @cached_property
    def customers(self) -> Customers:
        """Customers uploaded for autodialing (``/v2/customer``)."""
        return Customers(self)
