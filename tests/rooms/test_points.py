"""Points rules (rooms/points.py) on their own."""

from __future__ import annotations

from rooms.points import BEAT_BEST, FIRST_EXPLANATION, TOP_VOTE, RoundOutcome, award_round, top_explanation


def test_top_explanation_breaks_ties_by_age() -> None:
    assert top_explanation({5: 0.5, 3: 0.5, 9: 0.1}) == 3
    assert top_explanation({}) is None


def test_every_explanation_beating_the_old_best_scores() -> None:
    outcome = RoundOutcome(
        written={10: 1, 11: 2, 12: 3},
        authors={10: 1, 11: 2, 12: 3, 4: 9},
        scores={10: 0.6, 11: 0.7, 12: 0.2, 4: 0.5},
        votes=[(1, 11), (3, 11), (2, 11), (2, 10)],
        prior_best=0.5,
        prior_explained=True,
    )
    awards = sorted((a.player_id, a.reason, a.amount) for a in award_round(outcome))
    assert awards == [
        (1, "beat_best", BEAT_BEST),
        (1, "top_vote", TOP_VOTE),
        (2, "beat_best", BEAT_BEST),
        (3, "top_vote", TOP_VOTE),
    ]  # 2 voted for its own top explanation: refused upstream, and never paid here


def test_first_explanation_needs_an_unexplained_neuron_not_a_good_score() -> None:
    outcome = RoundOutcome(written={8: 4, 6: 5}, authors={8: 4, 6: 5}, scores={}, prior_explained=False)
    assert [(a.player_id, a.reason, a.amount) for a in award_round(outcome)] == [
        (5, "first_explanation", FIRST_EXPLANATION)
    ]


def test_negative_scores_never_beat_an_empty_bar() -> None:
    outcome = RoundOutcome(written={1: 1}, authors={1: 1}, scores={1: -0.2}, prior_explained=True)
    assert award_round(outcome) == []
