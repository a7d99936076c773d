"""`neuronquest up`: one command that runs the whole game on this machine.

Starts (when no URLs are configured) a private redis-server persisting into the
data dir (with a generated password, its files readable by their owner only), applies
migrations, then runs the web, worker and scheduler roles as child processes — exactly
what the Procfile would run — and restarts a child that crashes, and the Redis if it dies.
SIGINT or SIGTERM stops every child, the private Redis last, and leaves no process behind.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from config.settings import Settings, child_environment
from server.cli.embedded_redis import EmbeddedRedis
from server.cli.runtime import embedded_url_file
from store.db import Database

# (name, arguments of `neuronquest`). Two workers, so that a long background job (mining a
# campaign, writing machine explanations) never keeps a player waiting for a score; the
# background one runs niced (Settings.background_nice) so it also yields the CPU.
ROLES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("web", ("web",)),
    ("worker", ("worker", "--queues", "model,warm")),
    ("background", ("worker", "--queues", "default")),
    ("scheduler", ("scheduler",)),
)
# A child that crashes more often than this within the window is not restarted again.
MAX_RESTARTS = 5
RESTART_WINDOW_S = 60.0


@dataclass
class Child:
    role: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    restarts: list[float] = field(default_factory=list)

    def start(self, env: dict[str, str]) -> None:
        # A session of its own: the terminal's Ctrl-C reaches only the supervisor,
        # which then stops children in order (workers before the Redis they need).
        self.process = subprocess.Popen(self.argv, env=env, start_new_session=True)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


def _say(message: str) -> None:
    print(f"[neuronquest] {message}", flush=True)


class Supervisor:
    def __init__(self, settings: Settings, host: str, port: int) -> None:
        self.settings = settings
        self.host = host
        self.port = port
        self.redis: EmbeddedRedis | None = None
        self.children: list[Child] = []
        self.redis_restarts: list[float] = []
        self.stopping = threading.Event()

    # -- lifecycle ---------------------------------------------------------
    def run(self, after_start: Callable[[Settings, threading.Event], None] | None = None) -> int:
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        try:
            child_settings = self._prepare()
            env = self._child_env(child_settings)
            for role, argv in ROLES:
                child = Child(role, [sys.executable, "-m", "server", *argv])
                child.start(env)
                self.children.append(child)
            if self._wait_healthy():
                _say(f"NeuronQuest is running at http://{self._display_host()}:{self.port}/  (Ctrl-C stops)")
            if after_start is not None and not self.stopping.is_set():
                after_start(child_settings, self.stopping)
            while not self.stopping.wait(0.5):
                self.restart_dead_redis()
                self._restart_crashed(env)
            return 0
        finally:
            self.shutdown()

    def _prepare(self) -> Settings:
        settings = self.settings
        settings.ensure_dirs()
        updates: dict[str, object] = {"data_dir": settings.data_path, "host": self.host, "port": self.port}
        if settings.embedded_redis:
            # A password of its own each run: other local users cannot publish fake scores or
            # read rooms through the loopback port (the url file below is its owner's alone).
            directory = settings.data_path / "redis"
            self.redis = EmbeddedRedis(directory, persist=True, password=secrets.token_urlsafe(32)).start()
            url_file = embedded_url_file(settings)
            url_file.touch(mode=0o600)
            url_file.chmod(0o600)
            url_file.write_text(self.redis.url)
            updates["redis_url"] = self.redis.url
            _say(f"private Redis on 127.0.0.1:{self.redis.port} (AOF in {settings.data_path / 'redis'})")
        else:
            _say("using Redis at the configured NQ_REDIS_URL")
        db = Database(settings)  # applies migrations once, before any role starts
        db.dispose()
        where = "configured database" if settings.database_url else settings.effective_database_url
        _say(f"database ready ({where})")
        return settings.model_copy(update=updates)

    def _child_env(self, settings: Settings) -> dict[str, str]:
        return child_environment(
            {
                "NQ_DATA_DIR": str(settings.data_path),
                "NQ_REDIS_URL": settings.redis_url,
                "NQ_HOST": self.host,
                "NQ_PORT": str(self.port),
                "PYTHONUNBUFFERED": "1",
            }
        )

    def _display_host(self) -> str:
        return "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host

    def _wait_healthy(self, timeout: float = 60.0) -> bool:
        url = f"http://{self._display_host()}:{self.port}/healthz"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.stopping.is_set():
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            if not self.children[0].alive():
                return False
            time.sleep(0.2)
        return False

    def _restart_crashed(self, env: dict[str, str]) -> None:
        now = time.monotonic()
        for child in self.children:
            if child.alive() or child.process is None:
                continue
            code = child.process.returncode
            child.restarts = [t for t in child.restarts if now - t < RESTART_WINDOW_S]
            if len(child.restarts) >= MAX_RESTARTS:
                _say(f"{child.role} keeps crashing (exit {code}); stopping")
                self.stopping.set()
                return
            child.restarts.append(now)
            _say(f"{child.role} exited with code {code}; restarting")
            child.start(env)

    def restart_dead_redis(self) -> bool:
        """Start the private Redis again when it died (same port, password and AOF, so the
        roles reconnect by themselves and find their data); True when it was restarted."""
        if self.redis is None or self.redis.alive() or self.stopping.is_set():
            return False
        now = time.monotonic()
        self.redis_restarts = [t for t in self.redis_restarts if now - t < RESTART_WINDOW_S]
        if len(self.redis_restarts) >= MAX_RESTARTS:
            _say("the private Redis keeps dying; stopping")
            self.stopping.set()
            return False
        self.redis_restarts.append(now)
        _say("the private Redis died; restarting it")
        try:
            self.redis.start()
        except RuntimeError as exc:
            _say(f"the private Redis did not start again: {exc}")
            return False
        return True

    def _on_signal(self, signum: int, _frame: object) -> None:
        if not self.stopping.is_set():
            _say(f"{signal.Signals(signum).name} received, stopping")
        self.stopping.set()

    def shutdown(self, timeout: float = 15.0) -> None:
        self.stopping.set()
        for child in self.children:
            if child.alive():
                child.process.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        deadline = time.monotonic() + timeout
        for child in self.children:
            if child.process is None:
                continue
            try:
                child.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _say(f"{child.role} did not stop in time; killing it")
                os.killpg(child.process.pid, signal.SIGKILL)
                child.process.wait()
            else:
                # Whatever the role itself started (a job's work horse) goes too.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.process.pid, signal.SIGKILL)
        self.children.clear()
        if self.redis is not None:
            self.redis.stop()
            embedded_url_file(self.settings).unlink(missing_ok=True)
            self.redis = None
        _say("stopped")
