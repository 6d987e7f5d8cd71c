"""How the ledger stores jobs and results in Redis: compact JSON, read back typed.

A job's record (``job_record``) keeps its index, request and ``data``; a result's entry
(``entry_of``) its index, status, call id, error (class name, message, attributes) and
attempts. Both begin with their index (an entry then with its status), so that the
ledger's scripts can read those without a JSON parser. Reading them back rebuilds an
``OtpJob``/``TtsJob`` and the named ``Tel4vnError`` subclass (``decode_result``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs

from .. import errors as _errors
from ..bulk._jobs import OTP_PATH, OtpJob, Prepared, TtsJob
from ..bulk._results import JobResult, JobStatus
from ..errors import APIError, Tel4vnError, TransportError, ValidationError

__all__ = [
    "bad_job_record",
    "decode_result",
    "entry_of",
    "error_class",
    "error_dict",
    "error_of",
    "job_of",
    "job_record",
    "key_bytes",
    "text",
]


def text(value: bytes | str) -> str:
    """A Redis reply as text, whatever the client's ``decode_responses``."""
    return value.decode("utf-8", "surrogatepass") if isinstance(value, bytes) else value


def key_bytes(value: str) -> bytes:
    """A key as Redis bytes (a key may hold a lone surrogate, which JSON can carry and
    redis-py's strict encoding refuses)."""
    return value.encode("utf-8", "surrogatepass")


def _dumps(value: Any) -> str:
    # ASCII JSON: a lone surrogate becomes an escape, and the scripts' patterns can read
    # the leading fields of records and entries without a JSON parser.
    return json.dumps(value, separators=(",", ":"), default=str)


def job_record(index: int, prepared: Prepared, data: Any) -> str:
    """What the ledger keeps of an admitted job: its index, request and ``data``.

    The index comes first: the scripts read it without parsing the JSON.
    """
    record: dict[str, Any] = {"i": index, "p": prepared.path, "b": prepared.body}
    if data is not None:
        record["d"] = _safe(data)
    return _dumps(record)


def bad_job_record(index: int, job: object) -> dict[str, Any]:
    """What the ledger keeps of a job that failed its checks: its fields as given."""
    if isinstance(job, OtpJob | TtsJob):
        fields = {
            a.name: _safe(getattr(job, a.name))
            for a in attrs.fields(type(job))
            if a.name != "callback_apikey"
        }
        fields["kind"] = "otp" if isinstance(job, OtpJob) else "tts"
        return {"i": index, "x": fields}
    return {"i": index, "x": repr(job)[:1000]}


def _safe(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, Mapping):
        return {str(k): _safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_safe(v) for v in value]
    name = getattr(value, "name", None)  # a template model: its name is what is sent
    return name if isinstance(name, str) else str(value)


def job_of(record: Mapping[str, Any], key: str | None) -> Any:
    """The job a record was made from: an ``OtpJob``/``TtsJob`` (templates by name), or
    the text of something that was no job at all."""
    body = record.get("b")
    if isinstance(body, dict):
        param = dict(body.get("param") or {})
        common: dict[str, Any] = {
            "callee": body.get("callee"),
            "caller": body.get("caller"),
            "key": key,
            "callback_url": body.get("callback_url"),
            "callback_apikey": body.get("callback_apikey"),
            "queue": bool(body.get("queue", False)),
            "data": record.get("d"),
        }
        template = param.pop("template_name", None)
        if record.get("p") == OTP_PATH:
            code = param.get("code_otp", "")
            return OtpJob(
                code=code, template=template, campaign_id=body.get("campaign_id", ""), **common
            )
        params = param or None
        return TtsJob(
            template=template, params=params, campaign_id=body.get("campaign_id"), **common
        )
    fields = record.get("x")
    if isinstance(fields, dict):
        fields = dict(fields)
        cls = OtpJob if fields.pop("kind", None) == "otp" else TtsJob
        names = {a.name for a in attrs.fields(cls)}
        try:
            return cls(**{k: v for k, v in fields.items() if k in names})
        except TypeError:  # a field missing: keep what was stored
            return fields
    return fields


def error_dict(error: Tel4vnError) -> dict[str, Any]:
    """An error as stored: its class name, message and the attributes that rebuild it."""
    message = (
        error.message if isinstance(error, APIError) else (str(error.args[0]) if error.args else "")
    )
    stored: dict[str, Any] = {"t": type(error).__name__, "m": message}
    for name in ("status", "code", "method", "path", "retry_after", "field"):
        value = getattr(error, name, None)
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            stored[name] = value
    details = getattr(error, "details", None)
    if details:
        stored["details"] = _safe(details)
    return stored


def error_of(stored: Mapping[str, Any]) -> Tel4vnError:
    """The error a stored one was made from: its class where the SDK has it, with its
    message and attributes; else a ``Tel4vnError`` naming the class."""
    name, message = str(stored.get("t", "")), str(stored.get("m", ""))
    cls = getattr(_errors, name, None)
    if not (isinstance(cls, type) and issubclass(cls, Tel4vnError)):
        return Tel4vnError(f"{name}: {message}" if name else message)
    common = {k: stored.get(k) for k in ("method", "path", "retry_after")}
    if issubclass(cls, APIError):
        status = stored.get("status")
        details = stored.get("details")
        return cls(
            message, status=status if isinstance(status, int) else 0, code=stored.get("code"),
            details=details if isinstance(details, dict) else None, **common,
        )  # fmt: skip
    if issubclass(cls, TransportError):
        return cls(message, status=stored.get("status"), **common)
    if issubclass(cls, ValidationError):
        return cls(message, field=stored.get("field"))
    return cls(message)


def entry_of(
    result: JobResult, *, since: float | None = None, job: Any = None, worker: str | None = None
) -> str:
    """A result as stored; ``job`` (a record) only for a job never admitted under a key;
    ``since``: when its call went out; ``worker``: who recorded it.

    The index and status come first: the scripts read them without parsing the JSON.
    """
    entry: dict[str, Any] = {"i": result.index, "s": result.status.value, "k": result.key}
    if result.call_id is not None:
        entry["c"] = result.call_id
    if result.error is not None:
        entry["e"] = error_dict(result.error)
    if result.attempts:
        entry["a"] = result.attempts
    if result.reason is not None:
        entry["r"] = result.reason
    if since is not None:
        entry["t0"] = since
    if job is not None:
        entry["j"] = job
    if worker is not None:
        entry["w"] = worker
    return _dumps(entry)


def decode_result(entry: Mapping[str, Any], record: Mapping[str, Any] | None) -> JobResult:
    """The ``JobResult`` a stored entry (and its job's record, if any) describes."""
    key = entry.get("k")
    stored_job = entry.get("j", record)
    error = entry.get("e")
    return JobResult(
        job=job_of(stored_job, key) if isinstance(stored_job, Mapping) else None,
        index=int(entry.get("i", -1)),
        key=key,
        status=JobStatus(entry["s"]),
        call_id=entry.get("c"),
        error=error_of(error) if isinstance(error, Mapping) else None,
        attempts=int(entry.get("a", 0)),
        reason=entry.get("r"),
    )


def error_class(result: JobResult) -> str:
    """The error class a result counts under (none for SKIPPED)."""
    if result.error is None or result.status is JobStatus.SKIPPED:
        return ""
    return type(result.error).__name__
