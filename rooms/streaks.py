"""Daily streaks and the spoiler-free share text, as pure functions.

A streak counts consecutive daily quests a player solved. It is computed from the days a daily
quest existed and the days the player solved it, never from scheduler runs: a day with no daily
quest at all (the scheduler was down and nobody asked for one) breaks nobody's streak, while a
daily that existed and was not solved does. Today's daily, while still open and unsolved, does
not break the streak yet: the player still has until UTC midnight.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Streak:
    current: int
    best: int

    def to_json(self) -> dict[str, int]:
        return {"current": self.current, "best": self.best}


def compute_streak(quest_days: list[str], solved: set[str], today: str) -> Streak:
    """``quest_days``: ISO dates that had a daily quest (any order); ``solved``: the player's."""
    days = sorted(d for d in set(quest_days) | solved if d <= today)
    best = run = 0
    for day in days:
        run = run + 1 if day in solved else 0
        best = max(best, run)
    current = 0
    for day in reversed(days):
        if day in solved:
            current += 1
        elif day == today:
            continue  # still open: not missed yet
        else:
            break
    return Streak(current, best)


SQUARES = ("⬛", "🟥", "🟧", "🟨", "🟩")


def share_text(
    period: str, points: int, max_points: int, streak: Streak, rank: int | None, players: int
) -> str:
    """A Wordle-like card for a finished daily: score as five squares, rank and streak, no clue.

    Nothing in it says what the neuron does, so posting it spoils nothing.
    """
    filled = 0 if max_points <= 0 else round(5 * max(0, min(points, max_points)) / max_points)
    colour = SQUARES[min(4, max(1, filled))] if filled else SQUARES[0]
    grid = colour * filled + "⬜" * (5 - filled)
    lines = [f"NeuronQuest daily {period} 🧠", f"{grid} {points}/{max_points}"]
    if rank is not None:
        lines.append(f"🏅 #{rank} of {players}")
    lines.append(f"🔥 {streak.current} day streak (best {streak.best})")
    return "\n".join(lines)
