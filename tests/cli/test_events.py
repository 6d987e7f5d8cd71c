"""``events list|subscribe|unsubscribe`` and ``webhook serve``."""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Any

from tel4vn_async.testing import FakeTel4vn

from .conftest import Run

URL = "https://bot.example.vn/tel4vn/events"
KEY = "cb-key-4f9a7e"


async def test_subscribe_list_unsubscribe(fake: FakeTel4vn, tel4vn: Run) -> None:
    sub = await tel4vn("events", "subscribe", URL, "--event", "hangup", "--event", "cdr",
                       "--callback-key", KEY)  # fmt: skip
    assert sub.code == 0, sub.err
    assert sorted(line.split("\t")[1] for line in sub.out.splitlines()) == ["cdr", "hangup"]
    again = await tel4vn("events", "subscribe", URL, "--event", "hangup",
                         "--callback-key", KEY)  # fmt: skip
    assert again.code == 0
    assert fake.count("/v1/event", "POST") == 2  # the second subscribe created nothing

    listed = await tel4vn("events", "list")
    assert listed.code == 0
    lines = listed.out.splitlines()
    assert len(lines) == 2
    assert all(URL in line and "with a key" in line for line in lines)

    gone = await tel4vn("events", "unsubscribe", URL)
    assert gone.code == 0
    assert gone.out.strip() == f"deleted 2 hook(s) of {URL}"
    assert (await tel4vn("events", "list")).out == ""
    assert KEY not in sub.text + again.text + listed.text + gone.text


async def test_bad_event_or_url_exits_2_and_sends_nothing(fake: FakeTel4vn, tel4vn: Run) -> None:
    bad_event = await tel4vn("events", "subscribe", URL, "--event", "answer")
    bad_url = await tel4vn("events", "subscribe", "ftp://x.example/y")
    assert (bad_event.code, bad_url.code) == (2, 2)
    assert "callback_url" in bad_url.err
    assert fake.count() == 0


async def _line(stream: asyncio.StreamReader) -> str:
    return (await asyncio.wait_for(stream.readline(), 10)).decode().strip()


async def test_webhook_serve_prints_each_event_once_and_checks_the_key(
    fake: FakeTel4vn,
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tel4vn_async", "webhook", "serve", "--port", "0",
        "--path", "/hook", "--callback-key", KEY,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    assert process.stderr is not None
    try:
        first = await _line(process.stdout)
        assert first.startswith("listening on http://127.0.0.1:")
        url = first.removeprefix("listening on ")
        event: dict[str, Any] = {"call_id": "c-1", "state": "hangup", "from_number": "101",
                                 "to_number": "0899888999", "duration": 12,
                                 "billsec": 9}  # fmt: skip
        ok = await fake.send_event(url, event, api_key=KEY)
        repeat = await fake.send_event(url, event, api_key=KEY)
        wrong = await fake.send_event(url, {**event, "state": "cdr"}, api_key="nope")
        assert (ok.status, repeat.status, wrong.status) == (200, 200, 401)
        await fake.send_event(url, {**event, "state": "cdr", "status": "answered"}, api_key=KEY)
        hangup, cdr = await _line(process.stdout), await _line(process.stdout)
        assert hangup == "hangup call=c-1 from=101 to=0899888999 duration=12 billsec=9"
        assert cdr.startswith("cdr call=c-1")
        assert "status=answered" in cdr
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(process.communicate(), 10)
    assert process.returncode == 0, err
    assert out == b""  # nothing more: the repeat and the refused one printed nothing
    assert KEY.encode() not in out + err
