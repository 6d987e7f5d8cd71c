"""``RedisTokenStore`` on a real Redis: storage, the lock, 401s, failures (section 12).

Several "processes" are simulated here by clients with their own Redis connections and
stores; tests/redis/test_tokens_fleet.py runs real ones.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta, timezone

import pytest
import redis.asyncio as aioredis

from tel4vn_async import (
    AuthenticationError,
    AutocallClient,
    SharedTokenStore,
    StoreError,
    Token,
    ValidationError,
)
from tel4vn_async.redis import RedisTokenStore, connect, masked
from tel4vn_async.testing import FakeTel4vn
from tests.conftest import FAST_RETRY

pytestmark = pytest.mark.redis

NOW = datetime.now(timezone.utc)


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


def _token(value: str, *, lifetime: float | None = 3600.0) -> Token:
    now = datetime.now(timezone.utc)
    expires = None if lifetime is None else now + timedelta(seconds=lifetime)
    return Token(value, expires_at=expires, issued_at=now)


def _always(token: Token) -> bool:
    return True


async def test_a_token_round_trips_with_its_expiry_as_a_redis_ttl(
    redis: aioredis.Redis, redis_url: str
) -> None:
    store = RedisTokenStore(redis, "acme")
    assert isinstance(store, SharedTokenStore)
    assert await store.load() is None
    token = _token("tok-1", lifetime=120)
    await store.save(token)
    loaded = await store.load()
    assert loaded == token
    assert store.key == "tel4vn:token:{acme}"
    assert json.loads(await redis.get(store.key)) == token.to_dict()
    assert 0 < await redis.pttl(store.key) <= 120_000
    await store.save(_token("tok-2", lifetime=None))  # no expiry: no TTL
    assert await redis.pttl(store.key) == -1
    # A token whose expiry passed already (clock skew) is kept, without a TTL, for the fleet.
    skewed = Token("tok-3", expires_at=NOW - timedelta(hours=1), issued_at=NOW)
    await store.save(skewed)
    assert await store.load() == skewed
    assert await redis.pttl(store.key) == -1
    assert "tok-" not in repr(store)
    assert "tok-" not in repr(loaded)


async def test_an_unreadable_stored_token_is_ignored_and_replaced(
    redis: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    store = RedisTokenStore(redis, "acme")
    await redis.set(store.key, '{"access_token": "secret value with spaces"}')
    assert await store.load() is None
    assert "secret" not in caplog.text
    assert "unreadable token" in caplog.text
    token = await store.obtain(_fetcher(["fresh"]), _always)
    assert token.access_token == "fresh"
    assert await store.load() == token


def _fetcher(values: list[str], calls: list[str] | None = None) -> Callable[[], Awaitable[Token]]:
    async def fetch() -> Token:
        value = values.pop(0)
        if calls is not None:
            calls.append(value)
        return _token(value)

    return fetch


async def test_a_usable_stored_token_is_used_and_a_refused_one_replaced(
    redis: aioredis.Redis,
) -> None:
    store = RedisTokenStore(redis, "acme")
    await store.save(_token("old"))
    calls: list[str] = []
    assert (await store.obtain(_fetcher(["new"], calls), _always)).access_token == "old"
    assert calls == []
    token = await store.obtain(_fetcher(["new"], calls), lambda t: t.access_token != "old")
    assert token.access_token == "new"
    assert calls == ["new"]
    assert (await store.load()) == token
    assert not await redis.exists(store.lock_key)  # let go of after the fetch


async def test_the_lock_is_released_only_by_its_owner(redis: aioredis.Redis) -> None:
    # A fetch outlives its lock; another process takes the lock; the first one's release
    # must leave the newcomer's lock in place (compare-and-delete).
    store = RedisTokenStore(redis, "acme", lock_timeout=0.05)

    async def slow_fetch() -> Token:
        for _ in range(500):  # until the lock expired under this slow fetch
            if not await redis.exists(store.lock_key):
                break
            await asyncio.sleep(0.01)
        assert await redis.set(store.lock_key, "someone-else", nx=True, px=60_000)
        return _token("slow")

    assert (await store.obtain(slow_fetch, _always)).access_token == "slow"
    assert await redis.get(store.lock_key) == b"someone-else"


async def test_a_failed_fetch_releases_the_lock_and_raises(redis: aioredis.Redis) -> None:
    store = RedisTokenStore(redis, "acme")

    async def failing() -> Token:
        assert await redis.exists(store.lock_key)  # held while fetching
        raise RuntimeError("the token endpoint is down")

    with pytest.raises(RuntimeError, match="down"):
        await store.obtain(failing, _always)
    assert not await redis.exists(store.lock_key)
    assert (await store.obtain(_fetcher(["next"]), _always)).access_token == "next"


async def test_waiters_take_the_holders_token_and_fetch_none(redis_url: str) -> None:
    clients = [aioredis.Redis.from_url(redis_url) for _ in range(5)]
    stores = [RedisTokenStore(c, "acme", poll_interval=0.01) for c in clients]
    try:
        release, fetching = asyncio.Event(), asyncio.Event()
        calls: list[str] = []

        async def gated() -> Token:
            calls.append("holder")
            fetching.set()
            await release.wait()
            return _token("shared")

        holder = asyncio.ensure_future(stores[0].obtain(gated, _always))
        await fetching.wait()
        waiters = [
            asyncio.ensure_future(s.obtain(_fetcher(["own"], calls), _always)) for s in stores[1:]
        ]
        await asyncio.sleep(0.05)
        assert not any(w.done() for w in waiters)  # they wait on the holder's lock
        release.set()
        tokens = await asyncio.gather(holder, *waiters)
        assert {t.access_token for t in tokens} == {"shared"}
        assert calls == ["holder"]
    finally:
        for client in clients:
            await client.aclose()


async def test_a_dead_holders_lock_expires_and_one_waiter_fetches(redis_url: str) -> None:
    clients = [aioredis.Redis.from_url(redis_url) for _ in range(4)]
    stores = [RedisTokenStore(c, "acme", lock_timeout=0.2, poll_interval=0.01) for c in clients]
    try:
        # A holder that died: its lock stays until it expires; nobody will release it.
        await clients[0].set(stores[0].lock_key, "dead-process", px=200)
        calls: list[str] = []
        tokens = await asyncio.gather(
            *(s.obtain(_fetcher([f"t{i}"], calls), _always) for i, s in enumerate(stores))
        )
        assert len(calls) == 1
        assert {t.access_token for t in tokens} == set(calls)
    finally:
        for client in clients:
            await client.aclose()


@pytest.fixture
async def pair(
    fake: FakeTel4vn, redis_url: str
) -> AsyncIterator[tuple[AutocallClient, AutocallClient]]:
    """Two clients as two processes would have them: each with its own Redis store."""
    stores = [RedisTokenStore.from_url(redis_url, "acme") for _ in range(2)]
    clients = [
        AutocallClient(fake.url, api_key=fake.api_key, retry_policy=FAST_RETRY, token_store=s)
        for s in stores
    ]
    try:
        yield clients[0], clients[1]
    finally:
        for client in clients:
            await client.close()
        for store in stores:
            await store.aclose()


async def _report(client: AutocallClient) -> None:
    await client.request("GET", "/v1/report", params={"limit": 1})


async def test_the_second_process_uses_the_first_ones_token(
    fake: FakeTel4vn, pair: tuple[AutocallClient, AutocallClient]
) -> None:
    a, b = pair
    await asyncio.gather(*(_report(a) for _ in range(50)), *(_report(b) for _ in range(50)))
    assert fake.token_requests == 1
    assert a.session.refresh_count + b.session.refresh_count == 1
    assert a.session.current == b.session.current


async def test_a_401_invalidates_the_token_used_and_keeps_a_newer_one(
    fake: FakeTel4vn, pair: tuple[AutocallClient, AutocallClient], redis_url: str
) -> None:
    a, b = pair
    await _report(a)
    await _report(b)
    old = a.session.current
    assert old is not None
    assert b.session.current == old
    fake.revoke_tokens()
    await _report(a)  # 401: a discards the old token, fetches a new one, stores it
    new = a.session.current
    assert new is not None
    assert new != old
    assert fake.token_requests == 2
    await _report(b)  # 401 with the old token: b finds the newer one in Redis, fetches none
    assert fake.token_requests == 2
    assert b.session.current == new
    assert b.session.refresh_count == 0
    async with RedisTokenStore.from_url(redis_url, "acme") as store:
        assert await store.load() == new


async def test_a_refused_token_is_deleted_for_the_fleet(
    fake: FakeTel4vn, pair: tuple[AutocallClient, AutocallClient], redis_url: str
) -> None:
    a, b = pair
    await _report(a)
    fake.revoke_tokens()
    fake.inject("/v1/auth/token", status=401, times=1)  # the refresh after the 401 fails
    with pytest.raises(AuthenticationError):
        await _report(a)
    async with RedisTokenStore.from_url(redis_url, "acme") as store:
        assert await store.load() is None  # a process starting now does not load it
        assert not await store.redis.exists(store.lock_key)
    await _report(b)  # the next one fetches afresh
    assert fake.token_requests == 3


def test_masked_hides_a_redis_password() -> None:
    assert masked("redis://:s3cret@host:6379/0") == "redis://:***@host:6379/0"
    assert masked("rediss://user:p@ss@host/1") == "rediss://user:***@host/1"
    assert masked("redis://host/0?password=s3cret&db=1") == "redis://host/0?password=***&db=1"
    assert masked("redis://host:6379/0") == "redis://host:6379/0"
    assert masked("unix:///run/redis.sock") == "unix:///run/redis.sock"


async def test_connect_takes_a_url_or_a_client_and_never_echoes_a_password(
    redis: aioredis.Redis, redis_url: str
) -> None:
    assert connect(redis) is redis
    made = connect(redis_url)
    try:
        assert await made.ping()
    finally:
        await made.aclose()
    with pytest.raises(ValidationError, match="must be a Redis URL") as info:
        connect("http://:s3cret@host/0")
    assert "s3cret" not in str(info.value)
    assert info.value.field == "redis"
    with pytest.raises(ValidationError, match="name") as named:
        RedisTokenStore(redis, "")
    assert named.value.field == "name"
    with pytest.raises(ValidationError, match="lock_timeout"):
        RedisTokenStore(redis, "acme", lock_timeout=0)
    with pytest.raises(ValidationError, match="name"):
        RedisTokenStore(redis, "a{b}")  # a brace would end the key's hash tag


def test_importing_the_sdk_imports_no_redis_and_the_extra_is_named_when_missing() -> None:
    code = (
        "import sys, tel4vn_async\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in ('redis', 'arq')], 'eager'\n"
        "sys.modules['redis'] = None\n"
        "try:\n"
        "    import tel4vn_async.redis\n"
        "except ImportError as error:\n"
        "    print(error)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert "pip install 'tel4vn_async[redis]'" in out.stdout


async def test_a_redis_outage_reaches_the_caller_as_a_store_error() -> None:
    """No Redis: ``session.token()`` raises the SDK's typed ``StoreError`` (never redis-py's
    own exception), and no token request is sent."""
    # A port nobody listens on.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store = RedisTokenStore(f"redis://:hunter2hunter2@127.0.0.1:{port}/0", "outage")
    async with (
        FakeTel4vn() as fake,
        AutocallClient(fake.url, api_key=fake.api_key, token_store=store, max_retries=0) as client,
    ):
        with pytest.raises(StoreError) as caught:
            await client.session.token()
        assert "hunter2hunter2" not in str(caught.value)
        assert "ConnectionError" in str(caught.value)
        assert [r for r in fake.requests if "auth" in r.path] == []
    await store.aclose()
