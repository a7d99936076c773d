"""`neuronquest up` runs every role with a private Redis; Ctrl-C leaves nothing behind."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import redis

from server.cli.embedded_redis import free_port
from tests.support.processes import REPO, alive, descendants, nq_env, wait_http


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _start_up(data_dir: Path, database_url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = nq_env(data_dir=data_dir, database_url=database_url, default_neurons=8, default_max_tokens=2048)
    return subprocess.Popen(
        [sys.executable, "-m", "server", "up", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


@pytest.mark.slow
@pytest.mark.long
def test_up_serves_the_game_and_sigint_stops_everything(tmp_path: Path, database_url: str) -> None:
    data_dir, log, port = tmp_path / "data", tmp_path / "up.log", free_port()
    proc = _start_up(data_dir, database_url, port, log)
    try:
        health = wait_http(f"http://127.0.0.1:{port}/healthz", timeout=90, proc=proc).json()
        assert health["database"] is True and health["redis"] is True
        assert "queues" in health
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
        assert page.status_code == 200 and "<html" in page.text.lower()

        tree = descendants(proc.pid)
        commands = [_cmdline(pid) for pid in tree]
        assert any("redis-server" in c for c in commands), commands
        for role in ("web", "worker", "scheduler"):
            assert any(f"-m server {role}" in c for c in commands), (role, commands)

        # The private Redis persists into the data dir (AOF) and survives a restart.
        url = (data_dir / "redis" / "url").read_text().strip()
        redis.Redis.from_url(url).set("nq:test:persisted", "yes")
        time.sleep(1.2)  # appendfsync everysec

        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in tree) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in tree if alive(pid)], "processes left behind after Ctrl-C"
    finally:
        if proc.poll() is None:
            proc.kill()
        print(log.read_text()[-3000:])

    port = free_port()
    proc = _start_up(data_dir, database_url, port, log)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", timeout=90, proc=proc)
        url = (data_dir / "redis" / "url").read_text().strip()
        assert redis.Redis.from_url(url).get("nq:test:persisted") == b"yes"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_role_without_redis_says_why_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "server", "worker", "--burst"],
        cwd=REPO,
        env=nq_env(data_dir=tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "NQ_REDIS_URL" in lines[0]


def test_up_refuses_a_port_in_use(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "server", "up", "--port", str(port)],
            cwd=REPO,
            env=nq_env(data_dir=tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert "choose another --port" in result.stderr
