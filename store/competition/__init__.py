"""SQL access for competition: point events for rebuilds, teams, quests, matches, achievements.

Data access only; the rules live in rooms/ (leaderboards, quests, streaks, teams, team_match,
achievements).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from store.models import (
    Achievement,
    Campaign,
    Explanation,
    Match,
    MatchResult,
    Neuron,
    Player,
    PointEvent,
    Quest,
    QuestResult,
    Score,
    Team,
    TeamMember,
)


# -- point events and who is where --------------------------------------------------------
def iter_point_events(session: Session, player_ids: Iterable[int] | None = None) -> Iterator[PointEvent]:
    query = select(PointEvent).order_by(col(PointEvent.id))
    if player_ids is not None:
        query = query.where(col(PointEvent.player_id).in_(list(player_ids)))
    yield from session.exec(query.execution_options(yield_per=5_000))


def players_by_id(session: Session, ids: Iterable[int] | None = None) -> dict[int, Player]:
    query = select(Player)
    if ids is not None:
        query = query.where(col(Player.id).in_(list(ids)))
    return {p.id: p for p in session.exec(query) if p.id is not None}


def memberships(session: Session, team_id: int | None = None) -> dict[int, TeamMember]:
    """Current team membership by player id (a player is in at most one team)."""
    query = select(TeamMember)
    if team_id is not None:
        query = query.where(TeamMember.team_id == team_id)
    return {m.player_id: m for m in session.exec(query)}


def events_for_quest(session: Session, quest_id: int) -> list[PointEvent]:
    query = select(PointEvent).where(PointEvent.quest_id == quest_id).order_by(col(PointEvent.id))
    return list(session.exec(query))


def total_points(session: Session, player_id: int) -> int:
    query = select(func.coalesce(func.sum(PointEvent.amount), 0)).where(PointEvent.player_id == player_id)
    return int(session.exec(query).one())


def has_point_reason(session: Session, player_id: int, reason: str) -> bool:
    query = select(PointEvent.id).where(PointEvent.player_id == player_id, PointEvent.reason == reason)
    return session.exec(query.limit(1)).first() is not None


def explanation_count(session: Session, player_id: int) -> int:
    query = select(func.count()).select_from(Explanation).where(Explanation.player_id == player_id)
    return int(session.exec(query).one())


# -- teams --------------------------------------------------------------------------------
def team_by_code(session: Session, code: str) -> Team | None:
    return session.exec(select(Team).where(Team.invite_code == code)).first()


def team_by_name(session: Session, name: str) -> Team | None:
    return session.exec(select(Team).where(func.lower(Team.name) == name.lower())).first()


def team_members(session: Session, team_id: int) -> list[TeamMember]:
    query = select(TeamMember).where(TeamMember.team_id == team_id)
    return list(session.exec(query.order_by(col(TeamMember.joined_at), col(TeamMember.id))))


def membership_of(session: Session, player_id: int) -> TeamMember | None:
    return session.exec(select(TeamMember).where(TeamMember.player_id == player_id)).first()


def try_commit(session: Session) -> bool:
    """Commit; False (and rolled back) when a unique constraint refused it."""
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return False
    return True


# -- quests -------------------------------------------------------------------------------
def ready_neurons(session: Session) -> list[tuple[Neuron, Campaign]]:
    """Neurons of ready campaigns, in a stable order (campaign id, neuron index)."""
    query = (
        select(Neuron, Campaign)
        .join(Campaign, col(Campaign.id) == Neuron.campaign_id)
        .where(Campaign.status == "ready")
        .order_by(col(Campaign.id), col(Neuron.index))
    )
    return [(n, c) for n, c in session.exec(query)]


def quest_for(session: Session, kind: str, period: str) -> Quest | None:
    return session.exec(select(Quest).where(Quest.kind == kind, Quest.period == period)).first()


def quests_to_close(session: Session, now: datetime) -> list[Quest]:
    query = select(Quest).where(Quest.status == "open", col(Quest.closes_at) <= now)
    return list(session.exec(query.order_by(col(Quest.closes_at))))


def open_quests_with_neuron(session: Session, neuron_id: int, at: datetime) -> list[Quest]:
    query = select(Quest).where(Quest.status == "open", col(Quest.opens_at) <= at, col(Quest.closes_at) > at)
    return [q for q in session.exec(query) if neuron_id in (q.neuron_ids or [])]


def daily_periods(session: Session) -> list[str]:
    """Every day that had a daily quest, oldest first (days without one break no streak)."""
    query = select(Quest.period).where(Quest.kind == "daily").order_by(col(Quest.period))
    return list(session.exec(query))


def solved_daily_periods(session: Session, player_id: int) -> set[str]:
    query = (
        select(Quest.period)
        .join(PointEvent, col(PointEvent.quest_id) == Quest.id)
        .where(Quest.kind == "daily", PointEvent.player_id == player_id)
        .distinct()
    )
    return set(session.exec(query))


def quest_credit(session: Session, quest_id: int, player_id: int, neuron_id: int) -> int:
    query = select(func.coalesce(func.sum(PointEvent.amount), 0)).where(
        PointEvent.quest_id == quest_id, PointEvent.player_id == player_id, PointEvent.neuron_id == neuron_id
    )
    return int(session.exec(query).one())


def quest_results(session: Session, quest_id: int, limit: int | None = None) -> list[QuestResult]:
    query = select(QuestResult).where(QuestResult.quest_id == quest_id)
    query = query.order_by(col(QuestResult.rank), col(QuestResult.id))
    return list(session.exec(query.limit(limit) if limit else query))


def quest_result_of(session: Session, quest_id: int, player_id: int) -> QuestResult | None:
    query = select(QuestResult).where(QuestResult.quest_id == quest_id, QuestResult.player_id == player_id)
    return session.exec(query).first()


# -- matches and achievements -------------------------------------------------------------
def team_wins(session: Session, team_id: int, since: datetime) -> int:
    """Matches the team won (rank 1) that ended after ``since`` (when a member joined)."""
    query = (
        select(func.count())
        .select_from(MatchResult)
        .join(Match, col(Match.id) == MatchResult.match_id)
        .where(MatchResult.team_id == team_id, MatchResult.rank == 1, col(Match.ended_at) >= since)
    )
    return int(session.exec(query).one())


def achievements_of(session: Session, player_id: int) -> list[Achievement]:
    query = select(Achievement).where(Achievement.player_id == player_id)
    return list(session.exec(query.order_by(col(Achievement.granted_at), col(Achievement.id))))


def latest_score(session: Session, explanation_id: int) -> float | None:
    """The newest simulator verdict on an explanation (older versions are kept beside it)."""
    query = select(Score.score).where(Score.explanation_id == explanation_id).order_by(col(Score.id).desc())
    return session.exec(query.limit(1)).first()


def teams_with_sizes(session: Session, name_contains: str = "", limit: int = 50) -> list[tuple[Team, int]]:
    """Teams with their member counts (for choosing an opponent), by name; ``name_contains``
    filters case-insensitively."""
    size = func.count(col(TeamMember.id))
    query = select(Team, size).join(TeamMember, col(TeamMember.team_id) == col(Team.id), isouter=True)
    if name_contains:
        query = query.where(func.lower(col(Team.name)).contains(name_contains.lower()))
    query = query.group_by(col(Team.id)).order_by(col(Team.name)).limit(limit)
    return [(team, int(n)) for team, n in session.exec(query)]
