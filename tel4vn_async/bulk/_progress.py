"""A bulk run's progress: a tqdm bar (the ``progress`` extra), else a log line every few
seconds, with the ok / failed / unknown counts, the rate and, when the total is known,
the time left."""

from __future__ import annotations

import logging
import time
from typing import Any

from ._results import JobStatus, Tally

__all__ = ["Progress"]

_log = logging.getLogger("tel4vn_async.bulk")
LOG_EVERY = 5.0
"""Seconds between progress log lines when tqdm is not installed."""


def _tqdm() -> Any:
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm


class Progress:
    """Shows a run's progress; ``initial`` jobs were already done by an earlier run."""

    def __init__(self, *, total: int | None, initial: int, tqdm: Any = None) -> None:
        self._total = total
        self._initial = initial
        self._started = time.monotonic()
        self._logged = self._started
        self._bar = None
        if tqdm is not None:
            self._bar = tqdm(
                total=total, initial=initial, unit="call", dynamic_ncols=True, smoothing=0.1
            )

    @classmethod
    def start(cls, *, total: int | None, initial: int) -> Progress:
        """A bar when tqdm is installed, else periodic log lines."""
        tqdm = _tqdm()
        if tqdm is None:
            _log.info("bulk run started (install tel4vn-async[progress] for a progress bar)")
        return cls(total=total, initial=initial, tqdm=tqdm)

    def update(self, tally: Tally, *, advance: bool) -> None:
        """Show ``tally``; ``advance`` when the result is new work (not a resumed skip)."""
        c = tally.counts
        if self._bar is not None:
            self._bar.set_postfix(
                ok=c[JobStatus.OK],
                failed=c[JobStatus.FAILED],
                unknown=c[JobStatus.UNKNOWN],
                refresh=False,
            )
            if advance:
                self._bar.update(1)
            return
        now = time.monotonic()
        if now - self._logged >= LOG_EVERY:
            self._logged = now
            _log.info("%s", self.line(tally, now))

    def line(self, tally: Tally, now: float) -> str:
        """The progress log line: counts, rate, and the time left when the total is known."""
        c = tally.counts
        elapsed = max(now - self._started, 1e-9)
        done = tally.total
        rate = (done - c[JobStatus.SKIPPED]) / elapsed
        text = (
            f"bulk run: {done} done (ok {c[JobStatus.OK]}, failed {c[JobStatus.FAILED]}, "
            f"unknown {c[JobStatus.UNKNOWN]}, skipped {c[JobStatus.SKIPPED]}), {rate:.1f}/s"
        )
        if self._total is not None and rate > 0:
            text += f", about {max(self._total - done, 0) / rate:.0f}s left"
        return text

    def close(self, tally: Tally) -> None:
        if self._bar is not None:
            self.update(tally, advance=False)
            self._bar.close()
        else:
            _log.info("%s", self.line(tally, time.monotonic()).replace("done", "done in all", 1))
