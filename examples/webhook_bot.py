"""A bot loop over EventStream: send an OTP call, then follow it through its events.

``EventStream`` turns the webhook receiver into ``async for event in stream``. Its queue
is bounded: when the bot falls behind, deliveries are answered 503 with Retry-After and
the PBX re-sends them later; nothing is dropped silently. ``CallTracker`` joins a call's
events and hands back the whole call when its cdr event arrives.

Runs against the embedded fake server unless TEL4VN_BASE_URL and TEL4VN_API_KEY are set
(then also set TEL4VN_WEBHOOK_URL, the public URL of this bot's receiver, and
TEL4VN_CAMPAIGN_ID, TEL4VN_CALLER, TEL4VN_CALLEE as for send_otp.py):

    .venv/bin/python examples/webhook_bot.py
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets

from aiohttp import web

from tel4vn_async import AutocallClient
from tel4vn_async.testing import FakeTel4vn
from tel4vn_async.webhooks import DEFAULT_PATH, CallTracker, EventStream


async def main() -> None:
    async with contextlib.AsyncExitStack() as stack:
        base_url, api_key = os.environ.get("TEL4VN_BASE_URL"), os.environ.get("TEL4VN_API_KEY")
        if not (base_url and api_key):
            fake = await stack.enter_async_context(FakeTel4vn())
            base_url, api_key = fake.url, fake.api_key
        hook_key = secrets.token_urlsafe(16)

        stream = await stack.enter_async_context(EventStream(maxsize=100))
        runner = web.AppRunner(stream.app(api_key=hook_key))
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        port = int(os.environ.get("TEL4VN_WEBHOOK_PORT", "0"))
        await web.TCPSite(runner, "127.0.0.1", port).start()
        local = f"http://127.0.0.1:{runner.addresses[0][1]}{DEFAULT_PATH}"
        url = os.environ.get("TEL4VN_WEBHOOK_URL", local)

        pbx = await stack.enter_async_context(AutocallClient(base_url, api_key=api_key))
        call = await pbx.calls.otp(
            campaign_id=os.environ.get("TEL4VN_CAMPAIGN_ID", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeee"),
            caller=os.environ.get("TEL4VN_CALLER", "0123456789"),
            callee=os.environ.get("TEL4VN_CALLEE", "0987654322"),
            template="otp_demo",
            code="4242",
            callback_url=url,  # this call's events come to the bot
            callback_apikey=hook_key,
        )
        print(f"OTP call {call.call_id} placed; waiting for its events")

        tracker = CallTracker()
        async for event in stream:  # the bot's loop
            print(f"  {event.state_raw:<8} {event.call_id}")
            record = tracker.add(event)
            if record is not None and record.call_id == call.call_id:
                hangup = record.find("hangup")
                talked = hangup.billsec if hangup else 0
                outcome = "answered" if record.answered else "not answered"
                print(f"call {record.call_id}: {outcome}, {talked}s talking")
                break


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
