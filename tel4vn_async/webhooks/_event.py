"""The call event a webhook carries, and ``parse_event``: pure, no I/O.

``parse_event`` takes the body as received (bytes, str, or a decoded mapping) and gives a
``CallEvent`` through the one converter, so the API's value quirks (``""`` as None,
numbers as strings, both time formats, ``press_key`` as JSON in a string) are read as
everywhere else in the SDK. Anything that is not a call event raises ``ValidationError``
naming the field (``body`` for the body as a whole).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from .._convert import structure
from .._enums import ApiEnum
from ..errors import TransportError, ValidationError
from ..models.callcenter import CallDirection, CallStatus

__all__ = ["MAX_BODY", "MAX_DEPTH", "CallEvent", "CallState", "parse_event"]

MAX_BODY = 1 << 20
"""The default cap on a body's size: 1 MiB (a real event is a few hundred bytes)."""
MAX_DEPTH = 32
"""The deepest nesting of objects and lists accepted in a body (an event is flat)."""


class CallState(ApiEnum):
    """The state a call event reports (its ``state`` field)."""

    RINGING = "ringing"
    """The call was set up and rings."""
    ANSWERED = "answered"
    """The called side picked up."""
    HANGUP = "hangup"
    """The call ended or was cancelled (carries ``duration`` and ``billsec``)."""
    CDR = "cdr"
    """The PBX wrote the call's CDR (carries ``status`` and ``recording_url``)."""
    MISSED = "missed"
    """A call nobody answered (later API versions)."""
    CDR_AUTOCALL = "cdr_autocall"
    """The CDR of an autocall call (later API versions)."""
    UNKNOWN = "unknown"
    """A state this SDK does not know yet: ``CallEvent.state_raw`` keeps it."""


CDR_STATES = frozenset({CallState.CDR, CallState.CDR_AUTOCALL})
"""The states that report a finished call's CDR rather than a step of the call."""


@attrs.frozen
class CallEvent:
    """One call event as the PBX posts it to a webhook; field names as the API sends them.

    Only ``call_id`` and ``state`` are required; every other field is None when absent,
    blank or unreadable, and ``raw`` keeps the body as received.
    """

    call_id: str
    """The call's id. Shared by a call's ringing, answered and hangup events; the cdr
    event of an inbound call through a ring group, queue or IVR has another one."""
    state: CallState
    """Which step of the call this is; ``UNKNOWN`` for a state the SDK does not know."""
    sip_call_id: str | None = None
    """The SIP Call-ID."""
    domain: str | None = None
    """The tenant's domain that made or received the call, e.g. ``test.tel4vn.com``."""
    direction: CallDirection | None = None
    """``INBOUND`` or ``OUTBOUND``."""
    from_number: str | None = None
    """The calling number; the extension for an outbound call."""
    to_number: str | None = None
    """The called number; the extension for an inbound call."""
    hotline: str | None = None
    """The hotline (trunk number) that made or received the call."""
    duration: int | None = None
    """Seconds from start to end (hangup events)."""
    billsec: int | None = None
    """Seconds from answer to end (hangup events)."""
    recording_url: str | None = None
    """A public URL of the recording (cdr events)."""
    status: CallStatus | None = None
    """The call's outcome, e.g. ``ANSWERED`` (cdr events)."""
    application: str | None = None
    """The application that handled the call (later API versions)."""
    ref_id: str | None = None
    """Your reference for the call, when it was placed with one (later API versions)."""
    press_key: dict[str, Any] | None = None
    """The keys pressed, sent as JSON inside a string (``"{}"``); decoded."""
    customer_id: str | None = None
    """The customer's code, when the call was placed for one."""
    time_started: datetime | None = None
    """When the call started (zone-less times stay naive, never shifted)."""
    time_answered: datetime | None = None
    """When it was answered; None if it was not."""
    time_ended: datetime | None = None
    """When it ended."""
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)
    """The body as received, every field included (fields this model does not name too)."""

    @property
    def state_raw(self) -> str:
        """The ``state`` string as sent (``state`` is ``UNKNOWN`` for a new one)."""
        value = self.raw.get("state")
        return value.strip() if isinstance(value, str) else self.state.value

    @property
    def is_cdr(self) -> bool:
        """Whether this event reports the call's CDR (``cdr`` or ``cdr_autocall``)."""
        return self.state in CDR_STATES

    @property
    def dedupe_key(self) -> tuple[str, str]:
        """``(call_id, state)``: what a re-sent delivery of this event repeats."""
        return (self.call_id, self.state_raw.lower())


def parse_event(
    body: bytes | bytearray | memoryview | str | Mapping[str, Any], *, max_size: int = MAX_BODY
) -> CallEvent:
    """Read a webhook body into a ``CallEvent``.

    Args:
        body: the raw body (bytes or str, JSON) or an already decoded JSON object.
        max_size: the largest body accepted, in bytes (characters for a str).

    Raises:
        ValidationError: the body is larger than ``max_size``, not JSON, not a JSON
            object, nested deeper than ``MAX_DEPTH``, or has no ``call_id`` or ``state``.
            ``field`` names the culprit (``"body"`` for the body as a whole).
    """
    data = _decode(body, max_size)
    _check_depth(data, "body")
    call_id = data.get("call_id")
    if not (isinstance(call_id, str) and call_id.strip()) and not _small_int(call_id):
        raise ValidationError("call_id must be a non-blank string", field="call_id")
    state = data.get("state")
    if not isinstance(state, str) or not state.strip():
        raise ValidationError("state must be a non-blank string", field="state")
    readable = _without_bad_press_key(data)
    try:
        event = structure(readable, CallEvent)
    except TransportError as exc:  # not expected: both required fields were checked
        raise ValidationError(f"the body is not a call event: {exc}", field="body") from None
    return event if readable is data else attrs.evolve(event, raw=dict(data))


def _decode(
    body: bytes | bytearray | memoryview | str | Mapping[str, Any], max_size: int
) -> Mapping[str, Any]:
    if isinstance(body, Mapping):
        return body
    if isinstance(body, bytearray | memoryview):
        body = bytes(body)
    if not isinstance(body, bytes | str):
        raise ValidationError(
            f"the body must be bytes, str or a mapping, not {type(body).__name__}", field="body"
        )
    if len(body) > max_size:
        raise ValidationError(f"the body is larger than {max_size} bytes", field="body")
    try:
        data = json.loads(body)
    except RecursionError:
        raise ValidationError("the body is nested too deep", field="body") from None
    except ValueError as exc:  # UnicodeDecodeError is a ValueError too
        raise ValidationError(f"the body is not JSON: {_short(exc)}", field="body") from None
    if not isinstance(data, dict):
        raise ValidationError(
            f"the body must be a JSON object, not {type(data).__name__}", field="body"
        )
    return data


def _check_depth(data: object, field: str) -> None:
    """Walk a value without recursion; nesting deeper than ``MAX_DEPTH`` is refused."""
    stack: list[tuple[object, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ValidationError(f"the {field} is nested deeper than {MAX_DEPTH}", field=field)
        if isinstance(value, Mapping):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list | tuple):
            stack.extend((v, depth + 1) for v in value)


def _without_bad_press_key(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """``data``, or a copy without a ``press_key`` string that is no sane JSON object.

    ``press_key`` is JSON inside a string: decoding a hostile one (nested thousands deep)
    would raise ``RecursionError`` inside the converter. Like any unreadable optional
    value, it leaves its field None; ``raw`` still keeps it.
    """
    value = data.get("press_key")
    if not isinstance(value, str) or not value.strip():
        return data
    try:
        decoded = json.loads(value)
        _check_depth(decoded, "press_key")
    except (ValueError, RecursionError):  # ValidationError is a ValueError
        decoded = None
    if isinstance(decoded, dict):
        return data
    return {k: v for k, v in data.items() if k != "press_key"}


def _small_int(value: object) -> bool:
    # An id sent as a number; a 5,000-digit one would not even turn into text.
    return isinstance(value, int) and not isinstance(value, bool) and value.bit_length() <= 128


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= 120 else text[:117] + "..."
