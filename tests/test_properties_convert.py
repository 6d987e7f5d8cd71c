"""Property tests of hostile answers: any JSON-like value structured into any model gives
the model or a ``TransportError``, and ``parse_token`` gives a header-safe token or None.
"""

from __future__ import annotations

import functools
import json
import math
from datetime import datetime, timedelta
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tel4vn_async import models
from tel4vn_async._convert import parse_datetime, structure
from tel4vn_async._token import Token, needs_refresh, parse_token
from tel4vn_async.errors import TransportError

MODELS = sorted(
    (cls for name in models.__all__ if attrs.has(cls := getattr(models, name))),
    key=lambda cls: cls.__name__,
)
NOW = 1_700_000_000.0
PROPERTY = settings(max_examples=50, deadline=None)


def _keys_of(cls: type) -> list[str]:
    """The keys a model reads (its field names and the alternative keys in metadata)."""
    keys = {"raw", "id", "data", "mapping"}
    for f in attrs.fields(cls):
        keys.add(f.name)
        keys.update(f.metadata.get("keys", ()))
    return sorted(keys)


TOKEN_KEYS = [
    "data",
    "token",
    "access_token",
    "token_type",
    "expired_in",
    "expires_in",
    "expire_at",
    "expired",
    "expires_at",
    "expired_at",
    "code",
]
HOSTILE_TEXT = st.sampled_from(
    [
        "",
        " ",
        "1e400",
        "-1e400",
        "nan",
        "NaN",
        "inf",
        "-Infinity",
        "9" * 5000,
        "1.5",
        " 42 ",
        "true",
        "f",
        "0001-01-01T00:00:00Z",
        "1970-01-01T00:00:00Z",
        "2024-01-02 03:04:05",
        "9999-12-31T23:59:59-23:59",
        "0000-01-01T00:00:00Z",
        "2024-01-02T03:04:05+99:00",
        "[" * 5000,
        '{"a": ' * 3000,
        '{"a": 1}',
        "[1, 2]",
        "tok\r\nX-Evil: 1",
        "tok\x00",
        "t\u00f6k",
        "unknown",
        "inbound",
    ]
)
HOSTILE_NUMBERS = st.sampled_from(
    [
        10**400,
        -(10**400),
        10**20,
        2**63,
        1e20,
        -1e20,
        1e308,
        float("nan"),
        float("inf"),
        float("-inf"),
        253_402_300_800,  # year 10000
        -1,
        0,
    ]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | HOSTILE_NUMBERS
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | HOSTILE_TEXT
)


def json_like(keys: list[str], leaves: int = 12) -> st.SearchStrategy[Any]:
    """JSON-like values whose objects use ``keys`` (and a stray one) as their keys."""
    key = st.sampled_from([*keys, "zzz_unknown"])
    return st.recursive(
        SCALARS,
        lambda children: (
            st.lists(children, max_size=3) | st.dictionaries(key, children, max_size=4)
        ),
        max_leaves=leaves,
    )


@functools.cache  # one strategy per model: building strategies costs more than drawing
def _record(cls: type) -> st.SearchStrategy[Any]:
    """Mostly objects with the model's own keys, any of them present, each value hostile."""
    keys = _keys_of(cls)
    value = SCALARS | json_like(keys, leaves=4)
    return st.fixed_dictionaries({}, optional=dict.fromkeys(keys, value)) | json_like(keys)


def _structure_or_transport_error(data: object, cls: type[Any]) -> None:
    try:
        result = structure(data, cls)
    except TransportError:
        return
    assert isinstance(result, cls)
    if attrs.has(cls) and any(f.name == "raw" for f in attrs.fields(cls)):
        assert result.raw == data  # a copy holding the very values sent (NaN included)
    for f in attrs.fields(cls):
        value = getattr(result, f.name)
        if isinstance(value, float):
            assert math.isfinite(value), f"{cls.__name__}.{f.name} = {value!r}"


_NOT_MODELS = {"CallDirection", "CallStatus", "CdrMapping", "CustomerStatus", "EventType"}
_NOT_MODELS |= {"Voice", "VoiceType"}  # enums and a Literal: read inside the models


def test_every_model_is_covered() -> None:
    names = {cls.__name__ for cls in MODELS}
    assert {"Account", "Cdr", "Customer", "Event", "Report", "TtsTemplate"} <= names
    assert not {name for name in models.__all__ if name[0].isupper()} - names - _NOT_MODELS


@pytest.mark.parametrize("cls", MODELS, ids=lambda cls: cls.__name__)
@settings(max_examples=40, deadline=None)  # per model: 760 records in all
@given(data=st.data())
def test_any_answer_gives_the_model_or_a_transport_error(cls: type, data: st.DataObject) -> None:
    _structure_or_transport_error(data.draw(_record(cls)), cls)


SHALLOW = SCALARS | st.lists(SCALARS, max_size=2) | st.dictionaries(st.text(max_size=2), SCALARS)


@PROPERTY
@given(value=SHALLOW)
def test_parse_datetime_gives_a_time_none_or_value_error(value: object) -> None:
    try:
        parsed = parse_datetime(value)
    except ValueError:
        return
    assert parsed is None or isinstance(parsed, datetime)


def _assert_header_safe(token: Token) -> None:
    assert token.access_token
    assert all("\x21" <= ch <= "\x7e" for ch in token.access_token), token.access_token
    if token.expires_at is not None:
        assert token.expires_at.utcoffset() == timedelta(0)
        needs_refresh(token, NOW, 60.0)
    # What a store writes, it can read back (times as float seconds: within a millisecond).
    restored = Token.from_dict(json.loads(json.dumps(token.to_dict())))
    assert (restored.access_token, restored.token_type) == (token.access_token, token.token_type)
    for before, after in (
        (token.expires_at, restored.expires_at),
        (token.issued_at, restored.issued_at),
    ):
        assert (before is None) == (after is None)
        if before is not None and after is not None:
            assert abs(after - before) < timedelta(milliseconds=1)


TOKEN_STRINGS = st.text(max_size=30) | HOSTILE_TEXT | st.just("eyJ.abc-_~+/=")


@PROPERTY
@given(
    body=st.recursive(
        SCALARS | TOKEN_STRINGS,
        lambda children: (
            st.lists(children, max_size=3)
            | st.dictionaries(st.sampled_from(TOKEN_KEYS), children, max_size=6)
        ),
        max_leaves=10,
    ),
    now=st.sampled_from([NOW, 0.0, 1e9]),
)
def test_parse_token_gives_a_header_safe_token_or_none(body: object, now: float) -> None:
    token = parse_token(body, now)
    assert token is None or isinstance(token, Token)
    if token is not None:
        _assert_header_safe(token)


@PROPERTY
@given(
    token=TOKEN_STRINGS,
    expiry_key=st.sampled_from(TOKEN_KEYS[4:]),
    expiry=SCALARS,
    wrapped=st.booleans(),
)
def test_parse_token_of_a_token_shaped_body(
    token: str, expiry_key: str, expiry: object, wrapped: bool
) -> None:
    data = {"token": token, expiry_key: expiry, "token_type": "Bearer"}
    parsed = parse_token({"data": data} if wrapped else data, NOW)
    if parsed is not None:
        _assert_header_safe(parsed)
        assert parsed.access_token == token.strip(" \t")


STORED_KEYS = ["access_token", "expires_at", "issued_at", "token_type"]
STORED = st.fixed_dictionaries({}, optional=dict.fromkeys(STORED_KEYS, SHALLOW | TOKEN_STRINGS))


@PROPERTY
@given(data=STORED | SHALLOW)
def test_token_from_dict_gives_a_token_or_value_error(data: Any) -> None:
    try:
        token = Token.from_dict(data)
    except ValueError:
        return
    _assert_header_safe(token)
