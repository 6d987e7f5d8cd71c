"""``RedisDedupe`` on a real Redis: the store's rules, and two receiver replicas sharing it."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp import web

from tel4vn_async.redis import RedisDedupe
from tel4vn_async.testing import FakeTel4vn
from tel4vn_async.webhooks import DEFAULT_PATH, CallEvent, Claim, Dedupe, webhook_app

pytestmark = pytest.mark.redis

KEY = "callback-key"


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def test_claim_done_release_and_their_keys(redis: aioredis.Redis, redis_url: str) -> None:
    mine, theirs = RedisDedupe(redis), RedisDedupe(redis_url)  # two replicas
    try:
        assert isinstance(mine, Dedupe)
        event = ("call-1", "hangup")
        key = mine.key(event)
        assert key == "tel4vn:webhook:hangup:call-1"
        assert await mine.claim(event) is Claim.NEW
        assert (await redis.get(key) or b"").startswith(b"busy:")
        assert 0 < await redis.pttl(key) <= 30_000  # busy_ttl
        assert await theirs.claim(event) is Claim.BUSY
        await theirs.release(event)  # not theirs: nothing happens
        assert await theirs.claim(event) is Claim.BUSY
        await mine.release(event)  # the handler failed: unseen again
        assert not await redis.exists(key)
        assert await theirs.claim(event) is Claim.NEW
        await theirs.done(event)
        assert await redis.get(key) == b"seen"
        assert 0 < await redis.pttl(key) <= 600_000  # ttl
        assert await mine.claim(event) is Claim.SEEN
        await mine.release(event)  # a late release cannot undo "seen"
        assert await redis.get(key) == b"seen"
        # The state is escaped: no two events share a key.
        assert mine.key(("a", "b:c")) != mine.key(("b:c", "a"))
        assert mine.key(("a:b", "c")) != mine.key(("a", "b:c"))
    finally:
        await theirs.aclose()


async def test_a_dead_replicas_hold_expires_and_wait_returns(redis: aioredis.Redis) -> None:
    dead, alive = RedisDedupe(redis, busy_ttl=0.1), RedisDedupe(redis, poll_interval=0.01)
    event = ("call-2", "cdr")
    assert await dead.claim(event) is Claim.NEW  # ...and its replica dies here
    assert await alive.claim(event) is Claim.BUSY
    await alive.wait(event, timeout=30.0)  # returns once the hold has expired
    assert await alive.claim(event) is Claim.NEW
    await alive.wait(event, timeout=0.0)  # held by itself: the timeout ends the wait
    await alive.done(event)
    await alive.wait(event, timeout=30.0)  # seen: at once
    assert "call-2" not in repr(alive)


class _Replica:
    """One receiver replica: a webhook app on its own port with its own Redis client."""

    def __init__(
        self, name: str, redis_url: str, handled: list[tuple[str, str, str]], failing: set[str]
    ) -> None:
        self.name = name
        self.handled = handled
        self.failing = failing  # call ids whose next run fails, on any replica
        self.dedupe = RedisDedupe(redis_url, poll_interval=0.01)
        self.runner = web.AppRunner(webhook_app(self.handle, api_key=KEY, dedupe=self.dedupe))
        self.url = ""

    async def handle(self, event: CallEvent) -> None:
        await asyncio.sleep(0.02)  # concurrent deliveries of an event overlap
        if event.call_id in self.failing:
            self.failing.discard(event.call_id)
            raise RuntimeError("the handler failed")
        self.handled.append((self.name, event.call_id, event.state_raw))

    async def start(self) -> None:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}{DEFAULT_PATH}"

    async def stop(self) -> None:
        await self.runner.cleanup()
        await self.dedupe.aclose()


@pytest.fixture
async def replicas(redis_url: str) -> AsyncIterator[tuple[list[Any], _Replica, _Replica]]:
    handled: list[tuple[str, str, str]] = []
    failing: set[str] = set()
    a, b = _Replica("a", redis_url, handled, failing), _Replica("b", redis_url, handled, failing)
    try:
        await a.start()
        await b.start()
        yield handled, a, b
    finally:
        await a.stop()
        await b.stop()


def _event(call_id: str, state: str) -> dict[str, Any]:
    return {"call_id": call_id, "state": state, "direction": "outbound", "to_number": "0899"}


async def test_two_replicas_handle_each_event_once_in_all(
    fake: FakeTel4vn, replicas: tuple[list[Any], _Replica, _Replica]
) -> None:
    handled, a, b = replicas
    events = [_event(f"call-{i}", s) for i in range(25) for s in ("ringing", "hangup", "cdr")]
    # Each event four times: to both replicas, twice each, all at once.
    deliveries = await asyncio.gather(
        *(fake.send_event(url, e, api_key=KEY) for e in events for url in (a.url, b.url) * 2)
    )
    assert [d.status for d in deliveries] == [200] * len(deliveries)
    # Later re-sends, one replica after the other, are duplicates too.
    for event in events[:10]:
        for url in (a.url, b.url):
            assert (await fake.send_event(url, event, api_key=KEY)).status == 200
    counts = collections.Counter((call_id, state) for _, call_id, state in handled)
    assert counts == {(e["call_id"], e["state"]): 1 for e in events}


async def test_a_failed_handlers_event_is_handled_on_re_send_by_either_replica(
    fake: FakeTel4vn, replicas: tuple[list[Any], _Replica, _Replica]
) -> None:
    handled, a, b = replicas
    event = _event("call-fail", "hangup")
    a.failing.add("call-fail")
    first = await fake.send_event(a.url, event, api_key=KEY)
    assert first.status == 500  # the PBX will re-send
    assert handled == []
    second = await fake.send_event(b.url, event, api_key=KEY)  # the re-send reaches b
    assert second.status == 200
    assert handled == [("b", "call-fail", "hangup")]
    assert (await fake.send_event(a.url, event, api_key=KEY)).status == 200  # seen now
    assert handled == [("b", "call-fail", "hangup")]


async def test_concurrent_deliveries_to_two_replicas_when_the_first_fails(
    fake: FakeTel4vn, replicas: tuple[list[Any], _Replica, _Replica]
) -> None:
    handled, a, b = replicas
    event = _event("call-race", "cdr")
    a.failing.add("call-race")  # whichever replica runs first fails; the other then runs
    results = await asyncio.gather(
        fake.send_event(a.url, event, api_key=KEY), fake.send_event(b.url, event, api_key=KEY)
    )
    assert sorted(d.status or 0 for d in results) == [200, 500]
    assert len(handled) == 1
