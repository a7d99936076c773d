"""When a round may end before its clock: every connected player is done.

A player is done with a round when they have submitted AND voted, or when they passed. A pass
says "I am done" (nothing to add, nothing I want to vote for); it is not a vote and earns
nothing. Only connected players count: the room service passes the ids of the players who
hold a connection (server/live/room_members.py), so a player who closed the tab does not
hold the others up. Pure rules, like rooms/puzzle_room.py: time is passed in.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from config.errors import ERR_NOT_IN_ROOM, ERR_WRONG_PHASE
from rooms.puzzle_room import Phase, PuzzleRoom, RoomError


def pass_round(room: PuzzleRoom, player_id: int) -> list[dict[str, Any]]:
    """The player is done with this round; passing twice changes nothing."""
    s = room.state
    if player_id not in s.members:
        raise RoomError(ERR_NOT_IN_ROOM, "join a room first")
    if s.phase is not Phase.ROUND:
        raise RoomError(ERR_WRONG_PHASE, f"the room is in its {s.phase.value}; a pass is for a round")
    if player_id in s.passed:
        return []
    s.passed.append(player_id)
    return [{"type": "passed", "round": s.round_no, "player_id": player_id}]


def done_players(room: PuzzleRoom) -> set[int]:
    """Players done with the round: passed, or submitted and voted."""
    s = room.state
    authors = {int(e["player_id"]) for e in s.written.values()}
    voters = {voter for voter, _ in s.votes}
    return set(s.passed) | (authors & voters)


def could_all_be_done(room: PuzzleRoom, connected: int) -> bool:
    """A cheap first check (no member list): fewer done players than connected ones means no."""
    s = room.state
    return s.phase is Phase.ROUND and connected > 0 and len(done_players(room)) >= connected


def end_if_all_done(room: PuzzleRoom, connected: Collection[int], now: float) -> list[dict[str, Any]]:
    """Reveal now when every connected player is done; otherwise nothing happens.

    ``connected``: ids of the players holding a connection. Nobody connected ends nothing (an
    empty room is not a finished one: its clock runs on)."""
    s = room.state
    if s.phase is not Phase.ROUND or not connected or s.held:
        return []
    if not set(connected) <= done_players(room):
        return []
    s.deadline = now
    events, _ = room.tick(now)
    for event in events:
        if event["type"] == "reveal":
            event["early"] = True
    return events
