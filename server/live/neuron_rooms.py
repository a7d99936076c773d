"""Rooms named after one neuron, ``neuron-<id>``: "Play this neuron" on its reference page.

An ordinary puzzle room in every way but the pick: it serves that neuron (when it is playable in
the default campaign) instead of a random one, so a reader of a neuron's page can try it.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlmodel import Session

from server.live.room_kinds import RoomKind

NEURON_ROOM_RE = re.compile(r"^neuron-([0-9]{1,10})$")


class NeuronRooms(RoomKind):
    name = "neuron"

    def claims(self, room_id: str) -> bool:
        return NEURON_ROOM_RE.match(room_id) is not None

    def pick_neuron(
        self, session: Session, room_id: str, members: list[int], recent: list[int], now: datetime
    ) -> int | None:
        found = NEURON_ROOM_RE.match(room_id)
        wanted = int(found.group(1)) if found else -1
        return wanted if wanted in self.playable(session) else None
