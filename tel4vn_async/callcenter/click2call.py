"""``cc.click2call``: ring an agent's extension, then a phone."""

from __future__ import annotations

from collections.abc import Mapping

from .._resource import APIResource
from .._validate import check_flag, check_id, check_number, check_phone, check_text, optional
from ..models.callcenter import ClickToCallResult

__all__ = ["ClickToCall"]

# Seconds a synchronous click-to-call may wait for the agent: an hour is far beyond any
# ring time, and a bound keeps a typo (3600000) from pinning a connection for days.
MAX_TIMEOUT = 3600.0


def _timeout(value: object, field: str) -> float:
    """Seconds to wait: above 0, at most ``MAX_TIMEOUT``."""
    return check_number(value, field, low=0, high=MAX_TIMEOUT, low_exclusive=True)


def _query(
    ext: object,
    phone: object,
    src_cid_name: object,
    src_cid_number: object,
    dest_cid_name: object,
    dest_cid_number: object,
    auto_answer: object,
    hotline: object,
    customer_id: object,
) -> dict[str, object]:
    """The click-to-call query, checked: everything in it goes into the URL."""
    return {
        "ext": check_id(ext, "ext"),
        "phone": check_phone(phone, "phone"),
        "src_cid_name": optional(check_text, src_cid_name, "src_cid_name"),
        "src_cid_number": optional(check_phone, src_cid_number, "src_cid_number"),
        "dest_cid_name": optional(check_text, dest_cid_name, "dest_cid_name"),
        "dest_cid_number": optional(check_phone, dest_cid_number, "dest_cid_number"),
        "auto_answer": optional(check_flag, auto_answer, "auto_answer"),
        "hotline": optional(check_phone, hotline, "hotline"),
        "customer_id": optional(check_id, customer_id, "customer_id"),
    }


class ClickToCall(APIResource):
    """Click-to-call: the PBX rings the agent's extension, then the customer's phone.

    Each request here can ring a phone, so none is ever sent twice: a failure after the
    request may have reached the server raises ``OutcomeUnknownError`` instead of a retry.
    """

    async def _place(
        self, path: str, query: Mapping[str, object], timeout: float | None = None
    ) -> ClickToCallResult:
        return await self._get(
            path, params=query, places_call=True, timeout=timeout, cast_to=ClickToCallResult
        )

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
            ext: the agent's extension, which rings first (up to 255 characters).
            phone: the number to call once the agent picks up (3 to 15 digits, an
                optional ``+``).
            src_cid_name: the name shown on the extension (default ``Click2Call``; one
                line, up to 1,000 characters).
            src_cid_number: the number shown on the extension.
            dest_cid_name: the caller name put in the SIP message to the phone (one
                line, up to 1,000 characters).
            dest_cid_number: the caller number put in the SIP message to the phone.
            auto_answer: make the extension answer by itself (a bool).
            hotline: the hotline to call out from.
            customer_id: your customer code, kept in the CDR (up to 255 characters).
            timeout: seconds to wait for the agent, above 0 and at most 3,600; the
                client's ``timeout`` when None.

        Raises:
            UserNotRegisteredError: the extension is not logged in on a softphone.
            UserBusyError: the extension is busy.
            OutcomeUnknownError: the request may have reached the PBX but no answer came
                back: the phone may be ringing. Never retried.
            ValidationError: a bad argument (a malformed number, an empty extension, a
                timeout out of range); nothing sent.
        """
        query = _query(
            ext, phone, src_cid_name, src_cid_number, dest_cid_name, dest_cid_number,
            auto_answer, hotline, customer_id,
        )  # fmt: skip
        wait = optional(_timeout, timeout, "timeout")
        return await self._place("/v1/click2call", query, wait)

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
        query = _query(
            ext, phone, src_cid_name, src_cid_number, dest_cid_name, dest_cid_number,
            auto_answer, hotline, customer_id,
        )  # fmt: skip
        return await self._place("/v1/click2call/async", query)

    async def dial(self, customer_id: str, mobile: str, agent: str) -> ClickToCallResult:
        """Ring the agent's extension, then a customer's mobile; returns at once.

        API: POST /v2/click2call

        Args:
            customer_id: your customer's id (sent as ``id``; up to 255 characters).
            mobile: the number to call (3 to 15 digits, an optional ``+``).
            agent: the agent's extension (up to 255 characters).

        Raises:
            UserNotRegisteredError: the agent is not logged in (``code: "1"``).
            OutcomeUnknownError: the phone may be ringing but no answer came back.
            ValidationError: nothing sent.
        """
        body = {
            "id": check_id(customer_id, "customer_id"),
            "mobile": check_phone(mobile, "mobile"),
            "agent": check_id(agent, "agent"),
        }
        return await self._post(
            "/v2/click2call", json=body, places_call=True, cast_to=ClickToCallResult
        )
