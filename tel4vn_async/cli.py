"""The ``tel4vn`` command (also ``python -m tel4vn_async``)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from . import __version__
from ._client import BaseClient
from .autocall import AutocallClient
from .callcenter import CallCenterClient
from .testing import FakeTel4vn

__all__ = ["main"]


def _expiry(client: BaseClient) -> str:
    token = client.session.current
    if token is None or token.expires_at is None:
        return "no expiry given (refreshed on 401)"
    return token.expires_at.isoformat(timespec="seconds")


async def demo() -> int:
    """Log in to the embedded fake server and show both families' tokens, redacted."""
    async with FakeTel4vn() as fake:
        print(f"fake TEL4VN server on {fake.url} (no network used)")
        account = await CallCenterClient.login(fake.url, fake.username, fake.password)
        print(f"logged in as {account.username} ({account.level}); api_key: ***")

        async with CallCenterClient(fake.url, api_key=account.api_key) as cc:
            token = await cc.session.token()
            print(f"call center token: {token!r}")
            print(f"  expires at {_expiry(cc)}")
            calls = await asyncio.gather(*(cc.request("GET", "/v2/call") for _ in range(100)))
            print(f"  100 concurrent requests, {fake.token_requests} token request(s)")
            print(f"  live calls: {calls[0]['total']}")

        async with AutocallClient(fake.url, api_key=account.api_key) as pbx:
            await pbx.session.token()
            print(f"autocall token expires at {_expiry(pbx)}")
    return 0


async def sandbox(port: int) -> int:
    """Serve the fake on 127.0.0.1 until interrupted."""
    fake = FakeTel4vn(port=port, keep_requests=10_000)
    await fake.start()
    print(f"FakeTel4vn on {fake.url}")
    print(f"  export TEL4VN_BASE_URL={fake.url}")
    print(f"  export TEL4VN_API_KEY={fake.api_key}")
    print(f"  login: {fake.username} / {fake.password}")
    try:
        await asyncio.Event().wait()
    finally:
        await fake.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tel4vn", description=__doc__)
    parser.add_argument("--version", action="version", version=f"tel4vn_async {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="the end-to-end demo on the embedded fake server")
    serve = commands.add_parser("sandbox", help="serve the fake TEL4VN server on a port")
    serve.add_argument("--port", type=int, default=8765)
    args = parser.parse_args(argv)
    try:
        if args.command == "demo":
            return asyncio.run(demo())
        return asyncio.run(sandbox(args.port))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
