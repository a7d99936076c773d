"""The competition HTTP API on a real app, Redis and database: boards, profiles, quests, teams."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis
from starlette.applications import Starlette
from starlette.testclient import TestClient

from config.settings import Settings
from server.api.competition import routes
from server.api.competition_openapi import PATHS_COMPETITION
from store.db import Database
from store.models import Campaign, Explanation, Neuron, Player
from tests.support.competition_helpers import award, make_players
from tests.support.sessions import token_for


@dataclass
class Ctx:
    settings: Settings
    db: Database
    r: aioredis.Redis
    r_sync: redis.Redis


@pytest.fixture
def client(settings: Settings, db: Database) -> Iterator[TestClient]:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        r, r_sync = aioredis.Redis.from_url(settings.redis_url), redis.Redis.from_url(settings.redis_url)
        app.state.ctx = Ctx(settings, db, r, r_sync)
        yield
        await r.aclose()
        r_sync.close()

    with TestClient(Starlette(routes=routes, lifespan=lifespan)) as c:
        yield c


def auth(settings: Settings, player: Player) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(settings, player.id or 0)}"}


def call(client: TestClient, method: str, path: str, status: int = 200, **kw: Any) -> dict[str, Any]:
    response = client.request(method, "/api/v1" + path, **kw)
    assert response.status_code == status, response.text
    return response.json()


def test_boards_pages_around_and_errors(
    client: TestClient, db: Database, redis_client: redis.Redis, settings: Settings
) -> None:
    players = make_players(db, 7)
    now = datetime.now(UTC)
    for i, p in enumerate(players):
        award(db, redis_client, settings, p, 100 - 10 * (i // 2), now - timedelta(seconds=60 - i))
    kinds = [b["kind"] for b in call(client, "GET", "/leaderboards")["boards"]]
    assert {"points", "country", "teams", "quest", "room"} <= set(kinds)
    first = call(client, "GET", "/leaderboards/points", params={"limit": 3})
    assert [(x["name"], x["rank"]) for x in first["items"]] == [("p0", 1), ("p1", 1), ("p2", 3)]
    rest = call(client, "GET", "/leaderboards/points", params={"limit": 10, "cursor": first["next_cursor"]})
    assert [x["name"] for x in rest["items"]] == ["p3", "p4", "p5", "p6"] and rest["next_cursor"] is None
    daily = call(client, "GET", "/leaderboards/country:FR", params={"period": "weekly", "limit": 1})
    assert daily["items"][0]["id"] == players[0].id and daily["period"].startswith("w:")
    around = call(client, "GET", "/leaderboards/points/around", params={"id": players[6].id, "n": 1})
    assert around["me"]["rank"] == 7 and [x["name"] for x in around["items"]] == ["p4", "p5", "p6"]
    assert call(client, "GET", "/leaderboards/nosuch", 404)["error"] == "not_found"
    assert (
        call(client, "GET", "/leaderboards/points", 400, params={"cursor": "@@"})["error"] == "bad_parameter"
    )
    assert (
        call(client, "GET", "/leaderboards/points", 400, params={"period": "d:nope"})["error"]
        == "bad_parameter"
    )
    assert (
        call(client, "GET", "/leaderboards/region:x", 400, params={"period": "daily"})["error"]
        == "bad_parameter"
    )
    assert call(client, "GET", "/leaderboards/points", 400, params={"limit": 0})["error"] == "bad_parameter"
    assert (
        call(client, "GET", "/leaderboards/points/around", 404, params={"id": 999_999})["error"]
        == "not_found"
    )
    profile = call(client, "GET", f"/players/{players[2].id}/profile")
    assert profile["points"] == 90 and profile["streak"] == {"current": 0, "best": 0}
    ranks = {(r["board"], r["period"]): r["rank"] for r in profile["ranks"]}
    assert ranks[("points", "all")] == 3 and ranks[("country:FR", "all")] == 3
    assert call(client, "GET", "/players/999999/ranks", 404)["error"] == "not_found"


def test_teams_over_http(client: TestClient, db: Database, settings: Settings) -> None:
    a, b = make_players(db, 2)
    assert call(client, "POST", "/teams", 401, json={"name": "Owls"})["error"] == "no_session"
    team = call(client, "POST", "/teams", json={"name": "Owls"}, headers=auth(settings, a))["team"]
    assert team["captain_id"] == a.id and team["invite_code"]
    bad = call(client, "POST", "/teams/join", 404, json={"code": "ZZZZZZZZ"}, headers=auth(settings, b))
    assert bad["error"] == "bad_code"
    assert (
        call(client, "POST", "/teams", 400, content=b"[1]", headers=auth(settings, b))["error"] == "bad_body"
    )
    joined = call(
        client, "POST", "/teams/join", json={"code": team["invite_code"]}, headers=auth(settings, b)
    )
    assert [m["id"] for m in joined["team"]["members"]] == [a.id, b.id]
    assert (
        call(
            client, "POST", "/teams/join", 409, json={"code": team["invite_code"]}, headers=auth(settings, b)
        )["error"]
        == "already_in_team"
    )
    public = call(client, "GET", f"/teams/{team['id']}")["team"]
    assert public["invite_code"] is None and len(public["members"]) == 2
    call(client, "POST", "/teams/leave", headers=auth(settings, b))
    assert len(call(client, "GET", f"/teams/{team['id']}")["team"]["members"]) == 1
    assert call(client, "GET", "/teams/424242", 404)["error"] == "not_found"


def test_quests_over_http(client: TestClient, db: Database, settings: Settings) -> None:
    assert call(client, "GET", "/quests/daily", 404)["error"] == "not_found"  # nothing ready yet
    with db.session() as s:
        campaign = Campaign(name="c", model="m", layer=1, status="ready")
        s.add(campaign)
        s.commit()
        s.add_all([Neuron(campaign_id=campaign.id or 0, index=i) for i in range(8)])
        s.commit()
    (a,) = make_players(db, 1)
    daily = call(client, "GET", "/quests/daily")
    assert daily["kind"] == "daily" and len(daily["neuron_ids"]) == 1 and daily["max_points"] == 100
    assert call(client, "GET", "/quests/daily")["id"] == daily["id"]
    weekly = call(client, "GET", "/quests/weekly")
    assert len(weekly["neuron_ids"]) == settings.weekly_quest_neurons
    assert (daily["word"], weekly["word"]) == ("neuron", "neuron")
    results = call(client, "GET", f"/quests/{daily['id']}/results")
    assert results["frozen"] is False and results["items"] == []
    # The card is the player's result: ready once they played, not before (issue 17).
    share = call(client, "GET", f"/quests/{daily['id']}/share", 409, headers=auth(settings, a))
    assert share["error"] == "not_played"
    assert call(client, "GET", "/quests/daily", headers=auth(settings, a))["mine"]["played"] == 0
    with db.session() as s:
        s.add(Explanation(neuron_id=daily["neuron_ids"][0], player_id=a.id, text="commas"))
        s.commit()
    mine = call(client, "GET", "/quests/daily", headers=auth(settings, a))["mine"]
    assert (mine["played"], mine["points"], mine["rank"], mine["neurons"]) == (1, 0, None, 1)
    card = call(client, "GET", f"/quests/{daily['id']}/share", headers=auth(settings, a))["text"]
    assert "0/100" in card and "commas" not in card  # at once, and spoiler-free
    assert call(client, "GET", "/quests/daily")["mine"] is None  # nobody signed in
    assert (
        call(client, "GET", f"/quests/{weekly['id']}/share", 404, headers=auth(settings, a))["error"]
        == "not_found"
    )


def test_every_route_is_in_the_schema() -> None:
    for route in routes:
        path = re.sub(r"\{(\w+):int\}", r"{\1}", route.path)  # type: ignore[attr-defined]
        assert path in PATHS_COMPETITION, path
        for method in route.methods - {"HEAD"}:  # type: ignore[attr-defined]
            assert method.lower() in PATHS_COMPETITION[path]


def test_quests_of_an_sae_campaign_are_of_features(client: TestClient, db: Database) -> None:
    with db.session() as s:
        campaign = Campaign(name="feats", model="m", layer=1, unit="latent", source="sae", status="ready")
        s.add(campaign)
        s.commit()
        s.add_all([Neuron(campaign_id=campaign.id or 0, index=i) for i in range(8)])
        s.commit()
    daily = call(client, "GET", "/quests/daily")
    assert daily["word"] == "feature" and re.match(r"^Daily feature #\d+$", daily["title"])
    weekly = call(client, "GET", "/quests/weekly")
    assert weekly["word"] == "feature" and re.match(r"^This week's features \d+–\d+$", weekly["title"])
    assert call(client, "GET", f"/quests/{daily['id']}/results")["quest"]["word"] == "feature"
