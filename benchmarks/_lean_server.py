"""A lean TEL4VN stand-in for ``compare.py``: pre-rendered answers, in a process of its own.

    .venv/bin/python benchmarks/_lean_server.py [--cdrs 20000] [--page-size 500] [--latency 20]

Not a benchmark itself. It binds 127.0.0.1 on a free port, prints one JSON line
``{"port": ...}`` on stdout once it serves, and runs until its stdin closes (the parent
went away), SIGTERM or SIGINT. ``compare.py`` and ``bench_fanout.py`` start it and always stop it.

At start-up it asks a ``FakeTel4vn`` (in this process, once) for ``--cdrs`` records, so
they have the shape the SDK's own fake serves (default mapping, ids with a stray space,
``duration`` sometimes a string, ``""`` for no time, the integer ``direction``), then
rewrites the times of every other record from ``YYYY-MM-DD HH:MM:SS`` to ISO 8601 with
an offset (``2024-01-01T08:00:37+07:00``): both time formats the API sends. Everything is
then encoded once, HTTP head included: a request costs a dictionary look-up and, for a
listing page, a join of pre-encoded bytes. The HTTP/1.1 is a minimal ``asyncio.Protocol``
(keep-alive, ``Content-Length`` bodies) rather than ``aiohttp.web``, whose per-request work
was as much as a raw aiohttp client's on this 2-core machine: the server must never be what
a client waits for.

Endpoints:

- ``POST /v2/auth/token``: the call center's token answer (``expired_in`` = the current
  token lifetime); every one is counted.
- ``GET /v2/cdr/{id}``: one of the first ``--by-id`` records (``GET /_bench/info`` lists
  their ids), else a 404 body.
- ``GET /v2/cdr?limit=&offset=``: the scroll, offset style (``data``, ``limit``,
  ``offset`` = the next cursor, ``total``); past ``--cdrs`` the records cycle, each
  id suffixed ``-c<cycle>`` so none repeats, and the total can exceed what is held
  (``/_bench/config?cdr_total=``).
- ``POST /v1/auth/token``: the autocall token answer (``{"data": {"access_token": ...,
  "expire_at": <Unix time>, ...}}``, as ``FakeTel4vn`` answers it); counted with the
  others.
- ``POST /v1/autocall/otp``: ``{"call_id": "...", "status": "success"}``, answered
  ``--latency`` milliseconds later (a timer, never a blocking wait; later answers on the
  same connection queue behind it, so pipelining keeps its order). Each call is counted
  against its ``callee`` on arrival, as a PBX dials before it answers; nothing else of
  the body is checked.
- ``GET /_bench/info``, ``GET /_bench/stats`` (token requests, requests, this process's
  CPU seconds, ``dials``, ``dialled_twice``: callees dialled more than once, and
  ``in_flight_max``: the most OTP answers held back by the latency at once),
  ``POST /_bench/reset`` (the counters and the dials),
  ``POST /_bench/config?token_lifetime=&cdr_total=&latency_ms=``: the harness's controls,
  never timed.

Requests other than the token and the controls need ``Authorization: Bearer <token>``
(any token this server issued), else 401.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import re
import signal
import sys
import time
import urllib.parse
from typing import Any

import aiohttp

from tel4vn_async.testing import FakeTel4vn

TOKEN_PATH = "/v2/auth/token"
AUTOCALL_TOKEN_PATH_B = b"/v1/auth/token"
OTP_PATH_B = b"/v1/autocall/otp"
# The callee in any JSON spelling the clients use (json.dumps, orjson: with or without
# spaces); a regular expression costs a fraction of decoding the whole body.
CALLEE_RE = re.compile(rb'"callee"\s*:\s*"([^"]*)"')
CDR_PATH = "/v2/cdr"
CDR_PREFIX = "/v2/cdr/"
TOKEN_PREFIX = "bench-token-"
TOKEN_PATH_B = TOKEN_PATH.encode()
CDR_PATH_B = CDR_PATH.encode()
BEARER_B = f"Bearer {TOKEN_PREFIX}".encode()
MAX_HEAD = 64 * 1024


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="the lean server compare.py runs against")
    parser.add_argument("--cdrs", type=int, default=20_000, help="distinct CDRs held")
    parser.add_argument("--page-size", type=int, default=500, help="page size pre-joined")
    parser.add_argument("--by-id", type=int, default=64, help="CDRs served by id")
    parser.add_argument("--token-lifetime", type=float, default=3600.0, help="seconds")
    parser.add_argument(
        "--latency", type=float, default=0.0, help="milliseconds before an OTP call's answer"
    )
    args = parser.parse_args(argv)
    if args.cdrs < 1 or args.page_size < 1 or not 1 <= args.by_id <= args.cdrs:
        parser.error("--cdrs and --page-size must be positive, --by-id from 1 to --cdrs")
    if not 0 <= args.latency < 3_600_000:
        parser.error("--latency must be 0 or more milliseconds")
    return args


# --------------------------------------------------------------------------- the records


def _iso_with_offset(value: object) -> object:
    """``2024-01-01 08:00:37`` as ``2024-01-01T08:00:37+07:00``; anything else unchanged."""
    if isinstance(value, str) and len(value) == 19 and value[10] == " ":
        return f"{value[:10]}T{value[11:]}+07:00"
    return value


async def fake_records(n: int) -> list[dict[str, Any]]:
    """``n`` CDRs as FakeTel4vn serves them (one request to a fake in this process)."""
    async with FakeTel4vn() as fake, aiohttp.ClientSession() as http:
        fake.seed_cdrs(n)
        async with http.post(fake.url + TOKEN_PATH, json={"api_key": fake.api_key}) as resp:
            resp.raise_for_status()
            token = (await resp.json())["data"]["token"]
        async with http.get(
            fake.url + CDR_PATH,
            params={"limit": str(n), "offset": "0"},
            headers={"Authorization": f"Bearer {token}"},
        ) as resp:
            resp.raise_for_status()
            records: list[dict[str, Any]] = (await resp.json())["data"]
    if len(records) != n:
        raise RuntimeError(f"FakeTel4vn served {len(records)} CDRs, expected {n}")
    for i, record in enumerate(records):
        if i % 2:
            for key in ("time_started", "time_answered", "time_ended", "dialAt", "hangupAt"):
                if key in record:
                    record[key] = _iso_with_offset(record[key])
    return records


def _dumps(value: object) -> bytes:
    # As the fake (and the real servers) encode: json.dumps defaults, UTF-8.
    return json.dumps(value, ensure_ascii=False).encode()


# --------------------------------------------------------------------------- the answers

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}
_REASONS |= {405: "Method Not Allowed", 411: "Length Required", 431: "Headers Too Large"}


def http_response(body: bytes, status: int = 200) -> bytes:
    """A whole HTTP/1.1 response (kept alive), ready to write."""
    head = (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
        "Content-Type: application/json; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def json_response(value: object, status: int = 200) -> bytes:
    return http_response(_dumps(value), status)


NOT_FOUND = json_response({"code": 404, "content": "not found", "error": "Not Found"}, 404)
UNAUTHORIZED = json_response(
    {"code": 401, "content": "token is invalid", "error": "Unauthorized"}, 401
)


class LeanServer:
    """The pre-rendered answers, the counters, and what answers which request."""

    def __init__(self, records: list[dict[str, Any]], page_size: int, by_id: int) -> None:
        self.held = len(records)
        self.page_size = page_size
        self.encoded = [_dumps(r) for r in records]
        # Whole pages of page_size records, pre-joined; a page of the scroll is one of
        # these between a fixed head and a tail holding the cursor.
        self.chunks = [
            b", ".join(self.encoded[start : start + page_size])
            for start in range(0, self.held, page_size)
        ]
        # Each record's id as encoded (stripped of the stray space some carry): record
        # i >= held is record i % held with "-c<cycle>" appended to its id, wherever the
        # id appears, so a long scroll never repeats a record (the SDK checks for that).
        self.record_ids = [
            _dumps(str(r.get("id") or r.get("cdrId")).strip())[1:-1] for r in records
        ]
        self.ids = [record_id.decode() for record_id in self.record_ids[:by_id]]
        self.by_id = {
            (CDR_PREFIX + cdr_id).encode(): http_response(self.encoded[i])
            for i, cdr_id in enumerate(self.ids)
        }
        self.cdr_total = self.held
        self.token_lifetime = 3600.0
        self.token_requests = 0
        self.requests = 0
        self.latency = 0.0
        """Seconds before an OTP call is answered."""
        self.dials = 0
        self.in_flight = 0
        """OTP answers held back by the latency right now: the calls in flight."""
        self.in_flight_max = 0
        self.dialled: set[bytes] = set()
        """Every callee dialled since the last reset (bytes: a third of a str's size)."""
        self.dialled_twice: set[bytes] = set()
        self._token_body = b""
        self._autocall_token_body = b""
        self._set_token_body()
        self._page_cache: dict[tuple[int, int, int], bytes] = {}

    def _set_token_body(self) -> None:
        lifetime = self.token_lifetime
        data = {
            "client_id": "aaaaaaaa-1111-2222-3333-eeeeeeee",
            "domain_uuid": "dddddddd-1111-2222-3333-eeeeeeee",
            "expired_in": int(lifetime) if float(lifetime).is_integer() else lifetime,
            "refresh_token": "",
            "token": "@@TOKEN@@",
            "token_type": "Bearer",
            "user_id": "avavavav-1111-2222-3333-eeeeeeee",
        }
        self._token_body = _dumps({"code": 200, "content": "successfully", "data": data})
        # FakeTel4vn's autocall shape; expire_at is a Unix time, filled in per answer.
        autocall = {
            "user_id": "avavavav-1111-2222-3333-eeeeeeee",
            "access_token": "@@TOKEN@@",
            "refresh_token": "",
            "token_type": "Bearer",
            "scope": "",
            "expire_at": 0,
        }
        self._autocall_token_body = _dumps({"data": autocall}).replace(
            b'"expire_at": 0', b'"expire_at": @@EXPIRE@@'
        )

    def configure(
        self,
        token_lifetime: float | None,
        cdr_total: int | None,
        latency_ms: float | None = None,
    ) -> None:
        if token_lifetime is not None:
            self.token_lifetime = token_lifetime
            self._set_token_body()
        if cdr_total is not None:
            self.cdr_total = cdr_total
            self._page_cache.clear()
        if latency_ms is not None:
            self.latency = max(0.0, latency_ms) / 1000

    def reset(self) -> None:
        """Zero the counters and forget who was dialled."""
        self.token_requests = self.requests = self.dials = 0
        self.in_flight_max = self.in_flight
        self.dialled.clear()
        self.dialled_twice.clear()

    def token(self, body: bytes, *, autocall: bool = False) -> bytes:
        if b'"api_key"' not in body:
            return json_response({"code": 401, "content": "api_key is invalid"}, 401)
        self.token_requests += 1
        token = f"{TOKEN_PREFIX}{self.token_requests}".encode()
        if not autocall:
            return http_response(self._token_body.replace(b"@@TOKEN@@", token))
        expire_at = b"%d" % int(time.time() + self.token_lifetime)
        body = self._autocall_token_body.replace(b"@@TOKEN@@", token)
        return http_response(body.replace(b"@@EXPIRE@@", expire_at))

    def otp(self, body: bytes) -> bytes:
        """Place an OTP call: count its callee, answer a fresh call id."""
        match = CALLEE_RE.search(body)
        if match is None:
            return json_response({"code": 400, "content": "callee is required"}, 400)
        callee = match.group(1)
        self.dials += 1
        if callee in self.dialled:
            self.dialled_twice.add(callee)
        else:
            self.dialled.add(callee)
        # A UUID's shape, as the API's ids; the counter keeps every id unique.
        call_id = b"%08x-0000-4000-8000-000000000000" % self.dials
        return http_response(b'{"call_id": "' + call_id + b'", "status": "success"}')

    def record(self, i: int) -> bytes:
        """Record ``i`` encoded: a held record, its id made unique past the first cycle."""
        cycle, j = divmod(i, self.held)
        if cycle == 0:
            return self.encoded[j]
        record_id = self.record_ids[j]
        return self.encoded[j].replace(record_id, record_id + b"-c%d" % cycle)

    def page(self, query: bytes) -> bytes:
        params = urllib.parse.parse_qs(query.decode("latin-1"))
        try:
            limit = max(1, int(params.get("limit", ["10"])[0]))
            offset = max(0, int(params.get("offset", ["0"])[0]))
        except ValueError:
            return json_response({"code": 400, "content": "bad limit or offset"}, 400)
        key = (offset, limit, self.cdr_total)
        cached = self._page_cache.get(key)
        if cached is not None:
            return cached
        total, held = self.cdr_total, self.held
        count = max(0, min(total, offset + limit) - offset)
        if count == self.page_size and offset % self.page_size == 0 and offset + count <= held:
            data = self.chunks[offset // self.page_size]
        else:  # an odd page, or beyond the records held: joined record by record
            data = b", ".join(self.record(offset + k) for k in range(count))
        tail = f'], "limit": {limit}, "offset": {offset + count}, "total": {total}}}'
        response = http_response(b'{"data": [' + data + tail.encode())
        if total <= held:  # the default data set: every page is kept once built
            self._page_cache[key] = response
        return response

    def respond(self, method: bytes, target: bytes, auth: bytes, body: bytes) -> bytes:
        return self.answer(method, target, auth, body)[0]

    def answer(self, method: bytes, target: bytes, auth: bytes, body: bytes) -> tuple[bytes, float]:
        """The response to a request, and how many seconds to hold it back."""
        path, _, query = target.partition(b"?")
        if path.startswith(b"/_bench/"):
            return self.control(method, path, query), 0.0
        self.requests += 1
        if path == TOKEN_PATH_B:
            return (self.token(body) if method == b"POST" else NOT_FOUND), 0.0
        if path == AUTOCALL_TOKEN_PATH_B:
            return (self.token(body, autocall=True) if method == b"POST" else NOT_FOUND), 0.0
        if not auth.startswith(BEARER_B):
            return UNAUTHORIZED, 0.0
        if path == OTP_PATH_B and method == b"POST":
            return self.otp(body), self.latency
        return self.query(method, path, query), 0.0

    def query(self, method: bytes, path: bytes, query: bytes) -> bytes:
        """The call center's read endpoints (authenticated already)."""
        if method != b"GET":
            return json_response({"code": 405, "content": "method not allowed"}, 405)
        if path == CDR_PATH_B:
            return self.page(query)
        return self.by_id.get(path, NOT_FOUND)

    def control(self, method: bytes, path: bytes, query: bytes) -> bytes:
        if path == b"/_bench/info":
            return json_response(
                {
                    "ids": self.ids,
                    "cdrs": self.held,
                    "page_size": self.page_size,
                    "cdr_total": self.cdr_total,
                }
            )
        if path == b"/_bench/stats":
            return json_response(
                {
                    "token_requests": self.token_requests,
                    "requests": self.requests,
                    "cpu_s": time.process_time(),
                    "dials": self.dials,
                    "dialled_twice": len(self.dialled_twice),
                    "in_flight_max": self.in_flight_max,
                }
            )
        if path == b"/_bench/reset" and method == b"POST":
            self.reset()
            return json_response({"ok": True})
        if path == b"/_bench/config" and method == b"POST":
            params = urllib.parse.parse_qs(query.decode("latin-1"))
            lifetime = params.get("token_lifetime")
            total = params.get("cdr_total")
            latency = params.get("latency_ms")
            self.configure(
                float(lifetime[0]) if lifetime else None,
                int(total[0]) if total else None,
                float(latency[0]) if latency else None,
            )
            return json_response(
                {
                    "token_lifetime": self.token_lifetime,
                    "cdr_total": self.cdr_total,
                    "latency_ms": self.latency * 1000,
                }
            )
        return NOT_FOUND


# --------------------------------------------------------------------------- HTTP/1.1


class _Slot:
    """A response's place in a connection's queue: HTTP/1.1 answers in request order."""

    __slots__ = ("close", "response")

    def __init__(self, close: bool) -> None:
        self.response: bytes | None = None
        self.close = close


class HttpProtocol(asyncio.Protocol):
    """Just enough HTTP/1.1 for these clients: keep-alive, Content-Length bodies, pipelining.

    No chunked request bodies (answered 411, then closed): none of the clients sends one.
    A response held back (an OTP call's latency) goes out from a loop timer; while one
    is held, later answers on the connection queue behind it.
    """

    def __init__(self, lean: LeanServer) -> None:
        self.lean = lean
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.pending: collections.deque[_Slot] = collections.deque()
        self.closing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        # Timers still due find the transport closing and write nothing.
        self.pending.clear()

    def data_received(self, data: bytes) -> None:
        if self.closing:  # after "Connection: close", nothing more is read
            return
        buffer = self.buffer
        buffer += data
        transport = self.transport
        assert transport is not None
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > MAX_HEAD:
                    self._fail(431)
                return
            lines = bytes(buffer[:end]).split(b"\r\n")
            try:
                method, target, _ = lines[0].split(b" ", 2)
            except ValueError:
                self._fail(400)
                return
            length = 0
            auth = b""
            close = False
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    if not value.strip().isdigit():
                        self._fail(400)
                        return
                    length = int(value)
                elif name == b"authorization":
                    auth = value.strip()
                elif name == b"connection":
                    close = value.strip().lower() == b"close"
                elif name == b"transfer-encoding":
                    self._fail(411)
                    return
            stop = end + 4 + length
            if len(buffer) < stop:
                return
            body = bytes(buffer[end + 4 : stop])
            del buffer[:stop]
            response, delay = self.lean.answer(method, target, auth, body)
            if delay <= 0 and not self.pending:  # the common case: answer now
                transport.write(response)
                if close:
                    transport.close()
                    return
                continue
            slot = _Slot(close)
            self.pending.append(slot)
            if delay > 0:
                lean = self.lean
                lean.in_flight += 1
                lean.in_flight_max = max(lean.in_flight_max, lean.in_flight)
                asyncio.get_running_loop().call_later(delay, self._release, slot, response)
            else:
                self._ready(slot, response)
            if close:
                self.closing = True
                return

    def _release(self, slot: _Slot, response: bytes) -> None:
        self.lean.in_flight -= 1
        self._ready(slot, response)

    def _ready(self, slot: _Slot, response: bytes) -> None:
        """``slot``'s answer is due: write every answer now at the head of the queue."""
        slot.response = response
        transport, pending = self.transport, self.pending
        assert transport is not None
        while pending and pending[0].response is not None:
            head = pending.popleft()
            if transport.is_closing():
                pending.clear()
                return
            assert head.response is not None
            transport.write(head.response)
            if head.close:
                pending.clear()
                transport.close()
                return

    def _fail(self, status: int) -> None:
        assert self.transport is not None
        self.transport.write(json_response({"code": status}, status))
        self.transport.close()


async def serve(args: argparse.Namespace) -> None:
    records = await fake_records(args.cdrs)
    lean = LeanServer(records, args.page_size, args.by_id)
    lean.configure(args.token_lifetime, None, args.latency)
    del records
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: HttpProtocol(lean), host="127.0.0.1", port=0, backlog=1024
    )
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    stdin = sys.stdin.fileno()

    def stdin_readable() -> None:
        # EOF: the parent closed its end of the pipe, or died. Stop either way.
        with contextlib.suppress(OSError):
            if os.read(stdin, 4096):
                return
        loop.remove_reader(stdin)
        stop.set()

    loop.add_reader(stdin, stdin_readable)
    port = server.sockets[0].getsockname()[1]
    print(json.dumps({"port": port, "cdrs": lean.held}), flush=True)
    try:
        await stop.wait()
    finally:
        loop.remove_reader(stdin)
        server.close()
        await server.wait_closed()


def main(argv: list[str] | None = None) -> int:
    asyncio.run(serve(parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
