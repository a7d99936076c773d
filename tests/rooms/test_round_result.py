"""The round's result: every explanation ranked with its author, votes and points; a podium;
each player's points with the reasons; provisional during the reveal, final at the end."""

from __future__ import annotations

from rooms.points import BEAT_BEST, FIRST_EXPLANATION, TOP_VOTE, award_round
from rooms.puzzle_room import PuzzleRoom, RoomState, Timing
from rooms.round_result import on_score, provisional_awards, result_events, round_result
from tests.rooms.test_puzzle_room import puzzle

TIMING = Timing(lobby_s=5, round_s=60, reveal_s=30, reveal_min_s=4)


def played_round(shown: list[dict[str, object]] | None = None, prior_best: float | None = None) -> PuzzleRoom:
    """ann, bob, cy (and dee, who writes nothing) play one round up to its reveal."""
    room = PuzzleRoom(RoomState("r"), TIMING)
    for pid, name in ((1, "ann"), (2, "bob"), (3, "cy"), (4, "dee")):
        room.join(pid, name, 0)
    room.start_round(puzzle(shown=shown, prior_best=prior_best), 5)
    for eid, pid, name in ((11, 1, "ann"), (12, 2, "bob"), (13, 3, "cy")):
        room.add_explanation({"id": eid, "player_id": pid, "player_name": name, "text": f"text {eid}"})
    for voter, eid in ((2, 11), (3, 11), (1, 12), (4, 11)):
        room.check_vote(voter, eid)
        room.add_vote(voter, eid)
    room.tick(65)  # reveal
    return room


def test_every_explanation_ranked_with_author_votes_and_points() -> None:
    room = played_round()
    for eid, score in ((11, 0.61), (12, -0.2), (13, 0.35)):
        room.record_score(eid, score)
    awards = award_round(room._outcome())
    result = round_result(room, awards, final=True)
    entries = result["entries"]
    assert [x["explanation_id"] for x in entries] == [11, 13, 12]  # by score, negative last
    assert [x["rank"] for x in entries] == [1, 2, 3]
    assert [(x["author"], x["votes"]) for x in entries] == [("ann", 3), ("cy", 0), ("bob", 1)]
    assert result["podium"] == [11, 13, 12] and result["top"] == 11
    # Points per explanation: ann's beat_best and first_explanation, and the top_vote of each voter.
    top_points = sorted((p["name"], p["reason"], p["amount"]) for p in entries[0]["points"])
    assert top_points == [
        ("ann", "beat_best", BEAT_BEST),
        ("ann", "first_explanation", FIRST_EXPLANATION),
        ("bob", "top_vote", TOP_VOTE),
        ("cy", "top_vote", TOP_VOTE),
        ("dee", "top_vote", TOP_VOTE),
    ]
    assert entries[1]["points"] == [{"player_id": 3, "amount": BEAT_BEST, "reason": "beat_best",
                                     "explanation_id": 13, "name": "cy"}]  # fmt: skip
    assert entries[2]["points"] == []  # a negative score beats nothing
    # Every player, with their total and its reasons; the totals add up to the awards.
    players = {p["name"]: p for p in result["players"]}
    assert players["ann"]["total"] == BEAT_BEST + FIRST_EXPLANATION
    assert players["bob"]["total"] == TOP_VOTE and players["dee"]["total"] == TOP_VOTE
    assert sum(p["total"] for p in result["players"]) == sum(a.amount for a in awards)
    assert result["players"][0]["name"] == "ann"


def test_unscored_explanations_rank_last_and_are_listed_as_waiting() -> None:
    room = played_round()
    room.record_score(12, 0.4)
    result = round_result(room, provisional_awards(room), final=False)
    assert [x["explanation_id"] for x in result["entries"]] == [12, 11, 13]
    assert result["entries"][1]["score"] is None and result["waiting"] == [11, 13]
    assert result["podium"] == [12]  # only scored explanations stand on the podium
    assert result["final"] is False


def test_provisional_points_are_the_rules_points_and_change_with_scores() -> None:
    room = played_round(prior_best=0.5)
    assert provisional_awards(room) == award_round(room._outcome())
    room.record_score(12, 0.7)
    first = {p["name"]: p["total"] for p in on_score(room)[0]["players"]}
    # ann voted for 12, the top so far (and wrote the round's first explanation).
    assert first["bob"] == BEAT_BEST and first["ann"] == TOP_VOTE + FIRST_EXPLANATION
    room.record_score(11, 0.9)
    then = {p["name"]: p["total"] for p in on_score(room)[0]["players"]}
    assert then["ann"] == BEAT_BEST + FIRST_EXPLANATION and then["bob"] == BEAT_BEST + TOP_VOTE


def test_earlier_explanations_count_only_when_voted_for_or_on_top() -> None:
    shown = [
        {"id": 1, "player_id": 9, "player_name": "old timer", "text": "older", "score": 0.95},
        {"id": 2, "player_id": None, "player_name": None, "text": "machine guess", "score": 0.1},
    ]
    room = played_round(shown=shown, prior_best=0.95)
    room.record_score(11, 0.5)
    result = round_result(room, provisional_awards(room), final=False)
    earlier = [x for x in result["entries"] if x["earlier"]]
    assert [(x["explanation_id"], x["author"]) for x in earlier] == [(1, "old timer")]  # on top
    assert result["top"] == 1 and 1 not in result["podium"]


def test_result_events_follow_the_reveal_and_the_round_end() -> None:
    room = played_round()
    assert [e["type"] for e in on_score(room)] == ["round_result"]
    reveal = result_events(room, [{"type": "reveal"}], [])
    assert [e["type"] for e in reveal] == ["reveal", "round_result"] and reveal[1]["final"] is False
    for eid in (11, 12, 13):
        room.record_score(eid, 0.2)
    events, outcome = room.tick(200)
    assert outcome is not None
    awards = award_round(outcome)
    done = result_events(room, [*events, {"type": "points"}], awards)
    assert [e["type"] for e in done] == ["round_end", "points", "round_result"]
    assert done[-1]["final"] is True and len(done[-1]["entries"]) == 3
    assert on_score(room) == []  # outside the reveal a score changes no result
    assert result_events(room, [{"type": "puzzle"}], []) == [{"type": "puzzle"}]
