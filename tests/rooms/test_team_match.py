"""A whole team match on an injected clock, then its stored result and the team_win achievement."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis
from sqlmodel import select

from config.settings import Settings
from rooms.team_match import MatchError, Phase, TeamMatch
from store import competition
from store.competition import teams
from store.competition.matches import store_result
from store.db import Database
from store.models import MatchResult
from tests.support.competition_helpers import T0, make_players


def test_rules_refuse_bad_setups() -> None:
    with pytest.raises(MatchError):
        TeamMatch.create("r", [1], [10], 60, 10)
    with pytest.raises(MatchError):
        TeamMatch.create("r", [1, 1], [10], 60, 10)
    with pytest.raises(MatchError):
        TeamMatch.create("r", [1, 2], [], 60, 10)
    match = TeamMatch.create("r", [1, 2], [10], 60, 10)
    match.join(100, 1)
    with pytest.raises(MatchError) as err:
        match.start(T0)  # only one team has a player
    assert err.value.code == "bad_teams"
    with pytest.raises(MatchError):
        match.join(100, 2)  # no switching sides
    with pytest.raises(MatchError):
        match.join(101, 3)
    with pytest.raises(MatchError):
        match.submit(100, 1, T0)  # not started


def test_whole_match(db: Database, redis_client: redis.Redis, settings: Settings) -> None:
    a1, a2, b1, c1 = make_players(db, 4)
    with db.session() as s:
        red = teams.create_team(s, redis_client, a1.id or 0, "Red", T0 - timedelta(days=1), settings)
        teams.join_team(s, redis_client, a2.id or 0, red.invite_code, T0 - timedelta(days=1), settings)
        blue = teams.create_team(s, redis_client, b1.id or 0, "Blue", T0 - timedelta(days=1), settings)
        green = teams.create_team(s, redis_client, c1.id or 0, "Green", T0 - timedelta(days=1), settings)
    r, b, g = red.id or 0, blue.id or 0, green.id or 0
    match = TeamMatch.create("room-1", [r, b, g], [501, 502], round_s=60, review_s=20)
    for player, team in ((a1, r), (a2, r), (b1, b), (c1, g)):
        match.join(player.id or 0, team)
    events = match.start(T0)
    assert events[0]["type"] == "match.round" and events[0]["neuron_id"] == 501
    # Round 1: red writes two explanations (the best counts), blue one, green none.
    match.submit(a1.id or 0, 1, T0 + timedelta(seconds=5))
    match.submit(a2.id or 0, 2, T0 + timedelta(seconds=6))
    match.submit(b1.id or 0, 3, T0 + timedelta(seconds=7))
    assert match.record_score(1, 0.40, T0 + timedelta(seconds=10))[-1]["scores"][str(r)] == 0.4
    match.record_score(2, 0.30, T0 + timedelta(seconds=11))  # worse than red's best: no change
    live = match.record_score(3, 0.70, T0 + timedelta(seconds=12))
    assert live[-1] == {"type": "match.scores", "scores": {str(r): 0.4, str(b): 0.7, str(g): 0.0}}
    with pytest.raises(MatchError) as err:  # time is up for round 1
        match.submit(a1.id or 0, 4, T0 + timedelta(seconds=60))
    assert err.value.code == "no_round" and match.phase is Phase.REVIEW
    # Round 2 starts when the review ends; a late score from round 1 still counts.
    events = match.record_score(2, 0.65, T0 + timedelta(seconds=81))
    assert [e["type"] for e in events] == ["match.round", "match.scores"] and events[0]["neuron_id"] == 502
    match.submit(a1.id or 0, 5, T0 + timedelta(seconds=90))
    match.submit(c1.id or 0, 6, T0 + timedelta(seconds=91))
    match.record_score(5, 0.05, T0 + timedelta(seconds=100))
    match.record_score(6, 0.75, T0 + timedelta(seconds=101))
    # Red 0.65 + 0.05 = 0.70 ties Blue 0.70, but Blue got there first (t=12 vs t=100).
    events = match.tick(T0 + timedelta(seconds=200))
    assert [e["type"] for e in events] == ["match.review", "match.finished"]
    assert match.phase is Phase.FINISHED and match.ended_at == T0 + timedelta(seconds=160)
    assert [(t, rank) for t, _, rank in match.standings()] == [(g, 1), (b, 2), (r, 2)]
    assert match.record_score(5, 1.0, T0 + timedelta(seconds=201)) == []  # after the end: ignored
    with db.session() as s:
        row = store_result(s, match)
        results = s.exec(select(MatchResult).where(MatchResult.match_id == row.id)).all()
        assert sorted((x.team_id, x.rank) for x in results) == sorted([(g, 1), (b, 2), (r, 2)])
        assert "team_win" in {x.code for x in competition.achievements_of(s, c1.id or 0)}
        assert "team_win" not in {x.code for x in competition.achievements_of(s, a1.id or 0)}


def test_a_match_survives_its_json_round_trip() -> None:
    match = TeamMatch.create("match-0000abcd", [1, 2], [10, 11], round_s=60, review_s=5)
    match.join(7, 1)
    match.join(8, 2)
    match.start(T0)
    match.submit(7, 100, T0 + timedelta(seconds=1))
    match.record_score(100, 0.5, T0 + timedelta(seconds=2))
    copy = TeamMatch.from_json(match.to_json())
    assert copy == match and copy.standings() == match.standings()
    assert copy.tick(T0 + timedelta(seconds=65)) == match.tick(T0 + timedelta(seconds=65))


def test_adopt_counts_an_explanation_of_a_played_neuron_only() -> None:
    match = TeamMatch.create("match-0000abcd", [1, 2], [10, 11], round_s=60, review_s=5)
    match.join(7, 1)
    match.join(8, 2)
    match.start(T0)
    assert not match.adopt(9, 200, 10)  # not a player of the match
    assert not match.adopt(7, 201, 11)  # a neuron not played yet
    assert match.adopt(8, 202, 10)
    match.record_score(202, 0.8, T0 + timedelta(seconds=3))
    assert match.team_scores() == {1: 0.0, 2: 0.8}
