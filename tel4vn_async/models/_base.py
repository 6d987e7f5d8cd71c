"""``to_dict()``: every model as plain JSON-safe values, by one function.

The rules, for every model alike (``Model.to_dict``, built on ``to_plain``):

- ``None``, ``bool``, ``int`` and ``str`` stay as they are; a float too, unless NaN or an
  infinity (no JSON value), which becomes None;
- ``datetime``, ``date`` and ``time`` become ISO 8601 strings (``isoformat()``: a naive
  time stays zone-less, an aware one keeps its offset, never shifted);
- an enum becomes its value (``CallStatus.ANSWERED`` is ``"answered"``);
- a ``Decimal`` becomes an int when whole and within 64 bits, else a float when that
  loses no digit, else its exact text (None when not finite); a ``UUID`` or a path its
  text;
- a model or any attrs instance becomes a dict of its fields, a mapping a dict with string
  keys, a list, tuple or set a list (a set sorted when it can be);
- the ``raw`` field (the record as received) is left out unless ``include_raw=True``;
- secret fields (``Account.api_key``, ``Event.callback_apikey``: marked ``secret`` in
  their metadata) are left out unless ``include_secrets=True``; a ``raw`` included without
  them has every secret-bearing key masked (``"***"``), at any depth.

Anything else raises ``TypeError``: a model never holds it unless a caller put it there.
Containers nested deeper than 64 levels (only a hostile ``raw`` is) are cut to ``"..."``.
"""

from __future__ import annotations

import enum
import math
import operator
from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import PurePath
from typing import Any
from uuid import UUID

import attrs

from .._enums import ApiEnum
from .._sansio import redact
from .._validate import json_decimal

__all__ = ["SECRET", "Model", "to_plain"]

SECRET = "secret"
"""The field metadata key marking a secret (``attrs.field(metadata={SECRET: True})``)."""

_MAX_DEPTH = 64
_AS_IS = frozenset({str, int, bool, type(None)})
"""The exact types ``to_plain`` gives back unchanged (a subclass, an enum, takes the long way)."""


def _decimal(value: Decimal) -> int | float | str | None:
    return json_decimal(value) if value.is_finite() else None


def _key(key: object) -> str:
    if isinstance(key, enum.Enum):
        key = key.value
    return key if isinstance(key, str) else str(key)


def to_plain(value: object, *, include_raw: bool = False, include_secrets: bool = False) -> Any:
    """``value`` as plain JSON-safe values (``json.dumps`` takes the result as it is).

    Args:
        value: a model, any attrs instance, or a value a model holds.
        include_raw: keep each model's ``raw`` (the record as received).
        include_secrets: keep the secret fields, and ``raw``'s secret keys unmasked.

    Raises:
        TypeError: a value with no JSON form (the module docstring lists those with one).
    """
    return _PLAINS[bool(include_raw), bool(include_secrets)].convert(value, 0)


@attrs.frozen
class _Plain:
    """One ``to_plain`` walk's options."""

    include_raw: bool
    include_secrets: bool

    def convert(self, value: object, depth: int) -> Any:
        if value is None or isinstance(value, bool | int | str):
            if isinstance(value, enum.Enum):  # a str or int enum: its value, a plain type
                return self.convert(value.value, depth)
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else None
        if isinstance(value, date | time):  # a datetime is a date
            return value.isoformat()
        if isinstance(value, enum.Enum):
            return self.convert(value.value, depth)
        if isinstance(value, Decimal):
            return _decimal(value)
        if isinstance(value, timedelta):
            return value.total_seconds()
        if isinstance(value, UUID | PurePath):
            return str(value)
        if depth >= _MAX_DEPTH:
            return "..."
        if attrs.has(type(value)):
            return self.fields(value, depth + 1)
        if isinstance(value, Mapping):  # a str key and a plain value kept without a call
            return {
                (k if type(k) is str else _key(k)): (
                    v if type(v) in _AS_IS else self.convert(v, depth + 1)
                )
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return [self.convert(v, depth + 1) for v in value]
        if isinstance(value, set | frozenset):
            items = [self.convert(v, depth + 1) for v in value]
            try:
                return sorted(items)
            except TypeError:  # mixed types: the set's own order
                return items
        raise TypeError(f"no JSON form for a {type(value).__name__}")

    def fields(self, value: Any, depth: int) -> dict[str, Any]:
        """An attrs instance's fields, but ``raw`` and secrets unless asked for."""
        names, read = _layout(type(value), self.include_raw, self.include_secrets)
        out: dict[str, Any] = {}
        for name, item in zip(names, read(value), strict=True):
            # The values most fields hold, as ``convert`` gives them, without its checks.
            kind = type(item)
            if kind in _AS_IS:
                out[name] = item
            elif kind is datetime:
                out[name] = item.isoformat()
            elif isinstance(item, ApiEnum) and type(item._value_) is str:
                out[name] = item._value_  # ``value``, without the enum's property
            else:
                if name == "raw" and not self.include_secrets:
                    item = redact(item)
                out[name] = self.convert(item, depth)
        return out


_PLAINS = {
    (raw, secrets): _Plain(raw, secrets) for raw in (False, True) for secrets in (False, True)
}
"""One walker per combination of options: ``to_dict`` runs once per record of a listing."""

_Layout = tuple[tuple[str, ...], Callable[[Any], tuple[Any, ...]]]
_LAYOUTS: dict[tuple[type, bool, bool], _Layout] = {}
_MAX_LAYOUTS = 1024


def _layout(cls: type, include_raw: bool, include_secrets: bool) -> _Layout:
    """The names of the fields ``to_plain`` gives of an attrs class, and a reader of them.

    Worked out once per class and options: ``to_dict`` runs once per record of a listing.
    """
    key = (cls, bool(include_raw), bool(include_secrets))
    layout = _LAYOUTS.get(key)
    if layout is None:
        if len(_LAYOUTS) >= _MAX_LAYOUTS:  # classes made on the fly: never an unbounded cache
            _LAYOUTS.clear()
        names = tuple(
            field.name
            for field in attrs.fields(cls)
            if (include_secrets or not field.metadata.get(SECRET))
            and (include_raw or field.name != "raw")
        )
        getter = operator.attrgetter(*names) if names else None

        def read(value: Any) -> tuple[Any, ...]:
            if getter is None:
                return ()
            got = getter(value)
            return (got,) if len(names) == 1 else got  # attrgetter of one name: the value

        layout = _LAYOUTS[key] = (names, read)
    return layout


class Model:
    """The base of every model: ``to_dict()``.

    It adds no slot and no attrs field, so a frozen, slotted attrs model built on it is
    laid out as it would be without it.
    """

    __slots__ = ()

    def to_dict(
        self, *, include_raw: bool = False, include_secrets: bool = False
    ) -> dict[str, Any]:
        """The model as a dict of plain JSON-safe values: ``json.dumps(model.to_dict())``.

        Times become ISO 8601 strings, enums their values, nested models dicts; ``raw``
        and secret fields are left out unless asked for (the rules:
        ``tel4vn_async.models._base``).

        Args:
            include_raw: add ``raw``, the record as received (its secret-bearing keys
                masked unless ``include_secrets``).
            include_secrets: add the secret fields (``Account.api_key``,
                ``Event.callback_apikey``). Never in a response to a browser.

        Raises:
            TypeError: a field holds a value with no JSON form (only a caller can put one
                there, e.g. in ``QueueCustomer.fields``).
        """
        result: dict[str, Any] = to_plain(
            self, include_raw=include_raw, include_secrets=include_secrets
        )
        return result
