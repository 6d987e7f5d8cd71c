"""``python -m tel4vn_async`` and the examples, run as a user would.

The commands themselves are tested in ``tests/cli/`` (and the demo and sandbox in
``tests/test_demo.py`` and ``tests/test_sandbox.py``).
"""

from __future__ import annotations

import os
import runpy
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
def test_each_example_runs_against_the_fake(
    script: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Run as ``python examples/x.py`` would, in this process: a subprocess per example
    # spent a second importing aiohttp and the SDK again.
    for module in EXAMPLE_NEEDS.get(script.name, ()):
        pytest.importorskip(module, reason=f"{script.name} needs {module} (its own requirements)")
    for name in [k for k in os.environ if k.startswith("TEL4VN_")]:
        monkeypatch.delenv(name)
    monkeypatch.setattr(sys, "argv", [str(script)])
    monkeypatch.syspath_prepend(str(script.parent))
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as stop:
        assert stop.code in (0, None), capsys.readouterr().err
    out, err = capsys.readouterr()
    assert out.strip()
    assert "Traceback" not in err
