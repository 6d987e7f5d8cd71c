"""``CallCenterClient``: the call-center API (events, CDRs, click-to-call, queues, ...)."""

from __future__ import annotations

from .._client import BaseClient

__all__ = ["CallCenterClient"]


class CallCenterClient(BaseClient):
    """An asyncio client of the TEL4VN Call Center API.

    ``async with CallCenterClient("https://api.example.vn", api_key="...") as cc: ...``

    The bearer token comes from ``POST /v2/auth/token`` (``data.token``, ``data.expired_in``)
    and is refreshed by ``cc.session`` before it expires.
    """

    _token_path = "/v2/auth/token"
    _family = "callcenter"
