"""Running the ``tel4vn`` command against the fake server, in a worker thread.

``main`` calls ``asyncio.run`` itself, so it runs in a thread while the fake keeps
serving on the test's event loop. Its output is captured by ``capsys`` (the CLI writes
to whatever ``sys.stdout``/``sys.stderr`` are when it writes).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import attrs
import pytest

from tel4vn_async.cli import main
from tel4vn_async.testing import FakeTel4vn


@attrs.frozen
class Outcome:
    """What a run of the command gave: its exit code and its output."""

    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


Run = Callable[..., Awaitable[Outcome]]


@pytest.fixture(autouse=True)
def _no_tel4vn_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from the options only: a developer's TEL4VN_* never leak in."""
    import os

    for name in [n for n in os.environ if n.startswith("TEL4VN_")]:
        monkeypatch.delenv(name)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Run:
    """``await cli(*args)`` runs ``tel4vn *args`` (no credentials added)."""

    async def run(*args: str) -> Outcome:
        capsys.readouterr()  # what came before is not this run's
        code = await asyncio.to_thread(main, list(args))
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    return run


@pytest.fixture
def tel4vn(fake: FakeTel4vn, cli: Run) -> Run:
    """``await tel4vn(*args)`` runs ``tel4vn --base-url <fake> --api-key <key> *args``."""

    async def run(*args: str) -> Outcome:
        return await cli("--base-url", fake.url, "--api-key", fake.api_key, *args)

    return run
