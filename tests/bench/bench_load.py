"""Load figures (docs/BENCHMARKS.md "Load"): `pytest -s tests/bench/bench_load.py -o addopts=""`.

Real web processes started as deployed (`python -m server web`, the uvicorn options of
Settings) on a private Redis and the test database, and in the same run the same clients
against tests/bench/bare_fanout.py under the same uvicorn options: the floor of this machine,
to which every figure is given as a ratio. The guest-session limit is off for the generator
(all its clients share 127.0.0.1). BENCH_IDLE_CONNECTIONS sets the idle count (10,000),
BENCH_PLAYERS the room's size (1,000) and BENCH_SECONDS its length (20): scale them down to
iterate. BENCH_PYSPY=<dir> runs each web process under ``py-spy record`` (pip install py-spy;
found on PATH or beside the interpreter) at BENCH_PYSPY_RATE samples/s (50) and leaves its
collapsed stacks there, one file per process.

Every run FAILS when a client missed an event of its room (on its socket, or in the replay of
a reconnect), saw one twice, got an error frame or could not join, and when a server process
logged a warning or an error (each process's output goes to a file the test reads).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from config.settings import Settings
from store.db import Database
from tests.bench.loadgen import LoadResult, run_in_loop, run_load
from tests.server.conftest import ROOT, free_port, seed_campaign
from tests.support.processes import descendants, settings_env, stop, wait_http

IDLE = int(os.environ.get("BENCH_IDLE_CONNECTIONS", "10000"))
PLAYERS = int(os.environ.get("BENCH_PLAYERS", "1000"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "20"))
# What a server may log at warning level and above without failing the run: nothing.
LOG_PROBLEMS = ("WARNING", "ERROR", "CRITICAL", "Traceback", "Error:")
PYSPY_DIR = os.environ.get("BENCH_PYSPY", "")


class Servers:
    def __init__(self, settings: Settings, logs: Path) -> None:
        self.settings, self.logs = settings, logs
        self.procs: list[subprocess.Popen[bytes]] = []
        self.log_files: list[Path] = []
        self.web_urls: list[str] = []

    def _start(self, args: list[str], env: dict[str, str]) -> tuple[str, int]:
        port = free_port()
        log = self.logs / f"server-{len(self.log_files)}-{port}.log"
        self.log_files.append(log)
        with log.open("wb") as out:
            proc = subprocess.Popen([*args, "--port", str(port)], cwd=ROOT, env=env, stdout=out, stderr=out)
        self.procs.append(proc)
        wait_http(f"http://127.0.0.1:{port}/healthz", proc=proc)
        # Under py-spy the server is its child: memory and CPU are read from the server itself.
        pid = min(descendants(proc.pid), default=proc.pid) if args[0].endswith("py-spy") else proc.pid
        return f"ws://127.0.0.1:{port}/ws", pid

    def web(self, count: int) -> tuple[list[str], list[int]]:
        env = settings_env(self.settings.model_copy(update={"host": "127.0.0.1"}))
        self.web_urls = []
        started = [
            self._start([*self._profiled(), sys.executable, "-m", "server", "web"], env) for _ in range(count)
        ]
        self.web_urls = [url.replace("ws://", "http://").removesuffix("/ws") for url, _ in started]
        return [url for url, _ in started], [pid for _, pid in started]

    def drain(self, most_s: float = 120.0) -> None:
        """Wait until the web processes closed every socket the clients closed: 10,000 leaves
        take a while, and stopping meanwhile made uvicorn cancel them (logged as errors)."""
        deadline = time.monotonic() + most_s
        for url in self.web_urls:
            while time.monotonic() < deadline:
                with contextlib.suppress(httpx.HTTPError, ValueError):
                    if httpx.get(f"{url}/healthz", timeout=10).json().get("connections") == 0:
                        break
                time.sleep(0.5)
        self.web_urls = []

    def _profiled(self) -> list[str]:
        """The py-spy prefix when BENCH_PYSPY names a folder (a profile of where the time goes)."""
        if not PYSPY_DIR:
            return []
        out = Path(PYSPY_DIR) / f"web-{len(self.log_files)}.txt"
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        return [
            spy,
            "record",
            "--format",
            "raw",
            "--rate",
            os.environ.get("BENCH_PYSPY_RATE", "50"),
            "--nonblocking",
            "-o",
            str(out),
            "--",
        ]

    def bare(self) -> tuple[list[str], list[int]]:
        s = self.settings
        args = [sys.executable, "-m", "uvicorn", "tests.bench.bare_fanout:app", "--host", "127.0.0.1"]
        args += ["--ws", s.ws_implementation, "--loop", s.web_event_loop, "--log-level", "warning"]
        args += ["--ws-per-message-deflate", str(s.ws_per_message_deflate).lower()]
        url, pid = self._start(args, dict(os.environ))
        return [url], [pid]

    def stop(self) -> None:
        self.drain()
        for proc in self.procs:
            if PYSPY_DIR and proc.poll() is None:
                proc.send_signal(signal.SIGINT)  # py-spy writes its profile on SIGINT only
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(60)
            stop(proc)
        self.procs.clear()

    def problems(self) -> list[str]:
        """Warnings and errors the servers logged so far (every line, with its file)."""
        found = []
        for log in self.log_files:
            for line in log.read_text(errors="replace").splitlines():
                if any(word in line for word in LOG_PROBLEMS):
                    found.append(f"{log.name}: {line}")
        return found


@pytest.fixture
def servers(settings: Settings, db: Database, tmp_path: Path) -> Iterator[Servers]:
    hub = settings.model_copy(
        update={
            "room_lobby_s": 0.0,
            "room_round_s": 600.0,
            "heartbeat_s": 60.0,
            "guest_sessions_per_ip_per_min": 0,
            "ws_per_address": 1_000_000,  # every simulated player shares 127.0.0.1
            "log_level": "warning",
        }
    )
    seed_campaign(db, hub.default_campaign)
    found = Servers(hub, tmp_path)
    yield found
    found.stop()


def _report(label: str, ours: LoadResult, floor: LoadResult, keys_: tuple[str, ...]) -> dict[str, float]:
    a, b = ours.summary(), floor.summary()
    print(f"\n{label}\n  ours: {a}\n  bare: {b}", flush=True)
    ratios = {}
    for key in keys_:
        ratios[key] = a[key] / b[key] if b[key] else float("nan")
        print(f"  {key}: ours {a[key]} / bare {b[key]} = {ratios[key]:.2f}x", flush=True)
    return ratios


def _goal(text: str, met: bool) -> None:
    print(f"  goal {text}: {'met' if met else 'NOT MET'}", flush=True)


def _no_loss(servers: Servers, *results: LoadResult) -> None:
    """The run fails on any loss, error frame or logged problem (issue 19: it used to pass)."""
    problems = [p for result in results for p in result.losses()] + servers.problems()
    assert not problems, "\n".join(problems[:40])


def _run(urls: list[str], pids: list[int], redis_url: str | None, **load: Any) -> LoadResult:
    return run_in_loop(run_load(urls, pids=pids, redis_url=redis_url, **load))


def test_idle_connections_one_process(servers: Servers) -> None:
    load = {"connections": IDLE, "room_size": 50, "rate": 0, "duration": 0.1}
    urls, pids = servers.web(1)
    ours = _run(urls, pids, None, **load)
    servers.stop()
    urls, pids = servers.bare()
    floor = _run(urls, pids, None, **load)
    ratios = _report(
        f"{IDLE} idle connections, 1 web process", ours, floor, ("kib_per_conn", "kib_marginal", "connect_s")
    )
    _goal("memory per connection <= 1.2x bare", ratios["kib_per_conn"] <= 1.2)
    _goal("connect time <= 2x bare", ratios["connect_s"] <= 2.0)
    _no_loss(servers, ours, floor)


ROOM_P99: dict[int, float] = {}  # round-trip p99 by process count, for the 4:1 ratio


@pytest.mark.parametrize("processes", [1, 2, 4])
def test_one_room_at_10_events_per_s(servers: Servers, processes: int) -> None:
    load = {"connections": PLAYERS, "room_size": PLAYERS, "rate": 10, "duration": SECONDS}
    urls, pids = servers.web(processes)
    ours = _run(urls, pids, servers.settings.redis_url, **load)
    servers.stop()
    urls, pids = servers.bare()
    floor = _run(urls, pids, None, **load)
    label = f"{PLAYERS}-player room, 10 events/s, {SECONDS:g} s, {processes} web process(es)"
    ratios = _report(label, ours, floor, ("rt_p50_ms", "rt_p99_ms"))
    summary = ours.summary()
    _goal("round-trip p99 <= 2x bare", ratios["rt_p99_ms"] <= 2.0)
    _goal("broadcast p99 < 50 ms", summary["bc_p99_ms"] < 50)
    ROOM_P99[processes] = summary["rt_p99_ms"]
    if processes == 4 and 1 in ROOM_P99:
        print(f"  round-trip p99, 4 processes / 1 process: {ROOM_P99[4] / ROOM_P99[1]:.2f}x", flush=True)
    _no_loss(servers, ours, floor)
