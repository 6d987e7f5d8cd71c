"""``events list|subscribe|unsubscribe`` (the Call Center's webhook registrations) and
``webhook serve`` (a receiver printing each event it gets, once)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from typing import Any

import click
from aiohttp import web

from ..models import Event
from ..models._base import to_plain
from ..webhooks import DEFAULT_PATH, CallEvent, webhook_app
from ._common import EXIT_API, CliError, Settings

__all__ = ["events", "webhook"]

_EVENT_NAMES = ["ringing", "answered", "hangup", "cdr"]


def _hook_line(hook: Event) -> str:
    # The callback key is a secret: shown only as whether there is one.
    name = hook.event_name.value if hook.event_name is not None else "?"
    keyed = "with a key" if hook.callback_apikey else "no key"
    return f"{hook.id or '-'}\t{name}\t{hook.callback_url or '-'}\t{keyed}"


@click.group()
def events() -> None:
    """The Call Center's webhook registrations (which URL gets which call events)."""


@events.command("list")
@click.pass_obj
def events_list(settings: Settings) -> int:
    """List every registration: id, event, callback URL (the key never shown)."""
    cc = settings.callcenter()

    async def go() -> list[Event]:
        async with cc:
            return await cc.events.list()

    for hook in asyncio.run(go()):
        click.echo(_hook_line(hook))
    return 0


_url_argument = click.argument("callback_url", metavar="URL")
_event_option = click.option(
    "--event", "event_names", multiple=True, type=click.Choice(_EVENT_NAMES),
    help="An event to hook (repeat for several; default: all four).",
)  # fmt: skip


@events.command("subscribe")
@_url_argument
@_event_option
@click.option("--callback-key", metavar="KEY", envvar="TEL4VN_CALLBACK_KEY",
              help="The key the PBX sends with each event (never echoed; "
              "default $TEL4VN_CALLBACK_KEY).")  # fmt: skip
@click.pass_obj
def events_subscribe(
    settings: Settings, callback_url: str, event_names: tuple[str, ...], callback_key: str | None
) -> int:
    """Register URL for call events, creating only the hooks not there yet (safe to repeat)."""
    cc = settings.callcenter()
    chosen: tuple[str, ...] = event_names or tuple(_EVENT_NAMES)

    async def go() -> list[Event]:
        async with cc:  # the URL, events and key are checked before anything is sent
            return await cc.events.subscribe(callback_url, chosen, callback_key)

    for hook in asyncio.run(go()):
        click.echo(_hook_line(hook))
    return 0


@events.command("unsubscribe")
@_url_argument
@_event_option
@click.pass_obj
def events_unsubscribe(settings: Settings, callback_url: str, event_names: tuple[str, ...]) -> int:
    """Delete the hooks of URL (all, or those of each --event); safe to repeat."""
    cc = settings.callcenter()

    async def go() -> int:
        async with cc:
            return await cc.events.unsubscribe(callback_url, event_names or None)

    deleted = asyncio.run(go())
    click.echo(f"deleted {deleted} hook(s) of {callback_url}")
    return 0


def event_line(event: CallEvent) -> str:
    """One received event as one human line: the fields a person looks for."""
    parts = [event.state_raw, f"call={event.call_id}"]
    fields: list[tuple[str, Any]] = [
        ("from", event.from_number), ("to", event.to_number), ("hotline", event.hotline),
        ("direction", event.direction.value if event.direction else None),
        ("duration", event.duration), ("billsec", event.billsec),
        ("status", event.status.value if event.status else None),
        ("recording", event.recording_url),
    ]  # fmt: skip
    parts += [f"{name}={value}" for name, value in fields if value not in (None, "")]
    return " ".join(parts)


@click.group()
def webhook() -> None:
    """Receive the PBX's call events."""


@webhook.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="The port (0: any free port, printed).")  # fmt: skip
@click.option("--path", default=DEFAULT_PATH, show_default=True, help="The route's path.")
@click.option("--callback-key", metavar="KEY", envvar="TEL4VN_CALLBACK_KEY",
              help="Refuse (401) a delivery without this key (never echoed; default "
              "$TEL4VN_CALLBACK_KEY).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print each event as a JSON line.")
def webhook_serve(host: str, port: int, path: str, callback_key: str | None, as_json: bool) -> int:
    """Serve a webhook receiver and print each event received, once (re-sends dropped).

    The first line says where it listens. Stop it with Ctrl-C or SIGTERM.
    """

    def show(event: CallEvent) -> None:
        if as_json:
            record = to_plain(event)
            click.echo(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
        else:
            click.echo(event_line(event))

    # The options are checked (a path without "/", an empty key) before listening.
    app = webhook_app(show, api_key=callback_key or None, path=path)
    return asyncio.run(_serve(app, host, port, path))


async def _serve(app: web.Application, host: str, port: int, path: str) -> int:
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as error:
            reason = (error.strerror or str(error)).lower()
            raise CliError(f"cannot listen on {host}:{port}: {reason}", EXIT_API) from None
        bound = runner.addresses[0][1] if runner.addresses else port
        click.echo(f"listening on http://{host}:{bound}{path}")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            # SIGTERM ends it cleanly (exit 0); off the main thread there are no signals.
            loop.add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()
    return 0
