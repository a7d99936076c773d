"""Teams as the team page uses them: the list with points and rank, challenges, the schema."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
import redis

from server.api import matches as matches_api
from server.api import team_routes
from server.api.openapi import openapi_schema
from store.competition import leaderboards as lb
from store.db import Database
from store.models import Player, PointEvent
from tests.server.conftest import LiveServer
from tests.server.test_team_match_live import player, post


def _award(db: Database, r: redis.Redis, player_id: int, team_id: int, amount: int) -> None:
    now = datetime.now(UTC)
    with db.session() as s:
        event = PointEvent(player_id=player_id, amount=amount, reason="test", created_at=now)
        s.add(event)
        s.commit()
        s.refresh(event)
        owner = s.get(Player, player_id)
        assert owner is not None
        lb.apply_point_event(r, event, owner, team_id, now)


async def test_team_list_and_page_show_points_rank_and_members(
    live_server: LiveServer, db: Database, redis_client: redis.Redis
) -> None:
    (alice, alice_id, alice_auth), (carol, _, carol_auth) = (
        await player(live_server),
        await player(live_server),
    )
    red = post(live_server, "/teams", alice_auth, {"name": "Red Pandas"})["team"]
    blue = post(live_server, "/teams", carol_auth, {"name": "Blue Whales"})["team"]
    assert red["points"] == 0 and red["rank"] is None
    _award(db, redis_client, alice_id, red["id"], 40)

    listed = httpx.get(f"{live_server.http_url}/api/v1/teams").json()["teams"]
    assert [(t["name"], t["points"], t["rank"], t["members"]) for t in listed][:2] == [
        ("Red Pandas", 40, 1, 1),
        ("Blue Whales", 0, None, 1),
    ]
    only = httpx.get(f"{live_server.http_url}/api/v1/teams", params={"q": "whale"}).json()["teams"]
    assert [t["id"] for t in only] == [blue["id"]]
    page = httpx.get(f"{live_server.http_url}/api/v1/teams/{red['id']}").json()["team"]
    assert (page["points"], page["rank"], page["invite_code"]) == (40, 1, None)  # the code is for members
    profile = httpx.get(f"{live_server.http_url}/api/v1/players/{alice_id}/profile").json()
    assert profile["team"] == {"id": red["id"], "name": "Red Pandas"}
    # Badges not earned yet are listed with how to earn them.
    locked = {b["code"]: b["description"] for b in profile["locked"]}
    assert "first_explanation" in locked and locked["team_win"].startswith("Won a team match")
    countries = httpx.get(f"{live_server.http_url}/api/countries").json()["countries"]
    assert {"code": "DE", "name": "Germany"} in countries and len(countries) > 240
    await alice.close()
    await carol.close()


async def test_challenges_are_for_members_and_can_be_withdrawn(live_server: LiveServer) -> None:
    (alice, _, alice_auth), (carol, _, carol_auth) = await player(live_server), await player(live_server)
    (eve, _, eve_auth) = await player(live_server)
    red = post(live_server, "/teams", alice_auth, {"name": "Red"})["team"]
    blue = post(live_server, "/teams", carol_auth, {"name": "Blue"})["team"]
    # Only the first team's captain challenges: Carol cannot drag Red in by listing it first.
    assert post(live_server, "/matches", carol_auth, {"teams": [red["id"], blue["id"]]}, 403)["error"] == (
        "not_captain"
    )
    asked = post(live_server, "/matches", alice_auth, {"teams": [red["id"], blue["id"]]})["challenge"]
    outsider = httpx.get(f"{live_server.http_url}/api/v1/teams/{blue['id']}/challenges", headers=eve_auth)
    assert outsider.status_code == 403 and outsider.json()["error"] == "not_member"
    assert post(live_server, f"/matches/challenges/{asked['id']}/accept", eve_auth, {}, 403)["error"] == (
        "not_captain"
    )
    withdrawn = post(live_server, f"/matches/challenges/{asked['id']}/decline", alice_auth, {})
    assert withdrawn["challenge"]["status"] == "declined" and withdrawn["match"] is None
    late = post(live_server, f"/matches/challenges/{asked['id']}/accept", carol_auth, {}, 409)
    assert late["error"] == "answered"
    assert post(live_server, "/matches/challenges/nope/accept", carol_auth, {}, 404)["error"] == "not_found"
    for client in (alice, carol, eve):
        await client.close()


def test_match_and_team_routes_are_in_the_schema() -> None:
    paths = openapi_schema()["paths"]
    for route in [*matches_api.routes, *team_routes.routes]:
        path = re.sub(r"\{(\w+):int\}", r"{\1}", route.path)  # type: ignore[attr-defined]
        assert path in paths, path
        for method in route.methods - {"HEAD"}:  # type: ignore[attr-defined]
            assert method.lower() in paths[path], (path, method)
