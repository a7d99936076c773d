"""Team matches over HTTP: a captain challenges, the other captains accept, the match opens.

``POST /api/v1/matches`` ``{"teams": [team id or invite code, ...], "rounds": 3, "round_s": 120}``
needs the session of a captain of the FIRST team (the challenger). It stores a pending challenge
(rooms/challenges.py) and nothing else: a match starts only when every other team's captain
accepts (``POST /api/v1/matches/challenges/{id}/accept``; ``/decline`` ends it). The accept that
completes it draws the neurons (the same for every team), opens the held room ``match-<id>``
(server/live/match_rooms.py runs it from there) and records the room on the challenge, so every
member of every team finds it on the team page (``GET /api/v1/teams/{id}/challenges``).
"""

from __future__ import annotations

import random
import secrets
from datetime import UTC, datetime
from typing import Any

import orjson
import redis
from sqlmodel import Session, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import BaseRoute, Route

from config import keys
from rooms import team_match as tm
from rooms.challenges import Challenge, ChallengeError
from server.api.competition import PREFIX, _body, _require_player, current_player
from server.api.guard import ApiError, Context, guarded, in_db, not_found
from server.live.match_rooms import MatchRooms, is_match_room, new_room_id, view
from store import competition
from store.competition.teams import normalise_code
from store.models import Team
from store.puzzles import playable_neurons

MAX_TEAMS = 8
MAX_ROUNDS = 10
ROUND_S_RANGE = (10.0, 3600.0)
CHALLENGE_ID_BYTES = 6


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
    session: Session, captain_id: int, refs: list[int | str], rounds: int, campaign: str
) -> list[Team]:
    """The teams (by id or invite code); the caller must captain the first; enough neurons."""
    found: list[Team] = []
    for ref in refs:
        if isinstance(ref, int):
            team = session.get(Team, ref) if 0 <= ref < 2**31 else None
        else:
            team = session.exec(select(Team).where(Team.invite_code == normalise_code(ref))).first()
        if team is None:
            raise not_found(f"team {ref!r}")
        found.append(team)
    if len({t.id for t in found}) != len(found):
        raise ApiError(400, "bad_teams", "a team cannot play itself")
    if found[0].captain_id != captain_id:
        raise ApiError(403, "not_captain", "only the captain of the first team can challenge")
    pool = playable_neurons(session, campaign)
    if len(pool) < rounds:
        raise ApiError(409, "bad_neurons", f"campaign {campaign!r} has {len(pool)} playable neurons")
    return found


def _captained_team(session: Session, player_id: int) -> int:
    member = competition.membership_of(session, player_id)
    team = session.get(Team, member.team_id) if member else None
    if team is None or team.captain_id != player_id:
        raise ApiError(403, "not_captain", "only a team's captain answers a challenge")
    return int(team.id or 0)


def _refused(exc: ChallengeError) -> ApiError:
    return ApiError(403 if exc.code == "not_in_challenge" else 409, exc.code, exc.reason)


# -- challenges in Redis (JSON with a TTL; each team's index of them) -----------------------------
def _save(r: redis.Redis, challenge: Challenge, ttl_s: int) -> None:
    pipe = r.pipeline()
    pipe.set(keys.team_challenge(challenge.id), orjson.dumps(challenge.to_json()), ex=ttl_s)
    for team_id in challenge.team_ids:
        pipe.zadd(keys.team_challenges(team_id), {challenge.id: challenge.created_at.timestamp()})
        pipe.expire(keys.team_challenges(team_id), ttl_s)
    pipe.execute()


def _load(r: redis.Redis, cid: str) -> Challenge | None:
    raw = r.get(keys.team_challenge(cid))
    return Challenge.from_json(orjson.loads(raw)) if raw else None


def _answer(r: redis.Redis, cid: str, team_id: int, accept: bool, ttl_s: int) -> tuple[Challenge, bool]:
    """Apply one captain's answer atomically (WATCH): concurrent answers never lose one."""
    outcome: dict[str, Any] = {}

    def change(pipe: redis.client.Pipeline) -> None:
        raw = pipe.get(keys.team_challenge(cid))
        if raw is None:
            raise ApiError(404, "not_found", f"challenge {cid} not found (or expired)")
        challenge = Challenge.from_json(orjson.loads(raw))
        try:
            if accept:
                complete = challenge.accept(team_id)
            else:
                challenge.decline(team_id)
                complete = False
        except ChallengeError as exc:
            raise _refused(exc) from None
        pipe.multi()
        pipe.set(keys.team_challenge(cid), orjson.dumps(challenge.to_json()), ex=ttl_s)
        outcome.update(challenge=challenge, complete=complete)

    r.transaction(change, keys.team_challenge(cid))
    return outcome["challenge"], outcome["complete"]


# -- routes --------------------------------------------------------------------------------
async def match_create(request: Request, ctx: Context) -> dict[str, Any]:
    captain_id = await _require_player(request, ctx)
    refs, rounds, round_s = _read_request(await _body(request))
    found = await in_db(ctx, _resolve, captain_id, refs, rounds, ctx.settings.default_campaign)
    ids = [int(t.id or 0) for t in found]
    challenge = Challenge.create(
        secrets.token_hex(CHALLENGE_ID_BYTES), ids, {str(t.id): t.name for t in found}, rounds, round_s,
        captain_id, datetime.now(UTC),
    )  # fmt: skip
    await run_in_threadpool(_save, ctx.r_sync, challenge, ctx.settings.team_challenge_ttl_s)
    return {"challenge": challenge.view(ids[0])}


async def _open_match(request: Request, ctx: Context, challenge: Challenge) -> dict[str, Any]:
    matches = _matches(request)
    rng: random.Random = matches.service.rng
    campaign = ctx.settings.default_campaign
    pool = await in_db(ctx, lambda s: playable_neurons(s, campaign))
    if len(pool) < challenge.rounds:
        raise ApiError(409, "bad_neurons", f"campaign {campaign!r} has {len(pool)} playable neurons")
    room_id = new_room_id()
    # The review after each round gives the workers the reveal's time to score the last submits.
    match = tm.TeamMatch.create(
        room_id, challenge.team_ids, rng.sample(pool, challenge.rounds), challenge.round_s,
        ctx.settings.room_reveal_s,
    )  # fmt: skip
    await matches.open(match, {"names": challenge.names, "created_by": challenge.created_by})
    challenge.opened(room_id)
    await run_in_threadpool(_save, ctx.r_sync, challenge, ctx.settings.team_challenge_ttl_s)
    return view(match, challenge.names)


async def _answer_route(request: Request, ctx: Context, accept: bool) -> dict[str, Any]:
    player_id = await _require_player(request, ctx)
    cid = str(request.path_params["challenge"])[:32]
    team_id = await in_db(ctx, _captained_team, player_id)
    ttl = ctx.settings.team_challenge_ttl_s
    challenge, complete = await run_in_threadpool(_answer, ctx.r_sync, cid, team_id, accept, ttl)
    shown: dict[str, Any] = {"challenge": challenge.view(team_id), "match": None}
    if complete:
        shown["match"] = await _open_match(request, ctx, challenge)
        shown["challenge"] = challenge.view(team_id)
    return shown


async def challenge_accept(request: Request, ctx: Context) -> dict[str, Any]:
    return await _answer_route(request, ctx, True)


async def challenge_decline(request: Request, ctx: Context) -> dict[str, Any]:
    return await _answer_route(request, ctx, False)


async def team_challenges(request: Request, ctx: Context) -> dict[str, Any]:
    """A team's challenges, newest first: members only (the room of a match is theirs)."""
    team_id = int(request.path_params["team_id"])
    viewer = await current_player(request, ctx)

    def read() -> dict[str, Any]:
        with ctx.db.session() as s:
            member = competition.membership_of(s, viewer) if viewer else None
        if member is None or member.team_id != team_id:
            raise ApiError(403, "not_member", "only the team's members see its challenges")
        ids = ctx.r_sync.zrevrange(keys.team_challenges(team_id), 0, 19)
        found = [_load(ctx.r_sync, raw.decode()) for raw in ids]
        return {"challenges": [c.view(team_id) for c in found if c is not None]}

    return await run_in_threadpool(read)


async def match_show(request: Request, ctx: Context) -> dict[str, Any]:
    room_id = request.path_params["room"]
    loaded = await _matches(request).load(room_id) if is_match_room(room_id) else None
    if loaded is None:
        raise not_found(f"team match {room_id}")
    match, extra = loaded
    return {"match": view(match, extra["names"])}


routes: list[BaseRoute] = [
    Route(PREFIX + "/matches", guarded(match_create), methods=["POST"]),
    Route(PREFIX + "/matches/challenges/{challenge}/accept", guarded(challenge_accept), methods=["POST"]),
    Route(PREFIX + "/matches/challenges/{challenge}/decline", guarded(challenge_decline), methods=["POST"]),
    Route(PREFIX + "/matches/{room}", guarded(match_show), methods=["GET"]),
    Route(PREFIX + "/teams/{team_id:int}/challenges", guarded(team_challenges), methods=["GET"]),
]
