"""``MemoryDedupe``: claims, bounds in entries and time."""

from __future__ import annotations

import asyncio

import pytest

from tel4vn_async.webhooks import Claim, Dedupe, MemoryDedupe


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_a_key_goes_from_new_to_busy_to_seen() -> None:
    store = MemoryDedupe()
    key = ("c1", "hangup")

    assert isinstance(store, Dedupe)
    assert await store.claim(key) is Claim.NEW
    assert await store.claim(key) is Claim.BUSY
    await store.done(key)
    assert await store.claim(key) is Claim.SEEN
    assert len(store) == 1


async def test_a_released_key_stays_unseen() -> None:
    store = MemoryDedupe()
    key = ("c1", "hangup")
    await store.claim(key)

    await store.release(key)

    assert await store.claim(key) is Claim.NEW
    assert len(store) == 0


async def test_wait_returns_once_the_holder_lets_go() -> None:
    store = MemoryDedupe()
    key = ("c1", "cdr")
    await store.claim(key)
    waiter = asyncio.ensure_future(store.wait(key, timeout=30))
    await asyncio.sleep(0)
    assert not waiter.done()

    await store.done(key)

    await waiter
    await store.wait(key, timeout=30)  # nobody holds it: returns at once


async def test_seen_keys_expire_after_the_ttl() -> None:
    clock = Clock()
    store = MemoryDedupe(ttl=600, clock=clock)
    for key in (("a", "cdr"), ("b", "cdr")):
        await store.claim(key)
        await store.done(key)
        clock.now += 300

    assert await store.claim(("b", "cdr")) is Claim.SEEN
    assert await store.claim(("a", "cdr")) is Claim.NEW  # 600 s old: forgotten
    assert len(store) == 1


async def test_the_oldest_seen_keys_go_past_max_entries() -> None:
    store = MemoryDedupe(max_entries=3)
    for n in range(5):
        key = (f"c{n}", "hangup")
        await store.claim(key)
        await store.done(key)

    assert len(store) == 3
    assert await store.claim(("c0", "hangup")) is Claim.NEW
    assert await store.claim(("c4", "hangup")) is Claim.SEEN


def test_bounds_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        MemoryDedupe(max_entries=0)
