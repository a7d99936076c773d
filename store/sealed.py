"""Units whose explanations are withheld while a quest plays them (the daily and the weekly).

A quest pays every player ``10 + 90 * score`` for an explanation of its units (rooms/quest_rules.py):
an absolute score, not a race against the unit's best. So anything that shows a quest unit's
scored explanations while the quest is open — the unit's page, the API, search, the older
explanations a puzzle shows — hands out its answer: read the best one, say it in other words,
take its points. Until the quest closes, those views leave the unit's explanations out and say
when they come back; afterwards everything is shown again (the quest's own results included).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select

from store.models import Explanation, Quest


def sealed_units(session: Session, now: datetime | None = None) -> dict[int, datetime]:
    """Unit (neuron row) id -> when its explanations are shown again, for every open quest."""
    at = now or datetime.now(UTC)
    query = select(Quest).where(Quest.status == "open", col(Quest.opens_at) <= at, col(Quest.closes_at) > at)
    until: dict[int, datetime] = {}
    for quest in session.exec(query):
        closes = quest.closes_at if quest.closes_at.tzinfo else quest.closes_at.replace(tzinfo=UTC)
        for neuron_id in quest.neuron_ids or []:
            until[int(neuron_id)] = max(until.get(int(neuron_id), closes), closes)
    return until


def without_sealed(query: Any, sealed: dict[int, datetime]) -> Any:
    """``query`` (over Explanation) less the explanations of sealed units."""
    return query.where(col(Explanation.neuron_id).not_in(list(sealed))) if sealed else query


def seal_note(neuron_id: int, sealed: dict[int, datetime]) -> dict[str, str] | None:
    """What a unit's page says in place of its explanations, or None when they are shown."""
    until = sealed.get(neuron_id)
    if until is None:
        return None
    return {
        "until": until.isoformat().replace("+00:00", "Z"),
        "reason": "a quest is playing it: its explanations are shown when the quest closes",
    }
