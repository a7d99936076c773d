"""Command sequences against the real room service (server/live/room_service.py): real Redis, real
database. After each random sequence the durable records agree with what the room said:

* one Vote row per (player, explanation), never by the author, and one ``vote`` event each;
* every point in the database is a PointEvent of this room, and their sum per player equals the
  awards the room's ``points`` events announced (and the player's total_points);
* scores reach the room only through record_score (the worker path): no client move makes one.

Bounded: a few dozen sequences in the default run (each touches SQL and Redis), more with
``--hypothesis-profile=thorough``.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import redis
import redis.asyncio as aioredis
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import select

from config.settings import Settings
from rooms.puzzle_room import RoomError
from server.live.room_service import RoomService
from store import eventlog
from store.db import Database
from store.models import Explanation, PointEvent, Score, Vote
from store.players import create_guest, total_points
from tests.server.conftest import Clock, seed_campaign

_rooms = itertools.count()
moves = st.lists(
    st.one_of(
        st.tuples(st.just("join"), st.integers(0, 3)),
        st.tuples(st.just("leave"), st.integers(0, 3)),
        st.tuples(st.just("submit"), st.integers(0, 3)),
        st.tuples(st.just("vote"), st.integers(0, 3), st.integers(0, 6)),
        st.tuples(st.just("vote"), st.integers(0, 3), st.integers(0, 6)),
        st.tuples(st.just("score"), st.integers(0, 6), st.floats(-1.0, 1.0)),
        st.tuples(st.just("clock"), st.sampled_from([0.5, 5.0, 61.0, 31.0])),
    ),
    max_size=30,
)
# Each submit its own words: another player's same words are refused `copied` (rooms/copies.py).
SUBMIT_NUMBERS = itertools.count()
CLIENT_ERRORS = {"not_in_room", "wrong_phase", "already_submitted", "double_vote", "own_vote", "not_found"}


async def _play(
    service: RoomService, clock: Clock, room: str, players: list[dict[str, Any]], steps: list
) -> None:
    written: list[int] = []
    joins = [("join", i) for i in range(len(players))]  # most sequences should reach the votes
    for step in [*joins, *steps]:
        kind = step[0]
        try:
            if kind == "join":
                p = players[step[1]]
                await service.join(room, p["id"], p["name"])
            elif kind == "leave":
                await service.leave(room, players[step[1]]["id"])
            elif kind == "submit":
                text = f"fires on cats {next(SUBMIT_NUMBERS)}"  # unique across examples (one database)
                written.append(await service.submit(room, players[step[1]], text))
            elif kind == "vote":
                eid = written[step[2] % len(written)] if written else 10_000 + step[2]
                await service.vote(room, players[step[1]]["id"], eid)
            elif kind == "score" and written:  # a worker stores a score; the hub applies the stored one
                eid = written[step[1] % len(written)]
                await asyncio.to_thread(_store_score, service.db, eid, step[2])
                await service.record_score(room, eid)
            elif kind == "clock":
                clock.advance(step[1])
                await service.tick(room)
        except RoomError as exc:
            assert exc.code in CLIENT_ERRORS, exc.code
    for _ in range(3):  # finish whatever round is open (round -> reveal -> round end): points awarded
        clock.advance(100.0)
        await service.tick(room)


def _store_score(db: Database, explanation_id: int, score: float) -> None:
    with db.session() as s:
        if s.exec(select(Score).where(Score.explanation_id == explanation_id)).first() is None:
            s.add(Score(explanation_id=explanation_id, simulator="fuzz", version="1", score=score))
            s.commit()


def _check(db: Database, r: redis.Redis, room: str, players: list[dict[str, Any]]) -> None:
    events = eventlog.since(r, room, 0) or []
    announced: dict[int, int] = {}
    for event in events:
        if event["type"] == "points":
            for award in event["awards"]:
                announced[award["player_id"]] = announced.get(award["player_id"], 0) + award["amount"]
    vote_events = [e for e in events if e["type"] == "vote"]
    final: dict[tuple[int, int], int] = {}  # (round, voter) -> the vote that stands
    round_no = 0
    for event in events:
        if event["type"] == "puzzle":
            round_no = event["round"]
        elif event["type"] == "vote" and not event.get("withdrawn"):
            final[(round_no, event["player_id"])] = event["explanation_id"]
    with db.session() as s:
        explanations = {e.id: e for e in s.exec(select(Explanation).where(Explanation.room_id == room))}
        votes = [v for v in s.exec(select(Vote)) if v.explanation_id in explanations]
        pairs = [(v.player_id, v.explanation_id) for v in votes]
        assert len(pairs) == len(set(pairs)), "one vote per player per explanation"
        assert all(explanations[e].player_id != pid for pid, e in pairs), "no vote for one's own"
        assert sorted(pairs) == sorted((voter, eid) for (_, voter), eid in final.items()), (
            "every stored vote is the last one its player cast in the round, as announced"
        )
        assert len(vote_events) >= len(votes)
        stored: dict[int, int] = {}
        for point in s.exec(select(PointEvent).where(PointEvent.room_id == room)):
            stored[point.player_id] = stored.get(point.player_id, 0) + point.amount
        assert stored == announced, "points equal the sum of the room's point events"
        for p in players:
            assert total_points(s, p["id"]) == stored.get(p["id"], 0)


@given(steps=moves)
@settings(max_examples=max(15, settings().max_examples // 10))
def test_random_command_sequences_keep_votes_and_points_consistent(
    settings: Settings, db: Database, redis_client: redis.Redis, steps: list
) -> None:
    hub = settings.model_copy(update={"room_lobby_s": 0.0, "room_round_s": 60.0, "room_reveal_s": 30.0})
    if not getattr(db, "_fuzz_seeded", False):  # the db fixture is emptied once per test, not per example
        seed_campaign(db, hub.default_campaign)
        db._fuzz_seeded = True  # type: ignore[attr-defined]
    room = f"fuzz{next(_rooms)}"
    with db.session() as s:
        players = [
            {"id": int(g.id or 0), "name": g.name} for g in (create_guest(s, f"P{i}") for i in range(4))
        ]

    async def run() -> None:
        r = aioredis.Redis.from_url(hub.redis_url)
        clock = Clock()
        try:
            await _play(RoomService(hub, db, r, redis_client, clock=clock), clock, room, players, steps)
        finally:
            await r.aclose()

    asyncio.run(run())
    _check(db, redis_client, room, players)
