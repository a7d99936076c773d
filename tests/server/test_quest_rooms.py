"""Daily and weekly quests played live: the quest's neuron for everybody, credit when scored."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import httpx
import redis
from sqlmodel import select

from config.settings import Settings
from server.live.quest_rooms import next_neuron, parse_room
from server.wire import protocol as p
from store.db import Database
from store.models import PointEvent, Score
from tests.server.conftest import Client, LiveServer
from tests.server.test_game import worker_scores
from workers import context
from workers.scoring import score_explanation_job
from workers.scoring_settlement import settle_stored_score


def test_quest_room_ids_and_the_weekly_rotation() -> None:
    assert parse_room("daily-2026-11-21") == ("daily", "2026-11-21")
    assert parse_room("weekly-2026-W47") == ("weekly", "2026-W47")
    assert parse_room("daily-tomorrow") is None and parse_room("lobby") is None
    assert next_neuron([5, 6, 7], []) == 5
    assert next_neuron([5, 6, 7], [5]) == 6
    assert next_neuron([5, 6, 7], [5, 6, 7]) == 5  # all played: the one played longest ago
    assert next_neuron([5, 6, 7], [1, 7, 5, 6]) == 7
    assert next_neuron([], [1]) is None


async def test_the_daily_room_serves_the_quest_neuron_and_credits_the_score(
    live_server: LiveServer, db: Database, redis_client: redis.Redis
) -> None:
    daily = httpx.get(f"{live_server.http_url}/api/v1/quests/daily").json()
    room = daily["room"]
    assert room == f"daily-{daily['period']}"
    alice, bob = await Client.connect(live_server.ws_url), await Client.connect(live_server.ws_url)
    alice_id = (await alice.expect("welcome"))["player"]["id"]
    await bob.expect("welcome")

    await bob.send({"type": "join", "room": "daily-2000-01-01"})
    closed = await bob.expect("error")
    assert closed["code"] == "quest_closed" and room in closed["message"]

    puzzle = await alice.join_round(room)
    assert puzzle["neuron"]["id"] == daily["neuron_ids"][0]
    await bob.send({"type": "join", "room": room})
    assert (await bob.expect("room"))["neuron"]["id"] == daily["neuron_ids"][0]

    await alice.send({"type": "submit", "text": "cats sitting on mats"})
    eid = (await alice.expect("explanation"))["explanation"]["id"]
    await asyncio.to_thread(worker_scores, db, redis_client, room, eid, 0.5)
    quest = await alice.expect("quest")
    assert quest["quest"]["id"] == daily["id"] and quest["room"] == room
    assert quest["credited"] == 55 and quest["points"] == 55 and quest["max_points"] == 100
    assert quest["neurons_done"] == 1 and quest["streak"]["current"] == 1
    with db.session() as s:
        credits = s.exec(select(PointEvent).where(PointEvent.reason == "quest")).all()
        assert [(c.player_id, c.amount, c.quest_id) for c in credits] == [(alice_id, 55, daily["id"])]
    board = httpx.get(f"{live_server.http_url}/api/v1/leaderboards/quest:{daily['id']}").json()
    assert [(i["id"], i["score"]) for i in board["items"]] == [(alice_id, 55)]
    await bob.drain(0.2)
    assert not [e for e in bob.events if e["type"] == "quest"], "progress is private"
    await alice.close()
    await bob.close()


async def test_one_score_settled_twice_at_once_is_credited_once(
    live_server: LiveServer, hub_settings: Settings, db: Database, redis_client: redis.Redis
) -> None:
    """Two workers (a retried job and a second one) settle the same stored score together."""
    daily = httpx.get(f"{live_server.http_url}/api/v1/quests/daily").json()
    client = await Client.connect(live_server.ws_url)
    await client.expect("welcome")
    await client.join_round(daily["room"])
    await client.send({"type": "submit", "text": "the word cat"})
    eid = (await client.expect("explanation"))["explanation"]["id"]
    with db.session() as s:
        s.add(Score(explanation_id=eid, simulator="test", version="1", score=0.9))
        s.commit()
    now = datetime.now(UTC)
    await asyncio.gather(
        *(asyncio.to_thread(settle_stored_score, db, redis_client, hub_settings, eid, now) for _ in range(4))
    )
    with db.session() as s:
        credits = s.exec(select(PointEvent).where(PointEvent.reason == "quest")).all()
        assert [c.amount for c in credits] == [91]
    assert (await client.expect("quest"))["points"] == 91
    await client.close()


async def test_an_author_who_left_is_credited_by_the_worker(
    live_server: LiveServer, hub_settings: Settings, db: Database, redis_client: redis.Redis
) -> None:
    """Issue 16: credit came from a web process holding a socket in the room when the score
    passed; an author who closed the tab (alone in the room) got nothing."""
    daily = httpx.get(f"{live_server.http_url}/api/v1/quests/daily").json()
    client = await Client.connect(live_server.ws_url)
    author = (await client.expect("welcome"))["player"]["id"]
    await client.join_round(daily["room"])
    await client.send({"type": "submit", "text": "the word cat"})
    eid = (await client.expect("explanation"))["explanation"]["id"]
    await client.close()
    await asyncio.sleep(0.3)  # the room is empty: no web process listens to it any more
    context.use_settings(hub_settings.model_copy(update={"simulator": "embedding"}))
    await asyncio.to_thread(score_explanation_job, eid, daily["room"])  # the real job, no socket
    with db.session() as s:
        credits = s.exec(select(PointEvent).where(PointEvent.reason == "quest")).all()
        assert [(c.player_id, c.explanation_id) for c in credits] == [(author, eid)]
        assert credits[0].amount >= 10


def test_the_closed_quest_error_code_is_documented() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()
    assert "quest_closed" in doc and {"quest", "crowd"} <= p.SERVER_EVENTS
