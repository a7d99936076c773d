"""Every way into every kind of room goes through that kind's admission.

Ways in: a ``join`` message, a streamer room's ``join_code`` (as a player, or into the audience
of a locked room) and overlay ``watch``, and the reconnect ``/ws?since=0&room=R``. For each
kind, a player who must be refused is refused by every way that reaches the room, and one who
may enter enters. The reconnect used to skip the team and quest checks that ``join`` made.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx

from rooms.quest_rules import quest_period
from tests.server.conftest import Client, LiveServer
from tests.server.test_streamer import host_room, me

Outcome = tuple[str, Any]  # ("room", watching or None) | ("error", code)


async def _first(client: Client, ref: str, timeout: float = 15.0) -> Outcome:
    """The first answer to a way in: the room (its snapshot, or the replayed events a reconnect
    with ``since`` gets: they carry a version), or the error that refused it."""
    deadline = time.monotonic() + timeout
    seen = 0
    while time.monotonic() < deadline:
        for event in client.events[seen:]:
            if event["type"] == "room" or isinstance(event.get("v"), int):
                return "room", None
            if event["type"] == "error" and event.get("ref") == ref:
                return "error", event["code"]
        seen = len(client.events)
        try:
            await client._recv(deadline - time.monotonic())
        except TimeoutError:
            break
    raise AssertionError(f"no answer to {ref}: {[e['type'] for e in client.events]}")


async def guest(server: LiveServer, sid: str = "") -> tuple[Client, str]:
    client = await Client.connect(server.ws_url, **({"sid": sid} if sid else {}))
    welcome = await client.expect("welcome")
    return client, welcome["token"]


async def by_join(server: LiveServer, token: str, room: str) -> Outcome:
    client = await Client.connect(server.ws_url, token=token)
    await client.send({"type": "join", "room": room})
    try:
        return await _first(client, "join")
    finally:
        await client.close()


async def by_reconnect(server: LiveServer, token: str, room: str) -> Outcome:
    client = await Client.connect(server.ws_url, token=token, since=0, room=room)
    try:
        return await _first(client, "join")
    finally:
        await client.close()


async def by_code(server: LiveServer, token: str, code: str, sid: str = "") -> Outcome:
    client = await Client.connect(server.ws_url, token=token, **({"sid": sid} if sid else {}))
    await client.send({"type": "join_code", "code": code})
    try:
        kind, detail = await _first(client, "join_code")
        if kind == "room":  # which seat: the streamer view a watcher gets has no host controls
            await client.expect("tally")
        return kind, detail
    finally:
        await client.close()


async def test_puzzle_rooms_let_everyone_in_by_every_way(live_server: LiveServer) -> None:
    _, token = await guest(live_server)
    assert await by_join(live_server, token, "lobby-admission") == ("room", None)
    assert await by_reconnect(live_server, token, "lobby-admission") == ("room", None)


async def test_quest_rooms_admit_only_the_current_quest_by_every_way(live_server: LiveServer) -> None:
    _, token = await guest(live_server)
    current = f"daily-{quest_period('daily', datetime.now(UTC))}"
    closed = "daily-2020-01-01"
    assert await by_join(live_server, token, closed) == ("error", "quest_closed")
    assert await by_reconnect(live_server, token, closed) == ("error", "quest_closed")
    assert await by_join(live_server, token, current) == ("room", None)
    assert await by_reconnect(live_server, token, current) == ("room", None)


def _post(server: LiveServer, path: str, token: str, body: Any) -> dict[str, Any]:
    answer = httpx.post(
        f"{server.http_url}/api/v1{path}", headers={"Authorization": f"Bearer {token}"}, json=body
    )
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def test_team_matches_admit_only_their_teams_by_every_way(live_server: LiveServer) -> None:
    (_, alice), (_, carol), (_, eve) = [await guest(live_server) for _ in range(3)]
    red = _post(live_server, "/teams", alice, {"name": "Red"})["team"]
    blue = _post(live_server, "/teams", carol, {"name": "Blue"})["team"]
    asked = _post(live_server, "/matches", alice, {"teams": [red["id"], blue["id"]], "rounds": 1})
    # The match opens when Blue's captain accepts (issue 16/17: no match without consent).
    match = _post(live_server, f"/matches/challenges/{asked['challenge']['id']}/accept", carol, {})
    room = match["match"]["room"]

    # Eve is in no team: refused by a join and by a reconnect alike (the reconnect was the hole).
    assert await by_join(live_server, eve, room) == ("error", "not_in_match")
    assert await by_reconnect(live_server, eve, room) == ("error", "not_in_match")
    assert await by_join(live_server, eve, "match-00000000") == ("error", "not_found")
    assert await by_reconnect(live_server, eve, "match-00000000") == ("error", "not_found")
    # Members enter by either way, and come back after a dropped socket.
    assert await by_join(live_server, alice, room) == ("room", None)
    assert await by_reconnect(live_server, carol, room) == ("room", None)
    assert await by_reconnect(live_server, alice, room) == ("room", None)


async def test_streamer_rooms_refuse_bans_and_strangers_by_every_way(live_server: LiveServer) -> None:
    host, created = await host_room(live_server, private=True, player_cap=1)
    room, code = created["room"], created["code"]
    bob, bob_token = await guest(live_server, "bob-session-1")
    _, stranger = await guest(live_server)
    _, fan = await guest(live_server)

    # A private room: no way in without its code; with the code, a player.
    assert await by_join(live_server, stranger, room) == ("error", "private_room")
    assert await by_reconnect(live_server, stranger, room) == ("error", "private_room")
    assert await by_code(live_server, bob_token, code) == ("room", None)
    # The room is full (cap 1): the next one by code joins its audience.
    assert await by_code(live_server, fan, code) == ("room", None)

    # Banned: refused by the code, by a join, by a reconnect, and from the audience.
    await host.send({"type": "ban", "player_id": me(bob)})
    await host.expect("host_state", where=lambda e: me(bob) in e["banned"])
    assert await by_code(live_server, bob_token, code) == ("error", "banned")
    assert await by_join(live_server, bob_token, room) == ("error", "banned")
    assert await by_reconnect(live_server, bob_token, room) == ("error", "banned")
    await host.send({"type": "room_settings", "locked": True, "private": False})
    await host.expect("host_state", where=lambda e: e.get("locked") is True)
    assert await by_code(live_server, bob_token, code) == ("error", "banned")
    assert await by_join(live_server, stranger, room) == ("room", None)  # public now: the audience

    # The overlay link is its own way in: a valid one watches, a forged one is refused.
    overlay = await Client.connect(live_server.ws_url)
    await overlay.send({"type": "watch", "overlay": created["overlay"]})
    assert await _first(overlay, "watch") == ("room", None)
    token = created["overlay"]
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    await overlay.send({"type": "watch", "overlay": forged})
    assert (await overlay.expect("error", ref="watch"))["code"] == "not_found"
    for client in (host, bob, overlay):
        await client.close()
