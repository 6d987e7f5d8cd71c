"""Shared fixtures and helpers: the fake server (from the package's own pytest plugin),
clients, and a clock that moves on demand.

Leaks: pyproject turns ``ResourceWarning`` (aiohttp's "Unclosed client session",
"Unclosed connection") and the unraisable exceptions they become in ``__del__`` into
errors, so a session left open fails the run wherever the garbage collector finds it.
No fixture forces a collection after each test (it cost a third of the run); the tests
about dropped clients collect themselves, so their failures name them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from tel4vn_async import AutocallClient, CallCenterClient, RetryPolicy
from tel4vn_async.testing import FakeTel4vn

# Retries wait milliseconds in tests; the rules are the same as in production.
FAST_RETRY = RetryPolicy(backoff_base=0.005, backoff_max=0.02, max_retry_after=5.0)


@pytest.fixture
def fake(fake_tel4vn: FakeTel4vn, caplog: pytest.LogCaptureFixture) -> Iterator[FakeTel4vn]:
    """The fake server, started by the package's pytest plugin.

    After the test, fails it if aiohttp reported an unclosed session or connector to the
    event loop (what it does when ``ResourceWarning`` is not an error).
    """
    caplog.set_level(logging.ERROR, logger="asyncio")
    yield fake_tel4vn
    leaks = [r.getMessage() for r in caplog.records if "Unclosed" in r.getMessage()]
    assert leaks == []


class FakeClock:
    """Unix time that jumps ahead on demand: the real time plus every ``advance()``.

    Give it to ``client.session.clock`` (and ``FakeTel4vn(clock=...)``) to age tokens
    without waiting. It starts at the real time because a token fetched is stamped
    with the real time.
    """

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


class RecordedSleeps:
    """A retry sleep that returns at once and records each wait asked of it.

    Pass it as ``RetryPolicy(sleep=...)``: a test then asserts the waits the SDK chose
    (a ``Retry-After``, a backoff) instead of timing them.
    """

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(0)


ClientFactory = Callable[..., CallCenterClient]


@pytest.fixture
async def make_cc(fake: FakeTel4vn) -> AsyncIterator[ClientFactory]:
    """Build CallCenterClients against the fake; all are closed after the test."""
    made: list[CallCenterClient] = []

    def make(**kwargs: Any) -> CallCenterClient:
        kwargs.setdefault("api_key", fake.api_key)
        kwargs.setdefault("retry_policy", FAST_RETRY)
        client = CallCenterClient(fake.url, **kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.close()


@pytest.fixture
async def cc(make_cc: ClientFactory) -> CallCenterClient:
    return make_cc()


@pytest.fixture
async def pbx(fake: FakeTel4vn) -> AsyncIterator[AutocallClient]:
    async with AutocallClient(fake.url, api_key=fake.api_key, retry_policy=FAST_RETRY) as client:
        yield client


# --- a real redis-server (section 12) -----------------------------------------------------


@pytest.fixture(scope="session")
def redis_server() -> Iterator[Any]:
    """One real ``redis-server`` per test process (each xdist worker starts its own).

    Skips, loudly, when no ``redis-server`` can be had; under CI it fails instead.
    """
    import os
    import warnings

    from tests.redis_server import RedisServer, redis_server_binary

    binary = redis_server_binary()
    if binary is None:
        message = (
            "NO REDIS-SERVER: the Redis tests (section 12) did not run. Install Debian's "
            "redis-server package (.ci/run does) or set REDIS_SERVER to the binary."
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        warnings.warn(message, stacklevel=1)
        pytest.skip(message)
    server = RedisServer(binary)
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def redis_url(redis_server: Any) -> str:
    """The URL of a blank real Redis: flushed before each test."""
    redis_server.flush()
    url: str = redis_server.url
    return url
