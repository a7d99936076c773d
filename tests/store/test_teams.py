"""Teams: create, invite code, join, leave, captain; team boards stay equal to a rebuild."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis

from config.settings import Settings
from store import competition
from store.competition import leaderboards as lb
from store.competition import teams
from store.competition.boards_rebuild import rebuild_all
from store.db import Database
from tests.support.competition_helpers import T0, award, make_players, snapshot


def test_create_join_leave_and_captaincy(db: Database, redis_client: redis.Redis, settings: Settings) -> None:
    a, b, c = make_players(db, 3)
    with db.session() as s:
        team = teams.create_team(s, redis_client, a.id or 0, "  The   Owls ", T0, settings)
        assert team.name == "The Owls" and team.captain_id == a.id and len(team.invite_code) == 8
        joined = teams.join_team(s, redis_client, b.id or 0, team.invite_code.lower(), T0, settings)
        assert joined.id == team.id
        view = teams.show_team(s, team.id or 0, viewer_id=b.id)
        assert [m["id"] for m in view.members] == [a.id, b.id] and view.invite_code == team.invite_code
        assert teams.show_team(s, team.id or 0, viewer_id=c.id).invite_code is None  # outsiders don't see it
        with pytest.raises(teams.TeamError) as err:
            teams.set_captain(s, b.id or 0, team.id or 0, b.id or 0)
        assert err.value.code == "not_captain"
        teams.leave_team(s, redis_client, a.id or 0, T0, settings)  # the captain leaves: b takes over
        assert s.get(type(team), team.id).captain_id == b.id  # type: ignore[union-attr]
        teams.leave_team(s, redis_client, b.id or 0, T0, settings)
        assert s.get(type(team), team.id).captain_id is None  # type: ignore[union-attr]
        teams.join_team(s, redis_client, c.id or 0, team.invite_code, T0, settings)
        assert s.get(type(team), team.id).captain_id == c.id  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("action", "code"),
    [
        ("bad_code", "bad_code"),
        ("twice", "already_in_team"),
        ("same_name", "name_taken"),
        ("empty_name", "bad_name"),
        ("leave_alone", "not_in_team"),
    ],
)
def test_refusals_carry_a_code_and_change_nothing(
    db: Database, redis_client: redis.Redis, settings: Settings, action: str, code: str
) -> None:
    a, b = make_players(db, 2)
    with db.session() as s:
        team = teams.create_team(s, redis_client, a.id or 0, "Owls", T0, settings)
        calls = {
            "bad_code": lambda: teams.join_team(s, redis_client, b.id or 0, "NOPE0000", T0, settings),
            "twice": lambda: teams.create_team(s, redis_client, a.id or 0, "Other", T0, settings),
            "same_name": lambda: teams.create_team(s, redis_client, b.id or 0, "owls", T0, settings),
            "empty_name": lambda: teams.create_team(s, redis_client, b.id or 0, "   ", T0, settings),
            "leave_alone": lambda: teams.leave_team(s, redis_client, b.id or 0, T0, settings),
        }
        with pytest.raises(teams.TeamError) as err:
            calls[action]()
        assert err.value.code == code
        assert [m.player_id for m in competition.team_members(s, team.id or 0)] == [a.id]
        assert competition.membership_of(s, b.id or 0) is None


def test_team_boards_follow_members_and_match_a_rebuild(
    db: Database, redis_client: redis.Redis, settings: Settings
) -> None:
    a, b, c, d = make_players(db, 4)
    with db.session() as s:
        red = teams.create_team(s, redis_client, a.id or 0, "Red", T0, settings)
        teams.join_team(s, redis_client, b.id or 0, red.invite_code, T0, settings)
        blue = teams.create_team(s, redis_client, c.id or 0, "Blue", T0, settings)
    award(db, redis_client, settings, a, 50, T0 + timedelta(minutes=1))
    award(db, redis_client, settings, b, 40, T0 + timedelta(minutes=2))
    award(db, redis_client, settings, c, 60, T0 + timedelta(minutes=3))
    award(db, redis_client, settings, d, 99, T0 + timedelta(minutes=4))  # in no team
    board = lb.top(redis_client, "teams", "all", 10)
    assert [(e.id, e.score) for e in board.entries] == [(red.id, 90), (blue.id, 60)]
    members = lb.top(redis_client, f"team:{red.id}", "all", 10)
    assert [(e.id, e.score) for e in members.entries] == [(a.id, 50), (b.id, 40)]
    with db.session() as s:  # a leaves Red: Red keeps only b's points, and a's row goes
        teams.leave_team(s, redis_client, a.id or 0, T0 + timedelta(minutes=5), settings)
        teams.join_team(s, redis_client, a.id or 0, blue.invite_code, T0 + timedelta(minutes=5), settings)
    award(db, redis_client, settings, a, 5, T0 + timedelta(minutes=6))
    board = lb.top(redis_client, "teams", "all", 10)
    assert [(e.id, e.score) for e in board.entries] == [(blue.id, 65), (red.id, 40)]
    assert [e.id for e in lb.top(redis_client, f"team:{red.id}", "all", 10).entries] == [b.id]
    live = snapshot(redis_client)
    with db.session() as s:
        rebuild_all(redis_client, s, T0 + timedelta(minutes=7), settings)
    assert snapshot(redis_client) == live
