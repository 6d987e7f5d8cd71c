"""Joining a call's events with its cdr event (the spec's note on call ids)."""

from __future__ import annotations

from typing import Any

from tel4vn_async.webhooks import CallEvent, CallState, CallTracker, join_events, parse_event


def ev(call_id: str, state: str, **fields: Any) -> CallEvent:
    return parse_event({"call_id": call_id, "state": state, **fields})


def test_an_outbound_calls_events_share_one_call_id() -> None:
    events = [
        ev("out-1", "ringing"),
        ev("out-1", "answered"),
        ev("out-1", "hangup", duration=10, billsec=5),
        ev("out-1", "hangup", duration=10, billsec=5),  # a re-sent delivery counts once
        ev("out-1", "cdr", status="ANSWERED"),
    ]

    [record] = join_events(events)

    assert record.call_id == "out-1"
    assert [e.state for e in record.events] == [
        CallState.RINGING, CallState.ANSWERED, CallState.HANGUP
    ]  # fmt: skip
    assert record.cdr is events[-1]
    assert record.joined_by == "call_id"
    assert record.answered
    assert record.find("hangup") is events[2]
    assert record.find(CallState.CDR) is events[-1]
    assert record.leg_ids == ("out-1",)


def test_an_inbound_ring_groups_legs_join_the_cdr_by_sip_call_id() -> None:
    sip = {"sip_call_id": "sip-in-9"}
    events = [
        ev("leg-101", "ringing", **sip),
        ev("leg-102", "ringing", **sip),
        ev("leg-101", "hangup", **sip),
        ev("leg-102", "answered", **sip),
        ev("leg-102", "hangup", **sip),
        ev("flow-9", "cdr", **sip),
    ]

    [record] = join_events(events)

    assert record.call_id == "flow-9"
    assert record.joined_by == "sip_call_id"
    assert record.leg_ids == ("leg-101", "leg-102")
    assert len(record.events) == 5
    assert record.answered


def test_a_cdr_that_matches_nothing_stands_alone() -> None:
    events = [ev("leg-1", "ringing"), ev("leg-1", "hangup"), ev("flow-1", "cdr_autocall")]

    legs, cdr = join_events(events)

    assert (legs.call_id, legs.cdr, legs.joined_by) == ("leg-1", None, None)
    assert (cdr.call_id, cdr.events, cdr.joined_by) == ("flow-1", (), None)
    assert cdr.cdr is not None
    assert cdr.cdr.is_cdr


def test_the_tracker_returns_a_call_when_its_cdr_arrives() -> None:
    tracker = CallTracker(max_calls=2)

    assert tracker.add(ev("a", "ringing")) is None
    assert tracker.add(ev("b", "ringing")) is None
    assert tracker.add(ev("c", "ringing")) is None  # "a" is forgotten: bounded

    record = tracker.add(ev("b", "cdr"))

    assert record is not None
    assert record.call_id == "b"
    assert len(record.events) == 1
    assert [r.call_id for r in tracker.pending()] == ["c"]
    assert "1 calls" in repr(tracker)
