"""Leaderboards against the real Redis: ties, precision, pagination, around-me, periods, rebuild."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import redis

from config import keys
from config.settings import Settings
from rooms.boards import BoardError, expires_at, period_id
from store.competition import leaderboards as lb
from store.competition.boards_rebuild import ensure_boards, rebuild_all
from store.db import Database
from store.models import PointEvent, Quest
from tests.support.competition_helpers import SUNDAY, T0, award, make_players, snapshot


def ids(entries: list[lb.Entry]) -> list[int]:
    return [e.id for e in entries]


def test_ties_give_competition_ranks_and_earlier_first(
    db: Database, redis_client: redis.Redis, settings: Settings
) -> None:
    a, b, c, d = make_players(db, 4)
    award(db, redis_client, settings, a, 30, T0)
    award(db, redis_client, settings, c, 20, T0 + timedelta(seconds=5))
    award(db, redis_client, settings, b, 20, T0 + timedelta(seconds=1))  # reached 20 first
    award(db, redis_client, settings, d, 10, T0)
    page = lb.top(redis_client, "points", "all", 10)
    assert ids(page.entries) == [a.id, b.id, c.id, d.id]
    assert [e.rank for e in page.entries] == [1, 2, 2, 4]
    assert [e.score for e in page.entries] == [30, 20, 20, 10]
    # c catches up later: the tie-break is the time the current score was reached.
    award(db, redis_client, settings, b, 5, T0 + timedelta(seconds=10))
    award(db, redis_client, settings, c, 5, T0 + timedelta(seconds=9))
    assert ids(lb.top(redis_client, "points", "all", 10).entries) == [a.id, c.id, b.id, d.id]


def test_large_scores_keep_full_precision(
    db: Database, redis_client: redis.Redis, settings: Settings
) -> None:
    a, b, c = make_players(db, 3)
    big = 2**53 - 3
    award(db, redis_client, settings, a, big, T0 + timedelta(seconds=2))
    award(db, redis_client, settings, b, big - 1, T0)
    award(db, redis_client, settings, c, big - 1, T0 + timedelta(seconds=1))
    award(db, redis_client, settings, b, 1, T0 + timedelta(seconds=3))  # b ties a, but later
    page = lb.top(redis_client, "points", "all", 10)
    assert [(e.id, e.score, e.rank) for e in page.entries] == [
        (a.id, big, 1),
        (b.id, big, 1),
        (c.id, big - 1, 3),
    ]
    assert lb.ranks(redis_client, [("points", "all")], c.id or 0)[("points", "all")]["score"] == big - 1


def test_bad_input_is_refused_and_writes_nothing(
    db: Database, redis_client: redis.Redis, settings: Settings
) -> None:
    (a,) = make_players(db, 1)
    with pytest.raises(BoardError):
        award(db, redis_client, settings, a, 2**53, T0)
    with pytest.raises(BoardError):
        lb.apply_point_event(
            redis_client, PointEvent(player_id=a.id or 0, amount=1, reason="x"), a, None, T0, settings
        )
    assert snapshot(redis_client) == {}
    with pytest.raises(BoardError):
        lb.top(redis_client, "points", "all", 10, cursor="not-a-cursor")
    with pytest.raises(BoardError):
        lb.top(redis_client, "nosuch", "all", 10)
    with pytest.raises(BoardError):
        lb.top(redis_client, "country", "all", 10)  # needs a parameter


def test_keyset_pagination_is_stable_when_entries_move(
    db: Database, redis_client: redis.Redis, settings: Settings
) -> None:
    players = make_players(db, 25)
    for i, p in enumerate(players):
        award(db, redis_client, settings, p, 100 - (i // 3), T0 + timedelta(milliseconds=i))  # many ties
    first = lb.top(redis_client, "points", "all", 10)
    assert first.next_cursor
    # Someone new goes to the top between two pages: offsets would repeat an entry, keysets do not.
    (newcomer,) = make_players(db, 1)
    award(db, redis_client, settings, newcomer, 1_000, T0 + timedelta(minutes=1))
    second = lb.top(redis_client, "points", "all", 10, first.next_cursor)
    third = lb.top(redis_client, "points", "all", 10, second.next_cursor)
    seen = ids(first.entries) + ids(second.entries) + ids(third.entries)
    assert seen == [p.id for p in players]
    assert third.next_cursor is None
    assert second.entries[0].position == 11  # positions are live: the newcomer is at 0


def test_around_me_at_both_ends_and_middle(
    db: Database, redis_client: redis.Redis, settings: Settings
) -> None:
    players = make_players(db, 12)
    for i, p in enumerate(players):
        award(db, redis_client, settings, p, 1_000 - 10 * i, T0)
    top_one = lb.around(redis_client, "points", "all", players[0].id or 0, 2)
    assert top_one is not None and top_one.me.rank == 1 and top_one.size == 12
    assert ids(top_one.entries) == [p.id for p in players[:5]]
    last = lb.around(redis_client, "points", "all", players[-1].id or 0, 2)
    assert last is not None and last.me.rank == 12
    assert ids(last.entries) == [p.id for p in players[-5:]]
    middle = lb.around(redis_client, "points", "all", players[6].id or 0, 1)
    assert middle is not None and ids(middle.entries) == [p.id for p in players[5:8]]
    assert lb.around(redis_client, "points", "all", 999_999, 2) is None


def test_period_rollover_at_utc_midnight(db: Database, redis_client: redis.Redis, settings: Settings) -> None:
    (a,) = make_players(db, 1)
    sunday_night = SUNDAY.replace(hour=23, minute=59, second=59, microsecond=999_000)
    monday = sunday_night + timedelta(milliseconds=1)
    award(db, redis_client, settings, a, 7, sunday_night)
    award(db, redis_client, settings, a, 5, monday)
    sun, mon = sunday_night.date(), monday.date()
    days = [f"d:{sun.isoformat()}", f"d:{mon.isoformat()}"]
    weeks = [f"w:{d.isocalendar()[0]}-W{d.isocalendar()[1]:02d}" for d in (sun, mon)]
    assert weeks[0] != weeks[1] and monday.weekday() == 0
    boards = [("points", p) for p in [*days, *weeks, "all"]]
    mine = {k[1]: v["score"] for k, v in lb.ranks(redis_client, boards, a.id or 0).items()}
    assert mine == {days[0]: 7, days[1]: 5, weeks[0]: 7, weeks[1]: 5, "all": 12}
    # Redis 6.2 has no EXPIRETIME: compare the TTL with Redis' own clock.
    expiry = expires_at(days[0], settings.leaderboard_grace_s) or 0
    ttl = redis_client.ttl(keys.leaderboard("points", days[0]))
    assert abs(ttl - (expiry - redis_client.time()[0])) <= 1
    assert expires_at(days[0], 0) == int(monday.timestamp())  # the period ends at UTC midnight
    assert redis_client.ttl(keys.leaderboard("points", "all")) == -1
    # A late event for a period whose board has expired counts only where boards still live.
    late_now = sunday_night + timedelta(days=5)
    award(db, redis_client, settings, a, 1, sunday_night - timedelta(hours=1), now=late_now)
    after = lb.ranks(redis_client, [("points", "all"), ("points", days[0])], a.id or 0)
    assert after[("points", "all")]["score"] == 13 and after[("points", days[0])]["score"] == 7


def _busy_history(db: Database, r: redis.Redis, settings: Settings) -> None:
    from store.competition import teams

    players = make_players(db, 8) + make_players(db, 4, country="DE", region="Bavaria")
    with db.session() as s:
        quest = Quest(
            kind="daily", period=T0.date().isoformat(), opens_at=T0, closes_at=T0 + timedelta(days=1)
        )
        s.add(quest)
        s.commit()
        red = teams.create_team(s, r, players[0].id or 0, "Red", T0, settings)
        teams.join_team(s, r, players[1].id or 0, red.invite_code, T0, settings)
        blue = teams.create_team(s, r, players[8].id or 0, "Blue", T0, settings)
    for i in range(60):
        p = players[(i * 7) % len(players)]
        at = T0 + timedelta(minutes=i * 40, milliseconds=(i % 3))
        if i == 30:  # someone joins mid-way: only their points from then on count for the team
            with db.session() as s:
                teams.join_team(s, r, players[9].id or 0, blue.invite_code, at, settings)
        award(db, r, settings, p, 5 + (i % 4) * 5, at, room_id=f"r{i % 3}" if i % 2 else None,
              quest_id=quest.id if i % 5 == 0 else None, now=at)  # fmt: skip
    # Same millisecond: the event id decides.
    for p in players[:3]:
        award(db, r, settings, p, 10, T0 + timedelta(hours=41), now=T0 + timedelta(hours=41))


def test_rebuild_from_sql_equals_live(db: Database, redis_client: redis.Redis, settings: Settings) -> None:
    _busy_history(db, redis_client, settings)
    now = T0 + timedelta(days=2)
    live = snapshot(redis_client)
    assert any(k.startswith("nq:lb:teams:") for k in live) and any(":room:" in k for k in live)
    with db.session() as s:
        rebuild_all(redis_client, s, now, settings)
    assert snapshot(redis_client) == live
    redis_client.flushdb()  # a Redis wipe loses nothing
    assert ensure_boards(redis_client, db, now, settings) is True
    assert snapshot(redis_client) == live
    assert ensure_boards(redis_client, db, now, settings) is False


def test_cli_rebuild_and_show(
    db: Database, redis_client: redis.Redis, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    from server.cli.main import main

    a, b = make_players(db, 2)
    award(db, redis_client, settings, a, 5, T0)
    award(db, redis_client, settings, b, 9, T0)
    live = snapshot(redis_client)
    redis_client.flushdb()
    assert main(["leaderboard", "rebuild"], settings) == 0
    assert snapshot(redis_client) == live
    assert main(["leaderboard", "show", "points", "--limit", "5"], settings) == 0
    out = capsys.readouterr().out
    assert "rebuilt" in out and out.index(f"{b.id:>8}  9") < out.index(f"{a.id:>8}  5")
    assert main(["leaderboard", "show", "nosuch"], settings) == 2
    assert "no board" in capsys.readouterr().err


def test_a_country_change_takes_the_players_points_along(
    db: Database, redis_client: redis.Redis, settings: Settings
) -> None:
    """One player ranks on one country's boards: the one they are of now, as a rebuild from SQL
    counts them. Switching country must not leave a second copy of their points behind."""
    from store.competition.country_move import move_country_points
    from store.models import Player

    ada, bob = make_players(db, 2, country="DE")

    def move_to(code: str, at: datetime) -> int:
        with db.session() as s:
            row = s.get(Player, ada.id)
            assert row is not None
            was, row.country = row.country, code
            s.add(row)
            s.commit()
        ada.country = code
        return move_country_points(redis_client, ada.id or 0, was, code, at, settings)

    def board(code: str, period: str = "all") -> list[tuple[int, int]]:
        return [(e.id, e.score) for e in lb.top(redis_client, f"country:{code}", period, 10).entries]

    award(db, redis_client, settings, ada, 10, T0)
    award(db, redis_client, settings, bob, 7, T0 + timedelta(seconds=1))
    assert move_to("FR", T0 + timedelta(hours=1)) == 2  # all-time and this week
    assert board("DE") == [(bob.id, 7)] and board("FR") == [(ada.id, 10)]
    week = period_id("weekly", T0)
    assert board("FR", week) == [(ada.id, 10)] and board("DE", week) == [(bob.id, 7)]
    award(db, redis_client, settings, ada, 5, T0 + timedelta(hours=2))
    # A point event read the old country just before the change (a round settling meanwhile):
    stale = Player(id=ada.id, name=ada.name, country="DE")
    award(db, redis_client, settings, stale, 3, T0 + timedelta(hours=3))
    assert board("DE") == [(bob.id, 7), (ada.id, 3)]
    # Back to DE: the FR entry joins the stray one, the scores add up.
    assert move_to("DE", T0 + timedelta(hours=4)) == 2
    assert board("DE") == [(ada.id, 18), (bob.id, 7)] and board("FR") == []
    assert move_to("DE", T0 + timedelta(hours=5)) == 0  # the same country: nothing moves
    live = snapshot(redis_client)
    with db.session() as s:
        rebuild_all(redis_client, s, T0 + timedelta(hours=5), settings)
    assert snapshot(redis_client) == live  # exactly what a rebuild from SQL makes


def test_points_counted_while_the_country_changes_follow_the_player(
    db: Database, redis_client: redis.Redis, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A round settles while its player changes country in another tab: the award reads the
    old country, the change commits and moves the boards, then the award counts. The points
    must end on the new country's board only, as a rebuild from SQL would put them."""
    from store import competition
    from store.competition.awarding import count_stored_points
    from store.competition.country_move import move_country_points
    from store.models import Player

    ada, bob = make_players(db, 2, country="DE")
    award(db, redis_client, settings, ada, 10, T0)
    read_players = competition.players_by_id

    def players_then_a_change(session, ids=None):  # type: ignore[no-untyped-def]
        players = read_players(session, ids)  # the award has read the country: DE
        with db.session() as other:  # ...and the change lands, as the hub's rename does it
            row = other.get(Player, ada.id)
            assert row is not None
            row.country = "JP"
            other.add(row)
            other.commit()
        move_country_points(redis_client, ada.id or 0, "DE", "JP", T0, settings)
        return players

    monkeypatch.setattr(competition, "players_by_id", players_then_a_change)
    with db.session() as s:
        events = [PointEvent(player_id=ada.id or 0, amount=5, reason="beat_best", created_at=T0)]
        events.append(PointEvent(player_id=bob.id or 0, amount=7, reason="beat_best", created_at=T0))
        s.add_all(events)
        s.commit()
        count_stored_points(s, redis_client, settings, events, T0)

    def board(code: str) -> list[tuple[int, int]]:
        return [(e.id, e.score) for e in lb.top(redis_client, f"country:{code}", "all", 10).entries]

    assert board("JP") == [(ada.id, 15)] and board("DE") == [(bob.id, 7)]
    live = snapshot(redis_client)
    with db.session() as s:
        rebuild_all(redis_client, s, T0, settings)
    assert snapshot(redis_client) == live
