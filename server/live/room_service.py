"""Puzzle rooms kept in Redis, safe with any number of web processes.

Membership (join, leave, rename) lives outside the state, in server/live/room_members.py, and
changes without the lock. Every other mutation takes the room's Redis lock
(config.keys.room_lock), loads the state, runs one rules transition (rooms.puzzle_room),
stores the state and appends the resulting events to the room's versioned log
(store.eventlog) before the lock is released, so the log's order is the order of the
transitions no matter which process made them. Database work runs in a thread so the event
loop never blocks on SQL.
"""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import orjson
import redis
import redis.asyncio as aioredis
from starlette.concurrency import run_in_threadpool

from config import keys
from config.errors import ERR_BAD_FIELD, ERR_DOUBLE_VOTE, ERR_WRONG_PHASE
from config.settings import Settings
from rooms.points import award_round
from rooms.puzzle_room import Puzzle, PuzzleRoom, RoomError, RoomState, Timing
from server.live.room_expiry import expire_empty_room, keep_room
from server.live.room_kinds import RoomKind, RoomKinds
from server.live.room_members import NO_CHANGE, RoomMembers
from store import eventlog
from store.competition.awarding import record_awards
from store.db import Database
from store.explanations import add_vote, best_scores, create_explanation, neuron_history
from store.puzzles import neuron_clues
from workers.queues import default_queue
from workers.scoring import enqueue_scoring

# How long the server remembers a player's room for a reconnect with ``since``.
PLAYER_ROOM_TTL_S = 6 * 3600
# Waiting for a busy room's lock polls this often (redis-py's default, 0.1 s, made every
# contended move wait in tenths of a second).
LOCK_POLL_S = 0.005


def enqueue_embedding(r: redis.Redis, settings: Settings, explanation_id: int) -> None:
    """Semantic search finds a new explanation once its embedding exists (a cheap default-queue job)."""
    default_queue(r, settings).enqueue("workers.reference.embed_explanations_job", [explanation_id])


class RoomService:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        r: aioredis.Redis,
        r_sync: redis.Redis,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.settings, self.db, self.r, self.r_sync = settings, db, r, r_sync
        self.clock = clock
        self.rng = rng or random.Random()
        self.timing = Timing(
            lobby_s=settings.room_lobby_s,
            round_s=settings.room_round_s,
            reveal_s=settings.room_reveal_s,
            reveal_min_s=settings.room_reveal_min_s,
        )
        self.members = RoomMembers(r, settings.room_member_events_max, settings.room_history)
        # Plain puzzle rooms unless the app registers more kinds (server/live/kinds.py).
        self.kinds = RoomKinds(RoomKind(self))

    # -- state in Redis ----------------------------------------------------------------------
    async def load(self, room_id: str, members: bool | int = True) -> PuzzleRoom:
        """The room. ``members``: True reads the whole member list, False none (the clock needs
        none), a player id only that player (a move checks its own player: in a room of 1,000
        reading all of them for every vote was most of the vote's cost)."""
        raw = await self.r.hget(keys.room_state(room_id), "state")
        state = RoomState.from_json(orjson.loads(raw)) if raw else RoomState(room_id=room_id)
        if members is True:
            state.members = await self.members.all(room_id)
        elif members is not False:
            state.members = await self.members.only(room_id, members)
        return PuzzleRoom(state, self.timing)

    @staticmethod
    def _saved(state: RoomState) -> bytes:
        data = state.to_json()
        del data["members"], data["conns"]  # kept in their own hashes, changed without the lock
        return orjson.dumps(data)

    @asynccontextmanager
    async def locked(self, room_id: str, members: bool | int = True) -> AsyncIterator[PuzzleRoom]:
        """The room under its lock; saved on a clean exit, left untouched on an exception."""
        lock = self.r.lock(keys.room_lock(room_id), timeout=15, sleep=LOCK_POLL_S, blocking_timeout=15)
        async with lock:
            room = await self.load(room_id, members)
            yield room
            await self._save(room)

    async def _save(self, room: PuzzleRoom) -> None:
        # The state is stored with the version it reflects, in one write: a snapshot read
        # while a transition's events are already in the log but its state is not yet saved
        # must not claim the newer version (the client would drop those events as seen).
        room_id = room.state.room_id
        v = await self.version(room_id)
        await self.r.hset(keys.room_state(room_id), mapping={"state": self._saved(room.state), "v": v})
        await self.r.zadd(keys.rooms_index(), {room_id: self.clock()})

    @asynccontextmanager
    async def locked_if_free(self, room_id: str) -> AsyncIterator[PuzzleRoom | None]:
        """Like ``locked``, but None at once when the lock is busy: for the clock's moves, which
        every process retries each tick anyway. A join storm must not queue on the lock for them."""
        lock = self.r.lock(keys.room_lock(room_id), timeout=15)
        if not await lock.acquire(blocking=False):
            yield None
            return
        try:
            room = await self.load(room_id)
            yield room
            await self._save(room)
        finally:
            await lock.release()

    async def _arm_lobby(self, room_id: str) -> None:
        async with self.locked_if_free(room_id) as room:
            if room is not None:
                await self.emit(room_id, room.arm_lobby(self.clock()))

    async def emit(self, room_id: str, events: list[dict[str, Any]]) -> None:
        for event in events:
            await eventlog.append_async(self.r, room_id, event, history=self.settings.room_history)

    async def version(self, room_id: str) -> int:
        return int(await self.r.get(keys.room_version(room_id)) or 0)

    async def since(self, room_id: str, v: int) -> list[dict[str, Any]] | None:
        return await eventlog.since_async(self.r, room_id, v)

    async def snapshot(self, room_id: str) -> dict[str, Any]:
        """The full room for a (re)sync, with the version its state reflects (read together)."""
        raw, saved_v = await self.r.hmget(keys.room_state(room_id), ["state", "v"])
        if raw is None:  # no transition yet: nothing in the log changed the (empty) state
            room, v = PuzzleRoom(RoomState(room_id=room_id), self.timing), await self.version(room_id)
        else:
            room, v = PuzzleRoom(RoomState.from_json(orjson.loads(raw)), self.timing), int(saved_v or 0)
        # Read after the version: a member who joins meanwhile is listed and announced again
        # (the client's member map takes both), never missing.
        room.state.members = await self.members.all(room_id)
        missing = [eid for eid in room.state.written if eid not in room.state.scores]
        if missing:  # a score a worker stored whose event this room has not applied yet
            for eid, score in (await run_in_threadpool(self._best_scores, missing)).items():
                room.record_score(eid, score)
        snapshot = {**room.snapshot(), "v": v, "member_count": len(room.state.members)}
        snapshot["members"] = snapshot["members"][: self.settings.room_snapshot_members]
        return snapshot

    # -- membership ------------------------------------------------------------------------
    async def join(self, room_id: str, player_id: int, name: str) -> None:
        changed = await self.members.join(room_id, player_id, name) != NO_CHANGE
        if changed:
            await keep_room(self.r, room_id)  # no longer empty: its keys stop expiring
        if changed and (await self.load(room_id, members=False)).arm_lobby_wanted():
            await self._arm_lobby(room_id)  # the first one in starts the lobby clock
        await self.r.set(keys.player_room(player_id), room_id, ex=PLAYER_ROOM_TTL_S)

    async def leave(self, room_id: str, player_id: int, *, every_connection: bool = False) -> None:
        """One connection of the player leaves; ``every_connection``: a kick or a ban."""
        changed = await self.members.leave(room_id, player_id, every_connection=every_connection)
        if changed != NO_CHANGE and await self.members.count(room_id) == 0:
            async with self.locked(room_id) as room:
                room.rest_if_empty()
            await expire_empty_room(self.r, room_id, self.settings.empty_room_ttl_s)

    async def forget_room(self, player_id: int) -> None:
        await self.r.delete(keys.player_room(player_id))

    async def last_room(self, player_id: int) -> str | None:
        raw = await self.r.get(keys.player_room(player_id))
        return raw.decode() if isinstance(raw, bytes) else raw

    async def rename(self, room_id: str, player_id: int, name: str) -> None:
        await self.members.rename(room_id, player_id, name)

    # -- moves -----------------------------------------------------------------------------
    async def submit(self, room_id: str, player: dict[str, Any], text: str) -> int:
        text = " ".join(text.split())
        if not text:
            raise RoomError(ERR_BAD_FIELD, "an explanation needs some words")
        async with self.locked(room_id, members=int(player["id"])) as room:
            puzzle = room.check_submit(int(player["id"]))
            row = await run_in_threadpool(
                self._create_explanation, puzzle.neuron_id, int(player["id"]), text, room_id
            )
            explanation = {
                "id": row,
                "text": text,
                "player_id": player["id"],
                "player_name": player["name"],
                "neuron_id": puzzle.neuron_id,
                "score": None,
            }
            await self.emit(room_id, room.add_explanation(explanation))
        await run_in_threadpool(enqueue_scoring, self.r_sync, self.settings, row, room_id)
        await run_in_threadpool(enqueue_embedding, self.r_sync, self.settings, row)
        return row

    async def vote(self, room_id: str, player_id: int, explanation_id: int) -> None:
        async with self.locked(room_id, members=player_id) as room:
            room.check_vote(player_id, explanation_id)
            if not await run_in_threadpool(self._add_vote, explanation_id, player_id):
                raise RoomError(ERR_DOUBLE_VOTE, "you already voted for this explanation")
            await self.emit(room_id, room.add_vote(player_id, explanation_id))

    async def record_score(self, room_id: str, explanation_id: int, score: float) -> None:
        async with self.locked(room_id) as room:
            room.record_score(explanation_id, score)
        await self.tick(room_id)  # the last score may end the reveal

    async def test_text_target(self, room_id: str) -> tuple[str, int]:
        """(campaign, neuron index) of the room's puzzle, for advanced mode."""
        room = await self.load(room_id, members=False)
        if room.state.puzzle is None:
            raise RoomError(ERR_WRONG_PHASE, "there is no puzzle in this room yet")
        return room.state.puzzle.campaign, room.state.puzzle.neuron_index

    # -- the clock -------------------------------------------------------------------------
    async def tick(self, room_id: str) -> None:
        """Advance the room if its deadline passed; cheap (no lock) when nothing is due."""
        room = await self.load(room_id, members=False)
        if room.arm_lobby_wanted():
            # Normally the first join armed it; this also heals a join that raced the last leave.
            if await self.members.count(room_id):
                await self._arm_lobby(room_id)
            return
        if not room.is_due(self.clock()):
            return
        async with self.locked_if_free(room_id) as locked_room:
            if locked_room is None:
                return  # another task is moving the room; the next tick tries again
            room = locked_room
            for _ in range(4):  # reveal -> lobby -> next puzzle can happen in one tick
                now = self.clock()
                if room.wants_puzzle(now):
                    puzzle = await run_in_threadpool(
                        self._pick_puzzle, list(room.state.members), room.state.recent, room_id
                    )
                    if puzzle is None:
                        campaign = self.settings.default_campaign
                        await self.emit(
                            room_id, room.no_puzzle(now, f"no puzzles in campaign {campaign!r} yet")
                        )
                    else:
                        await self.emit(room_id, room.start_round(puzzle, now))
                    continue
                events, outcome = room.tick(now)
                if not events:
                    break
                awards = award_round(outcome) if outcome is not None and room.state.puzzle else []
                if awards:
                    # Points are stored before anything is announced: when the database is down
                    # this raises, nothing is said or saved, and a later tick ends the round.
                    assert room.state.puzzle is not None
                    rows = [(a.player_id, a.amount, a.reason, a.explanation_id) for a in awards]
                    await run_in_threadpool(self._add_points, rows, room.state.puzzle.neuron_id, room_id)
                    points = {"type": "points", "round": room.state.round_no}
                    events = [*events, {**points, "awards": [a.to_json() for a in awards]}]
                await self.emit(room_id, events)

    # -- database, run in threads ------------------------------------------------------------
    def _create_explanation(self, neuron_id: int, player_id: int, text: str, room_id: str) -> int:
        with self.db.session() as s:
            return int(create_explanation(s, neuron_id, player_id, text, room_id).id or 0)

    def _add_vote(self, explanation_id: int, player_id: int) -> bool:
        with self.db.session() as s:
            return add_vote(s, explanation_id, player_id)

    def _best_scores(self, explanation_ids: list[int]) -> dict[int, float]:
        with self.db.session() as s:
            return best_scores(s, explanation_ids)

    def _add_points(self, rows: list[tuple[int, int, str, int | None]], neuron_id: int, room_id: str) -> None:
        with self.db.session() as s:
            record_awards(s, self.r_sync, self.settings, rows, neuron_id, room_id)

    def _pick_puzzle(self, member_ids: list[int], recent: list[int], room_id: str = "") -> Puzzle | None:
        now = datetime.fromtimestamp(self.clock(), UTC)
        with self.db.session() as s:
            neuron_id = self.kinds.of(room_id).pick_neuron(s, room_id, member_ids, recent, now)
        return self.puzzle_for(neuron_id) if neuron_id is not None else None

    def puzzle_for(self, neuron_id: int) -> Puzzle | None:
        """One neuron as a puzzle (clues, older explanations); a team match plays given neurons."""
        with self.db.session() as s:
            found = neuron_clues(s, neuron_id, self.settings.room_clues)
            if found is None:
                return None
            facts, clues = found
            shown, prior_best, prior_explained = neuron_history(
                s, int(facts["id"]), self.settings.room_shown_explanations
            )
        return Puzzle(
            neuron_id=int(facts["id"]),
            campaign=str(facts["campaign"]),
            neuron_index=int(facts["index"]),
            max_activation=float(facts["max_activation"]),
            clues=clues,
            shown=shown,
            prior_best=prior_best,
            prior_explained=prior_explained,
        )
