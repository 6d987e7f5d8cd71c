"""The fake's rate limit: a token bucket per path, pure arithmetic on a clock reading.

``FakeTel4vn.limit_rate`` installs one; its middleware asks every bucket that applies
to a request how long until a token (``wait``) and takes one from each (``take``) only
when none makes it wait, so a request refused by one bucket costs no other bucket a token.
"""

from __future__ import annotations

import attrs

__all__ = ["TokenBucket"]

# Refills are float sums: a token earned exactly on time may read 0.9999999999.
_EPSILON = 1e-9


@attrs.define
class TokenBucket:
    """``burst`` tokens at most, refilled at ``per_second``; a request takes one.

    Attributes:
        per_second: tokens added per second (the sustained rate admitted).
        burst: the most tokens held (the requests admitted at once after a quiet spell).
        retry_after: whether a refused request is told when to come back.
        tokens: the tokens held at ``updated``; starts full.
        updated: the clock reading ``tokens`` was computed at; None until first used.
    """

    per_second: float
    burst: int
    retry_after: bool = True
    tokens: float = attrs.field(default=attrs.Factory(lambda self: float(self.burst), True))
    updated: float | None = None

    def refill(self, now: float) -> None:
        """Add the tokens earned since the last reading, up to ``burst``."""
        if self.updated is not None and now > self.updated:
            earned = (now - self.updated) * self.per_second
            self.tokens = min(float(self.burst), self.tokens + earned)
        # A clock that stepped back (a test's) earns nothing rather than a negative refill.
        if self.updated is None or now > self.updated:
            self.updated = now

    def wait(self, now: float) -> float:
        """Seconds until a token is free at ``now``; 0.0 when one is free already."""
        self.refill(now)
        if self.tokens >= 1.0 - _EPSILON:
            return 0.0
        return (1.0 - self.tokens) / self.per_second

    def take(self) -> None:
        """Spend a token (after ``wait`` answered 0.0)."""
        self.tokens -= 1.0
