"""The puzzle room's rules, driven by an explicit clock, without a server."""

from __future__ import annotations

import random

import pytest

from rooms.picker import choose_neuron
from rooms.points import award_round
from rooms.puzzle_room import Phase, Puzzle, PuzzleRoom, RoomError, RoomState, Timing

TIMING = Timing(lobby_s=5, round_s=60, reveal_s=30, reveal_min_s=4)


def puzzle(
    neuron_id: int = 7, shown: list[dict[str, object]] | None = None, prior_best: float | None = None
) -> Puzzle:
    clues = [{"tokens": ["a", "b"], "activations": [0.0, 1.0]}]
    return Puzzle(neuron_id, "c", neuron_id, 1.0, clues, shown or [], prior_best, bool(shown))


def roundtrip(room: PuzzleRoom) -> PuzzleRoom:
    """What the server does between moves: the state goes through JSON (Redis)."""
    return PuzzleRoom(RoomState.from_json(room.state.to_json()), room.timing)


def test_lobby_waits_then_asks_for_a_puzzle() -> None:
    room = PuzzleRoom(RoomState("r"), TIMING)
    events = room.join(1, "ann", now=100)
    assert [e["type"] for e in events] == ["lobby"] and events[0]["deadline"] == 105
    assert not room.wants_puzzle(104.9)
    assert room.wants_puzzle(105)
    events = room.start_round(puzzle(), now=105)
    assert events[0]["type"] == "puzzle" and room.state.phase is Phase.ROUND and room.state.deadline == 165


def test_a_full_round_and_its_points() -> None:
    room = PuzzleRoom(RoomState("r"), TIMING)
    room.join(1, "ann", 0)
    room.join(2, "bob", 0)
    room.start_round(puzzle(), 5)
    room = roundtrip(room)
    room.check_submit(1)
    room.add_explanation({"id": 11, "player_id": 1, "text": "b"})
    with pytest.raises(RoomError) as refused:
        room.check_submit(1)
    assert refused.value.code == "already_submitted"
    with pytest.raises(RoomError) as own:
        room.check_vote(1, 11)
    assert own.value.code == "own_vote"
    room.check_vote(2, 11)
    assert room.add_vote(2, 11)[0]["votes"] == 1
    room = roundtrip(room)
    assert room.tick(64) == ([], None)
    events, outcome = room.tick(65)
    assert events[0]["type"] == "reveal" and outcome is None and room.state.phase is Phase.REVEAL
    with pytest.raises(RoomError) as late:
        room.check_submit(2)
    assert late.value.code == "wrong_phase"
    assert room.record_score(11, 0.5) and not room.record_score(11, 0.5)
    assert not room.is_due(68.9)  # all scored, but the reveal shows at least reveal_min_s
    events, outcome = room.tick(69)
    assert events[0]["type"] == "round_end" and events[0]["top"] == 11
    assert outcome is not None and room.state.phase is Phase.LOBBY and room.wants_puzzle(69)
    awards = {(a.player_id, a.reason, a.amount) for a in award_round(outcome)}
    assert awards == {(1, "beat_best", 50), (1, "first_explanation", 20), (2, "top_vote", 10)}


def test_reveal_ends_at_its_deadline_without_scores() -> None:
    room = PuzzleRoom(RoomState("r"), TIMING)
    room.join(1, "ann", 0)
    room.start_round(puzzle(), 0)
    room.add_explanation({"id": 3, "player_id": 1, "text": "x"})
    room.tick(60)
    assert not room.is_due(89)
    events, outcome = room.tick(90)
    assert events[0]["top"] is None and outcome is not None and outcome.scores == {}


def test_older_explanations_can_be_voted_and_count_as_the_bar() -> None:
    shown = [{"id": 1, "text": "old", "player_id": 9, "player_name": "x", "score": 0.4}]
    room = PuzzleRoom(RoomState("r"), TIMING)
    room.join(2, "bob", 0)
    room.join(3, "cy", 0)
    room.start_round(puzzle(shown=shown, prior_best=0.4), 0)
    room.check_vote(2, 1)
    room.add_vote(2, 1)
    room.add_explanation({"id": 5, "player_id": 3, "text": "new"})
    room.tick(60)
    room.record_score(5, 0.3)  # worse than the old one
    _, outcome = room.tick(64)
    assert outcome is not None
    awards = {(a.player_id, a.reason) for a in award_round(outcome)}
    assert awards == {(2, "top_vote")}  # no beat_best, no first_explanation


def test_membership_counts_connections_and_survives_an_empty_room() -> None:
    room = PuzzleRoom(RoomState("r"), TIMING)
    room.join(1, "ann", 0)
    assert room.members_event() == [
        {"type": "members", "joined": [{"id": 1, "name": "ann"}], "left": [], "count": 1}
    ]
    assert room.join(1, "ann", 1) == []  # a second tab
    assert room.leave(1, 2) == []
    assert room.members_event() == []  # nothing changed for the others
    assert room.leave(1, 3) == []
    assert room.members_event() == [{"type": "members", "joined": [], "left": [1], "count": 0}]
    assert room.state.deadline is None and not room.wants_puzzle(100)
    with pytest.raises(RoomError) as outside:
        room.check_submit(1)
    assert outside.value.code == "not_in_room"


def test_rename_and_snapshot() -> None:
    room = PuzzleRoom(RoomState("r"), TIMING)
    room.join(1, "ann", 0)
    room.start_round(puzzle(), 0)
    assert room.rename(1, "Ann B")[0]["player"]["name"] == "Ann B"
    snap = room.snapshot()
    assert snap["members"] == [{"id": 1, "name": "Ann B"}] and snap["phase"] == "round" and snap["clues"]


def test_picker_prefers_unsolved_then_fresh() -> None:
    rng = random.Random(1)
    assert choose_neuron([1, 2, 3], solved={1, 2}, recent=[3], rng=rng) == 3
    assert choose_neuron([1, 2, 3], solved={1}, recent=[2], rng=rng) == 3
    assert choose_neuron([1, 2], solved={1, 2}, recent=[1], rng=rng) == 2
    assert choose_neuron([], solved=set(), recent=[], rng=rng) is None


def test_joins_and_leaves_are_announced_together_as_the_room_is_now() -> None:
    """One event for a burst (issue 19); a leave and a join again in one flush is a join, a
    join and a leave is a leave; nothing in a room bigger than announce_max."""
    room = PuzzleRoom(RoomState("r"), TIMING)
    for pid in range(1, 6):
        room.join(pid, f"p{pid}", 0)
    [burst] = room.members_event(announce_max=10)
    assert [p["id"] for p in burst["joined"]] == [1, 2, 3, 4, 5] and burst["count"] == 5
    room.leave(2, 1)
    room.join(2, "p2 again", 1)
    room.join(6, "six", 1)
    room.leave(6, 1)
    [event] = room.members_event(announce_max=10)
    assert event == {"type": "members", "joined": [{"id": 2, "name": "p2 again"}], "left": [6], "count": 5}
    room.join(7, "seven", 2)
    assert room.members_event(announce_max=5) == []  # 6 > 5: silent, as the crowd count says it
