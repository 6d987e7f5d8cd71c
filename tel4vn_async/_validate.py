"""Input checks run before any request is sent: one function for each kind of argument.

Each returns the value as it is sent, or raises ``ValidationError`` whose ``field`` names
the argument (``customers[0].mobiles[1]`` inside lists and dicts). Whatever it is given
(None, a bool, ``10**400``, NaN, bytes, a 100,000-character string, an ``object()``),
none raises anything else. Messages show at most a short repr of the value, and never
a secret's.

Limits the spec leaves open, chosen here:

- ids, codes, extensions and keys (``MAX_ID``): 255 characters; an int id is non-negative;
- names and free text (``MAX_TEXT``): 1,000 characters;
- a template's spoken content (``MAX_CONTENT``): 5,000 characters;
- URLs (``MAX_URL``): 2,048 characters;
- whole numbers with no stated range: ``0..MAX_INT`` (a signed 32-bit int), and within
  a signed 64-bit int for free-form JSON values;
- lists: ``MAX_ITEMS`` (100,000) items; nested free-form values: ``MAX_DEPTH`` (16) levels.

One-line text (anything that may reach a URL, a query or a header) holds no control
character at all; multi-line text (template content, call params, free-form customer
fields, sent in a JSON body) may hold tabs and line breaks only. Lone surrogates are
refused everywhere: they cannot be encoded as UTF-8.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any, NoReturn, TypeVar
from urllib.parse import quote, urlsplit

from .errors import ValidationError

__all__ = [
    "MAX_CONTENT",
    "MAX_DEPTH",
    "MAX_ID",
    "MAX_INT",
    "MAX_ITEMS",
    "MAX_TEXT",
    "MAX_URL",
    "check_customer_phone",
    "check_date",
    "check_enum",
    "check_flag",
    "check_id",
    "check_int",
    "check_json_value",
    "check_key",
    "check_list",
    "check_number",
    "check_phone",
    "check_queue_customers",
    "check_secret",
    "check_text",
    "check_url",
    "optional",
    "parse_int",
    "path_segment",
    "queue_customer",
]

E = TypeVar("E", bound=Enum)
T = TypeVar("T")

MAX_ID = 255
MAX_TEXT = 1_000
MAX_CONTENT = 5_000
MAX_URL = 2_048
MAX_INT = 2**31 - 1
MAX_ITEMS = 100_000
MAX_DEPTH = 16
_INT64 = 2**63

# The spec's own pattern for customer numbers (POST /v2/customer).
CUSTOMER_PHONE = re.compile(r"(84|0[3|5|7|8|9])+([0-9]{8})")
# Anything dialable: callers are hotlines (the spec's 0123456789), extensions are short.
PHONE = re.compile(r"\+?[0-9]{3,15}")
# [0-9], not \d: int() and strptime() would take Arabic-Indic or full-width digits too.
_INT = re.compile(r"-?[0-9]{1,18}")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MOMENT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_MULTILINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_SHOWN = 60


def _show(value: object) -> str:
    """A short repr of a scalar for a message; only the type of anything else.

    A 100,000-character argument must not become the message, and no ``__repr__`` of the
    caller's own (a subclass's) is ever called: the built-in types' own reprs are used.
    """
    if value is None or isinstance(value, bool):
        return str(bool(value)) if value is not None else "None"
    shown: Callable[[Any], str] | None = next(
        (t.__repr__ for t in (str, bytes, int, float) if isinstance(value, t)), None
    )
    if shown is None:
        return f"a {type(value).__name__}"
    try:
        text = shown(value)
    except ValueError:  # an int of more than 4,300 digits cannot be printed
        return "a huge int"
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def optional(check: Callable[[object, str], T], value: object, field: str) -> T | None:
    """None for an optional argument left out (None), else ``check(value, field)``."""
    return None if value is None else check(value, field)


def _fail(field: str, problem: str) -> NoReturn:
    raise ValidationError(f"{field} {problem}", field=field)


@contextmanager
def _within(where: str) -> Iterator[None]:
    """Re-raise a ValidationError of a nested value with its path: ``id`` becomes
    ``customers[0].id``, ``[1]`` becomes ``customers[0][1]``."""
    try:
        yield
    except ValidationError as error:
        inner = error.field or ""
        field = f"{where}{inner}" if not inner or inner.startswith("[") else f"{where}.{inner}"
        message = str(error)
        if message.startswith(inner):
            message = field + message[len(inner) :]
        else:
            message = f"{field}: {message}"
        raise ValidationError(message, field=field) from None


def _text_problem(value: object, max_length: int, multiline: bool, blank: bool) -> str | None:
    """What is wrong with ``value`` as text, in words that never quote it (secrets too)."""
    if not isinstance(value, str):
        return "must be a string"
    if len(value) > max_length:  # checked before anything scans a huge string
        return f"must be at most {max_length:,} characters long, got {len(value):,}"
    bad = (_CONTROL_MULTILINE if multiline else _CONTROL).search(value)
    if bad is not None:
        kind = "a lone surrogate" if "\ud800" <= bad.group() <= "\udfff" else "a control character"
        return f"must not contain {kind} (one at index {bad.start()})"
    if not blank and not value.strip():
        return "is required and must not be blank"
    return None


def check_text(
    value: object,
    field: str,
    *,
    max_length: int = MAX_TEXT,
    multiline: bool = False,
    strip: bool = True,
    blank: bool = False,
) -> str:
    """A string argument: a name, a free text, a query value.

    Args:
        value: the argument.
        field: its name, for the error.
        max_length: the most characters it may have (1,000 unless the caller says).
        multiline: allow tabs and line breaks (text sent in a JSON body only).
        strip: return it without surrounding white space.
        blank: allow an empty or blank string.

    Returns:
        The text, stripped unless ``strip`` is false.

    Raises:
        ValidationError: not a string, too long, a control character, or blank.
    """
    problem = _text_problem(value, max_length, multiline, blank)
    if problem is not None:
        _fail(field, problem if isinstance(value, str) else f"{problem}, got {_show(value)}")
    assert isinstance(value, str)
    return value.strip() if strip else value


def check_secret(value: object, field: str) -> str:
    """A secret (``callback_apikey``): one line, non-blank, at most 1,000 characters.

    It is returned as given (not stripped), and its value appears in no message, not
    even its type's repr: an int secret would show its digits.

    Raises:
        ValidationError: not a string, too long, a control character, or blank.
    """
    problem = _text_problem(value, MAX_TEXT, multiline=False, blank=False)
    if problem is not None:
        got = "" if isinstance(value, str) else f", got a {type(value).__name__}"
        _fail(field, problem + got)
    assert isinstance(value, str)
    return value


def check_id(value: object, field: str, *, max_length: int = MAX_ID) -> str:
    """An id, code or extension: a one-line string or a non-negative int, as text.

    Args:
        value: the argument (``101`` and ``"101"`` alike).
        field: its name, for the error.
        max_length: the most characters it may have (255 unless the caller says).

    Returns:
        The id as text, stripped.

    Raises:
        ValidationError: another type, a negative or too long number, too long or
            blank text, or a control character.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        # bit_length first: str() of an int of 4,300+ digits raises ValueError.
        if value < 0 or value.bit_length() > 4 * max_length:
            _fail(field, f"must be a non-negative whole number of at most {max_length} digits")
        value = str(value)
    if not isinstance(value, str):
        _fail(field, f"must be a string or a whole number, got {_show(value)}")
    return check_text(value, field, max_length=max_length)


# What quote(safe="") leaves as it is, as long as check_id allows.
_PLAIN_SEGMENT = re.compile(rf"[A-Za-z0-9_.~-]{{1,{MAX_ID}}}")


def path_segment(value: object, field: str) -> str:
    """An id to put in a URL path: checked by ``check_id``, then quoted to stay one segment.

    ``quote(safe="")`` keeps ``/``, ``?``, ``#`` and ``%`` inside the segment; an id
    of only dots and slashes (``.``, ``..``) is refused, as the URL would climb out of
    its route (``/v2/user/../status`` is ``/v2/status``).

    Raises:
        ValidationError: as ``check_id``, or only dots and slashes.
    """
    if type(value) is str and _PLAIN_SEGMENT.fullmatch(value) and value.strip("."):
        return value  # the usual id: what check_id and quote() would return unchanged
    text = check_id(value, field)
    if not text.strip("./"):
        _fail(field, f"must not be only dots and slashes, got {_show(text)}")
    return quote(text, safe="")


def _dialable(value: object, field: str, pattern: re.Pattern[str], what: str) -> str:
    """A number given as an int or a string, stripped, that ``pattern`` matches whole."""
    if isinstance(value, int) and not isinstance(value, bool):
        # bit_length first: str() of an int of 4,300+ digits raises ValueError.
        text = str(value) if value.bit_length() <= 64 else ""
    elif isinstance(value, str) and len(value) <= 64:
        text = value.strip()
    else:
        text = ""
    if not pattern.fullmatch(text):
        _fail(field, f"must be {what}, got {_show(value)}")
    return text


def check_phone(value: object, field: str) -> str:
    """A phone number or extension: 3 to 15 ASCII digits with an optional leading ``+``.

    Raises:
        ValidationError: anything else (an int is taken as its digits).
    """
    return _dialable(value, field, PHONE, "3 to 15 digits with an optional leading '+'")


def check_customer_phone(value: object, field: str) -> str:
    """A customer's number, against the spec's ``^(84|0[3|5|7|8|9])+([0-9]{8})$``.

    Raises:
        ValidationError: anything that does not match.
    """
    return _dialable(value, field, CUSTOMER_PHONE, f"a number matching ^{CUSTOMER_PHONE.pattern}$")


def check_url(value: object, field: str) -> str:
    """An ``http://`` or ``https://`` URL with a host: one line, no spaces, 2,048 at most.

    Raises:
        ValidationError: anything else.
    """
    url = check_text(value, field, max_length=MAX_URL)
    problem = "must be an http:// or https:// URL with a host"
    if any(c.isspace() for c in url):
        _fail(field, f"{problem}, without spaces")
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError on a port out of range
        host = parts.hostname
    except ValueError:  # "http://[::1" and the like
        _fail(field, f"{problem}, got {_show(url)}")
    if parts.scheme not in ("http", "https") or not host:
        _fail(field, f"{problem}, got {_show(url)}")
    return url


def parse_int(value: object) -> int | None:
    """An int from an int or a string of up to 18 ASCII digits (the API sends both).

    Returns:
        The int, or None for anything else (bools, floats, other text).
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and len(value) <= 64:
        text = value.strip()
        if _INT.fullmatch(text):
            return int(text)
    return None


def check_int(
    value: object,
    field: str,
    *,
    low: int = 0,
    high: int = MAX_INT,
    digit_strings: bool = False,
) -> int:
    """A whole number within ``low..high``: a count, a page size, a duration.

    Args:
        value: the argument.
        field: its name, for the error.
        low: the smallest allowed.
        high: the largest allowed (a signed 32-bit int unless the caller says).
        digit_strings: also take a string of digits (``"150"``, as the spec's samples send).

    Raises:
        ValidationError: not an int (bools and floats included), or out of range.
    """
    number = parse_int(value) if digit_strings or not isinstance(value, str) else None
    if number is None:
        kind = "a whole number" + (" or a string of digits" if digit_strings else "")
        _fail(field, f"must be {kind}, got {_show(value)}")
    if not low <= number <= high:
        _fail(field, f"must be within {low:,}..{high:,}, got {_show(number)}")
    return number


def check_number(
    value: object, field: str, *, low: float, high: float, low_exclusive: bool = False
) -> float:
    """A finite number within ``low..high`` (above ``low`` when ``low_exclusive``).

    Raises:
        ValidationError: not an int or float (bools and strings included), NaN,
            infinite, or out of range.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        _fail(field, f"must be a number, got {_show(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        _fail(field, f"must be a finite number, got {_show(value)}")
    # Compared as given: float(10**400) would raise OverflowError.
    if value < low or value > high or (low_exclusive and value == low):
        bounds = f"above {low} and at most {high}" if low_exclusive else f"within {low}..{high}"
        _fail(field, f"must be {bounds}, got {_show(value)}")
    return float(value)


def check_flag(value: object, field: str) -> bool:
    """A bool argument: True or False only (``"yes"``, ``1`` and None are refused).

    Raises:
        ValidationError: anything but a bool.
    """
    if not isinstance(value, bool):
        _fail(field, f"must be True or False, got {_show(value)}")
    return value


def check_enum(value: object, enum_cls: type[E], field: str) -> E:
    """The enum member for ``value``: a member or its value, in any case (not ``UNKNOWN``).

    Raises:
        ValidationError: anything else.
    """
    if isinstance(value, enum_cls) and value.name != "UNKNOWN":
        return value
    if isinstance(value, str) and len(value) <= 64:
        wanted = value.strip().lower()
        for member in enum_cls:
            if str(member.value).lower() == wanted and member.name != "UNKNOWN":
                return member
    allowed = ", ".join(str(m.value) for m in enum_cls if m.name != "UNKNOWN")
    _fail(field, f"must be one of {allowed}; got {_show(value)}")


def check_date(value: object, field: str) -> str:
    """A date filter as the API takes it: ``YYYY-MM-DD`` or ``YYYY-MM-DD HH:MM:SS``.

    A ``date`` is sent as the day, a ``datetime`` as its wall-clock time (any zone
    dropped, seconds truncated); a string must already be in one of the two forms.

    Raises:
        ValidationError: another type, or a string that is not a real date in those forms.
    """
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and len(value) <= 64:
        text = value.strip()
        for pattern, form in ((_DAY, "%Y-%m-%d"), (_MOMENT, "%Y-%m-%d %H:%M:%S")):
            if pattern.fullmatch(text):
                try:
                    datetime.strptime(text, form)
                except ValueError:  # 2021-02-30
                    break
                return text
    _fail(field, f"must be a date, a datetime, or 'YYYY-MM-DD[ HH:MM:SS]'; got {_show(value)}")


def check_list(
    values: object,
    field: str,
    check: Callable[[object, str], T],
    *,
    max_items: int = MAX_ITEMS,
    unique: bool = False,
    allow_empty: bool = False,
) -> list[T]:
    """A non-empty list of items, each checked by ``check`` under the name ``field[i]``.

    Any iterable but a string, bytes or a mapping will do (a tuple, a set, a generator).

    Args:
        values: the argument.
        field: its name, for the error.
        check: the validator of one item, called as ``check(item, "field[i]")``.
        max_items: the most items it may have (100,000 unless the caller says).
        unique: refuse an item that is listed twice (compared after checking).
        allow_empty: accept an empty list.

    Raises:
        ValidationError: not a list, empty, too long, a repeated item, or a bad item
            (its ``field`` is then ``field[i]``, or below it).
    """
    if isinstance(values, str | bytes | bytearray | memoryview | Mapping) or not isinstance(
        values, Iterable
    ):
        _fail(field, f"must be a list, got {_show(values)}")
    out: list[T] = []
    seen: dict[object, int] = {}
    for i, item in enumerate(values):
        if i >= max_items:
            _fail(field, f"must hold at most {max_items:,} items")
        checked = check(item, f"{field}[{i}]")
        if unique:
            if checked in seen:
                _fail(f"{field}[{i}]", f"repeats {field}[{seen[checked]}] {_show(checked)}")
            seen[checked] = i
        out.append(checked)
    if not out and not allow_empty:
        _fail(field, "must not be empty")
    return out


# ------------------------------------------------------------------ free-form JSON values

JsonValue = None | bool | int | float | str | list[Any] | dict[str, Any]


def json_decimal(value: Decimal) -> int | float | str:
    """A finite ``Decimal`` as JSON can hold it: an int when whole and within 64 bits, a
    float when that loses no digit, else its exact text."""
    if value == value.to_integral_value() and -_INT64 <= value < _INT64:
        return int(value)
    number = float(value)
    if math.isfinite(number) and Decimal(repr(number)) == value:
        return number
    return str(value)  # a float would lose digits: the exact value, as text


def _decimal(value: Decimal, field: str) -> int | float | str:
    if not value.is_finite():
        _fail(field, f"must be a finite number, got {_show(str(value))}")
    return json_decimal(value)


def check_key(key: object, field: str) -> str:
    """A key of a free-form mapping (``params``, a customer's fields): a one-line name of
    at most 255 characters, returned as given.

    Raises:
        ValidationError: another type, blank, too long, or a control character; ``field``
            is the mapping's name.
    """
    problem = _text_problem(key, MAX_ID, multiline=False, blank=False)
    if problem is not None:
        _fail(field, f"keys must be names: {_show(key)} {problem}")
    assert isinstance(key, str)
    return key


def check_json_value(value: object, field: str, *, _depth: int = 0) -> JsonValue:
    """A free-form value for a JSON body (a queue customer's extra fields), as sent.

    ``date``/``datetime``/``time`` become ISO strings; a ``Decimal`` an int when it is
    whole (and fits 64 bits), else a float when that loses no digit, else its exact
    text (``"0.10000000000000000001"``); an enum its value. Strings may be blank and
    hold line breaks (1,000 characters at most); ints fit a signed 64-bit int; lists
    and string-keyed mappings nest up to 16 levels.

    Raises:
        ValidationError: anything else: an object, a set, bytes, NaN or infinity, a
            huge int; ``field`` names the value (``due_date``, ``tags[1]``, ``a.b``).
            A key that is not a name is named by its mapping.
    """
    if isinstance(value, Enum):
        value = value.value
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not -_INT64 <= value < _INT64:
            _fail(field, "must fit a signed 64-bit int")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            _fail(field, f"must be a finite number, got {_show(value)}")
        return value
    if isinstance(value, Decimal):
        return _decimal(value, field)
    if isinstance(value, str):
        return check_text(value, field, multiline=True, strip=False, blank=True)
    if isinstance(value, date | time):  # datetime is a date
        return value.isoformat()
    if isinstance(value, list | tuple | Mapping) and _depth >= MAX_DEPTH:
        _fail(field, f"must not nest deeper than {MAX_DEPTH} levels")
    if isinstance(value, list | tuple):
        return [
            check_json_value(v, f"{field}[{i}]", _depth=_depth + 1) for i, v in enumerate(value)
        ]
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = check_key(key, field)
            out[name] = check_json_value(item, f"{field}.{name}", _depth=_depth + 1)
        return out
    _fail(field, f"cannot be sent as JSON, got {_show(value)}")


# ------------------------------------------------------------------ queue customers


def queue_customer(customer_id: object, mobiles: object, fields: object) -> dict[str, Any]:
    """A queue customer as an import body carries it: ``{**fields, "id", "mobiles"}``.

    ``id`` is checked by ``check_id``, each of ``mobiles`` by ``check_phone``, each extra
    field by ``check_json_value`` under its own key.

    Raises:
        ValidationError: naming ``id``, ``mobiles``, ``mobiles[1]``, a field's key, or
            ``fields`` for a key that is not a name.
    """
    checked_id = check_id(customer_id, "id")
    numbers = check_list(mobiles, "mobiles", check_phone)
    if not isinstance(fields, Mapping):
        _fail("fields", f"must be a mapping, got {_show(fields)}")
    out: dict[str, Any] = {}
    for key, value in fields.items():
        name = check_key(key, "fields")
        out[name] = check_json_value(value, name)
    return {**out, "id": checked_id, "mobiles": numbers}


def _queue_customer(value: object, field: str) -> dict[str, Any]:
    """One customer of an import: a mapping in the spec's shape, or a ``QueueCustomer``
    (anything with ``to_json()``)."""
    with _within(field):
        raw = value
        if not isinstance(raw, Mapping):
            to_json = getattr(raw, "to_json", None)
            raw = to_json() if callable(to_json) else None
        if isinstance(raw, Mapping):
            extra = dict(raw)
            return queue_customer(extra.pop("id", None), extra.pop("mobiles", None), extra)
    _fail(field, f"must be a QueueCustomer or a dict with id and mobiles, got {_show(value)}")


def check_queue_customers(customers: object) -> list[dict[str, Any]]:
    """The ``customers`` of a queue import, as sent.

    Raises:
        ValidationError: not a non-empty list, or a bad customer (``customers[i]``,
            ``customers[i].mobiles[j]``, ``customers[i].<key>``).
    """
    return check_list(customers, "customers", _queue_customer)
