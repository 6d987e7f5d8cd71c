"""Joining a call's events with its CDR event: ``join_events`` and ``CallTracker``.

An outbound call's ringing, answered, hangup and cdr events share one ``call_id``; so do
an inbound call's when it rings one extension. An inbound call through a ring group, a
queue or an IVR is different: each extension's leg has its own ``call_id`` (shared by
that leg's ringing, answered and hangup), and the cdr event carries the ``call_id`` of
the whole inbound flow. The SDK then joins by ``sip_call_id``: the legs whose events carry
the cdr's ``sip_call_id`` are joined into one record. It cannot when the events carry no
``sip_call_id`` or another one (the API does not document which SIP Call-ID a leg
reports): the cdr then stands alone and the legs stay without CDR.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable
from typing import Literal

import attrs

from ._event import CallEvent, CallState

__all__ = ["CallRecord", "CallTracker", "join_events"]

JoinedBy = Literal["call_id", "sip_call_id"]


@attrs.frozen
class CallRecord:
    """One call's events, joined with its cdr event where the SDK could match it."""

    call_id: str
    """The call's id: the cdr event's when there is one, else that of the events."""
    events: tuple[CallEvent, ...] = ()
    """The call's steps (ringing, answered, hangup, missed, ...) in arrival order,
    each (``call_id``, ``state``) once; several legs' events for a joined inbound flow."""
    cdr: CallEvent | None = None
    """The cdr (or cdr_autocall) event; None if it has not come or could not be matched."""
    joined_by: JoinedBy | None = None
    """How the cdr was matched: the same ``call_id``, or ``sip_call_id`` (an inbound
    flow whose legs have their own call ids); None without a cdr or without steps."""

    @property
    def leg_ids(self) -> tuple[str, ...]:
        """The ``call_id`` of each leg, in order (one for a call that rang one phone)."""
        return tuple(dict.fromkeys(e.call_id for e in self.events))

    @property
    def answered(self) -> bool:
        """Whether any leg was answered."""
        return any(e.state is CallState.ANSWERED for e in self.events)

    def find(self, state: CallState | str) -> CallEvent | None:
        """The first event in ``state`` (``"hangup"``, ``CallState.CDR``, ...), or None."""
        wanted = CallState(state)
        if self.cdr is not None and self.cdr.state is wanted:
            return self.cdr
        return next((e for e in self.events if e.state is wanted), None)


class _Legs:
    """Step events grouped by call_id, with an index by sip_call_id."""

    def __init__(self) -> None:
        self.by_call: collections.OrderedDict[str, list[CallEvent]] = collections.OrderedDict()
        self.by_sip: dict[str, set[str]] = {}

    def add(self, event: CallEvent) -> None:
        leg = self.by_call.setdefault(event.call_id, [])
        if all(e.dedupe_key != event.dedupe_key for e in leg):
            leg.append(event)
        if event.sip_call_id:
            self.by_sip.setdefault(event.sip_call_id, set()).add(event.call_id)

    def pop(self, call_id: str) -> list[CallEvent]:
        leg = self.by_call.pop(call_id, [])
        for event in leg:
            ids = self.by_sip.get(event.sip_call_id or "")
            if ids is not None:
                ids.discard(call_id)
                if not ids:
                    del self.by_sip[event.sip_call_id or ""]
        return leg

    def join(self, cdr: CallEvent) -> CallRecord:
        """The record of ``cdr`` with the legs it matches, taken out of the pool."""
        if cdr.call_id in self.by_call:
            return CallRecord(cdr.call_id, tuple(self.pop(cdr.call_id)), cdr, "call_id")
        ids = [i for i in self.by_call if i in self.by_sip.get(cdr.sip_call_id or "", ())]
        if not ids:
            return CallRecord(cdr.call_id, (), cdr)
        events = [e for call_id in ids for e in self.pop(call_id)]
        return CallRecord(cdr.call_id, tuple(events), cdr, "sip_call_id")

    def pending(self) -> list[CallRecord]:
        return [CallRecord(call_id, tuple(leg)) for call_id, leg in self.by_call.items()]


def join_events(events: Iterable[CallEvent]) -> list[CallRecord]:
    """Group events into calls and join each call with its cdr event.

    Events are grouped by ``call_id``; a cdr event joins the group of its own
    ``call_id``, else the groups whose events carry its ``sip_call_id`` (see the module's
    docstring for when that cannot work). Repeated deliveries count once.

    Returns:
        One record per call, in the order their first event arrived; calls whose cdr has
        not come have ``cdr=None``, and a cdr matching nothing has no ``events``.
    """
    legs = _Legs()
    cdrs: dict[str, CallEvent] = {}
    first_seen: dict[str, int] = {}
    for n, event in enumerate(events):
        first_seen.setdefault(event.call_id, n)
        if event.is_cdr:
            cdrs.setdefault(event.call_id, event)
        else:
            legs.add(event)
    records = [legs.join(cdr) for cdr in cdrs.values()] + legs.pending()

    def arrival(record: CallRecord) -> int:
        return min(first_seen[i] for i in (record.call_id, *record.leg_ids))

    return sorted(records, key=arrival)


class CallTracker:
    """Joins events as they arrive: feed each event to ``add``; a cdr event returns
    the call's whole record. Memory is bounded: past ``max_calls`` calls awaiting
    their cdr, the oldest are forgotten.
    """

    def __init__(self, max_calls: int = 10_000) -> None:
        self.max_calls = max_calls
        self._legs = _Legs()

    def __repr__(self) -> str:
        return f"<CallTracker, {len(self._legs.by_call)} calls awaiting their cdr>"

    def add(self, event: CallEvent) -> CallRecord | None:
        """Take one event; for a cdr event, the call's record (taken out of the tracker)."""
        if event.is_cdr:
            return self._legs.join(event)
        self._legs.add(event)
        while len(self._legs.by_call) > self.max_calls:
            self._legs.pop(next(iter(self._legs.by_call)))
        return None

    def pending(self) -> list[CallRecord]:
        """The calls seen whose cdr has not come, oldest first."""
        return self._legs.pending()
