"""Achievements are granted by the rules table, once, from facts in SQL."""

from __future__ import annotations

from datetime import timedelta

import redis

from config.settings import Settings
from store.competition import badges
from store.db import Database
from store.models import Explanation, PointEvent, Quest
from tests.support.competition_helpers import T0, award, make_neuron, make_players


def test_rules_grant_once_and_show_on_profile(
    db: Database, redis_client: redis.Redis, settings: Settings
) -> None:
    (a,) = make_players(db, 1)
    neuron_id = make_neuron(db)
    with db.session() as s:
        assert badges.grant(s, a.id or 0, T0) == []
        s.add(Explanation(neuron_id=neuron_id, player_id=a.id, text="commas"))
        s.commit()
        assert badges.grant(s, a.id or 0, T0) == ["first_explanation"]
    award(db, redis_client, settings, a, 50, T0, reason="beat_best")
    with db.session() as s:
        assert badges.grant(s, a.id or 0, T0) == ["first_top"]
        assert badges.grant(s, a.id or 0, T0) == []  # idempotent
        shown = badges.shown(s, a.id or 0)
        assert [x["code"] for x in shown] == ["first_explanation", "first_top"]
        assert shown[0]["title"] == "First words"


def test_seven_day_streak(db: Database, settings: Settings) -> None:
    (a,) = make_players(db, 1)
    with db.session() as s:
        for day in range(7):
            at = T0 + timedelta(days=day)
            quest = Quest(
                kind="daily", period=at.date().isoformat(), opens_at=at, closes_at=at + timedelta(days=1)
            )
            s.add(quest)
            s.commit()
            s.add(
                PointEvent(player_id=a.id or 0, amount=10, reason="quest", quest_id=quest.id, created_at=at)
            )
            s.commit()
            granted = badges.grant(s, a.id or 0, at)
            assert ("streak_7" in granted) == (day == 6)
        assert {"first_daily", "streak_7"} <= {x["code"] for x in badges.shown(s, a.id or 0)}
