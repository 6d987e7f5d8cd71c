"""The contenders and the rounds of ``compare.py``, run in a worker process.

Not a benchmark itself: ``compare.py`` runs ``compare.py --worker`` once per JSON mode (the
worker hides orjson before the SDK is imported, when asked), and that worker calls
``run_worker`` here. Everything timed runs in this process; the server runs in another.

Four contenders do the same work against the same lean server:

- ``raw``: one ``aiohttp.ClientSession``, a token fetched by hand, ``await resp.json()``:
  dicts.
- ``typed``: the same, plus a small attrs class (``HandCdr``) built by hand from each dict:
  the fair "typed" baseline.
- ``httpx``: one ``httpx.AsyncClient`` (pool sized as aiohttp's: 100), ``resp.json()``:
  dicts.
- ``sdk``: one ``CallCenterClient``: ``cc.cdrs.get(id)`` and ``cc.cdrs.list(page_size=)``,
  typed ``Cdr`` models.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import resource
import sys
import threading
import time
import types
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from functools import partial
from typing import Any, Protocol

import aiohttp
import attrs
import httpx

from tel4vn_async import CallCenterClient

TOKEN_PATH = "/v2/auth/token"
CDR_PATH = "/v2/cdr"
CONTENDERS = ("raw", "sdk", "httpx", "typed")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- typed baseline


@attrs.frozen(slots=True)
class HandCdr:
    """What a careful hand-written client would build from a CDR dict."""

    id: str
    sip_call_id: str | None
    direction: str | None
    status: str | None
    cause: str | None
    duration: int | None
    extension: str | None
    from_number: str | None
    to_number: str | None
    customer_id: str | None
    recording_url: str | None
    started_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None


def _time(value: Any) -> datetime | None:
    # fromisoformat reads both formats the server sends: "2024-01-01 08:00:00" (naive)
    # and "2024-01-01T08:00:00+07:00" (aware).
    return datetime.fromisoformat(value) if value else None


def _int(value: Any) -> int | None:
    return int(value) if value is not None and value != "" else None


def _str(value: Any) -> str | None:
    return str(value) if value is not None and value != "" else None


def hand_cdr(d: dict[str, Any]) -> HandCdr:
    return HandCdr(
        id=str(d["id"]).strip(),
        sip_call_id=d.get("sip_call_id"),
        direction=_str(d.get("direction")),
        status=_str(d.get("status")),
        cause=_str(d.get("cause")),
        duration=_int(d.get("duration")),
        extension=_str(d.get("extension")),
        from_number=_str(d.get("from_number")),
        to_number=_str(d.get("to_number")),
        customer_id=_str(d.get("customer_id")),
        recording_url=_str(d.get("recording_url")),
        started_at=_time(d.get("time_started")),
        answered_at=_time(d.get("time_answered")),
        ended_at=_time(d.get("time_ended")),
    )


# --------------------------------------------------------------------------- the contenders


class Contender(Protocol):
    async def start(self) -> None: ...

    async def get(self, cdr_id: str) -> object: ...

    def scroll(self, page_size: int) -> AsyncIterator[object]: ...

    async def aclose(self) -> None: ...


class RawAiohttp:
    """Hand-written aiohttp: dicts (``typed=False``) or ``HandCdr`` objects (``typed=True``)."""

    def __init__(self, base_url: str, api_key: str, *, typed: bool) -> None:
        self.base_url = base_url
        self.api_key = api_key
        self.typed = typed
        self.headers: dict[str, str] = {}
        self._http: aiohttp.ClientSession | None = None

    @property
    def http(self) -> aiohttp.ClientSession:
        if self._http is None:
            raise RuntimeError("not started")
        return self._http

    async def start(self) -> None:
        self._http = aiohttp.ClientSession()
        body = {"api_key": self.api_key}
        async with self.http.post(self.base_url + TOKEN_PATH, json=body) as resp:
            resp.raise_for_status()
            token = (await resp.json())["data"]["token"]
        self.headers = {"Authorization": f"Bearer {token}"}

    async def get(self, cdr_id: str) -> object:
        async with self.http.get(f"{self.base_url}{CDR_PATH}/{cdr_id}", headers=self.headers) as r:
            if r.status != 200:
                raise RuntimeError(f"GET {CDR_PATH}/{cdr_id} answered {r.status}")
            record = await r.json()
        return hand_cdr(record) if self.typed else record

    async def scroll(self, page_size: int) -> AsyncIterator[object]:
        params = {"limit": str(page_size)}
        offset = 0
        url = self.base_url + CDR_PATH
        while True:
            async with self.http.get(url, params=params, headers=self.headers) as r:
                if r.status != 200:
                    raise RuntimeError(f"GET {CDR_PATH} answered {r.status}")
                body = await r.json()
            batch = body["data"]
            if not batch:
                return
            if self.typed:
                for record in batch:
                    yield hand_cdr(record)
            else:
                for record in batch:
                    yield record
            offset += len(batch)
            total = body.get("total")
            if total is not None and offset >= total:
                return
            params["offset"] = str(offset)

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close()


class Httpx:
    """Hand-written httpx: dicts, as ``RawAiohttp(typed=False)``."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self.base_url = base_url
        self.api_key = api_key
        self.headers: dict[str, str] = {}
        # aiohttp's default pool: 100 connections, all kept alive (httpx keeps 20 idle).
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
        self.http = httpx.AsyncClient(limits=limits)

    async def start(self) -> None:
        resp = await self.http.post(self.base_url + TOKEN_PATH, json={"api_key": self.api_key})
        resp.raise_for_status()
        self.headers = {"Authorization": f"Bearer {resp.json()['data']['token']}"}

    async def get(self, cdr_id: str) -> object:
        r = await self.http.get(f"{self.base_url}{CDR_PATH}/{cdr_id}", headers=self.headers)
        if r.status_code != 200:
            raise RuntimeError(f"GET {CDR_PATH}/{cdr_id} answered {r.status_code}")
        return r.json()

    async def scroll(self, page_size: int) -> AsyncIterator[object]:
        params = {"limit": str(page_size)}
        offset = 0
        url = self.base_url + CDR_PATH
        while True:
            r = await self.http.get(url, params=params, headers=self.headers)
            if r.status_code != 200:
                raise RuntimeError(f"GET {CDR_PATH} answered {r.status_code}")
            body = r.json()
            batch = body["data"]
            if not batch:
                return
            for record in batch:
                yield record
            offset += len(batch)
            total = body.get("total")
            if total is not None and offset >= total:
                return
            params["offset"] = str(offset)

    async def aclose(self) -> None:
        await self.http.aclose()


class Sdk:
    """The SDK as documented: one ``CallCenterClient``, typed ``Cdr`` models."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self.cc = CallCenterClient(base_url, api_key=api_key)

    async def start(self) -> None:
        await self.cc.session.token()

    async def get(self, cdr_id: str) -> object:
        return await self.cc.cdrs.get(cdr_id)

    def scroll(self, page_size: int) -> AsyncIterator[object]:
        return aiter(self.cc.cdrs.list(page_size=page_size))

    async def aclose(self) -> None:
        await self.cc.close()


# --------------------------------------------------------------------------- the server's controls


class Control:
    """The lean server's ``/_bench/`` endpoints, on a session of their own (never timed)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._http: aiohttp.ClientSession | None = None

    async def call(self, method: str, what: str, **params: object) -> dict[str, Any]:
        if self._http is None:
            self._http = aiohttp.ClientSession()
        query = {k: str(v) for k, v in params.items()}
        url = f"{self.base_url}/_bench/{what}"
        async with self._http.request(method, url, params=query) as resp:
            resp.raise_for_status()
            answer: dict[str, Any] = await resp.json()
        return answer

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close()


# --------------------------------------------------------------------------- measuring


async def get_pool(contender: Contender, ids: Sequence[str], n: int, concurrency: int) -> None:
    """``n`` GETs by id with ``concurrency`` workers taking turns from one counter."""
    tickets = iter(range(n))
    k = len(ids)

    async def worker() -> None:
        for i in tickets:
            await contender.get(ids[i % k])

    await asyncio.gather(*(worker() for _ in range(min(concurrency, n))))


async def scroll_all(contender: Contender, page_size: int, expected: int) -> None:
    """Every record of the scroll, each built by the contender and handed to this loop."""
    count = 0
    last: object = None
    async for item in contender.scroll(page_size):
        last = item
        count += 1
    if count != expected or last is None:
        raise RuntimeError(f"scrolled {count} records, expected {expected}")


async def timed_run(control: Control, run: Callable[[], Awaitable[None]]) -> dict[str, float]:
    """One run: wall and process CPU seconds here, CPU seconds and requests on the server."""
    gc.collect()
    before = await control.call("GET", "stats")
    wall, cpu = time.perf_counter(), time.process_time()
    await run()
    cpu = time.process_time() - cpu
    wall = time.perf_counter() - wall
    after = await control.call("GET", "stats")
    return {
        "wall": wall,
        "cpu": cpu,
        "server_cpu": after["cpu_s"] - before["cpu_s"],
        "server_requests": after["requests"] - before["requests"],
    }


def rotated(names: Sequence[str], k: int) -> list[str]:
    k %= len(names)
    return [*names[k:], *names[:k]]


# --------------------------------------------------------------------------- token requests


async def token_burst(
    base_url: str, api_key: str, control: Control, ids: Sequence[str], burst: int, *, expiry: bool
) -> dict[str, Any]:
    """``burst`` concurrent ``cc.cdrs.get`` on a new client whose token is missing or expired.

    ``expiry=False``: the client has no token yet. ``expiry=True``: the server issues a
    token of 2 s; the client gets it and waits until it has expired; the server then goes
    back to tokens of an hour (so the refreshed token cannot go stale during a long burst,
    which would make a second refresh legitimate), and the burst starts.
    """
    lifetime = 2.0
    async with CallCenterClient(base_url, api_key=api_key) as cc:
        if expiry:
            await control.call("POST", "config", token_lifetime=lifetime)
            try:
                await cc.cdrs.get(ids[0])
            finally:
                await control.call("POST", "config", token_lifetime=3600)
            await asyncio.sleep(lifetime + 0.2)
        await control.call("POST", "reset")
        wall = time.perf_counter()
        k = len(ids)
        await asyncio.gather(*(cc.cdrs.get(ids[i % k]) for i in range(burst)))
        wall = time.perf_counter() - wall
        stats = await control.call("GET", "stats")
    return {
        "burst": burst,
        "token_requests": stats["token_requests"],
        "requests": stats["requests"],
        "seconds": wall,
    }


# --------------------------------------------------------------------------- memory


def rss_bytes() -> int:
    """This process's resident set size."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # not Linux: the peak so far, in KiB on Linux/BSD (a lower bound)
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class PeakSampler:
    """Samples the RSS every 10 ms on a thread, so a busy event loop cannot hide a peak."""

    def __init__(self) -> None:
        self.peak = rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, rss_bytes())

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())


async def million(
    sdk: Sdk, control: Control, total: int, page_size: int, held: int
) -> dict[str, Any]:
    """Stream ``total`` CDRs through the SDK client; RSS growth over the run.

    Run in a process of its own, right after one warm-up scroll of the ``held`` CDRs, so
    the RSS before is not a high-water mark left by earlier, bigger work (the token
    bursts' 10,000 tasks) under which a leak could grow unseen.
    """
    await scroll_all(sdk, page_size, held)
    await control.call("POST", "config", cdr_total=total)
    try:
        gc.collect()
        before = rss_bytes()
        with PeakSampler() as sampler:
            run = await timed_run(control, partial(scroll_all, sdk, page_size, total))
        gc.collect()
        after = rss_bytes()
    finally:
        await control.call("POST", "config", cdr_total=held)
    return {
        "cdrs": total,
        "rss_before": before,
        "peak_growth": sampler.peak - before,
        "retained_growth": after - before,
        **run,
    }


# --------------------------------------------------------------------------- the worker


def sdk_json_facts() -> dict[str, Any]:
    """Whether the SDK imported orjson, and the codec it says it uses (when it says)."""
    return {
        "sdk_loaded_orjson": isinstance(sys.modules.get("orjson"), types.ModuleType),
        # Read from sys.modules, never imported here.
        "sdk_codec": getattr(sys.modules.get("tel4vn_async._codec"), "CODEC", None),
    }


async def run_worker(cfg: dict[str, Any]) -> dict[str, Any]:
    base_url = f"http://127.0.0.1:{cfg['port']}"
    control = Control(base_url)
    try:
        info = await control.call("GET", "info")
        return await _measure(cfg, base_url, control, info)
    finally:
        await control.aclose()


async def _measure(
    cfg: dict[str, Any], base_url: str, control: Control, info: dict[str, Any]
) -> dict[str, Any]:
    api_key = "bench-api-key"
    ids: list[str] = info["ids"]
    scroll_total: int = info["cdr_total"]
    page_size: int = cfg["page_size"]
    n, conc, rounds = cfg["requests"], cfg["concurrency"], cfg["rounds"]
    sdk = Sdk(base_url, api_key)
    contenders: dict[str, Contender] = {
        "raw": RawAiohttp(base_url, api_key, typed=False),
        "sdk": sdk,
        "httpx": Httpx(base_url, api_key),
        "typed": RawAiohttp(base_url, api_key, typed=True),
    }
    results: dict[str, Any] = {
        "get": {name: [] for name in CONTENDERS},
        "scroll": {name: [] for name in CONTENDERS},
        "scroll_total": scroll_total,
    }
    try:
        if cfg["task"] == "million":
            await sdk.start()
            log(f"  streaming {cfg['million']:,} CDRs through the SDK")
            return {
                "million": await million(sdk, control, cfg["million"], page_size, scroll_total),
                **sdk_json_facts(),
            }
        for contender in contenders.values():
            await contender.start()
        # Warm-up, untimed: connection pools full, every code path and cache visited once.
        for contender in contenders.values():
            await get_pool(contender, ids, min(n, 500), conc)
            await scroll_all(contender, page_size, scroll_total)
        for r in range(rounds):
            order = rotated(CONTENDERS, r)
            log(f"  round {r + 1}/{rounds}: {', '.join(order)}")
            for name in order:
                get_run = partial(get_pool, contenders[name], ids, n, conc)
                results["get"][name].append(await timed_run(control, get_run))
            for name in order:
                scroll_run = partial(scroll_all, contenders[name], page_size, scroll_total)
                results["scroll"][name].append(await timed_run(control, scroll_run))
        results.update(sdk_json_facts())
        if cfg["burst"] > 0:
            tokens = {}
            cases = [("token expired", True)]
            if not cfg["quick"]:
                cases.insert(0, ("no token yet", False))
            for label, expiry in cases:
                log(f"  token burst: {cfg['burst']} concurrent requests, {label}")
                tokens[label] = await token_burst(
                    base_url, api_key, control, ids, cfg["burst"], expiry=expiry
                )
            results["tokens"] = tokens
    finally:
        for contender in contenders.values():
            with contextlib.suppress(Exception):
                await contender.aclose()
    return results


def worker_main(cfg: dict[str, Any], out_path: str) -> int:
    results = asyncio.run(run_worker(cfg))
    with open(out_path, "w") as out:
        json.dump(results, out)
    return 0
