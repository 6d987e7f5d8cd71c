"""``cc.customers`` and ``cc.users`` against FakeTel4vn."""

from __future__ import annotations

import asyncio

import pytest

from tel4vn_async import (
    BadRequestError,
    CallCenterClient,
    NotFoundError,
    OutcomeUnknownError,
    ValidationError,
)
from tel4vn_async.models.callcenter import Customer, CustomerStatus
from tel4vn_async.testing import FakeTel4vn
from tel4vn_async.testing._callcenter import DEFAULT_CAMPAIGN


async def test_list_pages_by_limit_and_offset(fake: FakeTel4vn, cc: CallCenterClient) -> None:
    campaigns = fake.seed_customers(2_500, campaigns=3)
    everyone = await cc.customers.list(page_size=200).collect()
    assert [c.customer_id for c in everyone] == [c["customer_id"] for c in fake.customers()]
    assert len({c.customer_id for c in everyone}) == 2_500
    offsets = [r.query["offset"] for r in fake.received("/v2/customer")]
    assert offsets == [str(o) for o in range(0, 2_500, 200)]

    mine = await cc.customers.list(campaigns[1], page_size=300).collect()
    assert {c.campaign_id for c in mine} == {campaigns[1]}
    assert len(mine) == len([c for c in fake.customers() if c["campaign_id"] == campaigns[1]])
    last = fake.received("/v2/customer")[-1].query
    assert last["campaign_id"] == campaigns[1]
    assert last["limit"] == "300"


async def test_customer_quirks(fake: FakeTel4vn, cc: CallCenterClient) -> None:
    fake.seed_customers(3)
    page = await cc.customers.list()
    assert page.total == 3
    first = page.items[1]
    assert first.updated_at is None  # Go's zero time
    assert first.created_at is not None
    assert first.created_at.tzinfo is not None
    assert first.status is CustomerStatus.QUEUE
    got = await cc.customers.get(first.customer_id or "")
    assert got == first
    assert fake.received()[-1].path == f"/v2/customer/{first.customer_id}"
    with pytest.raises(NotFoundError):
        await cc.customers.get("missing")


async def test_create(fake: FakeTel4vn, cc: CallCenterClient) -> None:
    new_id = await cc.customers.create(
        campaign_id=DEFAULT_CAMPAIGN,
        customer_code="KH01",
        phone_number="0899888998",
        contract_number="ABC123",
        customer_name="Khach Hang 01",
    )
    [sent] = fake.received("/v2/customer", "POST")
    assert sent.json == {
        "campaign_id": DEFAULT_CAMPAIGN,
        "customer_code": "KH01",
        "phone_number": "0899888998",
        "contract_number": "ABC123",
        "customer_name": "Khach Hang 01",
    }
    customer = await cc.customers.get(new_id)
    assert isinstance(customer, Customer)
    assert (customer.customer_code, customer.status) == ("KH01", CustomerStatus.NEW)


@pytest.mark.parametrize("phone", ["0199888998", "089988899", "+84899888998", "abc", ""])
async def test_create_checks_the_phone_pattern(
    fake: FakeTel4vn, cc: CallCenterClient, phone: str
) -> None:
    with pytest.raises(ValidationError) as info:
        await cc.customers.create(
            campaign_id=DEFAULT_CAMPAIGN, customer_code="K", phone_number=phone,
            contract_number="C",
        )  # fmt: skip
    assert info.value.field == "phone_number"
    for field in ("campaign_id", "customer_code", "contract_number"):
        args = {
            "campaign_id": DEFAULT_CAMPAIGN,
            "customer_code": "K",
            "phone_number": "0399888998",
            "contract_number": "C",
            field: " ",
        }
        with pytest.raises(ValidationError) as info:
            await cc.customers.create(**args)
        assert info.value.field == field
    assert fake.count() == 0


async def test_create_field_errors_from_the_server(fake: FakeTel4vn, cc: CallCenterClient) -> None:
    message = "Does not match pattern '^(84|0[3|5|7|8|9])+([0-9]{8})$'"
    fake.inject(
        "/v2/customer",
        status=400,
        body={"code": 400, "content": [{"phone_number": message}], "error": "Bad Request"},
    )
    with pytest.raises(BadRequestError) as info:
        await cc.customers.create(
            campaign_id=DEFAULT_CAMPAIGN, customer_code="K", phone_number="0899888998",
            contract_number="C",
        )  # fmt: skip
    assert info.value.details == {"phone_number": message}
    with pytest.raises(NotFoundError, match="campaign not found"):
        await cc.customers.create(
            campaign_id="nope", customer_code="K", phone_number="0899888998", contract_number="C"
        )


async def test_create_is_never_sent_twice(fake: FakeTel4vn, cc: CallCenterClient) -> None:
    await cc.session.token()
    fake.inject("/v2/customer", method="POST", drop="after")
    with pytest.raises(OutcomeUnknownError):
        await cc.customers.create(
            campaign_id=DEFAULT_CAMPAIGN, customer_code="K", phone_number="0899888998",
            contract_number="C",
        )  # fmt: skip
    assert fake.count("/v2/customer", "POST") == 1
    assert len(fake.customers()) == 1  # it was created: the outcome was merely unknown


async def test_concurrent_creates(fake: FakeTel4vn, cc: CallCenterClient) -> None:
    ids = await asyncio.gather(
        *(
            cc.customers.create(
                campaign_id=DEFAULT_CAMPAIGN,
                customer_code=f"K{i}",
                phone_number=f"0899{i:06d}",
                contract_number=f"C{i}",
            )
            for i in range(200)
        )
    )
    assert len(set(ids)) == 200
    assert len(fake.customers()) == 200


async def test_user_status(fake: FakeTel4vn, cc: CallCenterClient) -> None:
    by_name = await cc.users.status("test.user01")
    assert by_name.ext_loggedin is True
    assert (by_name.extension, by_name.agent_name) == ("101", "Test User 01")
    by_id = await cc.users.status("bbbbbbbb-1111-2222-3333-eeeeeeee")
    assert by_id.ext_loggedin is False
    assert by_id.username == "test.user02"
    assert [r.path for r in fake.received() if r.path.startswith("/v2/user")] == [
        "/v2/user/test.user01/status",
        "/v2/user/bbbbbbbb-1111-2222-3333-eeeeeeee/status",
    ]
    with pytest.raises(NotFoundError, match="user is not existed"):
        await cc.users.status("ghost")
    with pytest.raises(ValidationError):
        await cc.users.status("")
    assert fake.count("/v2/user/ghost/status") == 1
