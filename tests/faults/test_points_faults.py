"""A web process killed mid-move (issue 16, "A crash mid-submit"), with real processes.

What must hold: a process that dies holding a room's lock freezes the room for no more than
the lock's TTL (Settings.room_lock_ttl_s) — not 15 s; the members it held are removed within
its lease (Settings.process_lease_s) and announced as ``left``; and when the round ends,
every point announced is stored and every point stored is announced (the points audit).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import redis

from config.settings import Settings
from store.db import Database
from tests.server.conftest import ROOT, Client, seed_campaign, start_web_process
from tests.support.points_audit import audit_points
from tests.support.processes import settings_env

ROOM = "crash"
LOCK_TTL_S = 1.5
LEASE_S = 3.0

# A process that takes the room's lock the way a move does and then dies holding it.
HOLDER = """
import asyncio, redis, redis.asyncio as aioredis
from config.settings import get_settings
from server.live.room_service import RoomService
from store.db import Database
async def main():
    s = get_settings()
    r = aioredis.Redis.from_url(s.redis_url)
    service = RoomService(s, Database(s, run_migrations=False), r, redis.Redis.from_url(s.redis_url))
    async with service.locked("crash"):
        print("held", flush=True)
        await asyncio.sleep(600)
asyncio.run(main())
"""


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


@pytest.fixture
def hub(settings: Settings, db: Database) -> Settings:
    cfg = settings.model_copy(
        update={
            "room_lobby_s": 0.0,
            "room_round_s": 12.0,
            "room_reveal_s": 2.0,
            "room_reveal_min_s": 0.0,
            "room_lock_ttl_s": LOCK_TTL_S,
            "process_lease_s": LEASE_S,
        }
    )
    seed_campaign(db, cfg.default_campaign)
    return cfg


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        _kill(proc)


@pytest.mark.long
async def test_a_dead_lock_holder_and_a_dead_web_process_free_the_room_and_points_add_up(
    hub: Settings, db: Database, redis_client: redis.Redis, procs: list[subprocess.Popen[bytes]]
) -> None:
    doomed, url1 = start_web_process(hub)
    survivor, url2 = start_web_process(hub)
    procs.extend([doomed, survivor])
    alice, bob = await Client.connect(url1), await Client.connect(url2)
    alice_id = (await alice.expect("welcome"))["player"]["id"]
    await bob.expect("welcome")
    await alice.join_round(ROOM)
    await bob.join_round(ROOM)
    await alice.send({"type": "submit", "text": "cats before the crash"})
    eid = (await bob.expect("explanation"))["explanation"]["id"]

    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER], cwd=ROOT, env=settings_env(hub), stdout=subprocess.PIPE
    )
    procs.append(holder)
    assert holder.stdout is not None and holder.stdout.readline().strip() == b"held"
    os.kill(holder.pid, signal.SIGKILL)  # dies holding the lock
    os.kill(doomed.pid, signal.SIGKILL)  # and alice's web process dies with her membership
    killed = time.monotonic()
    await bob.send({"type": "vote", "explanation_id": eid})
    await bob.expect("vote", timeout=20)
    frozen = time.monotonic() - killed
    assert frozen < LOCK_TTL_S + 1.5, f"the room stayed locked {frozen:.1f} s after its holder died"

    await bob.expect_left(alice_id, timeout=LEASE_S * 3)
    gone = time.monotonic() - killed
    assert gone < LEASE_S * 2 + 1, f"the dead process's member stayed {gone:.1f} s"

    await bob.expect("round_end", timeout=30)
    await bob.expect("points", timeout=10)
    await bob.drain(0.5)
    audit = audit_points(db, redis_client)
    assert audit.announced > 0 and (audit.wrongly_awarded, audit.lost) == (0, 0), audit.details
    print(f"room free {frozen:.2f} s and ghost gone {gone:.2f} s after the kill")
    await bob.close()
    await alice.close()
