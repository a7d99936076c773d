"""The websocket hub of one web process: who is connected here, and fan-out from Redis.

The process subscribes to a room's channel while it holds at least one member of that room,
and to a player's channel while that player is connected here; one listener task forwards
what arrives to the local connections. A ticker advances the rooms that have members here
(several processes ticking the same room is safe: the room lock serialises them and a
transition that is not due is a no-op). A worker's ``score`` event is a signal, not a value:
the room applies the explanation's stored score (from SQL) as the event passes by, so the
reveal can end as soon as every explanation is scored, and a score published by anyone else
(a forged message on the room's channel) changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import orjson
import redis.asyncio as aioredis

from config import keys
from server.hub.channels import Channels, RoomsRedis
from server.hub.connection import Connection
from server.live.crowd import Crowds
from server.live.room_kinds import Way
from server.live.room_service import RoomService
from server.wire.protocol import CLOSE_HEARTBEAT_TIMEOUT, Broadcast

log = logging.getLogger(__name__)

TICK_S = 0.25
# A room whose clock has nothing to do for a while is still read this often (``_tick_room``).
TICK_RECHECK_S = 2.0
# Private events that take the player's connections out of the room they name.
SENDS_OUT = frozenset({"kicked", "daily_played"})


class Hub:
    """``r``: the rooms' Redis (a Redis Cluster client when configured); ``plain_r``: redis_url's,
    where workers publish players' private events (the same client when there is no cluster)."""

    def __init__(self, service: RoomService, r: RoomsRedis, plain_r: aioredis.Redis | None = None) -> None:
        self.service, self.r = service, r
        self.rooms: dict[str, set[Connection]] = {}
        self.players: dict[int, set[Connection]] = {}
        self._channels: dict[str, tuple[str, Any]] = {}  # channel -> ("room", id) | ("player", id)
        self._bus = Channels(r, plain_r if plain_r is not None else r)  # type: ignore[arg-type]
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[None]] = set()  # held so they are not collected mid-run
        self._ticking: set[str] = set()  # rooms whose clock a task of tick_soon is moving
        self._tick_again: set[str] = set()  # ... and that asked for another tick meanwhile
        self._due: dict[str, float] = {}  # room -> when its clock next has work (``_tick_room``)
        # room -> its channel's subscription, done or on its way (``_room_subscribed``)
        self._room_subs: dict[str, asyncio.Future[None]] = {}
        # What differs between room kinds (admission, hooks, ticks): server/live/room_kinds.py.
        self.kinds = service.kinds
        self.crowds = Crowds(r, service.settings.crowd_interval_s, self._count_players, self._emit_one)

    async def start(self) -> None:
        await self._bus.start(keys.player_channel("hub-idle"))
        self._tasks = [
            asyncio.create_task(self._listen()),
            asyncio.create_task(self._tick_loop()),
            asyncio.create_task(self._heartbeat_loop()),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.crowds.aclose()
        await self.service.members.aclose()  # joins and leaves not announced yet go out now
        with contextlib.suppress(Exception):
            await self._bus.aclose()

    @property
    def connection_count(self) -> int:
        return sum(len(conns) for conns in self.players.values())

    # -- registration ------------------------------------------------------------------------
    async def add_connection(self, conn: Connection) -> None:
        conns = self.players.setdefault(conn.player_id, set())
        if not conns:
            await self._subscribe(keys.player_channel(conn.player_id), ("player", conn.player_id))
        conns.add(conn)

    async def remove_connection(self, conn: Connection) -> None:
        await self.leave_room(conn)
        conns = self.players.get(conn.player_id, set())
        conns.discard(conn)
        if not conns:
            self.players.pop(conn.player_id, None)
            await self._unsubscribe(keys.player_channel(conn.player_id))

    async def join_room(
        self, conn: Connection, room_id: str, since: int | None = None, way: Way = Way.JOIN
    ) -> None:
        """Enter a room by any way in; the room's kind admits the connection first (RoomError)."""
        if conn.room_id == room_id and since is None:
            conn.request_sync(room_id, None)  # joining again just resyncs
            return
        kind = self.kinds.of(room_id)
        watching = await kind.admit(conn, room_id, way)
        await self.leave_room(conn)
        # Registered before the subscription is awaited: a concurrent leave of the room's last
        # other socket must not unsubscribe it under this joiner.
        self.rooms.setdefault(room_id, set()).add(conn)
        # Subscribed first and synced after the join: live events queued meanwhile are
        # skipped by the pump (last_v is None) but covered by the sync, so nothing is missed.
        conn.room_id, conn.last_v, conn.watching = room_id, None, watching
        synced = None  # a plain join's snapshot, read in the join's own round trip
        try:
            await self._room_subscribed(room_id)
        except BaseException:
            await self._unregister(conn)
            raise
        if watching is None:  # watchers (a streamer room's audience) are not members
            name = str(conn.player["name"])
            try:
                if since is None:
                    synced = await self.service.join_synced(room_id, conn.player_id, name)
                else:
                    await self.service.join(room_id, conn.player_id, name)
            except BaseException:
                # Not in the room after all: a connection left registered here but never
                # synced would drop every event of the room in silence (issue 19).
                await self._unregister(conn)
                raise
        if synced is not None:
            conn.request_sync(room_id, None, snapshot=synced[0])
        else:
            conn.request_sync(room_id, since)
        for event in await kind.snapshot(conn, room_id):
            conn.deliver_private(event)
        await kind.joined(conn, room_id)
        if watching is None:  # an audience's size travels in the streamer room's tally instead
            if not self._join_announced(synced):
                self.crowds.changed(room_id)
            # The room's clock moves at once when the join may start its round; the snapshot
            # shows the room after the join, so a join into a running round asks nothing more
            # of Redis (10,000 joins ran a tick each, issue 19). A kind with a clock of its own
            # (a match starts when its teams are present) is asked every time.
            if synced is None or kind.has_clock or self.service.tick_wanted(synced[1]):
                self.tick_soon(room_id)

    def _join_announced(self, synced: tuple[dict[str, Any], Any] | None) -> bool:
        """Whether the room's next ``members`` event tells this join with the room's size
        (``count``): a room small enough to announce its members needs no ``crowd`` for it.
        A ``crowd`` per room fill went to every member: ~1 frame and 4 Redis commands per
        connect of a 10,000-socket storm, 2.03x -> 1.87x the bare server's time (issue 19)."""
        if synced is None:  # a resync join: no count at hand, the crowd count as before
            return False
        return int(synced[0].get("member_count", 0)) <= self.service.settings.room_member_events_max

    async def _room_subscribed(self, room_id: str) -> None:
        """Subscribe to the room's channel once for all its joiners here: the 50 joiners of a
        room arriving together each saw no member yet and each sent a SUBSCRIBE of its own
        (0.8 per connect in a connect storm, issue 19); the others wait for the first's."""
        pending = self._room_subs.get(room_id)
        if pending is not None:
            await asyncio.shield(pending)
            return
        pending = self._room_subs[room_id] = asyncio.get_running_loop().create_future()
        try:
            await self._subscribe(keys.room_channel(room_id), ("room", room_id))
        except BaseException as exc:
            self._room_subs.pop(room_id, None)
            pending.set_exception(exc)
            pending.exception()  # retrieved: a joiner that waited re-raises it; none may wait
            raise
        pending.set_result(None)

    def tick_soon(self, room_id: str) -> None:
        """Move the room's clock now (a join may start its round) in one task per room: 200
        joiners of one room each ran the tick themselves, and each picked a puzzle in SQL before
        one of them took the lock — a 10,000-socket connect queued 10,000 picks (issue 19)."""
        if room_id in self._ticking:
            self._tick_again.add(room_id)
            return
        self._ticking.add(room_id)
        self._spawn(self._tick_now(room_id))

    async def _tick_now(self, room_id: str) -> None:
        try:
            while True:
                self._tick_again.discard(room_id)
                await self._tick_room(room_id)
                if room_id not in self._tick_again:
                    return
        finally:
            self._ticking.discard(room_id)

    async def _tick_room(self, room_id: str) -> None:
        try:
            due = await self.service.tick(room_id)
            # Until then the periodic tick skips the room (200 idle rooms read and parsed their
            # state four times a second, issue 19); any event of the room forgets it, and it is
            # read again at least every TICK_RECHECK_S in case a change came without one.
            recheck = self.service.clock() + TICK_RECHECK_S
            self._due[room_id] = 0.0 if due is None else min(due, recheck)
            await self.kinds.of(room_id).tick(room_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("ticking room %s", room_id)

    async def _unregister(self, conn: Connection) -> tuple[str, str | None] | None:
        """Forget the connection's room in this process: (room, how it watched), or None."""
        room_id = conn.room_id
        if room_id is None:
            return None
        conn.room_id, conn.last_v = None, None
        watching, conn.watching = conn.watching, None
        members = self.rooms.get(room_id, set())
        members.discard(conn)
        if not members:
            self.rooms.pop(room_id, None)
            self._due.pop(room_id, None)
            self._room_subs.pop(room_id, None)
            await self._unsubscribe(keys.room_channel(room_id))
        return room_id, watching

    async def leave_room(self, conn: Connection) -> None:
        left = await self._unregister(conn)
        if left is None:
            return
        room_id, watching = left
        try:
            if watching is None:
                await self.service.leave(room_id, conn.player_id)
            await self.kinds.of(room_id).left(conn, room_id, watching)
            if watching is None:
                self.crowds.changed(room_id)
        except Exception:
            log.exception("leaving room %s", room_id)

    async def _count_players(self, room_id: str) -> int:
        return await self.service.members.count(room_id)

    async def _emit_one(self, room_id: str, event: dict[str, Any]) -> None:
        await self.service.emit(room_id, [event])

    async def _subscribe(self, channel: str, target: tuple[str, Any]) -> None:
        self._channels[channel] = target
        if target[0] == "room":
            await self._bus.subscribe_room(channel)
        else:
            await self._bus.subscribe_player(channel)

    async def _unsubscribe(self, channel: str) -> None:
        target = self._channels.pop(channel, None)
        if target is not None and target[0] == "room":
            await self._bus.unsubscribe_room(channel)
        else:
            await self._bus.unsubscribe_player(channel)

    # -- fan-out -----------------------------------------------------------------------------
    async def _listen(self) -> None:
        while True:
            channel, data = await self._bus.get()
            target = self._channels.get(channel)
            if target is None:
                continue
            try:
                event = orjson.loads(data)
            except orjson.JSONDecodeError:
                log.warning("dropping a non-JSON message on %s", channel)
                continue
            if not isinstance(event, dict):
                continue
            self._dispatch(target, event, data.decode() if isinstance(data, bytes) else data)

    def _dispatch(self, target: tuple[str, Any], event: dict[str, Any], raw: str | None = None) -> None:
        kind, ident = target
        if kind == "player":
            for conn in list(self.players.get(ident, ())):
                conn.deliver_private(event)
                if event.get("type") in SENDS_OUT and conn.room_id == event.get("room"):
                    self._spawn(self.leave_room(conn))  # a host kicked them; they played the daily
            return
        if event.get("type") != "members":  # joins and leaves move no clock (a join ticks itself)
            self._due.pop(ident, None)  # the room changed: its next tick reads it again
        shared = Broadcast(event, raw)  # encoded once for the whole room, not once per socket
        self._spawn(self._fan_out(ident, shared, list(self.rooms.get(ident, ()))))
        if event.get("type") == "score":
            eid = event.get("explanation_id")
            if isinstance(eid, int):
                task = asyncio.get_running_loop().create_task(self._apply_score(ident, eid, event))
                self._background.add(task)
                task.add_done_callback(self._background.discard)

    async def _fan_out(self, room_id: str, shared: Broadcast, conns: list[Connection]) -> None:
        """One room event to every socket here. A socket that is caught up and taking data gets
        it written in this loop (as the bare server does); any other goes through its outbox and
        pump, which fills gaps from the log. A task per socket per event cost ~25 us of each
        delivery's ~30 (issue 19's tails); a write that does not wait costs ~3. The write
        itself is the event's websocket frame, built once for the room (``write_now``)."""
        v = shared.event.get("v")
        for conn in conns:
            if isinstance(v, int) and conn.ready_for(room_id, v):
                if not conn.write_now(shared, v):
                    await conn.write_in_order(shared, v)
            else:
                conn.deliver(room_id, shared)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _apply_score(self, room_id: str, explanation_id: int, event: dict[str, Any]) -> None:
        try:
            stored = await self.service.record_score(room_id, explanation_id)
        except Exception:
            log.exception("applying score of explanation %s in room %s", explanation_id, room_id)
            return
        if stored is None:
            log.warning("score event, no stored score: explanation %s, room %s", explanation_id, room_id)
            return
        # E.g. a team match's best: listeners see the stored score, never the payload's.
        for listener in [*self.kinds.every_score, self.kinds.of(room_id).on_score]:
            try:
                await listener(room_id, {**event, "score": stored})
            except Exception:
                log.exception("score listener on explanation %s in room %s", explanation_id, room_id)

    async def _heartbeat_loop(self) -> None:
        """Ping every socket each heartbeat_s; one silent for two heartbeats is closed as dead.

        One sweep for the whole process instead of a task per socket; the ping goes through
        each connection's outbox so a slow socket never holds up the sweep.
        """
        interval = self.service.settings.heartbeat_s
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            for conns in list(self.players.values()):
                for conn in list(conns):
                    if now - conn.last_seen > 2 * interval:
                        self._spawn(conn.close(CLOSE_HEARTBEAT_TIMEOUT, "no heartbeat"))
                    else:
                        conn.deliver_private({"type": "ping", "t": time.time()})

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            for room_id in list(self.rooms):
                if room_id in self._ticking:  # a join's tick is moving it right now
                    continue
                kind = self.kinds.of(room_id)
                if kind.has_clock or self._due.get(room_id, 0.0) <= self.service.clock():
                    await self._tick_room(room_id)
