"""The time fast path inlined in the generated model functions (``_convert._READ_TIME``).

It must read every string exactly as ``parse_datetime`` does: the same datetime (and zone),
None for "no time", and an unreadable value leaving the field None. Strings are generated
around the two shapes it takes (``YYYY-MM-DD HH:MM:SS`` and ``...THH:MM:SS+HH:MM``), one to
three characters changed, and at every length near them, so each check it makes is crossed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tel4vn_async._convert import parse_datetime, reader, structure
from tel4vn_async.errors import TransportError
from tel4vn_async.models import Cdr, Customer

SHAPES = ("2024-01-02 03:04:05", "2024-01-02T03:04:05+07:00", "2024-01-02T23:59:59-05:30")
CHARS = "0123456789-: T+Zz.,x\u0662\u00b9\u3000"


def expected(value: str) -> datetime | None:
    try:
        return parse_datetime(value)
    except ValueError:
        return None


def same(got: object, want: object) -> bool:
    if not isinstance(got, datetime) or not isinstance(want, datetime):
        return got is want
    return (got, got.tzinfo, got.utcoffset()) == (want, want.tzinfo, want.utcoffset())


@st.composite
def near_shapes(draw: st.DrawFn) -> str:
    text = list(draw(st.sampled_from(SHAPES)))
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(text) - 1))
        text[at] = draw(st.sampled_from(CHARS))
    cut = draw(st.integers(-3, 3))
    if cut < 0:
        text = text[:cut]
    else:
        text += draw(st.lists(st.sampled_from(CHARS), min_size=cut, max_size=cut))
    return "".join(text)


BOUNDARIES = [
    "2024-01-02 03:04:05",
    "2024-01-02T03:04:05",
    "2024-01-02X03:04:05",  # another separator: 3.11's fromisoformat reads it, the API never
    "2024-01-02 23:59:59",
    "2024-01-02 24:00:00",
    "2024-01-02 30:00:00",
    "2024-01-02 2:04:05 ",
    "0001-01-01 00:00:00",
    "0001-01-02 00:00:00",
    "1970-01-01 00:00:00",
    "1970-01-01T07:00:00+07:00",
    "1970-01-01T00:00:00+07:00",
    "2024-01-02T03:04:05+07:00",
    "2024-01-02T03:04:05-00:00",
    "2024-01-02T03:04:05+24:00",
    "2024-01-02T03:04:05+07:60",
    "2024-01-02T03:04:05+0700",
    "2024-01-02T03:04:05 07:00",
    "2024-01-02T03:04:05+07:00:30",
    "2024-01-02T03:04:05.123+07",
    "2024-01-02T03:04:05Z",
    "2024-W01-1T03:04:05",
    "20240102T030405.123",
    "\u0662\u0660\u0662\u0664-01-02 03:04:05",
    "2024-01-02 03:04:0\u0665",
    "2024-01-02T03:04:05+\u06607:00",
    "2024-02-30 10:00:00",
    "2024-01-02 03:04:05\n",
]


@pytest.mark.parametrize("value", BOUNDARIES)
def test_boundary_shapes_read_as_parse_datetime(value: str) -> None:
    to_cdr = reader(Cdr)
    keys = {"time_started": "started_at", "dialAt": "started_at", "time_ringging": "ringing_at"}
    for key, name in {**keys, "hangupAt": "ended_at"}.items():
        cdr = to_cdr({key: value})
        got = getattr(cdr, name)
        assert same(got, expected(value)), (key, value, got)
        assert cdr.raw[key] is value


@settings(max_examples=600, deadline=None)
@given(value=near_shapes())
def test_strings_near_the_fast_shapes_read_as_parse_datetime(value: str) -> None:
    want = expected(value)
    assert same(reader(Cdr)({"time_answered": value}).answered_at, want)
    assert same(structure({"time_ended": value}, Cdr).ended_at, want)
    # Another model, the ISO form: the same template, generated for it.
    assert same(structure({"created_at": value}, Customer).created_at, want)


@attrs.frozen
class _Timed:
    """The other time templates: a required time, a default that is no None, a plain time."""

    need: datetime | None
    when: datetime | None = datetime(2000, 1, 1)
    at: datetime = datetime(1999, 1, 1)
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


def verdict(value: str) -> datetime | str | None:
    """``parse_datetime``'s answer: a time, None ("no time"), or ``"bad"``."""
    try:
        return parse_datetime(value)
    except ValueError:
        return "bad"


@settings(max_examples=400, deadline=None)
@given(value=near_shapes())
def test_every_time_template_reads_as_parse_datetime(value: str) -> None:
    said, blank = verdict(value), not value.strip()
    timed = structure({"need": "2024-01-02 03:04:05", "when": value, "at": value}, _Timed)
    # Optional, "" is None where None is allowed: a blank or an unreadable value: the default.
    defaults = attrs.fields(_Timed)
    want_when = defaults.when.default if blank or said == "bad" else said
    assert same(timed.when, want_when)
    want_at = defaults.at.default if said == "bad" else said
    assert same(timed.at, want_at)
    # Required: a blank or an unreadable value fails the record.
    if blank or said == "bad":
        with pytest.raises(TransportError):
            reader(_Timed)({"need": value})
    else:
        assert not isinstance(said, str)
        assert same(reader(_Timed)({"need": value}).need, said)
