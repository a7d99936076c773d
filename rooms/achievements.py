"""Achievements: every rule in this one table, each a predicate over a player's facts.

Pure rules: the facts are read from SQL and the earned badges stored by
store/competition/badges.py (``grant``), which calls ``newly_earned`` here. Because the facts
are derived from SQL only, a rule added later is granted retroactively on the player's next
grant.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime


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


def newly_earned(facts: Facts, have: set[str]) -> list[str]:
    """The codes of every rule the facts meet that the player does not hold yet, in table order."""
    return [rule.code for rule in RULES if rule.code not in have and rule.earned(facts)]


def shown(granted: list[tuple[str, datetime]]) -> list[dict[str, str]]:
    """(code, granted at) pairs as a profile shows them, in the order given."""
    out = []
    for code, granted_at in granted:
        rule = RULES_BY_CODE.get(code)
        title, description = (rule.title, rule.description) if rule else (code, "")
        out.append(
            {"code": code, "title": title, "description": description, "granted_at": granted_at.isoformat()}
        )
    return out
