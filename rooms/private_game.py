"""A private room's game: a lobby its creator controls, a number of rounds, a summary at the end.

The room opens held (rooms/puzzle_room.py: a held lobby's clock stands still). Only its creator
may change its settings (round length, result time, number of rounds) and only while no game
runs; only the creator presses Start, which lets the clock run and asks for a puzzle at once.
During a result (the reveal) the creator may skip the reading time: the result then ends as
soon as the round's scores are in (never before: a skip does not cut the wait for scores).
After the last round the room is held again and a ``game_end`` event carries the summary:
each player's points over the game, the best explanation and a link to share it.
Pure rules: time and the awarded points are passed in.
"""

from __future__ import annotations

from typing import Any

from config.errors import ERR_BAD_FIELD, ERR_NOT_CREATOR, ERR_NOT_PRIVATE, ERR_WRONG_PHASE
from rooms.puzzle_room import Phase, PuzzleRoom, RoomError, RoomState

# What a creator may choose (seconds, rounds); the defaults are the room service's Timing.
ROUND_S_RANGE = (20.0, 900.0)
REVEAL_S_RANGE = (3.0, 120.0)
ROUNDS_RANGE = (1, 50)


def new_private_room(
    room_id: str, creator: int, rounds: int, campaign: str | None = None, word: str | None = None
) -> RoomState:
    """A held private room of ``creator``, playing ``campaign`` (None: the default one) whose
    puzzles are called ``word``."""
    return RoomState(
        room_id=room_id, creator=creator, held=True, rounds=rounds, campaign=campaign, campaign_word=word
    )


def _check_creator(room: PuzzleRoom, player_id: int) -> None:
    s = room.state
    if s.creator is None:
        raise RoomError(ERR_NOT_PRIVATE, "only a private room has a creator who runs the game")
    if player_id != s.creator:
        raise RoomError(ERR_NOT_CREATOR, "only the room's creator can do that")


def _in_range(name: str, value: float, bounds: tuple[float, float]) -> None:
    low, high = bounds
    if not low <= value <= high:
        raise RoomError(ERR_BAD_FIELD, f"{name}: {low:g} to {high:g}")


def setup(
    room: PuzzleRoom,
    player_id: int,
    round_s: float | None = None,
    reveal_s: float | None = None,
    rounds: int | None = None,
) -> list[dict[str, Any]]:
    """The creator changes the game's settings in the lobby (fields left out stay as they are)."""
    _check_creator(room, player_id)
    s = room.state
    if not (s.phase is Phase.LOBBY and s.held):
        raise RoomError(ERR_WRONG_PHASE, "settings change in the lobby, before the game starts")
    if round_s is not None:
        _in_range("round_s", round_s, ROUND_S_RANGE)
    if reveal_s is not None:
        _in_range("reveal_s", reveal_s, REVEAL_S_RANGE)
    if rounds is not None:
        _in_range("rounds", rounds, ROUNDS_RANGE)
    s.round_s = s.round_s if round_s is None else float(round_s)
    s.reveal_min_s = s.reveal_min_s if reveal_s is None else float(reveal_s)
    s.rounds = s.rounds if rounds is None else int(rounds)
    return [{"type": "game_setup", **room.game_view()}]


def start(room: PuzzleRoom, player_id: int, now: float) -> list[dict[str, Any]]:
    """The creator starts the game: the clock runs and the first puzzle is asked for at once."""
    _check_creator(room, player_id)
    s = room.state
    if not (s.phase is Phase.LOBBY and s.held):
        raise RoomError(ERR_WRONG_PHASE, "the game is already running")
    s.held, s.deadline = False, now
    s.game_round, s.totals, s.names, s.best = 0, {}, {}, None
    return [{"type": "game_start", **room.game_view()}]


def skip(room: PuzzleRoom, player_id: int, now: float) -> list[dict[str, Any]]:
    """The creator skips the rest of the result's reading time (the wait for scores stays)."""
    _check_creator(room, player_id)
    s = room.state
    if s.phase is not Phase.REVEAL:
        raise RoomError(ERR_WRONG_PHASE, "there is no result to skip right now")
    s.reveal_min_until = min(s.reveal_min_until or now, now)
    return [{"type": "reveal_skipped", "round": s.round_no, "by": player_id}]


def end_of_round(room: PuzzleRoom, awards: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Count a finished round into the game; after the last round, hold the room and sum up.

    Call it after ``tick`` moved the room from its reveal to the lobby, with the round's
    awards (``Award.to_json()``). Rooms without a creator play on forever: nothing happens."""
    s = room.state
    if s.creator is None or s.held:
        return []
    s.game_round += 1
    s.names.update(s.members)
    for player_id in s.members:
        s.totals.setdefault(player_id, 0)
    for award in awards:
        pid = int(award["player_id"])
        s.totals[pid] = s.totals.get(pid, 0) + int(award["amount"])
    for eid, explanation in s.written.items():
        score = s.scores.get(eid)
        if score is not None and (s.best is None or score > float(s.best["score"])):
            s.best = _best_entry(room, eid, explanation, score)
    if s.rounds is None or s.game_round < s.rounds:
        return []
    s.held, s.deadline = True, None
    return [summary(room)]


def _best_entry(room: PuzzleRoom, eid: int, explanation: dict[str, Any], score: float) -> dict[str, Any]:
    puzzle = room.state.puzzle
    assert puzzle is not None
    return {
        "id": eid,
        "text": explanation.get("text"),
        "player_id": explanation.get("player_id"),
        "player_name": explanation.get("player_name"),
        "score": score,
        "round": room.state.round_no,
        "neuron": puzzle.neuron(),
        # The neuron's public page, where every explanation of it is listed (client/neuron.html).
        "share": f"/neurons/{puzzle.campaign}/{puzzle.neuron_index}#explanation-{eid}",
    }


def summary(room: PuzzleRoom) -> dict[str, Any]:
    s = room.state
    totals = [
        {"player_id": pid, "name": s.names.get(pid, s.members.get(pid, "")), "points": points}
        for pid, points in s.totals.items()
    ]
    totals.sort(key=lambda t: (-t["points"], t["player_id"]))
    return {
        "type": "game_end",
        "rounds": s.game_round,
        "totals": totals,
        "best": s.best,
        "share": s.best["share"] if s.best else None,
    }
