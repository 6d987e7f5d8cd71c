"""The enum base: string values, case-insensitive lookup, ``UNKNOWN`` for new values."""

from __future__ import annotations

import enum
from typing import Any

__all__ = ["ApiEnum"]


class ApiEnum(str, enum.Enum):
    """A string enum of API values. A value the SDK does not know yet becomes ``UNKNOWN``
    (when the enum has one) instead of failing; the model's ``raw`` keeps the original.
    """

    def __str__(self) -> str:
        return str(self.value)

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if isinstance(value, str):
            wanted = value.strip().lower()
            for member in cls:
                if member.value.lower() == wanted or member.name.lower() == wanted:
                    return member
        return cls.__members__.get("UNKNOWN")
