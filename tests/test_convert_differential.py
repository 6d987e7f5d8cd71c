"""The generated per-model structure functions against the generic converter they replaced.

``tests/_old_convert.py`` is a frozen copy of ``_convert.py`` before the per-model
functions (the model hook looping over fields, cattrs' optional hook, the regex time
parser); every model exported from ``tel4vn_async.models`` (and ``webhooks.CallEvent``) is
structured by both from thousands of generated records (both CDR mappings, every time
format, blanks, junk, numbers as strings, enums unknown, integer or in mixed case) and
compared field by field: the same values of the same types (times with the same zone), the
same ``raw``, or the same failure.
"""

from __future__ import annotations

import math
import random
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any, cast

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tel4vn_async import models, webhooks
from tel4vn_async._convert import parse_datetime, reader, structure
from tel4vn_async._enums import ApiEnum
from tel4vn_async.errors import TransportError
from tel4vn_async.models import CallDirection, CallStatus, Cdr, CustomerStatus, Voice
from tel4vn_async.testing._cdr_data import cdr_record

from . import _old_convert as old

MODELS = [
    *sorted(
        (cls for name in models.__all__ if attrs.has(cls := getattr(models, name))),
        key=lambda cls: cls.__name__,
    ),
    webhooks.CallEvent,  # structured from a webhook body by the same converter
]
NAN, INF = float("nan"), float("inf")

TIMES: list[object] = [
    *("", " ", "\t", "0001-01-01T00:00:00Z", "0001-01-01 00:00:00", "0001-01-01 10:00:00"),
    *("0001-01-01T00:00:00+07:00", "0001-01-02 00:00:00", "0001-02-01T00:00:00Z"),
    *("1970-01-01T00:00:00Z", "1970-01-01T08:00:00+08:00", "1970-01-01 00:00:00"),
    *("1970-01-01T00:00:00.000Z", "1970-01-01T00:00:00.000001Z", "1969-12-31T16:00:00-08:00"),
    *("1970-01-01T09:00:00+08:00", "1970-01-02T08:00:00+08:00", "1970-01-01 00:00:00+00:00"),
    *("2024-01-02 03:04:05", "2024-01-02T03:04:05", "2024-01-02t03:04:05", "2024-01-02 03:04"),
    *("2024-01-02T03:04:05Z", "2024-01-02T03:04:05z", "2024-01-02 03:04:05Z", "2024-01-02"),
    *("2024-01-02T03:04:05.1Z", "2024-01-02T03:04:05.12", "2024-01-02T03:04:05.123"),
    *("2024-01-02T03:04:05.1234Z", "2024-01-02T03:04:05.12345", "2024-01-02 03:04:05.123456"),
    *("2024-01-02T03:04:05.1234567Z", "2024-01-02T03:04:05.123456789", "2024-01-02T03:04:05,5"),
    *("2024-01-02T03:04:05.123+07:00", "2024-01-02T03:04:05.123456-05:00", "2021-07-15T12:50:23Z"),
    *("2024-01-02T03:04:05+07:00", "2024-01-02T03:04:05+0700", "2024-01-02T03:04:05-05:30"),
    *("2024-01-02T03:04:05 +07:00", "2024-01-02T03:04:05+24:00", "2024-01-02T03:04:05+23:59"),
    *("2024-01-02T03:04:05+07:60", "2024-01-02T03:04:05-00:00", "2024-01-02T03:04:05+99:99"),
    *("2024-01-02T24:00:00", "2024-01-02 23:59:60", "2024-02-30 10:00:00", "2024-13-01 00:00:00"),
    *("0000-01-01T00:00:00Z", "9999-12-31T23:59:59-23:59", "9999-12-31T23:59:59+00:00"),
    *("\u0662\u0660\u0662\u0664-01-02 03:04:05", "2024-01-02 03:04:0\u0665", "2024-W01-1T03:04:05"),
    *("20240102T030405", "2024-01-02T03+07:00", "2024-01-02T03:04+07", " 2024-01-02 03:04:05 "),
    *("2024-01-02 03:04:05\n", "\u30002024-01-02 03:04:05", "2024-01-02X03:04:05", "17:30:35"),
    *("2024/01/02 03:04:05", "not a time", "2024-01-02 03:04:05+07:00:30", "2024-01-02T03:04:05ZZ"),
    *("2024-01-02T03:04:05.12ZZ", "2024-01-02T03:04:05.+23Z", "2024-01-02T03:04:05.1a3Z"),
    *("2024-01-02T03:04:05.12+07:00", "2024-01-02T03:04:05.\u00b9\u00b2\u00b3+07:00"),
    *(0, -1, 1_700_000_000, 1.7e9, 1e20, -1e20, NAN, INF, 253_402_300_800, 2**63, True, False),
    *("1700000000", [], {}, ["2024-01-02 03:04:05"]),
]
STRINGS: list[object] = [
    *("", " ", "  KH1  ", "KH1", "abc ", "\u3000x\u3000", "x" * 300, "None", "null"),
    *(101, 0, -5, 1.5, 1e20, NAN, INF, -INF, True, False, 10**400, [], {}, {"a": 1}, ["a"]),
]
INTS: list[object] = [
    *(5, 0, -3, "6", " 7 ", "", " ", "1.0", "1e3", "1_000", "nan", "inf", "1e400", "-1e400"),
    *("9" * 5000, "\uff11\uff12", "0x10", "x", "12abc", 1.0, 1.5, 1e20, NAN, INF, True, False),
    *(10**400, -(10**400), [], {}, ["1"]),
]
BOOLS: list[object] = [
    *(True, False, "true", "F", " yes ", "", " ", "maybe", "1", "0", "on", "OFF", "TRUE"),
    *(1, 0, 2.5, NAN, INF, [], {}),
]
FLOATS: list[object] = [
    *(1.5, 0.0, -2.0, "1.5", " 2 ", "", " ", "nan", "inf", "-Infinity", "1e400", "x", "1_5"),
    *(3, 10**400, True, NAN, INF, [], {}),
]
FREE_DICTS: list[object] = [
    *({}, {"a": 1}, '{"a": 1}', " {} ", "", " ", "[1]", "[" * 5000, "{bad", "null", "5"),
    *([], 5, 1.5, True, {"nested": {"a": [1, 2]}}),
]
LISTS: list[object] = [
    *(["a", " b "], [], ["a", 1], ["a", None], [[]], "x", "", {}, {"a": 1}, 5, ("a", "b")),
]
NESTED: list[object] = [
    *(cdr_record(3), cdr_record(4, "flex"), [cdr_record(5)], [cdr_record(6), {"id": 7}]),
    *({"id": " x ", "direction": 3, "time_started": "0001-01-01T00:00:00Z"}, [[]], [None]),
    *({"voice_type": "tts", "content": " x "}, {"voice_type": "WEIRD"}, {}, {"enable": "f"}),
    *({"voice_type": "AUDIO_FILE", "audio_file": "a.wav", "enable": 0}, "x", "", [], 5),
    *([{"press_num": "1"}], [{"press_num": 1, "type": "audio_file"}], [{}], [{"press_num": []}]),
    *([{"press_num": 2, "type": "Tts", "content": ""}], [[]], ["x"], ()),
]
JUNK: list[object] = [*STRINGS[:6], *INTS[:12], NAN, INF, [], {}, {"a": [1]}, True, 10**400]


def _enum_values(enum: type[ApiEnum]) -> list[object]:
    values: list[object] = [" ", "", "unknown", "UNKNOWN", "brand-new", "3", 3, 0, True, 1.5]
    values += [[], {}, NAN, "no_answered", "No-Answered", "NO_ANSWERED", "AUDIO_FILE"]
    for member in enum:
        values += [member.value, member.value.upper(), member.name, member.name.lower()]
        values += [f" {member.value} ", member.value.title(), member]
    return values


def _pool(hint: Any) -> tuple[list[object], object]:
    """The values to try in a field of type ``hint`` (``X | None``: those of ``X``), and
    one any model reads (so that records with required fields get through too)."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args:
        (hint,) = (a for a in args if a is not type(None))
    if isinstance(hint, type) and issubclass(hint, ApiEnum):
        return _enum_values(hint), next(iter(hint)).value.upper()
    table: dict[Any, tuple[list[object], object]] = {
        str: (STRINGS, " x "),
        int: (INTS, "7"),
        bool: (BOOLS, "t"),
        float: (FLOATS, "1.5"),
        datetime: (TIMES, "2024-01-02T03:04:05Z"),
    }
    if hint in table:
        return table[hint]
    if typing.get_origin(hint) in (dict, Mapping) or hint is dict:
        return FREE_DICTS, '{"a": 1}'
    if typing.get_origin(hint) is not None and typing.get_origin(hint) is not tuple:
        return LISTS, ["a"]
    return NESTED, {}


def _fields(cls: type) -> list[tuple[tuple[str, ...], list[object], object, bool]]:
    """Each field the model reads: its keys, values to try, a sane one, whether required."""
    hints = typing.get_type_hints(cls)
    return [
        (
            tuple(f.metadata.get("keys", (f.name,))),
            *_pool(hints[f.name]),
            f.default is attrs.NOTHING,
        )
        for f in attrs.fields(cls)
        if f.init and f.name != "raw"
    ]


def _records(cls: type, rng: random.Random, count: int) -> Iterator[object]:
    """``count`` records for ``cls``: mostly objects, each field absent, null or drawn."""
    fields = _fields(cls)
    for n in range(count):
        if n % 50 == 49:
            yield rng.choice([None, [], "x", 5, [{"id": "x"}], ()])  # not an object at all
            continue
        if cls is Cdr and n % 2:
            record: dict[str, Any] = cdr_record(n, rng.choice(["default", "flex"]))
        else:
            record = {}
        for keys, pool, sane, required in fields:
            if required and rng.random() < 0.75:
                record[rng.choice(keys)] = sane
                continue
            roll = rng.random()
            if roll < 0.15:
                record.pop(keys[0], None)
                continue
            key = rng.choice(keys) if rng.random() < 0.5 else keys[0]
            if roll < 0.22:
                record[key] = None  # null: the next key, if any, is read
            elif roll < 0.3:
                record[key] = rng.choice(JUNK)
            else:
                record[key] = rng.choice(pool)
            if len(keys) > 1 and rng.random() < 0.2:  # both mappings' names at once
                record[rng.choice(keys)] = rng.choice(pool)
        if rng.random() < 0.2:
            record["zzz_unknown"] = rng.choice(JUNK)
        yield record


def _norm(value: object) -> object:
    """A value comparable with ``==`` that still tells types, zones and NaN apart."""
    if isinstance(value, datetime):
        return ("datetime", value.isoformat(), repr(value.tzinfo))
    if isinstance(value, float):
        return ("float", repr(value))
    if isinstance(value, ApiEnum):
        return (type(value).__name__, value.name)
    if attrs.has(type(value)):
        fields = attrs.asdict(value, recurse=False)  # type: ignore[arg-type]
        return (type(value).__name__, {k: _norm(v) for k, v in fields.items()})
    if isinstance(value, Mapping):
        return (type(value).__name__, [(_norm(k), _norm(v)) for k, v in value.items()])
    if isinstance(value, list | tuple):
        return (type(value).__name__, [_norm(v) for v in value])
    if isinstance(value, int) and not isinstance(value, bool):
        return ("int", value)  # == on ints: repr() fails past 4,300 digits
    return (type(value).__name__, value)


def _outcome(structure_fn: Callable[[object, Any], object], data: object, cls: Any) -> object:
    try:
        result = structure_fn(data, cls)
    except TransportError as error:
        return ("TransportError", type(error.__cause__).__name__)
    if isinstance(cls, type) and attrs.has(cls):
        assert type(result) is cls
    return _norm(result)


@pytest.mark.parametrize("cls", MODELS, ids=lambda cls: cls.__name__)
def test_every_model_structures_as_the_generic_converter_did(cls: type) -> None:
    rng = random.Random(f"differential {cls.__name__}")
    count = 800 if cls is Cdr else 150
    compared = 0
    for data in _records(cls, rng, count):
        expected = _outcome(old.structure, data, cls)
        assert _outcome(structure, data, cls) == expected, data
        compared += 1
    assert compared == count


def test_the_cdr_samples_of_both_mappings_as_the_generic_converter_did() -> None:
    for n in range(400):
        for mapping in ("default", "flex"):
            data = cdr_record(n, mapping)
            assert _outcome(structure, data, Cdr) == _outcome(old.structure, data, Cdr)


@pytest.mark.parametrize("value", TIMES, ids=repr)
def test_parse_datetime_as_the_regex_parser(value: object) -> None:
    assert _parsed(parse_datetime, value) == _parsed(old.parse_datetime, value)


def _parsed(parse: Callable[[object], datetime | None], value: object) -> object:
    try:
        return _norm(parse(value))
    except ValueError:
        return "ValueError"


TIME_TEXT = st.from_regex(
    r"\A\s?[0-9\u0660]{4}-[0-9]{1,2}-[0-9]{2}([ Tt\-][0-9]{2}(:[0-9]{2}(:[0-9]{1,2}"
    r"([.,][0-9]{0,8})?)?)?)?\s?([Zz]|[+-][0-9]{2}:?[0-9]{2}|[+-][0-9]{2})?\s?\Z",
)


@settings(max_examples=60, deadline=None)
@given(text=TIME_TEXT | st.text(max_size=30))
def test_parse_datetime_as_the_regex_parser_on_any_text(text: str) -> None:
    assert _parsed(parse_datetime, text) == _parsed(old.parse_datetime, text)


def _mutated_times(count: int) -> Iterator[str]:
    """Real time strings with a few characters replaced, inserted or deleted."""
    rng = random.Random("mutated times")
    bases = [t for t in TIMES if isinstance(t, str) and len(t) > 15]
    alphabet = "0123456789-:T tZz+.,\u0665W\u00b2"
    for _ in range(count):
        chars = list(rng.choice(bases))
        for _ in range(rng.randint(0, 3)):
            at, roll = rng.randrange(len(chars)), rng.random()
            if roll < 0.4:
                chars[at] = rng.choice(alphabet)
            elif roll < 0.7:
                chars.insert(at, rng.choice(alphabet))
            else:
                del chars[at]
        yield "".join(chars)


def test_parse_datetime_as_the_regex_parser_on_mutated_times() -> None:
    # This is how "2024-01-02T03:04:05.12ZZ" was found: Python 3.11's fromisoformat
    # reads it (the fraction "12Z", then a Z), the regex does not.
    for text in _mutated_times(8_000):
        assert _parsed(parse_datetime, text) == _parsed(old.parse_datetime, text), text


class Tricky(ApiEnum):
    """Values and names that collide, as no real enum does (yet)."""

    FOO = "bar"
    BAR = "foo"
    MIXED = "MiXeD"
    PADDED = " Padded"
    SPACED = " Odd"
    UNKNOWN = "unknown"


@attrs.frozen
class _Tricky:
    tricky: Tricky | None = None
    strict: Tricky = Tricky.FOO
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


def test_colliding_enum_values_and_names_as_the_generic_converter() -> None:
    values: list[object] = ["foo", "bar", "FOO", "Bar", "mixed", "MiXeD", " Padded", " padded"]
    values += ["padded"]
    values += [" Odd", " odd", "odd", "spaced", "", " ", "unknown", "x", 3, None]
    for value in values:
        assert _outcome(structure, value, Tricky) == _outcome(old.structure, value, Tricky)
        data = {"tricky": value, "strict": value}
        assert _outcome(structure, data, _Tricky) == _outcome(old.structure, data, _Tricky)


def _checked(instance: object, attribute: object, value: str | None) -> None:
    if value == "forbidden":
        raise ValueError("forbidden")


@attrs.frozen
class _Unusual:
    """What no model has yet: required optional fields, defaults that are no None."""

    must: str | None
    need: datetime | None
    when: datetime | None = datetime(2000, 1, 1)
    name: str | None = "anon"
    count: int | None = 7
    kind: Tricky | None = Tricky.FOO
    voice: Voice | None = Voice.NORTH_F_01
    flag: bool | None = True
    tags: list[str] = attrs.Factory(list)
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)
    constant: str = attrs.field(init=False, default="c")
    made: list[str] = attrs.field(init=False, factory=list)
    seen: int = attrs.field(init=False, default=attrs.Factory(lambda self: len(self.raw), True))


@attrs.frozen
class _Checked:
    """A validator and a converter: built through its own ``__init__``."""

    name: str | None = attrs.field(default=None, validator=_checked)
    count: int = attrs.field(default=0, converter=abs)
    when: datetime | None = None
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen(slots=False)
class _Plain:
    """No slots: built through its own ``__init__``; models nested in it are structured too."""

    first: Cdr | None = None
    cdrs: list[Cdr] = attrs.Factory(list)
    when: datetime | None = None
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@pytest.mark.parametrize("cls", [_Unusual, _Checked, _Tricky, _Plain], ids=lambda cls: cls.__name__)
def test_unusual_models_structure_as_the_generic_converter_did(cls: type) -> None:
    rng = random.Random(f"unusual {cls.__name__}")
    for data in _records(cls, rng, 3_000):
        if isinstance(data, dict) and rng.random() < 0.1:
            data["name"] = "forbidden"
        assert _outcome(structure, data, cls) == _outcome(old.structure, data, cls), data
        if isinstance(data, dict):
            read = _outcome(lambda d, c: reader(c)(cast(dict[str, Any], d)), data, cls)
            assert read == _outcome(old.structure, data, cls), data


ENUMS = [CallDirection, CallStatus, CustomerStatus, Voice, models.VoiceType, models.EventType]


@pytest.mark.parametrize("enum", ENUMS, ids=lambda e: e.__name__)
def test_enum_values_as_the_generic_converter(enum: type[ApiEnum]) -> None:
    for value in _enum_values(enum):
        for cls in (enum, enum | None):
            assert _outcome(structure, value, cls) == _outcome(old.structure, value, cls)


@settings(max_examples=50, deadline=None)
@given(text=st.text(max_size=12), upper=st.booleans())
def test_enum_text_as_the_generic_converter(text: str, upper: bool) -> None:
    text = text.upper() if upper else text
    for enum in ENUMS:
        data = {"direction": text, "status": text, "voice": text, "event_name": text}
        assert _outcome(structure, text, enum) == _outcome(old.structure, text, enum)
        for cls in (Cdr, models.Event, models.TtsTemplate):
            assert _outcome(structure, data, cls) == _outcome(old.structure, data, cls)


def test_the_reader_keeps_the_decoded_record_itself_as_raw() -> None:
    read = reader(Cdr)
    for n in range(80):
        record = cdr_record(n, "flex" if n % 3 else "default")
        cdr = read(record)
        assert cdr.raw is record  # the decoded dict, not a copy
        assert _norm(cdr) == _outcome(old.structure, record, Cdr)
        assert structure(record, Cdr).raw is not record  # structure() still copies


def test_the_reader_copies_a_mapping_that_is_no_dict_and_fails_as_structure() -> None:
    record = types.MappingProxyType({"id": " c1 ", "direction": 3})
    cdr = reader(Cdr)(record)
    assert (cdr.id, cdr.direction, cdr.raw) == ("c1", CallDirection.UNKNOWN, dict(record))
    assert type(cdr.raw) is dict
    with pytest.raises(TransportError, match="Cdr") as info:
        reader(Cdr)(["c1"])  # type: ignore[arg-type]
    assert isinstance(info.value.__cause__, TypeError)
    with pytest.raises(TransportError, match="Report"):
        reader(models.Report)({"caller": "1"})  # call_id is required
    with pytest.raises(TypeError, match="raw"):
        reader(models.Sound)


def test_no_float_read_is_nan_and_no_model_shares_a_default() -> None:
    a, b = structure({"call_id": "r"}, models.Report), structure({"call_id": "r"}, models.Report)
    assert a.param == {}
    assert a.param is not b.param  # a fresh default, as __init__ gives
    template = structure({"campaign_id": "c", "name": "n", "speed": "nan"}, models.TtsTemplate)
    assert template.speed is None
    assert not any(isinstance(v, float) and math.isnan(v) for v in attrs.astuple(template))
