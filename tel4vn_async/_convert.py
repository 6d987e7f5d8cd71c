"""The one cattrs converter, with every hook for the API's value quirks in one place.

Quirks it absorbs: ``""``, Go's zero time and the Unix epoch as "no time"; zone-less
``YYYY-MM-DD HH:MM:SS`` kept naive (never shifted); ISO 8601 with ``Z`` or an offset
and 0 to 6 fractional digits made aware; ``"true"``/``"false"``/``"t"``/``"f"`` as bools;
numbers sent as strings; JSON objects sent inside strings; stray whitespace around
strings (ids with a trailing space). Models whose class has a ``raw`` field keep the
whole original mapping there (``structure``: a copy; ``reader``'s function, for records
just decoded: the decoded dict itself), and a field may name the keys it is read from
(``keys`` in its metadata) so drifting field names land on one attribute. In a model,
``""`` is None wherever None is allowed, enum values the SDK does not know become
``UNKNOWN``, and a value that cannot be read leaves its optional field unset rather than
failing the record.

Hostile values are unreadable, never a crash: NaN and infinities (in a number, a bool, a
string or a time field), times outside years 1 to 9999, numbers too big for a float,
digit strings beyond Python's int limit, JSON nested past the recursion limit. Every hook
turns what it can raise (``OverflowError``, ``OSError``, ``RecursionError``) into a
``ValueError``; ``structure`` turns an unreadable record into a ``TransportError``.

Speed: a CDR scroll structures millions of records, so each model with a ``raw`` field
gets one structure function of its own, generated from its fields the first time it is
needed (as attrs and cattrs generate theirs; ``_compile_model``): ``X | None`` unwrapped,
the alternative keys and the common cases (a ``str``, an ``int``, a known enum value, a
time in a shape ``datetime.fromisoformat`` reads) inlined, every other value handed to the
same hooks as before, and the instance built by setting its slots as attrs' frozen
``__init__`` does (by plain stores into a layout-identical subclass then made the model,
where Python allows it: ``_builder``). ``tests/test_convert_differential.py`` checks it
against the generic version it replaced (``tests/_old_convert.py``), record by record.
"""

from __future__ import annotations

import json
import linecache
import math
import re
import reprlib
import textwrap
import types
import typing
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar, cast

import attrs
import cattrs

from ._enums import ApiEnum
from .errors import TransportError

__all__ = ["converter", "make_converter", "parse_datetime", "reader", "structure"]

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
    if type(value) is str:
        return _parse_text(value)
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _from_timestamp(value)
    if not isinstance(value, str):
        raise ValueError(f"not a time: {_show(value)}")
    return _parse_tolerant(value)


_fromisoformat = datetime.fromisoformat


def _parse_text(text: str) -> datetime | None:
    """``parse_datetime`` of a string: ``fromisoformat`` where it agrees, else the regex.

    The fast path takes only ``YYYY-MM-DD[ T]HH:MM:SS``, optionally with 3 or 6
    fractional digits, then ``Z`` or ``+HH:MM``: shapes every ``fromisoformat`` from
    Python 3.10 on reads as the regex does (3.10 refuses ``Z``: it is sent as ``+00:00``;
    3.11 reads far more, hence the exact shape). Anything else (a blank, other fraction
    lengths, a lower-case ``z``, hour 24, the non-ASCII digits ``fromisoformat`` refuses)
    and the "no time" years take the tolerant parser. (The generated model functions
    inline its two commonest shapes, ``_READ_TIME``: a change here goes there too.)
    """
    iso, size = text, len(text)
    if size != 19:  # not the API's own zone-less format: find the zone, check the fraction
        if text[-1:] == "Z":
            iso, size = text[:-1] + "+00:00", size + 5
        if size >= 25 and iso[-3] == ":" and iso[-6] in "+-":
            size -= 6  # the +HH:MM offset, which fromisoformat reads itself
        if size != 19 and not (
            (size == 23 or size == 26) and iso[19] == "." and iso[20:size].isdigit()
        ):
            return _parse_tolerant(text)
    if (
        iso[4] == "-"
        and iso[7] == "-"
        and (iso[10] == " " or iso[10] == "T")
        and iso[13] == ":"
        and iso[16] == ":"
        and (iso[11] != "2" or iso[12] < "4")  # newer Pythons read hour 24, the regex not
    ):
        try:
            parsed = _fromisoformat(iso)
        except ValueError:
            return _parse_tolerant(text)  # its verdict, and its message
        if parsed.year not in _NO_TIME_YEARS:
            return parsed
    return _parse_tolerant(text)


def _parse_tolerant(value: str) -> datetime | None:
    """Every time format the API sends, by the regex (the reference the fast path follows)."""
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

_ENUM_TABLES: dict[type, dict[str, Any]] = {}


def _enum_table(cls: type[ApiEnum]) -> dict[str, Any]:
    """Every string naming a member, as ``cls(value)`` and ``ApiEnum._missing_`` read it.

    ``_to_enum`` looks a value up as sent, then stripped and lower-cased. The lower-case
    keys give what ``_missing_`` would (an exact value first, else the first member in
    definition order whose lower-case value or name it is); the upper-case forms of those
    (the default CDR mapping's ``ANSWERED``) resolve as their lower-case form would, so the
    first lookup finds them; a value as sent wins over both. Blank keys are left out: a
    blank goes the slow way, which knows when it means None.
    """
    table = _ENUM_TABLES.get(cls)
    if table is None:
        exact = {v: m for v, m in cls._value2member_map_.items() if isinstance(v, str)}
        folded: dict[str, Any] = {}
        for member in cls:
            for key in (member.value.lower(), member.name.lower()):
                if key == key.strip().lower():  # reached only by the folded lookup
                    folded.setdefault(key, exact.get(key, member))
        table = dict(folded)
        for key in folded:
            upper = key.upper()
            if upper.strip().lower() in folded:
                table.setdefault(upper, folded[upper.strip().lower()])
        table.update(exact)
        table = _ENUM_TABLES[cls] = {k: m for k, m in table.items() if k.strip()}
    return table


def _to_enum(value: object, cls: type[ApiEnum]) -> ApiEnum:
    if isinstance(value, str):
        table = _enum_table(cls)
        member = table.get(value)
        if member is None:
            member = table.get(value.strip().lower())
        if member is not None:
            return cast(ApiEnum, member)
    return cls(value)  # no such member: UNKNOWN (ApiEnum._missing_), or a ValueError


def _has_raw(cls: type) -> bool:
    return attrs.has(cls) and any(f.name == "raw" for f in attrs.fields(cls))


# --------------------------------------------------------------------------- model functions

_FACTORY: type = type(attrs.Factory(list))  # attrs.Factory itself is typed as a function


def _factory(default: object) -> Any:
    """A field's default when it is an ``attrs.Factory`` (``.factory``, ``.takes_self``)."""
    return default if isinstance(default, _FACTORY) else None


_UNSET: Any = object()
"""A field value read as "leave the field at its default"."""
_COMPILED: dict[type, Callable[..., Any]] = {}
"""The module converter's structure function of each model used so far (``_model_function``)."""


def _missing(cls: type, name: str) -> TypeError:
    return TypeError(f"{cls.__name__} needs {name!r}, missing, blank or null here")


def _slow_reader(
    hook: Callable[[Any, Any], Any], hint: Any, blank_is_none: bool, optional: bool
) -> Callable[[Any], Any]:
    """The generic read of one field's (non-null) value: a value, or ``_UNSET``."""

    def read(value: Any) -> Any:
        if blank_is_none and isinstance(value, str) and not value.strip():
            return _UNSET  # "" means "no value" wherever None is allowed
        try:
            return hook(value, hint)
        except _UNREADABLE:
            # One odd value never fails a record (or a whole CDR scroll): the field is
            # left at its default and ``raw`` keeps what was sent.
            if not optional:
                raise
            return _UNSET

    return read


def _direct_setters(cls: type) -> dict[str, Any] | None:
    """Each field's slot setter, when an instance may be built without ``__init__``.

    Only for a slotted class with no converter, validator, pre/post-init hook, cached hash
    or extra slot: then ``__init__`` does nothing but set each slot with
    ``object.__setattr__`` (what attrs generates for a frozen class), which is what the
    slot setters do without the lookups.
    """
    fields = attrs.fields(cls)
    names = {f.name for f in fields}
    slots = {s for k in cls.__mro__[:-1] for s in k.__dict__.get("__slots__", ("__dict__",))}
    if (
        any(f.converter is not None or f.validator is not None for f in fields)
        or any(hasattr(cls, h) for h in ("__attrs_pre_init__", "__attrs_post_init__"))
        or slots - names - {"__weakref__"}
        or any(f.init and getattr(_factory(f.default), "takes_self", False) for f in fields)
    ):
        return None
    setters = {}
    for name in names:
        slot = getattr(cls, name, None)
        if not isinstance(slot, types.MemberDescriptorType):
            return None
        setters[name] = slot.__set__
    return setters


def _builder(cls: type) -> type | None:
    """A subclass of ``cls`` whose instances take plain attribute stores; None if none works.

    A frozen class refuses ``setattr``, so filling its slots costs a call per slot (the
    setters of ``_direct_setters``). This subclass adds no slot and has ``object``'s own
    ``__setattr__``: its instances have the very layout of ``cls``'s, take plain stores
    (which the interpreter specializes to a slot write), then become instances of ``cls``
    by ``__class__`` assignment, which Python allows between such layouts. The object is
    the one the setters would have built, in about half the time (19 slots: a CDR).
    """
    namespace = {
        "__slots__": (),
        "__setattr__": object.__setattr__,
        "__delattr__": object.__delattr__,  # both: they share the type's setattr slot
        "__module__": cls.__module__,
        "__qualname__": f"{cls.__qualname__}._Builder",
    }
    try:
        builder = type(f"{cls.__name__}._Builder", (cls,), namespace)
        probe: Any = object.__new__(builder)
        probe.__class__ = cls  # TypeError where Python finds the layouts differ
    except TypeError:
        return None
    return builder


def _field_kind(hint: Any) -> tuple[Any, str]:
    """The type to read (``X`` of ``X | None``) and which inlined fast path it takes."""
    args = typing.get_args(hint)
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    if union and len(args) == 2 and args[1] is type(None):
        hint = args[0]  # the value is never None where the type is used
    if hint is str or hint is int or hint is bool or hint is datetime:
        return hint, hint.__name__
    if isinstance(hint, type) and issubclass(hint, ApiEnum):
        return hint, "enum"
    return hint, "other"


def _compile_model(conv: cattrs.Converter, cls: type[Any]) -> Callable[..., Any]:
    """Generate the structure function of one model with a ``raw`` field (``fn.__doc__``)."""
    hints = typing.get_type_hints(cls)
    setters = _direct_setters(cls)
    ns: dict[str, Any] = {"cls": cls, "_new": object.__new__, "_dict": dict, "UNSET": _UNSET}
    ns.update(Mapping=Mapping, _UNREADABLE=_UNREADABLE, _missing=_missing, _dt=_parse_text)
    ns.update(_unreadable=_unreadable, _iso=_fromisoformat, _NO_TIME=_NO_TIME_YEARS)
    out = [  # the body, at the indentation of the try block it goes in
        "if type(obj) is _dict:",
        "    raw = obj if _cls is None else _dict(obj)",
        "elif isinstance(obj, Mapping):",
        "    raw = _dict(obj)",
        "else:",
        "    raise TypeError(f'{cls.__name__} expects a JSON object, got {type(obj).__name__}')",
        "get = obj.get",
    ]
    built = []  # (attribute, local variable) in field order
    for i, f in enumerate(attrs.fields(cls)):
        if f.name == "raw" or not f.init:
            continue
        x = f"x{i}"
        built.append((f, x))
        hint = hints[f.name]
        blank_is_none = type(None) in typing.get_args(hint)
        optional = f.default is not attrs.NOTHING
        read, kind = _field_kind(hint)
        ns[f"R{i}"] = _slow_reader(conv.get_structure_hook(read), read, blank_is_none, optional)
        ns[f"D{i}"] = f.default
        if setters is None or not optional:
            # Left out of the __init__ call (attrs fills it in) or, for a required field,
            # reported once every field is read: a bad value fails the record first.
            unset = f"{x} = UNSET"
        elif factory := _factory(f.default):
            unset, ns[f"D{i}"] = f"{x} = D{i}()", factory.factory
        elif f.default is None:
            unset = f"{x} = None"
        else:
            unset = f"{x} = D{i}"
        keys = tuple(f.metadata.get("keys", (f.name,)))
        out.append(f"# {f.name}: {kind}{' | None' if blank_is_none else ''} <- {keys}")
        out.append(f"v = get({keys[0]!r})")
        for key in keys[1:]:  # the first key present (not null) wins
            out += ["if v is None:", f"    v = get({key!r})"]
        out += ["if v is None:", f"    {unset}"]
        fail = unset if optional else "raise"
        for name in _fast_path(kind, read, blank_is_none, f.default):
            out += _FAST[name].format(x=x, i=i, unset=unset, fail=fail).splitlines()
        if kind == "enum":
            ns[f"T{i}"], ns[f"U{i}"] = _enum_table(read), read.__members__.get("UNKNOWN")
        out += ["else:", f"    {x} = R{i}(v)", f"    if {x} is UNSET:", f"        {unset}"]
    if setters is None:
        args = ", ".join(f"{f.alias}={x}" for f, x in built)
        out += [
            f"kwargs = dict({args}, raw=raw)",
            "return cls(**{k: v for k, v in kwargs.items() if v is not UNSET})",
        ]
    else:
        for f, x in built:
            if f.default is attrs.NOTHING:
                out += [f"if {x} is UNSET:", f"    raise _missing(cls, {f.name!r})"]
        ns["B"] = builder = _builder(cls)
        # Built as a ``B`` by plain stores while nothing can tell (``_builder``), then made
        # a ``cls`` before any factory that takes ``self`` sees it; else by the setters.
        building = builder is not None
        out.append("self = _new(B)" if building else "self = _new(cls)")
        local = {f.name: x for f, x in built}
        for i, f in enumerate(attrs.fields(cls)):  # in field order, as __init__ does
            ns[f"S{i}"] = setters[f.name]
            value = local.get(f.name)
            factory = None if f.init else _factory(f.default)
            if f.name == "raw":
                value = "raw"
            elif factory is not None:
                ns[f"D{i}"] = factory.factory
                value = f"D{i}(self)" if factory.takes_self else f"D{i}()"
            elif not f.init and f.default is not attrs.NOTHING:
                ns[f"D{i}"], value = f.default, f"D{i}"
            if value is None:
                continue
            if building and factory is not None and factory.takes_self:
                out.append("self.__class__ = cls")
                building = False
            out.append(f"self.{f.name} = {value}" if building else f"S{i}(self, {value})")
        if building:
            out.append("self.__class__ = cls")
        out.append("return self")
    name = f"structure_{cls.__name__}"
    source = "\n".join(
        [
            f"def {name}(obj, _cls=None):",
            f'    """{cls.__name__} from a decoded JSON object (generated by _compile_model).',
            "",
            "    Called with the class (as cattrs does): ``raw`` is a copy of ``obj``, and a",
            "    value the record cannot do without raises the hook's own error. Called with",
            "    the record alone (a pager's ``convert``): ``raw`` is ``obj`` itself when it",
            "    is a ``dict``, and such an error is a ``TransportError``.",
            '    """',
            "    try:",
            *(f"        {line}" for line in out),
            "    except _UNREADABLE as exc:",
            "        if _cls is None:",
            "            raise _unreadable(cls, exc) from exc",
            "        raise",
            "",
        ]
    )
    filename = f"<tel4vn_async structure {cls.__module__}.{cls.__qualname__}>"
    exec(compile(source, filename, "exec"), ns)  # noqa: S102 - our own generated source
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    fn: Callable[..., Any] = ns[name]
    return fn


# A time string read as ``_parse_text`` reads it, without the call for the API's two usual
# shapes (``YYYY-MM-DD HH:MM:SS``, and with ``T`` and a ``+HH:MM`` offset): the same checks,
# then ``fromisoformat``; anything else, a refusal or a "no time" year goes to ``_dt``
# (``_parse_text``), whose verdict it is. ``{x}`` is the local the time lands in.
_READ_TIME = """\
size = len(v)
if (
    (size == 19 or size == 25 and v[22] == ":" and (v[19] == "+" or v[19] == "-"))
    and v[4] == "-"
    and v[7] == "-"
    and (v[10] == " " or v[10] == "T")
    and v[13] == ":"
    and v[16] == ":"
    and (v[11] != "2" or v[12] < "4")
):
    try:
        {x} = _iso(v)
    except ValueError:
        {x} = _dt(v)
    else:
        if {x}.year in _NO_TIME:
            {x} = _dt(v)
else:
    {x} = _dt(v)
"""


def _with_read_time(template: str) -> str:
    """``template`` with its ``{read_time}`` line replaced by ``_READ_TIME``, as indented."""
    out = []
    for line in template.splitlines(keepends=True):
        code = line.lstrip()
        out.append(
            textwrap.indent(_READ_TIME, line[: -len(code)]) if code == "{read_time}\n" else line
        )
    return "".join(out)


# The inlined branches of one field, by the kind of its type, for the values most records
# carry; ``v`` is the field's value (not null), ``{x}`` the local it lands in, ``{unset}``
# leaves the field at its default (or fails the record when it has none), ``{fail}`` is
# what an unreadable value does (``{unset}`` for an optional field, else re-raise), and
# ``R{i}`` the generic read (``_slow_reader``) that every other value takes.
_FAST = {
    "str": """\
elif type(v) is str:
    {x} = v.strip()
""",
    "str | None": """\
elif type(v) is str:
    v = v.strip()
    if v:
        {x} = v
    else:
        {unset}
""",
    "str | None = None": """\
elif type(v) is str:
    {x} = v.strip() or None  # a blank is None
""",
    "int": """\
elif type(v) is int:
    {x} = v
elif type(v) is str:
    try:
        {x} = int(v)  # as _to_int: int() ignores the whitespace strip() would remove
    except ValueError:
        {x} = R{i}(v)
        if {x} is UNSET:
            {unset}
""",
    "bool": """\
elif type(v) is bool:
    {x} = v
""",
    # A blank is None by _dt too: only where the default is something else does it matter.
    "datetime | None, default not None": """\
elif type(v) is str and not v.strip():
    {unset}
""",
    "datetime": _with_read_time("""\
elif type(v) is str:
    try:
        {read_time}
    except _UNREADABLE:
        {fail}
"""),
    "datetime | None": _with_read_time("""\
elif type(v) is str:
    if v:
        try:
            {read_time}
        except _UNREADABLE:
            {fail}
    else:  # the API's most common "no time"
        {unset}
"""),
    # T{i}: the enum's table (_enum_table); U{i}: its UNKNOWN member.
    "enum": """\
elif type(v) is str:
    {x} = T{i}.get(v)
    if {x} is None:
        {x} = T{i}.get(v.strip().lower())
        if {x} is None:
            {x} = R{i}(v)  # no member: a blank (None) or unreadable; R{i} says
            if {x} is UNSET:
                {unset}
""",
    "enum with UNKNOWN": """\
elif type(v) is str:
    {x} = T{i}.get(v)
    if {x} is None:
        {x} = T{i}.get(v.strip().lower())
        if {x} is None:
            {x} = U{i}
elif type(v) is int:  # no member is an int: the reference sample's direction 3
    {x} = U{i}
""",
    "enum with UNKNOWN | None": """\
elif type(v) is str:
    {x} = T{i}.get(v)
    if {x} is None:
        {x} = T{i}.get(v.strip().lower())
        if {x} is None:
            if v.strip():
                {x} = U{i}
            else:
                {unset}
elif type(v) is int:  # no member is an int: the reference sample's direction 3
    {x} = U{i}
""",
}


def _fast_path(kind: str, read: Any, blank_is_none: bool, default: Any) -> list[str]:
    """The names of the ``_FAST`` templates one field takes, in order."""
    if kind == "str":
        if blank_is_none:
            return ["str | None = None" if default is None else "str | None"]
        return ["str"]
    if kind == "datetime" and blank_is_none:
        if default is not None:
            return ["datetime | None, default not None", "datetime"]
        return ["datetime | None"]
    if kind == "enum" and "UNKNOWN" in read.__members__:
        return ["enum with UNKNOWN | None" if blank_is_none else "enum with UNKNOWN"]
    return [kind] if kind in _FAST else []


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
    # cattrs calls the factory once per model and converter, and keeps what it returns.
    conv.register_structure_hook_factory(_has_raw, lambda cls: _compile_model(conv, cls))
    return conv


converter = make_converter()


def _model_function(cls: Any) -> Callable[..., Any] | None:
    """``converter``'s generated function for a model with ``raw`` (None for anything else)."""
    model = _COMPILED.get(cls)
    if model is None and isinstance(cls, type) and _has_raw(cls):
        model = _COMPILED[cls] = cast(Callable[..., Any], converter.get_structure_hook(cls))
    return model


def _unreadable(cls: object, exc: BaseException) -> TransportError:
    name = getattr(cls, "__name__", str(cls))
    reason = str(exc)
    if len(reason) > 300:  # a library's message may quote a huge value whole
        reason = reason[:300] + "..."
    return TransportError(f"the response holds no readable {name}: {reason}")


def structure(data: object, cls: type[T], *, owned: bool = False) -> T:
    """Structure response ``data`` into ``cls`` with the one converter.

    A model's ``raw`` is a copy of ``data``, unless ``owned``: then ``data`` is a dict
    nothing else holds (an answer just decoded), and ``raw`` is ``data`` itself.

    Raises:
        TransportError: the data cannot be read as ``cls`` at all (not an object, a
            required field missing or unreadable): a broken response.
    """
    try:
        model = _model_function(cls)
        if model is not None:
            # Called as cattrs calls it (with the class: raw is a copy), without the
            # dispatch; or, owned, as a pager calls it (raw is data).
            return cast(T, model(data) if owned else model(data, cls))
        return converter.structure(data, cls)
    except _UNREADABLE as exc:
        raise _unreadable(cls, exc) from exc


def reader(cls: type[T]) -> Callable[[Mapping[str, Any]], T]:
    """The function structuring one decoded record into the model ``cls`` (with ``raw``).

    Unlike ``structure``, the model's ``raw`` is the decoded ``dict`` itself, not a copy:
    for records nothing else holds on to (a page just decoded), where copying each one
    would be wasted work. (It is the model's generated function, called without a class.)

    Raises:
        TypeError: ``cls`` is no attrs class with a ``raw`` field.

    Raises (the function):
        TransportError: as ``structure``.
    """
    model = _model_function(cls)
    if model is None:
        raise TypeError(f"{cls!r} is no model with a raw field")
    return cast(Callable[[Mapping[str, Any]], T], model)
