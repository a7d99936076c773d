"""Competition over HTTP JSON: boards, quests, teams and profiles (/api/v1/...).

Routes go through server.api.guard (rate limits, JSON errors ``{"error", "message"}``).
Reads are public; team changes and "my" views need the player, which ``current_player``
takes from the session token (``Authorization: Bearer <token>``). The OpenAPI fragments are in
server/api/competition_openapi.py. SQL and Redis calls are blocking, so every handler runs its
work in the thread pool.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import BaseRoute, Route

from rooms.achievements import RULES
from rooms.boards import BOARDS, BoardError, boards_of_player, resolve_period, spec_of
from rooms.streaks import compute_streak, share_text
from server.api.attempts import wait_needed
from server.api.guard import ApiError, Context, guarded, in_db, int_param, not_found, str_param
from server.api.team_routes import team_standings
from store import competition
from store.competition import badges, quests, teams
from store.competition import leaderboards as lb
from store.models import Player, Quest, QuestResult, Team
from store.units import words_of

PREFIX = "/api/v1"
MAX_BODY = 4_096


async def current_player(request: Request, ctx: Context) -> int | None:
    """The signed-in player's id while the bearer's session is open (not expired or revoked)."""
    from server.api.sessions import player_of_token

    auth = request.headers.get("authorization", "")
    if not auth.lower().startswith("bearer "):
        return None
    token = auth[7:].strip()
    return await in_db(ctx, lambda session: player_of_token(session, ctx.settings, token))  # type: ignore[no-any-return]


async def _require_player(request: Request, ctx: Context) -> int:
    player_id = await current_player(request, ctx)
    if player_id is None:
        raise ApiError(401, "no_session", "sign in first (Authorization: Bearer <session token>)")
    return player_id


def _now() -> datetime:
    return datetime.now(UTC)


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise ApiError(400, "bad_body", f"the body is longer than {MAX_BODY} bytes")
    try:
        data = orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError:
        raise ApiError(400, "bad_body", "the body is not JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "bad_body", "the body must be a JSON object")
    return data


def _board_error(exc: BoardError) -> ApiError:
    status = 404 if str(exc).startswith("no board") else 400
    return ApiError(status, "not_found" if status == 404 else "bad_parameter", str(exc))


def _named(session: Any, board: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add display names: players, or teams on the board of teams."""
    ids = [int(row["id"]) for row in rows]
    if spec_of(board).member == "team":
        names = {t.id: t.name for t in (session.get(Team, i) for i in ids) if t is not None}
    else:
        names = {p.id: p.name for p in competition.players_by_id(session, ids).values()}
    return [{**row, "name": names.get(int(row["id"]))} for row in rows]


# -- boards ---------------------------------------------------------------------------
async def list_boards(request: Request, ctx: Context) -> dict[str, Any]:
    specs = [
        {"kind": s.kind, "title": s.title, "order": s.order, "operator": s.operator,
         "periods": list(s.periods), "member": s.member, "needs_param": s.kind not in ("points", "teams")}
        for s in BOARDS.values()
    ]  # fmt: skip
    return {"boards": specs}


def _board_and_period(request: Request) -> tuple[str, str]:
    board = request.path_params["board"]
    try:
        spec = spec_of(board)
        return board, resolve_period(spec, request.query_params.get("period") or "all", _now())
    except BoardError as exc:
        raise _board_error(exc) from None


async def board_top(request: Request, ctx: Context) -> dict[str, Any]:
    board, period = _board_and_period(request)
    limit = int_param(request, "limit", 20, 1, ctx.settings.leaderboard_page_max)
    cursor = str_param(request, "cursor", 512)

    def read() -> dict[str, Any]:
        try:
            page = lb.top(ctx.r_sync, board, period, limit, cursor)
        except BoardError as exc:
            raise _board_error(exc) from None
        with ctx.db.session() as s:
            items = _named(s, board, [e.to_json() for e in page.entries])
        return {"board": board, "period": period, "items": items, "next_cursor": page.next_cursor}

    return await run_in_threadpool(read)


async def board_around(request: Request, ctx: Context) -> dict[str, Any]:
    board, period = _board_and_period(request)
    neighbours = int_param(request, "n", 5, 0, 50)
    member = int_param(request, "id", 0, 0, 2**31 - 1) or await current_player(request, ctx)
    if not member:
        raise ApiError(400, "bad_parameter", "give ?id= or sign in")

    def read() -> dict[str, Any]:
        found = lb.around(ctx.r_sync, board, period, member, neighbours)
        if found is None:
            raise not_found(f"{member} on board {board} ({period})")
        with ctx.db.session() as s:
            items = _named(s, board, [e.to_json() for e in found.entries])
        return {
            "board": board,
            "period": period,
            "me": found.me.to_json(),
            "size": found.size,
            "items": items,
        }

    return await run_in_threadpool(read)


# -- profiles -------------------------------------------------------------------------
def _open_quest_ids(session: Any, now: datetime) -> list[int]:
    found = (competition.quest_for(session, k, quests.quest_period(k, now)) for k in quests.QUEST_KINDS)
    return [q.id for q in found if q is not None and q.id is not None]


def _ranks_of(ctx: Context, session: Any, player: Player, now: datetime) -> list[dict[str, object]]:
    member = competition.membership_of(session, player.id or 0)
    placements = boards_of_player(
        player, member.team_id if member else None, _open_quest_ids(session, now), now
    )
    return lb.my_ranks(ctx.r_sync, placements)


async def player_ranks(request: Request, ctx: Context) -> dict[str, Any]:
    player_id = request.path_params["player_id"]

    def read() -> dict[str, Any]:
        with ctx.db.session() as s:
            player = s.get(Player, player_id)
            if player is None:
                raise not_found(f"player {player_id}")
            return {"player_id": player_id, "ranks": _ranks_of(ctx, s, player, _now())}

    return await run_in_threadpool(read)


async def player_profile(request: Request, ctx: Context) -> dict[str, Any]:
    player_id = request.path_params["player_id"]

    def read() -> dict[str, Any]:
        now = _now()
        with ctx.db.session() as s:
            player = s.get(Player, player_id)
            if player is None:
                raise not_found(f"player {player_id}")
            member = competition.membership_of(s, player_id)
            streak = compute_streak(
                competition.daily_periods(s),
                competition.solved_daily_periods(s, player_id),
                now.date().isoformat(),
            )
            return {
                "player": {
                    "id": player.id,
                    "name": player.name,
                    "country": player.country,
                    "region": player.region,
                },
                "points": competition.total_points(s, player_id),
                "team_id": member.team_id if member else None,
                "team": _team_ref(s, member.team_id) if member else None,
                "ranks": _ranks_of(ctx, s, player, now),
                "streak": streak.to_json(),
                "achievements": badges.shown(s, player_id),
                "locked": _locked(s, player_id),
            }

    return await run_in_threadpool(read)


def _locked(session: Any, player_id: int) -> list[dict[str, str]]:
    """Badges not earned yet, each with how to earn it (the rule's description)."""
    have = {row["code"] for row in badges.shown(session, player_id)}
    return [
        {"code": r.code, "title": r.title, "description": r.description} for r in RULES if r.code not in have
    ]


def _team_ref(session: Any, team_id: int) -> dict[str, Any] | None:
    team = session.get(Team, team_id)
    return {"id": team_id, "name": team.name} if team else None


# -- quests ---------------------------------------------------------------------------
def _quest_json(session: Any, quest: Quest, now: datetime) -> dict[str, Any]:
    first = (quest.neuron_ids or [None])[0]
    return {
        "word": words_of(session, [first])[0] if first is not None else "neuron",
        "id": quest.id, "kind": quest.kind, "period": quest.period, "title": quest.title,
        "neuron_ids": quest.neuron_ids, "opens_at": quest.opens_at.isoformat(),
        "closes_at": quest.closes_at.isoformat(), "status": quest.status,
        "seconds_left": quests.seconds_left(quest, now), "max_points": quests.max_points(quest),
        "board": f"quest:{quest.id}", "room": f"{quest.kind}-{quest.period}",
    }  # fmt: skip


def _my_quest(session: Any, quest: Quest, player_id: int, now: datetime) -> dict[str, Any]:
    """The Wordle loop's card: played or not, points, rank so far, neurons done, streak."""
    rows = quests.standings(session, quest.id or 0)
    events = competition.events_for_quest(session, quest.id or 0)
    mine = next((r for r in rows if r[0] == player_id), None)
    body: dict[str, Any] = {
        "played": quests.played(session, quest, player_id),
        "points": mine[1] if mine else 0,
        "rank": mine[2] if mine else None,
        "players": len(rows),
        "neurons": len(quest.neuron_ids or []),
        "neurons_done": len({e.neuron_id for e in events if e.player_id == player_id}),
    }
    if quest.kind == "daily":
        body["streak"] = compute_streak(
            competition.daily_periods(session),
            competition.solved_daily_periods(session, player_id),
            now.date().isoformat(),
        ).to_json()
    return body


def _current_quest(kind: str) -> Callable[[Request, Context], Any]:
    async def current(request: Request, ctx: Context) -> dict[str, Any]:
        viewer = await current_player(request, ctx)

        def read() -> dict[str, Any]:
            now = _now()
            with ctx.db.session() as s:
                quest = quests.ensure_quest(s, kind, now, ctx.settings)
                if quest is None:
                    raise not_found(f"{kind} quest (no campaign is ready yet)")
                body = _quest_json(s, quest, now)
                body["mine"] = _my_quest(s, quest, viewer, now) if viewer else None
                return body

        return await run_in_threadpool(read)

    current.__name__ = f"{kind}_quest"
    return current


async def quest_results(request: Request, ctx: Context) -> dict[str, Any]:
    quest_id = request.path_params["quest_id"]
    limit = int_param(request, "limit", ctx.settings.quest_top_n, 1, ctx.settings.leaderboard_page_max)

    def read() -> dict[str, Any]:
        with ctx.db.session() as s:
            quest = s.get(Quest, quest_id)
            if quest is None:
                raise not_found(f"quest {quest_id}")
            if quest.status == "closed":
                rows = [
                    (r.player_id, int(r.score), r.rank or 0)
                    for r in competition.quest_results(s, quest_id, limit)
                ]
            else:  # live standings until the close freezes them
                rows = quests.standings(s, quest_id)[:limit]
            items = _named(s, "points", [{"id": p, "score": pts, "rank": rank} for p, pts, rank in rows])
            frozen = quest.status == "closed"
            return {"quest": _quest_json(s, quest, _now()), "frozen": frozen, "items": items}

    return await run_in_threadpool(read)


async def quest_share(request: Request, ctx: Context) -> dict[str, Any]:
    quest_id = request.path_params["quest_id"]
    player_id = await _require_player(request, ctx)

    def read() -> dict[str, Any]:
        now = _now()
        with ctx.db.session() as s:
            quest = s.get(Quest, quest_id)
            if quest is None or quest.kind != "daily":
                raise not_found(f"daily quest {quest_id}")
            # The card names no clue and no explanation, so it is ready as soon as you played
            # (Wordle's loop); while the daily is open its rank is the rank so far.
            if quest.status != "closed":
                if not quests.played(s, quest, player_id):
                    raise ApiError(409, "not_played", "play today's puzzle first: the card is your result")
                rows = quests.standings(s, quest_id)
                live = next((r for r in rows if r[0] == player_id), None)
                result = (
                    QuestResult(quest_id=quest_id, player_id=player_id, score=live[1], rank=live[2])
                    if live
                    else None
                )
                players = len(rows)
            else:
                result = competition.quest_result_of(s, quest_id, player_id)
                players = len(competition.quest_results(s, quest_id))
            streak = compute_streak(
                competition.daily_periods(s),
                competition.solved_daily_periods(s, player_id),
                now.date().isoformat(),
            )
            points = int(result.score) if result else 0
            text = share_text(
                quest.period,
                points,
                quests.max_points(quest),
                streak,
                result.rank if result else None,
                players,
            )
            return {"text": text}

    return await run_in_threadpool(read)


# -- teams ----------------------------------------------------------------------------
async def _team_call(request: Request, ctx: Context, action: Callable[[Any, int], Team]) -> Any:
    player_id = await _require_player(request, ctx)

    def run() -> dict[str, Any]:
        with ctx.db.session() as s:
            try:
                team = action(s, player_id)
            except teams.TeamError as exc:
                status = 404 if exc.code in ("bad_code", "no_team") else 409
                raise ApiError(status, exc.code, exc.reason) from None
            shown = teams.show_team(s, team.id or 0, player_id).to_json()
        return {"team": {**shown, **team_standings(ctx.r_sync, [int(team.id or 0)])[int(team.id or 0)]}}

    return await run_in_threadpool(run)


async def team_create(request: Request, ctx: Context) -> dict[str, Any]:
    name = str((await _body(request)).get("name", ""))
    return await _team_call(
        request, ctx, lambda s, p: teams.create_team(s, ctx.r_sync, p, name, _now(), ctx.settings)
    )


async def team_join(request: Request, ctx: Context) -> dict[str, Any]:
    code = str((await _body(request)).get("code", ""))[:32]
    # Wrong invite codes count like wrong room codes, per player and address (server/api/attempts.py).
    limits = getattr(request.app.state, "attempts", None)
    who = []
    if limits is not None:
        address = request.client.host if request.client else "unknown"
        who = [(limits.code_player, str(await _require_player(request, ctx))), (limits.code_address, address)]
        wait = await wait_needed(*who)
        if wait:
            message = f"too many wrong codes; try again in {wait} s"
            raise ApiError(429, "rate_limited", message, {"Retry-After": str(wait)})
    try:
        return await _team_call(
            request, ctx, lambda s, p: teams.join_team(s, ctx.r_sync, p, code, _now(), ctx.settings)
        )
    except ApiError as exc:
        if exc.code == "bad_code":
            for limit, ident in who:
                await limit.failed(ident)
        raise


async def team_leave(request: Request, ctx: Context) -> dict[str, Any]:
    return await _team_call(
        request, ctx, lambda s, p: teams.leave_team(s, ctx.r_sync, p, _now(), ctx.settings)
    )


async def team_show(request: Request, ctx: Context) -> dict[str, Any]:
    team_id = request.path_params["team_id"]
    viewer = await current_player(request, ctx)

    def read() -> dict[str, Any]:
        with ctx.db.session() as s:
            try:
                shown = teams.show_team(s, team_id, viewer).to_json()
            except teams.TeamError:
                raise not_found(f"team {team_id}") from None
        return {"team": {**shown, **team_standings(ctx.r_sync, [team_id])[team_id]}}

    return await run_in_threadpool(read)


def make_routes(prefix: str = PREFIX) -> list[BaseRoute]:
    """Absolute paths (like server/api/reference.py), so they sit beside the other /api/v1 routes."""
    get, post = ["GET"], ["POST"]
    table: list[tuple[str, Any, list[str]]] = [
        ("/leaderboards", list_boards, get),
        ("/leaderboards/{board}", board_top, get),
        ("/leaderboards/{board}/around", board_around, get),
        ("/players/{player_id:int}/ranks", player_ranks, get),
        ("/players/{player_id:int}/profile", player_profile, get),
        ("/quests/daily", _current_quest("daily"), get),
        ("/quests/weekly", _current_quest("weekly"), get),
        ("/quests/{quest_id:int}/results", quest_results, get),
        ("/quests/{quest_id:int}/share", quest_share, get),
        ("/teams", team_create, post),
        ("/teams/join", team_join, post),
        ("/teams/leave", team_leave, post),
        ("/teams/{team_id:int}", team_show, get),
    ]
    return [Route(prefix + path, guarded(handler), methods=methods) for path, handler, methods in table]


routes: list[BaseRoute] = make_routes()
