"""From the reference back to the game: index pages exist, and a neuron's room serves it."""

from __future__ import annotations

import httpx
import redis

from config.settings import Settings
from server.live.room_service import enqueue_embedding
from store.db import Database
from tests.server.conftest import Client, LiveServer, seed_campaign
from workers.queues import default_queue


async def test_a_neuron_room_serves_that_neuron(live_server: LiveServer, campaign: list[int]) -> None:
    client = await Client.connect(live_server.ws_url)
    await client.expect("welcome")
    wanted = campaign[-1]
    await client.send({"type": "join", "room": f"neuron-{wanted}"})
    puzzle = await client.expect("puzzle")
    assert puzzle["neuron"]["id"] == wanted
    await client.close()


async def test_a_feature_room_serves_a_latent_of_another_campaign(
    live_server: LiveServer, campaign: list[int], db: Database
) -> None:
    """ "Play this feature" on an SAE campaign's unit page: its room serves that latent, named as one."""
    latents = seed_campaign(db, "features", 2, source="minilm-l6-l3-topk32")
    client = await Client.connect(live_server.ws_url)
    await client.expect("welcome")
    await client.send({"type": "join", "room": f"neuron-{latents[1]}"})
    puzzle = await client.expect("puzzle")
    assert puzzle["neuron"]["id"] == latents[1] and puzzle["neuron"]["campaign"] == "features"
    unit = puzzle["neuron"]["unit"]
    assert (unit["unit"], unit["source"], unit["index"], unit["word"]) == (
        "latent",
        "minilm-l6-l3-topk32",
        1,
        "feature",
    )
    assert unit["label"] == "Feature 1 of SAE minilm-l6-l3-topk32 on layer 3 of minilm-l6"
    await client.close()
    # A neuron room of the default campaign still names its unit a neuron.
    client = await Client.connect(live_server.ws_url)
    await client.expect("welcome")
    await client.send({"type": "join", "room": f"neuron-{campaign[0]}"})
    assert (await client.expect("puzzle"))["neuron"]["unit"]["word"] == "neuron"
    await client.close()


def test_index_pages_are_served(live_server: LiveServer, campaign: list[int]) -> None:
    for path in ("/neurons", "/neurons/some-campaign"):
        page = httpx.get(f"{live_server.http_url}{path}")
        assert page.status_code == 200 and "Browse neurons" in page.text


def test_a_new_explanations_embedding_jumps_the_background_queue(
    redis_client: redis.Redis, settings: Settings
) -> None:
    queue = default_queue(redis_client, settings)
    for neuron in range(3):  # a first start's backlog
        queue.enqueue("workers.scoring.rescore_job", neuron)
    enqueue_embedding(redis_client, settings, 42)
    first = queue.jobs[0]
    assert first.func_name == "workers.reference.embed_explanations_job" and first.args == ([42],)
