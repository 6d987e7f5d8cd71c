"""The distributed fan-out with workers in this process (tasks): submit, results, status,
duplicate submissions, reconciling, stopping a worker. The multi-process tests are in
test_fanout_procs.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import pytest
import redis.asyncio as aioredis

from tel4vn_async import (
    AiohttpTransport,
    AutocallClient,
    BadRequestError,
    JobStatus,
    MemoryTokenStore,
    OtpJob,
    OutcomeUnknownError,
    Response,
    StoreError,
    Token,
    TtsJob,
    ValidationError,
)
from tel4vn_async._sansio import Request
from tel4vn_async.redis._run import Run, run_status, submit
from tel4vn_async.redis._worker import run_worker
from tel4vn_async.testing import FakeTel4vn

pytestmark = pytest.mark.redis

OTP = "/v1/autocall/otp"
CALLER = "0281234567"


def callee(i: int) -> str:
    return f"09{i:08d}"


def otp_jobs(n: int, start: int = 0) -> list[OtpJob]:
    return [
        OtpJob(callee(i), f"{i:06d}", "otp_demo", CALLER, 1, data={"line": i + 2})
        for i in range(start, start + n)
    ]


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def work(pbx: AutocallClient, redis: aioredis.Redis, n: int = 2, **kw: Any) -> None:
    """``n`` workers in this process, until the queue is empty."""
    kw.setdefault("concurrency", 8)
    await asyncio.gather(
        *(
            run_worker(pbx, redis, burst=True, worker_id=f"w{i}", poll_delay=0.01, **kw)
            for i in range(n)
        )
    )


def assert_dialled_at_most_once(fake: FakeTel4vn, jobs: Sequence[Any]) -> None:
    numbers = {j.callee for j in jobs if isinstance(j, OtpJob | TtsJob)}
    assert max((fake.dials[n] for n in numbers), default=0) <= 1


async def test_every_job_gets_one_result_and_is_read_back_typed(
    fake: FakeTel4vn, pbx: AutocallClient, redis: aioredis.Redis
) -> None:
    params = {"customer_name": "An", "due_amount": 5, "due_date": "01/01/2027"}
    jobs: list[Any] = otp_jobs(60)
    jobs.insert(3, OtpJob("12", "1", "otp_demo", CALLER, 1, key="bad-row"))  # bad callee
    jobs.insert(5, {"callee": callee(99)})  # not a job
    jobs.insert(7, jobs[0])  # the same key again
    jobs.insert(9, OtpJob(callee(77), "1", "no_such_template", CALLER, 1))  # refused: 400
    jobs.append(TtsJob(callee(88), "thong_bao_no_cuoc_01", params, CALLER, data="tts"))
    run = await submit(redis, jobs, run_id="basic")
    assert run.id == "basic"
    first = await run.status()
    assert first.submitted
    assert not first.done
    assert first.total == len(jobs)
    await work(pbx, redis)
    summary = await run.wait(interval=0.05)
    assert (summary.ok, summary.failed, summary.skipped, summary.unknown) == (61, 3, 1, 0)
    assert summary.total == len(jobs)
    assert summary.errors == {"ValidationError": 2, "BadRequestError": 1}
    results = {r.index: r async for r in run.results()}
    assert sorted(results) == list(range(len(jobs)))
    assert isinstance(results[3].error, ValidationError)
    assert (results[3].error.field, results[3].key) == ("callee", "bad-row")
    assert isinstance(results[5].error, ValidationError)
    assert results[5].key is None
    assert results[7].status is JobStatus.SKIPPED
    assert results[7].reason == "its key came up earlier in this run"
    assert isinstance(results[9].error, BadRequestError)
    assert results[9].attempts == 1
    placed = {c["callee"]: c["call_id"] for c in fake.calls}
    for result in results.values():
        if result.ok:
            assert result.call_id == placed[result.job.callee]
            assert result.attempts == 1
            assert result.job.data in ({"line": int(result.job.callee) - 900000000 + 2}, "tts")
    assert_dialled_at_most_once(fake, jobs)
    assert fake.count(OTP) == 61  # the 400 too
    status = await run_status(redis, "basic")
    assert status.done
    assert status.in_flight == 0
    assert status.workers == 0
    assert status.summary() == summary
    assert "run basic done: 65/65 jobs, 61 ok" in str(status)


async def test_submitting_a_run_again_even_at_once_dials_no_one_twice(
    fake: FakeTel4vn, pbx: AutocallClient, redis_url: str, redis: aioredis.Redis
) -> None:
    fake.latency = 0.01
    jobs = otp_jobs(150) + otp_jobs(10)  # ten keys twice: ten SKIPPED
    other = aioredis.Redis.from_url(redis_url)
    try:
        await asyncio.gather(
            submit(redis, jobs, run_id="again"),
            submit(other, iter(jobs), run_id="again"),
            work(pbx, redis),
        )
        run = await submit(redis, jobs, run_id="again")  # and once more, after the run
        await work(pbx, redis, n=1)
        summary = await run.wait(interval=0.05)
    finally:
        await other.aclose()
    assert (summary.total, summary.ok, summary.skipped) == (160, 150, 10)
    assert_dialled_at_most_once(fake, jobs)
    assert fake.count(OTP) == 150
    assert len([r async for r in run.results()]) == 160


async def test_unknown_jobs_are_reconciled_from_the_call_reports(
    fake: FakeTel4vn, pbx: AutocallClient, redis: aioredis.Redis
) -> None:
    for _ in range(3):  # placed, then the answer is lost
        fake.inject(OTP, drop="after")
    fake.inject(OTP, status=500)  # never placed (the fault answers before the handler)
    jobs = otp_jobs(20)
    run = await submit(redis, jobs, run_id="recon")
    await work(pbx, redis, n=1, concurrency=1)
    before = await run.wait(interval=0.05)
    assert before.unknown == 4
    assert before.errors == {"OutcomeUnknownError": 4}
    assert await run.reconcile(pbx) == 3
    after = (await run.status()).summary()
    assert (after.ok, after.unknown, after.reconciled) == (19, 1, 3)
    assert after.errors == {"OutcomeUnknownError": 1}
    results = [r async for r in run.results()]
    still = [r for r in results if r.status is JobStatus.UNKNOWN]
    assert len(still) == 1
    assert isinstance(still[0].error, OutcomeUnknownError)
    placed = {c["callee"]: c["call_id"] for c in fake.calls}
    assert all(r.call_id == placed[r.job.callee] for r in results if r.ok)
    assert await run.reconcile(pbx) == 0
    assert_dialled_at_most_once(fake, jobs)


async def test_a_stopped_worker_finishes_its_calls_and_gives_back_the_rest(
    fake: FakeTel4vn, pbx: AutocallClient, redis: aioredis.Redis
) -> None:
    fake.latency = 0.3
    jobs = otp_jobs(30)
    run = await submit(redis, jobs, run_id="stop", rate=20)
    worker = asyncio.ensure_future(
        run_worker(pbx, redis, concurrency=10, worker_id="leaving", poll_delay=0.01)
    )
    for _ in range(500):  # until some calls are in flight and others wait for the rate
        if fake.count(OTP) >= 3:
            break
        await asyncio.sleep(0.01)
    sent = fake.count(OTP)
    assert sent >= 3
    worker.cancel()
    with pytest.raises(asyncio.CancelledError):
        await worker
    stopped = await run.status()
    assert stopped.in_flight == 0  # the calls in flight were recorded, the rest given back
    assert stopped.ok == fake.count(OTP) < 30
    assert stopped.unknown == 0
    await work(pbx, redis, n=1)
    summary = await run.wait(interval=0.05)
    assert (summary.ok, summary.total) == (30, 30)
    assert_dialled_at_most_once(fake, jobs)


async def test_bad_arguments_are_refused(redis: aioredis.Redis, pbx: AutocallClient) -> None:
    with pytest.raises(ValidationError, match="run_id"):
        await submit(redis, [], run_id="a{b}")
    with pytest.raises(ValidationError, match="rate"):
        await submit(redis, [], rate=0)
    with pytest.raises(ValidationError, match="jobs"):
        await submit(redis, "not jobs")
    with pytest.raises(ValidationError, match="no run 'nope'"):
        await run_status(redis, "nope")
    with pytest.raises(ValidationError, match="concurrency"):
        await run_worker(pbx, redis, concurrency=0)
    empty = await submit(redis, [], run_id="empty")
    assert (await empty.status()).done
    assert [r async for r in Run(redis, "empty").results()] == []


class _BuggyTransport:
    """A user's transport with a bug: an exception that is no API answer, on every call."""

    def __init__(self) -> None:
        self.inner = AiohttpTransport()

    async def send(
        self, request: Request, *, url: str, headers: Mapping[str, str], timeout: float
    ) -> Response:
        if request.path == OTP:
            raise RuntimeError("a bug in a custom transport")
        return await self.inner.send(request, url=url, headers=headers, timeout=timeout)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_an_unexpected_exception_while_dialling_still_gives_one_result(
    fake: FakeTel4vn, redis: aioredis.Redis
) -> None:
    """Not an answer but a bug (here a custom transport's): the job is not lost, never
    left in flight; it ends UNKNOWN (the request was being sent), the worker goes on."""
    run = await submit(redis, otp_jobs(3), run_id="buggy")
    async with AutocallClient(fake.url, api_key=fake.api_key, transport=_BuggyTransport()) as pbx:
        await work(pbx, redis, n=1)
    status = await run.status()
    assert (status.done, status.unknown, status.in_flight) == (True, 3, 0)
    results = [r async for r in run.results()]
    assert {type(r.error) for r in results} == {OutcomeUnknownError}
    assert all("unexpected RuntimeError" in str(r.error) for r in results)


async def test_a_job_delivered_past_arqs_tries_is_still_dialled_once(
    fake: FakeTel4vn, pbx: AutocallClient, redis: aioredis.Redis
) -> None:
    """Stopping workers giving a job back spend arq's tries; a job nobody dialled is
    never dropped for it (it would have no result): the claim ledger decides."""
    run = await submit(redis, otp_jobs(2), run_id="tried")
    async for key in redis.scan_iter(match="arq:job:tried:*"):
        job_id = key.decode().removeprefix("arq:job:")
        await redis.set(f"arq:retry:{job_id}", 7)  # as if given back seven times
    await work(pbx, redis, n=1)
    status = await run.status()
    assert (status.done, status.ok) == (True, 2)
    assert [fake.dials[callee(i)] for i in range(2)] == [1, 1]


class _FlakyStore(MemoryTokenStore):
    """A token store that cannot be read twice (its Redis down), then can."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 2

    async def load(self) -> Token | None:
        if self.failures:
            self.failures -= 1
            raise StoreError("Redis failed while reading the shared token (ConnectionError)")
        return await super().load()


async def test_a_failing_token_store_sends_the_job_back_not_to_failed(
    fake: FakeTel4vn, redis: aioredis.Redis
) -> None:
    """No token because its store is down: nothing was sent, so the job goes back to the
    queue and is dialled once the store answers, instead of ending FAILED."""
    run = await submit(redis, otp_jobs(1), run_id="storeless")
    store = _FlakyStore()
    async with AutocallClient(fake.url, api_key=fake.api_key, token_store=store) as pbx:
        await work(pbx, redis, n=1, concurrency=1)
    status = await run.status()
    assert (status.done, status.ok, status.failed) == (True, 1, 0)
    assert store.failures == 0
    assert fake.dials[callee(0)] == 1
