"""One websocket of one player: an ordered outbox and the pump that writes it.

Room events reach a connection from the hub's pub/sub listener, in version order per
process but possibly with gaps (a reconnect, a slow subscription). The pump keeps the last
version it wrote, drops what the client already has and fills any gap from the room's
stream, or sends a full ``room`` snapshot with ``resync: true`` when the stream was trimmed.
So every client sees each version at most once and none missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from typing import Any

from starlette.websockets import WebSocket, WebSocketState

from server.hub.raw_writes import RawWriter, frame_bytes, release_handshake, server_protocol
from server.live.room_service import RoomService
from server.wire.protocol import CLOSE_SLOW_CONSUMER, Broadcast, encode

log = logging.getLogger(__name__)

# How many recent test_text answers a connection keeps so the player can share one.
KEEP_ACTIVATIONS = 8


class Connection:
    # No __dict__: 10,000 idle sockets hold 10,000 of these (memory per socket, issue 19).
    __slots__ = (
        "_closing",
        "_pump",
        "_raw",
        "_send_lock",
        "_writable_flag",
        "activations",
        "bad_frames",
        "closed",
        "fmt",
        "last_seen",
        "last_v",
        "outbox",
        "outbox_max",
        "player",
        "room_id",
        "service",
        "session_id",
        "watching",
        "ws",
    )

    def __init__(
        self, ws: WebSocket, fmt: str, player: dict[str, Any], service: RoomService, outbox: int
    ) -> None:
        self.ws, self.fmt, self.player, self.service = ws, fmt, player, service
        self.room_id: str | None = None
        self.last_v: int | None = None  # None until the current room was synced
        # Bounded; drained by a pump task that exists only while there is something to write:
        # an idle socket holds no task (10,000 idle sockets, docs/BENCHMARKS.md "Load").
        self.outbox: deque[tuple[str, Any, Any]] | None = None  # made on first use (~0.6 KiB each)
        self.outbox_max = outbox
        self._pump: asyncio.Task[None] | None = None
        self._closing = False  # a slow-consumer close is on its way
        proto = server_protocol(ws)
        # The server's "this socket takes data" flag (uvicorn pauses a socket whose transport
        # buffer is full); without it every event goes through the outbox (correct, slower).
        self._writable_flag: asyncio.Event | None = getattr(proto, "writable", None)
        self._raw = RawWriter.of(proto)  # room events as bytes framed once per room
        release_handshake(proto)  # accepted: what the handshake read and wrote is not needed
        self.activations: dict[str, dict[str, Any]] = {}  # insertion-ordered: the oldest goes first
        self.last_seen = time.monotonic()
        self.bad_frames = 0
        self.closed = False
        self._send_lock = asyncio.Lock()
        # Streamer rooms (server/live/streamer.py): the browser session a ban can name, and how
        # this connection is in its room when it does not play ("audience" or "overlay").
        self.session_id: str | None = None
        self.watching: str | None = None

    @property
    def player_id(self) -> int:
        return int(self.player["id"])

    # -- writing -----------------------------------------------------------------------------
    async def send(self, event: dict[str, Any], shared: Broadcast | None = None) -> None:
        """Write one event; ``shared`` carries its frame when many sockets get the same event."""
        if self.closed:
            return
        frame = shared.frame(self.fmt) if shared is not None else encode(event, self.fmt)
        async with self._send_lock:
            # Framed here and written to the transport, as uvicorn would after Starlette's and
            # its own send: the welcome and the snapshot of each connect storm's socket went
            # the ASGI way (server/hub/raw_writes.py says when the two are the same).
            try:
                if self._raw is not None:
                    data = shared.wire(self.fmt, frame_bytes) if shared is not None else frame_bytes(frame)
                    if self._raw.write(data):
                        return
                if isinstance(frame, bytes):
                    await self.ws.send_bytes(frame)
                else:
                    await self.ws.send_text(frame)
            except Exception:  # the socket went away; the receive loop notices and cleans up
                self.closed = True

    def ready_for(self, room_id: str, v: int) -> bool:
        """Can room event ``v`` be written right now, in order, without waiting? Nothing queued
        or being written, ``v`` the next version, and the socket taking data (a socket that
        stopped reading would make the caller wait: it goes through the outbox instead)."""
        return (
            self._pump is None
            and not self.outbox
            and not self.closed
            and self.room_id == room_id
            and self.last_v == v - 1
            and not self._send_lock.locked()
            and self._writable()
        )

    def _writable(self) -> bool:
        return self._writable_flag is not None and self._writable_flag.is_set()

    def write_now(self, shared: Broadcast, v: int) -> bool:
        """Room event ``v`` after ``ready_for``, as the room's once-framed bytes, without
        awaiting (server/hub/raw_writes.py); False: nothing written, use ``write_in_order``."""
        if self._raw is None or not self._raw.write(shared.wire(self.fmt, frame_bytes)):
            return False
        self.last_v = v
        return True

    async def write_in_order(self, shared: Broadcast, v: int) -> None:
        """Room event ``v`` after ``ready_for``: written at once (the room's fan-out loop)."""
        self.last_v = v
        await self.send(shared.event, shared)

    async def close(self, code: int, reason: str = "") -> None:
        if self.closed:
            return
        self.closed = True
        if self.ws.application_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await self.ws.close(code, reason)

    def _put(self, item: tuple[str, Any, Any], first: bool = False) -> None:
        if self.closed:
            return
        if self.outbox is None:
            self.outbox = deque()
        if first:
            self.outbox.appendleft(item)
        elif len(self.outbox) >= self.outbox_max:
            # The client reconnects with since=<its last version> and gets the rest replayed.
            if not self._closing:
                self._closing = True
                log.warning("player %s reads too slowly; closing", self.player_id)
                asyncio.get_running_loop().create_task(self.close(CLOSE_SLOW_CONSUMER, "too slow"))
            return
        else:
            self.outbox.append(item)
        if self._pump is None:
            self._pump = asyncio.get_running_loop().create_task(self._drain())

    def stop_pump(self) -> None:
        if self._pump is not None:
            self._pump.cancel()

    def deliver(self, room_id: str, event: Broadcast) -> None:
        """A live room event from the hub."""
        self._put(("room", room_id, event))

    def deliver_private(self, event: dict[str, Any]) -> None:
        """An event for this player only (e.g. ``activations``), passed through the pump."""
        if event.get("type") == "activations" and isinstance(event.get("request_id"), str):
            self.activations[event["request_id"]] = event
            while len(self.activations) > KEEP_ACTIVATIONS:
                del self.activations[next(iter(self.activations))]
        self._put(("direct", None, event))

    def request_sync(self, room_id: str, since: int | None, snapshot: dict[str, Any] | None = None) -> None:
        """After a join: replay from ``since`` when given, else send the full room (``snapshot``
        when the join read it already, server/live/room_service.py ``join_synced``)."""
        self.room_id, self.last_v = room_id, None
        if snapshot is not None:
            # First in line: the room's events queued since this connection entered the room
            # (it subscribed before the join) come after it, those it covers dropped as seen.
            # Behind them, each event newer than the snapshot was dropped (not synced yet) and
            # the next one found a gap and replayed the log: a round trip per join (issue 19).
            self._put(("synced", room_id, snapshot), first=True)
        else:
            self._put(("sync", room_id, since))

    # -- the pump ----------------------------------------------------------------------------
    async def _drain(self) -> None:
        try:
            while self.outbox and not self.closed:
                kind, room_id, payload = self.outbox.popleft()
                try:
                    await self._write(kind, room_id, payload)
                except Exception:  # e.g. Redis unreachable for a replay: the next item goes on
                    log.exception("writing %s to player %s", kind, self.player_id)
        finally:
            self._pump = None  # nothing awaits between the empty check and here: no item strands
            if not self.outbox:
                self.outbox = None

    async def _write(self, kind: str, room_id: Any, payload: Any) -> None:
        if kind == "direct":
            await self.send(payload)
        elif room_id != self.room_id:
            return  # left that room meanwhile
        elif kind == "sync":
            await self._sync(room_id, payload)
        elif kind == "synced":
            await self._send_snapshot(payload, resync=False)
        elif self.last_v is not None:
            await self._room_event(room_id, payload)

    async def _room_event(self, room_id: str, shared: Broadcast) -> None:
        assert self.last_v is not None
        v = int(shared.event.get("v", 0))
        if v <= self.last_v:
            return
        if v > self.last_v + 1:
            await self._replay(room_id, self.last_v)
            return
        await self._send_room_event(shared)
        self.last_v = v

    async def _send_room_event(self, shared: Broadcast) -> None:
        """A room event from the pump: as the room's once-framed bytes when the socket takes
        them (``write_now``), else the ASGI way. During a join storm most sockets have their
        snapshot queued when the join announcements come, and the ASGI way framed each of them
        again per socket (issue 19). The pump's writes before it went through the transport
        already (an ASGI send writes before it returns), so the order holds."""
        raw = self._raw if not self._send_lock.locked() and not self.closed else None
        if raw is not None and raw.write(shared.wire(self.fmt, frame_bytes)):
            return
        await self.send(shared.event, shared)

    async def _sync(self, room_id: str, since: int | None) -> None:
        if since is None or since > await self.service.version(room_id):
            await self._snapshot(room_id, resync=since is not None)
        else:
            await self._replay(room_id, since)

    async def _replay(self, room_id: str, since: int) -> None:
        missed = await self.service.since(room_id, since)
        if missed is None:
            await self._snapshot(room_id, resync=True)
            return
        self.last_v = since
        for event in missed:
            await self._send_room_event(Broadcast(event))
            self.last_v = int(event["v"])

    async def _snapshot(self, room_id: str, resync: bool) -> None:
        await self._send_snapshot(await self.service.snapshot(room_id, viewer=self.player_id), resync)

    async def _send_snapshot(self, snapshot: dict[str, Any], resync: bool) -> None:
        snapshot["resync"] = resync
        await self.send(snapshot)
        self.last_v = int(snapshot["v"])
