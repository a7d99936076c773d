"""Round flow against a real server and real websocket clients: pass, the early end, a private
room's lobby, Start, skip and the game's summary. The clock only moves when a test moves it,
so an early reveal can only come from the players being done.
"""

from __future__ import annotations

import redis
from sqlmodel import select

from store import eventlog
from store.db import Database
from store.models import PointEvent, Score
from tests.server.conftest import Client, LiveServer


def worker_scores(db: Database, r: redis.Redis, room: str, explanation_id: int, score: float) -> None:
    with db.session() as s:
        s.add(Score(explanation_id=explanation_id, simulator="test", version="1", score=score))
        s.commit()
    eventlog.append(r, room, {"type": "score", "explanation_id": explanation_id, "score": score})


async def players(url: str, n: int) -> list[tuple[Client, int]]:
    out = []
    for _ in range(n):
        client = await Client.connect(url)
        out.append((client, (await client.expect("welcome"))["player"]["id"]))
    return out


async def test_round_ends_early_once_every_connected_player_is_done(live_server: LiveServer) -> None:
    (ann, _), (bob, _), (cy, _) = await players(live_server.ws_url, 3)
    await ann.join_round("early")
    for client in (bob, cy):
        await client.send({"type": "join", "room": "early"})
        await client.expect("room")
    await ann.send({"type": "submit", "text": "cats and dogs"})
    eid = (await bob.expect("explanation"))["explanation"]["id"]
    await bob.send({"type": "vote", "explanation_id": eid})
    await bob.expect("vote")
    await bob.send({"type": "pass"})
    await bob.expect("passed")  # bob voted and passed, but wrote nothing: a pass makes him done
    await ann.send({"type": "pass"})
    await ann.expect("passed")
    # cy has done nothing: the round goes on (the clock does not move in this test).
    await cy.drain(0.5)
    assert not any(e["type"] == "reveal" for e in cy.events)
    await cy.close()  # cy leaves: nobody connected is waited for now
    reveal = await ann.expect("reveal")
    assert reveal["early"] is True and reveal["votes"] == {str(eid): 1}
    await ann.close()
    await bob.close()


async def test_a_pass_is_not_a_vote(live_server: LiveServer, db: Database, redis_client: redis.Redis) -> None:
    (ann, a_id), (bob, b_id) = await players(live_server.ws_url, 2)
    await ann.join_round("passing")
    await bob.send({"type": "join", "room": "passing"})
    await bob.expect("room")
    await bob.send({"type": "pass"})
    await ann.expect("passed", player_id=b_id)
    await bob.send({"type": "pass"})  # twice is once: no second event
    await ann.send({"type": "submit", "text": "the cat"})
    eid = (await ann.expect("explanation"))["explanation"]["id"]
    await ann.send({"type": "pass"})
    reveal = await ann.expect("reveal")
    assert reveal["early"] is True and reveal["votes"] == {}
    worker_scores(db, redis_client, "passing", eid, 0.7)
    awards = (await ann.expect("points"))["awards"]
    assert all(a["player_id"] == a_id for a in awards)  # bob passed: no top_vote for him
    assert len([e for e in ann.events if e["type"] == "passed" and e["player_id"] == b_id]) == 1
    with db.session() as s:
        assert all(p.player_id == a_id for p in s.exec(select(PointEvent)).all())
    await ann.expect("puzzle", round=2)
    await bob.send({"type": "pass"})  # the next round forgot the last one's passes
    assert (await ann.expect("passed", player_id=b_id))["round"] == 2
    await ann.close()
    await bob.close()


async def test_a_private_room_is_run_by_its_creator(
    live_server: LiveServer, db: Database, redis_client: redis.Redis
) -> None:
    (ann, a_id), (bob, b_id) = await players(live_server.ws_url, 2)
    await ann.send({"type": "create_private"})
    created = await ann.expect("private_room")
    room = created["room"]
    assert created["creator"] == a_id and room.startswith("p-")
    snap = await ann.expect("room")
    assert snap["phase"] == "lobby" and snap["game"]["started"] is False and snap["game"]["creator"] == a_id
    await bob.send({"type": "join", "room": room})
    assert (await bob.expect("room"))["game"]["creator"] == a_id
    await ann.expect_joined(b_id)
    # Bob is not the creator: he can neither set up nor start nor skip.
    for move in ({"type": "start_game"}, {"type": "setup_game", "rounds": 1}, {"type": "skip_reveal"}):
        await bob.send(move)
        assert (await bob.expect("error"))["code"] == "not_creator"
    await ann.send({"type": "setup_game", "rounds": 0})
    assert (await ann.expect("error"))["code"] == "bad_field"
    live_server.clock.advance(1000)  # a held lobby waits for Start however long it takes
    await ann.drain(0.5)
    assert not any(e["type"] == "puzzle" for e in ann.events)
    await ann.send({"type": "setup_game", "rounds": 1, "round_s": 30, "reveal_s": 20})
    assert (await bob.expect("game_setup"))["rounds"] == 1
    await ann.send({"type": "start_game"})
    await bob.expect("game_start")
    puzzle = await bob.expect("puzzle")
    assert puzzle["deadline"] - live_server.clock() <= 30.5
    await ann.send({"type": "start_game"})
    assert (await ann.expect("error"))["code"] == "wrong_phase"  # already running

    await bob.send({"type": "submit", "text": "weather words"})
    eid = (await ann.expect("explanation"))["explanation"]["id"]
    await ann.send({"type": "vote", "explanation_id": eid})
    await ann.send({"type": "pass"})
    await bob.send({"type": "pass"})
    reveal = await ann.expect("reveal")
    assert reveal["min_until"] - live_server.clock() > 19  # the room's own reading time
    await ann.send({"type": "skip_reveal"})
    await bob.expect("reveal_skipped", by=a_id)
    await ann.drain(0.5)
    assert not any(e["type"] == "round_end" for e in ann.events)  # the score is not in yet
    worker_scores(db, redis_client, room, eid, 0.6)
    await bob.expect("round_end")
    end = await bob.expect("game_end")
    assert end["rounds"] == 1 and end["best"]["id"] == eid and end["share"].endswith(f"#explanation-{eid}")
    totals = {t["player_id"]: t["points"] for t in end["totals"]}
    assert totals[b_id] == 70 and totals[a_id] == 10  # beat_best + first; top_vote
    live_server.clock.advance(1000)
    await ann.drain(0.5)
    assert not any(e["type"] == "puzzle" and e["round"] == 2 for e in ann.events)  # held again
    await ann.close()
    await bob.close()


async def test_ordinary_rooms_have_no_creator(live_server: LiveServer) -> None:
    ((ann, _),) = await players(live_server.ws_url, 1)
    await ann.join_round("plain")
    for move in ({"type": "start_game"}, {"type": "setup_game", "rounds": 2}):
        await ann.send(move)
        assert (await ann.expect("error"))["code"] == "not_private"
    await ann.close()
