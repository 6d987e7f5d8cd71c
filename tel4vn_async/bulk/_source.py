"""The jobs of a run, pulled lazily from any iterable or async iterable, one at a time,
by whichever worker is free: a million jobs never sit in memory."""

from __future__ import annotations

import asyncio
import hashlib
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import Any

from ..errors import ValidationError
from ._jobs import prepare

__all__ = ["HEAD", "Source"]

HEAD = 16
"""How many leading jobs a journal's fingerprint covers."""


class Source:
    """Hands out ``(index, job)`` pairs to concurrent workers, in the source's order.

    An async source is read under a lock: an async generator cannot be resumed by two
    tasks at once. The first few jobs can be read ahead (``read_head``) to fingerprint
    the run before anything is dialled; they are handed out first.
    """

    def __init__(self, jobs: Iterable[Any] | AsyncIterable[Any]) -> None:
        self._sync: Iterator[Any] | None = None
        self._async: AsyncIterator[Any] | None = None
        if isinstance(jobs, AsyncIterable):
            self._async = aiter(jobs)
        elif isinstance(jobs, Iterable) and not isinstance(jobs, str | bytes):
            self._sync = iter(jobs)
        else:
            raise ValidationError(
                f"jobs must be an iterable or async iterable of jobs, got a {type(jobs).__name__}",
                field="jobs",
            )
        self._lock = asyncio.Lock()
        self._head: deque[Any] = deque()
        self._index = 0
        self._exhausted = False
        self.total: int | None = len(jobs) if hasattr(jobs, "__len__") else None  # type: ignore[arg-type]
        """How many jobs there are, when the source knows (a list does, a generator not)."""

    async def _read(self) -> tuple[bool, Any]:
        if self._exhausted:
            return False, None
        try:
            if self._sync is not None:
                return True, next(self._sync)
            assert self._async is not None
            async with self._lock:
                return True, await anext(self._async)
        except (StopIteration, StopAsyncIteration):
            self._exhausted = True
            return False, None

    async def read_head(self, n: int) -> list[Any]:
        """Read (and keep, to hand out first) up to ``n`` leading jobs."""
        while len(self._head) < n:
            more, job = await self._read()
            if not more:
                break
            self._head.append(job)
        return list(self._head)

    async def next(self) -> tuple[int, Any] | None:
        """The next job and its index, or None once the source is exhausted.

        Raises:
            Exception: whatever the source raised.
        """
        if self._head:
            job = self._head.popleft()
        else:
            more, job = await self._read()
            if not more:
                return None
        index = self._index
        self._index += 1
        return index, job


def fingerprint(jobs: Iterable[Any]) -> str:
    """A digest of the jobs' keys, in order (a job failing its checks counts by position)."""
    digest = hashlib.blake2b(digest_size=16)
    for job in jobs:
        try:
            key = prepare(job).key
        except ValidationError:
            key = "\0invalid"
        digest.update(key.encode() + b"\n")
    return digest.hexdigest()
