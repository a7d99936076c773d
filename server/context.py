"""AppContext: everything an HTTP route or a socket message needs, built once per app.

server/app.py builds it at startup and keeps it as ``app.state.ctx``; the hub's handlers, the
session routes and the /api/v1 routes (server/api/guard.py) all take this one type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import redis
import redis.asyncio as aioredis

from config.settings import Settings
from server.hub.guests import GuestBatcher
from store.db import Database

if TYPE_CHECKING:  # the live side is not imported by the HTTP routes that only read
    from server.hub.fanout import Hub
    from server.live.room_service import RoomService
    from server.wire.protocol import Limits


@dataclass
class AppContext:
    settings: Settings
    db: Database
    r: aioredis.Redis
    r_sync: redis.Redis
    service: RoomService
    hub: Hub
    limits: Limits
    guests: GuestBatcher = field(init=False)

    def __post_init__(self) -> None:
        # New guests, committed in batches with their sessions (server/hub/guests.py).
        self.guests = GuestBatcher(self.db, self.settings)
