"""Receiving call events in a FastAPI app, through the SDK's pure ``parse_event``, and
serving the SDK's models as JSON with ``to_dict()``.

The SDK's own receiver is for aiohttp; in any other framework, read the body (capped),
check the key, and hand the bytes to ``parse_event``; ``MemoryDedupe`` (or your own
``Dedupe``) keeps a re-sent event from being handled twice. ``GET /cdrs`` returns CDRs
as JSON: ``model.to_dict()`` gives plain values (ISO times, enum values; ``raw`` and
secrets left out), ready for any framework's JSON response. Needs the packages of
examples/requirements-fastapi.txt (``pip install -r examples/requirements-fastapi.txt``).

Runs against the embedded fake server unless TEL4VN_BASE_URL and TEL4VN_API_KEY are set:
then it serves on TEL4VN_WEBHOOK_PORT (8080) until Ctrl-C, and TEL4VN_WEBHOOK_URL must be
the public URL the PBX can post to:

    .venv/bin/python examples/webhook_fastapi.py
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import os
import secrets
import socket

import aiohttp
import uvicorn  # type: ignore[import-not-found, unused-ignore]
from fastapi import FastAPI, Request  # type: ignore[import-not-found, unused-ignore]
from fastapi.responses import JSONResponse  # type: ignore[import-not-found, unused-ignore]

from tel4vn_async import CallCenterClient, ValidationError
from tel4vn_async.testing import FakeTel4vn
from tel4vn_async.webhooks import MAX_BODY, CallEvent, CallState, Claim, MemoryDedupe, parse_event

HOOK_KEY = os.environ.get("TEL4VN_WEBHOOK_KEY") or secrets.token_urlsafe(16)
app = FastAPI()
dedupe = MemoryDedupe()
done = asyncio.Event()


def handle(event: CallEvent) -> None:
    """Your code: store the event, update a ticket, notify an agent..."""
    print(f"{event.state_raw:>8}  call {event.call_id}  duration={event.duration}")
    if event.state is CallState.CDR:
        done.set()


def _key_ok(request: Request) -> bool:
    given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    given = given or request.headers.get("x-api-key", "")
    return hmac.compare_digest(given.encode(), HOOK_KEY.encode())


async def receive(request: Request) -> JSONResponse:
    if not _key_ok(request):
        return JSONResponse({"ok": False, "error": "a wrong or missing key"}, status_code=401)
    if int(request.headers.get("content-length") or 0) > MAX_BODY:
        return JSONResponse({"ok": False, "error": "too large"}, status_code=413)
    body = bytearray()
    async for chunk in request.stream():  # never more than MAX_BODY in memory
        body += chunk
        if len(body) > MAX_BODY:
            return JSONResponse({"ok": False, "error": "too large"}, status_code=413)
    try:
        event = parse_event(bytes(body))
    except ValidationError as error:
        return JSONResponse({"ok": False, "error": str(error)}, status_code=400)

    claim = await dedupe.claim(event.dedupe_key)
    if claim is Claim.SEEN:
        return JSONResponse({"ok": True, "duplicate": True})
    if claim is Claim.BUSY:  # the same event is being handled: let the PBX re-send it
        return JSONResponse({"ok": False}, status_code=503, headers={"Retry-After": "1"})
    try:
        handle(event)
    except Exception:
        await dedupe.release(event.dedupe_key)  # unseen: the PBX's re-send is handled
        return JSONResponse({"ok": False, "error": "the handler failed"}, status_code=500)
    await dedupe.done(event.dedupe_key)
    return JSONResponse({"ok": True})


async def list_cdrs(request: Request) -> JSONResponse:
    """One page of CDRs as JSON, filtered by ``?phone=`` (``?limit=``, 1 to 100)."""
    cc: CallCenterClient = request.app.state.cc
    try:
        limit = min(max(int(request.query_params.get("limit", "20")), 1), 100)
        page = await cc.cdrs.list(page_size=limit, phone=request.query_params.get("phone"))
    except (ValueError, ValidationError) as error:  # a bad limit or phone, nothing sent
        return JSONResponse({"error": str(error)}, status_code=400)
    return JSONResponse({"total": page.total, "items": [cdr.to_dict() for cdr in page.items]})


app.add_api_route("/tel4vn/events", receive, methods=["POST"])
app.add_api_route("/cdrs", list_cdrs, methods=["GET"])


async def main() -> None:
    async with contextlib.AsyncExitStack() as stack:
        base_url, api_key = os.environ.get("TEL4VN_BASE_URL"), os.environ.get("TEL4VN_API_KEY")
        fake = None
        if not (base_url and api_key):
            fake = await stack.enter_async_context(FakeTel4vn())
            fake.seed_cdrs(3)
            base_url, api_key = fake.url, fake.api_key

        # A socket bound before uvicorn starts: its port is known, connections queue.
        sock = socket.socket()
        host = "127.0.0.1" if fake else "0.0.0.0"  # noqa: S104 (a real PBX must reach it)
        sock.bind((host, 0 if fake else int(os.environ.get("TEL4VN_WEBHOOK_PORT", "8080"))))
        sock.listen()
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        serving = asyncio.ensure_future(server.serve(sockets=[sock]))
        local = f"http://127.0.0.1:{sock.getsockname()[1]}/tel4vn/events"
        url = os.environ.get("TEL4VN_WEBHOOK_URL", local)

        cc = await stack.enter_async_context(CallCenterClient(base_url, api_key=api_key))
        app.state.cc = cc  # one client for the app's life, shared by every request
        await cc.events.subscribe(url, callback_apikey=HOOK_KEY)
        print(f"subscribed {url}")
        try:
            if fake is None:
                await serving  # until Ctrl-C
            else:
                call = await cc.click2call.start("101", "0899098899")
                print(f"click-to-call placed: {call.call_id}")
                await fake.deliveries_settled()
                await done.wait()
                cdrs = local.replace("/tel4vn/events", "/cdrs?limit=2")
                async with aiohttp.ClientSession() as http, http.get(cdrs) as answer:
                    listing = await answer.json()
                print(f"GET /cdrs -> {answer.status}: {listing['items'][0]}")
        finally:
            server.should_exit = True
            await serving
            sock.close()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
