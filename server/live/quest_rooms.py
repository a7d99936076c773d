"""Daily puzzle and weekly quest as live rooms, and quest credit when a score arrives.

A quest room is an ordinary puzzle room whose id names the current quest: ``daily-2026-11-21``
or ``weekly-2026-W47`` (``room`` in /api/v1/quests/daily). Its picker serves the quest's
neurons instead of random ones, so everybody in it sees the same neuron; a weekly room goes
round its neurons, the one played longest ago first. Entering a quest room that is not the
current quest, by any way in, is refused (``quest_closed``): ``QuestRooms`` is the room kind.

Credit is not given here: the scoring worker credits quests right after it stores a score
(store/quest_credit.py), exactly once and whether or not the author is connected (any room:
the daily neuron explained elsewhere counts too). The author then gets a private ``quest``
event with their progress (points, neurons done, streak for the daily).
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from config.errors import ERR_QUEST_CLOSED
from config.settings import Settings
from rooms.puzzle_room import RoomError
from server.live.room_kinds import RoomKind, Way
from store.competition import quests
from store.db import Database
from store.models import Quest

if TYPE_CHECKING:
    from server.hub.connection import Connection

QUEST_ROOM_RE = re.compile(r"^(daily|weekly)-([0-9]{4}-(?:[0-9]{2}-[0-9]{2}|W[0-9]{2}))$")
# How long a credit claim is kept: longer than any redelivery of the same event.
CLAIM_TTL_S = 24 * 3600

log = logging.getLogger(__name__)


def parse_room(room_id: str) -> tuple[str, str] | None:
    """(kind, period) of a quest room id, None for any other room."""
    found = QUEST_ROOM_RE.match(room_id)
    return (found.group(1), found.group(2)) if found else None


def room_of(quest: Quest) -> str:
    return f"{quest.kind}-{quest.period}"


def next_neuron(pool: list[int], recent: list[int]) -> int | None:
    """The quest neuron played longest ago in this room (never played ones first, in order)."""
    if not pool:
        return None
    last_played = {neuron: i for i, neuron in enumerate(recent)}
    return min(pool, key=lambda n: (last_played.get(n, -1), pool.index(n)))


def current_quest(session: Session, room_id: str, now: datetime, settings: Settings) -> Quest | None:
    """The open quest a quest room id names; raises RoomError when it is not the current one."""
    parsed = parse_room(room_id)
    if parsed is None:
        return None
    kind, period = parsed
    quest = quests.ensure_quest(session, kind, now, settings)
    if quest is None or quest.period != period or quest.status != "open":
        current = f" (the current one is {room_of(quest)})" if quest is not None else ""
        raise RoomError(ERR_QUEST_CLOSED, f"{room_id} is not an open quest{current}")
    return quest


def quest_pick(
    session: Session, room_id: str, recent: list[int], now: datetime, settings: Settings
) -> int | None:
    """For the room picker: the quest neuron to play next (None: not a quest room / closed)."""
    try:
        quest = current_quest(session, room_id, now, settings)
    except RoomError:
        return None
    return next_neuron(list(quest.neuron_ids or []), recent) if quest else None


async def check_join(db: Database, settings: Settings, room_id: str, now: datetime) -> None:
    """Refuse joining a quest room that is not the current quest (other rooms pass)."""
    if parse_room(room_id) is None:
        return

    def check() -> None:
        with db.session() as s:
            current_quest(s, room_id, now, settings)

    await run_in_threadpool(check)


class QuestRooms(RoomKind):
    """The daily and weekly quest rooms: only the current quest lets anyone in, and its
    neurons are the puzzles."""

    name = "quest"

    def claims(self, room_id: str) -> bool:
        return parse_room(room_id) is not None

    async def admit(self, conn: Connection, room_id: str, way: Way) -> str | None:
        await check_join(self.service.db, self.service.settings, room_id, datetime.now(UTC))
        return None

    def pick_neuron(
        self, session: Session, room_id: str, members: list[int], recent: list[int], now: datetime
    ) -> int | None:
        return quest_pick(session, room_id, recent, now, self.service.settings)
