"""The audience of streamer rooms: votes as counters, and one ``tally`` per interval.

An audience vote is not a room event (5,000 watchers voting would mean 25 million messages):
it is one SADD (one vote each per round), one row in SQL (``Vote.audience``; the unique
constraint keeps one vote per person per explanation; votes arriving together share a commit,
server/live/audience_votes.py) and one HINCRBY on the round's tally. Each web process runs one
``TallyPusher``: every ``streamer_tally_interval_s`` it reads the tallies of the streamer rooms
it has connections in and, when they changed, hands one ``tally`` event to each of its local
connections of that room. So a client gets at most one tally per interval however many votes
arrive, every process pushes from the same Redis counts, and no process has to coordinate with
another.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from config import keys
from rooms.puzzle_room import Phase, RoomError
from server.hub.fanout import Hub
from server.live.streamer_service import StreamerService
from server.wire import protocol as p

log = logging.getLogger(__name__)

# Tallies and voter sets outlive their round by this much (a late reader still finds them).
TALLY_TTL_S = 6 * 3600


async def audience_vote(streamer: StreamerService, room_id: str, player_id: int, explanation_id: int) -> int:
    """Count one audience vote; returns the round. Refusals raise RoomError and count nothing."""
    room = await streamer.rooms.load(room_id, members=False)  # a vote needs no member list
    s = room.state
    if s.phase is not Phase.ROUND or s.puzzle is None:
        raise RoomError(p.ERR_WRONG_PHASE, f"the room is in its {s.phase.value}; vote during a round")
    authors = {int(e["id"]): e.get("player_id") for e in s.puzzle.shown}
    authors.update({eid: e.get("player_id") for eid, e in s.written.items()})
    if explanation_id not in authors:
        raise RoomError(p.ERR_NOT_FOUND, f"explanation {explanation_id} is not part of this puzzle")
    if authors[explanation_id] == player_id:  # e.g. a player who left and came back to watch
        raise RoomError(p.ERR_OWN_VOTE, "you cannot vote for your own explanation")
    r, round_no = streamer.r, s.round_no
    voters = keys.room_audience_voters(room_id, round_no)
    if not await r.sadd(voters, player_id):
        raise RoomError(p.ERR_DOUBLE_VOTE, "the audience has one vote each per round")
    try:
        stored = await streamer.votes.submit((explanation_id, player_id))
    except Exception:
        await r.srem(voters, player_id)
        raise
    if not stored:
        await r.srem(voters, player_id)  # voted for it in an earlier round: keep this round's vote
        raise RoomError(p.ERR_DOUBLE_VOTE, "you already voted for this explanation")
    tally = keys.room_tally(room_id, round_no)
    async with r.pipeline(transaction=False) as pipe:
        pipe.hincrby(tally, str(explanation_id), 1)
        pipe.expire(tally, TALLY_TTL_S)
        pipe.expire(voters, TALLY_TTL_S)
        await pipe.execute()
    return round_no


async def read_tally(streamer: StreamerService, room_id: str) -> dict[str, Any]:
    """The room's current tally event (the round's audience votes and the crowd count)."""
    room = await streamer.rooms.load(room_id, members=False)
    round_no = room.state.round_no
    r = streamer.r
    async with r.pipeline(transaction=False) as pipe:
        pipe.hgetall(keys.room_tally(room_id, round_no))
        pipe.scard(keys.room_audience_voters(room_id, round_no))
        pipe.get(keys.room_audience_count(room_id))
        counts, voters, audience = await pipe.execute()
    votes = {(k.decode() if isinstance(k, bytes) else k): int(v) for k, v in counts.items()}
    # Removed explanations drop out of the tally as they drop out of the room.
    listed = {str(e["id"]) for e in (room.state.puzzle.shown if room.state.puzzle else [])}
    listed |= {str(eid) for eid in room.state.written}
    votes = {eid: n for eid, n in sorted(votes.items()) if eid in listed}
    return {
        "type": "tally",
        "room": room_id,
        "round": round_no,
        "votes": votes,
        "voters": int(voters),
        "audience": max(0, int(audience or 0)),
    }


class TallyPusher:
    """One per web process: pushes each streamer room's tally to local connections when it changed."""

    def __init__(self, hub: Hub, streamer: StreamerService, interval_s: float) -> None:
        self.hub, self.streamer, self.interval_s = hub, streamer, interval_s
        self.rooms: set[str] = set()  # streamer rooms with connections here (their kind's admit adds them)
        self._last: dict[str, dict[str, Any]] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            for room_id in list(self.rooms):
                if room_id not in self.hub.rooms:  # nobody here any more
                    self.rooms.discard(room_id)
                    self._last.pop(room_id, None)
                    continue
                try:
                    await self.push(room_id)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("pushing the tally of room %s", room_id)

    async def push(self, room_id: str) -> bool:
        event = await read_tally(self.streamer, room_id)
        if event == self._last.get(room_id):
            return False
        self._last[room_id] = event
        for conn in list(self.hub.rooms.get(room_id, ())):
            conn.deliver_private(event)
        return True
