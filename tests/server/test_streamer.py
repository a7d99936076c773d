"""Streamer rooms on a real server with real websocket clients: codes, host-only controls,
bans that stick, the approval queue, moderation removal and the overlay."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import redis
from websockets.asyncio.client import connect

from config import keys
from config.settings import Settings
from rooms.roomcodes import CODE_RE
from store.db import Database
from store.models import Explanation
from tests.server.conftest import Client, LiveServer
from workers.queues import model_queue


async def open_client(url: str, ping_interval: float | None) -> Client:
    # An unbounded receive queue: a client busy elsewhere still answers the server's pings.
    return Client(await connect(url, ping_interval=ping_interval, max_queue=None), "json")


async def host_room(
    server: LiveServer, ping_interval: float | None = 20.0, **options: Any
) -> tuple[Client, dict[str, Any]]:
    host = await open_client(f"{server.ws_url}?sid=host-session-1", ping_interval)
    await host.expect("welcome")
    await host.send({"type": "create_room", "kind": "streamer", **options})
    created = await host.expect("room_created")
    await host.expect("room")
    await host.expect("host_state")
    return host, created


async def player(server: LiveServer, code: str, sid: str, ping_interval: float | None = 20.0) -> Client:
    client = await open_client(f"{server.ws_url}?sid={sid}", ping_interval)
    await client.expect("welcome")
    await client.send({"type": "join_code", "code": code.lower()})
    await client.expect("room")
    return client


async def finish(*clients: Client) -> None:
    """Read what is left, then close (an unread backlog would stall the closing handshake)."""
    for client in clients:
        await client.drain(0.05)
        await client.close()


def me(client: Client) -> int:
    return int(next(e for e in client.events if e["type"] == "welcome")["player"]["id"])


async def test_code_hidden_host_only_controls_and_timer(
    live_server: LiveServer, redis_client: redis.Redis
) -> None:
    host, created = await host_room(live_server)
    room, code = created["room"], created["code"]
    assert CODE_RE.match(code) and redis_client.get(keys.room_code(code)) == room.encode()
    ada = await player(live_server, code, "ada-session-1")
    view = await ada.expect("streamer")
    assert "code" not in view and view["host"] == me(host)  # the code stays off stream
    state_before = redis_client.get(keys.streamer_room(room))
    room_before = redis_client.hget(keys.room_state(room), "state")
    for command in (
        {"type": "start"},
        {"type": "pause"},
        {"type": "next_puzzle"},
        {"type": "extend", "seconds": 30},
        {"type": "ban", "player_id": me(host)},
        {"type": "set_moderator", "player_id": me(ada)},
        {"type": "room_settings", "locked": True},
        {"type": "close_room"},
    ):
        await ada.send(command)
        error = await ada.expect("error", ref=command["type"])
        assert error["code"] == "not_host", command
    await ada.send({"type": "kick", "player_id": me(host)})
    assert (await ada.expect("error", ref="kick"))["code"] == "not_moderator"
    assert redis_client.get(keys.streamer_room(room)) == state_before  # nothing changed
    assert redis_client.hget(keys.room_state(room), "state") == room_before
    assert orjson.loads(room_before)["phase"] == "lobby"  # held: no puzzle before start

    await host.send({"type": "start"})
    puzzle = await ada.expect("puzzle")
    await ada.expect("timer", paused=False)  # the start's
    await host.send({"type": "pause"})
    paused = await ada.expect("timer", paused=True)
    assert paused["deadline"] is None and 55 <= paused["paused_left"] <= 60
    live_server.clock.advance(120)  # time passes while paused: the round does not end
    await host.send({"type": "extend", "seconds": 30})
    extended = await ada.expect("timer", where=lambda e: e["paused_left"] and e["paused_left"] > 80)
    assert extended["paused"]
    await host.send({"type": "resume"})
    resumed = await ada.expect("timer", paused=False)
    assert resumed["deadline"] - live_server.clock() > 80 and resumed["phase"] == "round"
    await host.send({"type": "next_puzzle"})
    await ada.expect("reveal", round=puzzle["round"])
    await host.send({"type": "room_settings", "show_code": True})
    assert (await ada.expect("streamer", where=lambda e: "code" in e))["code"] == code
    await host.send({"type": "close_room"})
    await ada.expect("room_closed")
    assert redis_client.get(keys.room_code(code)) is None
    await finish(host, ada)


async def test_ban_stops_rejoining_by_account_and_by_session(live_server: LiveServer) -> None:
    host, created = await host_room(live_server)
    code = created["code"]
    bob = await player(live_server, code, "bob-session-1")
    bob_token = bob.events[0]["token"]
    await host.expect_joined(me(bob))
    await host.send({"type": "ban", "player_id": me(bob)})
    kicked = await bob.expect("kicked")
    assert kicked["reason"] == "banned"
    await host.expect_left(me(bob))
    state = await host.expect("host_state", where=lambda e: me(bob) in e["banned"])
    assert me(bob) not in [m["id"] for m in (await _members(live_server, host))]
    await bob.send({"type": "join_code", "code": code})
    assert (await bob.expect("error", ref="join_code"))["code"] == "banned"
    # Same player (token, as an account would be) from another browser; then a new guest
    # token from the banned browser session: both refused.
    for params in ({"token": bob_token, "sid": "bob-other-device"}, {"sid": "bob-session-1"}):
        again = await Client.connect(live_server.ws_url, **params)
        await again.expect("welcome")
        await again.send({"type": "join_code", "code": code})
        assert (await again.expect("error", ref="join_code"))["code"] == "banned", params
        await again.send({"type": "join", "room": created["room"]})
        assert (await again.expect("error", ref="join"))["code"] == "banned"
        await again.close()
    # A stranger from another browser still gets in; unban lets bob back.
    carol = await player(live_server, code, "carol-session-1")
    await host.send({"type": "unban", "player_id": me(bob)})
    await host.expect("host_state", where=lambda e: not e["banned"])
    await bob.send({"type": "join_code", "code": code})
    await bob.expect("room")
    assert state["banned"] == [me(bob)]
    await finish(host, bob, carol)


async def _members(server: LiveServer, host: Client) -> list[dict[str, Any]]:
    await host.send({"type": "resync"})
    return list((await host.expect("room"))["members"])


async def test_approval_flow_filter_and_removal(live_server: LiveServer, db: Database) -> None:
    host, created = await host_room(live_server, approval=True, filter="mask")
    code = created["code"]
    ada = await player(live_server, code, "ada-session-2")
    mod = await player(live_server, code, "mod-session-2")
    await host.send({"type": "set_moderator", "player_id": me(mod)})
    await mod.expect("host_state", where=lambda e: me(mod) in e["moderators"])
    await host.send({"type": "start"})
    await ada.expect("puzzle")
    await ada.send({"type": "submit", "text": "fires on  cats, damn it"})
    submitted = await ada.expect("submitted")
    eid = submitted["explanation_id"]
    queue = await mod.expect("host_state", where=lambda e: e["pending"])
    assert queue["pending"][0]["text"] == "fires on cats, **** it"  # masked by the package's list
    await ada.drain(0.3)
    assert not [e for e in ada.events if e["type"] == "explanation"]  # the room has not seen it
    with db.session() as s:
        assert s.get(Explanation, eid).status == "pending"  # type: ignore[union-attr]
    await ada.send({"type": "submit", "text": "another one"})
    assert (await ada.expect("error", ref="submit"))["code"] == "already_submitted"
    await ada.send({"type": "approve", "explanation_id": eid})
    assert (await ada.expect("error", ref="approve"))["code"] == "not_moderator"
    await mod.send({"type": "approve", "explanation_id": eid})
    shown = await ada.expect("explanation")
    assert shown["explanation"]["id"] == eid
    await host.expect("host_state", where=lambda e: not e["pending"])
    with db.session() as s:
        assert s.get(Explanation, eid).status == "visible"  # type: ignore[union-attr]

    # Rejection: a second player's explanation never reaches the room.
    bea = await player(live_server, code, "bea-session-2")
    await bea.send({"type": "submit", "text": "fires on dogs"})
    rejected_id = (await bea.expect("submitted"))["explanation_id"]
    await host.send({"type": "reject", "explanation_id": rejected_id})
    await bea.expect("explanation_rejected", explanation_id=rejected_id)
    # Removal of a visible explanation, and the reject-mode filter with names.
    await mod.send({"type": "remove_explanation", "explanation_id": eid})
    await ada.expect("explanation_removed", explanation_id=eid)
    # RoomService publishes a transition's events just before it saves the state, so a snapshot
    # asked for in that instant can be one step old; give it a moment (reported to the lead).
    await host.drain(0.1)
    await host.send({"type": "resync"})
    snapshot = await host.expect("room", where=lambda e: e.get("resync") is not True)
    assert eid not in [e["id"] for e in snapshot["explanations"]]
    with db.session() as s:
        assert s.get(Explanation, eid).status == "removed"  # type: ignore[union-attr]
        assert s.get(Explanation, rejected_id).status == "removed"  # type: ignore[union-attr]
    await host.send({"type": "room_settings", "filter": "reject", "approval": False})
    await host.expect("streamer", filter="reject")
    await bea.send({"type": "rename", "name": "shit lord"})
    assert (await bea.expect("error", ref="rename"))["code"] == "profanity"
    await finish(host, ada, mod, bea)


async def test_cap_lock_private_and_overlay(live_server: LiveServer) -> None:
    host, created = await host_room(live_server, player_cap=1, private=True)
    code, room = created["code"], created["room"]
    stranger = await Client.connect(live_server.ws_url, sid="stranger-1")
    await stranger.send({"type": "join", "room": room})
    assert (await stranger.expect("error", ref="join"))["code"] == "private_room"
    await stranger.send({"type": "join_code", "code": "ZZZZZZ"})
    assert (await stranger.expect("error", ref="join_code"))["code"] == "not_found"
    first = await player(live_server, code, "first-1")
    await host.expect_joined(me(first))
    second = await player(live_server, code, "second-1")  # past the cap: audience
    assert (await second.expect("tally"))["audience"] == 1
    await second.send({"type": "submit", "text": "I want to play"})
    assert (await second.expect("error", ref="submit"))["code"] == "audience"
    overlay = await Client.connect(live_server.ws_url)
    await overlay.send({"type": "watch", "overlay": created["overlay"]})
    await overlay.expect("room")
    assert "code" not in await overlay.expect("streamer")
    await overlay.send({"type": "vote", "explanation_id": 1})
    assert (await overlay.expect("error", ref="vote"))["code"] == "audience"
    await overlay.send({"type": "watch", "overlay": room + ".forgedforgedforged"})
    assert (await overlay.expect("error", ref="watch"))["code"] == "not_found"
    await host.send({"type": "start"})
    await overlay.expect("puzzle")
    board = httpx.get(f"{live_server.http_url}/api/v1/leaderboards/room:{room}")
    assert board.status_code == 200
    await finish(host, stranger, first, second, overlay)


def test_overlay_and_host_pages_are_served(live_server: LiveServer) -> None:
    overlay = httpx.get(f"{live_server.http_url}/static/overlay.html")
    css = httpx.get(f"{live_server.http_url}/static/css/overlay.css")
    host = httpx.get(f"{live_server.http_url}/static/host.html")
    assert overlay.status_code == css.status_code == host.status_code == 200
    assert "<button" not in overlay.text and "<input" not in overlay.text  # no controls on stream
    assert "background: transparent" in css.text
    for command in ("start", "pause", "next_puzzle", "extend", "close_room"):
        assert f'data-cmd="{command}"' in host.text
    for script in ("overlay.js", "host.js"):
        assert httpx.get(f"{live_server.http_url}/static/js/{script}").status_code == 200


async def test_the_audience_is_told_it_watches_and_why(live_server: LiveServer) -> None:
    host, created = await host_room(live_server, player_cap=1)
    code = created["code"]
    first = await player(live_server, code, "first-2")
    mine = await first.expect("streamer")
    assert "you" not in mine  # a player: nothing says "watching"
    late = await player(live_server, code, "late-2")  # past the cap
    seen = await late.expect("streamer")
    assert (seen["you"], seen["why"], seen["player_cap"]) == ("audience", "full", 1)
    # "Join as audience" on purpose, in a room with free seats: a watcher, not a player.
    await host.send({"type": "room_settings", "player_cap": 5})
    await host.expect("host_state", player_cap=5)
    fan = await Client.connect(live_server.ws_url, sid="fan-2")
    await fan.expect("welcome")
    await fan.send({"type": "join_code", "code": code, "audience": True})
    watched = await fan.expect("streamer")
    assert (watched["you"], watched["why"]) == ("audience", "asked")
    await fan.send({"type": "submit", "text": "let me play"})
    assert (await fan.expect("error", ref="submit"))["code"] == "audience"
    await finish(host, first, late, fan)


async def test_a_streamer_rooms_explanation_is_queued_for_scoring_before_the_room_hears_of_it(
    live_server: LiveServer, hub_settings: Settings, redis_client: redis.Redis
) -> None:
    """As in puzzle rooms: by the time the room sees an explanation its scoring job is queued, so
    a process killed after the event cannot leave it unscored (and a test that runs the queue on
    the event finds the job; the overlay's browser test once did not)."""
    host, created = await host_room(live_server)
    ada = await player(live_server, created["code"], "ada-session-queued")
    await host.send({"type": "start"})
    await ada.expect("puzzle")
    await ada.send({"type": "submit", "text": "fires on quotation marks"})
    eid = (await host.expect("explanation"))["explanation"]["id"]
    queued = [job.args[0] for job in model_queue(redis_client, hub_settings).get_jobs()]
    assert eid in queued
    await finish(host, ada)
