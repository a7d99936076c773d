"""Redis loses its data under a running web process (FLUSHALL: what a restart without
persistence, or a new instance, looks like) — issue 10.

The web process notices within ``redis_check_s`` (server/live/redis_watch.py): the leaderboards
come back from SQL, entry for entry, without a restart; the players of a room are members
again and get a fresh ``room`` snapshot, and play on. Points, explanations and votes are
counted in SQL before and after.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from config import keys
from config.settings import Settings
from store.db import Database
from tests.server.conftest import Client, seed_campaign
from tests.support.counts import counts
from tests.support.roles import Role, start_web

ROOM = "wiped"


def boards(r: redis.Redis) -> dict[str, Any]:
    """Every leaderboard (sorted set) and member hash, without the rebuild marker."""
    out: dict[str, Any] = {}
    for raw in r.scan_iter(match=keys.leaderboard_pattern()):
        key = raw.decode()
        if key == keys.leaderboards_built():
            continue
        kind = r.type(key)
        if kind == b"zset":
            out[key] = r.zrange(key, 0, -1, withscores=True)
        elif kind == b"hash":
            out[key] = r.hgetall(key)
    return out


@pytest.fixture
def web(settings: Settings, db: Database, tmp_path: Path) -> Iterator[tuple[Settings, Role]]:
    cfg = settings.model_copy(
        update={
            "redis_check_s": 0.5,
            "room_lobby_s": 0.0,
            "room_round_s": 6.0,
            "room_reveal_s": 1.0,  # no worker: the reveal ends without scores
            "room_reveal_min_s": 0.0,
        }
    )
    seed_campaign(db, cfg.default_campaign)
    role = start_web(cfg, tmp_path / "logs")
    yield cfg, role
    role.stop()


async def submit_in_a_round(author: Client, other: Client, text: str, old_id: int) -> dict[str, Any]:
    """The explanation as the other player sees it. Rounds here last 6 s: on a loaded machine a
    submit can reach the server after its round ended (``wrong_phase``), and then the author
    writes it again in the next round, as a player would; any other refusal fails the test."""
    for _ in range(3):
        await author.send({"type": "submit", "text": text})
        event = await author.expect_one_of(("explanation", "error"), timeout=20)
        while event["type"] == "explanation" and event["explanation"]["id"] == old_id:  # before the wipe
            event = await author.expect_one_of(("explanation", "error"), timeout=20)
        if event["type"] == "error":
            assert event["code"] == "wrong_phase", event
            await author.expect("puzzle", timeout=20)
            continue
        assert event["explanation"]["text"] == text, event
        return (await other.expect("explanation", where=lambda e: e["explanation"]["id"] != old_id))[
            "explanation"
        ]
    raise AssertionError(f"{text!r} never made it into a round")


async def test_flushall_boards_rebuild_from_sql_and_the_room_plays_on(
    web: tuple[Settings, Role], db: Database, redis_client: redis.Redis
) -> None:
    _, role = web
    alice, bob = await Client.connect(role.ws_url), await Client.connect(role.ws_url)
    alice_id = (await alice.expect("welcome"))["player"]["id"]
    await bob.expect("welcome")
    await alice.join_round(ROOM)
    await bob.join_round(ROOM)
    await alice.send({"type": "submit", "text": "cats before the wipe"})
    eid = (await bob.expect("explanation"))["explanation"]["id"]
    await bob.send({"type": "vote", "explanation_id": eid})
    await alice.expect("vote")
    awards = (await alice.expect("points", timeout=30))["awards"]  # the round ends: real points
    first = {"player_id": alice_id, "amount": 20, "reason": "first_explanation", "explanation_id": eid}
    assert first in awards
    for client in (alice, bob):
        await client.expect("puzzle", timeout=15)  # the next round (no lobby wait)
    before, before_boards = counts(db), boards(redis_client)
    assert before.point_events == len(awards) and before_boards, "points on the live boards"

    redis_client.flushall()
    wiped_at = time.monotonic()
    while boards(redis_client) != before_boards:
        assert time.monotonic() - wiped_at < 10, "boards not rebuilt from SQL within 10 s"
        await asyncio.sleep(0.1)
    rebuilt_s = time.monotonic() - wiped_at

    # Both players are members again and get the room afresh; a new round starts (its puzzle
    # comes as an event, or is already in the snapshot).
    for client in (alice, bob):
        snapshot = await client.expect("room", timeout=10)
        if snapshot["phase"] != "round":
            await client.expect("puzzle", timeout=10)
    new = await submit_in_a_round(alice, bob, "cats after the wipe", eid)
    await bob.send({"type": "vote", "explanation_id": new["id"]})
    await alice.expect("vote", where=lambda e: e["explanation_id"] == new["id"])
    after = counts(db)
    assert (after.explanations, after.votes) == (before.explanations + 1, before.votes + 1)
    assert (after.point_events, after.points) == (before.point_events, before.points), "no point lost"
    assert role.proc.poll() is None, "the same web process, never restarted"
    print(f"boards rebuilt {rebuilt_s:.2f} s after FLUSHALL")
    await alice.close()
    await bob.close()
