"""``python -m tel4vn_async`` and the examples, run as a user would: against the sandbox.

The commands themselves are tested in ``tests/cli/`` (and the demo and sandbox in
``tests/test_demo.py`` and ``tests/test_sandbox.py``).
"""

from __future__ import annotations

import os
import runpy
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Examples with requirements of their own (examples/requirements-*.txt), not the SDK's.
EXAMPLE_NEEDS = {"webhook_fastapi.py": ("fastapi", "uvicorn")}


def test_python_dash_m_runs_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tel4vn_async", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0
    assert done.stdout.startswith("tel4vn_async ")


# Examples that, pointed at a server, serve until stopped: run on their embedded fake.
SERVES_FOREVER = {"webhook_aiohttp_app.py"}
# Examples that need a Redis server: given the tests' own through REDIS_URL.
NEEDS_REDIS = {"scale_out.py"}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[str]:
    """``tel4vn sandbox`` in a process of its own, as a user would start it; its URL."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tel4vn_async",
            "sandbox",
            "--port",
            "0",
            "--api-key",
            "k-examples",
            "--seed-cdrs",
            "50",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    url = ""
    for line in process.stdout:
        if "export TEL4VN_BASE_URL=" in line:
            url = line.split("=", 1)[1].strip()
            break
    try:
        assert url, "the sandbox never printed its URL"
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=10)


@pytest.mark.parametrize("script", sorted((ROOT / "examples").glob("*.py")), ids=lambda p: p.name)
def test_each_example_runs_against_the_sandbox(
    script: Path,
    sandbox: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:
    # Run as ``python examples/x.py`` would, in this process (a subprocess per example
    # spent a second importing aiohttp and the SDK again), against the sandbox.
    for module in EXAMPLE_NEEDS.get(script.name, ()):
        pytest.importorskip(module, reason=f"{script.name} needs {module} (its own requirements)")
    for name in [k for k in os.environ if k.startswith("TEL4VN_")]:
        monkeypatch.delenv(name)
    if script.name in NEEDS_REDIS:
        # The tests' real redis-server (skipped loudly without one, failed under CI).
        monkeypatch.setenv("REDIS_URL", request.getfixturevalue("redis_url"))
    if script.name not in SERVES_FOREVER:
        monkeypatch.setenv("TEL4VN_BASE_URL", sandbox)
        monkeypatch.setenv("TEL4VN_API_KEY", "k-examples")
    monkeypatch.setattr(sys, "argv", [str(script)])
    monkeypatch.syspath_prepend(str(script.parent))
    code: object = 0
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as stop:
        code = stop.code
    out, err = capsys.readouterr()
    assert code in (0, None), err
    assert out.strip()
    assert "Traceback" not in err
