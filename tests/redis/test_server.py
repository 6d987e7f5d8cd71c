"""The test infrastructure itself: a real redis-server answers."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

pytestmark = pytest.mark.redis


async def test_a_real_redis_server_answers_and_starts_blank(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    try:
        assert await client.dbsize() == 0
        assert await client.set("probe", "1", nx=True)
        assert not await client.set("probe", "2", nx=True)
        info = await client.info("server")
        assert str(info["redis_version"]).startswith(("6.", "7.", "8."))
    finally:
        await client.aclose()
