"""Where awarded points go: SQL first (the truth), then every leaderboard, then badges.

The rules that decide who earns what live in rooms/points.py and rooms/quest_rules.py; this
module only records the outcome. If Redis fails after the SQL commit, the boards are
behind until the next rebuild (on start, or `neuronquest leaderboard rebuild`); no point
is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

import redis
from sqlmodel import Session

from config.settings import Settings
from store import competition
from store.competition import badges
from store.competition.country_move import follow_country_changes
from store.competition.leaderboards import apply_point_event
from store.explanations import add_points
from store.models import PointEvent

log = logging.getLogger("neuronquest.awarding")


def record_awards(
    session: Session,
    r: redis.Redis,
    settings: Settings,
    awards: Sequence[tuple[int, int, str, int | None]],
    neuron_id: int,
    room_id: str,
    now: datetime | None = None,
) -> list[PointEvent]:
    """Store (player, amount, reason, explanation) awards, count them on boards, grant badges."""
    now = now or datetime.now(UTC)
    events = add_points(session, awards, neuron_id, room_id)
    count_stored_points(session, r, settings, events, now)
    return events


def count_stored_points(
    session: Session, r: redis.Redis, settings: Settings, events: Sequence[PointEvent], now: datetime
) -> None:
    """After the PointEvent rows are stored: every leaderboard, then the authors' badges."""
    players = competition.players_by_id(session, {e.player_id for e in events})
    try:
        for event in events:
            member = competition.membership_of(session, event.player_id)
            team_id = member.team_id if member else None
            apply_point_event(r, event, players[event.player_id], team_id, now, settings)
        follow_country_changes(session, r, {p: players[p].country for p in players}, now, settings)
    except redis.RedisError:
        log.exception("leaderboards not updated; they will be rebuilt from SQL")
    for player_id in players:
        badges.grant(session, player_id, now)
