"""Rebuild every leaderboard from SQL (the source of truth) with the live path's exact ranks.

The rebuild folds the stored PointEvents with the same placements (rooms.boards) and the same
order-independent operators as the live Lua script, so live == rebuild entry for entry. Team
boards count a member's events since they joined their current team (TeamMember.joined_at),
which is what the live path sees too; countries and regions are the players' current ones.

A rebuild while points are being awarded may miss an event that lands mid-rebuild; run
``neuronquest leaderboard rebuild`` again (or rely on ensure_boards at the next start).

``ensure_boards`` runs at web start and whenever a web process notices that Redis lost its
data (server/live/redis_watch.py); a lock makes it single-flight across processes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import redis
from sqlmodel import Session

from config import keys
from config.settings import Settings, get_settings
from rooms.boards import BoardSpec, as_utc, boards_for_event, epoch_ms
from store import competition
from store.competition.leaderboards import member_field, stored_value, tiebreak
from store.db import Database

log = logging.getLogger("neuronquest.leaderboards")
_CHUNK = 10_000


@dataclass
class _Cell:
    value: int  # stored value (negated on desc boards)
    tb: str


@dataclass
class _Board:
    spec: BoardSpec
    expire_at: int | None
    cells: dict[int, _Cell]


def _fold(cell: _Cell | None, operator: str, value: int, tb: str) -> _Cell:
    """The Lua script's rule, in Python (kept side by side on purpose: see leaderboards._APPLY)."""
    if cell is None:
        return _Cell(value, tb)
    if operator == "incr":
        return _Cell(cell.value + value, max(cell.tb, tb))
    if operator == "best":
        better = value < cell.value or (value == cell.value and tb < cell.tb)
        return _Cell(value, tb) if better else cell
    return _Cell(value, tb) if tb > cell.tb else cell


def compute_boards(
    session: Session, now: datetime, settings: Settings, player_ids: list[int] | None = None
) -> dict[tuple[str, str], _Board]:
    players = competition.players_by_id(session, player_ids)
    members = competition.memberships(session)
    now_s = epoch_ms(now) // 1000
    boards: dict[tuple[str, str], _Board] = {}
    for event in competition.iter_point_events(session, player_ids):
        player = players.get(event.player_id)
        if player is None:
            continue
        member = members.get(event.player_id)
        joined = member is not None and as_utc(member.joined_at) <= as_utc(event.created_at)
        team_id = member.team_id if member is not None and joined else None
        tb = tiebreak(event)
        places = boards_for_event(
            event,
            player,
            team_id,
            grace_s=settings.leaderboard_grace_s,
            room_ttl_s=settings.leaderboard_room_ttl_s,
        )
        for p in places:
            if p.expire_at is not None and p.expire_at <= now_s:
                continue
            board = boards.setdefault((p.board, p.period), _Board(p.spec, p.expire_at, {}))
            if p.expire_at is not None:
                board.expire_at = max(board.expire_at or 0, p.expire_at)
            value = stored_value(p.spec.order, event.amount)
            board.cells[p.member] = _fold(board.cells.get(p.member), p.spec.operator, value, tb)
    return boards


def _write(r: redis.Redis, board: str, period: str, data: _Board) -> None:
    zkey, hkey = keys.leaderboard(board, period), keys.leaderboard_members(board, period)
    pipe = r.pipeline(transaction=True)
    pipe.delete(zkey, hkey)
    items = list(data.cells.items())
    for i in range(0, len(items), _CHUNK):
        chunk = items[i : i + _CHUNK]
        entries = {cell.tb + member_field(m): cell.value for m, cell in chunk}
        pipe.zadd(zkey, entries)  # type: ignore[arg-type]
        pipe.hset(hkey, mapping={member_field(m): cell.tb + member_field(m) for m, cell in chunk})
    if data.expire_at is not None:
        pipe.expireat(zkey, data.expire_at)
        pipe.expireat(hkey, data.expire_at)
    pipe.execute()


def _board_keys(r: redis.Redis) -> set[str]:
    found = {k.decode() for k in r.scan_iter(match=keys.leaderboard_pattern(), count=1_000)}
    return found - {keys.leaderboards_built()}


def rebuild_all(r: redis.Redis, session: Session, now: datetime, settings: Settings | None = None) -> int:
    """Replace every board with its state computed from SQL; returns how many boards exist."""
    cfg = settings or get_settings()
    boards = compute_boards(session, now, cfg)
    wanted: set[str] = set()
    for (board, period), data in boards.items():
        _write(r, board, period, data)
        wanted |= {keys.leaderboard(board, period), keys.leaderboard_members(board, period)}
    stale = _board_keys(r) - wanted
    if stale:
        r.delete(*stale)
    r.set(keys.leaderboards_built(), now.isoformat())
    log.info("rebuilt %d leaderboards from SQL", len(boards))
    return len(boards)


def rebuild_team(
    r: redis.Redis, session: Session, team_id: int, now: datetime, settings: Settings | None = None
) -> None:
    """Recompute one team's member board and its entry on the teams boards (after someone left)."""
    cfg = settings or get_settings()
    member_ids = list(competition.memberships(session, team_id))
    boards = compute_boards(session, now, cfg, member_ids) if member_ids else {}
    zkey, hkey = (
        keys.leaderboard(f"team:{team_id}", "all"),
        keys.leaderboard_members(f"team:{team_id}", "all"),
    )
    r.delete(zkey, hkey)
    for (board, period), data in boards.items():
        if board == f"team:{team_id}":
            _write(r, board, period, data)
    for period in {p for b, p in boards if b == "teams"} | _team_periods(r):
        zkey, hkey = keys.leaderboard("teams", period), keys.leaderboard_members("teams", period)
        old = r.hget(hkey, member_field(team_id))
        pipe = r.pipeline(transaction=True)
        if old:
            pipe.zrem(zkey, old)
            pipe.hdel(hkey, member_field(team_id))
        cell = boards.get(("teams", period))
        if cell is not None and team_id in cell.cells:
            c = cell.cells[team_id]
            pipe.zadd(zkey, {c.tb + member_field(team_id): c.value})
            pipe.hset(hkey, member_field(team_id), c.tb + member_field(team_id))
            if cell.expire_at is not None:
                pipe.expireat(zkey, cell.expire_at)
                pipe.expireat(hkey, cell.expire_at)
        pipe.execute()


def _team_periods(r: redis.Redis) -> set[str]:
    prefix = keys.leaderboard("teams", "")
    found = {k.decode() for k in r.scan_iter(match=prefix + "*", count=1_000)}
    return {k[len(prefix) :] for k in found if not k.endswith(":members")}


# Longer than a rebuild takes: a process that dies mid-rebuild holds the others off this long.
REBUILD_LOCK_S = 300


def ensure_boards(r: redis.Redis, db: Database, now: datetime, settings: Settings | None = None) -> bool:
    """If Redis lost the boards (wiped, new instance), rebuild them. True if this call did.

    One process rebuilds; the others wait for its lock and then find the marker."""
    if r.exists(keys.leaderboards_built()):
        return False
    with r.lock(keys.leaderboards_rebuild_lock(), timeout=REBUILD_LOCK_S, blocking_timeout=REBUILD_LOCK_S):
        if r.exists(keys.leaderboards_built()):
            return False  # another process rebuilt them while this one waited
        with db.session() as session:
            rebuild_all(r, session, now, settings or db.settings)
    return True
