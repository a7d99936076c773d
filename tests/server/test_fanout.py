"""Any web process serves any room: two real web processes, one client on each, one room."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from config.settings import Settings
from store import eventlog
from tests.server.conftest import Client, start_web_process


@pytest.fixture
def two_web_processes(hub_settings: Settings, campaign: list[int]) -> Iterator[tuple[str, str]]:
    first, url1 = start_web_process(hub_settings)
    try:
        second, url2 = start_web_process(hub_settings)
    except Exception:
        first.kill()
        raise
    yield url1, url2
    for proc in (first, second):
        proc.terminate()
        proc.wait(10)


async def test_two_web_processes_share_one_room(
    two_web_processes: tuple[str, str], redis_client: redis.Redis
) -> None:
    url1, url2 = two_web_processes
    alice, bob = await Client.connect(url1), await Client.connect(url2, fmt="msgpack")
    await alice.expect("welcome")
    bob_id = (await bob.expect("welcome"))["player"]["id"]
    puzzle = await alice.join_round("shared")
    await bob.send({"type": "join", "room": "shared"})
    assert (await bob.expect("room"))["neuron"] == puzzle["neuron"]
    await alice.expect_joined(bob_id)

    await alice.send({"type": "submit", "text": "cats, across processes"})
    eid = (await bob.expect("explanation"))["explanation"]["id"]
    await bob.send({"type": "vote", "explanation_id": eid})
    assert (await alice.expect("vote"))["explanation_id"] == eid
    # A worker's event reaches both processes' clients through the room channel.
    eventlog.append(
        redis_client, "shared", {"type": "score_progress", "explanation_id": eid, "done": 1, "total": 2}
    )
    for client in (alice, bob):
        assert (await client.expect("score_progress"))["done"] == 1
    # Both saw the same versions in the same order from the moment both were in.
    common = min(e["v"] for e in bob.events if e["type"] == "room")
    va = [e["v"] for e in alice.events if e.get("v", 0) > common]
    vb = [e["v"] for e in bob.events if e.get("v", 0) > common and e["type"] != "room"]
    assert va == vb and va == sorted(va)
    await alice.close()
    await bob.close()
