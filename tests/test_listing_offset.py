"""``offset=`` on the listings: a listing resumed where an earlier one stopped."""

from __future__ import annotations

import pytest

from tel4vn_async import AutocallClient, CallCenterClient, ValidationError
from tel4vn_async.testing import FakeTel4vn


async def test_cdrs_start_at_the_offset(fake: FakeTel4vn, cc: CallCenterClient) -> None:
    fake.seed_cdrs(30)
    every = [c.id async for c in cc.cdrs.list(page_size=10)]
    fake.requests.clear()
    rest = [c.id async for c in cc.cdrs.list(page_size=10, offset=12)]
    assert rest == every[12:]
    assert fake.received("/v2/cdr")[0].query["offset"] == "12"


async def test_reports_and_customers_start_at_the_offset(
    fake: FakeTel4vn, cc: CallCenterClient, pbx: AutocallClient
) -> None:
    fake.seed_reports(7)
    every = [r.call_id async for r in pbx.reports.list(page_size=3)]
    assert [r.call_id async for r in pbx.reports.list(page_size=3, offset=4)] == every[4:]
    fake.seed_customers(9)
    customers = [c.customer_id async for c in cc.customers.list(page_size=4)]
    assert len(customers) == 9
    resumed = [c.customer_id async for c in cc.customers.list(page_size=4, offset=2)]
    assert resumed == customers[2:]


@pytest.mark.parametrize("offset", [-1, 1.5, "3", None, True])
async def test_a_bad_offset_is_refused_before_anything_is_sent(
    fake: FakeTel4vn, cc: CallCenterClient, pbx: AutocallClient, offset: object
) -> None:
    for listing in (cc.cdrs.list, cc.customers.list, pbx.reports.list):
        with pytest.raises(ValidationError) as caught:
            listing(offset=offset)  # type: ignore[arg-type]
        assert caught.value.field == "offset"
    assert fake.count() == 0
