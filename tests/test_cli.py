"""The command line and the examples, run as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tel4vn_async.cli import main

ROOT = Path(__file__).resolve().parent.parent
# Examples with requirements of their own (examples/requirements-*.txt), not the SDK's.
EXAMPLE_NEEDS = {"webhook_fastapi.py": ("fastapi", "uvicorn")}


def test_the_demo_runs_end_to_end_with_the_token_redacted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo"]) == 0

    out = capsys.readouterr().out
    assert "logged in as admin" in out
    assert "access_token='***'" in out
    assert "100 concurrent requests, 1 token request(s)" in out
    assert "scrolled 2500 CDRs through a 503" in out
    assert "click-to-call from 109 refused: USER_NOT_REGISTERED" in out
    assert "OTP call placed:" in out
    assert "report: OTP to 0987654321" in out
    assert "autocall token expires at" in out


def test_python_dash_m_runs_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tel4vn_async", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0
    assert done.stdout.startswith("tel4vn_async ")


@pytest.mark.parametrize("script", sorted((ROOT / "examples").glob("*.py")), ids=lambda p: p.name)
def test_each_example_runs_against_the_fake(script: Path) -> None:
    for module in EXAMPLE_NEEDS.get(script.name, ()):
        pytest.importorskip(module, reason=f"{script.name} needs {module} (its own requirements)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEL4VN_")}
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()
    assert "Traceback" not in done.stderr
