"""Log in, get a token, call an endpoint, and handle failures.

Runs against the embedded fake server unless TEL4VN_BASE_URL and TEL4VN_API_KEY are set:

    .venv/bin/python examples/quickstart.py
"""

from __future__ import annotations

import asyncio
import contextlib
import os

from tel4vn_async import APIError, CallCenterClient, TransportError
from tel4vn_async.testing import FakeTel4vn


async def main() -> None:
    async with contextlib.AsyncExitStack() as stack:
        base_url, api_key = os.environ.get("TEL4VN_BASE_URL"), os.environ.get("TEL4VN_API_KEY")
        if not (base_url and api_key):
            fake = await stack.enter_async_context(FakeTel4vn())
            base_url, api_key = fake.url, fake.api_key
            fake.inject("/v2/call", status=503)  # the client retries this read

        cc = await stack.enter_async_context(CallCenterClient(base_url, api_key=api_key))
        token = await cc.session.token()
        print("token:", token)  # the token itself is never shown
        try:
            live = await cc.request("GET", "/v2/call")
        except APIError as error:  # the server answered with a failure
            print(f"failed: {error.status} {error.code} {error.message}")
        except TransportError as error:  # no usable answer
            print(f"transport failure: {error}")
        else:
            print("live calls:", live["total"])


if __name__ == "__main__":
    asyncio.run(main())
