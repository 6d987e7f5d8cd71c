"""Shared fixtures: the fake server (from the package's own pytest plugin) and clients."""

from __future__ import annotations

import gc
import logging
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

    After the test, fails it if aiohttp reported an unclosed session or connector.
    """
    caplog.set_level(logging.ERROR, logger="asyncio")
    yield fake_tel4vn
    gc.collect()
    leaks = [r.getMessage() for r in caplog.records if "Unclosed" in r.getMessage()]
    assert leaks == []


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
