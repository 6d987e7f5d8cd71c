"""Beyond one process (the ``redis`` extra): shared tokens and webhook de-duplication
(distributed fan-out lands next).

Needs ``pip install 'tel4vn_async[redis]'`` (redis-py's asyncio client and arq).
"""

from __future__ import annotations

try:
    # The extra's presence, checked once, here: redis-py and the arq job engine.
    import arq  # noqa: F401
    import redis.asyncio  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise ImportError(
        "tel4vn_async.redis needs the redis extra: pip install 'tel4vn_async[redis]'"
    ) from exc

from tel4vn_async.redis._connect import connect, masked
from tel4vn_async.redis._dedupe import RedisDedupe
from tel4vn_async.redis._tokens import RedisTokenStore

__all__ = [
    "RedisDedupe",
    "RedisTokenStore",
    "connect",
    "masked",
]
