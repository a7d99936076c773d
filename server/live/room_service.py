"""Puzzle rooms kept in Redis, safe with any number of web processes.

Membership (join, leave, rename) lives outside the state, in server/live/room_members.py, and
changes without the lock. Every other mutation takes the room's Redis lock
(server/live/room_lock.py: a short TTL renewed while the holder lives), loads the state, runs
one rules transition (rooms.puzzle_room), stores the state and appends the resulting events to
the room's versioned log (store.eventlog) before the lock is released, so the log's order is
the order of the transitions no matter which process made them. Writes under the lock are
fenced: a holder whose lock lapsed writes nothing. Database work runs in a thread so the event
loop never blocks on SQL. Points are settled from SQL (store/settlement.py), never from what a
pub/sub message says.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import anyio
import orjson
import redis
import redis.asyncio as aioredis
from redis.cluster import RedisCluster
from starlette.concurrency import run_in_threadpool

from config import keys
from config.errors import (
    ERR_ALREADY_SUBMITTED,
    ERR_BAD_FIELD,
    ERR_DOUBLE_VOTE,
    ERR_STALE_PUZZLE,
    ERR_WRONG_PHASE,
)
from config.settings import Settings
from rooms import private_game, round_flow
from rooms.blind import is_blind_room, redact
from rooms.points import Award
from rooms.puzzle_room import Puzzle, PuzzleRoom, RoomError, RoomState, Timing
from rooms.round_result import on_score, result_events
from server.live.earning import EarningSlots
from server.live.member_leases import MemberLeases
from server.live.room_expiry import expire_empty_room
from server.live.room_kinds import RoomKind, RoomKinds
from server.live.room_lock import FencedWrites, LockKeeper, RoomLock, held_token
from server.live.room_members import NO_CHANGE, RoomMembers
from server.live.room_rows import RoomRows, round_facts
from server.live.room_turns import RoomTurns
from store import eventlog
from store.db import Database
from workers.queues import default_queue
from workers.scoring import enqueue_scoring

T = TypeVar("T")
log = logging.getLogger(__name__)

# Waiting for a busy room's lock polls this often (redis-py's default, 0.1 s, made every
# contended move wait in tenths of a second).
LOCK_POLL_S = 0.005
# How long a move waits for the room (this process's turn, then the Redis lock) before failing.
LOCK_WAIT_S = 15.0
# Threads for the room's SQL (server/live/room_service.py ``_sql``), apart from the shared pool.
ROOM_SQL_THREADS = 8


def enqueue_embedding(r: redis.Redis, settings: Settings, explanation_id: int) -> None:
    """Semantic search finds a new explanation once its embedding exists (a cheap default-queue job)."""
    # At the front: an embedding takes milliseconds, and search must not wait behind a first
    # start's mining, seeding and rescoring jobs (270 once waited behind 146 rescores).
    default_queue(r, settings).enqueue(
        "workers.reference.embed_explanations_job", [explanation_id], at_front=True
    )


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
        self.members = RoomMembers(
            r, settings.room_member_events_max, settings.room_history, flush_s=settings.room_member_flush_s
        )
        self.turns = RoomTurns(wait_s=LOCK_WAIT_S)
        # The SQL of moves runs on threads of its own: a join storm's guest sessions fill the
        # shared pool, and a move waiting behind them would hold the room's lock meanwhile.
        self._sql_threads = anyio.CapacityLimiter(ROOM_SQL_THREADS)
        self.earning = EarningSlots(r, self.timing)
        # Started by the app (server/app.py): this process's lease, and the sweep of dead ones.
        # Room locks and this process's lease are renewed from threads (server/live/room_lock.py),
        # on a synchronous client of the Redis that holds the rooms.
        rooms_sync = self._rooms_sync()
        self.lock_keeper = LockKeeper(rooms_sync, settings.room_lock_ttl_s)
        self.leases = MemberLeases(
            r, self.members, settings.process_lease_s, on_empty=self._rest, r_sync=rooms_sync
        )
        self.fenced = FencedWrites(r)
        # Plain puzzle rooms unless the app registers more kinds (server/live/kinds.py).
        self.kinds = RoomKinds(RoomKind(self))
        # The rooms' SQL, run on the threads above (``_sql``); the clock as the service's now.
        self.rows = RoomRows(settings, db, r_sync, lambda: self.clock())

    def _rooms_sync(self) -> redis.Redis | RedisCluster:
        if self.settings.rooms_redis_cluster_url:
            return RedisCluster.from_url(self.settings.rooms_redis_cluster_url)
        return self.r_sync

    # -- state in Redis ----------------------------------------------------------------------
    async def load(self, room_id: str, members: bool | int = True) -> PuzzleRoom:
        """The room. ``members``: True reads the whole member list, False none (the clock needs
        none), a player id only that player (a move checks its own player: in a room of 1,000
        reading all of them for every vote was most of the vote's cost)."""
        room = self._room_of(room_id, await self.r.hget(keys.room_state(room_id), "state"))
        state = room.state
        if members is True:
            state.members = await self.members.all(room_id)
        elif members is not False:
            state.members = await self.members.only(room_id, members)
        return PuzzleRoom(state, self.timing)

    def _room_of(self, room_id: str, raw: bytes | None) -> PuzzleRoom:
        """The room from its saved state (``raw``: the state hash's ``state`` field)."""
        state = RoomState.from_json(orjson.loads(raw)) if raw else RoomState(room_id=room_id)
        return PuzzleRoom(state, self.timing)

    @staticmethod
    def saved(state: RoomState) -> bytes:
        data = state.to_json()
        del data["members"], data["conns"]  # kept in their own hashes, changed without the lock
        return orjson.dumps(data)

    @asynccontextmanager
    async def locked(self, room_id: str, members: bool | int = True) -> AsyncIterator[PuzzleRoom]:
        """The room under its lock; saved on a clean exit, left untouched on an exception.
        This process's callers take turns first (server/live/room_turns.py): one polls Redis."""
        async with self.turns.turn(room_id), self._redis_locked(room_id, members) as room:
            yield room

    @asynccontextmanager
    async def _redis_locked(self, room_id: str, members: bool | int = True) -> AsyncIterator[PuzzleRoom]:
        lock = RoomLock(self.r, room_id, self.lock_keeper, LOCK_POLL_S)
        await lock.acquire()
        try:
            room = await self.load(room_id, members)
            yield room
            await self._save(room, lock.token)
        finally:
            await lock.release()

    async def _save(self, room: PuzzleRoom, token: str) -> None:
        # The state is stored with the version it reflects, in one write: a snapshot read
        # while a transition's events are already in the log but its state is not yet saved
        # must not claim the newer version (the client would drop those events as seen).
        await self.fenced.save(room.state.room_id, self.saved(room.state), self.clock(), token)

    @asynccontextmanager
    async def locked_if_free(self, room_id: str) -> AsyncIterator[PuzzleRoom | None]:
        """Like ``locked``, but None at once when the lock is busy: for the clock's moves, which
        every process retries each tick anyway. A join storm must not queue on the lock for them."""
        if self.turns.busy(room_id):
            yield None
            return
        async with self.turns.turn(room_id), self._redis_locked_if_free(room_id) as room:
            yield room

    @asynccontextmanager
    async def _redis_locked_if_free(self, room_id: str) -> AsyncIterator[PuzzleRoom | None]:
        lock = RoomLock(self.r, room_id, self.lock_keeper)
        if not await lock.acquire(blocking=False):
            yield None
            return
        try:
            room = await self.load(room_id)
            yield room
            await self._save(room, lock.token)
        finally:
            await lock.release()

    async def _arm_lobby(self, room_id: str) -> None:
        async with self.locked_if_free(room_id) as room:
            if room is not None:
                await self.emit(room_id, room.arm_lobby(self.clock()))

    async def emit(self, room_id: str, events: list[dict[str, Any]]) -> None:
        """Append to the room's log; under the room's lock, only while that lock is still held.
        A blind room's events go without the explanations' texts (rooms/blind.py)."""
        token = held_token(room_id)
        if is_blind_room(room_id):
            events = [redact(event) for event in events]
        for event in events:
            if token is None:
                await eventlog.append_marked_async(self.r, room_id, event, history=self.settings.room_history)
            else:
                await self.fenced.append(room_id, event, self.settings.room_history, token)

    async def version(self, room_id: str) -> int:
        return int(await self.r.get(keys.room_version(room_id)) or 0)

    async def since(self, room_id: str, v: int) -> list[dict[str, Any]] | None:
        return await eventlog.since_async(self.r, room_id, v)

    async def snapshot(self, room_id: str, viewer: int | None = None) -> dict[str, Any]:
        """The full room for a (re)sync, with the version its state reflects (read together);
        in a blind room, as ``viewer`` may see it (their own texts only)."""
        # One round trip (a join storm's snapshots were four each). The members are read after
        # the version: one who joins meanwhile is listed and announced again (the client's
        # member map takes both), never missing.
        async with self.r.pipeline(transaction=False) as pipe:
            self._snapshot_into(pipe, room_id)
            snapshot, _ = await self._snapshot_from(room_id, await pipe.execute(), viewer)
        return snapshot

    def _snapshot_into(self, pipe: Any, room_id: str) -> None:
        pipe.hmget(keys.room_state(room_id), ["state", "v"])
        pipe.get(keys.room_version(room_id))
        self.members.some_into(pipe, room_id, self.settings.room_snapshot_members)

    async def _snapshot_from(
        self, room_id: str, replies: list[Any], viewer: int | None
    ) -> tuple[dict[str, Any], PuzzleRoom]:
        """The snapshot from the replies of ``_snapshot_into``, and the room it was made of."""
        listed = self.settings.room_snapshot_members
        (raw, saved_v), log_v, *members = replies
        if raw is None:  # no transition yet: nothing in the log changed the (empty) state
            room, v = PuzzleRoom(RoomState(room_id=room_id), self.timing), int(log_v or 0)
        else:
            room, v = PuzzleRoom(RoomState.from_json(orjson.loads(raw)), self.timing), int(saved_v or 0)
        room.state.members, member_count = await self.members.some_from(room_id, listed, members)
        missing = [eid for eid in room.state.written if eid not in room.state.scores]
        if missing:  # a score a worker stored whose event this room has not applied yet
            for eid, score in (await self._sql(self.rows.best_scores, missing)).items():
                room.record_score(eid, score)
        snapshot = {**room.snapshot(), "v": v, "member_count": member_count}
        for result in on_score(room):  # joining during the reveal: the result screen too
            snapshot["result"] = result
        snapshot["members"] = snapshot["members"][:listed]
        return (redact(snapshot, viewer) if is_blind_room(room_id) else snapshot), room

    # -- membership ------------------------------------------------------------------------
    async def join(self, room_id: str, player_id: int, name: str) -> None:
        """Membership only (one script; the room's keys stop expiring with the first member).
        The lobby's countdown starts on the room's next tick, which the hub runs at once after
        a join (server/hub/fanout.py ``tick_soon``): 1,000 joiners each reading the state to
        ask whether to arm it was a round trip and a parse per join."""
        await self.members.join_distinct(room_id, player_id, name)  # "alice (2)" beside "alice"

    async def join_synced(self, room_id: str, player_id: int, name: str) -> tuple[dict[str, Any], PuzzleRoom]:
        """``join``, and the joiner's snapshot read right after it in the same round trip (a join
        storm's joins were two round trips and the snapshot a third, issue 19), with the room it
        shows (whether its clock has work: ``tick_wanted``)."""
        _, _, replies = await self.members.join_reading(
            room_id, player_id, name, then=lambda pipe: self._snapshot_into(pipe, room_id)
        )
        return await self._snapshot_from(room_id, replies, player_id)

    def tick_wanted(self, room: PuzzleRoom) -> bool:
        """Could ``tick`` have work in a room in this state (arm the lobby, or a deadline passed)?"""
        return room.arm_lobby_wanted() or room.is_due(self.clock())

    async def leave(self, room_id: str, player_id: int, *, every_connection: bool = False) -> None:
        """One connection of the player leaves; ``every_connection``: a kick or a ban.

        One round trip unless the room has more to do: the leave, then the member count and
        the state it is checked against, read right after it in the same pipeline."""

        def reads(pipe: Any) -> None:
            pipe.hlen(keys.room_members(room_id))
            pipe.hget(keys.room_state(room_id), "state")

        changed, (count, raw) = await self.members.leave_reading(
            room_id, player_id, every_connection=every_connection, then=reads
        )
        if changed == NO_CHANGE:
            return
        if int(count) == 0:
            await self._rest(room_id)
        elif round_flow.could_all_be_done(self._room_of(room_id, raw), int(count)):
            # The one who left may have been the last one waited for.
            await self._end_when_all_done(room_id)

    async def _rest(self, room_id: str) -> None:
        """The room is empty (its last member left, or died with its process): it rests, and its
        keys expire unless someone joins (server/live/room_expiry.py)."""
        async with self.locked(room_id) as room:
            room.rest_if_empty()
        await expire_empty_room(self.r, room_id, self.settings.empty_room_ttl_s)

    async def forget_room(self, player_id: int) -> None:
        await self.r.delete(keys.player_room(player_id))

    async def last_room(self, player_id: int) -> str | None:
        raw = await self.r.get(keys.player_room(player_id))
        return raw.decode() if isinstance(raw, bytes) else raw

    async def rename(self, room_id: str, player_id: int, name: str) -> None:
        await self.members.rename(room_id, player_id, await self.members.distinct(room_id, player_id, name))

    # -- moves -----------------------------------------------------------------------------
    async def submit(
        self, room_id: str, player: dict[str, Any], text: str, *, neuron_id: int | None = None
    ) -> int:
        text = " ".join(text.split())
        if not text:
            raise RoomError(ERR_BAD_FIELD, "an explanation needs some words")
        player_id = int(player["id"])
        async with self.locked(room_id, members=player_id) as room:
            puzzle = room.check_submit(player_id)
            await self.earning.claim(player_id, room_id, room.state.deadline, self.clock())
            if neuron_id is not None and neuron_id != puzzle.neuron_id:
                raise RoomError(
                    ERR_STALE_PUZZLE, "that text was written for the last neuron; read the new clues first"
                )
            row = await self._sql(
                self.rows.create_explanation, puzzle.neuron_id, player_id, text, room_id, room.state.round_key
            )
            if row is None:  # stored by an earlier attempt whose process died before saving the room
                raise RoomError(ERR_ALREADY_SUBMITTED, "one explanation per player per round")
            # Queued before the room is saved: a process killed from here on leaves a row that
            # is scored anyway (and settled with its round, store/settlement.py).
            await self._sql(enqueue_scoring, self.r_sync, self.settings, row, room_id, int(player["id"]))
            explanation = {
                "id": row,
                "text": text,
                "player_id": player["id"],
                # As the room shows the player ("alice (2)" beside another alice).
                "player_name": room.state.members.get(player_id, player["name"]),
                "neuron_id": puzzle.neuron_id,
                "score": None,
            }
            await self.emit(room_id, room.add_explanation(explanation))
        await run_in_threadpool(enqueue_embedding, self.r_sync, self.settings, row)
        await self.end_if_all_done(room_id)
        return row

    async def vote(self, room_id: str, player_id: int, explanation_id: int) -> None:
        """One vote per player per round: a second one moves the first (until the round ends)."""
        async with self.locked(room_id, members=player_id) as room:
            room.check_vote(player_id, explanation_id)
            await self.earning.claim(player_id, room_id, room.state.deadline, self.clock())
            moved = await self._sql(self.rows.cast_vote, explanation_id, player_id, room.state.round_key)
            if moved is False:
                raise RoomError(ERR_DOUBLE_VOTE, "you already voted for this explanation")
            await self.emit(room_id, room.add_vote(player_id, explanation_id))
        await self.end_if_all_done(room_id)

    async def pass_round(self, room_id: str, player_id: int) -> None:
        async with self.locked(room_id, members=player_id) as room:
            await self.emit(room_id, round_flow.pass_round(room, player_id))
        await self.end_if_all_done(room_id)

    async def end_if_all_done(self, room_id: str) -> None:
        """Reveal now when every connected player is done (rooms/round_flow.py).

        Cheap when they are not: the done players are counted against the member count first,
        and the member list is read only when the count could match."""
        room = await self.load(room_id, members=False)
        if round_flow.could_all_be_done(room, await self.members.count(room_id)):
            await self._end_when_all_done(room_id)

    async def _end_when_all_done(self, room_id: str) -> None:
        async with self.locked(room_id, members=False) as room:
            connected = set(await self.members.all(room_id))  # under the lock: nobody slips in
            revealed = round_flow.end_if_all_done(room, connected, self.clock())
            await self.emit(room_id, result_events(room, revealed, []))  # + the result screen

    async def record_score(self, room_id: str, explanation_id: int) -> float | None:
        """Apply an explanation's stored score (a ``score`` event only says one was stored: its
        payload is never trusted). Returns the stored score, None when there is none."""
        stored = (await run_in_threadpool(self.rows.best_scores, [explanation_id])).get(explanation_id)
        if stored is None:
            return None
        async with self.locked(room_id) as room:
            if room.record_score(explanation_id, stored):
                await self.emit(room_id, on_score(room))  # the reveal's result, updated
        await self.tick(room_id)  # the last score may end the reveal
        return stored

    async def test_text_target(self, room_id: str) -> tuple[str, int]:
        """(campaign, neuron index) of the room's puzzle, for advanced mode."""
        room = await self.load(room_id, members=False)
        if room.state.puzzle is None:
            raise RoomError(ERR_WRONG_PHASE, "there is no puzzle in this room yet")
        return room.state.puzzle.campaign, room.state.puzzle.neuron_index

    # -- the clock -------------------------------------------------------------------------
    async def tick(self, room_id: str) -> float | None:
        """Advance the room if its deadline passed; cheap (no lock) when nothing is due.

        Returns when the room's clock next has work while its state stays as read (inf: not
        before a change), or None when this tick moved it or could not tell: the hub skips
        the room's periodic ticks until then (server/hub/fanout.py)."""
        room = await self.load(room_id, members=False)
        if room.arm_lobby_wanted():
            # The first join's tick arms it (and this heals a join that raced the last leave);
            # with no lobby wait the round is due at once, so the tick goes on.
            if not await self.members.count(room_id):
                return None
            await self._arm_lobby(room_id)
            room = await self.load(room_id, members=False)
            if room.arm_lobby_wanted():  # not armed (the lock was busy): the next tick tries
                return None
        if self.turns.busy(room_id):
            return None
        if not room.is_due(self.clock()):
            return room.due_at()
        # The puzzle is picked before the lock is taken: a pick is SQL over every member's
        # history, and 200 rooms starting their rounds at once (a join storm) queued their picks
        # on the room SQL threads while holding their locks, past the moves' 15 s wait.
        picked: list[Puzzle | None] = []  # empty: not picked yet
        if room.wants_puzzle(self.clock()):
            members = list(await self.members.all(room_id))
            picked.append(
                await self._sql(
                    self.rows.pick_puzzle,
                    self.kinds.of(room_id),
                    members,
                    room.state.recent,
                    room_id,
                    room.state.campaign,
                )
            )
        async with self.locked_if_free(room_id) as locked_room:
            if locked_room is None:
                return None  # another task is moving the room; the next tick tries again
            room = locked_room
            for _ in range(4):  # reveal -> lobby -> next puzzle can happen in one tick
                now = self.clock()
                if room.wants_puzzle(now):
                    if picked:
                        puzzle = picked.pop()
                    else:  # the round ended and the next begins within this tick: pick here
                        puzzle = await self._sql(
                            self.rows.pick_puzzle,
                            self.kinds.of(room_id),
                            list(room.state.members),
                            room.state.recent,
                            room_id,
                            room.state.campaign,
                        )
                    if puzzle is None:
                        reason = self.kinds.of(room_id).no_puzzle_reason(room_id, room.state.campaign)
                        await self.emit(room_id, room.no_puzzle(now, reason))
                    else:
                        await self.emit(room_id, room.start_round(puzzle, now))
                    continue
                events, outcome = room.tick(now)
                if not events:
                    break
                awards: list[Award] = []
                if outcome is not None and room.state.puzzle is not None:
                    # Points are stored before anything is announced: when the database is down
                    # this raises, nothing is said or saved, and a later tick ends the round
                    # (the claims make a second settlement store nothing twice).
                    facts = round_facts(room)
                    awards, orphans = await self._sql(self.rows.settle, facts)
                    if awards:
                        points = {"type": "points", "round": room.state.round_no}
                        events = [*events, {**points, "awards": [a.to_json() for a in awards]}]
                    for eid in orphans:  # written by a process that died before saving the room
                        await self._sql(enqueue_scoring, self.r_sync, self.settings, eid, room_id)
                    # A private room's game counts the round (or ends with its summary).
                    events = [*events, *private_game.end_of_round(room, [a.to_json() for a in awards])]
                await self.emit(room_id, result_events(room, events, awards))
        return None

    # -- database, run in threads ------------------------------------------------------------
    async def _sql(self, fn: Callable[..., T], *args: Any) -> T:
        return await anyio.to_thread.run_sync(fn, *args, limiter=self._sql_threads)

    async def room_campaign(self, name: str | None) -> tuple[str | None, str | None]:
        """(campaign, what its puzzles are called) for a room being made to play ``name``;
        None: the default campaign (its word when it is there). RoomError names the installed
        campaigns when ``name`` is not one of them."""
        return await self._sql(self.rows.room_campaign, name)

    def puzzle_for(self, neuron_id: int) -> Puzzle | None:
        """One neuron as a puzzle; a team match plays given neurons (``RoomRows.puzzle_for``)."""
        return self.rows.puzzle_for(neuron_id)
