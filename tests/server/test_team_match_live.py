"""A whole team match, live: two teams of real websocket clients, two rounds, the stored result."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
import redis
from sqlmodel import select

from config import keys
from rooms.team_match import TeamMatch
from server.wire import protocol as p
from store import eventlog
from store.db import Database
from store.models import Match, MatchResult
from tests.server.conftest import Client, LiveServer
from tests.server.test_game import worker_scores


async def player(server: LiveServer) -> tuple[Client, int, dict[str, str]]:
    client = await Client.connect(server.ws_url)
    welcome = await client.expect("welcome")
    return client, welcome["player"]["id"], {"Authorization": f"Bearer {welcome['token']}"}


def post(server: LiveServer, path: str, auth: dict[str, str], body: Any, status: int = 200) -> dict[str, Any]:
    answer = httpx.post(f"{server.http_url}/api/v1{path}", headers=auth, json=body)
    assert answer.status_code == status, answer.text
    return answer.json()  # type: ignore[no-any-return]


def scores_of(event: dict[str, Any]) -> dict[str, float]:
    return {row["name"]: row["score"] for row in event["standings"]}


async def submit(client: Client, text: str) -> int:
    await client.send({"type": "submit", "text": text})
    return int(
        (await client.expect("explanation", where=lambda e: e["explanation"]["text"] == text))["explanation"][
            "id"
        ]
    )


async def test_two_teams_play_a_match_to_its_stored_result(
    live_server: LiveServer, db: Database, redis_client: redis.Redis, campaign: list[int]
) -> None:
    (alice, _, alice_auth), (bob, _, bob_auth) = await player(live_server), await player(live_server)
    (carol, _, carol_auth), (eve, _, _) = await player(live_server), await player(live_server)
    red = post(live_server, "/teams", alice_auth, {"name": "Red"})["team"]
    blue = post(live_server, "/teams", carol_auth, {"name": "Blue"})["team"]
    post(live_server, "/teams/join", bob_auth, {"code": red["invite_code"]})

    # Bad requests are refused with a reason and leave nothing behind.
    before = redis_client.keys(keys.team_match("*"))
    refs = [red["id"], blue["invite_code"]]
    assert post(live_server, "/matches", bob_auth, {"teams": refs}, 403)["error"] == "not_captain"
    assert post(live_server, "/matches", alice_auth, {"teams": [red["id"]]}, 400)["error"] == "bad_teams"
    assert (
        post(live_server, "/matches", alice_auth, {"teams": [red["id"], red["id"]]}, 400)["error"]
        == "bad_teams"
    )
    assert (
        post(live_server, "/matches", alice_auth, {"teams": refs, "rounds": 0}, 400)["error"] == "bad_rounds"
    )
    assert (
        post(live_server, "/matches", alice_auth, {"teams": refs, "rounds": 9}, 409)["error"] == "bad_neurons"
    )
    assert (
        post(live_server, "/matches", alice_auth, {"teams": [red["id"], 999_999]}, 404)["error"]
        == "not_found"
    )
    assert post(live_server, "/matches", {}, {"teams": refs}, 401)["error"] == "no_session"
    assert redis_client.keys(keys.team_match("*")) == before

    # A challenge opens nothing until the other captain accepts (issue 16: no match without consent).
    asked = post(live_server, "/matches", alice_auth, {"teams": refs, "rounds": 2, "round_s": 60})[
        "challenge"
    ]
    assert asked["status"] == "pending" and asked["room"] is None
    assert redis_client.keys(keys.team_match("*")) == before
    cid = asked["id"]
    assert post(live_server, f"/matches/challenges/{cid}/accept", bob_auth, {}, 403)["error"] == "not_captain"
    assert post(live_server, f"/matches/challenges/{cid}/accept", {}, {}, 401)["error"] == "no_session"
    assert redis_client.keys(keys.team_match("*")) == before
    incoming = httpx.get(f"{live_server.http_url}/api/v1/teams/{blue['id']}/challenges", headers=carol_auth)
    assert [(c["id"], c["awaiting_us"], c["incoming"]) for c in incoming.json()["challenges"]] == [
        (cid, True, True)
    ]
    answered = post(live_server, f"/matches/challenges/{cid}/accept", carol_auth, {})
    made = answered["match"]
    room = made["room"]
    assert made["state"] == "lobby" and made["of"] == 2
    assert answered["challenge"]["status"] == "accepted" and answered["challenge"]["room"] == room
    # Both teams find the room on their team page; a second answer is refused.
    for team, auth in ((red, bob_auth), (blue, carol_auth)):
        listed = httpx.get(f"{live_server.http_url}/api/v1/teams/{team['id']}/challenges", headers=auth)
        assert listed.json()["challenges"][0]["room"] == room
    assert post(live_server, f"/matches/challenges/{cid}/decline", carol_auth, {}, 409)["error"] == "answered"
    stored = TeamMatch.from_json(orjson.loads(redis_client.get(keys.team_match(room)))["match"])
    neurons = stored.neuron_ids
    assert len(set(neurons)) == 2 and set(neurons) <= set(campaign)

    await eve.send({"type": "join", "room": room})
    assert (await eve.expect("error"))["code"] == "not_in_match"
    await eve.send({"type": "join", "room": "match-00000000"})
    assert (await eve.expect("error"))["code"] == "not_found"

    await alice.send({"type": "join", "room": room})
    assert (await alice.expect("team_match"))["state"] == "lobby"
    assert (await alice.expect("room"))["phase"] == "lobby"
    await asyncio.sleep(0.6)  # one team present: nothing starts, the room picks no puzzle itself
    assert not [e for e in alice.events if e["type"] in ("puzzle", "notice")]

    # Round 1: every team present starts the match on its first neuron.
    await carol.send({"type": "join", "room": room})
    first = await alice.expect("puzzle")
    assert first["neuron"]["id"] == neurons[0]
    assert (await alice.expect("team_match", state="round"))["round"] == 1
    assert (await carol.expect("team_match", state="round"))["neuron_id"] == neurons[0]
    await bob.send({"type": "join", "room": room})  # late teammates join a running round
    await bob.expect("room", phase="round")

    a1 = await submit(alice, "cats on mats")
    b1 = await submit(bob, "the token cat")
    c1 = await submit(carol, "animals sitting")
    for eid, score in ((a1, 0.4), (b1, 0.7), (c1, 0.5)):
        await asyncio.to_thread(worker_scores, db, redis_client, room, eid, score)
    live = await carol.expect("team_scores", where=lambda e: scores_of(e) == {"Red": 0.7, "Blue": 0.5})
    assert [row["rank"] for row in live["standings"]] == [1, 2]

    # Round 2 after the round's time and its review; same neuron for both teams.
    live_server.clock.advance(61)
    assert (await alice.expect("team_match", state="review"))["round"] == 1
    live_server.clock.advance(31)
    second = await carol.expect("puzzle", where=lambda e: e["neuron"]["id"] == neurons[1])
    assert second["deadline"] > first["deadline"]
    await alice.expect("points")  # the puzzle room scored round 1 as usual
    c2 = await submit(carol, "a small animal word")
    await asyncio.to_thread(worker_scores, db, redis_client, room, c2, 0.9)
    await alice.expect("team_scores", where=lambda e: scores_of(e) == {"Blue": 1.4, "Red": 0.7})

    live_server.clock.advance(61 + 31)
    result = await bob.expect("match_result")
    assert result["state"] == "finished"
    assert [(r["name"], r["score"], r["rank"]) for r in result["standings"]] == [
        ("Blue", 1.4, 1),
        ("Red", 0.7, 2),
    ]
    with db.session() as s:
        row = s.get(Match, result["match_id"])
        assert row is not None and row.room_id == room and row.neuron_ids == neurons
        results = s.exec(select(MatchResult).where(MatchResult.match_id == row.id)).all()
        assert sorted((r.team_id, round(r.score, 6), r.rank) for r in results) == sorted(
            [(blue["id"], 1.4, 1), (red["id"], 0.7, 2)]
        )

    # A score after the end changes nothing; the room stays quiet (no new puzzle).
    eventlog.append(redis_client, room, {"type": "score", "explanation_id": a1, "score": 0.99})
    await alice.drain(0.6)
    assert not [e for e in alice.events if e["type"] == "puzzle" and e["neuron"]["id"] not in neurons]
    shown = httpx.get(f"{live_server.http_url}/api/v1/matches/{room}").json()["match"]
    assert shown["state"] == "finished" and scores_of(shown) == {"Blue": 1.4, "Red": 0.7}
    for client in (alice, bob, carol, eve):
        await client.close()


def test_match_events_are_protocol_events() -> None:
    assert {"team_match", "team_scores", "match_result"} <= p.SERVER_EVENTS
