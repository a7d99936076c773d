"""Rooms named after one unit, ``neuron-<id>``: "Play this neuron" (or feature) on its page.

An ordinary puzzle room in every way but the pick: it serves that unit (when it is playable in
its own campaign, whichever campaign that is: a feature of an SAE campaign as well as a neuron
of the default one) instead of a random one, so a reader of a unit's page can try it.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlmodel import Session

from server.live.room_kinds import RoomKind
from store.puzzles import campaign_of

NEURON_ROOM_RE = re.compile(r"^neuron-([0-9]{1,10})$")


class NeuronRooms(RoomKind):
    name = "neuron"

    def claims(self, room_id: str) -> bool:
        return NEURON_ROOM_RE.match(room_id) is not None

    def pick_neuron(
        self,
        session: Session,
        room_id: str,
        members: list[int],
        recent: list[int],
        now: datetime,
        campaign: str | None = None,  # a unit's room plays its unit's own campaign
    ) -> int | None:
        found = NEURON_ROOM_RE.match(room_id)
        wanted = int(found.group(1)) if found else -1
        campaign = campaign_of(session, wanted)
        if campaign is None or wanted in self.sealed(session):  # a quest plays it: not here
            return None
        # Not in a quest, so the quest fallback of ``playable`` cannot matter: what is ready is.
        return wanted if wanted in self.ready(session, campaign) else None

    def no_puzzle_reason(self, room_id: str, campaign: str | None = None) -> str:
        return (
            "this unit cannot be played in its own room now: a daily or weekly quest is playing it "
            "(play it there; its room opens to all when the quest closes), or it is not ready yet"
        )
