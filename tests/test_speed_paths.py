"""The shortcuts of the hot paths (issue 10) build and send exactly what the long ways did.

- Models are built as a layout-identical subclass, then made instances of the model
  (``_convert._builder``): the objects are the model's own, frozen, equal to what
  ``__init__`` builds, and a factory that takes ``self`` sees the model.
- The transport adds aiohttp middleware to call-placing GETs only, shares one
  ``ClientTimeout`` (for connecting: the attempt's deadline is its own), and looks a
  URL's proxy up once per origin.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import aiohttp
import attrs
import pytest

from tel4vn_async import errors
from tel4vn_async._convert import _builder, reader, structure
from tel4vn_async._sansio import Request, decode_response
from tel4vn_async._transport import AiohttpTransport, _no_resend
from tel4vn_async.models.callcenter import CallStatus, Cdr

RECORD = {
    "id": "abc ",
    "status": "ANSWERED",
    "duration": "6",
    "time_started": "2024-01-01 08:00:00",
    "time_ended": "2024-01-01T08:00:43+07:00",
    "recording_url": "",
}


def test_a_generated_model_is_an_instance_of_the_model_itself() -> None:
    for cdr in (reader(Cdr)(dict(RECORD)), structure(dict(RECORD), Cdr)):
        assert type(cdr) is Cdr
        by_init = Cdr(
            id="abc",
            status=CallStatus.ANSWERED,
            duration=6,
            started_at=datetime(2024, 1, 1, 8, 0),
            ended_at=datetime.fromisoformat("2024-01-01T08:00:43+07:00"),
            raw=dict(RECORD),
        )
        assert cdr == by_init
        assert hash(cdr) == hash(by_init)
        assert cdr.raw == RECORD
        assert cdr.mapping == "default"
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            cdr.id = "x"  # type: ignore[misc]


@attrs.frozen
class _Watched:
    name: str | None = None
    raw: dict[str, Any] = attrs.field(factory=dict, eq=False)
    seen_as: type = attrs.field(init=False)

    @seen_as.default
    def _seen_as(self) -> type:
        return type(self)


def test_a_factory_that_takes_self_sees_the_model_not_the_builder() -> None:
    watched = structure({"name": " n "}, _Watched)
    assert type(watched) is _Watched
    assert watched.seen_as is _Watched
    assert (watched.name, watched.raw) == ("n", {"name": " n "})


@attrs.frozen
class _Sealed:
    name: str | None = None
    raw: dict[str, Any] = attrs.field(factory=dict, eq=False)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        raise TypeError("no subclasses")


def test_a_model_that_takes_no_builder_is_built_slot_by_slot() -> None:
    assert _builder(_Sealed) is None
    sealed = structure({"name": "x", "other": 1}, _Sealed)
    assert type(sealed) is _Sealed
    assert (sealed.name, sealed.raw) == ("x", {"name": "x", "other": 1})


class _Recording:
    """An aiohttp session stand-in that records what each request was sent with."""

    closed = False

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def request(self, method: str, url: str, **kwargs: Any) -> _Answer:
        self.calls.append(kwargs)
        return _Answer()


class _Answer:
    status = 200
    headers: Mapping[str, str] = {}

    async def __aenter__(self) -> _Answer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def read(self) -> bytes:
        return b"{}"


async def test_only_a_request_that_must_go_out_once_carries_the_no_resend_middleware() -> None:
    http = _Recording()
    transport = AiohttpTransport(http_session=http, trust_env=False)  # type: ignore[arg-type]
    url = "http://api.test/v1/click2call/async"
    await transport.send(Request("GET", "/v2/call"), url=url, headers={}, timeout=5)
    await transport.send(
        Request("GET", "/v1/click2call/async", places_call=True), url=url, headers={}, timeout=5
    )
    assert "middlewares" not in http.calls[0]
    assert http.calls[1]["middlewares"] == (_no_resend,)
    assert http.calls[1]["allow_redirects"] is False


async def test_the_sdks_own_session_has_no_middleware_of_its_own() -> None:
    transport = AiohttpTransport()
    try:
        assert getattr(transport._http(), "_middlewares", ()) == ()
    finally:
        await transport.aclose()


async def test_requests_share_one_client_timeout_per_timeout_bounding_connecting_only() -> None:
    # The attempt's deadline is the transport's own (tests/test_deadlines.py): aiohttp
    # arms no timer of its own on a pooled connection.
    http = _Recording()
    transport = AiohttpTransport(http_session=http, trust_env=False)  # type: ignore[arg-type]
    url = "http://api.test/v2/call"
    for request in (Request("GET", "/v2/call"), Request("GET", "/v2/call"),
                    Request("GET", "/v2/call", timeout=120)):  # fmt: skip
        await transport.send(request, url=url, headers={}, timeout=7.5)
    first, second, longer = (call["timeout"] for call in http.calls)
    assert first is second
    assert isinstance(first, aiohttp.ClientTimeout)
    assert (first.total, first.connect, first.sock_connect, first.sock_read) == (
        None, 7.5, None, None)  # fmt: skip
    assert (longer.total, longer.connect, longer.sock_read) == (None, 120, None)


async def test_outside_a_task_aiohttp_keeps_the_time() -> None:
    http = _Recording()
    transport = AiohttpTransport(http_session=http, trust_env=False)  # type: ignore[arg-type]
    await transport.send(Request("GET", "/v2/call"), url="http://api.test/v2/call",
                         headers={}, timeout=7.5)  # fmt: skip
    transport._deadlines = None  # as when no task runs it: aiohttp's read timeout instead
    await transport.send(Request("GET", "/v2/call", timeout=120), url="http://api.test/v2/call",
                         headers={}, timeout=7.5)  # fmt: skip
    fallback = http.calls[1]["timeout"]
    assert (fallback.total, fallback.connect, fallback.sock_read) == (None, 120, 120)


def test_a_proxy_is_looked_up_once_per_origin_and_right_for_each(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for var in ("http_proxy", "https_proxy", "no_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
        monkeypatch.delenv(var.upper(), raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.test:3128")
    monkeypatch.setenv("NO_PROXY", "direct.test")
    transport = AiohttpTransport()
    urls = [
        "http://api.test/v2/cdr/1",
        "http://api.test/v2/cdr/2",
        "http://direct.test/v2/cdr/1",
        "http://api.test:8080/v2/cdr/1",
        "https://api.test/v2/cdr/1",
        "http://direct.test/v2/cdr/2",
        "http://api.test/v2/cdr/3",
    ]
    got = [transport._proxy_for(url) for url in urls]
    # Each against a transport that never saw another URL: the lookup of record.
    assert got == [AiohttpTransport()._proxy_for(url) for url in urls]
    assert got == [
        "http://proxy.test:3128",
        "http://proxy.test:3128",
        None,
        "http://proxy.test:3128",
        None,
        None,
        "http://proxy.test:3128",
    ]


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (200, b'{"status": "fail", "message": "queue not found"}', "APIError"),
        (503, b'{"code": 503}', "ServerError"),
        (503, b"<html>busy</html>", "TransportError"),
        (200, b"<html>", "TransportError"),
    ],
)
def test_retry_after_is_read_for_every_answer_that_fails(
    status: int, body: bytes, kind: str
) -> None:
    # decode_response reads the header only once an answer is not a plain success.
    with pytest.raises(getattr(errors, kind)) as info:
        decode_response(Request("GET", "/v2/cdr"), status, {"Retry-After": "7"}, body)
    assert getattr(info.value, "retry_after", None) == 7.0


def test_a_success_is_returned_whatever_its_retry_after() -> None:
    body = b'{"data": [], "total": 0}'
    for header in ({}, {"Retry-After": "7"}, {"Retry-After": "not a number"}):
        assert decode_response(Request("GET", "/v2/cdr"), 200, header, body) == {
            "data": [],
            "total": 0,
        }
