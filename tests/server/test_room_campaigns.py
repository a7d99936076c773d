"""A private room (and a streamer room) plays the campaign its creator picked: neurons or the
features of an SAE, validated by the server (an unknown campaign is refused, naming the ones
installed), on a real server with real websocket clients."""

from __future__ import annotations

from sqlmodel import select

from config.settings import Settings
from store.db import Database
from store.models import Campaign
from tests.server.conftest import Client, LiveServer, seed_campaign
from tests.server.test_streamer import finish, host_room

FEATURES = "features-l3"


async def _player(url: str) -> Client:
    client = await Client.connect(url)
    await client.expect("welcome")
    return client


async def test_a_private_room_plays_the_campaign_its_creator_picked(
    live_server: LiveServer, db: Database, hub_settings: Settings
) -> None:
    latent_ids = seed_campaign(db, FEATURES, source="minilm-l6-l3-sae")
    ann = await _player(live_server.ws_url)
    await ann.send({"type": "create_private", "campaign": FEATURES})
    room = (await ann.expect("private_room"))["room"]
    snap = await ann.expect("room")
    assert (snap["campaign"], snap["word"]) == (FEATURES, "feature")
    assert (snap["game"]["campaign"], snap["game"]["word"]) == (FEATURES, "feature")
    await ann.send({"type": "setup_game", "rounds": 2})
    await ann.expect("game_setup")
    await ann.send({"type": "start_game"})
    puzzle = await ann.expect("puzzle")
    # The features' campaign, never the default campaign's neurons.
    assert puzzle["neuron"]["campaign"] == FEATURES and puzzle["neuron"]["id"] in latent_ids
    assert puzzle["neuron"]["unit"]["word"] == "feature"
    # A friend who joins by the code sees the same campaign.
    bob = await _player(live_server.ws_url)
    await bob.send({"type": "join", "room": room})
    joined = await bob.expect("room")
    assert joined["campaign"] == FEATURES and joined["neuron"]["campaign"] == FEATURES
    await finish(ann, bob)


async def test_no_campaign_named_is_the_default_and_an_unknown_one_is_refused(
    live_server: LiveServer, db: Database, hub_settings: Settings
) -> None:
    seed_campaign(db, FEATURES, source="minilm-l6-l3-sae")
    with db.session() as s:  # a campaign still being mined is not one a room can play
        s.add(Campaign(name="half-mined", model="minilm-l6", layer=2, status="building"))
        s.commit()
        rooms_before = len(list(s.exec(select(Campaign))))
    ann = await _player(live_server.ws_url)
    for name, why in [
        ("nope", "unknown campaign 'nope'"),
        ("half-mined", "campaign 'half-mined' is not ready"),
    ]:
        await ann.send({"type": "create_private", "campaign": name})
        error = await ann.expect("error")
        assert error["code"] == "not_found" and why in error["message"]
        assert f"the installed campaigns are {FEATURES}, {hub_settings.default_campaign}" in error["message"]
    await ann.send({"type": "create_private", "campaign": ""})
    assert (await ann.expect("error"))["code"] == "bad_field"  # the wire refuses an empty name
    await ann.send({"type": "create_private", "campaign": 7})
    assert (await ann.expect("error"))["code"] == "bad_field"
    assert not any(e["type"] == "private_room" for e in ann.events)  # no room was made
    await ann.send({"type": "create_private"})  # none named: the default campaign, as before
    await ann.expect("private_room")
    snap = await ann.expect("room")
    assert snap["game"]["campaign"] is None and snap["game"]["word"] == "neuron"
    await ann.send({"type": "start_game"})
    assert (await ann.expect("puzzle"))["neuron"]["campaign"] == hub_settings.default_campaign
    with db.session() as s:
        assert len(list(s.exec(select(Campaign)))) == rooms_before
    await finish(ann)


async def test_a_streamer_room_plays_the_campaign_its_host_picked(
    live_server: LiveServer, db: Database
) -> None:
    latent_ids = seed_campaign(db, FEATURES, source="minilm-l6-l3-sae")
    host, _ = await host_room(live_server, campaign=FEATURES)
    snap = next(e for e in host.events if e["type"] == "room")
    assert (snap["campaign"], snap["word"]) == (FEATURES, "feature")
    await host.send({"type": "start"})
    puzzle = await host.expect("puzzle")
    assert puzzle["neuron"]["campaign"] == FEATURES and puzzle["neuron"]["id"] in latent_ids
    other = await _player(f"{live_server.ws_url}?sid=host-session-2")
    await other.send({"type": "create_room", "kind": "streamer", "campaign": "nope"})
    error = await other.expect("error")
    assert error["code"] == "not_found" and "unknown campaign 'nope'" in error["message"]
    await finish(host, other)
