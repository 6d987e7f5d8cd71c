"""FROZEN reference copy of ``tel4vn_async/_convert.py`` before the compiled converter.

Do not edit, and do not import outside tests: this is the reference the differential test
(``tests/test_convert_differential.py``) compares the new converter's output with, field
by field. It is the module as it stood (working tree on top of 6bebc3f) when the
per-model structure functions replaced the generic model hook; only its two relative
imports are made absolute. Its own docstring follows.
"""

# The one cattrs converter, with every hook for the API's value quirks in one place.
#
# Quirks it absorbs: ``""``, Go's zero time and the Unix epoch as "no time"; zone-less
# ``YYYY-MM-DD HH:MM:SS`` kept naive (never shifted); ISO 8601 with ``Z`` or an offset
# and 0 to 6 fractional digits made aware; ``"true"``/``"false"``/``"t"``/``"f"`` as bools;
# numbers sent as strings; JSON objects sent inside strings; stray whitespace around
# strings (ids with a trailing space). Models whose class has a ``raw`` field keep the
# whole original mapping there, and a field may name the keys it is read from (``keys`` in its
# metadata) so drifting field names land on one attribute. In a model, ``""`` is None
# wherever None is allowed, enum values the SDK does not know become ``UNKNOWN``, and a value
# that cannot be read leaves its optional field unset rather than failing the record.
#
# Hostile values are unreadable, never a crash: NaN and infinities (in a number, a bool, a
# string or a time field), times outside years 1 to 9999, numbers too big for a float,
# digit strings beyond Python's int limit, JSON nested past the recursion limit. Every hook
# turns what it can raise (``OverflowError``, ``OSError``, ``RecursionError``) into a
# ``ValueError``; ``structure`` turns an unreadable record into a ``TransportError``.

from __future__ import annotations

import json
import math
import re
import reprlib
import typing
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar, cast

import attrs
import cattrs

from tel4vn_async._enums import ApiEnum
from tel4vn_async.errors import TransportError

__all__ = ["converter", "make_converter", "parse_datetime", "structure"]

T = TypeVar("T")

_DT_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?$",
    re.IGNORECASE,
)
_NO_TIME_YEARS = (1, 1970)
_SHOW = reprlib.Repr()
_SHOW.maxstring = _SHOW.maxother = 60


def _show(value: object) -> str:
    """A short repr for an error message: a hostile value may be megabytes long."""
    if isinstance(value, int) and value.bit_length() > 128:
        return f"<an int of {value.bit_length()} bits>"  # repr() fails past 4300 digits
    try:
        return _SHOW.repr(value)
    except (ValueError, RecursionError):  # a huge int or deep nesting inside a container
        return f"<a {type(value).__name__}>"


def _from_timestamp(value: float) -> datetime | None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"not a time: {value!r}")
    if value <= 0:
        return None
    try:
        return datetime.fromtimestamp(value, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):  # beyond year 9999, or the platform's time_t
        raise ValueError(f"not a time: {_show(value)}") from None


def parse_datetime(value: object) -> datetime | None:
    """A datetime from any of the API's time formats, or None for "no time".

    A number is Unix seconds (0 or less: "no time").

    Raises:
        ValueError: the value is not a time in any format the API uses, or one outside
            years 1 to 9999 (NaN, an infinity, 1e20 seconds).
    """
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _from_timestamp(value)
    if not isinstance(value, str):
        raise ValueError(f"not a time: {_show(value)}")
    text = value.strip()
    if not text:
        return None
    match = _DT_RE.match(text)
    if match is None:
        raise ValueError(f"not a time: {_show(value)}")
    year, month, day, hour, minute, second, frac, zone = match.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    tz: timezone | None = None
    if zone:
        if zone.upper() == "Z":
            tz = timezone.utc
        else:
            sign = -1 if zone[0] == "-" else 1
            digits = zone[1:].replace(":", "")
            tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    parsed = datetime(
        int(year),
        int(month),
        int(day),
        int(hour or 0),
        int(minute or 0),
        int(second or 0),
        micro,
        tzinfo=tz,
    )
    if (
        parsed.year in _NO_TIME_YEARS
        and parsed.month == 1
        and parsed.day == 1
        and (parsed.year == 1 or (tz is not None and parsed.timestamp() == 0))
    ):
        return None
    return parsed


_TRUE = frozenset({"true", "t", "1", "yes", "y", "on"})
_FALSE = frozenset({"false", "f", "0", "no", "n", "off", ""})


def _to_bool(value: object, _: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise ValueError(f"not a boolean: {_show(value)}")


def _to_int(value: object, _: object) -> int:
    if isinstance(value, bool):
        raise ValueError(f"not an integer: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():  # False for NaN and infinities
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)  # ValueError past 4,300 digits: unreadable, as it should be
        except ValueError:
            as_float = float(text)  # "1e400" is inf, "nan" is NaN: neither is whole
            if as_float.is_integer():
                return int(as_float)
    raise ValueError(f"not an integer: {_show(value)}")


def _finite(number: float, value: object) -> float:
    if not math.isfinite(number):
        raise ValueError(f"not a finite number: {_show(value)}")
    return number


def _to_float(value: object, _: object) -> float:
    # NaN and the infinities are unreadable: no API quantity is one, and they would
    # poison any sum (and JSON) a caller makes of them; ``raw`` keeps what was sent.
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, int | float | str):
        try:
            number = float(value.strip() if isinstance(value, str) else value)
        except OverflowError:  # an int beyond a float's range
            raise ValueError(f"not a finite number: {_show(value)}") from None
        return _finite(number, value)
    raise ValueError(f"not a number: {_show(value)}")


def _to_str(value: object, _: object) -> str:
    if isinstance(value, str):
        return value.strip()  # ids arrive with stray spaces; ``raw`` keeps the original
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # ValueError past 4,300 digits
    if isinstance(value, float):
        return str(_finite(value, value))
    raise ValueError(f"not a string: {_show(value)}")


_FREE_DICTS = (dict, dict[str, Any], dict[str, object], Mapping[str, Any], Mapping[str, object])


def _to_free_dict(value: object, _: object) -> dict[str, Any]:
    # Some fields carry JSON inside a string: report "param", webhook "press_key": "{}".
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return {}
        try:
            value = json.loads(text)
        except RecursionError:  # "[[[[..." nested past the interpreter's limit
            raise ValueError("a JSON text nested too deep") from None
    if isinstance(value, Mapping):
        return dict(value)
    raise ValueError(f"not a JSON object: {_show(value)}")


def _has_raw(cls: type) -> bool:
    return attrs.has(cls) and any(f.name == "raw" for f in attrs.fields(cls))


# What reading a hostile value can raise. The hooks above already turn overflow, platform
# (OSError) and recursion failures into ValueError; the rest of the list covers cattrs'
# own structuring (a list of models, a model without ``raw``) and is a last net.
_UNREADABLE = (
    ValueError,
    TypeError,
    LookupError,
    OverflowError,
    OSError,
    RecursionError,
    cattrs.BaseValidationError,
)


def _to_enum(value: object, cls: type[ApiEnum]) -> ApiEnum:
    if isinstance(value, str):  # the fast path: a CDR scroll converts millions of these
        known = cls._value2member_map_
        member = known.get(value) or known.get(value.strip().lower())
        if member is not None:
            return cast(ApiEnum, member)
    return cls(value)  # case-insensitive lookup, else UNKNOWN (ApiEnum._missing_)


def _model_hook(conv: cattrs.Converter, cls: type[Any]) -> Callable[[Any, Any], Any]:
    hints = typing.get_type_hints(cls)
    plan = []
    for f in attrs.fields(cls):
        if f.name == "raw" or not f.init:
            continue
        hint = hints[f.name]
        optional = f.default is not attrs.NOTHING
        blank_is_none = type(None) in typing.get_args(hint)
        keys = tuple(f.metadata.get("keys", (f.name,)))
        plan.append((f.name, keys, hint, conv.get_structure_hook(hint), optional, blank_is_none))

    def structure_model(obj: Any, _: Any) -> Any:
        if not isinstance(obj, Mapping):
            raise TypeError(f"{cls.__name__} expects a JSON object, got {type(obj).__name__}")
        kwargs: dict[str, Any] = {}
        for name, keys, hint, hook, optional, blank_is_none in plan:
            for key in keys:
                value = obj.get(key)
                if value is None:
                    continue
                if blank_is_none and isinstance(value, str) and not value.strip():
                    break  # "" means "no value" wherever None is allowed
                try:
                    kwargs[name] = hook(value, hint)
                except _UNREADABLE:
                    # One odd value never fails a record (or a whole CDR scroll): the
                    # field is left unset and ``raw`` keeps what was sent.
                    if not optional:
                        raise
                break
        return cls(**kwargs, raw=dict(obj))

    return structure_model


def make_converter() -> cattrs.Converter:
    """Build the converter; every hook is registered here and nowhere else."""
    conv = cattrs.Converter()
    conv.register_structure_hook(bool, _to_bool)
    conv.register_structure_hook(int, _to_int)
    conv.register_structure_hook(float, _to_float)
    conv.register_structure_hook(str, _to_str)
    conv.register_structure_hook(datetime, lambda v, _: parse_datetime(v))
    conv.register_structure_hook_func(lambda t: t in _FREE_DICTS, _to_free_dict)
    conv.register_structure_hook(ApiEnum, _to_enum)  # before str: ApiEnum is a str too
    conv.register_structure_hook_factory(_has_raw, lambda cls: _model_hook(conv, cls))
    return conv


converter = make_converter()


def structure(data: object, cls: type[T]) -> T:
    """Structure response ``data`` into ``cls`` with the one converter.

    Raises:
        TransportError: the data cannot be read as ``cls`` at all (not an object, a
            required field missing or unreadable): a broken response.
    """
    try:
        return converter.structure(data, cls)
    except _UNREADABLE as exc:
        name = getattr(cls, "__name__", str(cls))
        reason = str(exc)
        if len(reason) > 300:  # a library's message may quote a huge value whole
            reason = reason[:300] + "..."
        raise TransportError(f"the response holds no readable {name}: {reason}") from exc
