"""What the fake's endpoint modules share: the app key to reach the fake, JSON answers,
and the state every area mixin may use."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from ._fake import FakeTel4vn

__all__ = ["FAKE", "FakeBase", "json_response"]

FAKE: web.AppKey[FakeTel4vn] = web.AppKey("tel4vn_fake")
"""``request.app[FAKE]`` is the FakeTel4vn serving the request."""


def json_response(body: object, status: int = 200) -> web.Response:
    """A JSON response the way the real servers send it."""
    return web.Response(
        text=json.dumps(body, ensure_ascii=False), status=status, content_type="application/json"
    )


class FakeBase:
    """The state an area mixin may use; ``FakeTel4vn`` sets it up."""

    state: dict[str, Any]
    dials: defaultdict[str, int]

    def next_id(self, prefix: str = "") -> str:
        raise NotImplementedError
