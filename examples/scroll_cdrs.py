"""Scroll every outbound CDR of a day and count them by status.

Runs against the embedded fake server unless TEL4VN_BASE_URL and TEL4VN_API_KEY are set:

    .venv/bin/python examples/scroll_cdrs.py
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
from datetime import date

from tel4vn_async import CallCenterClient
from tel4vn_async.testing import FakeTel4vn


async def main() -> None:
    async with contextlib.AsyncExitStack() as stack:
        base_url, api_key = os.environ.get("TEL4VN_BASE_URL"), os.environ.get("TEL4VN_API_KEY")
        if not (base_url and api_key):
            fake = await stack.enter_async_context(FakeTel4vn())
            fake.seed_cdrs(5_000, mapping="flex")
            base_url, api_key = fake.url, fake.api_key

        cc = await stack.enter_async_context(CallCenterClient(base_url, api_key=api_key))
        by_status: collections.Counter[str] = collections.Counter()
        async for cdr in cc.cdrs.list(start_date=date(2024, 1, 1), direction="outbound"):
            by_status[str(cdr.status)] += 1
        for status, count in by_status.most_common():
            print(f"{status:>14}: {count}")


if __name__ == "__main__":
    asyncio.run(main())
