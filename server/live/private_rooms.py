"""Private rooms in the hub: created by a player, run by their creator (rooms/private_game.py).

A private room is an ordinary puzzle room whose saved state names a creator and starts held;
this module creates one under a fresh code and runs the creator's moves under the room's lock,
like every other transition of server/live/room_service.py. Start and skip then let the room's
own clock (``RoomService.tick``) move it on at once.
"""

from __future__ import annotations

import secrets

from config import keys
from rooms import private_game
from server.live.room_service import RoomService

# Codes a person can read out: no 0/O, 1/I/L; "p-" keeps them apart from other room kinds.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
DEFAULT_ROUNDS = 5


def new_code() -> str:
    return "p-" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


class PrivateRooms:
    def __init__(self, service: RoomService) -> None:
        self.service = service

    async def create(self, creator: int) -> str:
        """A new held room whose creator is ``creator``; its code (the room id)."""
        for _ in range(8):
            room_id = new_code()
            state = private_game.new_private_room(room_id, creator, DEFAULT_ROUNDS)
            # HSETNX: a code already taken (31^8 of them: practically never) is not overwritten.
            if await self.service.r.hsetnx(keys.room_state(room_id), "state", self.service.saved(state)):
                return room_id
        raise RuntimeError("no free room code after 8 tries")

    async def setup(
        self, room_id: str, player_id: int, round_s: float | None, reveal_s: float | None, rounds: int | None
    ) -> None:
        async with self.service.locked(room_id, members=False) as room:
            events = private_game.setup(room, player_id, round_s, reveal_s, rounds)
            await self.service.emit(room_id, events)

    async def start(self, room_id: str, player_id: int) -> None:
        async with self.service.locked(room_id, members=False) as room:
            await self.service.emit(room_id, private_game.start(room, player_id, self.service.clock()))
        await self.service.tick(room_id)  # the first puzzle now, not at the next tick

    async def skip(self, room_id: str, player_id: int) -> None:
        async with self.service.locked(room_id, members=False) as room:
            await self.service.emit(room_id, private_game.skip(room, player_id, self.service.clock()))
        await self.service.tick(room_id)
