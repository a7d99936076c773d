"""A quest room is blind: nobody reads another player's text before the quest closes.

The daily's room serves the same neuron round after round, and the quest pays for the score
itself. The attacks: sit in the room without writing and read what others write (with their
scores), or watch one round's result and hand in its winner reworded in the next round; or
vote. Before this the room's events, its snapshot and its result carried every text.
Real Redis and database.
"""

from __future__ import annotations

import asyncio

import httpx
import orjson
import redis

from config import keys
from config.errors import ERR_NO_VOTES
from store.db import Database
from store.models import Score
from tests.server.conftest import Client, LiveServer
from tests.server.test_game import worker_scores
from workers.scoring import _tell, _tell_score

ALICE_TEXT = "cats sitting on mats"


async def test_a_quest_room_shows_nobody_elses_text(
    live_server: LiveServer, db: Database, redis_client: redis.Redis
) -> None:
    room = httpx.get(f"{live_server.http_url}/api/v1/quests/daily").json()["room"]
    alice, bob = await Client.connect(live_server.ws_url), await Client.connect(live_server.ws_url)
    welcome = await alice.expect("welcome")
    alice_id, token = welcome["player"]["id"], welcome["token"]
    await bob.expect("welcome")
    await alice.join_round(room)
    await bob.join_round(room)  # Bob waits and reads; he has not written

    await alice.send({"type": "submit", "text": ALICE_TEXT})
    mine = (await alice.expect("explanation"))["explanation"]
    seen = (await bob.expect("explanation"))["explanation"]
    assert mine["id"] == seen["id"] and seen["player_id"] == alice_id
    assert seen["text"] is None and seen["hidden"] is True
    await asyncio.to_thread(worker_scores, db, redis_client, room, mine["id"], 0.8)
    assert (await bob.expect("score"))["explanation_id"] == mine["id"]

    # A vote would be a vote for a text nobody can read.
    await bob.send({"type": "vote", "explanation_id": mine["id"]})
    assert (await bob.expect("error", ref="vote"))["code"] == ERR_NO_VOTES

    # A newcomer's snapshot (and its result, during the reveal) has no text either.
    carol = await Client.connect(live_server.ws_url)
    await carol.expect("welcome")
    await carol.send({"type": "join", "room": room})
    snapshot = await carol.expect("room")
    assert [(e["id"], e["text"]) for e in snapshot["explanations"]] == [(mine["id"], None)]

    live_server.clock.advance(61)  # the round ends: the reveal and its result
    result = await bob.expect("round_result", timeout=10)
    entries = [(x["explanation_id"], x["text"], x["score"]) for x in result["entries"]]
    assert entries == [(mine["id"], None, 0.8)]

    # Alice, back on a new socket, gets her own text in her snapshot.
    again = await Client.connect(live_server.ws_url, token=token)
    await again.expect("welcome")
    await again.send({"type": "join", "room": room})
    own = await again.expect("room")
    assert [e["text"] for e in own["explanations"]] == [ALICE_TEXT]
    await again.close()

    # Nothing in the room's log, which every member and every replay reads, holds the text.
    log = redis_client.xrange(keys.room_events(room))
    assert log and all(ALICE_TEXT.encode() not in b" ".join(fields.values()) for _, fields in log)
    for client in (alice, bob, carol):
        await client.close()


def test_a_blind_rooms_score_event_carries_the_score_alone(redis_client: redis.Redis) -> None:
    """The simulator's per-token predictions read out what a text says: the scoring worker
    sends a quest room the score alone and the author the whole event, once per score."""
    score = Score(
        explanation_id=5,
        simulator="sim",
        version="1",
        score=0.8,
        per_record=[0.7, 0.9],
        detail={"predictions": [[0.0, 9.5, 0.0]], "kinds": ["top"]},
    )
    channel = redis_client.pubsub()
    channel.subscribe(keys.player_channel(7))
    channel.get_message(timeout=1)  # the subscription's confirmation
    for _ in range(2):  # a retried job tells nobody twice
        _tell_score(redis_client, ["daily-2026-11-29", "open-room"], score, 3, 7, redis_client)
    (blind,) = [orjson.loads(f[b"e"]) for _, f in redis_client.xrange(keys.room_events("daily-2026-11-29"))]
    assert blind["score"] == 0.8 and blind["hidden"] is True
    assert "detail" not in blind and "per_record" not in blind
    (open_room,) = [orjson.loads(f[b"e"]) for _, f in redis_client.xrange(keys.room_events("open-room"))]
    assert open_room["detail"]["predictions"] == [[0.0, 9.5, 0.0]]
    private = [channel.get_message(timeout=1) for _ in range(2)]
    told = [orjson.loads(m["data"]) for m in private if m]
    assert [(e["explanation_id"], e["detail"]["predictions"]) for e in told] == [(5, [[0.0, 9.5, 0.0]])]


def test_a_blind_rooms_scoring_progress_carries_no_record_scores(redis_client: redis.Redis) -> None:
    """Which clue a hidden text predicts well says what it is about: a quest room's progress
    events count records, an open room's also score each one."""
    event = {
        "type": "score_progress",
        "explanation_id": 5,
        "neuron_id": 3,
        "done": 1,
        "total": 2,
        "records": [{"record": 0, "kind": "top", "record_score": 0.9}],
    }
    _tell(redis_client, ["daily-2026-11-30", "open-room-2", None], event)
    (blind,) = [orjson.loads(f[b"e"]) for _, f in redis_client.xrange(keys.room_events("daily-2026-11-30"))]
    assert (blind["done"], blind["total"], blind["hidden"]) == (1, 2, True) and "records" not in blind
    (open_room,) = [orjson.loads(f[b"e"]) for _, f in redis_client.xrange(keys.room_events("open-room-2"))]
    assert open_room["records"] == event["records"]
