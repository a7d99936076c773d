"""Web and worker processes for fault tests, started with any Settings fields.

Every field that differs from its default is passed (tests.support.processes.settings_env),
so fault tests can set timeouts (the job heartbeat, the Redis check, the database timeout).
Each process leads a session (process group) of its own, so stopping it also stops what it
started — an RQ worker forks its scheduler — even after the leader itself was killed with
SIGKILL.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from config.settings import Settings
from server.cli.embedded_redis import free_port
from tests.support.processes import REPO, settings_env


@dataclass
class Role:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    port: int | None = None

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill9(self) -> None:
        """SIGKILL to the role's own process only, like the OOM killer: no cleanup of any kind."""
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        """The role and everything in its process group, SIGTERM first."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _spawn(name: str, args: list[str], settings: Settings, log_dir: Path) -> Role:
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{name}.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, *args],
            cwd=REPO,
            env=settings_env(settings),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Role(name, proc, log)


def start_web(settings: Settings, log_dir: Path, name: str = "web", timeout: float = 60.0) -> Role:
    """`uvicorn --factory server.app:app_from_environment` on a free port, once /healthz answers."""
    port = free_port()
    args = ["-m", "uvicorn", "--factory", "server.app:app_from_environment"]
    args += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    role = _spawn(name, args, settings, log_dir)
    role.port = port
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{role.http_url}/healthz", timeout=2).status_code == 200:
                return role
        if role.proc.poll() is not None or time.monotonic() > deadline:
            role.stop()
            raise RuntimeError(f"{name} did not start:\n{role.log_tail()}")
        time.sleep(0.1)


def start_worker(settings: Settings, log_dir: Path, name: str = "worker", queues: str = "model") -> Role:
    """`python -m server worker --queues ...`, as `neuronquest up` runs it."""
    return _spawn(name, ["-m", "server", "worker", "--queues", queues], settings, log_dir)
