"""Team challenge rules: nobody is pulled into a match without their captain's yes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rooms.challenges import Challenge, ChallengeError, Status

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)


def make(teams: list[int]) -> Challenge:
    return Challenge.create("c1", teams, {str(t): f"T{t}" for t in teams}, 3, 60.0, 7, NOW)


def test_the_match_opens_only_after_every_other_team_accepts() -> None:
    c = make([1, 2, 3])
    assert c.waiting_for() == [2, 3]
    assert c.accept(2) is False and c.status is Status.PENDING
    with pytest.raises(ChallengeError) as refused:
        c.opened("match-00000000")
    assert refused.value.code == "not_accepted"
    assert c.accept(3) is True and c.status is Status.ACCEPTED
    c.opened("match-0000abcd")
    assert Challenge.from_json(c.to_json()) == c


def test_a_decline_ends_it_and_outsiders_are_refused() -> None:
    c = make([1, 2])
    with pytest.raises(ChallengeError) as outsider:
        c.accept(9)
    assert outsider.value.code == "not_in_challenge"
    c.decline(2)
    assert c.status is Status.DECLINED
    with pytest.raises(ChallengeError) as late:
        c.accept(2)
    assert late.value.code == "answered"


def test_the_views_say_who_must_answer() -> None:
    c = make([1, 2])
    assert c.view(1)["awaiting_us"] is False and c.view(1)["incoming"] is False
    assert c.view(2)["awaiting_us"] is True and c.view(2)["incoming"] is True
    assert [t["accepted"] for t in c.view(2)["teams"]] == [True, False]


@pytest.mark.parametrize("teams", [[1], [1, 1], []])
def test_a_challenge_needs_two_different_teams(teams: list[int]) -> None:
    with pytest.raises(ChallengeError):
        make(teams)
