"""From the reference back to the game: index pages exist, and a neuron's room serves it."""

from __future__ import annotations

import httpx

from tests.server.conftest import Client, LiveServer


async def test_a_neuron_room_serves_that_neuron(live_server: LiveServer, campaign: list[int]) -> None:
    client = await Client.connect(live_server.ws_url)
    await client.expect("welcome")
    wanted = campaign[-1]
    await client.send({"type": "join", "room": f"neuron-{wanted}"})
    puzzle = await client.expect("puzzle")
    assert puzzle["neuron"]["id"] == wanted
    await client.close()


def test_index_pages_are_served(live_server: LiveServer, campaign: list[int]) -> None:
    for path in ("/neurons", "/neurons/some-campaign"):
        page = httpx.get(f"{live_server.http_url}{path}")
        assert page.status_code == 200 and "Browse neurons" in page.text
