"""Models of the Call Center API: events, CDRs, click-to-call, live calls, queues, users,
customers.

Every model is a frozen, slotted attrs class structured by the one converter
(``_convert.structure``); its ``raw`` keeps the record as received, unknown fields
included. Enum fields map an unknown value to ``UNKNOWN`` (``raw`` keeps the original),
optional fields turn ``""`` into None, and an unreadable value leaves its field None.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, TypeVar

import attrs

from .._enums import ApiEnum
from ._base import SECRET, Model

__all__ = [
    "CallControlResult",
    "CallDirection",
    "CallStatus",
    "Cdr",
    "CdrMapping",
    "ClickToCallResult",
    "Customer",
    "CustomerStatus",
    "Event",
    "EventType",
    "ImportResult",
    "LiveCall",
    "QueueCustomer",
    "UserStatus",
]

E = TypeVar("E", bound=ApiEnum)
M = TypeVar("M")


class EventType(ApiEnum):
    """A call event a webhook can be registered for (``POST /v1/event``)."""

    HANGUP = "hangup"
    RINGING = "ringing"
    ANSWERED = "answered"
    CDR = "cdr"
    UNKNOWN = "unknown"
    """A value this SDK does not know yet (the record's ``raw`` keeps it)."""


class CallDirection(ApiEnum):
    """The direction of a call (a CDR's or a live call's)."""

    INBOUND = "inbound"
    OUTBOUND = "outbound"
    LOCAL = "local"
    UNKNOWN = "unknown"
    """Not one of the above; the reference CDR sample sends the integer ``3``."""


class CallStatus(ApiEnum):
    """A CDR's status (the default mapping sends it in upper case, the flex one in lower)."""

    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWERED = "no-answered"
    CANCEL = "cancel"
    NOT_AVAILABLE = "not-available"
    INVALID = "invalid"
    UNKNOWN = "unknown"
    """A value this SDK does not know yet (the record's ``raw`` keeps it)."""


class CustomerStatus(ApiEnum):
    """Where a customer stands in its campaign's autodialing."""

    NEW = "new"
    QUEUE = "queue"
    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWERED = "no-answered"
    CANCEL = "cancel"
    FAIL = "fail"
    UNKNOWN = "unknown"
    """The API's own "unknown" status, and any value this SDK does not know yet."""


CdrMapping = Literal["default", "flex"]


@attrs.frozen
class Event(Model):
    """A webhook registration (``GET /v1/event``); field names as the API sends them."""

    event_domain_uuid: str | None = attrs.field(
        default=None, metadata={"keys": ("event_domain_uuid", "id")}
    )
    """The registration's id (what ``events.delete`` takes)."""
    event_name: EventType | None = attrs.field(
        default=None, metadata={"keys": ("event_name", "event")}
    )
    """The event hooked (``event_name``, or ``event`` as it was created)."""
    callback_url: str | None = attrs.field(default=None)
    """Where the PBX posts the event."""
    callback_apikey: str | None = attrs.field(default=None, repr=False, metadata={SECRET: True})
    """The key the PBX sends along (a secret: never in a ``repr``, nor in ``to_dict()`` unless
    ``include_secrets=True``)."""
    domain_uuid: str | None = attrs.field(default=None)
    """The tenant's id."""
    domain_name: str | None = attrs.field(default=None)
    """The tenant's domain, e.g. ``test.tel4vn.com``."""
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)
    """The record's fields as received (``callback_apikey`` included)."""

    @property
    def id(self) -> str | None:
        """The registration's id: ``event_domain_uuid``."""
        return self.event_domain_uuid


# A record with any of these keys comes in the flex mapping.
_FLEX_KEYS = frozenset(
    {"cdrId", "extensionId", "recordFile", "customerId", "dialAt", "ringAt", "answeredAt",
     "hangupAt"}
)  # fmt: skip


@attrs.frozen
class Cdr(Model):
    """A call detail record, from either of the API's two mappings.

    The default mapping and the flex mapping name their fields differently; both land on
    the same attributes (the key read is given per field, default first, then flex).
    ``mapping`` says which one the record came in; ``raw`` keeps it as received.
    """

    id: str | None = attrs.field(default=None, metadata={"keys": ("id", "cdrId")})
    """The CDR's id (default ``id``, flex ``cdrId``); stray spaces stripped."""
    sip_call_id: str | None = attrs.field(default=None)
    """The SIP Call-ID (``sip_call_id`` in both mappings)."""
    direction: CallDirection | None = attrs.field(default=None)
    """``direction`` in both; the reference default sample's integer ``3`` is UNKNOWN."""
    status: CallStatus | None = attrs.field(default=None)
    """``status`` in both (``ANSWERED`` or ``answered``)."""
    cause: str | None = attrs.field(default=None)
    """The SIP hangup cause, e.g. ``NORMAL_CLEARING`` (default ``cause``)."""
    duration: int | None = None
    """Seconds from start to end (``duration`` in both)."""
    billsec: int | None = None
    """Seconds from answer to end (``billsec``; flex, and some default servers)."""
    extension: str | None = attrs.field(
        default=None, metadata={"keys": ("extension", "extensionId")}
    )
    """The agent's extension (default ``extension``, flex ``extensionId``)."""
    from_number: str | None = attrs.field(default=None)
    """The calling number (default ``from_number``; flex has none)."""
    to_number: str | None = attrs.field(default=None, metadata={"keys": ("to_number", "to")})
    """The called number (default ``to_number``, flex ``to``)."""
    customer_id: str | None = attrs.field(
        default=None, metadata={"keys": ("customer_id", "customerId")}
    )
    """The customer's code (default ``customer_id``, flex ``customerId``)."""
    recording_url: str | None = attrs.field(
        default=None, metadata={"keys": ("recording_url", "recordFile")}
    )
    """The recording (default ``recording_url``, flex ``recordFile``); None when ``""``."""
    receive_dest: str | None = attrs.field(default=None)
    """The ring group or queue that received the call (default ``receive_dest``)."""
    started_at: datetime | None = attrs.field(
        default=None, metadata={"keys": ("time_started", "dialAt")}
    )
    """When the call started (default ``time_started``, flex ``dialAt``)."""
    ringing_at: datetime | None = attrs.field(
        default=None, metadata={"keys": ("ringAt", "time_ringing", "time_ringging")}
    )
    """When it started ringing (flex ``ringAt``; ``time_ringing``/``time_ringging``)."""
    answered_at: datetime | None = attrs.field(
        default=None, metadata={"keys": ("time_answered", "answeredAt")}
    )
    """When it was answered (default ``time_answered``, flex ``answeredAt``); None if not."""
    ended_at: datetime | None = attrs.field(
        default=None, metadata={"keys": ("time_ended", "hangupAt")}
    )
    """When it ended (default ``time_ended``, flex ``hangupAt``)."""
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)
    """The record's fields as received, unknown ones included."""
    mapping: CdrMapping = attrs.field(init=False, eq=False)
    """``"flex"`` when the record used the flex mapping's names, else ``"default"``."""

    @mapping.default
    def _mapping(self) -> CdrMapping:
        return "default" if _FLEX_KEYS.isdisjoint(self.raw) else "flex"


@attrs.frozen
class ClickToCallResult(Model):
    """A click-to-call the PBX accepted (the extension rings first, then the phone)."""

    call_id: str | None = attrs.field(default=None)
    """The call's id (the CDR's id later)."""
    status: str | None = attrs.field(default=None)
    """``success``."""
    code: str | None = attrs.field(default=None)
    """``"0"`` from ``POST /v2/click2call``; None from the GET endpoints."""
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)
    """The response as received."""


@attrs.frozen
class CallControlResult(Model):
    """The answer to a transfer, listen, whisper or barge request."""

    call_id: str | None = attrs.field(default=None)
    """The call acted on."""
    ext: str | None = attrs.field(default=None)
    """The extension that now takes part."""
    status: str | None = attrs.field(default=None)
    """``success``."""
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)
    """The response as received."""


@attrs.frozen
class LiveCall(Model):
    """A call in progress (``GET /v2/call``); field names as the API sends them."""

    call_id: str | None = attrs.field(default=None)
    """The call's id (what ``calls.transfer`` and friends take)."""
    source: str | None = attrs.field(default=None)
    """The calling side, e.g. an extension."""
    destination: str | None = attrs.field(default=None)
    """The called side."""
    direction: CallDirection | None = attrs.field(default=None)
    """Inbound, outbound or local."""
    state: str | None = attrs.field(default=None)
    """The switch's channel state, e.g. ``CS_EXECUTE``."""
    created_time: datetime | None = None
    """When the call started (zone-less in the API: a naive datetime)."""
    context: str | None = attrs.field(default=None)
    """The tenant's domain."""
    ip: str | None = attrs.field(default=None)
    """The address the call came from."""
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)
    """The record as received."""


@attrs.frozen
class ImportResult(Model):
    """Which customers a queue import took (``success``) and refused (``fail``)."""

    success: list[str] = attrs.field(factory=list)
    """The ids of the customers imported."""
    fail: list[str] = attrs.field(factory=list)
    """The ids of the customers refused."""
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)
    """The ``data`` object as received."""


@attrs.frozen
class UserStatus(Model):
    """A user's extension and whether it is logged in on a softphone."""

    user_uuid: str | None = attrs.field(default=None, metadata={"keys": ("user_uuid", "user_id")})
    """The user's id (``user_uuid``, or ``user_id`` on later servers)."""
    username: str | None = attrs.field(default=None)
    """The user's login name."""
    agent_name: str | None = attrs.field(default=None)
    """The agent's display name."""
    extension: str | None = attrs.field(default=None)
    """The user's extension."""
    ext_loggedin: bool | None = None
    """Whether the extension is logged in on a softphone (sent as ``"true"``/``"false"``)."""
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)
    """The ``data`` object as received."""


@attrs.frozen
class Customer(Model):
    """A customer uploaded for autodialing (``/v2/customer``); the API's field names."""

    customer_id: str | None = attrs.field(default=None, metadata={"keys": ("customer_id", "id")})
    """The customer's id."""
    campaign_id: str | None = attrs.field(default=None)
    """The campaign it belongs to."""
    customer_code: str | None = attrs.field(default=None)
    """Your code for the customer."""
    customer_name: str | None = attrs.field(default=None)
    """The customer's name."""
    phone_number: str | None = attrs.field(default=None)
    """The number to dial."""
    contract_number: str | None = attrs.field(default=None)
    """The contract's number."""
    status: CustomerStatus | None = attrs.field(default=None)
    """Where the customer stands (``NEW`` in the samples)."""
    created_at: datetime | None = None
    """When it was uploaded (ISO 8601 with ``Z``: an aware datetime)."""
    updated_at: datetime | None = None
    """When it last changed; None for Go's zero time (never updated)."""
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)
    """The record as received."""


@attrs.frozen
class QueueCustomer(Model):
    """A customer to import into a queue (``autodialer.create_queue``,
    ``autocall_queues.create``); a plain ``{"id": ..., "mobiles": [...]}`` dict works too.
    """

    id: str
    """Your id for the customer."""
    mobiles: Sequence[str]
    """The numbers to dial, in order."""
    fields: Mapping[str, Any] = attrs.field(factory=dict)
    """More fields sent with the customer (an autocall template's variables, e.g.
    ``contract_number``, ``due_date``, ``total_ovd_amount``)."""

    def to_json(self) -> dict[str, Any]:
        """The customer as the import body carries it: ``{**fields, "id", "mobiles"}``.

        The id is stripped (255 characters at most), each mobile checked (3 to 15
        digits, an optional ``+``). Each field is sent as a JSON value: ``date``,
        ``datetime`` and ``time`` as ISO strings; a ``Decimal`` as an int when it is
        whole and fits 64 bits, else as a float when that loses no digit, else as its
        exact text; an enum as its value; strings (up to 1,000 characters, line breaks
        allowed), finite numbers, bools, None, and lists and string-keyed dicts of them.

        Raises:
            ValidationError: naming ``id``, ``mobiles``, ``mobiles[i]``, the field's key
                (an object, a set, NaN, an int beyond 64 bits), or ``fields`` for a key
                that is not a name.
        """
        from .._validate import queue_customer

        return queue_customer(self.id, self.mobiles, self.fields)
