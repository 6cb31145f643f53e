"""A throw-away ``redis-server`` on a free loopback port, for demos, tests and benchmarks.

No persistence (``--save "" --appendonly no``); ``stop`` terminates only the process it started.

Example:
    >>> from deepseek_apps.core.runtime.redis_local import LocalRedis
    >>> with LocalRedis() as server:  # doctest: +SKIP
    ...     print(server.url)
    redis://127.0.0.1:40123/0
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from typing import Any

from ...errors import ErrorCode, MissingResourceError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalRedis:
    """Start with ``start()`` (or ``with``); ``url`` is ready once ``start`` returns."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("redis-server") is not None

    def start(self, timeout_s: float = 5.0) -> LocalRedis:
        if not self.available():
            raise MissingResourceError(
                ErrorCode.REDIS_UNAVAILABLE,
                "redis-server is not installed",
                value="redis-server",
                hint="apt-get install redis-server (make setup installs it)",
            )
        cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise MissingResourceError(
            ErrorCode.REDIS_UNAVAILABLE,
            "redis-server did not start",
            value=self.url,
            hint="check that the port is free",
        )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)

    def __enter__(self) -> LocalRedis:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
