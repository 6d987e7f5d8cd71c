"""What the commands share: the global settings, clients, records as plain values, the
progress bar, and the error a command raises to stop with a given exit code."""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO, cast

import attrs

from ..autocall import AutocallClient
from ..callcenter import CallCenterClient
from ..models._base import SECRET, Model

__all__ = [
    "EXIT_API",
    "EXIT_BULK",
    "EXIT_USAGE",
    "Bar",
    "CliError",
    "Settings",
    "cell",
    "columns",
    "on_terminal",
    "progress_bar",
    "record_dict",
]

EXIT_API = 1
"""An API or transport error (or a file that cannot be written)."""
EXIT_USAGE = 2
"""A usage error: a bad option or argument, caught before anything is sent."""
EXIT_BULK = 3
"""A bulk run in which some jobs failed or are unknown."""


class CliError(Exception):
    """Stop the command with one line on stderr and ``exit_code``."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@attrs.define
class Settings:
    """The global options, filled in by the group before any command runs.

    ``base_url`` and ``api_key`` stay None when not given: each client then reads its
    family's environment variables itself (``TEL4VN_CALLCENTER_URL``, ...,
    ``TEL4VN_BASE_URL``), so one generic option never shadows a per-family variable.
    """

    base_url: str | None = None
    api_key: str | None = attrs.field(default=None, repr=False)
    timeout: float | None = None
    max_retries: int | None = None
    debug: bool = False

    def _options(self) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if self.timeout is not None:
            options["timeout"] = self.timeout
        if self.max_retries is not None:
            options["max_retries"] = self.max_retries
        return options

    def callcenter(self) -> CallCenterClient:
        """A Call Center client (nothing is sent until it is used).

        Raises:
            ConfigurationError: no base URL or api_key given or in the environment.
        """
        return CallCenterClient(self.base_url, api_key=self.api_key, **self._options())

    def autocall(self) -> AutocallClient:
        """An Autocall client (nothing is sent until it is used).

        Raises:
            ConfigurationError: no base URL or api_key given or in the environment.
        """
        return AutocallClient(self.base_url, api_key=self.api_key, **self._options())


def columns(model: type[Model], *, raw: bool = False) -> list[str]:
    """The export columns of ``model``: its fields, in order, as ``to_dict()`` gives them
    (secrets never; ``raw``, the record as received, only when asked for)."""
    return [
        field.name
        for field in attrs.fields(cast("type[attrs.AttrsInstance]", model))
        if not field.metadata.get(SECRET) and (raw or field.name != "raw")
    ]


def record_dict(model: Model, *, raw: bool = False) -> dict[str, Any]:
    """A model as plain JSON-safe values (secrets left out, ``raw`` only when asked)."""
    return model.to_dict(include_raw=raw)


def cell(value: Any) -> str:
    """One CSV cell: text as is, nothing for None, anything else (numbers, booleans,
    lists, objects) as JSON, so that a reader can tell ``true`` from ``"true"``."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def on_terminal(stream: TextIO | None = None) -> bool:
    """Whether ``stream`` (stderr by default, where bars go) is a terminal."""
    stream = sys.stderr if stream is None else stream
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream: not a terminal
        return False


class Bar:
    """A tqdm progress bar on stderr when stderr is a terminal and tqdm is installed,
    else nothing at all: piped output stays plain."""

    def __init__(self, *, total: int | None, initial: int, unit: str, desc: str) -> None:
        self._bar: Any = None
        if not on_terminal():
            return
        try:
            from tqdm import tqdm
        except ImportError:  # the progress extra is optional: no bar, nothing breaks
            return
        self._bar = tqdm(total=total, initial=initial, unit=unit, desc=desc, file=sys.stderr)

    def set_total(self, total: int | None) -> None:
        """Set the total once the first page says it."""
        if self._bar is not None and total is not None and self._bar.total != total:
            self._bar.total = total
            self._bar.refresh()

    def update(self, n: int) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def progress_bar(*, total: int | None = None, initial: int = 0, unit: str, desc: str) -> Bar:
    """A ``Bar`` (see there: a bar on a terminal only)."""
    return Bar(total=total, initial=initial, unit=unit, desc=desc)
