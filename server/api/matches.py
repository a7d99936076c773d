"""Team matches over HTTP: a captain creates one; anybody reads one (/api/v1/matches).

``POST /api/v1/matches`` ``{"teams": [team id or invite code, ...], "rounds": 3, "round_s": 120}``
needs the session of a captain of one of the teams. It draws the neurons (the same for every
team), opens the held room ``match-<id>`` and answers with the match's view; the players then
join that room over the websocket (server/live/match_rooms.py runs it from there).
"""

from __future__ import annotations

import random
from typing import Any

from sqlmodel import Session, select
from starlette.requests import Request
from starlette.routing import BaseRoute, Route

from rooms import team_match as tm
from server.api.competition import PREFIX, _body, _require_player
from server.api.guard import ApiError, Context, guarded, in_db, not_found
from server.live.match_rooms import MatchRooms, is_match_room, new_room_id, view
from store.competition.teams import normalise_code
from store.models import Team
from store.puzzles import playable_neurons

MAX_TEAMS = 8
MAX_ROUNDS = 10
ROUND_S_RANGE = (10.0, 3600.0)


def _matches(request: Request) -> MatchRooms:
    return request.app.state.matches  # type: ignore[no-any-return]


def _read_request(data: dict[str, Any]) -> tuple[list[int | str], int, float]:
    """The body's fields, checked: a clear 400 for anything off, before anything is written."""
    refs, rounds, round_s = data.get("teams"), data.get("rounds", 3), data.get("round_s", 120)
    if not isinstance(refs, list) or not 2 <= len(refs) <= MAX_TEAMS:
        raise ApiError(400, "bad_teams", f"teams: a list of 2-{MAX_TEAMS} team ids or invite codes")
    if not all(isinstance(x, str) or (isinstance(x, int) and not isinstance(x, bool)) for x in refs):
        raise ApiError(400, "bad_teams", "each team is an id (integer) or an invite code (string)")
    if isinstance(rounds, bool) or not isinstance(rounds, int) or not 1 <= rounds <= MAX_ROUNDS:
        raise ApiError(400, "bad_rounds", f"rounds: an integer 1-{MAX_ROUNDS}")
    low, high = ROUND_S_RANGE
    if isinstance(round_s, bool) or not isinstance(round_s, int | float) or not low <= round_s <= high:
        raise ApiError(400, "bad_timing", f"round_s: seconds per round, {low:g}-{high:g}")
    return list(refs), rounds, float(round_s)


def _resolve(
    session: Session, captain_id: int, refs: list[int | str], rounds: int, campaign: str, rng: random.Random
) -> tuple[list[Team], list[int]]:
    """The teams (by id or invite code) and the drawn neurons; the caller must captain one team."""
    found: list[Team] = []
    for ref in refs:
        if isinstance(ref, int):
            team = session.get(Team, ref)
        else:
            team = session.exec(select(Team).where(Team.invite_code == normalise_code(ref))).first()
        if team is None:
            raise not_found(f"team {ref!r}")
        found.append(team)
    if len({t.id for t in found}) != len(found):
        raise ApiError(400, "bad_teams", "a team cannot play itself")
    if not any(t.captain_id == captain_id for t in found):
        raise ApiError(403, "not_captain", "only a captain of one of the teams can create the match")
    pool = playable_neurons(session, campaign)
    if len(pool) < rounds:
        raise ApiError(409, "bad_neurons", f"campaign {campaign!r} has {len(pool)} playable neurons")
    return found, rng.sample(pool, rounds)


async def match_create(request: Request, ctx: Context) -> dict[str, Any]:
    captain_id = await _require_player(request, ctx)
    refs, rounds, round_s = _read_request(await _body(request))
    matches = _matches(request)
    teams, neurons = await in_db(
        ctx, _resolve, captain_id, refs, rounds, ctx.settings.default_campaign, matches.service.rng
    )
    room_id = new_room_id()
    # The review after each round gives the workers the reveal's time to score the last submits.
    match = tm.TeamMatch.create(
        room_id, [int(t.id or 0) for t in teams], neurons, round_s, ctx.settings.room_reveal_s
    )
    extra = {"names": {str(t.id): t.name for t in teams}, "created_by": captain_id}
    await matches.open(match, extra)
    return {"match": view(match, extra["names"])}


async def match_show(request: Request, ctx: Context) -> dict[str, Any]:
    room_id = request.path_params["room"]
    loaded = await _matches(request).load(room_id) if is_match_room(room_id) else None
    if loaded is None:
        raise not_found(f"team match {room_id}")
    match, extra = loaded
    return {"match": view(match, extra["names"])}


routes: list[BaseRoute] = [
    Route(PREFIX + "/matches", guarded(match_create), methods=["POST"]),
    Route(PREFIX + "/matches/{room}", guarded(match_show), methods=["GET"]),
]
