"""``cc.autodialer`` and ``cc.autocall_queues`` against FakeTel4vn."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import pytest

from tel4vn_async import (
    BadRequestError,
    CallCenterClient,
    NotFoundError,
    OutcomeUnknownError,
    ValidationError,
)
from tel4vn_async.models.callcenter import ImportResult, QueueCustomer
from tel4vn_async.testing import FakeTel4vn
from tel4vn_async.testing._callcenter import DEFAULT_CAMPAIGN

CUSTOMERS: list[Any] = [
    QueueCustomer("TEL4VN_Test", ["0899123456"]),
    {"id": " KH2 ", "mobiles": ["0982596021", "+84982596022"]},
]


async def test_autodialer_lifecycle(fake: FakeTel4vn, cc: CallCenterClient) -> None:
    await cc.autodialer.create_queue(
        campaign_id=DEFAULT_CAMPAIGN,
        queue_code="Autodialer",
        precall_ratio=150,
        max_recall_count=2,
        customers=CUSTOMERS,
        queue_agents=["5001", "5002"],
    )
    [sent] = fake.received("/v2/autodialer/queue", "POST")
    assert sent.json == {
        "campaign_id": DEFAULT_CAMPAIGN,
        "queue_code": "Autodialer",
        "precall_ratio": "150",
        "max_recall_count": "2",
        "queue_agents": "5001,5002",
        "customers": [
            {"id": "TEL4VN_Test", "mobiles": ["0899123456"]},
            {"id": "KH2", "mobiles": ["0982596021", "+84982596022"]},
        ],
    }
    queues = fake.queues("autodialer")
    await cc.autodialer.stop("Autodialer")
    assert queues["Autodialer"]["running"] is False
    await cc.autodialer.start("Autodialer")
    assert queues["Autodialer"]["running"] is True
    await cc.autodialer.delete("Autodialer")
    assert "Autodialer" not in queues
    for action in ("start", "stop", "delete"):
        with pytest.raises(NotFoundError, match="queue not found"):  # {"message": ...} in a 200
            await getattr(cc.autodialer, action)("Autodialer")
        assert fake.received(f"/v2/autodialer/queue/{action}")[-1].json == {
            "queue_code": "Autodialer"
        }


async def test_autodialer_invalid_campaign(fake: FakeTel4vn, cc: CallCenterClient) -> None:
    with pytest.raises(BadRequestError, match="campaign is invalid"):
        await cc.autodialer.create_queue(
            campaign_id="nope", queue_code="Q", precall_ratio="150", max_recall_count=0,
            customers=CUSTOMERS,
        )  # fmt: skip
    assert fake.count("/v2/autodialer/queue") == 1
    assert fake.queues("autodialer") == {}


async def test_queue_imports_are_never_sent_twice(fake: FakeTel4vn, cc: CallCenterClient) -> None:
    await cc.session.token()
    fake.inject("/v2/autodialer/queue", drop="after")
    with pytest.raises(OutcomeUnknownError):
        await cc.autodialer.create_queue(
            campaign_id=DEFAULT_CAMPAIGN, queue_code="Q", precall_ratio=100,
            max_recall_count=1, customers=CUSTOMERS,
        )  # fmt: skip
    fake.inject("/v2/autocall/queue", status=500)
    with pytest.raises(Exception, match="500"):
        await cc.autocall_queues.create(queue_code="Q", template="IVR-1", customers=CUSTOMERS)
    assert fake.count("/v2/autodialer/queue") == 1
    assert fake.count("/v2/autocall/queue") == 1


BASE: dict[str, Any] = {
    "campaign_id": DEFAULT_CAMPAIGN,
    "queue_code": "Q",
    "precall_ratio": 150,
    "max_recall_count": 2,
    "customers": CUSTOMERS,
}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"campaign_id": ""}, "campaign_id"),
        ({"queue_code": None}, "queue_code"),
        ({"precall_ratio": 0}, "precall_ratio"),
        ({"precall_ratio": "lots"}, "precall_ratio"),
        ({"max_recall_count": -1}, "max_recall_count"),
        ({"customers": []}, "customers"),
        ({"customers": "KH1"}, "customers"),
        ({"customers": [{"mobiles": ["0899123456"]}]}, "customers[0].id"),
        ({"customers": [{"id": "K", "mobiles": []}]}, "customers[0].mobiles"),
        ({"customers": [{"id": "K", "mobiles": "0899123456"}]}, "customers[0].mobiles"),
        ({"customers": [CUSTOMERS[0], {"id": "K", "mobiles": ["12"]}]}, "customers[1].mobiles[0]"),
        ({"customers": [42]}, "customers[0]"),
        ({"queue_agents": []}, "queue_agents"),
    ],
)
async def test_autodialer_validation(
    fake: FakeTel4vn, cc: CallCenterClient, change: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as info:
        await cc.autodialer.create_queue(**{**BASE, **change})
    assert info.value.field == field
    assert fake.count() == 0


async def test_autocall_queue_lifecycle(fake: FakeTel4vn, cc: CallCenterClient) -> None:
    customer = QueueCustomer(
        "TEL4VN_Test",
        ["0982596021"],
        {"contract_number": "HD123456", "due_date": "2021-07-13", "dpd": 5},
    )
    result = await cc.autocall_queues.create(
        queue_code="Autocall-Q1",
        template="IVR-1",
        customers=[customer, {"id": "KH2", "mobiles": ["0899123456"]}],
        concurrent_call=5,
        max_recall_count=3,
        min_recall_duration=3,
    )
    assert result == ImportResult(success=["TEL4VN_Test", "KH2"], fail=[])
    assert fake.received("/v2/autocall/queue")[0].json == {
        "queue_code": "Autocall-Q1",
        "template": "IVR-1",
        "concurrent_call": 5,
        "max_recall_count": 3,
        "min_recall_duration": 3,
        "customers": [
            {
                "contract_number": "HD123456",
                "due_date": "2021-07-13",
                "dpd": 5,
                "id": "TEL4VN_Test",
                "mobiles": ["0982596021"],
            },
            {"id": "KH2", "mobiles": ["0899123456"]},
        ],
    }
    await cc.autocall_queues.block("Autocall-Q1", ["KH_01", "KH_02"])
    assert fake.received("/v2/autocall/queue/dnc")[0].json == {
        "queue_code": "Autocall-Q1",
        "customers": [{"id": "KH_01"}, {"id": "KH_02"}],
    }
    queue = fake.queues("autocall")["Autocall-Q1"]
    assert queue["blocked"] == {"KH_01", "KH_02"}
    await cc.autocall_queues.stop("Autocall-Q1")
    assert queue["running"] is False
    await cc.autocall_queues.start("Autocall-Q1")
    assert queue["running"] is True
    await cc.autocall_queues.delete("Autocall-Q1")
    for action in ("start", "stop", "delete"):
        with pytest.raises(NotFoundError, match="queue not found"):  # {"code": 404} in a 200
            await getattr(cc.autocall_queues, action)("Autocall-Q1")
    with pytest.raises(NotFoundError):
        await cc.autocall_queues.block("Autocall-Q1", ["KH_01"])


async def test_autocall_import_fail(fake: FakeTel4vn, cc: CallCenterClient) -> None:
    fake.inject(
        "/v2/autocall/queue",
        status=200,
        body={"code": 400, "content": "import fail", "data": {"fail": ["K"], "success": []}},
    )
    with pytest.raises(BadRequestError, match="import fail") as info:
        await cc.autocall_queues.create(queue_code="Q", template="IVR-1", customers=CUSTOMERS)
    assert info.value.details["data"] == {"fail": ["K"], "success": []}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"template": " "}, "template"),
        ({"concurrent_call": 0}, "concurrent_call"),
        ({"min_recall_duration": -3}, "min_recall_duration"),
        ({"customers": [{"id": "", "mobiles": ["0899123456"]}]}, "customers[0].id"),
    ],
)
async def test_autocall_validation(
    fake: FakeTel4vn, cc: CallCenterClient, kwargs: dict[str, Any], field: str
) -> None:
    args: dict[str, Any] = {"queue_code": "Q", "template": "IVR-1", "customers": CUSTOMERS}
    with pytest.raises(ValidationError) as info:
        await cc.autocall_queues.create(**{**args, **kwargs})
    assert info.value.field == field
    for ids, bad in (
        ([], "customer_ids"),
        ("KH1", "customer_ids"),
        (["a", " "], "customer_ids[1]"),
    ):
        with pytest.raises(ValidationError) as info:
            await cc.autocall_queues.block("Q", ids)
        assert info.value.field == bad
    assert fake.count() == 0


class _Tier(Enum):
    GOLD = "gold"


async def test_free_form_fields_are_sent_as_json(fake: FakeTel4vn, cc: CallCenterClient) -> None:
    customer = QueueCustomer(
        "KH1",
        ["0982596021"],
        {
            "due_date": date(2021, 7, 13),
            "called_at": datetime(2021, 7, 13, 9, 30),
            "total_ovd_amount": Decimal("10410000"),
            "rate": Decimal("1.5"),
            "exact": Decimal("0.10000000000000000001"),
            "tier": _Tier.GOLD,
            "note": None,
        },
    )
    as_dict = {"id": "KH2", "mobiles": ["0899123456"], "dpd": Decimal("5"), "d": date(2021, 1, 2)}
    await cc.autocall_queues.create(queue_code="Q", template="IVR-1", customers=[customer, as_dict])
    assert fake.received("/v2/autocall/queue")[0].json["customers"] == [
        {
            "due_date": "2021-07-13",
            "called_at": "2021-07-13T09:30:00",
            "total_ovd_amount": 10410000,
            "rate": 1.5,
            "exact": "0.10000000000000000001",
            "tier": "gold",
            "note": None,
            "id": "KH1",
            "mobiles": ["0982596021"],
        },
        {"id": "KH2", "mobiles": ["0899123456"], "dpd": 5, "d": "2021-01-02"},
    ]


@pytest.mark.parametrize(
    ("customers", "field"),
    [
        (None, "customers"),
        ([QueueCustomer("K", ["0899123456"], {"due": object()})], "customers[0].due"),
        ([CUSTOMERS[0], {"id": "K", "mobiles": ["0899123456"], "x": {1, 2}}], "customers[1].x"),
        ([{"id": "K", "mobiles": ["0899123456"], "amount": float("nan")}], "customers[0].amount"),
        ([{"id": "K", "mobiles": ["0899123456"], "d": Decimal("NaN")}], "customers[0].d"),
        ([{"id": "K", "mobiles": ["0899123456"], "n": 10**400}], "customers[0].n"),
        ([{"id": "K", "mobiles": ["0899123456"], "s": "a\x00b"}], "customers[0].s"),
        ([{"id": "K", "mobiles": ["0899123456"], 7: "x"}], "customers[0].fields"),
        ([QueueCustomer("K", None)], "customers[0].mobiles"),  # type: ignore[arg-type]
        ([QueueCustomer(None, ["0899123456"])], "customers[0].id"),  # type: ignore[arg-type]
    ],
)
async def test_customers_that_are_not_json_are_refused(
    fake: FakeTel4vn, cc: CallCenterClient, customers: Any, field: str
) -> None:
    for create in (
        lambda: cc.autocall_queues.create(queue_code="Q", template="IVR-1", customers=customers),
        lambda: cc.autodialer.create_queue(**{**BASE, "customers": customers}),
    ):
        with pytest.raises(ValidationError) as info:
            await create()
        assert info.value.field == field
    assert fake.count() == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"precall_ratio": True}, "precall_ratio"),
        ({"precall_ratio": 1.5}, "precall_ratio"),
        ({"precall_ratio": "\u0661\u0665\u0660"}, "precall_ratio"),
        ({"max_recall_count": 10**400}, "max_recall_count"),
        ({"queue_agents": "5001\r\n5002"}, "queue_agents"),
        ({"queue_agents": ["5001", None]}, "queue_agents[1]"),
        ({"queue_code": "Q\x00"}, "queue_code"),
        ({"campaign_id": object()}, "campaign_id"),
    ],
)
async def test_autodialer_refuses_hostile_values(
    fake: FakeTel4vn, cc: CallCenterClient, change: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as info:
        await cc.autodialer.create_queue(**{**BASE, **change})
    assert info.value.field == field
    assert fake.count() == 0
