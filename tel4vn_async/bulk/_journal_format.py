"""The journal's lines, pure: encoding, decoding, and the replay fold.

A journal is JSON lines, one object each, compact, fields in a fixed order::

    {"format":"tel4vn_async.journal","version":1,"fingerprint":"9f2c…","head":100,
     "created":"2026-12-03T15:31:05.002Z","sdk":"0.1.0"}          (one line in the file)
    {"event":"started","key":"otp-1","callee":"0987654321","at":"2026-12-03T15:31:06.123Z"}
    {"event":"finished","key":"otp-1","status":"ok","call_id":"c-81","at":"…","started_at":"…"}
    {"event":"finished","key":"otp-2","status":"failed","error":"RateLimitError: slow down",
     "retryable":true,"at":"…","started_at":"…"}

Times are UTC with milliseconds. A finished line carries its started line's time, so
each line alone says what state its key is in (``entry_of``): replay is a plain "last
line of a key wins", with no earlier state to look up.

No I/O here: ``scan`` reads any iterable of lines, ``read_lines`` streams a file's.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any, TypeAlias

import attrs

from .._codec import dumps, loads
from .._version import __version__
from ..errors import JournalError
from ._ledger import Entry

__all__ = [
    "FORMAT",
    "HEADER_MAX",
    "RESULTS",
    "VERSION",
    "Finished",
    "Header",
    "Line",
    "Scan",
    "Started",
]
__all__ += ["decode", "encode", "entry_of", "read_lines", "scan"]

FORMAT = "tel4vn_async.journal"
VERSION = 1
# How every header line begins (its keys are written in this order): a torn first line
# is tolerated only when it could be the start of one, so no other file is ever cut.
_MARKER = b'{"format":"tel4vn_async.journal"'
HEADER_MAX = 1 << 16
"""The longest header line read: a file that is no journal may have no newline for gigabytes."""
RESULTS = frozenset({"ok", "failed", "unknown"})


@attrs.frozen
class Header:
    """The journal's first line: which jobs it is for, and who wrote it."""

    fingerprint: str
    """The job source's fingerprint, computed by the runner from the first jobs' keys."""
    head: int
    """How many leading jobs the fingerprint covers."""
    created: float
    """Unix time the journal was started."""
    sdk: str = __version__
    """The tel4vn_async version that wrote it."""


@attrs.frozen
class Started:
    """A job is about to be dialled."""

    key: str
    """The job's key."""
    callee: str
    """The number it rings: for a person reading the journal."""
    at: float
    """Unix time the line was written."""


@attrs.frozen
class Finished:
    """A dialled job's result is known."""

    key: str
    """The job's key."""
    status: str
    """``"ok"``, ``"failed"`` or ``"unknown"``."""
    call_id: str | None = None
    """The placed call's id."""
    error: str | None = None
    """``"ErrorClass: message"``, already scrubbed of secrets."""
    retryable: bool = False
    """The call provably never reached the server."""
    at: float = 0.0
    """Unix time the line was written."""
    started_at: float | None = None
    """When this run's started line for the key was written (None: not in this run)."""


Line: TypeAlias = Header | Started | Finished


class _NewerFormat(ValueError):
    """A header of a journal format this version cannot read."""


def _iso(unix: float) -> str:
    """``2026-12-03T15:31:06.123Z``: UTC, milliseconds."""
    seconds, ms = divmod(round(unix * 1000), 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{ms:03d}Z"


def _unix(iso: object) -> float:
    if not (isinstance(iso, str) and len(iso) == 24 and iso[-1] == "Z"):
        raise ValueError(f"not a UTC time with milliseconds: {iso!r}")
    try:
        # Python 3.10's fromisoformat does not read "Z".
        return datetime.datetime.fromisoformat(iso[:-1] + "+00:00").timestamp()
    except (ValueError, OverflowError) as err:
        raise ValueError(f"not a UTC time: {iso!r}") from err


def encode(line: Line) -> bytes:
    """One journal line, newline included: compact JSON, UTF-8, fields in a fixed order."""
    fields: dict[str, Any]
    if isinstance(line, Started):
        fields = {"event": "started", "key": line.key, "callee": line.callee}
        fields["at"] = _iso(line.at)
    elif isinstance(line, Finished):
        fields = {"event": "finished", "key": line.key, "status": line.status}
        if line.call_id is not None:
            fields["call_id"] = line.call_id
        if line.error is not None:
            fields["error"] = line.error
        if line.retryable or line.status == "failed":
            fields["retryable"] = line.retryable
        fields["at"] = _iso(line.at)
        if line.started_at is not None:
            fields["started_at"] = _iso(line.started_at)
    else:
        fields = {"format": FORMAT, "version": VERSION, "fingerprint": line.fingerprint}
        fields.update(head=line.head, created=_iso(line.created), sdk=line.sdk)
    # A lone surrogate cannot be UTF-8: as "\udc80" it is still a valid JSON escape.
    return (dumps(fields) + "\n").encode("utf-8", "backslashreplace")


def _get(fields: dict[str, Any], name: str, kind: type, *, optional: bool = False) -> Any:
    value = fields.get(name)
    if value is None and optional:
        return None
    if type(value) is not kind:  # not isinstance: True is no int here
        raise ValueError(f"field {name!r} is not a {kind.__name__}: {value!r}")
    return value


def decode(raw: bytes) -> Line:
    """Read one journal line (its newline optional).

    Raises:
        ValueError: the line is not a journal line (``_NewerFormat`` for a header from a
            newer version).
    """
    try:
        fields = loads(raw)
    except (ValueError, RecursionError) as err:
        raise ValueError(f"not JSON ({err})") from None
    if not isinstance(fields, dict):
        raise ValueError("not a JSON object")
    event = fields.get("event")
    if event == "started":
        key, callee = _get(fields, "key", str), _get(fields, "callee", str)
        return Started(key, callee, _unix(fields.get("at")))
    if event == "finished":
        status = _get(fields, "status", str)
        if status not in RESULTS:
            raise ValueError(f"unknown status {status!r}")
        started_at = fields.get("started_at")
        return Finished(
            _get(fields, "key", str),
            status,
            _get(fields, "call_id", str, optional=True),
            _get(fields, "error", str, optional=True),
            bool(_get(fields, "retryable", bool, optional=True)),
            _unix(fields.get("at")),
            None if started_at is None else _unix(started_at),
        )
    if fields.get("format") == FORMAT:
        version = fields.get("version")
        if type(version) is int and version > VERSION:
            raise _NewerFormat(f"journal format {version}; this tel4vn_async reads {VERSION}")
        if version != VERSION:
            raise ValueError(f"unknown journal format {version!r}")
        head = _get(fields, "head", int)
        if head < 0:
            raise ValueError(f"negative head {head}")
        created = _unix(fields.get("created"))
        return Header(_get(fields, "fingerprint", str), head, created, _get(fields, "sdk", str))
    raise ValueError(f"unknown event {event!r}")


def entry_of(line: Started | Finished) -> Entry:
    """The state one journal line leaves its key in (the last line of a key wins)."""
    if isinstance(line, Started):
        return Entry(line.key, "started", at=line.at)
    at = line.at if line.started_at is None else line.started_at
    return Entry(line.key, line.status, line.call_id, line.error, line.retryable, at)


@attrs.frozen
class Scan:
    """What reading a journal found."""

    header: Header | None
    """None: the file was empty, or held only a torn header (a new journal)."""
    end: int
    """Bytes of whole, valid lines: a torn last line starts here and is cut."""
    lines: int
    """How many whole lines, the header included."""


def _could_be_header(raw: bytes) -> bool:
    # A crash may leave zeros where the data never reached the disk.
    text = raw.split(b"\x00", 1)[0]
    return _MARKER.startswith(text) or text.startswith(_MARKER)


def _read_header(raw: bytes, *, last: bool, name: str) -> Header | None:
    try:
        line = decode(raw) if raw.endswith(b"\n") else None
    except _NewerFormat as err:
        raise JournalError(f"journal {name} was written by a newer tel4vn_async ({err})") from None
    except ValueError:
        line = None
    if isinstance(line, Header):
        return line
    if last and _could_be_header(raw):
        return None  # torn while the journal was being created
    raise JournalError(f"{name} is not a tel4vn_async journal (line 1 is not its header)")


def scan(lines: Iterable[bytes], record: Callable[[Entry], None], *, name: str) -> Scan:
    """Replay journal lines, streaming: ``record`` gets each line's ``Entry``, in order.

    ``lines`` are the file's lines as binary file iteration gives them (newlines kept).
    A torn last line (no newline, or not a journal line) is ignored.

    Raises:
        JournalError: the first line is not a journal header, the journal is of a newer
            format, or a line before the last is damaged (the message names it).
    """
    lines = iter(lines)
    raw = next(lines, None)
    if raw is None:
        return Scan(None, 0, 0)
    after = next(lines, None)
    header = _read_header(raw, last=after is None, name=name)
    if header is None:
        return Scan(None, 0, 0)
    end, number = len(raw), 1
    while after is not None:
        raw, after = after, next(lines, None)
        number += 1
        try:
            if not raw.endswith(b"\n"):
                raise ValueError("no newline")
            line = decode(raw)
            if isinstance(line, Header):
                raise ValueError("a second header")
        except ValueError as err:
            if after is None:
                return Scan(header, end, number - 1)  # torn: cut, never replayed
            raise JournalError(
                f"journal {name} is damaged at line {number} ({err}): it cannot be resumed"
                " safely; repair that line, or use a new journal"
            ) from None
        record(entry_of(line))
        end += len(raw)
    return Scan(header, end, number)


def _never() -> bool:
    return False


def read_lines(file: IO[bytes], stop: Callable[[], bool] = _never) -> Iterator[bytes]:
    """The lines of a binary file, streamed (the first one at most ``HEADER_MAX`` long);
    ends early once ``stop()`` is true."""
    yield file.readline(HEADER_MAX)
    for count, raw in enumerate(file):
        if count % 1024 == 0 and stop():
            return
        yield raw
