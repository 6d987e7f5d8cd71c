"""Input checks run before any request is sent; each failure names its field."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from enum import Enum
from typing import TypeVar

from .errors import ValidationError

__all__ = [
    "check_count",
    "check_customer_phone",
    "check_each",
    "check_enum",
    "check_phone",
    "check_range",
    "format_query_date",
    "require",
]

E = TypeVar("E", bound=Enum)

# The spec's own pattern for customer numbers (POST /v2/customer).
CUSTOMER_PHONE = re.compile(r"^(84|0[3|5|7|8|9])+([0-9]{8})$")
# Anything dialable: callers are hotlines (the spec's 0123456789), extensions are short.
PHONE = re.compile(r"^\+?[0-9]{3,15}$")


def require(value: object, field: str) -> None:
    """Reject None and empty or blank strings and collections."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValidationError(f"{field} is required", field=field)
    if isinstance(value, list | tuple | set | dict) and not value:
        raise ValidationError(f"{field} must not be empty", field=field)


def check_phone(value: object, field: str) -> str:
    """A phone number or extension: 3 to 15 digits with an optional leading ``+``."""
    text = str(value).strip() if isinstance(value, str | int) else ""
    if not PHONE.match(text):
        raise ValidationError(
            f"{field} must be 3 to 15 digits with an optional leading '+', got {value!r}",
            field=field,
        )
    return text


def check_customer_phone(value: object, field: str) -> str:
    """A customer's number, against the spec's ``^(84|0[3|5|7|8|9])+([0-9]{8})$``."""
    text = value.strip() if isinstance(value, str) else ""
    if not CUSTOMER_PHONE.match(text):
        raise ValidationError(
            f"{field} does not match the pattern {CUSTOMER_PHONE.pattern}: {value!r}",
            field=field,
        )
    return text


def check_enum(value: E | str, enum_cls: type[E], field: str) -> E:
    """The enum member for ``value`` (a member or its string value), or ValidationError."""
    if isinstance(value, enum_cls):
        return value
    if isinstance(value, str):
        wanted = value.strip().lower()
        for member in enum_cls:
            if str(member.value).lower() == wanted and member.name != "UNKNOWN":
                return member
    allowed = ", ".join(str(m.value) for m in enum_cls if m.name != "UNKNOWN")
    raise ValidationError(f"{field} must be one of {allowed}; got {value!r}", field=field)


def check_range(value: float, low: float, high: float, field: str) -> float:
    """A number within ``low..high`` (inclusive)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ValidationError(f"{field} must be within {low}..{high}, got {value!r}", field=field)
    return value


def check_count(value: object, field: str, high: int) -> int:
    """A whole number within ``1..high``: a page size, a page number."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        raise ValidationError(
            f"{field} must be an integer within 1..{high}, got {value!r}", field=field
        )
    return value


_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


def format_query_date(value: date | datetime | str, field: str) -> str:
    """``YYYY-MM-DD`` or ``YYYY-MM-DD HH:MM:SS``, as the API's date filters take them."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, str):
        text = value.strip()
        if _DAY.match(text) or _MOMENT.match(text):
            try:
                datetime.strptime(text, "%Y-%m-%d %H:%M:%S" if " " in text else "%Y-%m-%d")
            except ValueError:
                pass
            else:
                return text
    raise ValidationError(
        f"{field} must be a date, a datetime, or 'YYYY-MM-DD[ HH:MM:SS]'; got {value!r}",
        field=field,
    )


def check_each(values: Iterable[object], field: str) -> list[object]:
    """A non-empty list from an iterable (not a lone string)."""
    if isinstance(values, str | bytes):
        raise ValidationError(f"{field} must be a list, not a string", field=field)
    items = list(values)
    require(items, field)
    return items
