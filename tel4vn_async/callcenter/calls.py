"""``cc.calls``: calls in progress: list them; transfer, listen to, whisper into, barge in."""

from __future__ import annotations

import builtins
from typing import Any

from .._resource import APIResource
from .._validate import check_id, path_segment
from ..models.callcenter import CallControlResult, LiveCall

__all__ = ["Calls"]


class Calls(APIResource):
    """Calls in progress: list them; transfer, listen to, whisper into or barge in on one.

    Each action takes the call's id (quoted into one path segment; not only dots) and an
    extension (up to 255 characters); a bad one raises ``ValidationError``, nothing sent.
    """

    async def list(self) -> builtins.list[LiveCall]:
        """The calls in progress right now.

        API: GET /v2/call
        """
        return await self._get_list("/v2/call", LiveCall)

    async def _act(self, action: str, call_id: str, ext: str) -> CallControlResult:
        path = f"/v2/call/{path_segment(call_id, 'call_id')}/{action}"
        body: dict[str, Any] = {"ext": check_id(ext, "ext")}
        return await self._post(path, json=body, cast_to=CallControlResult)

    async def transfer(self, call_id: str, ext: str) -> CallControlResult:
        """Transfer a call to extension ``ext``.

        API: POST /v2/call/{call_id}/transfer

        Raises:
            UserNotRegisteredError: ``ext`` is not logged in.
            NotFoundError: no such call.
        """
        return await self._act("transfer", call_id, ext)

    async def listen(self, call_id: str, ext: str) -> CallControlResult:
        """Let extension ``ext`` listen to a call silently.

        API: POST /v2/call/{call_id}/listen

        Raises:
            UserNotRegisteredError: ``ext`` is not logged in.
        """
        return await self._act("listen", call_id, ext)

    async def whisper(self, call_id: str, ext: str) -> CallControlResult:
        """Let extension ``ext`` talk to the agent of a call; the customer does not hear it.

        API: POST /v2/call/{call_id}/whisper

        Raises:
            UserNotRegisteredError: ``ext`` is not logged in.
        """
        return await self._act("whisper", call_id, ext)

    async def barge(self, call_id: str, ext: str) -> CallControlResult:
        """Join extension ``ext`` to a call: a three-way call with agent and customer.

        API: POST /v2/call/{call_id}/barge

        Raises:
            UserNotRegisteredError: ``ext`` is not logged in.
        """
        return await self._act("barge", call_id, ext)
