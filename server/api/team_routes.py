"""Teams as players find them: the list to challenge from, and each team's points and rank.

``GET /api/v1/teams?q=`` lists teams (name, members, points, rank on the all-time teams board);
``team_standing`` gives one team's points and rank for its page (server/api/competition.py).
Points and ranks come from the ``teams`` board (rooms/boards.py): a team with no points yet has
points 0 and no rank.
"""

from __future__ import annotations

from typing import Any

import redis
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import BaseRoute, Route

from server.api.guard import Context, guarded, str_param
from store import competition
from store.competition import leaderboards as lb

PREFIX = "/api/v1"
LIST_LIMIT = 100


def team_standings(r: redis.Redis, team_ids: list[int]) -> dict[int, dict[str, Any]]:
    """points, rank and board size per team, one round trip; teams not on the board: 0 and None."""
    found = {int(str(row["id"])): row for row in lb.my_ranks(r, [("teams", "all", t) for t in team_ids])}
    return {
        t: {"points": int(str(found[t]["score"])), "rank": int(str(found[t]["rank"]))}
        if t in found
        else {"points": 0, "rank": None}
        for t in team_ids
    }


async def team_list(request: Request, ctx: Context) -> dict[str, Any]:
    query = (str_param(request, "q", 40) or "").strip()

    def read() -> dict[str, Any]:
        with ctx.db.session() as s:
            rows = competition.teams_with_sizes(s, query, LIST_LIMIT)
        standing = team_standings(ctx.r_sync, [int(t.id or 0) for t, _ in rows])
        items = [
            {"id": t.id, "name": t.name, "members": n, "captain_id": t.captain_id, **standing[int(t.id or 0)]}
            for t, n in rows
        ]
        # Ranked teams first (best rank first), then the rest by name.
        items.sort(key=lambda x: (x["rank"] is None, x["rank"] or 0, str(x["name"]).lower()))
        return {"teams": items}

    return await run_in_threadpool(read)


routes: list[BaseRoute] = [Route(PREFIX + "/teams", guarded(team_list), methods=["GET"])]
