"""Every public method of both clients, given hostile arguments, refuses them before sending.

A table of method x argument x hostile values against FakeTel4vn: each call raises
``ValidationError`` whose ``field`` names the argument (or a part of it:
``customers[0].mobiles[1]``), and no request but a token request reaches the fake. Then
one hypothesis test per client family draws a method, some of its arguments and hostile
values for them, and asserts the same.
"""

from __future__ import annotations

import asyncio
import inspect
import io
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tel4vn_async import AutocallClient, CallCenterClient, NotFoundError, ValidationError
from tel4vn_async.models.autocall import OtpTemplate, PressOption, Sound, TtsTemplate, Voice
from tel4vn_async.models.callcenter import QueueCustomer
from tel4vn_async.testing import FakeTel4vn
from tel4vn_async.testing._callcenter import DEFAULT_CAMPAIGN

from .conftest import FAST_RETRY

NAN, INF = math.nan, math.inf
HUGE_TEXT = "x" * 100_000
PHONE = "0987654321"
OTP_TEMPLATE = OtpTemplate("1", "otp_demo", "Mã {{code_otp}}", Voice.SOUTH_F_03, 1.0)
TTS_TEMPLATE = TtsTemplate("1", "thong_bao_no_cuoc_01", content="Chào {{customer_name}}")
GOOD_CUSTOMER = {"id": "KH1", "mobiles": ["0899123456"]}

# Values wrong for any one-line text, id or enum argument (None is added for required ones).
_NOT_TEXT: list[object] = [
    True, False, 1.5, NAN, INF, -1, 10**400, b"x", [], ["a"], {}, {"a": 1}, {1, 2}, object(),
    "", "   ", "a\r\nb", "a\x00b", "\x1b[31m", "\x7f", "a\x85b", "\ud800", HUGE_TEXT,
]  # fmt: skip
_NOT_NUMBER: list[object] = [
    True, False, 1.5, NAN, INF, -INF, -1, 2**31, 10**400, object(), b"1", [], [1], {},
    "lots", "1.5", "-1", "\u0661", "9" * 30, HUGE_TEXT, Decimal("1"),
]  # fmt: skip
_NOT_ENUM: list[object] = [
    5, True, NAN, object(), "", "nope", "unknown", "\x00hangup", b"hangup", ["hangup"], HUGE_TEXT,
]  # fmt: skip

KINDS: dict[str, list[object]] = {
    "id": _NOT_TEXT,
    "path": [*_NOT_TEXT, ".", "..", "/", "./..", " .. "],
    "text": [*_NOT_TEXT, 5],
    "phone": [
        True,
        1.5,
        NAN,
        -5,
        10**400,
        "",
        "abc",
        "12",
        "+",
        "0123\n456789",
        "\uff10" * 10,
        "1" * 16,
        object(),
        b"0123456789",
        ["0123456789"],
        HUGE_TEXT,
    ],
    "customer_phone": [
        True,
        1.5,
        -5,
        10**400,
        "",
        "0123456789",
        "0899 098 899",
        "\uff10" * 10,
        object(),
        b"0899098899",
        HUGE_TEXT,
    ],
    "flag": ["yes", "true", 1, 0, 1.0, NAN, object(), b"", []],
    "int0": [*_NOT_NUMBER, "5"],
    "int1": [*_NOT_NUMBER, "5", 0],
    "digits0": _NOT_NUMBER,
    "digits1": [*_NOT_NUMBER, 0, "0"],
    "timeout": [True, "5", NAN, INF, -INF, -1, 0, 0.0, 3600.5, 10**400, object(), [], b"5"],
    "speed": [True, "1", NAN, INF, -0.1, 2.5, 10**400, object(), [], b"1"],
    "url": [
        "",
        "ftp://x.vn",
        "hooks.example",
        "http://",
        "https://a b.vn",
        "https://x.vn/\r\nX: y",
        "http://x.vn\x00",
        "https://" + HUGE_TEXT,
        "javascript:alert(1)",
        "http://[::1",
        "http://x.vn:99999",
        object(),
        b"https://x.vn",
        5,
        True,
        ["https://x.vn"],
    ],
    "secret": [
        object(),
        12345678,
        True,
        b"k3y-secret",
        "",
        "  ",
        "s3cr\r\net",
        "\x00",
        HUGE_TEXT,
        [],
    ],
    "enum": _NOT_ENUM,
    "date": [
        5,
        True,
        1.5,
        object(),
        "2021-13-01",
        "2021-02-30",
        "yesterday",
        "\uff12021-01-01",
        "2021-01-01T00:00:00",
        "2021-01-01\x00",
        b"2021-01-01",
        HUGE_TEXT,
    ],
    "ids": ["KH1", b"KH1", 5, object(), [], [None], ["a", ""], ["\x00"], {"a": 1}, [10**400]],
    "events": [5, object(), [], ["nope"], [None], "nope", b"hangup", {"hangup": 1}],
    "agents": [True, 5, object(), [], [""], ["\x00"], "", "a\r\nb", {"a": 1}, [None], [1.5]],
    "customers": [
        "KH1",
        42,
        object(),
        [],
        [42],
        [None],
        {"id": "K"},
        [{"id": "K"}],
        [{"mobiles": ["0899123456"]}],
        [{"id": "K", "mobiles": ["12"]}],
        [{"id": "K", "mobiles": "0899123456"}],
        [{**GOOD_CUSTOMER, "due": object()}],
        [{**GOOD_CUSTOMER, "amount": NAN}],
        [{**GOOD_CUSTOMER, "tags": {1, 2}}],
        [{**GOOD_CUSTOMER, "n": 10**400}],
        [{**GOOD_CUSTOMER, "d": Decimal("NaN")}],
        [{**GOOD_CUSTOMER, 5: "x"}],
        [{**GOOD_CUSTOMER, "s": "a\x00b"}],
        [QueueCustomer("K", ["0899123456"], {"x": object()})],
        [QueueCustomer("K", None)],  # type: ignore[arg-type]
        [QueueCustomer(None, ["0899123456"])],  # type: ignore[arg-type]
        [QueueCustomer("K", ["0899123456"], None)],  # type: ignore[arg-type]
    ],
    "callees": [PHONE, [], ["abc"], [None], [object()], 5, object(), {"a": 1}, [PHONE, PHONE]],
    "params": [
        ["a"],
        "x",
        5,
        object(),
        {"k": object()},
        {"k": NAN},
        {"k": 1.5},
        {"k": True},
        {"k": None},
        {"k": ""},
        {"k": "\x00"},
        {"k": 10**400},
        {5: "x"},
        {"": "x"},
        {"template_name": "x"},
        {"k": HUGE_TEXT},
        {"k": b"x"},
    ],
    "otp_template": [*_NOT_TEXT, 5, TTS_TEMPLATE, attrs.evolve(OTP_TEMPLATE, name=object())],  # type: ignore[arg-type]
    "tts_template": [*_NOT_TEXT, 5, OTP_TEMPLATE, attrs.evolve(TTS_TEMPLATE, name="")],
    "code": ["", True, "12 34", "1" * 17, 10**400, -5, 1.5, object(), "\u0661\u0662", b"123"],
    "otp_content": [
        5,
        object(),
        "",
        "  ",
        "no code here",
        "{{code_otp}}\x00",
        "{{ code }}",
        b"x",
        HUGE_TEXT,
    ],
    "content": [5, object(), "", "  ", "a\x00b", "\x1b", b"x", HUGE_TEXT, ["x"]],
    "press_options": [
        "1",
        5,
        object(),
        [5],
        [None],
        {"press_num": 1},
        [{"press_num": 10, "content": "y"}],
        [{"press_num": True, "content": "y"}],
        [{"press_num": 1, "content": object()}],
        [{1: 2}],
        [PressOption("x", content="y")],  # type: ignore[arg-type]
        [{"press_num": 1, "content": "y"}, {"press_num": 1, "content": "z"}],
    ],
    "sound": [
        "beep",
        5,
        object(),
        [],
        {"enable": "yes", "content": "y"},
        {"voice_type": object(), "content": "y"},
        {1: 2},
        {"content": "\x00"},
        Sound(enable="yes", content="x"),  # type: ignore[arg-type]
        Sound(content=object()),  # type: ignore[arg-type]
    ],
    "file": [
        object(),
        5,
        True,
        "",
        "\x00",
        "a\x00b",
        "/nonexistent/x.wav",
        HUGE_TEXT,
        "\ud800",
        [],
        {},
        io.StringIO("x"),
        b"",
    ],
    "filename": ["", "  ", "a\r\nb", 'a"b', "\x00", 5, object(), b"x", HUGE_TEXT],
}
# Any value at all is wrong for these: the base call's other arguments exclude them.
KINDS["not_with_tts"] = ["a.wav", 5, object(), NAN]


@attrs.frozen
class Method:
    """A public method, valid arguments for it, and the kind of each argument to spoil.

    ``args`` maps an argument to its kind in ``KINDS``; a trailing ``!`` means None is
    wrong for it too. ``overrides`` are changes to ``base`` that an argument needs to be
    the one at fault (``callees`` wants ``callee`` left out).
    """

    name: str
    base: dict[str, Any]
    args: dict[str, str]
    overrides: dict[str, dict[str, Any]] = attrs.field(factory=dict)

    def bound(self, client: Any) -> Callable[..., Any]:
        group, method = self.name.split(".")
        fn: Callable[..., Any] = getattr(getattr(client, group), method)
        return fn

    def kind(self, arg: str) -> tuple[str, bool]:
        kind = self.args[arg]
        return kind.rstrip("!"), kind.endswith("!")

    def values(self, arg: str) -> list[object]:
        kind, required = self.kind(arg)
        return [*KINDS[kind], *([None] if required else [])]


CDR_FILTERS = {
    "start_date": "date",
    "end_date": "date",
    "duration": "int0",
    "extension": "id",
    "phone": "phone",
    "direction": "enum",
}
CLICK = {"ext": "101", "phone": "0899098899"}
CLICK_OPTIONS = {
    "ext": "id!",
    "phone": "phone!",
    "src_cid_name": "text",
    "src_cid_number": "phone",
    "dest_cid_name": "text",
    "dest_cid_number": "phone",
    "auto_answer": "flag",
    "hotline": "phone",
    "customer_id": "id",
}
QUEUE = {"queue_code": "id!"}

CALLCENTER = [
    Method(
        "events.create",
        {"callback_url": "https://hooks.example/t4", "event": "hangup", "callback_apikey": "k3y"},
        {"callback_url": "url!", "event": "enum!", "callback_apikey": "secret"},
    ),
    Method("events.delete", {"event_id": "e1"}, {"event_id": "path!"}),
    Method(
        "events.subscribe",
        {"callback_url": "https://hooks.example/t4", "events": ["hangup"], "callback_apikey": "k"},
        {"callback_url": "url!", "events": "events!", "callback_apikey": "secret"},
    ),
    Method(
        "events.unsubscribe",
        {"callback_url": "https://hooks.example/t4", "events": ["hangup"]},
        {"callback_url": "url!", "events": "events"},
    ),
    Method("cdrs.list", {}, {**CDR_FILTERS, "page_size": "int1!"}),
    Method(
        "cdrs.page", {"page": 1, "limit": 10}, {**CDR_FILTERS, "page": "int1!", "limit": "int1!"}
    ),
    Method("cdrs.get", {"cdr_id_or_sip_call_id": "c1"}, {"cdr_id_or_sip_call_id": "path!"}),
    Method("click2call.call", {**CLICK, "timeout": 5}, {**CLICK_OPTIONS, "timeout": "timeout"}),
    Method("click2call.start", CLICK, CLICK_OPTIONS),
    Method(
        "click2call.dial",
        {"customer_id": "KH1", "mobile": "0899098899", "agent": "103"},
        {"customer_id": "id!", "mobile": "phone!", "agent": "id!"},
    ),
    *(
        Method(
            f"calls.{action}", {"call_id": "c1", "ext": "102"}, {"call_id": "path!", "ext": "id!"}
        )
        for action in ("transfer", "listen", "whisper", "barge")
    ),
    Method(
        "autodialer.create_queue",
        {
            "campaign_id": DEFAULT_CAMPAIGN,
            "queue_code": "Q",
            "precall_ratio": "150",
            "max_recall_count": 2,
            "customers": [GOOD_CUSTOMER],
            "queue_agents": ["5001"],
        },
        {
            "campaign_id": "id!",
            "queue_code": "id!",
            "precall_ratio": "digits1!",
            "max_recall_count": "digits0!",
            "customers": "customers!",
            "queue_agents": "agents",
        },
    ),
    *(Method(f"autodialer.{a}", {"queue_code": "Q"}, QUEUE) for a in ("start", "stop", "delete")),
    Method(
        "autocall_queues.create",
        {
            "queue_code": "Q",
            "template": "IVR-1",
            "customers": [GOOD_CUSTOMER],
            "concurrent_call": 5,
            "max_recall_count": 3,
            "min_recall_duration": 3,
        },
        {
            "queue_code": "id!",
            "template": "text!",
            "customers": "customers!",
            "concurrent_call": "digits1",
            "max_recall_count": "digits0",
            "min_recall_duration": "digits0",
        },
    ),
    Method(
        "autocall_queues.block",
        {"queue_code": "Q", "customer_ids": ["KH1"]},
        {"queue_code": "id!", "customer_ids": "ids!"},
    ),
    *(
        Method(f"autocall_queues.{a}", {"queue_code": "Q"}, QUEUE)
        for a in ("start", "stop", "delete")
    ),
    Method("users.status", {"user_id": "test.user01"}, {"user_id": "path!"}),
    Method("customers.list", {}, {"campaign_id": "id", "page_size": "int1!"}),
    Method("customers.get", {"customer_id": "c1"}, {"customer_id": "path!"}),
    Method(
        "customers.create",
        {
            "campaign_id": DEFAULT_CAMPAIGN,
            "customer_code": "K",
            "phone_number": "0899098899",
            "contract_number": "C1",
            "customer_name": "A",
        },
        {
            "campaign_id": "id!",
            "customer_code": "id!",
            "phone_number": "customer_phone!",
            "contract_number": "id!",
            "customer_name": "text",
        },
    ),
]

CALLBACK = {"callback_url": "https://hooks.example/t4", "callback_apikey": "k3y"}
CALLBACK_ARGS = {"callback_url": "url", "callback_apikey": "secret", "queue": "flag!"}

AUTOCALL = [
    Method(
        "templates.create_otp",
        {
            "campaign_id": 1,
            "name": "otp_x",
            "content": "Mã {{code_otp}}",
            "voice": "south-f-03",
            "speed": 1,
        },
        {
            "campaign_id": "path!",
            "name": "text!",
            "content": "otp_content!",
            "voice": "enum!",
            "speed": "speed!",
        },
    ),
    Method(
        "templates.create_tts",
        {"campaign_id": 1, "name": "t", "content": "Chào {{customer_name}}"},
        {
            "campaign_id": "path!",
            "name": "text!",
            "content": "content",
            "voice_type": "enum!",
            "voice": "enum",
            "speed": "speed",
            "audio_file": "not_with_tts",
            "press_options": "press_options!",
            "exit_sound": "sound",
            "invalid_sound": "sound",
        },
    ),
    Method(
        "calls.otp",
        {
            "campaign_id": "c1",
            "caller": "0123456789",
            "callee": PHONE,
            "template": "otp_demo",
            "code": "123ABC",
            **CALLBACK,
        },
        {
            "campaign_id": "id!",
            "caller": "phone!",
            "callee": "phone!",
            "template": "otp_template!",
            "code": "code!",
            **CALLBACK_ARGS,
        },
    ),
    Method(
        "calls.tts",
        {
            "caller": "0123456789",
            "template": "thong_bao_no_cuoc_01",
            "callee": PHONE,
            "params": {"customer_name": "A"},
            "campaign_id": "c1",
            **CALLBACK,
        },
        {
            "caller": "phone!",
            "template": "tts_template!",
            "callee": "phone",
            "callees": "callees",
            "params": "params",
            "campaign_id": "id",
            **CALLBACK_ARGS,
        },
        overrides={"callees": {"callee": None}},
    ),
    Method(
        "audio.upload",
        {"file": b"RIFF-audio", "filename": "a.wav"},
        {"file": "file!", "filename": "filename!"},
    ),
    Method(
        "reports.list",
        {"caller": "0123456789", "callee": PHONE},
        {"caller": "phone", "callee": "phone", "page_size": "int1!"},
    ),
    Method("reports.get", {"call_id": "c1"}, {"call_id": "path!"}),
]


def names(field: str | None, arg: str) -> bool:
    """Whether ``field`` is ``arg`` or a part of it (``arg[0]``, ``arg.key``)."""
    return field is not None and (field == arg or field.startswith((f"{arg}[", f"{arg}.")))


def sent(fake: FakeTel4vn) -> list[str]:
    return [f"{r.method} {r.path}" for r in fake.requests if "auth" not in r.path]


def _short(value: object) -> str:
    try:
        text = repr(value)
    except ValueError:
        return f"<{type(value).__name__}>"
    return text[:80]


async def refused(method: Callable[..., Any], kwargs: dict[str, Any]) -> ValidationError:
    """The ValidationError the call raises; any other outcome fails the test."""
    try:
        result = method(**kwargs)
        if inspect.isawaitable(result):
            await result
    except ValidationError as error:
        return error
    except Exception as error:  # the point: nothing but ValidationError
        pytest.fail(f"{type(error).__name__} instead of ValidationError: {error!s:.200}")
    pytest.fail("accepted")


def check_refusal(error: ValidationError, args: dict[str, Any], chosen: list[str]) -> None:
    assert any(names(error.field, a) for a in chosen), (error.field, chosen)
    message = str(error)
    assert len(message) < 1_000
    if error.field == "callback_apikey":  # another field's message may quote its own value
        secret = args["callback_apikey"]
        text = secret if isinstance(secret, str) else _short(secret)
        assert len(text) < 4 or text not in message, "the secret is in the message"


def table(methods: list[Method]) -> list[Any]:
    return [pytest.param(m, arg, id=f"{m.name}.{arg}") for m in methods for arg in m.args]


async def _each_value_refused(fake: FakeTel4vn, client: Any, method: Method, arg: str) -> None:
    for value in method.values(arg):
        kwargs = {**method.base, **method.overrides.get(arg, {}), arg: value}
        with _about(value):
            error = await refused(method.bound(client), kwargs)
            check_refusal(error, kwargs, [arg])
    assert sent(fake) == []


@contextmanager
def _about(value: object) -> Iterator[None]:
    try:
        yield
    except AssertionError as error:
        raise AssertionError(f"value {_short(value)}: {error}") from None


@pytest.mark.parametrize(("method", "arg"), table(CALLCENTER))
async def test_callcenter_refuses_each_bad_argument_before_sending(
    fake: FakeTel4vn, cc: CallCenterClient, method: Method, arg: str
) -> None:
    await _each_value_refused(fake, cc, method, arg)


@pytest.mark.parametrize(("method", "arg"), table(AUTOCALL))
async def test_autocall_refuses_each_bad_argument_before_sending(
    fake: FakeTel4vn, pbx: AutocallClient, method: Method, arg: str
) -> None:
    await _each_value_refused(fake, pbx, method, arg)


async def test_the_base_arguments_are_valid(
    fake: FakeTel4vn, cc: CallCenterClient, pbx: AutocallClient
) -> None:
    """Each table row spoils one argument of a call that is otherwise accepted."""
    for client, methods in ((cc, CALLCENTER), (pbx, AUTOCALL)):
        for method in methods:
            try:
                result = method.bound(client)(**method.base)
                if inspect.isawaitable(result):
                    await result
            except ValidationError as error:
                pytest.fail(f"{method.name}: {error}")
            except Exception:  # noqa: S112 - a server's refusal is fine here
                continue


# ----------------------------------------------------------------------- hypothesis

_CONTROL = st.sampled_from(["\x00", "\x01", "\x1b", "\x7f", "\x85", "\ud800"])
_OUT_OF_RANGE_FLOATS = {
    "timeout": st.one_of(st.floats(max_value=0), st.floats(min_value=3600.001)),
    "speed": st.one_of(st.floats(max_value=-1e-9), st.floats(min_value=2.000001)),
}


def hostile(kind: str, required: bool) -> st.SearchStrategy[object]:
    """Values wrong for an argument of ``kind``: its table and generated ones."""
    options: list[st.SearchStrategy[object]] = [
        st.sampled_from(KINDS[kind]),
        st.integers(max_value=-1),
        st.integers(min_value=10**300, max_value=10**400),
        st.text(max_size=8).flatmap(lambda s: _CONTROL.map(lambda c: s + c)),
        st.just(HUGE_TEXT),
        st.builds(object),
        st.dictionaries(st.text(max_size=4), st.builds(object), min_size=1, max_size=2),
        st.lists(
            st.one_of(st.none(), st.builds(object), st.floats(allow_nan=True)),
            min_size=1 if kind == "press_options" else 0,
            max_size=3,
        ),
        _OUT_OF_RANGE_FLOATS.get(kind, st.floats(allow_nan=True, allow_infinity=True)),
    ]
    if kind != "flag":
        options.append(st.booleans())
    if kind != "file":  # bytes are a file's content
        options.append(st.binary(max_size=8))
    if required:
        options.append(st.none())
    return st.one_of(options)


def _drive(family: type[CallCenterClient] | type[AutocallClient], methods: list[Method]) -> None:
    """Draw calls of ``methods`` with hostile arguments, against one fake for all of them.

    The fake and client live in a private event loop: function-scoped fixtures and
    ``@given`` do not mix.
    """
    loop = asyncio.new_event_loop()
    fake = FakeTel4vn()
    loop.run_until_complete(fake.start())
    client = family(fake.url, api_key=fake.api_key, retry_policy=FAST_RETRY)

    @settings(
        max_examples=80,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        method = data.draw(st.sampled_from(methods), label="method")
        chosen = sorted(
            data.draw(st.sets(st.sampled_from(sorted(method.args)), min_size=1, max_size=3))
        )
        kwargs = dict(method.base)
        for arg in chosen:
            kwargs.update(method.overrides.get(arg, {}))
        for arg in chosen:
            kwargs[arg] = data.draw(hostile(*method.kind(arg)), label=arg)
        error = loop.run_until_complete(refused(method.bound(client), kwargs))
        check_refusal(error, kwargs, chosen)
        assert sent(fake) == []

    try:
        check()
    finally:
        loop.run_until_complete(client.close())
        loop.run_until_complete(fake.close())
        loop.close()


def test_hypothesis_callcenter_methods_refuse_hostile_arguments() -> None:
    _drive(CallCenterClient, CALLCENTER)


def test_hypothesis_autocall_methods_refuse_hostile_arguments() -> None:
    _drive(AutocallClient, AUTOCALL)


# ----------------------------------------------------------------------- ids in URL paths

# Each stays one path segment: the fake logs the decoded path, and its route for the
# endpoint (one segment for the id) is the one that answers.
TRICKY_IDS = ["a/b", "a?b", "a#b", "100%", "  x  ", "a b", "%2e%2e", "a..", "é", "a\\b"]


@pytest.mark.parametrize("user", TRICKY_IDS)
async def test_a_user_id_stays_in_its_path_segment(
    fake: FakeTel4vn, cc: CallCenterClient, user: str
) -> None:
    fake.users().append(
        {"user_uuid": "u-9", "username": user.strip(), "extension": "109", "ext_loggedin": "true"}
    )
    status = await cc.users.status(user)
    assert status.extension == "109"  # the route matched, with the whole id as user_id
    assert fake.requests[-1].path == f"/v2/user/{user.strip()}/status"


@pytest.mark.parametrize("call_id", TRICKY_IDS)
async def test_a_call_id_stays_in_its_path_segment(
    fake: FakeTel4vn, cc: CallCenterClient, call_id: str
) -> None:
    fake.add_live_call(call_id=call_id.strip())
    result = await cc.calls.transfer(call_id, "102")
    assert result.call_id == call_id.strip()
    assert fake.requests[-1].path == f"/v2/call/{call_id.strip()}/transfer"


@pytest.mark.parametrize("event_id", TRICKY_IDS)
async def test_an_event_id_stays_in_its_path_segment(
    fake: FakeTel4vn, cc: CallCenterClient, event_id: str
) -> None:
    fake.state["cc_events"] = [{"event_domain_uuid": event_id.strip(), "event_name": "cdr"}]
    assert await cc.events.delete(event_id) is True
    assert fake.state["cc_events"] == []
    assert fake.requests[-1].path == f"/v1/event/{event_id.strip()}"


@pytest.mark.parametrize("campaign", TRICKY_IDS)
async def test_a_campaign_id_stays_in_its_path_segment(
    fake: FakeTel4vn, pbx: AutocallClient, campaign: str
) -> None:
    template = await pbx.templates.create_otp(campaign, "otp_x", "{{code_otp}}", "north-f-01", 1)
    assert template.campaign_id == campaign.strip()
    assert "otp_x" in fake.templates[campaign.strip()]
    assert fake.requests[-1].path == f"/v1/campaign/{campaign.strip()}/otp"


@pytest.mark.parametrize("ident", TRICKY_IDS)
async def test_lookups_by_id_stay_in_their_path_segment(
    fake: FakeTel4vn, cc: CallCenterClient, pbx: AutocallClient, ident: str
) -> None:
    lookups: list[tuple[Callable[[str], Any], str]] = [
        (cc.cdrs.get, "/v2/cdr/{}"),
        (cc.customers.get, "/v2/customer/{}"),
        (pbx.reports.get, "/v1/report/{}"),
    ]
    for lookup, path in lookups:
        with pytest.raises(NotFoundError):  # JSON from the route's handler, not a router 404
            await lookup(ident)
        assert fake.requests[-1].path == path.format(ident.strip())


@pytest.mark.parametrize("ident", [".", "..", "...", "/", "./..", " .. "])
async def test_ids_of_only_dots_and_slashes_are_refused(
    fake: FakeTel4vn, cc: CallCenterClient, pbx: AutocallClient, ident: str
) -> None:
    calls: list[tuple[Callable[[], Any], str]] = [
        (lambda: cc.users.status(ident), "user_id"),
        (lambda: cc.cdrs.get(ident), "cdr_id_or_sip_call_id"),
        (lambda: cc.customers.get(ident), "customer_id"),
        (lambda: cc.events.delete(ident), "event_id"),
        (lambda: cc.calls.barge(ident, "102"), "call_id"),
        (lambda: pbx.reports.get(ident), "call_id"),
        (
            lambda: pbx.templates.create_otp(ident, "n", "{{code_otp}}", "north-f-01", 1),
            "campaign_id",
        ),
    ]
    for call, field in calls:
        with pytest.raises(ValidationError) as info:
            await call()
        assert info.value.field == field
    assert sent(fake) == []
