"""Round flow rules: early end, pass, a private room's lobby, Start, skip, the game summary.

Each test tries to break one rule (a stranger presses Start, a pass passes for a vote, a
player who left holds the round up, a skip cuts the wait for scores short...).
"""

from __future__ import annotations

import pytest

from config.settings import Settings
from rooms import private_game
from rooms.points import award_round
from rooms.puzzle_room import Phase, Puzzle, PuzzleRoom, RoomError, RoomState, Timing
from rooms.round_flow import could_all_be_done, end_if_all_done, pass_round

TIMING = Timing(lobby_s=5, round_s=60, reveal_s=30, reveal_min_s=12)
SHOWN = [{"id": 1, "text": "machine", "player_id": None, "player_name": "machine", "score": 0.2}]


def puzzle(neuron_id: int = 7) -> Puzzle:
    clues = [{"tokens": ["a", "b"], "activations": [0.0, 1.0]}]
    return Puzzle(neuron_id, "minilm-l6-layer3", neuron_id, 1.0, clues, list(SHOWN), 0.2, False)


def roundtrip(room: PuzzleRoom) -> PuzzleRoom:
    return PuzzleRoom(RoomState.from_json(room.state.to_json()), room.timing)


def playing(*players: int, state: RoomState | None = None) -> PuzzleRoom:
    room = PuzzleRoom(state or RoomState("r"), TIMING)
    for pid in players:
        room.state.members[pid] = f"p{pid}"
    room.start_round(puzzle(), 0)
    return room


def refused(code: str, move, *args) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RoomError) as caught:
        move(*args)
    assert caught.value.code == code


def test_the_default_result_lasts_at_least_12_seconds() -> None:
    assert Settings().room_reveal_min_s >= 12.0


def test_round_ends_early_when_everyone_submitted_and_voted() -> None:
    room = playing(1, 2)
    room.add_explanation({"id": 11, "player_id": 1, "text": "x"})
    room.add_explanation({"id": 12, "player_id": 2, "text": "y"})
    room.add_vote(1, 12)
    assert end_if_all_done(room, {1, 2}, 10) == []  # 2 has not voted yet
    room.add_vote(2, 11)
    assert could_all_be_done(room, 2)
    events = end_if_all_done(room, {1, 2}, 10)
    assert events[0]["type"] == "reveal" and events[0]["early"] is True
    assert room.state.phase is Phase.REVEAL and room.state.reveal_min_until == 22


def test_submitting_without_voting_or_voting_without_submitting_is_not_done() -> None:
    room = playing(1, 2)
    room.add_explanation({"id": 11, "player_id": 1, "text": "x"})
    room.add_vote(2, 11)  # 2 voted but wrote nothing; 1 wrote but did not vote
    assert end_if_all_done(room, {1, 2}, 10) == [] and room.state.phase is Phase.ROUND
    assert not could_all_be_done(room, 2)


def test_a_disconnected_player_does_not_block_the_early_end() -> None:
    room = playing(1, 2, 3)
    room.add_explanation({"id": 11, "player_id": 1, "text": "x"})
    room.add_vote(1, 1)
    pass_round(room, 2)
    assert end_if_all_done(room, {1, 2, 3}, 10) == []  # 3 is connected and not done
    assert end_if_all_done(room, {1, 2}, 10)[0]["type"] == "reveal"  # 3 closed the tab


def test_nobody_connected_ends_nothing_and_a_paused_round_does_not_end() -> None:
    room = playing(1)
    pass_round(room, 1)
    assert end_if_all_done(room, set(), 10) == []
    room.state.held = True  # a streamer room's host paused it
    assert end_if_all_done(room, {1}, 10) == [] and room.state.phase is Phase.ROUND


def test_a_pass_is_not_a_vote_and_earns_nothing() -> None:
    room = playing(1, 2)
    room.add_explanation({"id": 11, "player_id": 1, "text": "x"})
    room.add_vote(1, 1)
    assert pass_round(room, 2)[0] == {"type": "passed", "round": 1, "player_id": 2}
    assert pass_round(room, 2) == []  # twice is once
    room = roundtrip(room)
    assert room.state.passed == [2] and room.snapshot()["passed"] == [2]
    end_if_all_done(room, {1, 2}, 10)
    room.record_score(11, 0.9)
    _, outcome = room.tick(22)
    assert outcome is not None and outcome.votes == [(1, 1)]
    assert all(a.player_id != 2 for a in award_round(outcome))


def test_pass_is_refused_outside_a_round_and_outside_the_room() -> None:
    room = PuzzleRoom(RoomState("r"), TIMING)
    room.state.members[1] = "p1"
    refused("wrong_phase", pass_round, room, 1)
    room = playing(1)
    refused("not_in_room", pass_round, room, 9)


def test_a_new_round_forgets_the_passes() -> None:
    room = playing(1)
    pass_round(room, 1)
    room.start_round(puzzle(8), 100)
    assert room.state.passed == []


def test_reveal_lasts_its_reading_time_and_waits_for_scores() -> None:
    room = playing(1)
    room.add_explanation({"id": 11, "player_id": 1, "text": "x"})
    room.tick(60)
    assert room.state.reveal_min_until == 72 and room.state.deadline == 90
    assert not room.is_due(89)  # unscored: waits up to the bound
    room.record_score(11, 0.3)
    assert not room.is_due(71.9) and room.is_due(72)


def private_room(creator: int = 1) -> PuzzleRoom:
    room = PuzzleRoom(private_game.new_private_room("p-x", creator, rounds=3), TIMING)
    room.state.members.update({1: "ann", 2: "bob"})
    return room


def test_a_private_room_waits_for_its_creator() -> None:
    room = private_room()
    assert room.arm_lobby(0) == [] and not room.wants_puzzle(1000)
    refused("not_creator", private_game.start, room, 2, 5)  # bob is not the creator
    refused("not_creator", private_game.setup, room, 2, 30.0, None, None)
    assert room.state.held and room.state.deadline is None
    events = private_game.start(room, 1, 5)
    assert events[0]["type"] == "game_start" and room.wants_puzzle(5)
    refused("wrong_phase", private_game.start, room, 1, 6)  # pressing Start twice


def test_the_creator_sets_the_game_within_bounds_and_only_in_the_lobby() -> None:
    room = private_room()
    view = private_game.setup(room, 1, round_s=45, reveal_s=20, rounds=2)[0]
    assert (view["round_s"], view["reveal_s"], view["rounds"]) == (45, 20, 2)
    refused("bad_field", private_game.setup, room, 1, 5.0, None, None)  # round too short
    refused("bad_field", private_game.setup, room, 1, None, None, 0)
    refused("bad_field", private_game.setup, room, 1, None, 10_000.0, None)
    assert room.state.round_s == 45  # a refused change changes nothing
    private_game.start(room, 1, 0)
    room = roundtrip(room)
    room.start_round(puzzle(), 0)
    assert room.state.deadline == 45
    refused("wrong_phase", private_game.setup, room, 1, 30.0, None, None)
    room.tick(45)
    assert room.state.reveal_min_until == 65  # the room's own reading time


def test_an_ordinary_room_has_no_creator_to_start_or_skip() -> None:
    room = playing(1)
    refused("not_private", private_game.start, room, 1, 0)
    room.tick(60)
    refused("not_private", private_game.skip, room, 1, 61)


def test_skip_cuts_the_reading_time_but_not_the_wait_for_scores() -> None:
    room = private_room()
    private_game.start(room, 1, 0)
    room.start_round(puzzle(), 0)
    room.add_explanation({"id": 11, "player_id": 2, "text": "x"})
    refused("wrong_phase", private_game.skip, room, 1, 10)  # no result yet
    room.tick(60)
    refused("not_creator", private_game.skip, room, 2, 61)
    assert private_game.skip(room, 1, 61)[0]["type"] == "reveal_skipped"
    assert not room.is_due(62)  # the score is not in yet
    room.record_score(11, 0.5)
    assert room.is_due(62)


def test_a_game_of_two_rounds_ends_with_a_summary_and_holds_the_room() -> None:
    room = private_room()
    private_game.setup(room, 1, rounds=2)
    private_game.start(room, 1, 0)
    for n, (eid, score) in enumerate([(11, 0.4), (12, 0.7)]):
        room.start_round(puzzle(7 + n), 100 * n)
        room.add_explanation({"id": eid, "player_id": 2, "text": f"t{eid}", "player_name": "bob"})
        room.add_vote(1, eid)
        room.tick(100 * n + 60)
        room.record_score(eid, score)
        _, outcome = room.tick(100 * n + 72)
        assert outcome is not None
        awards = [a.to_json() for a in award_round(outcome)]
        events = private_game.end_of_round(room, awards)
        room = roundtrip(room)
    assert [e["type"] for e in events] == ["game_end"]
    end = events[0]
    assert end["rounds"] == 2 and end["best"]["id"] == 12 and end["best"]["score"] == 0.7
    assert end["share"] == "/neurons/minilm-l6-layer3/8#explanation-12"
    # bob: beat_best twice (+100) and first_explanation twice (+40); ann: top_vote twice (+20)
    assert end["totals"] == [
        {"player_id": 2, "name": "bob", "points": 140},
        {"player_id": 1, "name": "ann", "points": 20},
    ]
    assert room.state.held and not room.wants_puzzle(10_000)
    assert private_game.start(room, 1, 500)[0]["game_round"] == 0  # a new game starts clean
    assert room.state.totals == {} and room.state.best is None


def test_an_ordinary_room_never_ends_a_game() -> None:
    room = playing(1)
    room.tick(60)
    room.tick(72)
    assert private_game.end_of_round(room, []) == [] and not room.state.held
