"""Client settings: from arguments or the environment, checked once at construction.

A bad setting is a ``ConfigurationError`` (a bad argument to a method is a
``ValidationError``): the client cannot be built at all.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator

from ._validate import check_int, check_number
from .errors import ConfigurationError, ValidationError

__all__ = ["base_url_setting", "key_setting", "retries_setting", "seconds_setting"]


def _setting(value: str | None, family: str, suffix: str) -> str | None:
    """An argument, else ``TEL4VN_<FAMILY>_<suffix>``, else ``TEL4VN_<generic>``."""
    if value is not None:
        return value
    generic = "BASE_URL" if suffix == "URL" else suffix
    return os.environ.get(f"TEL4VN_{family.upper()}_{suffix}") or os.environ.get(
        f"TEL4VN_{generic}"
    )


def base_url_setting(value: object, family: str) -> str:
    """The base URL: the argument, else ``TEL4VN_<FAMILY>_URL``, else ``TEL4VN_BASE_URL``."""
    url = _setting(value if isinstance(value, str) or value is None else "", family, "URL")
    if not url:
        names = f"TEL4VN_{family.upper()}_URL or TEL4VN_BASE_URL"
        if value is not None:
            raise ConfigurationError(f"base_url must be a non-empty string, got {value!r}")
        raise ConfigurationError(f"no base_url given and neither {names} is set")
    url = url.strip()
    if not url.startswith(("http://", "https://")) or len(url) <= len("https://"):
        raise ConfigurationError(f"base_url must start with http:// or https://: {url!r}")
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise ConfigurationError("base_url must not contain spaces or control characters")
    return url.rstrip("/")


def seconds_setting(value: object, name: str, *, allow_zero: bool) -> float:
    """A finite number of seconds, positive (or 0 or more with ``allow_zero``)."""
    with _as_configuration_error():
        return check_number(value, name, low=0, high=math.inf, low_exclusive=not allow_zero)


def retries_setting(value: object) -> int:
    """``max_retries``: a whole number from 0 to 100."""
    with _as_configuration_error():
        return check_int(value, "max_retries", low=0, high=100)


@contextlib.contextmanager
def _as_configuration_error() -> Iterator[None]:
    # The one number check, raised as what a bad setting is: the client cannot be built.
    try:
        yield
    except ValidationError as error:
        raise ConfigurationError(str(error)) from None


def key_setting(value: str | None, family: str) -> str | None:
    """The api_key argument, else ``TEL4VN_<FAMILY>_API_KEY``, else ``TEL4VN_API_KEY``."""
    return _setting(value, family, "API_KEY")
