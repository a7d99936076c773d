"""Side-quest rules: which neurons a quest holds, what an explanation earns, who stands where.

One daily puzzle and one weekly quest (a themed set of neurons) per UTC period, the same for
everyone: a hash of the period picks them from the ready campaigns' neurons, so whichever
process asks first chooses the same ones. Pure functions, time passed in; the I/O half (opening,
closing, crediting) is store/competition/quests.py.

Points: an explanation written for a quest neuron during the quest earns
``10 + round(90 * score)`` (score clamped to 0..1): 10 for taking part, up to 100. The daily
counts the player's first explanation only (one attempt a day); in the weekly only the player's
best per neuron counts: a better attempt earns the difference.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from rooms.boards import epoch_ms
from rooms.boards import period_id as board_period

QUEST_KINDS = ("daily", "weekly")
# A quest's room id: ``daily-2026-11-21`` or ``weekly-2026-W47``.
QUEST_ROOM_RE = re.compile(r"^(daily|weekly)-([0-9]{4}-(?:[0-9]{2}-[0-9]{2}|W[0-9]{2}))$")
BASE_POINTS = 10
SCORE_POINTS = 90


@dataclass(frozen=True)
class PoolNeuron:
    """A neuron a quest may hold: one of a ready campaign's, in (campaign id, index) order."""

    neuron_id: int
    index: int
    campaign_id: int
    campaign_name: str
    # What players call the campaign's units: "neuron", or "feature" for an SAE's latents.
    word: str = "neuron"


def quest_period(kind: str, now: datetime) -> str:
    """``2026-11-21`` for a daily, ``2026-W47`` for a weekly (Quest.period's format)."""
    if kind not in QUEST_KINDS:
        raise ValueError(f"no quest kind {kind!r}")
    return board_period(kind, now).split(":", 1)[1]


def quest_points(score: float) -> int:
    return BASE_POINTS + round(SCORE_POINTS * min(1.0, max(0.0, score)))


def max_points(neuron_ids: Sequence[int] | None) -> int:
    return (BASE_POINTS + SCORE_POINTS) * len(neuron_ids or [])


def seconds_left(closes_at: datetime, now: datetime) -> int:
    return max(0, (epoch_ms(closes_at) - epoch_ms(now)) // 1000)


def _pick(seed: str, n: int) -> int:
    return int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big") % n


def choose_neurons(
    pool: Sequence[PoolNeuron], kind: str, period: str, weekly_size: int
) -> tuple[str, list[int]] | None:
    """(title, neuron ids) for a quest; None when no campaign is ready yet."""
    if not pool:
        return None
    if kind == "daily":
        one = pool[_pick(f"daily:{period}", len(pool))]
        # Players' words, as a room names its puzzle ("Neuron 4"): no campaign id in a title.
        return f"Daily {one.word} #{one.index}", [one.neuron_id]
    # Weekly theme: a run of neighbouring neurons of one campaign (one model, one layer).
    campaigns = sorted({n.campaign_id for n in pool})
    chosen = campaigns[_pick(f"weekly-campaign:{period}", len(campaigns))]
    block = [n for n in pool if n.campaign_id == chosen]
    size = min(weekly_size, len(block))
    start = _pick(f"weekly:{period}", len(block) - size + 1)
    picked = block[start : start + size]
    first, last = picked[0].index, picked[-1].index
    words = f"{picked[0].word}s"
    return f"This week's {words} {first}–{last}", [n.neuron_id for n in picked]


def standings(credits: Iterable[tuple[int, int, str]]) -> list[tuple[int, int, int]]:
    """(player id, points, competition rank), best first, from (player, amount, tie-break) credits.

    Ordered exactly like the quest board: more points first, then the earlier tie-break (the
    time the player reached the total), then the player id.
    """
    totals: dict[int, list] = {}
    for player_id, amount, tiebreak in credits:
        cell = totals.setdefault(player_id, [0, ""])
        cell[0] += amount
        cell[1] = max(cell[1], tiebreak)
    ordered = sorted(totals.items(), key=lambda kv: (-kv[1][0], kv[1][1], kv[0]))
    out: list[tuple[int, int, int]] = []
    for i, (player_id, (points, _)) in enumerate(ordered):
        rank = out[-1][2] if out and out[-1][1] == points else i + 1
        out.append((player_id, points, rank))
    return out
