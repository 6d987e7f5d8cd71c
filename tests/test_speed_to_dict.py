"""``to_dict()``'s fast paths against the walk they shortcut, value by value and type by type.

``to_plain`` reads each class's fields once per class and options, passes plain values
(a ``str``, ``int``, ``bool`` or None, a ``datetime``, an SDK enum) without the generic
walk, and ``redact`` skips the walk of leaf values. Below is the walk as it was before those
(``_old_to_plain``, ``_old_redact``); every model built by hypothesis, and a few odd values
(subclasses, enums of other kinds), must come out of both identical, types included.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import PurePath
from typing import Any
from uuid import UUID

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tel4vn_async._sansio import SECRET_KEYS, redact
from tel4vn_async._validate import json_decimal
from tel4vn_async.models import Cdr, Event, _base
from tel4vn_async.models._base import SECRET, Model, to_plain

from .test_to_dict import JSON_VALUE, MODELS, _build


def _old_redact(value: object, _depth: int = 0) -> object:
    if _depth >= 64 and isinstance(value, Mapping | list | tuple):
        return "..."
    if isinstance(value, Mapping):
        return {
            k: "***" if str(k).lower() in SECRET_KEYS else _old_redact(v, _depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_old_redact(v, _depth + 1) for v in value]
    return value


def _old_key(key: object) -> str:
    if isinstance(key, enum.Enum):
        key = key.value
    return key if isinstance(key, str) else str(key)


def _old_to_plain(value: object, raw: bool, secrets: bool, depth: int = 0) -> Any:
    def convert(item: object) -> Any:
        return _old_to_plain(item, raw, secrets, depth + 1)

    if value is None or isinstance(value, bool | int | str):
        if isinstance(value, enum.Enum):
            return _old_to_plain(value.value, raw, secrets, depth)
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return _old_to_plain(value.value, raw, secrets, depth)
    if isinstance(value, Decimal):
        return json_decimal(value) if value.is_finite() else None
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, UUID | PurePath):
        return str(value)
    if depth >= 64:
        return "..."
    if attrs.has(cls := type(value)):
        out: dict[str, Any] = {}
        for field in attrs.fields(cls):
            if field.metadata.get(SECRET) and not secrets:
                continue
            item = getattr(value, field.name)
            if field.name == "raw":
                if not raw:
                    continue
                if not secrets:
                    item = _old_redact(item)
            out[field.name] = _old_to_plain(item, raw, secrets, depth + 1)
        return out
    if isinstance(value, Mapping):
        return {_old_key(k): convert(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [convert(v) for v in value]
    if isinstance(value, set | frozenset):
        items = [convert(v) for v in value]
        try:
            return sorted(items)
        except TypeError:
            return items
    raise TypeError(f"no JSON form for a {type(value).__name__}")


def identical(got: object, want: object) -> bool:
    """Equal, and of the same types all the way down (``1 == True == 1.0`` is not enough)."""
    if type(got) is not type(want):
        return False
    if isinstance(want, dict):
        assert isinstance(got, dict)
        return list(got) == list(want) and all(identical(got[k], want[k]) for k in want)
    if isinstance(want, list):
        assert isinstance(got, list)
        return len(got) == len(want) and all(map(identical, got, want))
    return got == want or (isinstance(want, float) and math.isnan(want) and got != got)


OPTIONS = [(False, False), (True, False), (False, True), (True, True)]


@settings(max_examples=40, deadline=None)
@pytest.mark.parametrize("cls", MODELS, ids=lambda cls: cls.__name__)
@given(data=st.data())
def test_every_model_as_before(cls: type, data: st.DataObject) -> None:
    model = data.draw(_build(cls))
    if "raw" in attrs.fields_dict(cls):
        keys = st.sampled_from(["a", "api_key", "Token", "x"])
        raw = data.draw(st.dictionaries(keys, JSON_VALUE))
        model = attrs.evolve(model, raw=raw)
    for raw_too, secrets in OPTIONS:
        got = model.to_dict(include_raw=raw_too, include_secrets=secrets)
        assert identical(got, _old_to_plain(model, raw_too, secrets)), (raw_too, secrets)


@settings(max_examples=300, deadline=None)
@given(value=JSON_VALUE)
def test_redact_as_before(value: object) -> None:
    wrapped = {"api_key": value, "data": [value, {"password": value, "v": value}], "v": value}
    assert identical(redact(wrapped), _old_redact(wrapped))
    assert identical(redact(value), _old_redact(value))


class Colour(enum.Enum):
    RED = "red"


class Weight(float, enum.Enum):
    LIGHT = 1.5


class Level(enum.IntEnum):
    HIGH = 3


class Text(str):
    pass


class Moment(datetime):
    pass


def test_odd_values_as_before() -> None:
    odd: list[object] = [
        Colour.RED,
        Weight.LIGHT,
        Level.HIGH,
        Text("t"),
        Moment(2024, 1, 2, tzinfo=timezone.utc),
        datetime(2024, 1, 2, 3, 4, 5, 6),
        date(2024, 1, 2),
        float("nan"),
        1.5,
        True,
        2**80,
        Decimal("1.10"),
        {Colour.RED: 1, 2: Text("x"), "k": None},
        [Level.HIGH, (1, "a")],
    ]
    for value in odd:
        cdr = Cdr(id=value, cause=value, raw={"x": value, "token": value})  # type: ignore[arg-type]
        for raw_too, secrets in OPTIONS:
            got = cdr.to_dict(include_raw=raw_too, include_secrets=secrets)
            assert identical(got, _old_to_plain(cdr, raw_too, secrets)), (value, raw_too)
            assert identical(to_plain(value), _old_to_plain(value, raw_too, secrets))


def test_secrets_and_raw_left_out_as_before() -> None:
    event = Event(callback_apikey="s3cret", raw={"callback_apikey": "s3cret", "a": 1})
    assert "callback_apikey" not in event.to_dict()
    assert event.to_dict(include_raw=True)["raw"] == {"callback_apikey": "***", "a": 1}
    assert event.to_dict(include_secrets=True)["callback_apikey"] == "s3cret"
    assert to_plain(event, include_raw=1, include_secrets=0) == event.to_dict(include_raw=True)  # type: ignore[arg-type]


def test_a_class_made_on_the_fly_each_time_keeps_no_memory() -> None:
    for i in range(3000):
        cls = attrs.make_class(f"C{i}", {"a": attrs.field(default=i)}, bases=(Model,))
        assert cls().to_dict() == {"a": i}
    assert len(_base._LAYOUTS) <= _base._MAX_LAYOUTS
