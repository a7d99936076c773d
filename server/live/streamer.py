"""Streamer rooms in the hub: the gate every join passes and the streamer messages' handlers.

``StreamerRooms`` is built once per app (server/app.py) and set as the hub's gate: on every
join it decides whether the connection plays, watches as audience or as the overlay, or is
refused (banned, private room). Ordinary rooms pass through untouched. server/hub/handlers.py
hands it the streamer messages and the submits and votes made in streamer rooms.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool

from config import keys
from config.settings import Settings
from rooms.moderation import clean
from rooms.puzzle_room import RoomError
from rooms.streamer_room import Role
from server.api.attempts import Attempts, wait_needed
from server.hub.connection import Connection
from server.hub.fanout import Hub
from server.live.audience import TallyPusher, audience_vote, read_tally
from server.live.room_service import RoomService
from server.live.streamer_moderation import Moderation
from server.live.streamer_service import StreamerService
from server.wire import protocol as p
from server.wire import streamer_protocol as sp

AUDIENCE, OVERLAY = "audience", "overlay"


class StreamerRooms:
    def __init__(self, rooms: RoomService, hub: Hub, settings: Settings) -> None:
        self.rooms, self.hub = rooms, hub
        self.service = StreamerService(rooms)
        self.moderation = Moderation(self.service)
        self.pusher = TallyPusher(hub, self.service, settings.streamer_tally_interval_s)
        # Failed-attempt limits (server/api/attempts.py), set by the app at startup.
        self.attempts: Attempts | None = None

    # -- the hub's gate --------------------------------------------------------------------
    async def admit(self, conn: Connection, room_id: str) -> str | None:
        state = await self.service.load(room_id)
        if state is None:
            return None  # an ordinary room
        entry, conn.entry = conn.entry, None
        if entry == (room_id, OVERLAY):
            self.pusher.rooms.add(room_id)
            return OVERLAY
        room = await self.rooms.load(room_id)
        known = conn.player_id in state.sessions  # played here before: the code is not asked again
        by_code = entry == (room_id, "code") or known
        role = state.admit(conn.player_id, conn.session_id, room.state.members, by_code)
        self.pusher.rooms.add(room_id)
        if role is Role.AUDIENCE:
            await self.service.r.incr(keys.room_audience_count(room_id))
            return AUDIENCE
        name = str(conn.player["name"])
        conn.player["name"] = await run_in_threadpool(clean, name, state.filter_mode, "name")
        if conn.session_id and state.sessions.get(conn.player_id) != conn.session_id:
            async with self.service.locked(room_id) as (_room, locked_state):
                locked_state.sessions[conn.player_id] = conn.session_id
        return None

    async def joined(self, conn: Connection, room_id: str) -> None:
        state = await self.service.load(room_id)
        if state is None:
            return
        audience = await self.service.audience(room_id)
        if state.role_of(conn.player_id) in (Role.HOST, Role.MODERATOR) and conn.watching is None:
            conn.deliver_private(self.service.staff_view(state, audience))
        else:
            conn.deliver_private({"type": "streamer", **state.public(audience)})
        conn.deliver_private(await read_tally(self.service, room_id))

    async def released(self, conn: Connection, room_id: str, watching: str) -> None:
        if watching == AUDIENCE:
            await self.service.r.decr(keys.room_audience_count(room_id))

    # -- moves in streamer rooms ---------------------------------------------------------------
    async def submit(self, conn: Connection, room_id: str, text: str) -> bool:
        """Handle a submit when the room is a streamer room; False leaves it to the puzzle room."""
        if conn.watching is not None:
            raise RoomError(p.ERR_AUDIENCE, "the audience votes; players submit")
        if await self.service.load(room_id) is None:
            return False
        await self.moderation.submit(room_id, conn.player, text)
        return True

    async def vote(self, conn: Connection, room_id: str, explanation_id: int) -> bool:
        """Count an audience vote; False leaves a player's vote to the puzzle room."""
        if conn.watching == OVERLAY:
            raise RoomError(p.ERR_AUDIENCE, "the overlay only watches")
        if conn.watching != AUDIENCE:
            return False
        round_no = await audience_vote(self.service, room_id, conn.player_id, explanation_id)
        await conn.send({"type": "voted", "explanation_id": explanation_id, "round": round_no})
        return True

    async def filter_name(self, room_id: str, name: str) -> str:
        state = await self.service.load(room_id)
        return name if state is None else await run_in_threadpool(clean, name, state.filter_mode, "name")

    # -- streamer messages -------------------------------------------------------------------
    async def _resolve_code(self, conn: Connection, code: str) -> str:
        """The room of a code; wrong codes are limited per player and per address, so the code
        space cannot be walked (172 guesses a second walked 4-letter codes in ten minutes)."""
        limits = self.attempts
        if limits is None:
            return await self.service.resolve(code)
        address = conn.ws.client.host if conn.ws.client else "unknown"
        who = ((limits.code_player, str(conn.player_id)), (limits.code_address, address))
        wait = await wait_needed(*who)
        if wait:
            raise RoomError(p.ERR_FLOOD, f"too many wrong room codes; try again in {wait} s")
        try:
            return await self.service.resolve(code)
        except RoomError:
            for limit, ident in who:
                await limit.failed(ident)
            raise

    async def handle(self, conn: Connection, msg: sp.StreamerMessage) -> None:
        svc, pid = self.service, conn.player_id
        match msg:
            case sp.CreateRoom():
                state = await svc.create(conn.player, msg)
                created = {"type": "room_created", "room": state.room_id, "code": state.code}
                await conn.send({**created, "overlay": svc.overlay_token(state.room_id)})
                conn.entry = (state.room_id, "code")
                await self.hub.join_room(conn, state.room_id)
                return
            case sp.JoinCode(code=code):
                room_id = await self._resolve_code(conn, code)
                conn.entry = (room_id, "code")
                await self.hub.join_room(conn, room_id)
                return
            case sp.Watch(overlay=token):
                room_id = svc.overlay_room(token)
                if room_id is None or await svc.load(room_id) is None:
                    raise RoomError(p.ERR_NOT_FOUND, "this overlay link is not valid (any more)")
                conn.entry = (room_id, OVERLAY)
                await self.hub.join_room(conn, room_id)
                return
        room_id = self._room_of(conn)
        match msg:
            case sp.Start():
                await svc.clock(pid, room_id, "start")
            case sp.Pause():
                await svc.clock(pid, room_id, "pause")
            case sp.Resume():
                await svc.clock(pid, room_id, "resume")
            case sp.NextPuzzle():
                await svc.clock(pid, room_id, "next")
            case sp.Extend(seconds=seconds):
                await svc.clock(pid, room_id, "extend", seconds)
            case sp.Kick(player_id=target):
                await svc.kick(pid, room_id, target, ban=False)
            case sp.Ban(player_id=target):
                await svc.kick(pid, room_id, target, ban=True)
            case sp.Unban(player_id=target):
                await svc.unban(pid, room_id, target)
            case sp.SetModerator(player_id=target, on=on):
                await svc.set_moderator(pid, room_id, target, on is not False)
            case sp.RoomSettings():
                await svc.update(pid, room_id, msg)
            case sp.Approve(explanation_id=eid):
                await self.moderation.decide(pid, room_id, eid, approve=True)
            case sp.Reject(explanation_id=eid):
                await self.moderation.decide(pid, room_id, eid, approve=False)
            case sp.RemoveExplanation(explanation_id=eid):
                await self.moderation.remove(pid, room_id, eid)
            case sp.CloseRoom():
                await svc.close(pid, room_id)

    @staticmethod
    def _room_of(conn: Connection) -> str:
        if conn.room_id is None:
            raise RoomError(p.ERR_NOT_IN_ROOM, "join a room first")
        return conn.room_id  # the audience gets not_host / not_moderator like anyone else


def is_streamer_message(msg: Any) -> bool:
    return isinstance(msg, sp.STREAMER_MESSAGES)
