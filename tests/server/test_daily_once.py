"""The daily is played once a day, as Wordle is, whatever way a player tries to play it again.

Today's room serves its one neuron round after round for players arriving later. A player who
played it must not be served it again (a new round, a rejoin, a second tab, a reconnect) nor
earn on it twice (a second explanation, in the daily room or any other). Real Redis and
database; the old code served round 2 to the player who had played round 1 (only the browser
left), let them submit there, and credited a better second attempt.
"""

from __future__ import annotations

import asyncio

import httpx
import redis
from sqlmodel import select

from config import keys
from config.errors import ERR_DAILY_PLAYED
from store.db import Database
from store.models import Explanation, PointEvent
from tests.server.conftest import Client, LiveServer
from tests.server.test_admission import by_join, by_reconnect
from tests.server.test_game import worker_scores


def _quest_credits(db: Database, player_id: int) -> list[int]:
    with db.session() as s:
        mine = select(PointEvent).where(PointEvent.reason == "quest", PointEvent.player_id == player_id)
        return [e.amount for e in s.exec(mine)]


async def test_a_played_daily_is_not_served_again_by_any_way(
    live_server: LiveServer, db: Database, redis_client: redis.Redis
) -> None:
    daily = httpx.get(f"{live_server.http_url}/api/v1/quests/daily").json()
    room, neuron = daily["room"], daily["neuron_ids"][0]
    alice, bob = await Client.connect(live_server.ws_url), await Client.connect(live_server.ws_url)
    welcome = await alice.expect("welcome")
    alice_id, token = welcome["player"]["id"], welcome["token"]
    bob_id = (await bob.expect("welcome"))["player"]["id"]

    puzzle = await alice.join_round(room)
    assert puzzle["neuron"]["id"] == neuron
    await alice.send({"type": "submit", "text": "cats sitting on mats"})
    first = (await alice.expect("explanation"))["explanation"]["id"]
    await asyncio.to_thread(worker_scores, db, redis_client, room, first, 0.5)
    assert (await alice.expect("quest"))["credited"] == 55

    # During the round she played, a second tab (or a dropped socket) comes back to it.
    assert await by_join(live_server, token, room) == ("room", None)
    assert await by_reconnect(live_server, token, room) == ("room", None)

    # Bob arrives later; the next round serves the same neuron to him, not to Alice.
    await bob.send({"type": "join", "room": room})
    await bob.expect("room")
    live_server.clock.advance(61)  # round 1 ends; its result; the next round starts
    await bob.expect("puzzle", timeout=20, where=lambda e: e["neuron"]["id"] == neuron)
    out = await alice.expect("daily_played", timeout=10)
    assert out["room"] == room
    await bob.expect_left(alice_id)
    members = {int(k) for k in redis_client.hkeys(keys.room_members(room))}
    assert alice_id not in members
    await alice.send({"type": "submit", "text": "cats, really cats"})
    assert (await alice.expect("error", ref="submit"))["code"] in ("not_in_room", ERR_DAILY_PLAYED)

    # Every way back in is refused while the room plays a round she did not play.
    assert await by_join(live_server, token, room) == ("error", ERR_DAILY_PLAYED)
    assert await by_reconnect(live_server, token, room) == ("error", ERR_DAILY_PLAYED)
    await alice.send({"type": "join", "room": room})
    assert (await alice.expect("error", ref="join"))["code"] == ERR_DAILY_PLAYED

    # Bob plays round 2 as usual.
    await bob.send({"type": "submit", "text": "small animals"})
    # A quest room sends no texts (rooms/blind.py): his explanation is there, by him.
    assert (await bob.expect("explanation"))["explanation"]["player_id"] == bob_id
    assert _quest_credits(db, alice_id) == [55]
    await alice.close()
    await bob.close()


async def test_a_second_attempt_elsewhere_earns_nothing_on_the_daily(
    live_server: LiveServer, db: Database, redis_client: redis.Redis
) -> None:
    """Played in the daily room, then the same neuron elsewhere with a better text: the daily
    counts the first attempt only (the old code paid the difference)."""
    daily = httpx.get(f"{live_server.http_url}/api/v1/quests/daily").json()
    room, neuron = daily["room"], daily["neuron_ids"][0]
    alice = await Client.connect(live_server.ws_url)
    alice_id = (await alice.expect("welcome"))["player"]["id"]
    await alice.join_round(room)
    await alice.send({"type": "submit", "text": "cats"})
    first = (await alice.expect("explanation"))["explanation"]["id"]
    await asyncio.to_thread(worker_scores, db, redis_client, room, first, 0.2)
    assert (await alice.expect("quest"))["credited"] == 28

    other = f"neuron-{neuron}"
    await alice.send({"type": "leave"})
    await alice.expect("left")
    live_server.clock.advance(100)  # her daily round settled: one room at a time lets her go
    # The unit's own room does not serve it while the quest is open (store/sealed.py) ...
    await alice.send({"type": "join", "room": other})
    assert "quest is playing it" in (await alice.expect("notice", timeout=10))["message"]
    # ... and a second explanation of it written anywhere else (a team match's fixed neurons)
    # and scored by the worker earns nothing on the daily.
    with db.session() as s:
        row = Explanation(neuron_id=neuron, player_id=alice_id, text="cats and kittens sitting on mats")
        s.add(row)
        s.commit()
        second = int(row.id or 0)
    await asyncio.to_thread(worker_scores, db, redis_client, other, second, 0.9)
    await alice.drain(0.5)
    assert not [e for e in alice.events if e["type"] == "quest" and e.get("credited") != 28]
    assert _quest_credits(db, alice_id) == [28]
    board = httpx.get(f"{live_server.http_url}/api/v1/leaderboards/quest:{daily['id']}").json()
    assert [(i["id"], i["score"]) for i in board["items"]] == [(alice_id, 28)]
    await alice.close()
