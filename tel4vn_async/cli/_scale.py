"""Beyond one process from the shell: ``worker``, ``bulk otp|tts --redis``, ``bulk status``.

- ``tel4vn worker --redis URL``: a worker of the distributed fan-out (API.md section 12),
  dialling the jobs any producer submits, with the autocall token shared by every worker
  through a ``RedisTokenStore``; SIGTERM or Ctrl-C stops it gracefully (calls in flight
  finish and are recorded).
- ``tel4vn bulk otp FILE.csv --redis URL``: the CSV submitted as a run (``submit``), its
  progress followed until done, the results CSV written from the run's results.
- ``tel4vn bulk status RUN --redis URL``: a run's progress, from any machine.

The ``redis`` extra is imported only here, only by these commands: the rest of the CLI
works without it. A Redis URL may hold a password: it is printed masked, always.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TextIO

import attrs
import click

from .._config import base_url_setting, key_setting
from ..autocall import AutocallClient
from ..bulk import BulkSummary, JobResult, OtpJob, TtsJob
from ._common import EXIT_API, EXIT_BULK, EXIT_USAGE, Bar, CliError, Settings, on_terminal


class ResultsWriter(Protocol):
    """What writes the results CSV (``_bulk.Results``)."""

    shown: int
    bad_rows: int

    def add(self, result: JobResult) -> None: ...

    def flush(self) -> None: ...


if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from ..redis import Run, RunStatus

__all__ = ["MISSING_REDIS", "ResultsWriter", "bulk_status", "redis_option", "submit_csv"]
__all__ += ["token_name", "worker"]

MISSING_REDIS = "this command needs the redis extra: pip install 'tel4vn-async[redis]'"
LOG_EVERY = 5.0
"""Seconds between progress lines when stderr is not a terminal."""

redis_option = click.option(
    "--redis",
    "redis_url",
    metavar="URL",
    help="The Redis server of the distributed fan-out: redis://[:PASSWORD@]HOST[:PORT][/DB] "
    "(rediss:// for TLS). Printed with its password masked.",
)


def _redis_package() -> Any:
    """``tel4vn_async.redis``, or a usage error naming the extra to install."""
    try:
        from .. import redis as package
    except ImportError as error:
        raise CliError(MISSING_REDIS) from error
    return package


def token_name(base_url: str, api_key: str) -> str:
    """The shared token's name for an account: a digest, never the key itself.

    Workers given the same base URL and api_key share one token; another account (or
    another server) gets its own.
    """
    digest = hashlib.sha256(f"{base_url}\n{api_key}".encode()).hexdigest()
    return f"autocall-{digest[:24]}"


@asynccontextmanager
async def _connected(url: str) -> AsyncIterator[aioredis.Redis]:
    """A Redis client for ``url``, closed at the end; its failures as one masked line.

    Raises:
        CliError: not a Redis URL (exit 2), or Redis unreachable or failing (exit 1).
    """
    package = _redis_package()
    from redis.exceptions import RedisError

    shown = package.masked(url)
    try:
        client = package.connect(url)
    except ValueError as error:
        raise CliError(f"--redis: {error}", EXIT_USAGE) from None
    try:
        yield client
    except RedisError as error:
        # redis-py's messages name the host, never the password; the URL is masked.
        raise CliError(f"redis at {shown}: {error}", EXIT_API) from None
    finally:
        await client.aclose()


def _run_async(main: Any) -> Any:
    """``asyncio.run(main)`` with SIGTERM stopping it as Ctrl-C does (the task cancelled)."""

    async def guarded() -> Any:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        installed = False
        if task is not None and sys.platform != "win32":
            with suppress(NotImplementedError, RuntimeError):  # not the main thread: no signals
                loop.add_signal_handler(signal.SIGTERM, task.cancel)
                installed = True
        try:
            return await main
        finally:
            if installed:
                loop.remove_signal_handler(signal.SIGTERM)

    return asyncio.run(guarded())


# --------------------------------------------------------------------------- worker


@click.command()
@redis_option
@click.option("--concurrency", type=click.IntRange(1, 10_000), default=20, show_default=True,
              help="Calls this worker has in flight at most.")  # fmt: skip
@click.option("--burst", is_flag=True, help="Stop once the queue is empty (default: run until "
              "stopped with SIGTERM or Ctrl-C).")  # fmt: skip
@click.option("--worker-id", metavar="ID", help="This worker's name in the claims "
              "(default: host name, process id and a random suffix).")  # fmt: skip
@click.pass_obj
def worker(
    settings: Settings, redis_url: str | None, concurrency: int, burst: bool,
    worker_id: str | None,
) -> int:  # fmt: skip
    """A worker of the distributed fan-out: dials the runs submitted to Redis.

    Runs submitted with tel4vn bulk otp|tts FILE.csv --redis URL (or submit()), with the
    autocall credentials of the other commands and one token shared by every worker.
    SIGTERM or Ctrl-C stops it once its calls in flight have finished.
    """
    url = _required(redis_url)
    package = _redis_package()
    from ..redis import run_worker

    base_url = base_url_setting(settings.base_url, "autocall")  # ConfigurationError: exit 2
    api_key = (key_setting(settings.api_key, "autocall") or "").strip()
    options: dict[str, Any] = {}
    if settings.timeout is not None:
        options["timeout"] = settings.timeout
    if settings.max_retries is not None:
        options["max_retries"] = settings.max_retries

    async def go() -> None:
        async with _connected(url) as client:
            store = package.RedisTokenStore(client, token_name(base_url, api_key))
            # Built before Redis is asked anything: a missing api_key is exit 2 at once.
            pbx = AutocallClient(base_url, api_key=api_key or None, token_store=store, **options)
            async with pbx:
                await client.ping()  # unreachable: one line and exit 1, before "ready"
                ready = f"worker ready: redis {package.masked(url)}, concurrency {concurrency}"
                click.echo(ready + (", burst" if burst else ""), err=True)
                await run_worker(
                    pbx, client, concurrency=concurrency, burst=burst, worker_id=worker_id
                )

    try:
        _run_async(go())
    except asyncio.CancelledError:  # SIGTERM: stopped gracefully, which is a success
        click.echo("worker stopped", err=True)
        return 0
    click.echo("worker stopped: the queue is empty" if burst else "worker stopped", err=True)
    return 0


def _required(redis_url: str | None) -> str:
    if not redis_url:
        raise CliError("--redis URL is required (the Redis server the workers use)")
    return redis_url


# --------------------------------------------------------------------------- bulk --redis


def submit_csv(
    settings: Settings, jobs: Iterable[OtpJob | TtsJob], *, redis_url: str, run_id: str | None,
    rate: float | None, follow: bool, reconcile: bool,
    results: Callable[[TextIO], ResultsWriter], results_path: Path, rows: int,
) -> int:  # fmt: skip
    """Submit ``jobs`` as a run; follow it and write its results unless ``follow`` is off.

    Args:
        results: makes the results CSV's writer, given the open file.

    Returns:
        The exit code: 0, or 3 when some jobs failed or are unknown.
    """
    package = _redis_package()
    from ..redis import submit

    pbx = settings.autocall() if reconcile else None  # ConfigurationError: exit 2, nothing sent

    async def go() -> tuple[str, BulkSummary | None, ResultsWriter | None]:
        async with _connected(redis_url) as client:
            run = await submit(client, jobs, run_id=run_id, rate=rate)
            if not follow:
                return run.id, None, None
            total = (await run.status()).total
            click.echo(f"run {run.id}: {total} job(s) submitted; following its progress "
                       "(Ctrl-C stops following, not the run)", err=True)  # fmt: skip
            try:
                summary = await _follow(run, rows)
            except asyncio.CancelledError:
                click.echo(f"run {run.id} goes on on the workers: tel4vn bulk status "
                           f"{run.id} --redis {package.masked(redis_url)}", err=True)  # fmt: skip
                raise
            if pbx is not None:
                async with pbx:
                    settled = await run.reconcile(pbx)
                if settled:
                    summary = (await run.status()).summary()
            with results_path.open("w", newline="", encoding="utf-8") as stream:
                writer = results(stream)
                async for result in run.results():
                    writer.add(result)
                writer.flush()
            return run.id, summary, writer

    if follow:
        _check_writable(results_path)
    run_id_done, summary, writer = _run_async(go())
    if summary is None or writer is None:
        click.echo(run_id_done)  # alone on stdout: RUN=$(tel4vn bulk otp ... --no-follow)
        return 0
    return _report(run_id_done, summary, writer, results_path)


def _check_writable(path: Path) -> None:
    """Refuse a results file that could not be written, before anything is submitted: a
    local run opens it first; a distributed one writes it only at the end of the run.

    Raises:
        CliError: its folder does not exist or cannot be written to, or it is a folder
            (exit 1, as a file that cannot be written is in a local run).
    """
    folder = path.parent
    if path.is_dir():
        raise CliError(f"--results {path} is a folder", EXIT_API)
    if not folder.is_dir():
        raise CliError(f"--results {path}: no such folder {folder}", EXIT_API)
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise CliError(f"--results {path}: not writable", EXIT_API)


async def _follow(run: Run, rows: int) -> BulkSummary:
    """Show the run's progress until every job has its result; its summary."""
    bar = Bar(total=rows, initial=0, unit="job", desc=f"run {run.id}")
    shown, logged = 0, time.monotonic()
    last: RunStatus | None = None
    try:
        async for status in run.follow():
            last = status
            bar.set_total(status.total if status.submitted else max(status.total, rows))
            bar.update(status.finished - shown)
            shown = status.finished
            if not on_terminal() and time.monotonic() - logged >= LOG_EVERY:
                logged = time.monotonic()
                click.echo(str(status), err=True)
    finally:
        bar.close()
    assert last is not None  # follow yields at least the last status
    return last.summary()


def _report(run_id: str, summary: BulkSummary, writer: ResultsWriter, path: Path) -> int:
    shown_max = 20
    if writer.shown > shown_max:
        click.echo(f"... and {writer.shown - shown_max} more", err=True)
    text = f"run {run_id}: {summary}"
    if writer.bad_rows:
        text += f"; {writer.bad_rows} unreadable row(s) failed"
    click.echo(f"{text}; results in {path}")
    bad = summary.failed or summary.unknown or writer.bad_rows
    return EXIT_BULK if bad else 0


# --------------------------------------------------------------------------- bulk status


def status_dict(status: RunStatus) -> dict[str, Any]:
    """A run's status as plain JSON-safe values (``finished``: the jobs with a result)."""
    out: dict[str, Any] = attrs.asdict(status)
    out["errors"] = dict(status.errors)
    out["finished"] = status.finished
    return out


@click.command("status")
@click.argument("run_id", metavar="RUN")
@redis_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of a line.")
def bulk_status(run_id: str, redis_url: str | None, as_json: bool) -> int:
    """A distributed run's progress and counts, from any machine.

    \b
    Exit codes: 0 running, or done with every job ok or skipped; 3 done with some jobs
    failed or unknown; 2 no such run; 1 Redis unreachable.
    """
    url = _required(redis_url)
    _redis_package()
    from ..redis import run_status

    async def go() -> RunStatus:
        async with _connected(url) as client:
            status: RunStatus = await run_status(client, run_id)
            return status

    status = _run_async(go())
    click.echo(json.dumps(status_dict(status)) if as_json else str(status))
    return EXIT_BULK if status.done and (status.failed or status.unknown) else 0


def result_row(result: JobResult) -> tuple[object, str]:
    """A result's CSV line number (the job's ``data``) and callee."""
    return getattr(result.job, "data", None), str(getattr(result.job, "callee", "") or "")
