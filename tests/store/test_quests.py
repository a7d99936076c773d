"""Side quests and streaks: deterministic choice, rollover at UTC midnight, freezing, streak rules."""

from __future__ import annotations

from datetime import timedelta

import redis

from config.settings import Settings
from rooms.streaks import Streak, compute_streak, share_text
from server.cli.scheduler import SchedulerContext
from store import competition
from store.competition import leaderboards as lb
from store.competition.quests import credit_explanation, ensure_quest, quest_rollover, standings
from store.db import Database
from store.models import Campaign, Explanation, Neuron, Quest, Score
from tests.support.competition_helpers import T0, make_players


def _campaign(db: Database, n: int = 20, status: str = "ready") -> list[int]:
    with db.session() as s:
        campaign = Campaign(name=f"c-{status}", model="m", layer=3, status=status)
        s.add(campaign)
        s.commit()
        neurons = [Neuron(campaign_id=campaign.id or 0, index=i) for i in range(n)]
        s.add_all(neurons)
        s.commit()
        return [x.id or 0 for x in neurons]


def _explain(db: Database, player_id: int, neuron_id: int, score: float, at) -> int:
    with db.session() as s:
        e = Explanation(neuron_id=neuron_id, player_id=player_id, text="fires on dates", created_at=at)
        s.add(e)
        s.commit()
        s.add(Score(explanation_id=e.id or 0, simulator="embedding", version="1", score=score))
        s.commit()
        return e.id or 0


def test_quests_are_deterministic_and_need_ready_neurons(db: Database, settings: Settings) -> None:
    _campaign(db, status="building")
    with db.session() as s:
        assert ensure_quest(s, "daily", T0, settings) is None
    ready = _campaign(db)
    with db.session() as s:
        daily = ensure_quest(s, "daily", T0, settings)
        weekly = ensure_quest(s, "weekly", T0, settings)
        assert daily is not None and weekly is not None
        assert daily.period == T0.date().isoformat() and len(daily.neuron_ids) == 1
        assert set(daily.neuron_ids) <= set(ready)
        assert len(weekly.neuron_ids) == settings.weekly_quest_neurons
        ids = weekly.neuron_ids
        assert ids == list(range(ids[0], ids[0] + len(ids)))  # a run of neighbouring neurons
        # Asking again (any process) gives the same quest; a later day gets its own.
        assert ensure_quest(s, "daily", T0 + timedelta(hours=11), settings).id == daily.id  # type: ignore[union-attr]
        assert ensure_quest(s, "daily", T0 + timedelta(days=1), settings).id != daily.id  # type: ignore[union-attr]


def test_rollover_at_midnight_freezes_results(
    db: Database, redis_client: redis.Redis, settings: Settings
) -> None:
    _campaign(db)
    a, b, c = make_players(db, 3)
    ctx = SchedulerContext(settings=settings, db=db, redis=redis_client)
    quest_rollover(ctx, T0)
    with db.session() as s:
        daily = competition.quest_for(s, "daily", T0.date().isoformat())
        assert daily is not None and daily.status == "open"
        neuron = daily.neuron_ids[0]
    for player, score, minutes in ((a, 0.5, 1), (b, 0.9, 2), (c, 0.5, 3), (a, 0.2, 4), (a, 0.9, 5)):
        at = T0 + timedelta(minutes=minutes)
        eid = _explain(db, player.id or 0, neuron, score, at)
        with db.session() as s:
            credit_explanation(s, redis_client, eid, at, settings)
    with db.session() as s:  # the daily counts a first attempt only: a's 0.2 and 0.9 earn nothing
        assert standings(s, daily.id or 0) == [(b.id, 91, 1), (a.id, 55, 2), (c.id, 55, 2)]
    page = lb.top(redis_client, f"quest:{daily.id}", "all", 10)
    assert [(e.id, e.score, e.rank) for e in page.entries] == [(b.id, 91, 1), (a.id, 55, 2), (c.id, 55, 2)]

    midnight = T0.replace(hour=0) + timedelta(days=1)
    quest_rollover(ctx, midnight - timedelta(milliseconds=1))
    with db.session() as s:
        assert competition.quest_for(s, "daily", T0.date().isoformat()).status == "open"  # type: ignore[union-attr]
    quest_rollover(ctx, midnight)
    with db.session() as s:
        closed = competition.quest_for(s, "daily", T0.date().isoformat())
        assert closed is not None and closed.status == "closed"
        frozen = competition.quest_results(s, closed.id or 0)
        assert [(r.player_id, r.score, r.rank) for r in frozen] == [
            (b.id, 91.0, 1),
            (a.id, 55.0, 2),
            (c.id, 55.0, 2),
        ]
        assert competition.quest_for(s, "daily", midnight.date().isoformat()) is not None
        # An explanation scored after the close earns nothing for the closed quest.
        eid = _explain(db, c.id or 0, neuron, 1.0, midnight + timedelta(minutes=1))
        assert credit_explanation(s, redis_client, eid, midnight + timedelta(minutes=2), settings) == []
        assert {a.code for a in competition.achievements_of(s, a.id or 0)} >= {
            "first_daily",
            "first_explanation",
        }


def test_streak_rules() -> None:
    days = ["2026-11-01", "2026-11-02", "2026-11-03", "2026-11-05", "2026-11-06"]  # no quest on the 4th
    # Solving every daily that existed: the day without a daily (scheduler down) breaks nothing.
    assert compute_streak(days, set(days), "2026-11-06") == Streak(5, 5)
    # Missing a daily that existed breaks it.
    assert compute_streak(
        days, {"2026-11-01", "2026-11-02", "2026-11-05", "2026-11-06"}, "2026-11-06"
    ) == Streak(2, 2)
    # Today's daily still open and unsolved: the streak stands until midnight...
    assert compute_streak([*days, "2026-11-07"], set(days), "2026-11-07") == Streak(5, 5)
    # ...and the next day it is broken.
    assert compute_streak([*days, "2026-11-07", "2026-11-08"], set(days), "2026-11-08") == Streak(0, 5)
    assert compute_streak([], set(), "2026-11-08") == Streak(0, 0)


def test_share_text_is_spoiler_free() -> None:
    text = share_text("2026-11-21", 73, 100, Streak(4, 9), 3, 120)
    assert text.splitlines()[1] == "🟩🟩🟩🟩⬜ 73/100"
    assert "#3 of 120" in text and "4 day streak (best 9)" in text
    assert share_text("2026-11-21", 0, 100, Streak(0, 0), None, 0).splitlines()[1].startswith("⬜⬜⬜⬜⬜")
    with_quest = Quest(
        kind="daily", period="2026-11-21", title="Daily neuron c #4", opens_at=T0, closes_at=T0
    )
    assert with_quest.title not in text and "#4" not in text
