"""A bulk run SIGKILLed mid-way, then run again with its journal: no one is rung twice,
and every job is accounted for exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from tel4vn_async import AutocallClient, JobStatus, OtpJob
from tel4vn_async.testing import FakeTel4vn

from ..conftest import FAST_RETRY

OTP = "/v1/autocall/otp"
N = 300

CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from tel4vn_async import AutocallClient, OtpJob

    async def main(url, key, journal, n):
        jobs = [OtpJob(f"09{i:08d}", f"{i:06d}", "otp_demo", "0281234567", 1) for i in range(n)]
        async with AutocallClient(url, api_key=key) as pbx:
            await pbx.fan_out(jobs, concurrency=20, journal=journal).run()

    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
    """
)


@pytest.mark.timeout(60)
async def test_a_sigkilled_run_resumes_without_ringing_anyone_twice(
    fake: FakeTel4vn, tmp_path: Path
) -> None:
    fake.latency = 0.02
    journal = tmp_path / "run.jsonl"
    child = subprocess.Popen(  # noqa: ASYNC220 (started once; the loop keeps serving the fake)
        [sys.executable, "-c", CHILD, fake.url, fake.api_key, str(journal), str(N)],
        stderr=subprocess.PIPE,
    )
    try:
        for _ in range(2000):
            if fake.count(OTP) >= 80 or child.poll() is not None:
                break
            await asyncio.sleep(0.005)
        assert child.poll() is None, child.stderr.read() if child.stderr else ""
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait()
        if child.stderr:
            child.stderr.close()
    await asyncio.sleep(0.1)  # requests the child left in flight may still be handled
    first = fake.count(OTP)
    assert 80 <= first < N

    jobs = [OtpJob(f"09{i:08d}", f"{i:06d}", "otp_demo", "0281234567", 1) for i in range(N)]
    async with AutocallClient(fake.url, api_key=fake.api_key, retry_policy=FAST_RETRY) as pbx:
        results = [r async for r in pbx.fan_out(jobs, concurrency=20, journal=journal)]

    assert sorted(r.index for r in results) == list(range(N))  # one result per job
    assert max(fake.dials.values()) == 1  # nobody rung twice
    statuses = Counter(r.status for r in results)
    assert statuses[JobStatus.FAILED] == 0
    for r in results:
        dials = fake.dials[r.job.callee]
        if r.status in (JobStatus.OK, JobStatus.SKIPPED):
            assert dials == 1, r
        else:  # UNKNOWN: sent by the killed run, answer never journaled
            assert r.status is JobStatus.UNKNOWN, r
            assert dials <= 1, r
    # Only the calls in flight at the kill, and results not yet written, can be unknown.
    assert statuses[JobStatus.UNKNOWN] <= 50
    assert statuses[JobStatus.SKIPPED] + statuses[JobStatus.UNKNOWN] >= first
