"""`qunflow serve` and `qunflow worker` as real processes for restart and shutdown tests: started on a
store, stopped by a signal or killed, each start and stop timed."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from fleet import qunflow_command


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Process:
    """One qunflow command, started again and again (a restart), its output kept in `logs`."""

    def __init__(self, args: list[str], logs: Path, name: str, env: dict[str, str] | None = None) -> None:
        self.args = args
        self.logs = logs
        self.name = name
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.log_path = logs / f"{name}.log"

    def start(self, timeout: float = 30) -> float:
        """Start the process; returns the seconds until it is ready."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.starts += 1
        self.log_path = self.logs / f"{self.name}-{self.starts}.log"
        log = open(self.log_path, "wb")  # noqa: SIM115 - the process keeps it
        started = time.monotonic()
        self.proc = subprocess.Popen(
            [*qunflow_command(), *self.args], stdout=log, stderr=subprocess.STDOUT, env=self.env
        )
        log.close()
        while not self.ready():
            assert self.proc.poll() is None, f"{self.name} ended at start:\n{self.output()}"
            assert time.monotonic() - started < timeout, (
                f"{self.name} not ready in {timeout}s:\n{self.output()}"
            )
            time.sleep(0.05)
        return time.monotonic() - started

    def ready(self) -> bool:
        raise NotImplementedError

    def stop(self, signum: int = signal.SIGTERM, limit: float = 20) -> tuple[float, int | None]:
        """Send `signum` and wait for the end; returns (seconds, exit status). A process still there
        after `limit` seconds is killed, and reported with status None."""
        assert self.proc is not None
        started = time.monotonic()
        self.proc.send_signal(signum)
        try:
            status: int | None = self.proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            status = None
        return time.monotonic() - started, status

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class Serve(Process):
    """`qunflow serve` on `db`, on a port of its own; `call` speaks to its API with `token`."""

    def __init__(self, db: str, logs: Path, token: str) -> None:
        self.port = free_port()
        self.token = token
        super().__init__(["serve", "--db", db, "--port", str(self.port)], logs, "serve")

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/login", timeout=1):
                return True
        except (OSError, urllib.error.URLError):
            return False

    def call(self, method: str, path: str, body: Any = None, timeout: float = 30) -> tuple[int, Any]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                return answer.status, _body(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, _body(error.read())


def _body(data: bytes) -> Any:
    try:
        return json.loads(data or b"null")
    except ValueError:
        return data.decode(errors="replace")


class Worker(Process):
    """`qunflow worker` on `db` (extra arguments: a connector, a lease)."""

    def __init__(self, db: str, logs: Path, *extra: str, env: dict[str, str] | None = None) -> None:
        super().__init__(["worker", "--db", db, "--poll", "0.2", *extra], logs, "worker", env)

    def ready(self) -> bool:
        return "qunflow worker " in self.output()
