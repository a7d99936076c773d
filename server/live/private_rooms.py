"""Private rooms: a room kind created by a player and run by them (rules: rooms/private_game.py).

A private room is a puzzle room whose saved state names a creator and starts held; its id is
``p-`` and a fresh code, so the kind is found by the id alone (server/live/room_kinds.py). Its
own wire messages (server/wire/game_protocol.py) come here: ``create_private`` makes one and
puts the creator in it, playing the campaign they chose (one installed: neurons or features;
none named: the default campaign); ``setup_game``, ``start_game`` and ``skip_reveal`` are the creator's
transitions, under the room's lock like every other (server/live/room_service.py). Start and
skip then let the room's own clock move it on at once.
"""

from __future__ import annotations

import secrets
from typing import Any

from config import keys
from config.errors import ERR_NOT_PRIVATE
from rooms import private_game
from rooms.puzzle_room import RoomError
from server.hub.connection import Connection
from server.hub.fanout import Hub
from server.live.room_kinds import RoomKind, Way
from server.live.room_service import RoomService
from server.wire import game_protocol as gp

# Codes a person can read out: no 0/O, 1/I/L; "p-" keeps them apart from other room kinds.
PREFIX = "p-"
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
DEFAULT_ROUNDS = 5


def new_code() -> str:
    return PREFIX + "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


class PrivateRooms(RoomKind):
    name = "private"
    messages = (gp.CreatePrivate, gp.SetupGame, gp.StartGame, gp.SkipReveal)

    def __init__(self, service: RoomService, hub: Hub) -> None:
        super().__init__(service)
        self.hub = hub

    def claims(self, room_id: str) -> bool:
        return room_id.startswith(PREFIX)

    async def handle(self, conn: Connection, msg: Any) -> None:
        if isinstance(msg, gp.CreatePrivate):
            room_id = await self.create(conn.player_id, msg.campaign)
            await conn.send({"type": "private_room", "room": room_id, "creator": conn.player_id})
            await self.hub.join_room(conn, room_id, None, Way.JOIN)
            return
        room_id = conn.room_id
        if room_id is None or not self.claims(room_id):
            raise RoomError(ERR_NOT_PRIVATE, "only a private room has a creator who runs the game")
        match msg:
            case gp.SetupGame(round_s=round_s, reveal_s=reveal_s, rounds=rounds):
                await self._move(room_id, lambda room, now: private_game.setup(
                    room, conn.player_id, round_s, reveal_s, rounds))  # fmt: skip
            case gp.StartGame():
                await self._move(room_id, lambda room, now: private_game.start(room, conn.player_id, now))
            case gp.SkipReveal():
                await self._move(room_id, lambda room, now: private_game.skip(room, conn.player_id, now))

    async def create(self, creator: int, campaign: str | None = None) -> str:
        """A new held room whose creator is ``creator``, playing ``campaign`` (an installed
        one; None: the default campaign); its code (the room id). RoomError for an unknown
        campaign, before any room is made."""
        name, word = await self.service.room_campaign(campaign)
        for _ in range(8):
            room_id = new_code()
            state = private_game.new_private_room(room_id, creator, DEFAULT_ROUNDS, name, word)
            # HSETNX: a code already taken (31^8 of them: practically never) is not overwritten.
            if await self.service.r.hsetnx(keys.room_state(room_id), "state", self.service.saved(state)):
                return room_id
        raise RuntimeError("no free room code after 8 tries")

    async def _move(self, room_id: str, transition: Any) -> None:
        async with self.service.locked(room_id, members=False) as room:
            await self.service.emit(room_id, transition(room, self.service.clock()))
        await self.service.tick(room_id)  # Start: the first puzzle now; skip: maybe the next one
