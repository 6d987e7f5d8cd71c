"""Black-box review of section 12 (beyond one process): the distributed fan-out
(``submit``, ``run_worker``, ``Run``, ``run_status``), ``RedisTokenStore`` and
``RedisDedupe``, tried as a new user and as a hostile one, from the documented contract
only (API.md sections 1, 3, 7, 8, 12; README "Scaling out"; docs/scaling.md; docstrings).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from redis.exceptions import RedisError

from tel4vn_async import (
    AutocallClient,
    BadRequestError,
    CallCenterClient,
    JobStatus,
    OtpJob,
    OutcomeUnknownError,
    RetryPolicy,
    Tel4vnError,
    TtsJob,
    ValidationError,
)
from tel4vn_async.redis import (
    RedisDedupe,
    RedisTokenStore,
    Run,
    RunStatus,
    connect,
    run_status,
    run_worker,
    submit,
)
from tel4vn_async.testing import FakeTel4vn
from tel4vn_async.webhooks import webhook_app

pytestmark = pytest.mark.redis

FAST = RetryPolicy(backoff_base=0.005, backoff_max=0.02, max_retry_after=2.0)
OTP_PATH = "/v1/autocall/otp"
CALLER = "0281234567"
SECRET_PW = "hunter2Pw9q"  # a Redis password that must never show


def otp(i: int, **kw: Any) -> OtpJob:
    kw.setdefault("code", "123456")
    kw.setdefault("template", "otp_login")
    kw.setdefault("caller", CALLER)
    kw.setdefault("campaign_id", 1)
    kw.setdefault("callee", f"0987{i:06d}")
    return OtpJob(**kw)


def with_password(url: str, password: str = SECRET_PW) -> str:
    scheme, rest = url.split("://", 1)
    if "@" in rest:
        rest = rest.split("@", 1)[1]
    return f"{scheme}://:{password}@{rest}"


@contextlib.asynccontextmanager
async def env(
    redis_url: str, **fake_kw: Any
) -> AsyncIterator[tuple[FakeTel4vn, Any, AutocallClient]]:
    async with FakeTel4vn(**fake_kw) as fake:
        fake.seed_template(1, "otp_login", "Ma cua ban la {{code_otp}}", kind="otp")
        redis = connect(redis_url)
        try:
            async with AutocallClient(fake.url, api_key=fake.api_key, retry_policy=FAST) as pbx:
                yield fake, redis, pbx
        finally:
            await redis.aclose()


async def drain(pbx: AutocallClient, redis: Any, **kw: Any) -> None:
    """A burst worker: returns once the queue is empty (bounded, so a hang fails)."""
    kw.setdefault("concurrency", 5)
    await asyncio.wait_for(run_worker(pbx, redis, burst=True, **kw), 10)


async def all_results(run: Run) -> list[Any]:
    return [r async for r in run.results()]


async def dbsize(redis: Any) -> int:
    return int(await redis.dbsize())


# --- the documented examples ----------------------------------------------------------


async def test_documented_flow_one_result_per_job_nobody_dialled_twice(redis_url: str) -> None:
    async with env(redis_url) as (fake, redis, pbx):
        jobs = [otp(i) for i in range(12)]
        jobs.append(otp(3))  # a repeated key: SKIPPED, dialled once
        run = await submit(redis, jobs, rate=200)
        before = await run.status()
        assert isinstance(before, RunStatus)
        assert before.run_id == run.id
        assert before.submitted
        assert not before.done
        assert before.in_flight == 0
        assert before.ok == 0
        assert before.rate == 200
        assert fake.count(OTP_PATH) == 0  # nothing dialled before a worker runs

        await drain(pbx, redis)
        summary = await run.wait()
        assert (summary.ok, summary.failed, summary.unknown, summary.skipped) == (12, 0, 0, 1)
        assert summary.total == 13

        results = await all_results(run)
        assert sorted(r.index for r in results) == list(range(13))
        by_index = {r.index: r for r in results}
        assert by_index[12].status is JobStatus.SKIPPED
        assert all(by_index[i].status is JobStatus.OK and by_index[i].call_id for i in range(12))
        assert isinstance(by_index[0].job, OtpJob)
        assert by_index[0].job.callee == jobs[0].callee
        assert fake.count(OTP_PATH) == 12
        assert all(len(fake.calls_to(j.callee)) == 1 for j in jobs)

        after = await run_status(redis_url, run.id)  # from a URL, as any process would
        assert after.done
        assert after.ok == 12
        assert after.skipped == 1
        assert after.in_flight == 0
        assert after.finished == 13
        assert run.id in str(after)
        assert after.summary().ok == 12


async def test_follow_ends_with_done_status(redis_url: str) -> None:
    async with env(redis_url) as (_fake, redis, pbx):
        run = await submit(redis, [otp(i) for i in range(3)])
        worker = asyncio.create_task(drain(pbx, redis))
        seen = []
        async for status in run.follow(interval=0.05):
            seen.append(status)
            if len(seen) > 400:
                break
        await worker
        assert seen[-1].done
        assert seen[-1].ok == 3
        assert not any(s.done for s in seen[:-1])


async def test_async_iterable_of_jobs_and_tts(redis_url: str) -> None:
    async def source() -> AsyncIterator[Any]:
        for i in range(4):
            await asyncio.sleep(0)
            yield otp(i)
        yield TtsJob(
            callee="0987000099",
            template="thong_bao_no_cuoc_01",
            params={"name": "An"},
            caller=CALLER,
        )

    async with env(redis_url) as (_fake, redis, pbx):
        run = await submit(redis, source())
        await drain(pbx, redis)
        st = await run.status()
        assert st.total == 5
        assert st.done
        assert st.ok + st.failed == 5
        assert st.unknown == 0
        assert len(await all_results(run)) == 5


async def test_resubmitting_same_run_id_dials_no_one_twice(redis_url: str) -> None:
    async with env(redis_url) as (fake, redis, pbx):
        jobs = [otp(i) for i in range(5)]
        run = await submit(redis, jobs, run_id="nightly-1", rate=50)
        await drain(pbx, redis)
        again = await submit(redis, jobs, run_id="nightly-1", rate=1)
        await drain(pbx, redis)
        st = await again.status()
        assert st.rate == 50  # the first submission of a run sets it
        assert fake.count(OTP_PATH) == 5
        assert st.total == 5
        assert st.ok == 5
        assert st.done
        assert len(await all_results(run)) == 5


# --- typed errors, exactly one result each ----------------------------------------------


async def test_results_carry_typed_errors_and_no_retry_of_call_placing(redis_url: str) -> None:
    async with env(redis_url) as (fake, redis, pbx):
        fake.inject(OTP_PATH, status=500)  # the first call sent: may have been placed
        fake.inject(OTP_PATH, status=400)  # the second: a definite rejection
        jobs: list[Any] = [otp(i) for i in range(5)]
        jobs.insert(2, otp(0, code="12", callee="12"))  # bad callee: fails before sending
        jobs.insert(4, 12345)  # not a job at all
        run = await submit(redis, jobs)
        await drain(pbx, redis, concurrency=1)
        summary = await run.wait()
        results = await all_results(run)
        assert sorted(r.index for r in results) == list(range(7))
        unknown = [r for r in results if r.status is JobStatus.UNKNOWN]
        failed = [r for r in results if r.status is JobStatus.FAILED]
        assert len(unknown) == 1
        assert isinstance(unknown[0].error, OutcomeUnknownError)
        assert getattr(unknown[0].error, "status", None) == 500
        assert sum(isinstance(r.error, BadRequestError) for r in failed) == 1
        assert sum(type(r.error) is ValidationError for r in failed) == 2
        assert all(isinstance(r.error, Tel4vnError) for r in failed + unknown)
        assert (summary.ok, summary.failed, summary.unknown) == (3, 3, 1)
        assert fake.count(OTP_PATH) == 5  # neither the 500 nor the 400 was re-sent
        not_a_job = next(r for r in results if r.index == 4)
        assert not_a_job.key is None
        assert "12345" in str(not_a_job.job)


async def test_503_is_retried_and_counted_as_throttle(redis_url: str) -> None:
    async with env(redis_url) as (fake, redis, pbx):
        fake.inject(OTP_PATH, status=503, retry_after=0.01)
        run = await submit(redis, [otp(i) for i in range(3)])
        await drain(pbx, redis, concurrency=1)
        st = await run.status()
        statuses = [r.status for r in fake.received(OTP_PATH)]
        assert statuses.count(503) == 1
        assert len(statuses) == 4
        assert st.ok == 3
        assert st.done
        assert len(fake.calls) == 3
        assert st.throttled >= 1, (st, statuses)  # every 503 a worker meets is counted


async def test_dropped_connection_after_dial_is_unknown_never_redialled(redis_url: str) -> None:
    async with env(redis_url) as (fake, redis, pbx):
        fake.inject(OTP_PATH, drop="after")
        jobs = [otp(i) for i in range(3)]
        run = await submit(redis, jobs)
        await drain(pbx, redis, concurrency=1)
        st = await run.status()
        assert (st.ok, st.unknown) == (2, 1)
        assert all(len(fake.calls_to(j.callee)) == 1 for j in jobs)
        assert fake.count(OTP_PATH) == 3


async def test_overlong_key_fails_alone(redis_url: str) -> None:
    async with env(redis_url) as (fake, redis, pbx):
        jobs = [otp(0), otp(1, key="k" * 1000), otp(2, data={"row": 7, "tags": ["a"]})]
        run = await submit(redis, jobs)
        await drain(pbx, redis)
        results = {r.index: r for r in await all_results(run)}
        assert set(results) == {0, 1, 2}
        assert results[0].ok
        assert results[2].ok
        assert results[2].job.data == {"row": 7, "tags": ["a"]}  # data round-trips as JSON
        assert results[1].status is JobStatus.FAILED
        assert isinstance(results[1].error, ValidationError)
        assert fake.count(OTP_PATH) == 2


async def test_unserialisable_data_is_not_silently_mangled(redis_url: str) -> None:
    marker = object()
    async with env(redis_url) as (_fake, redis, pbx):
        run = await submit(redis, [otp(0), otp(1, data=marker)])
        await drain(pbx, redis)
        results = {r.index: r for r in await all_results(run)}
        assert results[0].ok
        bad = results[1]
        # either refused (FAILED, ValidationError) or carried intact: never a different value
        assert (bad.status is JobStatus.FAILED and isinstance(bad.error, ValidationError)) or (
            bad.job.data is marker
        )


# --- bad arguments: ValidationError naming the field, nothing sent ---------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"rate": -5}, "rate"),
        ({"rate": 0}, "rate"),
        ({"rate": float("nan")}, "rate"),
        ({"rate": "fast"}, "rate"),
        ({"run_id": ""}, "run_id"),
        ({"run_id": "has space"}, "run_id"),
        ({"run_id": "a/b{c}"}, "run_id"),
        ({"run_id": 42}, "run_id"),
        ({"retention": -1}, "retention"),
        ({"retention": 0}, "retention"),
        ({"retention": "week"}, "retention"),
        pytest.param(
            {"prefix": ""},
            "prefix",
        ),
        pytest.param(
            {"prefix": None},
            "prefix",
        ),
    ],
)
async def test_submit_bad_arguments(redis_url: str, kwargs: dict[str, Any], field: str) -> None:
    redis = connect(redis_url)
    try:
        with pytest.raises(ValidationError, match=field):
            await submit(redis, [otp(1)], **kwargs)
        assert await dbsize(redis) == 0
    finally:
        await redis.aclose()


@pytest.mark.parametrize("jobs", [None, 5, object()])
async def test_submit_jobs_not_iterable(redis_url: str, jobs: Any) -> None:
    redis = connect(redis_url)
    try:
        with pytest.raises(ValidationError, match="jobs"):
            await submit(redis, jobs)
        assert await dbsize(redis) == 0
    finally:
        await redis.aclose()


async def test_submit_huge_retention_is_rejected_or_works(redis_url: str) -> None:
    redis = connect(redis_url)
    try:
        outcome: Any
        try:
            outcome = await submit(redis, [otp(1)], retention=10**30)
        except ValidationError as exc:
            outcome = exc
        if isinstance(outcome, ValidationError):
            assert "retention" in str(outcome)
            assert await dbsize(redis) == 0
        else:
            assert (await outcome.status()).total == 1
    finally:
        await redis.aclose()


@pytest.mark.parametrize("redis_arg", [123, None, b"redis://localhost"])
async def test_submit_redis_of_wrong_type(redis_arg: Any) -> None:
    with pytest.raises(ValidationError, match="redis"):
        await submit(redis_arg, [otp(1)])


async def test_submit_non_redis_url_masks_password() -> None:
    with pytest.raises(ValueError, match="Redis URL") as info:
        await submit(f"http://:{SECRET_PW}@localhost:6379/0", [otp(1)])
    assert "***" in str(info.value)
    assert SECRET_PW not in str(info.value)
    assert SECRET_PW not in repr(info.value)


async def test_submit_non_redis_url_is_validation_error() -> None:
    with pytest.raises(ValidationError, match="redis"):
        await submit("http://localhost:6379/0", [otp(1)])


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"concurrency": 0}, "concurrency"),
        ({"concurrency": -3}, "concurrency"),
        ({"concurrency": 10_001}, "concurrency"),
        ({"concurrency": "5"}, "concurrency"),
        ({"concurrency": 2.5}, "concurrency"),
        ({"worker_id": ""}, "worker_id"),
        ({"worker_id": "a b"}, "worker_id"),
        ({"worker_id": 7}, "worker_id"),
        ({"heartbeat": 0}, "heartbeat"),
        ({"heartbeat": -1.0}, "heartbeat"),
        ({"heartbeat": float("nan")}, "heartbeat"),
        ({"poll_delay": -0.1}, "poll_delay"),
        pytest.param(
            {"prefix": ""},
            "prefix",
        ),
    ],
)
async def test_run_worker_bad_arguments(redis_url: str, kwargs: dict[str, Any], field: str) -> None:
    async with env(redis_url) as (_fake, redis, pbx):
        with pytest.raises(ValidationError, match=field):
            await asyncio.wait_for(run_worker(pbx, redis, burst=True, **kwargs), 5)
        assert await dbsize(redis) == 0


@pytest.mark.parametrize("client_kind", ["none", "callcenter", "str"])
async def test_run_worker_wrong_client(redis_url: str, client_kind: str) -> None:
    async with FakeTel4vn() as fake:
        redis = connect(redis_url)
        cc = CallCenterClient(fake.url, api_key=fake.api_key)
        client: Any = {"none": None, "callcenter": cc, "str": fake.url}[client_kind]
        try:
            with pytest.raises(ValidationError, match="client"):
                await asyncio.wait_for(run_worker(client, redis, burst=True), 5)
            assert await dbsize(redis) == 0
        finally:
            await cc.close()
            await redis.aclose()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": 123}, "name"),
        ({"name": None}, "name"),
        ({"prefix": ""}, "prefix"),
        ({"lock_timeout": 0}, "lock_timeout"),
        ({"lock_timeout": -1}, "lock_timeout"),
        ({"lock_timeout": float("nan")}, "lock_timeout"),
        pytest.param(
            {"lock_timeout": "10"},
            "lock_timeout",
        ),
        ({"poll_interval": 0}, "poll_interval"),
    ],
)
async def test_token_store_bad_arguments(
    redis_url: str, kwargs: dict[str, Any], field: str
) -> None:
    # the docstring promises ValueError naming the field (ValidationError is one)
    redis = connect(redis_url)
    try:
        kwargs = {"name": "autocall-prod", **kwargs}
        name = kwargs.pop("name")
        with pytest.raises(ValueError, match=field):
            RedisTokenStore(redis, name, **kwargs)
    finally:
        await redis.aclose()


@pytest.mark.parametrize("redis_arg", [None, 42, ["redis://x"]])
def test_token_store_and_dedupe_wrong_redis_type(redis_arg: Any) -> None:
    with pytest.raises(ValidationError, match="redis"):
        RedisTokenStore(redis_arg, "autocall-prod")
    with pytest.raises(ValidationError, match="redis"):
        RedisDedupe(redis_arg)


def test_token_store_from_url_bad_url_masks_password() -> None:
    with pytest.raises(ValueError, match="Redis URL") as info:
        RedisTokenStore.from_url(f"http://user:{SECRET_PW}@h:1/0", "autocall-prod")
    assert SECRET_PW not in str(info.value)
    assert SECRET_PW not in repr(info.value)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"ttl": 0}, "ttl"),
        ({"ttl": -1}, "ttl"),
        ({"ttl": float("nan")}, "ttl"),
        pytest.param(
            {"ttl": "600"},
            "ttl",
        ),
        ({"busy_ttl": -5}, "busy_ttl"),
        ({"poll_interval": 0}, "poll_interval"),
        ({"prefix": ""}, "prefix"),
        ({"prefix": 5}, "prefix"),
    ],
)
async def test_dedupe_bad_arguments(redis_url: str, kwargs: dict[str, Any], field: str) -> None:
    redis = connect(redis_url)
    try:
        with pytest.raises(ValueError, match=field):
            RedisDedupe(redis, **kwargs)
    finally:
        await redis.aclose()


# --- a run that does not exist ------------------------------------------------------


@pytest.mark.parametrize("run_id", ["nope123", "", "bad id", "x" * 5000])
async def test_run_status_of_missing_or_malformed_run(redis_url: str, run_id: str) -> None:
    redis = connect(redis_url)
    try:
        with pytest.raises(ValidationError):
            await run_status(redis, run_id)
        assert await dbsize(redis) == 0  # reading a status creates nothing
    finally:
        await redis.aclose()


async def test_run_of_missing_id_wait_and_follow_raise_instead_of_hanging(redis_url: str) -> None:
    redis = connect(redis_url)
    try:
        run = Run(redis, "nope123")
        with pytest.raises(ValidationError):
            await run.status()
        with pytest.raises(ValidationError):
            await asyncio.wait_for(run.wait(interval=0.01), 3)
        with pytest.raises(ValidationError):
            await asyncio.wait_for(anext_follow(run), 3)
    finally:
        await redis.aclose()


async def anext_follow(run: Run) -> None:
    async for _ in run.follow(interval=0.01):
        pass


@pytest.mark.parametrize("run_id", [None, 42, ""])
async def test_run_constructor_bad_id(redis_url: str, run_id: Any) -> None:
    redis = connect(redis_url)
    try:

        async def open_and_read() -> None:
            await Run(redis, run_id).status()

        with pytest.raises(ValidationError, match="run_id"):
            await open_and_read()
    finally:
        await redis.aclose()


# --- workers: cancelled mid-run, two in one process ------------------------------------


async def test_worker_cancelled_mid_run_loses_nothing_and_dials_no_one_twice(
    redis_url: str,
) -> None:
    async with env(redis_url, latency=0.3) as (fake, redis, pbx):
        jobs = [otp(i) for i in range(8)]
        run = await submit(redis, jobs)
        task = asyncio.create_task(run_worker(pbx, redis, concurrency=2, worker_id="w-cancel"))
        for _ in range(500):
            if fake.count(OTP_PATH) >= 2:
                break
            await asyncio.sleep(0.01)
        assert fake.count(OTP_PATH) >= 1
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)
        mid = await run.status()
        dialled = fake.count(OTP_PATH)
        assert mid.in_flight == 0
        assert mid.unknown == 0  # a graceful stop finishes and records the calls in flight
        assert mid.ok == dialled
        assert not mid.done

        fake.latency = 0.0
        await drain(pbx, redis, worker_id="w-after")
        final = await run.status()
        assert final.done
        assert final.ok == 8
        assert final.total == 8
        assert all(len(fake.calls_to(j.callee)) == 1 for j in jobs)
        assert len(await all_results(run)) == 8


async def test_two_workers_in_one_process(redis_url: str) -> None:
    async with env(redis_url, latency=0.01) as (fake, redis, pbx):  # noqa: SIM117
        async with AutocallClient(fake.url, api_key=fake.api_key, retry_policy=FAST) as pbx2:
            jobs = [otp(i) for i in range(30)]
            run = await submit(redis, jobs, rate=1000)
            await asyncio.gather(
                drain(pbx, redis, worker_id="w-one", concurrency=4),
                drain(pbx2, redis, worker_id="w-two", concurrency=4),
            )
            st = await run.status()
            assert st.done
            assert st.ok == 30
            assert st.in_flight == 0
            assert fake.count(OTP_PATH) == 30
            assert all(len(fake.calls_to(j.callee)) == 1 for j in jobs)


# --- shared token ---------------------------------------------------------------------


async def test_two_clients_share_one_token_request(redis_url: str) -> None:
    async with (  # noqa: SIM117 (the clients need the fake's url)
        FakeTel4vn() as fake,
        RedisTokenStore.from_url(redis_url, "autocall-test") as s1,
        RedisTokenStore.from_url(redis_url, "autocall-test") as s2,
    ):
        async with (
            AutocallClient(fake.url, api_key=fake.api_key, token_store=s1) as a,
            AutocallClient(fake.url, api_key=fake.api_key, token_store=s2) as b,
        ):
            ta, tb = await asyncio.gather(a.session.token(), b.session.token())
            assert ta.access_token == tb.access_token
            assert fake.token_requests == 1
            loaded = await s2.load()
            assert loaded is not None
            assert loaded.access_token == ta.access_token
            for obj in (s1, s2, a, b, a.session):
                assert ta.access_token not in repr(obj)
                assert ta.access_token not in str(obj)
                assert fake.api_key not in repr(obj)


# --- secrets -----------------------------------------------------------------------------


async def test_reprs_never_show_redis_password(redis_url: str) -> None:
    url = with_password(redis_url)
    store = RedisTokenStore.from_url(url, "autocall-prod")
    dedupe = RedisDedupe(url)
    run = Run(url, "abc123")
    try:
        for obj in (store, dedupe, run):
            assert SECRET_PW not in repr(obj)
            assert SECRET_PW not in str(obj)
    finally:
        await store.aclose()
        await dedupe.aclose()
        await run.aclose()


@pytest.mark.parametrize("where", ["wrong-password", "unreachable"])
async def test_redis_errors_never_show_password(
    redis_url: str, where: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    if where == "unreachable":
        url = f"redis://:{SECRET_PW}@127.0.0.1:1/0"
    else:
        url = with_password(redis_url)  # the test server has no password: AUTH fails
    async with FakeTel4vn() as fake, AutocallClient(fake.url, api_key=fake.api_key) as pbx:
        attempts: list[Callable[[], Awaitable[Any]]] = [
            lambda: run_status(url, "abc123"),
            lambda: submit(url, [otp(1)]),
            lambda: run_worker(pbx, url, burst=True),
        ]
        for attempt in attempts:
            with pytest.raises(Exception) as info:  # noqa: PT011 (the type is checked below)
                await asyncio.wait_for(attempt(), 5)
            # typed: what the docstrings promise (RedisError) or the SDK's own tree
            assert isinstance(info.value, (RedisError, Tel4vnError)), repr(info.value)
            text = str(info.value) + repr(info.value)
            chained = info.value.__cause__ or info.value.__context__
            if chained is not None:
                text += str(chained) + repr(chained)
            assert SECRET_PW not in text
    assert SECRET_PW not in caplog.text


async def test_no_secret_in_results_status_or_logs(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    cb_key = "cbKeySecret777"
    async with env(redis_url) as (fake, redis, _pbx):
        store = RedisTokenStore(redis, "autocall-sec")
        async with AutocallClient(
            fake.url, api_key=fake.api_key, token_store=store, retry_policy=FAST
        ) as spbx:
            fake.inject(OTP_PATH, status=500)
            fake.inject(OTP_PATH, status=400)
            jobs = [
                otp(i, callback_url="http://localhost:9/cb", callback_apikey=cb_key)
                for i in range(4)
            ]
            run = await submit(redis, jobs)
            await drain(spbx, redis, concurrency=1)
            token = await store.load()
            assert token is not None
            st = await run.status()
            results = await all_results(run)
            assert len(results) == 4
            texts = [repr(st), str(st), repr(run), str(run), repr(store)]
            for r in results:
                texts += [repr(r), str(r)]
                if r.error is not None:
                    texts += [str(r.error), repr(r.error)]
            blob = "\n".join(texts) + caplog.text
            for secret in (fake.api_key, token.access_token, cb_key):
                assert secret not in blob


@pytest.mark.parametrize("make", ["store-name", "store-lock", "dedupe-ttl", "dedupe-prefix"])
async def test_redis_class_arguments_are_validation_errors(redis_url: str, make: str) -> None:
    redis = connect(redis_url)
    builders: dict[str, Callable[[], Any]] = {
        "store-name": lambda: RedisTokenStore(redis, ""),
        "store-lock": lambda: RedisTokenStore(redis, "n", lock_timeout=-1),
        "dedupe-ttl": lambda: RedisDedupe(redis, ttl=0),
        "dedupe-prefix": lambda: RedisDedupe(redis, prefix=""),
    }
    try:
        with pytest.raises(ValidationError):
            builders[make]()
    finally:
        await redis.aclose()


def test_connect_wrong_type_is_validation_error() -> None:
    # connect() documents TypeError, but the house rule says ValidationError naming the field.
    with pytest.raises(ValidationError, match="redis") as info:
        connect(12345)  # type: ignore[arg-type]
    assert info.value.field == "redis"


# --- webhooks: two apps, one RedisDedupe ---------------------------------------------------


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://localhost:{port}/tel4vn/events"


@pytest.mark.parametrize("shared", ["one-instance", "two-instances"])
async def test_webhook_to_two_apps_reaches_one_handler(redis_url: str, shared: str) -> None:
    handled: list[Any] = []
    fail_first = {"c-fail": True}

    async def on_event(event: Any) -> None:
        await asyncio.sleep(0.1)
        if fail_first.pop(event.call_id, False):
            raise RuntimeError("handler broke")
        handled.append((event.call_id, event.state.value))

    d1 = RedisDedupe(redis_url)
    d2 = d1 if shared == "one-instance" else RedisDedupe(redis_url)
    key = "whsecretKey42"
    runners = []
    try:
        async with FakeTel4vn() as fake:
            r1, url1 = await _serve(webhook_app(on_event, api_key=key, dedupe=d1))
            runners.append(r1)
            r2, url2 = await _serve(webhook_app(on_event, api_key=key, dedupe=d2))
            runners.append(r2)
            event = {"call_id": "c-1", "state": "hangup", "duration": 12}
            a, b = await asyncio.gather(
                fake.send_event(url1, event, api_key=key),
                fake.send_event(url2, event, api_key=key),
            )
            c = await fake.send_event(url2, event, api_key=key)
            assert handled == [("c-1", "hangup")]
            assert a.status in range(200, 300)
            assert b.status in range(200, 300)
            assert c.status in range(200, 300)

            # a failed handler leaves the event unseen: the re-send to the other replica runs
            bad = {"call_id": "c-fail", "state": "cdr"}
            first = await fake.send_event(url1, bad, api_key=key)
            assert first.status == 500
            second = await fake.send_event(url2, bad, api_key=key)
            assert second.status in range(200, 300)
            assert handled.count(("c-fail", "cdr")) == 1

            # a wrong key is refused and never reaches the handler
            wrong = await fake.send_event(
                url1, {"call_id": "c-2", "state": "hangup"}, api_key="nope"
            )
            assert wrong.status == 401
            assert ("c-2", "hangup") not in handled
            assert key not in repr(d1)
            assert key not in repr(d2)
    finally:
        for runner in runners:
            await runner.cleanup()
        await d1.aclose()
        if d2 is not d1:
            await d2.aclose()


async def test_dedupe_claim_when_redis_down_is_typed_store_error() -> None:
    from tel4vn_async import StoreError
    from tel4vn_async.webhooks import parse_event

    event = parse_event({"call_id": "c-9", "state": "hangup"})
    async with RedisDedupe(f"redis://:{SECRET_PW}@127.0.0.1:1/0") as dedupe:
        with pytest.raises(StoreError) as info:
            await asyncio.wait_for(dedupe.claim((event.call_id, event.state.value)), 5)
        assert SECRET_PW not in str(info.value) + repr(info.value)


# --- more hostile cases -------------------------------------------------------------------


async def test_worker_with_wrong_client_does_not_poison_jobs(redis_url: str) -> None:
    async with env(redis_url) as (fake, redis, pbx):
        run = await submit(redis, [otp(1)])
        async with CallCenterClient(fake.url, api_key=fake.api_key) as cc:
            with contextlib.suppress(ValidationError):
                await asyncio.wait_for(run_worker(cc, redis, burst=True), 5)  # type: ignore[arg-type]
        st = await run.status()
        assert st.unknown == 0
        assert st.failed == 0
        await drain(pbx, redis)
        assert (await run.status()).ok == 1
        assert fake.count(OTP_PATH) == 1


async def test_second_cancel_cuts_off_in_flight_calls_as_unknown(redis_url: str) -> None:
    async with env(redis_url, latency=0.4) as (fake, redis, pbx):
        jobs = [otp(i) for i in range(5)]
        run = await submit(redis, jobs)
        task = asyncio.create_task(run_worker(pbx, redis, concurrency=2, worker_id="w-hard"))
        for _ in range(500):
            if fake.count(OTP_PATH) >= 2:
                break
            await asyncio.sleep(0.01)
        assert fake.count(OTP_PATH) == 2
        task.cancel()
        await asyncio.sleep(0.05)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)
        mid = await run.status()
        assert mid.in_flight == 0
        assert mid.unknown + mid.ok == 2
        assert mid.unknown >= 1
        assert all(
            isinstance(r.error, OutcomeUnknownError)
            for r in await all_results(run)
            if r.status is JobStatus.UNKNOWN
        )

        fake.latency = 0.0
        await drain(pbx, redis, worker_id="w-next")
        final = await run.status()
        assert final.done
        assert final.ok + final.unknown == 5
        assert final.unknown == mid.unknown
        assert fake.count(OTP_PATH) == 5  # the cut-off calls were never re-sent
        assert all(len(fake.calls_to(j.callee)) <= 1 for j in jobs)


async def test_job_source_failing_midway_keeps_what_was_admitted(redis_url: str) -> None:
    jobs = [otp(i) for i in range(5)]

    def broken() -> Any:
        yield from jobs[:3]
        raise RuntimeError("the CSV reader broke")

    async with env(redis_url) as (fake, redis, pbx):
        with pytest.raises(RuntimeError, match="CSV reader"):
            await submit(redis, broken(), run_id="half-1")
        mid = await run_status(redis, "half-1")
        assert not mid.submitted
        assert not mid.done
        assert mid.total <= 3
        run = await submit(redis, jobs, run_id="half-1")  # resume
        await drain(pbx, redis)
        st = await run.status()
        assert st.submitted
        assert st.done
        assert st.total == 5
        assert st.ok == 5
        assert fake.count(OTP_PATH) == 5
        async with Run(redis_url, "half-1") as other:  # any process, from a URL
            assert (await other.status()).ok == 5
            assert len(await all_results(other)) == 5


async def test_webhook_with_redis_down_is_not_acknowledged_unhandled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    handled: list[str] = []

    async def on_event(event: Any) -> None:
        handled.append(event.call_id)

    key = "whsecretKey43"
    async with (
        RedisDedupe(f"redis://:{SECRET_PW}@127.0.0.1:1/0") as dedupe,
        FakeTel4vn() as fake,
    ):
        runner, url = await _serve(webhook_app(on_event, api_key=key, dedupe=dedupe))
        try:
            delivery = await fake.send_event(
                url, {"call_id": "c-down", "state": "hangup"}, api_key=key
            )
        finally:
            await runner.cleanup()
    # never a 2xx for an event nobody handled: the PBX must re-send it
    status = delivery.status or 0
    assert status >= 500 or ("c-down" in handled and 200 <= status < 300)
    assert SECRET_PW not in caplog.text
    assert key not in caplog.text


async def test_concurrent_submits_of_one_run_id_admit_each_key_once(redis_url: str) -> None:
    async with env(redis_url) as (fake, redis, pbx):
        jobs = [otp(i) for i in range(6)]
        runs = await asyncio.gather(
            submit(redis, jobs, run_id="twice-1"), submit(redis, list(jobs), run_id="twice-1")
        )
        assert runs[0].id == runs[1].id == "twice-1"
        await drain(pbx, redis)
        st = await runs[0].status()
        assert st.done
        assert st.ok == 6
        assert st.unknown == 0
        assert st.total - st.skipped == 6
        assert fake.count(OTP_PATH) == 6
        assert all(len(fake.calls_to(j.callee)) == 1 for j in jobs)


async def test_reconcile_settles_unknown_from_reports(redis_url: str) -> None:
    async with env(redis_url) as (fake, redis, pbx):
        fake.inject(OTP_PATH, drop="after")  # placed, then the answer is lost
        jobs = [otp(i) for i in range(3)]
        run = await submit(redis, jobs)
        await drain(pbx, redis, concurrency=1)
        assert (await run.status()).unknown == 1
        settled = await run.reconcile(pbx)
        st = await run.status()
        assert settled == 1
        assert (st.ok, st.unknown, st.reconciled) == (3, 0, 1)
        results = await all_results(run)
        assert len(results) == 3
        assert all(r.ok and r.call_id for r in results)
        assert fake.count(OTP_PATH) == 3  # settled from the reports, not by dialling again
        assert await run.reconcile(pbx) == 0  # nothing left to settle


async def test_dedupe_distinct_events_with_separator_chars_both_handled(redis_url: str) -> None:
    handled: list[tuple[str, str]] = []

    async def on_event(event: Any) -> None:
        handled.append((event.call_id, event.raw.get("state", "")))

    key = "whsecretKey44"
    async with RedisDedupe(redis_url) as dedupe, FakeTel4vn() as fake:
        runner, url = await _serve(webhook_app(on_event, api_key=key, dedupe=dedupe))
        try:
            for event in (
                {"call_id": "y:z", "state": "x"},
                {"call_id": "z", "state": "x:y"},
                {"call_id": "c*", "state": "hangup"},
                {"call_id": "c1", "state": "hangup"},
            ):
                delivery = await fake.send_event(url, event, api_key=key)
                assert delivery.status in range(200, 300)
        finally:
            await runner.cleanup()
    assert len(handled) == 4


async def test_shared_token_401_refreshes_once_for_the_fleet(redis_url: str) -> None:
    async with FakeTel4vn() as fake:
        fake.seed_reports(2)
        redis = connect(redis_url)
        try:
            sa, sb = RedisTokenStore(redis, "ac-fleet"), RedisTokenStore(redis, "ac-fleet")
            async with (
                AutocallClient(fake.url, api_key=fake.api_key, token_store=sa) as a,
                AutocallClient(fake.url, api_key=fake.api_key, token_store=sb) as b,
            ):
                await a.reports.list(page_size=5)
                await b.reports.list(page_size=5)
                assert fake.token_requests == 1
                fake.revoke_tokens()
                await a.reports.list(page_size=5)  # 401, one refresh
                await b.reports.list(page_size=5)  # 401, finds the newer token in Redis
                assert fake.token_requests == 2
                stored = await sa.load()
                assert stored is not None
                assert fake.token_valid(stored.access_token)
        finally:
            await redis.aclose()


async def test_none_dict_and_bytes_jobs_fail_alone(redis_url: str) -> None:
    async with env(redis_url) as (fake, redis, pbx):
        jobs: list[Any] = [None, {"callee": "0987000001", "code": "1"}, b"job", otp(5)]
        run = await submit(redis, jobs)
        await drain(pbx, redis)
        results = {r.index: r for r in await all_results(run)}
        assert set(results) == {0, 1, 2, 3}
        for i in range(3):
            assert results[i].status is JobStatus.FAILED
            assert isinstance(results[i].error, ValidationError)
        assert results[3].ok
        assert fake.count(OTP_PATH) == 1


async def test_two_workers_with_the_same_id_still_dial_each_job_once(redis_url: str) -> None:
    async with env(redis_url, latency=0.02) as (fake, redis, pbx):
        jobs = [otp(i) for i in range(20)]
        run = await submit(redis, jobs)
        await asyncio.gather(
            drain(pbx, redis, worker_id="same", concurrency=3),
            drain(pbx, redis, worker_id="same", concurrency=3),
        )
        st = await run.status()
        assert st.done
        assert st.in_flight == 0
        assert fake.count(OTP_PATH) == 20
        assert all(len(fake.calls_to(j.callee)) == 1 for j in jobs)
        assert st.ok == 20, st  # no call that was placed and answered is reported UNKNOWN


async def test_cancel_gives_back_jobs_waiting_for_the_rate(redis_url: str) -> None:
    async with env(redis_url) as (fake, redis, pbx):
        jobs = [otp(i) for i in range(6)]
        run = await submit(redis, jobs, rate=4)
        task = asyncio.create_task(run_worker(pbx, redis, concurrency=6, worker_id="w-rate"))
        for _ in range(500):
            if fake.count(OTP_PATH) >= 1:
                break
            await asyncio.sleep(0.01)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)
        mid = await run.status()
        dialled = fake.count(OTP_PATH)
        assert 1 <= dialled < 6
        assert mid.in_flight == 0
        assert mid.unknown == 0
        assert mid.ok == dialled
        await drain(pbx, redis, worker_id="w-rate-2", concurrency=6)
        final = await run.status()
        assert final.done
        assert final.ok == 6
        assert final.unknown == 0
        assert all(len(fake.calls_to(j.callee)) == 1 for j in jobs)


async def test_empty_run_is_done_at_once(redis_url: str) -> None:
    redis = connect(redis_url)
    try:
        run = await submit(redis, [])
        st = await run.status()
        assert st.total == 0
        assert st.submitted
        assert st.done
        summary = await asyncio.wait_for(run.wait(interval=0.01), 5)
        assert summary.total == 0
        assert await all_results(run) == []
    finally:
        await redis.aclose()


async def test_results_of_missing_run_raise(redis_url: str) -> None:
    redis = connect(redis_url)
    try:
        with pytest.raises(ValidationError):
            await all_results(Run(redis, "nope999"))
    finally:
        await redis.aclose()


async def test_timeout_of_a_call_is_unknown_and_not_resent(redis_url: str) -> None:
    async with env(redis_url) as (fake, redis, _pbx):
        fake.inject(OTP_PATH, delay=1.0)
        async with AutocallClient(
            fake.url, api_key=fake.api_key, timeout=0.2, retry_policy=FAST
        ) as pbx:
            jobs = [otp(i) for i in range(3)]
            run = await submit(redis, jobs)
            await drain(pbx, redis, concurrency=1)
            st = await run.status()
            results = await all_results(run)
        assert (st.ok, st.unknown) == (2, 1)
        unknown = [r for r in results if r.status is JobStatus.UNKNOWN]
        assert isinstance(unknown[0].error, OutcomeUnknownError)
        assert fake.count(OTP_PATH) == 3


WORKER_SCRIPT = """
import asyncio, sys
from tel4vn_async import AutocallClient
from tel4vn_async.redis import run_worker

async def main(fake_url, api_key, redis_url):
    async with AutocallClient(fake_url, api_key=api_key) as pbx:
        await run_worker(pbx, redis_url, concurrency=1, heartbeat=0.5, worker_id="doomed")

asyncio.run(main(*sys.argv[1:4]))
"""


async def test_sigkilled_worker_leaves_its_job_unknown_never_redialled(redis_url: str) -> None:
    async with env(redis_url) as (fake, redis, pbx):
        fake.inject(OTP_PATH, delay=3.0)  # the first call hangs: the worker dies during it
        jobs = [otp(i) for i in range(3)]
        run = await submit(redis, jobs)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", WORKER_SCRIPT, fake.url, fake.api_key, redis_url
        )
        try:
            for _ in range(1000):
                if fake.count(OTP_PATH) >= 1 or proc.returncode is not None:
                    break
                await asyncio.sleep(0.01)
            assert fake.count(OTP_PATH) == 1
        finally:
            proc.kill()
            await proc.wait()
        st = await run.status()
        for _ in range(300):  # the dead worker's heartbeat lease runs out
            if st.in_flight == 0:
                break
            await asyncio.sleep(0.02)
            st = await run.status()
        assert st.in_flight == 0
        assert st.unknown == 1
        await drain(pbx, redis)
        final = await run.status()
        assert final.done
        assert (final.ok, final.unknown) == (2, 1)
        assert fake.count(OTP_PATH) == 3  # the killed worker's job was never sent again


async def test_429s_slow_the_run_without_a_retry_storm(redis_url: str) -> None:
    async with env(redis_url) as (fake, redis, pbx):
        fake.limit_rate(OTP_PATH, per_second=20, burst=1)
        jobs = [otp(i) for i in range(12)]
        run = await submit(redis, jobs)
        await drain(pbx, redis, concurrency=12)
        st = await run.status()
        refused = sum(1 for r in fake.received(OTP_PATH) if r.status == 429)
        assert st.done
        assert st.ok == 12
        assert len(fake.calls) == 12  # a 429 is unprocessed: retrying it placed nobody twice
        assert st.throttled == refused
        assert refused <= 2 * len(jobs), refused  # the run slowed down instead of hammering
