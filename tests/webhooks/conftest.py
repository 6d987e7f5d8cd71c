"""Receivers served on 127.0.0.1 for the webhook tests, and sample events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

Serve = Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]]


def event_body(state: str = "hangup", call_id: str = "call-1", **fields: Any) -> bytes:
    """A call event body as the PBX posts it (the spec's sample fields)."""
    body = {
        "call_id": call_id,
        "sip_call_id": f"sip-{call_id}",
        "domain": "test.tel4vn.com",
        "direction": "outbound",
        "from_number": "101",
        "to_number": "0899888999",
        "hotline": "19001919",
        "state": state,
        **fields,
    }
    return json.dumps(body).encode()


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Serve an application on 127.0.0.1 (a real socket); closed after the test."""
    clients: list[TestClient[web.Request, web.Application]] = []

    async def start(app: web.Application) -> TestClient[web.Request, web.Application]:
        client = TestClient(TestServer(app, host="127.0.0.1"))
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()
