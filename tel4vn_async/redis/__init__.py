"""Beyond one process (the ``redis`` extra): shared tokens, distributed fan-out, webhook
de-duplication.

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
from tel4vn_async.redis._run import Run, RunStatus, run_status, submit
from tel4vn_async.redis._tokens import RedisTokenStore
from tel4vn_async.redis._worker import run_worker

__all__ = [
    "RedisDedupe",
    "RedisTokenStore",
    "Run",
    "RunStatus",
    "connect",
    "masked",
    "run_status",
    "run_worker",
    "submit",
]
