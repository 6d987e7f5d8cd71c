"""The jobs of a bulk run, and what the runner sends for each: pure, nothing sent.

A job is built without checks, so that a bad row in a file of a million does not stop the
run that reads it: ``prepare`` checks it with the validators ``pbx.calls.otp`` and
``pbx.calls.tts`` use, and a ``ValidationError`` fails that job alone.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import attrs

from .._validate import check_text
from ..autocall.calls import otp_body, tts_body
from ..errors import ValidationError
from ..models.autocall import OtpTemplate, TtsTemplate

__all__ = ["OTP_PATH", "TTS_PATH", "Job", "OtpJob", "Prepared", "TtsJob", "given_key", "prepare"]

OTP_PATH = "/v1/autocall/otp"
TTS_PATH = "/v1/autocall/voice"
_MAX_KEY = 255


@attrs.frozen
class OtpJob:
    """One OTP call of a bulk run: ring ``callee`` and read ``code``.

    Arguments as for ``pbx.calls.otp``; they are checked when the run reaches the job.

    Attributes:
        key: what makes the job unique (at most 255 characters): a job whose key was
            already dialled, in this run or a journaled one, is never dialled again.
            By default it is derived from ``callee``, ``template`` and ``code``.
        data: anything to carry to the job's result (a CSV row, a user id); never sent.
    """

    callee: str
    code: str | int
    template: str | OtpTemplate
    caller: str
    campaign_id: int | str
    key: str | None = None
    callback_url: str | None = None
    callback_apikey: str | None = attrs.field(default=None, repr=False)
    queue: bool = False
    data: Any = attrs.field(default=None, eq=False)


@attrs.frozen
class TtsJob:
    """One text-to-speech call of a bulk run: ring ``callee`` and read ``template``
    filled with ``params``.

    Arguments as for ``pbx.calls.tts`` (one callee a job); checked when the run reaches it.

    Attributes:
        key: what makes the job unique (at most 255 characters); by default derived
            from ``callee``, ``template`` and ``params``.
        data: anything to carry to the job's result; never sent.
    """

    callee: str
    template: str | TtsTemplate
    params: Mapping[str, Any] | None
    """The template's keys, as for ``pbx.calls.tts``; None for a template without any."""
    caller: str
    campaign_id: int | str | None = None
    key: str | None = None
    callback_url: str | None = None
    callback_apikey: str | None = attrs.field(default=None, repr=False)
    queue: bool = False
    data: Any = attrs.field(default=None, eq=False)


Job = OtpJob | TtsJob


@attrs.frozen
class Prepared:
    """A checked job: its key, and the request that dials it."""

    key: str
    path: str
    body: dict[str, Any]

    @property
    def callee(self) -> str:
        callee: str = self.body["callee"]
        return callee

    @property
    def caller(self) -> str:
        caller: str = self.body["caller"]
        return caller

    @property
    def param(self) -> dict[str, Any]:
        """The template's name and keys, as sent (``template_name``, ``code_otp``, ...)."""
        param: dict[str, Any] = self.body["param"]
        return param


def prepare(job: object) -> Prepared:
    """Check ``job`` and build its request, exactly as ``pbx.calls`` would.

    Raises:
        ValidationError: not an ``OtpJob``/``TtsJob``, or a bad field (``field`` names it).
    """
    if isinstance(job, OtpJob):
        body = otp_body(
            campaign_id=job.campaign_id,
            caller=job.caller,
            callee=job.callee,
            template=job.template,
            code=job.code,
            callback_url=job.callback_url,
            callback_apikey=job.callback_apikey,
            queue=job.queue,
        )
        path = OTP_PATH
    elif isinstance(job, TtsJob):
        body = tts_body(
            caller=job.caller,
            template=job.template,
            callee=job.callee,
            params=job.params,
            campaign_id=job.campaign_id,
            callback_url=job.callback_url,
            callback_apikey=job.callback_apikey,
            queue=job.queue,
        )
        path = TTS_PATH
    else:
        raise ValidationError(
            f"a job must be an OtpJob or a TtsJob, got a {type(job).__name__}", field="job"
        )
    if job.key is None:
        key = derive_key(path, body)
    else:
        key = check_text(job.key, "key", max_length=_MAX_KEY)
    return Prepared(key=key, path=path, body=body)


def given_key(job: object) -> str | None:
    """The key a job's owner gave, when it is a valid one: kept on a job that fails its
    other checks, so its result can still be matched to its row."""
    key = getattr(job, "key", None)
    try:
        return None if key is None else check_text(key, "key", max_length=_MAX_KEY)
    except ValidationError:
        return None


def derive_key(path: str, body: Mapping[str, Any]) -> str:
    """A job's key from what makes it the same call to the same person: the kind of call,
    the callee, the template and its code or params (as sent, after the checks).

    Two jobs that ring one person with the same message have one key: the second is
    never dialled. The caller, campaign and callback are not part of it.
    """
    kind = "otp" if path == OTP_PATH else "tts"
    identity = [kind, body["callee"], body["param"]]
    text = json.dumps(identity, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return f"{kind}-{hashlib.blake2b(text.encode(), digest_size=16).hexdigest()}"
