"""A real ``redis-server`` for the tests: started on a free port in a temporary directory.

The binary is Debian's ``redis-server`` package (``.ci/run`` installs it when missing).
Without one, the tests marked ``redis`` skip, saying so loudly; under CI (``CI`` set) they
fail instead: there they must run.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["RedisServer", "redis_server_binary"]


def redis_server_binary() -> str | None:
    """The ``redis-server`` to start: ``$REDIS_SERVER``, else the one on the ``PATH``."""
    return os.environ.get("REDIS_SERVER") or shutil.which("redis-server")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class RedisServer:
    """One ``redis-server`` process on 127.0.0.1, with no persistence (tests only).

    The guarantee the ledger documents needs ``appendonly yes`` and ``appendfsync always``;
    the tests kill workers, never this server, so they run without them, for speed.
    """

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.directory = Path(tempfile.mkdtemp(prefix="tel4vn-redis-"))
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, attempts: int = 5) -> None:
        for _ in range(attempts):
            self.port = _free_port()
            log = open(self.directory / "redis.log", "wb")  # noqa: SIM115 - the child owns it
            self._process = subprocess.Popen(
                [
                    self.binary,
                    *("--port", str(self.port), "--bind", "127.0.0.1"),
                    *("--dir", str(self.directory), "--save", "", "--appendonly", "no"),
                    *("--protected-mode", "yes", "--daemonize", "no"),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            log.close()
            if self._ready():
                return
            self.stop()
        raise RuntimeError(f"redis-server did not start; see {self.directory / 'redis.log'}")

    def _ready(self, timeout: float = 10.0) -> bool:
        assert self._process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False  # it exited: the port was taken meanwhile, say
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return True
            except OSError:
                pass
            time.sleep(0.02)
        return False

    def flush(self) -> None:
        """Empty every database: each test starts from a blank server."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as conn:
            conn.sendall(b"FLUSHALL\r\n")
            if not conn.recv(16).startswith(b"+OK"):
                raise RuntimeError("FLUSHALL failed")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)
