"""JSON in and out: orjson when installed (the ``fast`` extra), else the standard library.

Both give the same values. Where orjson refuses what ``json`` reads (``NaN`` literals) or
reads it differently (an integer beyond 64 bits becomes a float), decoding falls back to
``json``; set ``TEL4VN_NO_ORJSON=1`` to use the standard library only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

__all__ = ["CODEC", "dumps", "loads"]


def _long_int(digits: str) -> int | str:
    # Past Python's 4,300-digit limit int() refuses: keep the literal, so one absurd
    # number leaves its field unreadable instead of failing the whole answer.
    try:
        return int(digits)
    except ValueError:
        return digits


def _std_loads(body: bytes | str) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        # Parsing ints through a Python callback is slow: only on this rare path.
        return json.loads(body, parse_int=_long_int)


def _std_dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_RUN = b"0" * 19


def _pick() -> tuple[str, Callable[[bytes | str], Any], Callable[[Any], str]]:
    if os.environ.get("TEL4VN_NO_ORJSON"):
        return "json", _std_loads, _std_dumps
    try:
        import orjson
    except ImportError:
        return "json", _std_loads, _std_dumps

    def fast_loads(body: bytes | str) -> Any:
        raw = body.encode() if isinstance(body, str) else body
        # 19 digits in a row may be an integer beyond 64 bits, which orjson reads as a
        # float: those bodies go to json. (translate + find runs at memory speed.)
        if raw.translate(_DIGITS_TO_ZERO).find(_LONG_RUN) >= 0:
            return _std_loads(raw)
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            return _std_loads(raw)  # the same verdict as without orjson, or its ValueError

    def fast_dumps(value: Any) -> str:
        try:
            return orjson.dumps(value).decode()
        except TypeError:  # e.g. an int beyond 64 bits: json writes it
            return _std_dumps(value)

    return "orjson", fast_loads, fast_dumps


CODEC, loads, dumps = _pick()
"""The codec in use (``"orjson"`` or ``"json"``), and its decode and encode functions.

``loads`` raises ``ValueError`` (or ``RecursionError`` from the standard library, for JSON
nested thousands deep) on anything that is not JSON.
"""
