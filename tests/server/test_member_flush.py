"""Joins and leaves announced together, one ``members`` event per room per flush (issue 19),
through a real server and real websocket clients.

What must hold for a client that applies the room's snapshot and then its events in order:
a burst of joins reaches it in a few frames, not one per joiner; its roster ends as the room's
members hash says, also when a player leaves and comes back within one flush and when the
client itself reconnects in the middle of a burst (snapshot or replay, then the events, each
version once); and the membership events keep their place among the room's other events.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from config import keys
from config.settings import Settings
from tests.server.conftest import Client, Clock, LiveServer


@pytest.fixture
def live_server(hub_settings: Settings, campaign: list[int]) -> Iterator[LiveServer]:
    """Every test client shares 127.0.0.1: the new-guest limit per address is off."""
    server = LiveServer(hub_settings.model_copy(update={"guest_sessions_per_ip_per_min": 0}), Clock()).start()
    yield server
    server.stop()


def roster(events: list[dict[str, Any]]) -> dict[int, str]:
    """The members a client shows after these events, as client/js/game.js applies them."""
    shown: dict[int, str] = {}
    for e in events:
        if e.get("type") == "room":
            shown = {m["id"]: m["name"] for m in e["members"]}
        elif e.get("type") == "members":
            shown.update({p["id"]: p["name"] for p in e["joined"]})
            for pid in e["left"]:
                shown.pop(pid, None)
    return shown


def room_versions(events: list[dict[str, Any]]) -> list[int]:
    """The versions of the room events after the last snapshot (each must come once, in order)."""
    last = max((i for i, e in enumerate(events) if e.get("type") == "room"), default=-1)
    return [int(e["v"]) for e in events[last + 1 :] if "v" in e]


def members_hash(r: redis.Redis, room: str) -> dict[int, str]:
    return {int(k): v.decode() for k, v in r.hgetall(keys.room_members(room)).items()}


async def settle(clients: list[Client], r: redis.Redis, room: str, timeout: float = 10.0) -> None:
    """Read until every client's roster is the room's members and it holds the log's newest version."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        want, newest = members_hash(r, room), int(r.get(keys.room_version(room)) or 0)
        done = [roster(c.events) == want and (room_versions(c.events) or [0])[-1] >= newest for c in clients]
        if all(done) and newest:
            return
        for client, ok in zip(clients, done, strict=True):
            if not ok:
                with contextlib.suppress(TimeoutError):
                    await client._recv(0.1)


async def _welcomed(url: str, **params: Any) -> tuple[Client, dict[str, Any]]:
    client = await Client.connect(url, **params)
    return client, await client.expect("welcome")


async def _second_joins(url: str, room: str) -> tuple[Client, Client, int]:
    """A first player in ``room``, then a second, whose join the first has been told of:
    (first, second, the second's id)."""
    first, _ = await _welcomed(url)
    await first.join_round(room)
    second, welcome = await _welcomed(url)
    second_id = int(welcome["player"]["id"])
    await second.join_round(room)
    await first.expect_joined(second_id)
    return first, second, second_id


async def test_a_burst_of_joins_is_a_few_frames_with_everyone(
    live_server: LiveServer, redis_client: redis.Redis
) -> None:
    watcher, _ = await _welcomed(live_server.ws_url)
    await watcher.join_round("burst")
    watcher.skip_received()
    crowd = [c for c, _ in await asyncio.gather(*(_welcomed(live_server.ws_url) for _ in range(30)))]
    await asyncio.gather(*(c.send({"type": "join", "room": "burst"}) for c in crowd))
    await asyncio.gather(*(c.expect("room") for c in crowd))
    await settle([watcher, *crowd], redis_client, "burst")
    assert len(members_hash(redis_client, "burst")) == 31
    for client in (watcher, *crowd):
        assert roster(client.events) == members_hash(redis_client, "burst")
        versions = room_versions(client.events)
        assert versions == list(range(versions[0], versions[0] + len(versions))), "each once, in order"
    frames = [e for i, e in enumerate(watcher.events) if e.get("type") == "members"]
    # One per flush (0.2 s) instead of one per joiner: 30 joiners, a few events.
    assert sum(len(e["joined"]) for e in frames) >= 30 and len(frames) < 10, len(frames)
    for client in (watcher, *crowd):
        await client.close()


async def test_leaving_and_coming_back_within_a_flush_ends_in_the_room(
    live_server: LiveServer, redis_client: redis.Redis
) -> None:
    watcher, ada, ada_id = await _second_joins(live_server.ws_url, "back")
    watcher.skip_received()
    await ada.send({"type": "leave"})
    await ada.expect("left")
    await ada.send({"type": "join", "room": "back"})
    await ada.expect("room")
    await settle([watcher], redis_client, "back")
    assert ada_id in roster(watcher.events) and ada_id in members_hash(redis_client, "back")
    # ... and one who comes and goes within a flush is gone for everyone.
    bob, welcome = await _welcomed(live_server.ws_url)
    await bob.send({"type": "join", "room": "back"})
    await bob.expect("room")
    await bob.close()
    await watcher.expect_left(welcome["player"]["id"])
    await settle([watcher], redis_client, "back")
    assert roster(watcher.events) == members_hash(redis_client, "back")
    await watcher.close()
    await ada.close()


async def test_a_client_that_reconnects_mid_burst_converges(
    live_server: LiveServer, redis_client: redis.Redis
) -> None:
    """It comes back with since=<its last version>: the replay and the live events give it
    the room's members, each version once, whether the burst's changes were announced before,
    during or after its reconnect."""
    alice, welcome = await _welcomed(live_server.ws_url)
    await alice.join_round("mid")
    crowd = [c for c, _ in await asyncio.gather(*(_welcomed(live_server.ws_url) for _ in range(20)))]
    first, second = crowd[:10], crowd[10:]
    await asyncio.gather(*(c.send({"type": "join", "room": "mid"}) for c in first))
    await asyncio.sleep(0.05)
    seen = max(int(e["v"]) for e in alice.events if "v" in e)
    known = roster(alice.events)
    await alice.close()
    joins = [c.send({"type": "join", "room": "mid"}) for c in second]
    back = await Client.connect(live_server.ws_url, token=welcome["token"], since=seen)
    await asyncio.gather(*joins, back.expect("welcome"))
    await asyncio.gather(*(c.expect("room") for c in crowd))
    await asyncio.gather(*(c.close() for c in first[:3]))  # some leave again meanwhile
    # What it shows: the roster it had, then the replay and live events (or a resync).
    await settle([back], redis_client, "mid")
    shown = roster(
        [{"type": "room", "members": [{"id": k, "name": v} for k, v in known.items()]}, *back.events]
    )
    assert shown == members_hash(redis_client, "mid")
    versions = [int(e["v"]) for e in back.events if "v" in e and e.get("type") != "room"]
    assert versions == sorted(set(versions)), "each version once, in order"
    for client in (back, *crowd[3:]):
        await client.close()


async def test_membership_keeps_its_place_among_the_room_events(
    live_server: LiveServer, redis_client: redis.Redis
) -> None:
    """A member's join is announced before anything the room logs after the flush: a client that
    sees an explanation has already been told of its author when the author joined a flush before."""
    alice, bob, _ = await _second_joins(live_server.ws_url, "order")
    await bob.send({"type": "submit", "text": "cats and their whiskers"})
    await alice.expect("explanation")
    kinds = [(e["type"], e.get("v")) for e in alice.events if "v" in e and e["type"] != "room"]
    told = next(i for i, (kind, _) in enumerate(kinds) if kind == "members")
    wrote = next(i for i, (kind, _) in enumerate(kinds) if kind == "explanation")
    assert told < wrote and [v for _, v in kinds] == sorted(v for _, v in kinds)
    await alice.close()
    await bob.close()
