"""Streamer rooms kept in Redis: creation with a unique code, settings, host controls.

A streamer room is a puzzle room (server/live/room_service.py) plus a ``StreamerState`` stored
under config.keys.streamer_room. Both are changed under the puzzle room's lock, so a host's
pause and the room's own clock never interleave. Moderation lives in
server/live/streamer_moderation.py, admission (the room kind) in server/live/streamer.py and
the audience in server/live/audience.py.
"""

from __future__ import annotations

import base64
import hmac
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson

from config import keys
from rooms.moderation import FilterMode
from rooms.puzzle_room import PuzzleRoom, RoomError, RoomState
from rooms.roomcodes import new_code, normalize
from rooms.streamer_room import StreamerState
from server.live.audience_votes import AudienceVoteWriter
from server.live.room_service import RoomService
from server.wire import protocol as p

CODE_ATTEMPTS = 50


class StreamerService:
    def __init__(self, rooms: RoomService) -> None:
        self.rooms = rooms
        self.settings, self.r = rooms.settings, rooms.r
        self.votes = AudienceVoteWriter(rooms.db)  # the audience's votes (server/live/audience.py)

    # -- state -------------------------------------------------------------------------------
    async def load(self, room_id: str) -> StreamerState | None:
        raw = await self.r.get(keys.streamer_room(room_id))
        return StreamerState.from_json(orjson.loads(raw)) if raw else None

    async def require(self, room_id: str) -> StreamerState:
        state = await self.load(room_id)
        if state is None:
            raise RoomError(p.ERR_NOT_STREAMER_ROOM, "this is not a streamer room")
        return state

    async def _save(self, state: StreamerState) -> None:
        ttl = self.settings.streamer_room_ttl_s
        async with self.r.pipeline(transaction=True) as pipe:
            pipe.set(keys.streamer_room(state.room_id), orjson.dumps(state.to_json()), ex=ttl)
            pipe.expire(keys.room_code(state.code), ttl)  # the code lives as long as the room
            await pipe.execute()

    @asynccontextmanager
    async def locked(self, room_id: str) -> AsyncIterator[tuple[PuzzleRoom, StreamerState]]:
        """Both states under the room's lock; both saved on a clean exit."""
        async with self.rooms.locked(room_id) as room:
            state = await self.require(room_id)
            yield room, state
            await self._save(state)

    async def audience(self, room_id: str) -> int:
        return max(0, int(await self.r.get(keys.room_audience_count(room_id)) or 0))

    def overlay_token(self, room_id: str) -> str:
        """A read-only pass for the overlay: the room id signed with the server's key."""
        mac = hmac.new(self.settings.effective_secret_key().encode(), f"overlay:{room_id}".encode(), "sha256")
        return f"{room_id}.{base64.urlsafe_b64encode(mac.digest()[:18]).decode()}"

    def overlay_room(self, token: str) -> str | None:
        room_id = token.split(".", 1)[0]
        return room_id if hmac.compare_digest(self.overlay_token(room_id), token) else None

    async def resolve(self, code_text: str) -> str:
        code = normalize(code_text)
        raw = await self.r.get(keys.room_code(code)) if code else None
        if raw is None:
            raise RoomError(p.ERR_NOT_FOUND, "no open room has this code")
        return raw.decode() if isinstance(raw, bytes) else str(raw)

    # -- events ------------------------------------------------------------------------------
    async def announce(self, state: StreamerState, *, room_event: bool = True) -> None:
        """The public settings to the room, the full view to the host and moderators."""
        audience = await self.audience(state.room_id)
        if room_event:
            await self.rooms.emit(state.room_id, [{"type": "streamer", **state.public(audience)}])
        staff = self.staff_view(state, audience)
        for player_id in {state.host_id, *state.moderators}:
            await self.r.publish(keys.player_channel(player_id), orjson.dumps(staff))

    def staff_view(self, state: StreamerState, audience: int) -> dict[str, Any]:
        overlay = self.overlay_token(state.room_id)
        return {"type": "host_state", **state.for_staff(audience), "overlay": overlay}

    async def _timer(self, room_id: str, room: PuzzleRoom, state: StreamerState) -> None:
        s = room.state
        event = {"type": "timer", "phase": s.phase.value, "deadline": s.deadline}
        await self.rooms.emit(room_id, [{**event, "paused": state.paused, "paused_left": state.paused_left}])

    # -- creation ----------------------------------------------------------------------------
    async def create(self, host: dict[str, Any], options: p.CreateRoom) -> StreamerState:
        s = self.settings
        cap = options.player_cap or s.streamer_player_cap
        if not 1 <= cap <= s.streamer_max_player_cap:
            raise RoomError(p.ERR_BAD_FIELD, f"player_cap: 1 to {s.streamer_max_player_cap}")
        campaign, word = await self.rooms.room_campaign(options.campaign)  # refused before a code is taken
        room_id = f"s-{secrets.token_hex(6)}"
        for _ in range(CODE_ATTEMPTS):  # a code is unique among open rooms: SET NX claims it
            code = new_code()
            if await self.r.set(keys.room_code(code), room_id, nx=True, ex=s.streamer_room_ttl_s):
                break
        else:
            raise RoomError(p.ERR_INTERNAL, "no free room code; try again")
        now = self.rooms.clock()
        state = StreamerState(
            room_id=room_id,
            code=code,
            host_id=int(host["id"]),
            host_name=str(host["name"]),
            created_at=now,
            player_cap=cap,
            private=bool(options.private),
            approval=bool(options.approval),
            filter=options.filter or FilterMode.MASK.value,
        )
        async with self.rooms.locked(room_id) as room:
            # Nothing runs until the host starts; the puzzles come from the campaign chosen here.
            room.state = RoomState(room_id=room_id, held=True, campaign=campaign, campaign_word=word)
            await self._save(state)
        await self.r.zadd(keys.streamer_rooms(), {room_id: now})
        return state

    async def close(self, player_id: int, room_id: str) -> None:
        async with self.locked(room_id) as (room, state):
            state.require_host(player_id)
            room.state.held, room.state.deadline = True, None
        async with self.r.pipeline(transaction=True) as pipe:
            pipe.delete(keys.room_code(state.code), keys.streamer_room(room_id))
            pipe.zrem(keys.streamer_rooms(), room_id)
            await pipe.execute()
        await self.rooms.emit(room_id, [{"type": "room_closed", "room": room_id}])

    # -- host controls -----------------------------------------------------------------------
    async def clock(self, player_id: int, room_id: str, action: str, seconds: float = 0.0) -> None:
        """start, pause, resume, next or extend: host only; then a ``timer`` event."""
        async with self.locked(room_id) as (room, state):
            state.require_host(player_id)
            now = self.rooms.clock()
            if action == "start":
                state.start(room.state, now)
            elif action == "pause":
                state.pause(room.state, now)
            elif action == "resume":
                if not state.paused:
                    raise RoomError(p.ERR_WRONG_PHASE, "the room is not paused")
                state.resume(room.state, now)
            elif action == "next":
                state.skip(room.state, now)
            else:
                state.extend(room.state, min(seconds, self.settings.streamer_extend_max_s))
            await self._timer(room_id, room, state)
            if action in ("start", "pause", "resume"):
                public = state.public(await self.audience(room_id))
                await self.rooms.emit(room_id, [{"type": "streamer", **public}])
        await self.rooms.tick(room_id)  # "next" and "start" take effect at once

    async def update(self, player_id: int, room_id: str, msg: p.RoomSettings) -> None:
        async with self.locked(room_id) as (_room, state):
            state.require_host(player_id)
            cap = msg.player_cap
            if cap is not None and not 1 <= cap <= self.settings.streamer_max_player_cap:
                raise RoomError(p.ERR_BAD_FIELD, f"player_cap: 1 to {self.settings.streamer_max_player_cap}")
            for name in ("locked", "private", "player_cap", "approval", "filter", "show_code"):
                value = getattr(msg, name)
                if value is not None:
                    setattr(state, name, value)
        await self.announce(state)

    async def set_moderator(self, player_id: int, room_id: str, target: int, on: bool) -> None:
        async with self.locked(room_id) as (_room, state):
            state.require_host(player_id)
            if target == state.host_id:
                raise RoomError(p.ERR_BAD_FIELD, "the host has every right already")
            if on and target not in state.moderators:
                state.moderators.append(target)
            elif not on and target in state.moderators:
                state.moderators.remove(target)
        await self.announce(state)
        if not on:  # the former moderator's console should drop the queue
            view = {"type": "streamer", **state.public()}
            await self.r.publish(keys.player_channel(target), orjson.dumps(view))

    async def kick(self, player_id: int, room_id: str, target: int, ban: bool) -> None:
        """Kick (host or moderator) or ban (host): the target leaves wherever it is connected."""
        async with self.locked(room_id) as (_room, state):
            if ban:
                state.require_host(player_id)
                state.ban(target)
            else:
                state.require_moderator(player_id)
                if target == state.host_id or (target in state.moderators and player_id != state.host_id):
                    raise RoomError(p.ERR_NOT_HOST, "only the host may kick the host or a moderator")
        # After the lock: leaving may need the room's lock itself (the last one out).
        await self.rooms.leave(room_id, target, every_connection=True)
        reason = "banned" if ban else "kicked"
        notice = {"type": "kicked", "room": room_id, "reason": reason}
        await self.r.publish(keys.player_channel(target), orjson.dumps(notice))
        await self.r.delete(keys.player_room(target))
        if ban:
            await self.announce(state, room_event=False)

    async def unban(self, player_id: int, room_id: str, target: int) -> None:
        async with self.locked(room_id) as (_room, state):
            state.require_host(player_id)
            if target in state.banned_players:
                state.banned_players.remove(target)
            session = state.sessions.get(target)
            if session in state.banned_sessions:
                state.banned_sessions.remove(session)
        await self.announce(state, room_event=False)
