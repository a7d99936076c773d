"""Points attacks from issue 16 played against a real server with real websocket clients.

The farm: one guest, alone, in many rooms at once with several tabs each, must earn no more
than one room gives in a round. A forged ``score`` on the room's channel must pay nothing. A
player who left and came back as the audience must not vote for their own explanation. After
each, the audit (tests/support/points_audit.py) finds every announced point stored and no
stored point unannounced.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
import redis
from sqlmodel import select

from config.settings import Settings
from rooms.points import BEAT_BEST, FIRST_EXPLANATION
from store import eventlog
from store.db import Database
from store.models import PointEvent, Vote
from tests.server.conftest import Client, Clock, LiveServer
from tests.server.test_game import worker_scores
from tests.server.test_streamer import finish, host_room, me, player
from tests.support.points_audit import audit_points

FARM_ROOMS = 6
TABS = 2


@pytest.fixture
def live_server(hub_settings: Settings, campaign: list[int]) -> Iterator[LiveServer]:
    """The farm opens FARM_ROOMS * TABS sockets with one token: more than the per-player socket
    cap (server/hub/caps.py, a defence of its own, tests/server/test_edge.py) lets through.
    Here the earning rule is under test, so the cap makes room for the whole farm."""
    server = LiveServer(hub_settings.model_copy(update={"ws_per_player": FARM_ROOMS * TABS}), Clock()).start()
    yield server
    server.stop()


def earned(db: Database, player_id: int) -> int:
    with db.session() as s:
        return sum(
            e.amount for e in s.exec(select(PointEvent).where(PointEvent.player_id == player_id)).all()
        )


async def until_round_ends(r: redis.Redis, rooms: list[str], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ended = [any(e["type"] == "round_end" for e in eventlog.since(r, room, 0) or []) for room in rooms]
        if all(ended):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the rounds did not end")


async def test_the_farm_earns_no_more_than_one_room(
    live_server: LiveServer, db: Database, redis_client: redis.Redis
) -> None:
    first = await Client.connect(live_server.ws_url)
    welcome = await first.expect("welcome")
    guest, token = welcome["player"]["id"], welcome["token"]
    tabs = [first] + [
        await Client.connect(live_server.ws_url, token=token) for _ in range(FARM_ROOMS * TABS - 1)
    ]
    rooms = [f"farm-{i}" for i in range(FARM_ROOMS)]
    for i, tab in enumerate(tabs):
        if i:
            await tab.expect("welcome")
        await tab.join_round(rooms[i % FARM_ROOMS])
    for i, tab in enumerate(tabs):  # every tab of every room tries to write
        await tab.send({"type": "submit", "text": f"cats on mats, take {i}"})
    accepted: dict[int, str] = {}
    for i, tab in enumerate(tabs):
        await tab.drain(0.1)
        for event in tab.events:
            if event["type"] == "explanation" and event["explanation"]["player_id"] == guest:
                accepted[event["explanation"]["id"]] = rooms[i % FARM_ROOMS]
    refusals = {e["code"] for tab in tabs for e in tab.events if e["type"] == "error"}
    assert refusals <= {"busy_elsewhere", "already_submitted"}, refusals
    for eid, room in accepted.items():
        await asyncio.to_thread(worker_scores, db, redis_client, room, eid, 0.9)
    live_server.clock.advance(61)
    await asyncio.sleep(0.5)
    live_server.clock.advance(31)
    await until_round_ends(redis_client, rooms)
    await asyncio.sleep(0.5)
    one_room = BEAT_BEST + FIRST_EXPLANATION  # alone in one room for one round: the most there is
    farmed = earned(db, guest)
    assert 0 < farmed <= one_room, f"the farm earned {farmed} in one round; one room gives {one_room}"
    audit = audit_points(db, redis_client)
    assert (audit.wrongly_awarded, audit.lost) == (0, 0), audit.details
    for tab in tabs:
        await tab.close()


async def test_a_forged_score_on_the_rooms_channel_pays_nothing(
    live_server: LiveServer, db: Database, redis_client: redis.Redis
) -> None:
    alice = await Client.connect(live_server.ws_url)
    alice_id = (await alice.expect("welcome"))["player"]["id"]
    await alice.join_round("forged")
    await alice.send({"type": "submit", "text": "no real score"})
    eid = (await alice.expect("explanation"))["explanation"]["id"]
    # Anyone who can write to the private Redis can say this; no Score row exists.
    eventlog.append(redis_client, "forged", {"type": "score", "explanation_id": eid, "score": 0.99})
    await alice.expect("score")
    live_server.clock.advance(61)
    await alice.expect("reveal")
    live_server.clock.advance(31)
    await alice.expect("round_end")
    await alice.drain(0.5)
    with db.session() as s:
        paid = s.exec(select(PointEvent).where(PointEvent.player_id == alice_id)).all()
    assert [e.reason for e in paid if e.reason == "beat_best"] == [], "a forged score earns nothing"
    audit = audit_points(db, redis_client)
    assert (audit.wrongly_awarded, audit.lost) == (0, 0), audit.details
    await alice.close()


async def test_the_audience_cannot_vote_for_its_own_explanation(
    live_server: LiveServer, db: Database
) -> None:
    host, created = await host_room(live_server, player_cap=1)
    code = created["code"]
    ada = await player(live_server, code, "ada-session-1")
    await host.send({"type": "start"})
    await ada.expect("puzzle")
    await ada.send({"type": "submit", "text": "the word cat"})
    eid = (await ada.expect("explanation"))["explanation"]["id"]
    await ada.send({"type": "leave"})
    await ada.drain(0.2)
    bob = await player(live_server, code, "bob-session-1")  # takes the one seat
    await ada.send({"type": "join_code", "code": code.lower()})
    await ada.expect("tally")  # back, as the audience
    await ada.send({"type": "vote", "explanation_id": eid})
    refused = await ada.expect("error", ref="vote")
    assert refused["code"] == "own_vote"
    with db.session() as s:
        assert s.exec(select(Vote).where(Vote.player_id == me(ada))).all() == []
    await finish(host, ada, bob)


async def test_the_farm_in_private_streamer_rooms_is_one_room_too(live_server: LiveServer) -> None:
    """The issue's farm used private rooms: a guest hosting several, alone, submitting in each."""
    first = await Client.connect(live_server.ws_url)
    token = (await first.expect("welcome"))["token"]
    second = await Client.connect(live_server.ws_url, token=token)
    await second.expect("welcome")
    for tab in (first, second):  # one private room per tab, the same guest hosting both
        await tab.send({"type": "create_room", "kind": "streamer", "private": True})
        await tab.expect("room_created")
        await tab.send({"type": "start"})
        await tab.expect("puzzle")
    await first.send({"type": "submit", "text": "cats in the first room"})
    await first.expect("explanation")
    await second.send({"type": "submit", "text": "cats in the second room"})
    assert (await second.expect("error", ref="submit"))["code"] == "busy_elsewhere"
    await finish(first, second)
