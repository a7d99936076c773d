"""The private Redis of `up` (issue 16): a generated password, files only its owner reads, and a
restart when it dies. A local user forged a score through the open loopback port before."""

from __future__ import annotations

import os
import signal
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from config.settings import Settings
from server.cli.runtime import embedded_url_file
from server.cli.supervisor import Supervisor


@pytest.fixture
def supervisor(tmp_path: Path, database_url: str) -> Iterator[Supervisor]:
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, redis_url="")
    sup = Supervisor(settings, "127.0.0.1", 0)
    sup._prepare()  # the private Redis and the migrations, without the roles
    yield sup
    sup.shutdown()


def _private(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) & 0o077 == 0


def test_the_private_redis_wants_a_password_and_keeps_its_files_private(supervisor: Supervisor) -> None:
    assert supervisor.redis is not None
    port = supervisor.redis.port
    stranger = redis.Redis(host="127.0.0.1", port=port)
    with pytest.raises(redis.AuthenticationError):
        stranger.publish("nq:room:r1:ch", b'{"type":"score","score":0.99}')
    stranger.close()
    owner = redis.Redis.from_url(supervisor.redis.url)
    owner.set("nq:probe", "1")
    owner.close()
    time.sleep(1.2)  # appendfsync everysec: the AOF is on disk
    directory = supervisor.settings.data_path / "redis"
    files = list(directory.rglob("*"))
    assert files and _private(directory) and all(_private(p) for p in files), [
        (p.name, oct(p.stat().st_mode)) for p in files
    ]
    url_file = embedded_url_file(supervisor.settings)
    assert url_file.read_text() == supervisor.redis.url and _private(url_file)
    # The password appears in no process' command line (`ps` shows every user's).
    assert supervisor.redis.password not in Path(f"/proc/{supervisor.redis.process.pid}/cmdline").read_text()


def test_up_restarts_a_private_redis_that_died(supervisor: Supervisor) -> None:
    assert supervisor.redis is not None and supervisor.redis.process is not None
    client = redis.Redis.from_url(supervisor.redis.url)
    client.set("nq:kept", "yes")
    time.sleep(1.2)  # in the AOF
    os.kill(supervisor.redis.process.pid, signal.SIGKILL)
    supervisor.redis.process.wait()
    assert supervisor.restart_dead_redis()
    assert client.get("nq:kept") == b"yes"  # same port, same password, same data
    assert not supervisor.restart_dead_redis()  # alive: nothing to do
    client.close()
