"""Faults with real processes: a web process killed with SIGKILL, Redis restarted under a
running web process. Each test counts explanations, votes and events before and after.

Quick enough for the default suite (seconds each); `make faults` runs them with the rest of
tests/faults. Results and dates are in docs/RELIABILITY.md.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlmodel import func, select

from config.settings import Settings
from server.cli.embedded_redis import EmbeddedRedis
from store import eventlog
from store.db import Database
from store.models import Explanation, Vote
from tests.server.conftest import Client, seed_campaign, start_web_process


def _settings(settings: Settings, **update: object) -> Settings:
    return settings.model_copy(
        update={"room_lobby_s": 0.0, "room_round_s": 120.0, "room_reveal_s": 60.0, **update}
    )


def _counts(db: Database) -> tuple[int, int]:
    with db.session() as s:
        return s.exec(select(func.count()).select_from(Explanation)).one(), s.exec(
            select(func.count()).select_from(Vote)
        ).one()


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def web_pair(
    settings: Settings, db: Database
) -> Iterator[tuple[Settings, list[subprocess.Popen[bytes]], list[str]]]:
    hub = _settings(settings)
    seed_campaign(db, hub.default_campaign)
    procs, urls = [], []
    try:
        for _ in range(2):
            proc, url = start_web_process(hub)
            procs.append(proc)
            urls.append(url)
        yield hub, procs, urls
    finally:
        for proc in procs:
            _kill(proc)


async def test_kill_9_a_web_process_its_client_reconnects_elsewhere_and_misses_nothing(
    web_pair: tuple[Settings, list[subprocess.Popen[bytes]], list[str]],
    db: Database,
    redis_client: redis.Redis,
) -> None:
    _, (doomed, _survivor), (url1, url2) = web_pair
    alice = await Client.connect(url1)
    token = (await alice.expect("welcome"))["token"]
    bob = await Client.connect(url2)
    await bob.expect("welcome")
    await alice.join_round("faulty")
    await bob.join_round("faulty")
    await alice.send({"type": "submit", "text": "cats before the crash"})
    eid = (await bob.expect("explanation"))["explanation"]["id"]
    await alice.drain(0.3)
    seen = max(int(e["v"]) for e in alice.events if "v" in e)

    os.kill(doomed.pid, signal.SIGKILL)  # no goodbye: the socket just dies
    doomed.wait(10)
    # While alice is gone, the room goes on on the other process.
    await bob.send({"type": "vote", "explanation_id": eid})
    await bob.expect("vote")
    await bob.send({"type": "submit", "text": "dogs during the crash"})
    await bob.expect("explanation", where=lambda e: e["explanation"]["id"] != eid)

    back = await Client.connect(url2, token=token, since=seen, room="faulty")
    await back.expect("welcome")
    await back.expect("explanation", where=lambda e: e["explanation"]["text"] == "dogs during the crash")
    # Joins and leaves are announced by the room's next members flush (0.2 s): let the one for
    # this rejoin land before the log is read, so every event the log holds has been sent.
    await back.drain(0.6)
    in_log = [int(e["v"]) for e in eventlog.since(redis_client, "faulty", seen) or []]
    got = sorted({int(e["v"]) for e in back.events if "v" in e and e["type"] != "room"})
    assert got[: len(in_log)] == in_log, "every event after `since`, once, in order"
    assert _counts(db) == (2, 1)
    await back.close()
    await bob.close()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A redis-server this test may stop and start (with its AOF, like the embedded one)."""
    server = EmbeddedRedis(tmp_path / "redis", persist=True).start()
    yield server
    server.stop()


async def test_redis_restart_rooms_resume_and_clients_resync(
    settings: Settings, db: Database, own_redis: EmbeddedRedis
) -> None:
    hub = _settings(settings, redis_url=own_redis.url)
    seed_campaign(db, hub.default_campaign)
    proc, url = start_web_process(hub)
    try:
        alice, bob = await Client.connect(url), await Client.connect(url)
        await alice.expect("welcome")
        await bob.expect("welcome")
        await alice.join_round("phoenix")
        await bob.join_round("phoenix")
        await alice.send({"type": "submit", "text": "cats before the restart"})
        eid = (await bob.expect("explanation"))["explanation"]["id"]
        r = redis.Redis.from_url(own_redis.url)
        r.bgrewriteaof()
        time.sleep(1.2)  # appendfsync everysec: what a crash may lose is at most ~1 s of writes
        r.close()

        own_redis.stop()
        own_redis.start()

        await bob.send({"type": "vote", "explanation_id": eid})
        vote = await alice.expect("vote", timeout=30)
        assert vote["explanation_id"] == eid
        await alice.send({"type": "resync"})
        snapshot = await alice.expect("room", where=lambda e: e["phase"] == "round")
        assert [e["id"] for e in snapshot["explanations"] if e.get("player_id")] == [eid]
        assert _counts(db) == (1, 1)
        await alice.close()
        await bob.close()
    finally:
        _kill(proc)
