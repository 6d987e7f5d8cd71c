"""``python -m tel4vn_async`` and the examples, run as a user would.

The commands themselves are tested in ``tests/cli/`` (and the demo and sandbox in
``tests/test_demo.py`` and ``tests/test_sandbox.py``).
"""

from __future__ import annotations

import os
import subprocess
import sys
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
