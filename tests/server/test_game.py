"""The live game against a real server and real websocket clients.

No scoring worker runs here: a test appends the ``score`` event with store.eventlog.append,
exactly as workers.scoring does, and writes the Score row the worker would write.
"""

from __future__ import annotations

import asyncio
import time

import redis
from rq import Queue
from sqlmodel import select

from config.settings import Settings
from store import eventlog
from store.db import Database
from store.models import Explanation, PointEvent, Score, Vote
from tests.server.conftest import Client, LiveServer
from workers.scoring_settlement import settle_stored_score


def worker_scores(db: Database, r: redis.Redis, room: str, explanation_id: int, score: float) -> None:
    """What workers.scoring does for one score: store it, tell the room, settle what it earns."""
    with db.session() as s:
        s.add(Score(explanation_id=explanation_id, simulator="test", version="1", score=score))
        s.commit()
    eventlog.append(r, room, {"type": "score", "explanation_id": explanation_id, "score": score})
    settle_stored_score(db, r, db.settings, explanation_id)


async def test_welcome_gives_a_guest_session(live_server: LiveServer) -> None:
    client = await Client.connect(live_server.ws_url)
    welcome = await client.expect("welcome")
    assert welcome["token"] and welcome["player"]["guest"] is True
    assert welcome["player"]["name"] and welcome["protocol"] == 1
    await client.close()


async def test_join_submit_vote_reveal_points(
    live_server: LiveServer, hub_settings: Settings, db: Database, redis_client: redis.Redis
) -> None:
    alice = await Client.connect(live_server.ws_url)
    bob = await Client.connect(live_server.ws_url)
    a_id = (await alice.expect("welcome"))["player"]["id"]
    b_id = (await bob.expect("welcome"))["player"]["id"]

    puzzle = await alice.join_round("r1")
    assert puzzle["clues"] and puzzle["clues"][0]["tokens"][1] == " cat"
    assert len(puzzle["clues"][0]["tokens"]) == len(puzzle["clues"][0]["activations"])
    await bob.send({"type": "join", "room": "r1"})
    snapshot = await bob.expect("room")
    assert snapshot["phase"] == "round" and snapshot["neuron"] == puzzle["neuron"]
    shown = {m["id"]: m["name"] for m in snapshot["members"]}[b_id]
    await alice.expect_joined(b_id, shown)

    await alice.send({"type": "submit", "text": "  the word cat  "})
    explanation = (await bob.expect("explanation"))["explanation"]
    assert explanation["text"] == "the word cat" and explanation["player_id"] == a_id
    eid = explanation["id"]
    # The scoring job was enqueued on the model queue (just after the event was appended).
    queue = Queue(hub_settings.queue_model, connection=redis_client)
    deadline = time.monotonic() + 10
    while not (jobs := queue.jobs) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert [(j.func_name, j.args[:2]) for j in jobs] == [
        ("workers.scoring.score_explanation_job", (eid, "r1"))
    ]
    # ... and its embedding, for semantic search, on the default queue.
    background = Queue(hub_settings.queue_default, connection=redis_client)
    deadline = time.monotonic() + 10
    while not (embeds := background.jobs) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert [(j.func_name, j.args) for j in embeds] == [("workers.reference.embed_explanations_job", ([eid],))]

    await alice.send({"type": "vote", "explanation_id": eid})
    assert (await alice.expect("error"))["code"] == "own_vote"
    await bob.send({"type": "vote", "explanation_id": eid})
    assert (await alice.expect("vote"))["votes"] == 1
    await bob.send({"type": "vote", "explanation_id": eid})
    refused = await bob.expect("error")
    assert refused["code"] == "double_vote" and refused["ref"] == "vote"
    with db.session() as s:
        assert len(s.exec(select(Vote)).all()) == 1

    live_server.clock.advance(61)  # the round's deadline passes
    reveal = await bob.expect("reveal")
    assert reveal["votes"] == {str(eid): 1}
    worker_scores(db, redis_client, "r1", eid, 0.6)
    assert (await bob.expect("score"))["score"] == 0.6
    end = await bob.expect("round_end")
    assert end["top"] == eid
    points = (await alice.expect("points"))["awards"]
    assert {(a["player_id"], a["reason"]) for a in points} == {
        (a_id, "beat_best"),
        (a_id, "first_explanation"),
        (b_id, "top_vote"),
    }
    with db.session() as s:
        rows = s.exec(select(PointEvent)).all()
        assert sorted((r.player_id, r.amount) for r in rows) == sorted([(a_id, 50), (a_id, 20), (b_id, 10)])
    # The result screen's event: provisional while scores came in, final with the stored awards.
    early = await bob.expect("round_result", final=False)
    assert early["round"] == 1 and [x["explanation_id"] for x in early["entries"]] == [eid]
    result = await alice.expect("round_result", final=True)
    (entry,) = result["entries"]
    assert (entry["author"], entry["score"], entry["votes"], entry["rank"]) == (
        explanation["player_name"],
        0.6,
        1,
        1,
    )
    assert {(a["player_id"], a["reason"]) for a in entry["points"]} == {
        (a["player_id"], a["reason"]) for a in points
    }
    totals = {p["player_id"]: p["total"] for p in result["players"]}
    assert totals == {a_id: 70, b_id: 10} and result["podium"] == [eid]
    # The next puzzle skips the neuron alice solved.
    nxt = await alice.expect("puzzle")
    assert nxt["round"] == 2 and nxt["neuron"]["id"] != puzzle["neuron"]["id"]
    await alice.close()
    await bob.close()


async def test_rules_refusals_change_nothing(live_server: LiveServer, db: Database) -> None:
    client = await Client.connect(live_server.ws_url)
    await client.expect("welcome")
    await client.send({"type": "submit", "text": "before joining"})
    assert (await client.expect("error"))["code"] == "not_in_room"
    await client.join_round("r2")
    await client.send({"type": "submit", "text": "x" * 281})
    assert (await client.expect("error"))["code"] == "too_long"
    await client.send({"type": "submit", "text": "first"})
    await client.expect("explanation")
    await client.send({"type": "submit", "text": "second"})
    assert (await client.expect("error"))["code"] == "already_submitted"
    await client.send({"type": "vote", "explanation_id": 999_999})
    assert (await client.expect("error"))["code"] == "not_found"
    with db.session() as s:
        assert [e.text for e in s.exec(select(Explanation)).all()] == ["first"]
    await client.close()


async def test_a_text_written_for_the_last_neuron_is_never_filed_under_the_next(
    live_server: LiveServer, db: Database
) -> None:
    client = await Client.connect(live_server.ws_url)
    await client.expect("welcome")
    puzzle = await client.join_round("stale")
    neuron = puzzle["neuron"]["id"]
    await client.send({"type": "submit", "text": "written for another neuron", "neuron_id": neuron + 1})
    refused = await client.expect("error")
    assert (refused["code"], refused["ref"]) == ("stale_puzzle", "submit")
    with db.session() as s:
        assert s.exec(select(Explanation)).all() == []  # nothing stored, under any neuron
    await client.send({"type": "submit", "text": "written for this one", "neuron_id": neuron})
    assert (await client.expect("explanation"))["explanation"]["neuron_id"] == neuron
    await client.close()


async def test_msgpack_clients_play_with_json_clients(live_server: LiveServer) -> None:
    packed = await Client.connect(live_server.ws_url, fmt="msgpack")
    plain = await Client.connect(live_server.ws_url)
    await packed.expect("welcome")
    await plain.expect("welcome")
    await packed.join_round("mixed")
    await plain.join_round("mixed")
    await plain.send({"type": "submit", "text": "cats"})
    assert (await packed.expect("explanation"))["explanation"]["text"] == "cats"
    await packed.close()
    await plain.close()


async def test_rename_reaches_the_room(live_server: LiveServer) -> None:
    client = await Client.connect(live_server.ws_url)
    await client.expect("welcome")
    await client.send({"type": "join", "room": "names"})
    await client.expect("room")
    await client.send({"type": "rename", "name": "  Ada   L  ", "country": "GB"})
    assert (await client.expect("renamed"))["player"]["name"] == "Ada L"
    await client.send({"type": "rename", "name": "x" * 33})
    assert (await client.expect("error"))["code"] == "too_long"
    await client.close()


async def test_a_new_country_takes_the_players_points_to_its_board(
    live_server: LiveServer, db: Database, redis_client: redis.Redis, hub_settings: Settings
) -> None:
    """The lobby's country picker (a ``rename``): the points earned as DE move to FR's boards,
    so one player never ranks on two countries' boards."""
    from datetime import UTC, datetime

    from store.competition import leaderboards as lb
    from store.models import Player
    from tests.support.competition_helpers import award

    client = await Client.connect(live_server.ws_url)
    me = (await client.expect("welcome"))["player"]["id"]
    await client.send({"type": "rename", "name": "Ada", "country": "DE"})
    await client.expect("renamed")
    with db.session() as s:
        player = s.get(Player, me)
        assert player is not None and player.country == "DE"
    award(db, redis_client, hub_settings, player, 40, datetime.now(UTC))
    assert [e.id for e in lb.top(redis_client, "country:DE", "all", 5).entries] == [me]
    await client.send({"type": "rename", "name": "Ada", "country": "FR"})
    await client.expect("renamed")
    assert lb.top(redis_client, "country:DE", "all", 5).entries == []
    assert [(e.id, e.score) for e in lb.top(redis_client, "country:FR", "all", 5).entries] == [(me, 40)]
    await client.close()


async def test_tabs_changing_country_at_once_leave_the_points_on_the_final_countrys_board(
    live_server: LiveServer, db: Database, redis_client: redis.Redis, hub_settings: Settings
) -> None:
    """Four tabs of one player each pick another country at the same moment, six times over:
    the points must end on the board of the country the player is of, and only there (without
    one change at a time, each round left them on another country's board)."""
    from datetime import UTC, datetime

    from store.competition import leaderboards as lb
    from store.models import Player
    from tests.support.competition_helpers import award

    first = await Client.connect(live_server.ws_url)
    welcome = await first.expect("welcome")
    me, token = welcome["player"]["id"], welcome["token"]
    await first.send({"type": "rename", "name": "Ada", "country": "DE"})
    await first.expect("renamed")
    with db.session() as s:
        player = s.get(Player, me)
    award(db, redis_client, hub_settings, player, 40, datetime.now(UTC))
    codes = ["FR", "IT", "ES", "PL", "NL", "SE", "DK", "AT"]
    tabs = [await Client.connect(live_server.ws_url, token=token) for _ in range(4)]
    for tab in tabs:
        await tab.expect("welcome")
    for round_no in range(6):
        await asyncio.gather(
            *(
                tab.send({"type": "rename", "name": "Ada", "country": codes[(round_no * 4 + i) % 8]})
                for i, tab in enumerate(tabs)
            )
        )
        await asyncio.gather(*(tab.expect("renamed") for tab in tabs))
        with db.session() as s:
            now = s.get(Player, me).country  # type: ignore[union-attr]
        boards = {c: lb.top(redis_client, f"country:{c}", "all", 5).entries for c in [*codes, "DE"]}
        assert {c: [e.score for e in v] for c, v in boards.items() if v} == {now: [40]}
    for client in (first, *tabs):
        await client.close()
