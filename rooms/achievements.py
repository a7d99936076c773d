"""Achievements: every rule in this one table, each a predicate over facts read from SQL.

``grant(session, player_id, now)`` evaluates all rules and stores the newly earned ones
(Achievement's (player, code) unique constraint makes granting idempotent). Call it after
anything that can change the facts: points awarded, a quest closed, a match stored. The
facts are derived from SQL only, so a rule added later is granted retroactively on the
player's next grant.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from rooms.boards import as_utc
from rooms.streaks import compute_streak
from store import competition
from store.models import Achievement


@dataclass(frozen=True)
class Facts:
    explanations: int
    points: int
    top_explanation: bool  # some explanation of theirs beat the neuron's best (a beat_best award)
    dailies_solved: int
    best_streak: int
    team_wins: int


@dataclass(frozen=True)
class Rule:
    code: str
    title: str
    description: str
    earned: Callable[[Facts], bool]


RULES: tuple[Rule, ...] = (
    Rule("first_explanation", "First words", "Wrote a first explanation.", lambda f: f.explanations >= 1),
    Rule(
        "first_top",
        "Top of the neuron",
        "Wrote the best-scoring explanation of a neuron.",
        lambda f: f.top_explanation,
    ),
    Rule("first_daily", "Daily habit", "Solved a daily puzzle.", lambda f: f.dailies_solved >= 1),
    Rule(
        "streak_7", "Week on fire", "Solved the daily puzzle 7 days in a row.", lambda f: f.best_streak >= 7
    ),
    Rule(
        "streak_30",
        "Month on fire",
        "Solved the daily puzzle 30 days in a row.",
        lambda f: f.best_streak >= 30,
    ),
    Rule("points_1000", "Thousand", "Earned 1,000 points.", lambda f: f.points >= 1_000),
    Rule("team_win", "Team player", "Won a team match with your team.", lambda f: f.team_wins >= 1),
)
RULES_BY_CODE = {rule.code: rule for rule in RULES}


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
    new = [rule.code for rule in RULES if rule.code not in have and rule.earned(facts)]
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
    out = []
    for a in competition.achievements_of(session, player_id):
        rule = RULES_BY_CODE.get(a.code)
        title, description = (rule.title, rule.description) if rule else (a.code, "")
        out.append(
            {
                "code": a.code,
                "title": title,
                "description": description,
                "granted_at": a.granted_at.isoformat(),
            }
        )
    return out
