"""Create an OTP template, send one OTP call, and find its report.

Runs against the embedded fake server unless TEL4VN_BASE_URL and TEL4VN_API_KEY are set
(then also set TEL4VN_CAMPAIGN_ID, TEL4VN_CALLER and TEL4VN_CALLEE):

    .venv/bin/python examples/send_otp.py
"""

from __future__ import annotations

import asyncio
import contextlib
import os

from tel4vn_async import AutocallClient, OutcomeUnknownError, Voice
from tel4vn_async.testing import FakeTel4vn


async def main() -> None:
    async with contextlib.AsyncExitStack() as stack:
        base_url, api_key = os.environ.get("TEL4VN_BASE_URL"), os.environ.get("TEL4VN_API_KEY")
        if not (base_url and api_key):
            fake = await stack.enter_async_context(FakeTel4vn())
            base_url, api_key = fake.url, fake.api_key
        campaign = os.environ.get("TEL4VN_CAMPAIGN_ID", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeee")
        caller = os.environ.get("TEL4VN_CALLER", "0123456789")
        callee = os.environ.get("TEL4VN_CALLEE", "0987654321")

        pbx = await stack.enter_async_context(AutocallClient(base_url, api_key=api_key))
        template = await pbx.templates.create_otp(
            1, "otp_example", "Ma xac nhan cua ban la {{code_otp}}", Voice.NORTH_F_01, 1.0
        )
        print("template:", template.name, "placeholders:", sorted(template.placeholders))
        try:
            call = await pbx.calls.otp(
                campaign_id=campaign, caller=caller, callee=callee, template=template, code="4242"
            )
        except OutcomeUnknownError:
            print("the answer was lost: the phone may be ringing; not retried")
            return
        print("call:", call.call_id, call.status)
        async for report in pbx.reports.list(callee=callee):
            print("report:", report.call_id, report.hangup_cause, report.param)


if __name__ == "__main__":
    asyncio.run(main())
