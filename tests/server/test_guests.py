"""New guests in a connect storm are committed in batches (server/hub/guests.py, issue 19)."""

from __future__ import annotations

import asyncio

from sqlalchemy import event
from sqlmodel import select

from config.settings import Settings
from server.api.sessions import player_of_token
from server.hub.guests import GuestBatcher
from store.db import Database
from store.models import Player


async def test_a_storm_of_guests_commits_a_few_times_and_each_gets_its_own_player(
    db: Database, settings: Settings
) -> None:
    commits: list[int] = []

    def count(_conn: object) -> None:
        commits.append(1)

    event.listen(db.engine, "commit", count)
    try:
        batcher = GuestBatcher(db, settings, batch_max=50)
        made = await asyncio.gather(*(batcher.new_guest() for _ in range(120)))
    finally:
        event.remove(db.engine, "commit", count)
    players = [player for player, _ in made]
    ids = [p["id"] for p in players]
    assert len(set(ids)) == 120 and all(p["guest"] and p["points"] == 0 for p in players)
    with db.session() as s:  # each with its own open session, committed with its batch
        assert all(player_of_token(s, settings, token) == p["id"] for p, token in made)
    with db.session() as s:
        stored = {int(p.id or 0): p for p in s.exec(select(Player))}
    assert set(ids) <= set(stored)
    # Each id handed out is the row of that name (one multi-row INSERT ... RETURNING, in order).
    assert all(stored[p["id"]].name == p["name"] and stored[p["id"]].is_guest for p in players)
    assert len({p["name"] for p in players}) > 1
    # 120 guests, at most 50 per batch: 3 batches, not 120 commits.
    assert len(commits) <= 4, len(commits)


async def test_a_lone_guest_is_not_kept_waiting_for_a_batch(db: Database, settings: Settings) -> None:
    batcher = GuestBatcher(db, settings)
    player, _ = await asyncio.wait_for(batcher.new_guest(), 5)
    assert player["guest"] and batcher._running is None
