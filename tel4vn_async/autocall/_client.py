"""``AutocallClient``: the autocall (PBX) API (OTP and text-to-speech calls, reports)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterable, Iterable
from functools import cached_property
from typing import TYPE_CHECKING, Any

from .._client import BaseClient
from .audio import Audio
from .calls import Calls
from .reports import Reports
from .templates import Templates

if TYPE_CHECKING:
    from ..bulk import BulkRunner, OnResult

__all__ = ["AutocallClient"]


class AutocallClient(BaseClient):
    """An asyncio client of the TEL4VN Autocall (PBX) API.

    ``async with AutocallClient("https://pbx.example.vn", api_key="...") as pbx: ...``

    The bearer token comes from ``POST /v1/auth/token`` (``data.access_token``,
    ``data.expire_at``) and is refreshed by ``pbx.session`` before it expires.

    Resources: ``templates`` (OTP and TTS templates), ``calls`` (OTP and TTS calls),
    ``audio`` (audio file uploads), ``reports`` (call reports).
    """

    _token_path = "/v1/auth/token"
    _family = "autocall"

    @cached_property
    def templates(self) -> Templates:
        """OTP and text-to-speech templates: ``create_otp``, ``create_tts``."""
        return Templates(self)

    @cached_property
    def calls(self) -> Calls:
        """OTP and text-to-speech calls: ``otp``, ``tts``."""
        return Calls(self)

    @cached_property
    def audio(self) -> Audio:
        """Audio file uploads: ``upload``."""
        return Audio(self)

    @cached_property
    def reports(self) -> Reports:
        """Call reports: ``list``, ``get``."""
        return Reports(self)

    def fan_out(
        self,
        jobs: Iterable[Any] | AsyncIterable[Any],
        *,
        concurrency: int = 20,
        rate: float | None = None,
        journal: str | os.PathLike[str] | None = None,
        progress: bool = False,
        on_result: OnResult | None = None,
        redial_unknown: bool = False,
        reconcile: bool = False,
        retry_failed: bool = False,
    ) -> BulkRunner:
        """Dial many OTP/TTS jobs, each at most once: ``async for result in
        pbx.fan_out(jobs)``, or ``summary = await pbx.fan_out(jobs).run()``.

        Every job gets exactly one ``JobResult``: OK (with its ``call_id``), FAILED (bad
        input or refused: ``error``), UNKNOWN (the call may have been placed; never dialled
        again unless ``redial_unknown``), or SKIPPED (a key seen before). Nothing is sent
        until the runner is iterated or run.

        Args:
            jobs: ``OtpJob``/``TtsJob`` objects, from any iterable or async iterable: pulled
                lazily, so memory grows with ``concurrency``, not with the jobs.
            concurrency: calls in flight at most (1 to 10,000).
            rate: calls started per second at most, smoothly (no one-second window
                above it); None for no cap. A 429 or 503 slows the whole run below it,
                a ``Retry-After`` pauses it, and the rate climbs back as calls succeed.
            journal: a JSON-lines file recording each call before it is sent and its
                result after. Running again with it skips the jobs done, retries those
                refused unprocessed (429, 503, no connection), and reports those sent
                without a result as UNKNOWN. It is refused when made for other jobs.
            progress: show a progress bar (the ``progress`` extra installs tqdm; without
                it, a log line every few seconds).
            on_result: called with each result (plain or async); its errors are logged.
            redial_unknown: dial again the jobs a journal shows as sent without a result.
            reconcile: settle UNKNOWN jobs from the call reports at the end of the run
                (a report to the callee, from the caller, with the template, within the
                run's time window): found means OK with its call id.
            retry_failed: dial again the jobs a journal shows as refused (a 400, a
                rejected call), e.g. after fixing a template.

        Raises:
            ValidationError: a bad argument, at once; a bad job fails alone, in its result.
        """
        from ..bulk import BulkRunner

        return BulkRunner(
            self,
            jobs,
            concurrency=concurrency,
            rate=rate,
            journal=journal,
            progress=progress,
            on_result=on_result,
            redial_unknown=redial_unknown,
            reconcile=reconcile,
            retry_failed=retry_failed,
        )
