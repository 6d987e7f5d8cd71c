"""The group: global options, exit codes, one-line errors, secrets never echoed."""

from __future__ import annotations

import importlib.util
import socket

import pytest

from tel4vn_async.cli import MISSING_CLICK, main
from tel4vn_async.testing import FakeTel4vn

from .conftest import Run


def closed_port() -> int:
    with socket.socket() as s:  # a port nothing listens on once this socket closes
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def test_help_lists_every_command(cli: Run) -> None:
    done = await cli("--help")
    assert done.code == 0
    for name in ("bulk", "cdrs", "customers", "demo", "events", "otp", "reports", "sandbox",
                 "tts", "webhook", "worker"):  # fmt: skip
        assert f"  {name} " in done.out


async def test_version(cli: Run) -> None:
    done = await cli("--version")
    assert (done.code, done.out.split()[0]) == (0, "tel4vn_async")


async def test_an_unreachable_server_is_one_line_and_exit_1(cli: Run) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    done = await cli("--base-url", url, "--api-key", "k-1234-secret", "--max-retries", "0",
                     "events", "list")  # fmt: skip
    assert done.code == 1
    where = url.removeprefix("http://")
    assert done.err == f"tel4vn: cannot connect to {where}: connection refused\n"
    assert done.out == ""


async def test_debug_prints_the_traceback(cli: Run) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    done = await cli("--debug", "--base-url", url, "--api-key", "k-1234-secret",
                     "--max-retries", "0", "events", "list")  # fmt: skip
    assert done.code == 1
    assert "Traceback" in done.err
    assert "ConnectError" in done.err
    assert "k-1234-secret" not in done.err


async def test_no_settings_is_a_usage_error(cli: Run) -> None:
    done = await cli("events", "list")
    assert done.code == 2
    assert "no base_url given" in done.err
    assert "TEL4VN_BASE_URL" in done.err


async def test_a_wrong_api_key_is_one_api_error_line_without_the_key(
    fake: FakeTel4vn, cli: Run
) -> None:
    wrong = "wrong-key-" + fake.api_key[:6]
    done = await cli("--base-url", fake.url, "--api-key", wrong, "events", "list")
    assert done.code == 1
    assert done.err.startswith("tel4vn: API error 401")
    assert len(done.err.splitlines()) == 1
    assert wrong not in done.text


async def test_the_api_key_is_never_echoed(fake: FakeTel4vn, tel4vn: Run) -> None:
    outcomes = [
        await tel4vn("events", "list"),
        await tel4vn("--debug", "otp", "--campaign-id", "1", "--caller", "1", "--callee", "2",
                     "--template", "t", "--code", "1"),
        await tel4vn("--help"),
    ]  # fmt: skip
    for done in outcomes:
        assert fake.api_key not in done.text


async def test_usage_errors_exit_2(cli: Run) -> None:
    assert (await cli("no-such-command")).code == 2
    assert (await cli("--timeout", "0", "events", "list")).code == 2


def test_without_click_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec",
        lambda name, *a: None if name == "click" else real(name, *a),
    )  # fmt: skip
    assert main(["--help"]) == 2
    assert capsys.readouterr().err == MISSING_CLICK + "\n"
