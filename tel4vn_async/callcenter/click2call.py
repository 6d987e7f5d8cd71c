"""``cc.click2call`` (ring an agent, then a phone) and ``cc.calls`` (calls in progress)."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any

from .._convert import structure
from .._validate import check_phone
from ..models.callcenter import CallControlResult, ClickToCallResult, LiveCall
from ..pagination import envelope
from ._base import Resource, path_id, text

__all__ = ["Calls", "ClickToCall"]


class ClickToCall:
    """Click-to-call: the PBX rings the agent's extension, then the customer's phone.

    Each request here can ring a phone, so none is ever sent twice: a failure after the
    request may have reached the server raises ``OutcomeUnknownError`` instead of a retry.
    """

    def __init__(self, resource: Resource) -> None:
        self._r = resource

    @staticmethod
    def _query(
        ext: str,
        phone: str,
        *,
        src_cid_name: str | None,
        src_cid_number: str | None,
        dest_cid_name: str | None,
        dest_cid_number: str | None,
        auto_answer: bool | None,
        hotline: str | None,
        customer_id: str | None,
    ) -> dict[str, object]:
        return {
            "ext": text(ext, "ext"),
            "phone": check_phone(phone, "phone"),
            "src_cid_name": src_cid_name,
            "src_cid_number": None
            if src_cid_number is None
            else check_phone(src_cid_number, "src_cid_number"),
            "dest_cid_name": dest_cid_name,
            "dest_cid_number": None
            if dest_cid_number is None
            else check_phone(dest_cid_number, "dest_cid_number"),
            "auto_answer": auto_answer,
            "hotline": None if hotline is None else check_phone(hotline, "hotline"),
            "customer_id": None if customer_id is None else text(customer_id, "customer_id"),
        }

    async def _place(
        self, path: str, query: Mapping[str, object], timeout: float | None = None
    ) -> ClickToCallResult:
        body = await self._r._call("GET", path, params=query, places_call=True, timeout=timeout)
        return self._r._model(body, ClickToCallResult, "GET", path)

    async def call(
        self,
        ext: str,
        phone: str,
        *,
        src_cid_name: str | None = None,
        src_cid_number: str | None = None,
        dest_cid_name: str | None = None,
        dest_cid_number: str | None = None,
        auto_answer: bool | None = None,
        hotline: str | None = None,
        customer_id: str | None = None,
        timeout: float | None = None,
    ) -> ClickToCallResult:
        """Ring extension ``ext``, then ``phone``; waits until the agent answers or hangs up.

        The answer can take as long as the agent's phone rings: pass a ``timeout`` longer
        than that (the client's ``timeout`` by default), or use ``start``.

        API: GET /v1/click2call

        Args:
            ext: the agent's extension, which rings first.
            phone: the number to call once the agent picks up.
            src_cid_name: the name shown on the extension (default ``Click2Call``).
            src_cid_number: the number shown on the extension.
            dest_cid_name: the caller name put in the SIP message to the phone.
            dest_cid_number: the caller number put in the SIP message to the phone.
            auto_answer: make the extension answer by itself.
            hotline: the hotline to call out from.
            customer_id: your customer code, kept in the CDR.
            timeout: seconds to wait for the agent; the client's ``timeout`` when None.

        Raises:
            UserNotRegisteredError: the extension is not logged in on a softphone.
            UserBusyError: the extension is busy.
            OutcomeUnknownError: the request may have reached the PBX but no answer came
                back: the phone may be ringing. Never retried.
            ValidationError: a malformed number or an empty extension; nothing sent.
        """
        query = self._query(
            ext,
            phone,
            src_cid_name=src_cid_name,
            src_cid_number=src_cid_number,
            dest_cid_name=dest_cid_name,
            dest_cid_number=dest_cid_number,
            auto_answer=auto_answer,
            hotline=hotline,
            customer_id=customer_id,
        )
        return await self._place("/v1/click2call", query, timeout)

    async def start(
        self,
        ext: str,
        phone: str,
        *,
        src_cid_name: str | None = None,
        src_cid_number: str | None = None,
        dest_cid_name: str | None = None,
        dest_cid_number: str | None = None,
        auto_answer: bool | None = None,
        hotline: str | None = None,
        customer_id: str | None = None,
    ) -> ClickToCallResult:
        """Ring extension ``ext``, then ``phone``; returns the call id at once.

        API: GET /v1/click2call/async

        Args: as for ``call``.

        Raises:
            UserNotRegisteredError: the extension is not logged in on a softphone.
            UserBusyError: the extension is busy.
            OutcomeUnknownError: the phone may be ringing but no answer came back.
            ValidationError: a malformed number or an empty extension; nothing sent.
        """
        query = self._query(
            ext,
            phone,
            src_cid_name=src_cid_name,
            src_cid_number=src_cid_number,
            dest_cid_name=dest_cid_name,
            dest_cid_number=dest_cid_number,
            auto_answer=auto_answer,
            hotline=hotline,
            customer_id=customer_id,
        )
        return await self._place("/v1/click2call/async", query)

    async def dial(self, customer_id: str, mobile: str, agent: str) -> ClickToCallResult:
        """Ring the agent's extension, then a customer's mobile; returns at once.

        API: POST /v2/click2call

        Args:
            customer_id: your customer's id (sent as ``id``).
            mobile: the number to call.
            agent: the agent's extension.

        Raises:
            UserNotRegisteredError: the agent is not logged in (``code: "1"``).
            OutcomeUnknownError: the phone may be ringing but no answer came back.
            ValidationError: nothing sent.
        """
        body = {
            "id": text(customer_id, "customer_id"),
            "mobile": check_phone(mobile, "mobile"),
            "agent": text(agent, "agent"),
        }
        answer = await self._r._call("POST", "/v2/click2call", json=body, places_call=True)
        return self._r._model(answer, ClickToCallResult, "POST", "/v2/click2call")


class Calls:
    """Calls in progress: list them; transfer, listen to, whisper into or barge in on one."""

    def __init__(self, resource: Resource) -> None:
        self._r = resource

    async def list(self) -> builtins.list[LiveCall]:
        """The calls in progress right now.

        API: GET /v2/call
        """
        body = await self._r._call("GET", "/v2/call")
        records, _ = envelope(body)
        return [structure(r, LiveCall) for r in records if isinstance(r, Mapping)]

    async def _act(self, action: str, call_id: str, ext: str) -> CallControlResult:
        path = f"/v2/call/{path_id(call_id, 'call_id')}/{action}"
        body: dict[str, Any] = {"ext": text(ext, "ext")}
        answer = await self._r._call("POST", path, json=body)
        return self._r._model(answer, CallControlResult, "POST", path)

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
