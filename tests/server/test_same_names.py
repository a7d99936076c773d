"""Two players with the same display name in one room are told apart: "alice" and "alice (2)",
in the roster, in their explanations and on the result screen. Before, both showed as "alice"."""

from __future__ import annotations

import asyncio

from tests.server.conftest import Client, LiveServer


async def _named(server: LiveServer, name: str) -> Client:
    client = await Client.connect(server.ws_url)
    await client.expect("welcome")
    await client.send({"type": "rename", "name": name})
    await client.expect("renamed")
    return client


async def test_two_alices_in_one_room_are_told_apart(live_server: LiveServer) -> None:
    first, second = await _named(live_server, "alice"), await _named(live_server, "Alice")
    await first.join_round("r-names")
    await second.join_round("r-names")
    snapshot = next(e for e in second.events if e["type"] == "room")
    assert sorted(m["name"] for m in snapshot["members"]) == ["Alice (2)", "alice"]
    await second.send({"type": "submit", "text": "the word cat"})
    written = (await first.expect("explanation"))["explanation"]
    assert written["player_name"] == "Alice (2)"

    # Coming back keeps one's name; renaming to a taken one is told apart too.
    await first.send({"type": "leave"})
    await first.expect("left")
    second.skip_received()  # what follows comes after the leave
    await first.join_round("r-names")
    first_id = next(e for e in first.events if e["type"] == "welcome")["player"]["id"]
    assert await second.expect_joined(first_id, "alice")
    third = await _named(live_server, "bob")
    await third.join_round("r-names")
    await third.send({"type": "rename", "name": "ALICE"})
    assert (await first.expect("renamed"))["player"]["name"] == "ALICE (3)"
    for client in (first, second, third):
        await client.close()


async def test_many_alices_joining_at_once_all_differ(live_server: LiveServer) -> None:
    clients = [await _named(live_server, "alice") for _ in range(6)]
    await asyncio.gather(*(c.send({"type": "join", "room": "r-crowd"}) for c in clients))
    for c in clients:
        await c.expect("room")
    watcher = await Client.connect(live_server.ws_url)
    await watcher.expect("welcome")
    await watcher.send({"type": "join", "room": "r-crowd"})
    names = [m["name"] for m in (await watcher.expect("room"))["members"] if m["name"].startswith("alice")]
    assert sorted(names) == ["alice", *(f"alice ({n})" for n in range(2, 7))]
    for c in [*clients, watcher]:
        await c.close()
