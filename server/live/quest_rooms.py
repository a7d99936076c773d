"""Daily puzzle and weekly quest as live rooms, and quest credit when a score arrives.

A quest room is an ordinary puzzle room whose id names the current quest: ``daily-2026-11-21``
or ``weekly-2026-W47`` (``room`` in /api/v1/quests/daily). Its picker serves the quest's
neurons instead of random ones, so everybody in it sees the same neuron; a weekly room goes
round its neurons, the one played longest ago first. Entering a quest room that is not the
current quest, by any way in, is refused (``quest_closed``): ``QuestRooms`` is the room kind.

Credit: when a ``score`` event of any room passes through a web process (RoomKinds.every_score),
``QuestCredits.on_score`` calls
store.competition.quests.credit_explanation (any room: the daily neuron explained elsewhere counts too).
Every process with members of the room sees the event, so a Redis claim per (room, event
version) makes the credit run exactly once. The author then gets a private ``quest`` event
with their progress (points, neurons done, streak for the daily).
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
import redis
import redis.asyncio as aioredis
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from config import keys
from config.errors import ERR_QUEST_CLOSED
from config.settings import Settings
from rooms.puzzle_room import RoomError
from rooms.streaks import compute_streak
from server.live.room_kinds import RoomKind, Way
from store import competition
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


def progress(session: Session, quest: Quest, player_id: int, now: datetime) -> dict[str, Any]:
    """A player's standing in one quest: the ``quest`` event's body."""
    events = [e for e in competition.events_for_quest(session, quest.id or 0) if e.player_id == player_id]
    body: dict[str, Any] = {
        "type": "quest",
        "quest": {"id": quest.id, "kind": quest.kind, "period": quest.period, "title": quest.title},
        "room": room_of(quest),
        "points": sum(e.amount for e in events),
        "max_points": quests.max_points(quest),
        "neurons_done": len({e.neuron_id for e in events}),
        "neurons": len(quest.neuron_ids or []),
        "board": f"quest:{quest.id}",
    }
    if quest.kind == "daily":
        streak = compute_streak(
            competition.daily_periods(session),
            competition.solved_daily_periods(session, player_id),
            now.date().isoformat(),
        )
        body["streak"] = streak.to_json()
    return body


class QuestCredits:
    """Listens to every room's ``score`` events (RoomKinds.every_score); credits quests once."""

    def __init__(self, settings: Settings, db: Database, r: aioredis.Redis, r_sync: redis.Redis) -> None:
        self.settings, self.db, self.r, self.r_sync = settings, db, r, r_sync

    async def on_score(self, room_id: str, event: dict[str, Any], now: datetime | None = None) -> None:
        explanation_id, v = event.get("explanation_id"), event.get("v")
        if not isinstance(explanation_id, int) or not isinstance(v, int):
            return
        if not await self.r.set(keys.quest_credit_claim(room_id, v), b"1", nx=True, ex=CLAIM_TTL_S):
            return  # another web process (or an earlier delivery) took this score
        await run_in_threadpool(self._credit, explanation_id, now or datetime.now(UTC))

    def _credit(self, explanation_id: int, now: datetime) -> None:
        with self.db.session() as s:
            credits = quests.credit_explanation(s, self.r_sync, explanation_id, now, self.settings)
            for credit in credits:
                quest = s.get(Quest, credit.quest_id)
                if quest is None:
                    continue
                body = {**progress(s, quest, credit.event.player_id, now), "credited": credit.event.amount}
                self.r_sync.publish(keys.player_channel(credit.event.player_id), orjson.dumps(body))
