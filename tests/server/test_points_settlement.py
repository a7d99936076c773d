"""Points settled exactly once, from SQL (issue 16, "Points"): the room service on the real Redis
and database, no server. Each test plays one attack the issue found and says what must happen.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import redis
import redis.asyncio as aioredis
from rq import Queue
from sqlmodel import select

from config.settings import Settings
from rooms.puzzle_room import RoomError
from server.live.room_service import RoomService
from store import eventlog
from store.db import Database
from store.explanations import create_explanation
from store.models import Explanation, Player, PointEvent, Score, Vote
from tests.server.conftest import Clock, seed_campaign
from workers.scoring_settlement import settle_stored_score


@dataclass
class Game:
    service: RoomService
    clock: Clock
    db: Database
    r: redis.Redis
    settings: Settings


@pytest.fixture
async def game(settings: Settings, db: Database, redis_client: redis.Redis) -> AsyncIterator[Game]:
    hub = settings.model_copy(
        update={"room_lobby_s": 0.0, "room_round_s": 60.0, "room_reveal_s": 30.0, "room_reveal_min_s": 0.0}
    )
    seed_campaign(db, hub.default_campaign, neurons=1)  # every room plays the same neuron
    r = aioredis.Redis.from_url(hub.redis_url)
    clock = Clock()
    yield Game(RoomService(hub, db, r, redis_client, clock=clock), clock, db, redis_client, hub)
    await r.aclose()


def players(db: Database, n: int) -> list[dict[str, object]]:
    with db.session() as s:
        rows = [Player(name=f"P{i}") for i in range(n)]
        s.add_all(rows)
        s.commit()
        return [{"id": int(p.id or 0), "name": p.name} for p in rows]


async def start(game: Game, room: str, *people: dict[str, object]) -> None:
    for p in people:
        await game.service.join(room, int(p["id"]), str(p["name"]))  # type: ignore[call-overload]
    await game.service.tick(room)
    assert (await game.service.load(room, members=False)).state.phase.value == "round"


def store_score(db: Database, explanation_id: int, score: float) -> None:
    with db.session() as s:
        s.add(Score(explanation_id=explanation_id, simulator="test", version="1", score=score))
        s.commit()


async def end_round(game: Game, *rooms: str) -> None:
    game.clock.advance(61)  # round -> reveal
    for room in rooms:
        await game.service.tick(room)
    game.clock.advance(31)  # the reveal's longest wait
    for room in rooms:
        await game.service.tick(room)


def awards(db: Database, reason: str | None = None) -> list[tuple[int, int, str]]:
    with db.session() as s:
        rows = s.exec(select(PointEvent).order_by(PointEvent.id)).all()
    return [(e.player_id, e.amount, e.reason) for e in rows if reason in (None, e.reason)]


def announced(r: redis.Redis, room: str) -> list[dict[str, object]]:
    return [a for e in eventlog.since(r, room, 0) or [] if e["type"] == "points" for a in e["awards"]]


async def test_first_explanation_is_paid_once_per_neuron_even_in_two_rooms_at_once(game: Game) -> None:
    ada, bob = players(game.db, 2)
    await start(game, "one", ada)
    await start(game, "two", bob)
    await game.service.submit("one", ada, "cats")
    await game.service.submit("two", bob, "felines")
    await end_round(game, "one", "two")
    assert len(awards(game.db, "first_explanation")) == 1, "the neuron had no explanation: one award, ever"
    told = announced(game.r, "one") + announced(game.r, "two")
    assert [a["reason"] for a in told] == ["first_explanation"], "announced exactly what was stored"


async def test_one_vote_per_round_and_voting_for_everything_wins_nothing(game: Game) -> None:
    ada, bob, eve = players(game.db, 3)
    await start(game, "vote", ada, bob, eve)
    good = await game.service.submit("vote", ada, "cats on mats")
    bad = await game.service.submit("vote", bob, "anything")
    await game.service.vote("vote", int(eve["id"]), good)  # type: ignore[call-overload]
    await game.service.vote("vote", int(eve["id"]), bad)  # moves eve's vote: one per round
    with pytest.raises(RoomError) as again:
        await game.service.vote("vote", int(eve["id"]), bad)  # type: ignore[call-overload]
    assert again.value.code == "double_vote"
    with game.db.session() as s:
        assert [(v.player_id, v.explanation_id) for v in s.exec(select(Vote)).all()] == [(eve["id"], bad)]
    store_score(game.db, good, 0.9)
    store_score(game.db, bad, 0.1)
    await end_round(game, "vote")
    assert (eve["id"], 10, "top_vote") not in awards(game.db), "eve's one vote was not for the top"
    assert (ada["id"], 50, "beat_best") in awards(game.db), "the round was settled"
    moved = [e for e in eventlog.since(game.r, "vote", 0) or [] if e["type"] == "vote"]
    assert [(e["explanation_id"], e["votes"]) for e in moved] == [(good, 1), (good, 0), (bad, 1)]


async def test_a_submit_is_unique_per_player_and_round_even_after_a_crash(game: Game) -> None:
    """A process killed after storing the explanation but before saving the room: the player's
    retry must not store a second one, and the stored one still counts and is scored."""
    ada, bob = players(game.db, 2)
    await start(game, "crash", ada, bob)
    room = (await game.service.load("crash")).state
    assert room.puzzle is not None and room.round_key
    with game.db.session() as s:  # what the dead process left: the row, not the room's state
        orphan = create_explanation(s, room.puzzle.neuron_id, int(ada["id"]), "cats", "crash", room.round_key)  # type: ignore[call-overload]
        assert orphan is not None
        orphan_id = int(orphan.id or 0)
    with pytest.raises(RoomError) as twice:
        await game.service.submit("crash", ada, "cats again")
    assert twice.value.code == "already_submitted"
    with game.db.session() as s:
        assert len(s.exec(select(Explanation).where(Explanation.player_id == ada["id"])).all()) == 1
    await end_round(game, "crash")
    assert (ada["id"], 20, "first_explanation") in awards(game.db), "the orphan is settled with its round"
    jobs = Queue(game.settings.queue_model, connection=game.r).jobs
    assert any(j.args[:2] == (orphan_id, "crash") for j in jobs), "and sent to be scored"


async def test_a_late_score_earns_beat_best_once_and_the_room_hears_once(game: Game) -> None:
    (ada,) = players(game.db, 1)
    await start(game, "late", ada)
    eid = await game.service.submit("late", ada, "cats")
    await end_round(game, "late")  # the reveal ran out before the score came
    assert awards(game.db, "beat_best") == []
    store_score(game.db, eid, 0.7)
    for _ in range(3):  # the worker, its retry, a second worker
        settle_stored_score(game.db, game.r, game.settings, eid)
    assert awards(game.db, "beat_best") == [(ada["id"], 50, "beat_best")]
    late = [e for e in eventlog.since(game.r, "late", 0) or [] if e["type"] == "points" and e.get("late")]
    assert len(late) == 1 and late[0]["awards"][0]["reason"] == "beat_best"
    with game.db.session() as s:  # a rescore (a new simulator version) earns nothing more
        s.add(Score(explanation_id=eid, simulator="test", version="2", score=0.95))
        s.commit()
    settle_stored_score(game.db, game.r, game.settings, eid)
    assert awards(game.db) == [(ada["id"], 20, "first_explanation"), (ada["id"], 50, "beat_best")]


async def test_a_forged_score_in_the_room_pays_nothing(game: Game) -> None:
    """The room applies the stored score, never a number it is told."""
    (ada,) = players(game.db, 1)
    await start(game, "forged", ada)
    eid = await game.service.submit("forged", ada, "cats")
    assert await game.service.record_score("forged", eid) is None  # nothing stored: nothing applied
    await end_round(game, "forged")
    assert awards(game.db, "beat_best") == []


async def test_one_room_at_a_time(game: Game) -> None:
    ada, bob = players(game.db, 2)
    await start(game, "home", ada)
    await start(game, "away", ada, bob)
    await game.service.submit("home", ada, "cats")
    bobs = await game.service.submit("away", bob, "dogs")
    for move in (
        game.service.submit("away", ada, "cats again"),
        game.service.vote("away", int(ada["id"]), bobs),
    ):  # type: ignore[call-overload]
        with pytest.raises(RoomError) as busy:
            await move
        assert busy.value.code == "busy_elsewhere"
        # It says which room and for how long (not "until its round ends", which a round that
        # ended early does not mean).
        assert re.search(r"your round in home counts for \d+ s more", str(busy.value)), str(busy.value)
    hold = game.service.earning.hold_s(None, 0.0)
    assert hold >= game.settings.room_round_s, "hopping rooms earns no faster than one room"
    await end_round(game, "home", "away")  # both rooms start their next round
    await game.service.submit("away", ada, "later, elsewhere")  # the slot lapsed: free again
