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
from .errors import UserNotRegisteredError
from .models import CallStatus, Voice
from .testing import FakeTel4vn

__all__ = ["main"]


def _expiry(client: BaseClient) -> str:
    token = client.session.current
    if token is None or token.expires_at is None:
        return "no expiry given (refreshed on 401)"
    return token.expires_at.isoformat(timespec="seconds")


async def demo() -> int:
    """The main job, end to end, against the embedded fake server (no network)."""
    async with FakeTel4vn() as fake:
        fake.seed_cdrs(2_500)
        print(f"fake TEL4VN server on {fake.url} (no network used)")
        account = await CallCenterClient.login(fake.url, fake.username, fake.password)
        print(f"logged in as {account.username} ({account.level}); api_key: ***")

        async with CallCenterClient(fake.url, api_key=account.api_key) as cc:
            token = await cc.session.token()
            print(f"call center token: {token!r}")
            print(f"  expires at {_expiry(cc)}")
            await asyncio.gather(*(cc.calls.list() for _ in range(100)))
            print(f"  100 concurrent requests, {fake.token_requests} token request(s)")

            fake.inject("/v2/cdr", status=503)  # a hiccup mid-scroll: retried, nothing lost
            answered = total = 0
            async for cdr in cc.cdrs.list(page_size=500):
                total += 1
                answered += cdr.status is CallStatus.ANSWERED
            print(f"scrolled {total} CDRs through a 503 ({answered} answered)")

            try:
                await cc.click2call.start("109", "0899098899")
            except UserNotRegisteredError as error:
                print(f"click-to-call from 109 refused: {error.code}")
            result = await cc.click2call.start("101", "0899098899")
            print(f"click-to-call from 101 ringing: call {result.call_id}")

        async with AutocallClient(fake.url, api_key=account.api_key) as pbx:
            template = await pbx.templates.create_otp(
                1, "otp_login", "Ma xac nhan cua ban la {{code_otp}}", Voice.SOUTH_F_03, 1.0
            )
            call = await pbx.calls.otp(
                campaign_id="aaaaaaaa-bbbb-cccc-dddd-eeeeeeee",
                caller="0123456789",
                callee="0987654321",
                template=template,
                code="123456",
            )
            print(f"OTP call placed: {call.call_id} ({call.status})")
            async for report in pbx.reports.list(callee="0987654321"):
                print(f"  report: {report.type} to {report.callee}, {report.hangup_cause}")
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
