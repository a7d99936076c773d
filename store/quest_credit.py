"""Quest credit where the score is written: the scoring worker credits the author and tells them.

Quest credit used to be given by a web process that saw the ``score`` event pass through a
room it had members in: an author who had closed the tab (and a room nobody was left in) got
nothing. The worker that stores a score now calls ``credit_and_tell`` right after, whether or
not the author is connected; store.competition.quests.credit_explanation's claims make it exactly once
however often a retried job calls it. The author's private ``quest`` event goes to their
player channel, which reaches every tab they have open anywhere.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
import redis
from sqlmodel import Session

from config import keys
from config.settings import Settings
from rooms.streaks import compute_streak
from store import competition
from store.competition import quests
from store.db import Database
from store.models import Quest


def progress(session: Session, quest: Quest, player_id: int, now: datetime) -> dict[str, Any]:
    """A player's standing in one quest: the ``quest`` event's body."""
    events = [e for e in competition.events_for_quest(session, quest.id or 0) if e.player_id == player_id]
    body: dict[str, Any] = {
        "type": "quest",
        "quest": {"id": quest.id, "kind": quest.kind, "period": quest.period, "title": quest.title},
        "room": f"{quest.kind}-{quest.period}",
        "points": sum(e.amount for e in events),
        "max_points": quests.max_points(quest),
        "neurons_done": len({e.neuron_id for e in events}),
        "neurons": len(quest.neuron_ids or []),
        "board": f"quest:{quest.id}",
    }
    if quest.kind == "daily":
        streak = compute_streak(
            competition.daily_periods(session),
            competition.solved_daily_periods(session, player_id),
            now.date().isoformat(),
        )
        body["streak"] = streak.to_json()
    return body


def credit_and_tell(
    db: Database, r: redis.Redis, settings: Settings, explanation_id: int, now: datetime
) -> list[quests.Credit]:
    """Credit the explanation's author in every open quest it counts for; tell them each credit."""
    with db.session() as s:
        credits = quests.credit_explanation(s, r, explanation_id, now, settings)
        for credit in credits:
            quest = s.get(Quest, credit.quest_id)
            if quest is None:
                continue
            body = {**progress(s, quest, credit.event.player_id, now), "credited": credit.event.amount}
            r.publish(keys.player_channel(credit.event.player_id), orjson.dumps(body))
    return credits
