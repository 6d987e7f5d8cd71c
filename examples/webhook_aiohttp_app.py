"""A webhook receiver mounted in an aiohttp app that shares one CallCenterClient.

The client is created when the app starts and closed when it stops (a cleanup context);
the receiver's handler and the app's other routes all use it. The app subscribes its
receiver (idempotently: restarting makes no duplicate hooks), then prints each event.

Runs against the embedded fake server unless TEL4VN_BASE_URL and TEL4VN_API_KEY are set:
then it serves on TEL4VN_WEBHOOK_PORT (8080) until Ctrl-C, and TEL4VN_WEBHOOK_URL must be
the public URL the PBX can post to (https://.../tel4vn/events):

    .venv/bin/python examples/webhook_aiohttp_app.py
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import AsyncIterator

from aiohttp import web

from tel4vn_async import CallCenterClient
from tel4vn_async.testing import FakeTel4vn
from tel4vn_async.webhooks import DEFAULT_PATH, CallEvent, CallState, add_webhook_route

CC = web.AppKey("cc", CallCenterClient)


def make_app(base_url: str, api_key: str, hook_key: str) -> web.Application:
    """The app: the receiver at /tel4vn/events, a /calls route, one shared client."""
    app = web.Application()

    async def client_context(app: web.Application) -> AsyncIterator[None]:
        async with CallCenterClient(base_url, api_key=api_key) as cc:
            app[CC] = cc
            yield  # the app serves; the client is closed when it stops

    app.cleanup_ctx.append(client_context)

    async def on_event(event: CallEvent) -> None:
        print(f"{event.state_raw:>8}  call {event.call_id}  {event.from_number} -> "
              f"{event.to_number}")  # fmt: skip
        if event.state is CallState.HANGUP:
            print(f"          lasted {event.duration}s, {event.billsec}s talking")
        if event.state is CallState.CDR:
            live = await app[CC].calls.list()  # the shared client, from the handler
            print(f"          cdr: {event.status}, {len(live)} call(s) still in progress")

    async def calls(request: web.Request) -> web.Response:
        live = await request.app[CC].calls.list()
        return web.json_response({"calls": [c.call_id for c in live]})

    add_webhook_route(app, on_event, api_key=hook_key)
    app.router.add_get("/calls", calls)
    return app


async def main() -> None:
    async with contextlib.AsyncExitStack() as stack:
        base_url, api_key = os.environ.get("TEL4VN_BASE_URL"), os.environ.get("TEL4VN_API_KEY")
        fake = None
        if not (base_url and api_key):
            fake = await stack.enter_async_context(FakeTel4vn())
            base_url, api_key = fake.url, fake.api_key
        hook_key = os.environ.get("TEL4VN_WEBHOOK_KEY") or secrets.token_urlsafe(16)

        runner = web.AppRunner(make_app(base_url, api_key, hook_key))
        await runner.setup()  # runs the cleanup context's start: the client exists now
        stack.push_async_callback(runner.cleanup)
        host = "127.0.0.1" if fake else "0.0.0.0"  # noqa: S104 (a real PBX must reach it)
        site = web.TCPSite(
            runner, host, 0 if fake else int(os.environ.get("TEL4VN_WEBHOOK_PORT", "8080"))
        )
        await site.start()
        port = runner.addresses[0][1]
        url = os.environ.get("TEL4VN_WEBHOOK_URL") or f"http://127.0.0.1:{port}{DEFAULT_PATH}"

        cc = runner.app[CC]
        hooks = await cc.events.subscribe(url, callback_apikey=hook_key)
        print(f"subscribed {url}: {sorted(str(h.event_name) for h in hooks)}")
        if fake is None:
            print("serving; Ctrl-C to stop")
            await asyncio.Event().wait()
        else:
            call = await cc.click2call.start("101", "0899098899")
            print(f"click-to-call placed: {call.call_id}")
            await fake.deliveries_settled()  # the fake has posted the whole call
            print(f"unsubscribed {await cc.events.unsubscribe(url)} hook(s)")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
