"""``model.to_dict()``: every model as plain JSON-safe values, ``raw`` and secrets left out
unless asked for; built by hypothesis from each model's own field types, and from what the
fake server answers.
"""

from __future__ import annotations

import enum
import json
import types
import typing
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tel4vn_async import AutocallClient, CallCenterClient, models
from tel4vn_async.models import Account, Cdr, Event, QueueCustomer, Report, Sound, TtsTemplate
from tel4vn_async.models._base import SECRET, to_plain
from tel4vn_async.testing import FakeTel4vn

MODELS = sorted(
    (cls for name in models.__all__ if attrs.has(cls := getattr(models, name))),
    key=lambda cls: cls.__name__,
)
KEY = "k3y-that-must-never-leak"
ZONES = st.sampled_from([None, timezone.utc, timezone(timedelta(hours=7))])
JSON_LEAF = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
)
JSON_VALUE = st.recursive(
    JSON_LEAF,
    lambda kids: (
        st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=5), kids, max_size=3)
    ),
    max_leaves=8,
)


def _strategy(hint: Any) -> st.SearchStrategy[Any]:
    """Values of a model field's type, as a caller or the converter may put there."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return st.one_of([_strategy(arg) for arg in args])
    if origin is typing.Literal:
        return st.sampled_from(args)
    if hint is type(None):
        return st.none()
    if hint is str:
        return st.text(max_size=12)
    if hint is bool:
        return st.booleans()
    if hint is int:
        return st.integers(-(2**70), 2**70)
    if hint is float:
        return st.floats(allow_nan=True, allow_infinity=True)
    if hint is datetime:
        return st.datetimes(timezones=ZONES)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return st.sampled_from(list(hint))
    if isinstance(hint, type) and attrs.has(hint):
        return _build(hint)
    if origin in (dict, Mapping):
        values = JSON_VALUE | st.dates() | st.decimals(allow_nan=False, places=3)
        return st.dictionaries(st.text(max_size=6), values, max_size=4)
    if origin in (list, Sequence):
        return st.lists(_strategy(args[0]), max_size=3)
    if origin is tuple:
        return st.lists(_strategy(args[0]), max_size=3).map(tuple)
    raise AssertionError(f"no strategy for {hint!r}: extend _strategy")


def _build(cls: type) -> st.SearchStrategy[Any]:
    hints = typing.get_type_hints(cls)
    fields = {f.name: _strategy(hints[f.name]) for f in attrs.fields(cls) if f.init}
    return st.builds(cls, **fields)


def _secret_fields(cls: type) -> set[str]:
    return {f.name for f in attrs.fields(cls) if f.metadata.get(SECRET)}


def _assert_plain(model: Any) -> None:
    """``to_dict()``: JSON as it is, each field formatted, ``raw`` and secrets left out."""
    cls = type(model)
    data = model.to_dict()
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    names = {f.name for f in attrs.fields(cls)}
    assert set(data) == names - {"raw"} - _secret_fields(cls)
    for name, item in data.items():
        value = getattr(model, name)
        if isinstance(value, datetime):
            assert datetime.fromisoformat(item) == value
            assert (datetime.fromisoformat(item).tzinfo is None) == (value.tzinfo is None)
        elif isinstance(value, enum.Enum):
            assert item == value.value
            assert type(item) is str  # a plain str, not the enum
    full = model.to_dict(include_raw=True, include_secrets=True)
    assert json.loads(json.dumps(full, allow_nan=False)) == full
    assert set(full) == names


def test_every_model_is_checked() -> None:
    assert len(MODELS) >= 19
    assert all(callable(getattr(cls, "to_dict", None)) for cls in MODELS)


@pytest.mark.parametrize("cls", MODELS, ids=lambda cls: cls.__name__)
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_any_model_is_json_safe(cls: type, data: st.DataObject) -> None:
    _assert_plain(data.draw(_build(cls)))


@pytest.mark.parametrize("cls", [Account, Event], ids=lambda cls: cls.__name__)
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_secrets_are_left_out_unless_asked_for(cls: type, data: st.DataObject) -> None:
    secrets = dict.fromkeys(_secret_fields(cls), KEY)
    raw = {"api_key": KEY, "deep": [{"token": KEY, "password": KEY}], "callback_apikey": KEY}
    model = attrs.evolve(data.draw(_build(cls)), **secrets, raw=raw)
    assert secrets
    assert KEY not in json.dumps(model.to_dict())
    assert KEY not in json.dumps(model.to_dict(include_raw=True))  # raw's secrets masked
    assert model.to_dict(include_raw=True)["raw"]["deep"] == [{"token": "***", "password": "***"}]
    shown = model.to_dict(include_secrets=True)
    assert all(shown[name] == KEY for name in secrets)
    assert "raw" not in shown
    assert model.to_dict(include_raw=True, include_secrets=True)["raw"] == raw
    assert KEY not in repr(model)


def test_values_are_formatted() -> None:
    cdr = Cdr(
        id="c1",
        status=models.CallStatus.ANSWERED,
        direction=models.CallDirection.OUTBOUND,
        started_at=datetime(2024, 1, 2, 3, 4, 5),  # zone-less, as the API sends it
        answered_at=datetime(2024, 1, 2, 3, 4, 6, 500, tzinfo=timezone(timedelta(hours=7))),
        raw={"cdrId": "c1", "when": float("nan")},
    )
    data = cdr.to_dict()
    assert data["status"] == "answered"
    assert data["direction"] == "outbound"
    assert data["started_at"] == "2024-01-02T03:04:05"  # never shifted, never given a zone
    assert data["answered_at"] == "2024-01-02T03:04:06.000500+07:00"
    assert data["mapping"] == "flex"
    assert "raw" not in data
    assert cdr.to_dict(include_raw=True)["raw"] == {"cdrId": "c1", "when": None}  # no NaN


def test_nested_models_and_free_values() -> None:
    template = TtsTemplate(
        "1",
        "t",
        press_options=(models.PressOption(1, content="{{a}}"),),
        exit_sound=Sound(content="bye"),
        voice=models.Voice.SOUTH_F_03,
    )
    data = template.to_dict()
    assert data["press_options"] == [
        {"press_num": 1, "type": "tts", "content": "{{a}}", "audio_file": None}
    ]
    assert data["exit_sound"] == {
        "voice_type": "tts",
        "content": "bye",
        "audio_file": None,
        "enable": True,
    }
    assert data["voice"] == "south-f-03"
    customer = QueueCustomer(
        "KH1",
        ("0987654321",),
        {"due": date(2024, 1, 30), "amount": Decimal("10410000"), "rate": Decimal("0.1")},
    )
    assert customer.to_dict() == {
        "id": "KH1",
        "mobiles": ["0987654321"],
        "fields": {"due": "2024-01-30", "amount": 10410000, "rate": 0.1},
    }
    assert models.Amount(10410000).to_dict() == {"value": 10410000}


def test_a_value_with_no_json_form_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="object"):
        QueueCustomer("KH1", ("0987654321",), {"x": object()}).to_dict()
    assert to_plain(frozenset({"b", "a"})) == ["a", "b"]
    assert to_plain(Decimal("1e400")) == "1E+400"  # exact text where a float loses digits


async def test_the_fake_servers_answers_convert(fake: FakeTel4vn) -> None:
    fake.seed_cdrs(3)
    fake.seed_customers(2)
    fake.add_live_call(call_id="c1", created_time="2021-06-08 17:37:37", direction="outbound")
    seen: list[Any] = []
    account = await CallCenterClient.login(fake.url, fake.username, fake.password)
    seen.append(account)
    async with CallCenterClient(fake.url, api_key=fake.api_key) as cc:
        seen.extend([cdr async for cdr in cc.cdrs.list()])
        seen.extend([c async for c in cc.customers.list()])
        seen.extend(await cc.calls.list())
        await cc.events.create("https://bot.example.vn/hook", "hangup", callback_apikey=KEY)
        seen.extend(await cc.events.list())
    async with AutocallClient(fake.url, api_key=fake.api_key) as pbx:
        template = await pbx.templates.create_otp(1, "otp_x", "Ma {{code_otp}}", "north-f-01", 1)
        call = await pbx.calls.otp(
            campaign_id=1, caller="0123456789", callee="0987654321", template=template, code="1"
        )
        seen.extend([template, call, await pbx.reports.get(call.call_id)])
    kinds = {type(model) for model in seen}
    assert {Account, Cdr, models.Customer, models.LiveCall, Event, Report} <= kinds
    for model in seen:
        _assert_plain(model)
        assert KEY not in json.dumps(model.to_dict(include_raw=True))
        assert fake.api_key not in json.dumps(model.to_dict(include_raw=True))
    assert account.to_dict(include_secrets=True)["api_key"] == account.api_key
    cdr = next(model for model in seen if isinstance(model, Cdr))
    assert isinstance(cdr.to_dict()["started_at"], str)
