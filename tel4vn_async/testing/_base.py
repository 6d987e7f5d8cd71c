"""What the fake's endpoint modules share: the app key to reach the fake, JSON answers,
and the state and controls every area module may use (``FakeBase``).

Area modules (``_auth``, ``_cdrs``, ``_calls``, ``_callcenter``, ``_autocall``,
``_webhooks``) import only this module, never ``_fake``: ``FakeTel4vn`` is assembled from
them, not the other way round.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from aiohttp import web

if TYPE_CHECKING:  # for the key's type only: _fake imports this module, never the reverse
    from ._fake import FakeTel4vn

__all__ = ["FAKE", "FakeBase", "TokenStyle", "int_param", "json_body", "json_response"]

TokenStyle = Literal["callcenter", "autocall", "pbx", "flat", "duration", "none", "past"]

FAKE: web.AppKey[FakeTel4vn] = web.AppKey("tel4vn_fake")
"""``request.app[FAKE]`` is the FakeTel4vn serving the request."""


def json_response(body: object, status: int = 200) -> web.Response:
    """A JSON response the way the real servers send it."""
    return web.Response(
        text=json.dumps(body, ensure_ascii=False), status=status, content_type="application/json"
    )


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object; ``{}`` for a body that is not one."""
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def int_param(value: str | None, default: int) -> int:
    """A query parameter as an int; ``default`` when it is missing or not a number."""
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


class FakeBase:
    """The state and controls an area module may use; ``FakeTel4vn`` provides them."""

    api_key: str
    username: str
    password: str
    token_lifetime: float | None
    token_style: TokenStyle | None
    clock: Callable[[], float]
    state: dict[str, Any]
    dials: defaultdict[str, int]

    def next_id(self, prefix: str = "") -> str:
        raise NotImplementedError

    def issue_token(self) -> str:
        raise NotImplementedError
