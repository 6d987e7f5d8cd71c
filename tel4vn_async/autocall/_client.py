"""``AutocallClient``: the autocall (PBX) API (OTP and text-to-speech calls, reports)."""

from __future__ import annotations

import aiohttp

from .._client import BaseClient
from .._token import TokenStore
from .._transport import RetryPolicy
from ._audio import Audio
from ._calls import Calls
from ._reports import Reports
from ._templates import Templates

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

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        http_session: aiohttp.ClientSession | None = None,
        timeout: float = 30.0,
        max_retries: int = 3,
        refresh_leeway: float = 60.0,
        token_store: TokenStore | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        """Configure a client; nothing is sent until the first call (see ``BaseClient``)."""
        super().__init__(
            base_url,
            api_key,
            http_session=http_session,
            timeout=timeout,
            max_retries=max_retries,
            refresh_leeway=refresh_leeway,
            token_store=token_store,
            retry_policy=retry_policy,
        )
        self.templates = Templates(self)
        """OTP and text-to-speech templates: ``create_otp``, ``create_tts``."""
        self.calls = Calls(self)
        """OTP and text-to-speech calls: ``otp``, ``tts``."""
        self.audio = Audio(self)
        """Audio file uploads: ``upload``."""
        self.reports = Reports(self)
        """Call reports: ``list``, ``get``."""
