"""``tel4vn sandbox``: the fake server for other processes, until SIGINT or SIGTERM.

``FakeTel4vn`` is served on the address asked (``FakeTel4vn.start`` binds 127.0.0.1 and
any port, which suits a test, not a sandbox), seeded so that the first commands a user
tries find something: CDRs around today, OTP and TTS templates, customers, call reports.
Every line is flushed as it is printed, so ``tel4vn sandbox > log &`` shows each request
as it arrives; the api_key and the password are printed once, as the environment a
client needs, and never in the request log.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import date, datetime, timedelta

from aiohttp import web

from ..testing import FakeTel4vn

__all__ = ["CAMPAIGN", "OTP_TEMPLATES", "TTS_TEMPLATES", "sandbox", "seed"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CAMPAIGN = "1"
"""The campaign the seeded templates belong to (``--campaign-id 1``)."""
OTP_TEMPLATES = {"otp_login": "Ma xac nhan cua ban la {{code_otp}}"}
"""OTP templates seeded besides the spec's sample ``otp_demo``."""
TTS_TEMPLATES = {
    "nhac_lich_hen": "Chao {{customer_name}}, ban co lich hen luc {{time}} ngay {{date}}",
}
"""TTS templates seeded besides the spec's sample ``thong_bao_no_cuoc_01``."""
CDR_DAYS = 7
"""The seeded CDRs span this many days, today the last of them (all of it)."""
SEEDED_CUSTOMERS = 100
SEEDED_REPORTS = 20
# Enough to see what a client just did; the terminal (or the log file) keeps the rest.
KEEP_REQUESTS = 1_000
# Requests still running when a signal comes get this long to finish.
SHUTDOWN_TIMEOUT = 2.0


def say(text: str = "", *, error: bool = False) -> None:
    """Print one line at once: the sandbox often runs with its output in a file."""
    print(text, file=sys.stderr if error else sys.stdout, flush=True)


async def sandbox(
    host: str = "127.0.0.1", port: int = 8765, api_key: str | None = None, seed_cdrs: int = 1_000
) -> int:
    """Serve a seeded fake TEL4VN server on ``host:port`` until SIGINT or SIGTERM.

    Args:
        host: the address to listen on (``0.0.0.0`` for every interface).
        port: the port; 0 takes any free one (the URL printed says which).
        api_key: the api_key clients must use; a random one when None.
        seed_cdrs: how many CDRs to serve, spread over the last days up to today.

    Returns:
        0 once stopped by a signal; 1 when the address cannot be listened on (one line
        on stderr says why, e.g. ``port 8765 is in use: pass --port``).
    """
    fake = FakeTel4vn(api_key=api_key, keep_requests=KEEP_REQUESTS)
    summary = seed(fake, seed_cdrs)
    app = fake.make_app()
    # Outermost, so every answer is logged: 401s, 429s and unknown paths included.
    app.middlewares.insert(0, _log_requests)
    runner = web.AppRunner(
        app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT
    )
    await runner.setup()
    try:
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as exc:
            say(_cannot_listen(host, port, exc), error=True)
            return 1
        bound = runner.addresses[0][1] if runner.addresses else port
        fake.url = f"http://{_client_host(host)}:{bound}"
        with _stop_on_signals() as stop:
            # Only now that a signal is caught: a script may send one once it reads this.
            _introduce(fake, host, summary)
            await stop.wait()
        say(f"stopping: {len(fake.requests):,} requests in the log, closing cleanly")
    finally:
        await fake.close()
        await runner.cleanup()
    return 0


def seed(fake: FakeTel4vn, cdrs: int, *, today: date | None = None) -> str:
    """Seed what the first commands a user tries need; returns a line saying what.

    CDRs over the last ``CDR_DAYS`` days including all of today (so code asking for
    today's calls finds some), the OTP and TTS templates of ``CAMPAIGN``, customers and
    reports of past OTP calls.
    """
    today = today or date.today()
    first = today - timedelta(days=CDR_DAYS - 1)
    fake.seed_cdrs(cdrs, start=first, end=today)
    for name, content in OTP_TEMPLATES.items():
        fake.seed_template(CAMPAIGN, name, content, kind="otp")
    for name, content in TTS_TEMPLATES.items():
        fake.seed_template(CAMPAIGN, name, content, kind="tts")
    fake.seed_customers(SEEDED_CUSTOMERS)
    fake.seed_reports(SEEDED_REPORTS)
    _, of_today = fake.cdr_batch({"start_date": today.isoformat()}, 0, 0)
    return (
        f"{cdrs:,} CDRs from {first} to {today} ({of_today:,} today), "
        f"{SEEDED_CUSTOMERS} customers, {SEEDED_REPORTS} call reports"
    )


# --------------------------------------------------------------------------- output


def _introduce(fake: FakeTel4vn, host: str, seeded: str) -> None:
    where = f" (listening on every interface, {host})" if _wildcard(host) else ""
    say(f"TEL4VN sandbox: a fake TEL4VN server (both API families) on {fake.url}{where}")
    say(f"seeded: {seeded}")
    templates = fake.templates.get(CAMPAIGN, {})
    for kind in ("otp", "tts"):
        names = [_with_keys(name, t) for name, t in templates.items() if t["kind"] == kind]
        say(f"{kind.upper()} templates (campaign {CAMPAIGN}): {', '.join(names)}")
    say()
    say("the environment a client needs:")
    say(f"  export TEL4VN_BASE_URL={fake.url}")
    say(f"  export TEL4VN_API_KEY={fake.api_key}")
    say(f"  login: {fake.username} / {fake.password}")
    say("try:")
    say(
        f"  tel4vn otp --campaign-id {CAMPAIGN} --caller 0281234567 --callee 0987654321 "
        "--template otp_login --code 123456"
    )
    say("  tel4vn cdrs export --start " + date.today().isoformat())
    say()
    say("Ctrl-C (or SIGTERM) stops it. Requests received:")


def _with_keys(name: str, template: dict[str, object]) -> str:
    """A TTS template's name with the keys a call must fill: ``name (a, b)``."""
    if template.get("kind") != "tts":
        return name
    content = str(template.get("content") or "")
    keys = dict.fromkeys(part.split("}}")[0].strip() for part in content.split("{{")[1:])
    return f"{name} ({', '.join(keys)})" if keys else name


@web.middleware
async def _log_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    """One line per request: time, method, path, status, milliseconds. The query and
    headers stay out: they may carry phone numbers and the bearer token."""
    started = time.perf_counter()
    status: object = "dropped"
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:  # aiohttp's own answers: 404, 405, ...
        status = exc.status
        raise
    except Exception:
        status = 500
        raise
    finally:
        elapsed = (time.perf_counter() - started) * 1000
        say(f"{datetime.now():%H:%M:%S} {request.method} {request.path} {status} {elapsed:.0f}ms")


# --------------------------------------------------------------------------- helpers


def _cannot_listen(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return f"port {port} is in use: pass --port"
    if exc.errno == errno.EACCES:
        return f"not allowed to listen on port {port}: pass --port (1024 or above)"
    # asyncio's own text repeats the address; the system's is enough next to ours.
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    return f"cannot listen on {host}:{port}: {reason.lower()}"


def _wildcard(host: str) -> bool:
    return host in ("", "0.0.0.0", "::")  # noqa: S104 (recognised, not bound to)


def _client_host(host: str) -> str:
    """The host a client on this machine connects to, in URL form."""
    if _wildcard(host):
        return "127.0.0.1"
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(host).version == 6:
            return f"[{host}]"
    return host


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[asyncio.Event]:
    """An event set by SIGINT or SIGTERM while inside. Where the loop cannot take
    signals (Windows), Ctrl-C still ends the run, as a KeyboardInterrupt."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    installed = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stop.set)
            installed.append(signum)
        except (NotImplementedError, RuntimeError):  # Windows; not the main thread
            pass
    try:
        yield stop
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
