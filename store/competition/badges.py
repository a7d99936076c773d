"""Badges in SQL: read a player's facts, store the achievements they newly earned, list them.

The rules are the table in rooms/achievements.py. ``grant(session, player_id, now)`` evaluates
all of them and stores the newly earned ones (Achievement's (player, code) unique constraint
makes granting idempotent). Call it after anything that can change the facts: points awarded,
a quest closed, a match stored.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from rooms.achievements import Facts, newly_earned
from rooms.achievements import shown as shown_rows
from rooms.boards import as_utc
from rooms.streaks import compute_streak
from store import competition
from store.models import Achievement


def facts_for(session: Session, player_id: int, now: datetime) -> Facts:
    solved = competition.solved_daily_periods(session, player_id)
    streak = compute_streak(competition.daily_periods(session), solved, as_utc(now).date().isoformat())
    member = competition.membership_of(session, player_id)
    wins = competition.team_wins(session, member.team_id, member.joined_at) if member else 0
    return Facts(
        explanations=competition.explanation_count(session, player_id),
        points=competition.total_points(session, player_id),
        top_explanation=competition.has_point_reason(session, player_id, "beat_best"),
        dailies_solved=len(solved),
        best_streak=streak.best,
        team_wins=wins,
    )


def grant(session: Session, player_id: int, now: datetime) -> list[str]:
    """Store every achievement the player has newly earned; returns their codes."""
    have = {a.code for a in competition.achievements_of(session, player_id)}
    facts = facts_for(session, player_id, now)
    new = newly_earned(facts, have)
    for code in new:
        session.add(Achievement(player_id=player_id, code=code, granted_at=now))
    if new and not competition.try_commit(session):
        # Another process granted some of them at the same moment: store one at a time.
        for code in new:
            session.add(Achievement(player_id=player_id, code=code, granted_at=now))
            competition.try_commit(session)
    return new


def shown(session: Session, player_id: int) -> list[dict[str, str]]:
    """The player's achievements as a profile shows them, oldest first."""
    return shown_rows([(a.code, a.granted_at) for a in competition.achievements_of(session, player_id)])
