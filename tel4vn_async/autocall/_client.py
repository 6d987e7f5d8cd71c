"""``AutocallClient``: the autocall (PBX) API (OTP and text-to-speech calls, reports)."""

from __future__ import annotations

from .._client import BaseClient

__all__ = ["AutocallClient"]


class AutocallClient(BaseClient):
    """An asyncio client of the TEL4VN Autocall (PBX) API.

    ``async with AutocallClient("https://pbx.example.vn", api_key="...") as pbx: ...``

    The bearer token comes from ``POST /v1/auth/token`` (``data.access_token``,
    ``data.expire_at``) and is refreshed by ``pbx.session`` before it expires.
    """

    _token_path = "/v1/auth/token"
    _family = "autocall"
