"""``AutocallClient``: the autocall (PBX) API (OTP and text-to-speech calls, reports)."""

from __future__ import annotations

from functools import cached_property

from .._client import BaseClient
from .audio import Audio
from .calls import Calls
from .reports import Reports
from .templates import Templates

__all__ = ["AutocallClient"]


class AutocallClient(BaseClient):
    """An asyncio client of the TEL4VN Autocall (PBX) API.

    ``async with AutocallClient("https://pbx.example.vn", api_key="...") as pbx: ...``

    The bearer token comes from ``POST /v1/auth/token`` (``data.access_token``,
    ``data.expire_at``) and is refreshed by ``pbx.session`` before it expires.

    Resources: ``templates`` (OTP and TTS templates), ``calls`` (OTP and TTS calls),
    ``audio`` (audio file uploads), ``reports`` (call reports).
    """

    _token_path = "/v1/auth/token"
    _family = "autocall"

    @cached_property
    def templates(self) -> Templates:
        """OTP and text-to-speech templates: ``create_otp``, ``create_tts``."""
        return Templates(self)

    @cached_property
    def calls(self) -> Calls:
        """OTP and text-to-speech calls: ``otp``, ``tts``."""
        return Calls(self)

    @cached_property
    def audio(self) -> Audio:
        """Audio file uploads: ``upload``."""
        return Audio(self)

    @cached_property
    def reports(self) -> Reports:
        """Call reports: ``list``, ``get``."""
        return Reports(self)
