"""The edge as `neuronquest web` (and so `up`) runs it: a real web process on a real socket.

Spoofed X-Forwarded-For from loopback, heads trickled a byte at a time, heads too large. These
depend on how uvicorn is started (server/cli/run.py, server/cli/http_limits.py), so the test
starts the real command, not an app in a thread.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from config.settings import Settings
from server.cli.embedded_redis import free_port
from tests.support.processes import settings_env

HEAD_TIMEOUT_S = 1.5


@pytest.fixture
def web(settings: Settings) -> Iterator[str]:
    port = free_port()
    limits = {"guest_sessions_per_ip_per_min": 2, "request_head_timeout_s": HEAD_TIMEOUT_S}
    env = settings_env(settings.model_copy(update=limits))
    args = [sys.executable, "-m", "server", "web", "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(args, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "web did not start"
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _closed_after(sock: socket.socket, limit_s: float, trickle: bytes | None) -> float | None:
    """Seconds until the server closed ``sock`` (sending ``trickle`` every 0.2 s), None if not."""
    start = time.monotonic()
    sock.settimeout(0.2)
    while time.monotonic() - start < limit_s:
        try:
            if trickle:
                sock.sendall(trickle)
            if sock.recv(65536) == b"":
                return time.monotonic() - start
        except TimeoutError:
            continue
        except OSError:  # reset or broken pipe: closed
            return time.monotonic() - start
    return None


def test_forwarded_for_from_loopback_is_not_believed(web: str) -> None:
    """The report's farm: 40 guests, each claiming another address. The guest budget is 2 here."""
    answers = [
        httpx.post(f"{web}/api/session", json={}, headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code
        for i in range(1, 5)
    ]
    assert answers == [200, 200, 429, 429]


def test_a_head_trickled_byte_by_byte_is_cut_off(web: str) -> None:
    port = int(web.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        closed = _closed_after(sock, HEAD_TIMEOUT_S + 10, trickle=b"X-a: b\r\n")
    assert closed is not None and closed < HEAD_TIMEOUT_S + 3, closed
    # An idle connection that never sends a byte goes too.
    with socket.create_connection(("127.0.0.1", port)) as sock:
        closed = _closed_after(sock, HEAD_TIMEOUT_S + 10, trickle=None)
    assert closed is not None and closed < HEAD_TIMEOUT_S + 3, closed
    # Ordinary requests on a kept-alive connection are unaffected.
    with httpx.Client(base_url=web) as http:
        for _ in range(3):
            assert http.get("/healthz").status_code == 200
            time.sleep(HEAD_TIMEOUT_S / 3)


def test_an_upgrade_with_a_huge_url_is_refused_at_once(web: str) -> None:
    port = int(web.rsplit(":", 1)[1])
    head = (
        f"GET /ws?format=json&pad={'a' * 9000} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(head)
        sock.settimeout(5)
        answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 400"), answer[:80]
        assert _closed_after(sock, 5, trickle=None) is not None
