"""Streamer rooms as a room kind: admission, the audience and overlay, moderated moves, and
the streamer messages (host controls, ``join_code``, ``watch``).

``StreamerRooms`` is registered once per app (server/live/kinds.py) for the ``s-<12 hex>``
rooms a host creates. On every way in it decides whether the connection plays, watches as
audience or as the overlay, or is refused (banned, private room). An ``s-`` id that no host
created is a plain puzzle room, as any other id.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.concurrency import run_in_threadpool

from config import keys
from config.settings import Settings
from rooms.moderation import FilterMode, clean
from rooms.puzzle_room import RoomError
from rooms.streamer_room import Role
from server.api.attempts import Attempts, wait_needed
from server.api.sessions import clean_name
from server.hub.connection import Connection
from server.hub.fanout import Hub
from server.live.audience import TallyPusher, audience_vote, read_tally
from server.live.room_kinds import AUDIENCE, OVERLAY, Event, RoomKind, Way
from server.live.room_service import RoomService
from server.live.streamer_moderation import Moderation
from server.live.streamer_service import StreamerService
from server.wire import protocol as p
from server.wire import streamer_protocol as sp
from store.players import rename as rename_player

STREAMER_ROOM_RE = re.compile(r"^s-[0-9a-f]{12}$")  # StreamerService.create's ids


class StreamerRooms(RoomKind):
    name = "streamer"
    messages = sp.STREAMER_MESSAGES

    def __init__(self, rooms: RoomService, hub: Hub, settings: Settings) -> None:
        super().__init__(rooms)
        self.rooms, self.hub = rooms, hub
        self.streamer = StreamerService(rooms)
        self.moderation = Moderation(self.streamer)
        self.pusher = TallyPusher(hub, self.streamer, settings.streamer_tally_interval_s)
        # Failed-attempt limits (server/api/attempts.py), set by the app at startup.
        self.attempts: Attempts | None = None
        # "Join as audience" asked for (room, player), and why each watcher watches (their screen).
        self._asked: set[tuple[str, int]] = set()
        self._why: dict[tuple[str, int], str] = {}

    def claims(self, room_id: str) -> bool:
        return STREAMER_ROOM_RE.match(room_id) is not None

    def start(self) -> None:
        self.pusher.start()

    async def aclose(self) -> None:
        await self.pusher.stop()

    # -- the kind's hooks --------------------------------------------------------------------
    async def admit(self, conn: Connection, room_id: str, way: Way) -> str | None:
        state = await self.streamer.load(room_id)
        if state is None:
            return None  # no host made it: an ordinary room
        if way is Way.OVERLAY:
            self.pusher.rooms.add(room_id)
            return OVERLAY
        room = await self.rooms.load(room_id)
        known = conn.player_id in state.sessions  # played here before: the code is not asked again
        asked = (room_id, conn.player_id) in self._asked
        self._asked.discard((room_id, conn.player_id))
        by_code = way is Way.CODE or known
        role = state.admit(conn.player_id, conn.session_id, room.state.members, by_code)
        if asked and role is Role.PLAYER and conn.player_id not in room.state.members:
            role = Role.AUDIENCE  # joined as audience on purpose: a seat stays free for a player
        self.pusher.rooms.add(room_id)
        if role is Role.AUDIENCE:
            # Why, for the watcher's own screen ("you are watching: the room was full").
            self._why[(room_id, conn.player_id)] = "asked" if asked else "locked" if state.locked else "full"
            await self.streamer.r.incr(keys.room_audience_count(room_id))
            return AUDIENCE
        name = str(conn.player["name"])
        conn.player["name"] = await run_in_threadpool(clean, name, state.filter_mode, "name")
        renamed_host = role is Role.HOST and state.host_name != conn.player["name"]
        if renamed_host or (conn.session_id and state.sessions.get(conn.player_id) != conn.session_id):
            async with self.streamer.locked(room_id) as (_room, locked_state):
                if conn.session_id:
                    locked_state.sessions[conn.player_id] = conn.session_id
                if role is Role.HOST:  # renamed since (the profile): the stream follows
                    locked_state.host_name = str(conn.player["name"])
        return None

    async def snapshot(self, conn: Connection, room_id: str) -> list[Event]:
        """The room's streamer settings (the full view for its staff) and the audience tally."""
        state = await self.streamer.load(room_id)
        if state is None:
            return []
        audience = await self.streamer.audience(room_id)
        if state.role_of(conn.player_id) in (Role.HOST, Role.MODERATOR) and conn.watching is None:
            view = self.streamer.staff_view(state, audience)
        else:
            view = {"type": "streamer", **state.public(audience)}
            if conn.watching == AUDIENCE:  # private: this connection watches, and why
                why = self._why.get((room_id, conn.player_id), "full")
                view.update(you="audience", why=why, player_cap=state.player_cap)
        return [view, await read_tally(self.streamer, room_id)]

    async def left(self, conn: Connection, room_id: str, watching: str | None) -> None:
        self._why.pop((room_id, conn.player_id), None)
        if watching == AUDIENCE:
            await self.streamer.r.decr(keys.room_audience_count(room_id))

    # -- moves in streamer rooms ---------------------------------------------------------------
    async def submit(
        self, conn: Connection, room_id: str, text: str, *, neuron_id: int | None = None
    ) -> int | None:
        """A player's explanation waits for the moderators (None) when the room asks for it."""
        if conn.watching is not None:
            raise RoomError(p.ERR_AUDIENCE, "the audience votes; players submit")
        if await self.streamer.load(room_id) is None:
            return await super().submit(conn, room_id, text, neuron_id=neuron_id)
        await self.moderation.submit(room_id, conn.player, text)
        return None

    async def vote(self, conn: Connection, room_id: str, explanation_id: int) -> None:
        """The audience's votes go to the tally; a player's to the puzzle room."""
        if conn.watching == OVERLAY:
            raise RoomError(p.ERR_AUDIENCE, "the overlay only watches")
        if conn.watching != AUDIENCE:
            await super().vote(conn, room_id, explanation_id)
            return
        round_no = await audience_vote(self.streamer, room_id, conn.player_id, explanation_id)
        await conn.send({"type": "voted", "explanation_id": explanation_id, "round": round_no})

    async def shown_name(self, room_id: str, name: str) -> str:
        state = await self.streamer.load(room_id)
        return name if state is None else await run_in_threadpool(clean, name, state.filter_mode, "name")

    # -- streamer messages -------------------------------------------------------------------
    async def _name_host(self, conn: Connection, name: str, mode: FilterMode) -> None:
        """The host's chosen name (their channel's) becomes their player name before the room
        exists: the roster, explanations, results and the overlay all read the player's name."""
        most = self.rooms.settings.max_name_chars
        cleaned = clean_name(name, most)
        if cleaned is None:
            raise RoomError(p.ERR_BAD_FIELD, f"host_name: 1-{most} printable characters")
        cleaned = await run_in_threadpool(clean, cleaned, mode, "name")
        if cleaned == conn.player["name"]:
            return

        def store() -> None:
            with self.rooms.db.session() as s:
                rename_player(s, conn.player_id, cleaned)

        await run_in_threadpool(store)
        conn.player["name"] = cleaned
        await conn.send({"type": "renamed", "player": {"id": conn.player_id, "name": cleaned}})

    async def _resolve_code(self, conn: Connection, code: str) -> str:
        """The room of a code; wrong codes are limited per player and per address, so the code
        space cannot be walked (172 guesses a second walked 4-letter codes in ten minutes)."""
        limits = self.attempts
        if limits is None:
            return await self.streamer.resolve(code)
        address = conn.ws.client.host if conn.ws.client else "unknown"
        who = ((limits.code_player, str(conn.player_id)), (limits.code_address, address))
        wait = await wait_needed(*who)
        if wait:
            raise RoomError(p.ERR_FLOOD, f"too many wrong room codes; try again in {wait} s")
        try:
            return await self.streamer.resolve(code)
        except RoomError:
            for limit, ident in who:
                await limit.failed(ident)
            raise

    async def handle(self, conn: Connection, msg: Any) -> None:
        svc, pid = self.streamer, conn.player_id
        match msg:
            case sp.CreateRoom():
                if msg.host_name is not None:
                    await self._name_host(conn, msg.host_name, FilterMode(msg.filter or FilterMode.MASK))
                state = await svc.create(conn.player, msg)
                created = {"type": "room_created", "room": state.room_id, "code": state.code}
                await conn.send({**created, "overlay": svc.overlay_token(state.room_id)})
                await self.hub.join_room(conn, state.room_id, way=Way.CODE)
                return
            case sp.JoinCode(code=code, audience=watch_only):
                room_id = await self._resolve_code(conn, code)
                if watch_only is True:
                    self._asked.add((room_id, conn.player_id))
                await self.hub.join_room(conn, room_id, way=Way.CODE)
                return
            case sp.Watch(overlay=token):
                room_id = svc.overlay_room(token)
                if room_id is None or await svc.load(room_id) is None:
                    raise RoomError(p.ERR_NOT_FOUND, "this overlay link is not valid (any more)")
                await self.hub.join_room(conn, room_id, way=Way.OVERLAY)
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
