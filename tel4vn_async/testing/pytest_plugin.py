"""pytest plugin: the ``fake_tel4vn`` fixture, a started ``FakeTel4vn`` per test.

Registered through the ``pytest11`` entry point, so installing tel4vn_async is enough.
It needs pytest-asyncio (or another plugin that runs async fixtures).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ._fake import FakeTel4vn

try:  # pytest-asyncio runs it in strict and auto mode alike; anyio's plugin needs neither.
    from pytest_asyncio import fixture as _async_fixture
except ImportError:  # pragma: no cover
    _async_fixture = pytest.fixture  # type: ignore[assignment]


@_async_fixture
async def fake_tel4vn() -> AsyncIterator[FakeTel4vn]:
    """A FakeTel4vn serving on 127.0.0.1, closed after the test."""
    async with FakeTel4vn() as fake:
        yield fake
