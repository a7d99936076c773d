"""GET /api/status: the lobby's "preparing puzzles" banner reads the mining progress from it."""

from __future__ import annotations

import httpx
import orjson
import redis
from sqlmodel import select

from config import keys
from config.settings import Settings
from store.db import Database
from store.models import Campaign
from tests.server.conftest import LiveServer


def test_status_says_how_far_mining_is_then_ready(
    live_server: LiveServer, hub_settings: Settings, db: Database, redis_client: redis.Redis
) -> None:
    name = hub_settings.default_campaign
    with db.session() as s:
        campaign = s.exec(select(Campaign).where(Campaign.name == name)).one()
        campaign.status = "mining"
        s.add(campaign)
        s.commit()
    url = f"{live_server.http_url}/api/status"
    expected = {"campaign": name, "ready": False, "state": "mining", "percent": 0, "word": "neuron"}
    assert httpx.get(url).json() == expected
    event = {"type": "progress", "tokens": 430, "total": 1000, "tokens_per_s": 10.0, "eta_s": 57.2}
    redis_client.set(keys.campaign_progress(name), orjson.dumps(event))
    body = httpx.get(url).json()
    assert (body["percent"], body["eta_s"], body["ready"]) == (43, 57, False)
    with db.session() as s:
        campaign = s.exec(select(Campaign).where(Campaign.name == name)).one()
        campaign.status = "ready"
        s.add(campaign)
        s.commit()
    assert httpx.get(url).json()["percent"] == 100
    with db.session() as s:  # a campaign of an SAE's latents: its puzzles are "features" to players
        campaign = s.exec(select(Campaign).where(Campaign.name == name)).one()
        campaign.unit, campaign.source = "latent", "some-sae"
        s.add(campaign)
        s.commit()
    assert httpx.get(url).json()["word"] == "feature"
