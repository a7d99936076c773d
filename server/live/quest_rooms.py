"""Daily puzzle and weekly quest as live rooms, and quest credit when a score arrives.

A quest room is an ordinary puzzle room whose id names the current quest: ``daily-2026-11-21``
or ``weekly-2026-W47`` (``room`` in /api/v1/quests/daily). Its picker serves the quest's
neurons instead of random ones, so everybody in it sees the same neuron; a weekly room goes
round its neurons, the one played longest ago first. Entering a quest room that is not the
current quest, by any way in, is refused (``quest_closed``): ``QuestRooms`` is the room kind.

The daily is played once a day, as Wordle is. Its room serves one neuron round after round
(for players arriving later), so the kind keeps each player to one attempt: a player who has
written an explanation of the day's neuron (in any room) is refused ``daily_played`` when they
enter again (join, second tab, reconnect), unless they come back to the very round they played
in while it runs or shows its result; their submit is refused the same way; and when the room
starts its next round every member who played already leaves it with a private
``daily_played`` event (their client shows the result card instead). Only the first attempt
earns (store/competition/quests.py ``first_attempt``).

Credit is not given here: the scoring worker credits quests right after it stores a score
(store/quest_credit.py), exactly once and whether or not the author is connected (any room:
the daily neuron explained elsewhere counts too). The author then gets a private ``quest``
event with their progress (points, neurons done, streak for the daily).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import orjson
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from config import keys
from config.errors import ERR_DAILY_PLAYED, ERR_NO_VOTES, ERR_QUEST_CLOSED
from config.settings import Settings
from rooms.puzzle_room import Phase, RoomError
from rooms.quest_rules import QUEST_ROOM_RE
from server.live.room_kinds import RoomKind, Way
from store.competition import quests
from store.db import Database
from store.models import Quest

if TYPE_CHECKING:
    from server.hub.connection import Connection
    from server.live.room_service import RoomService

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
    await daily_rounds(db, settings, room_id, [], now)


async def daily_rounds(
    db: Database, settings: Settings, room_id: str, player_ids: list[int], now: datetime
) -> dict[int, list[str | None]]:
    """Refuse a quest room that is not the current quest; in a daily room, the round keys of
    each given player's attempts at the day's neuron (only players who have played are listed)."""
    if parse_room(room_id) is None:
        return {}

    def check() -> dict[int, list[str | None]]:
        with db.session() as s:
            quest = current_quest(s, room_id, now, settings)
            if quest is None or quest.kind != "daily":
                return {}
            found = {pid: [e.round_key for e in quests.attempts(s, quest, pid)] for pid in player_ids}
            return {pid: rounds for pid, rounds in found.items() if rounds}

    return await run_in_threadpool(check)


def played_message(room_id: str) -> str:
    return (
        f"you played today's daily ({room_id}); your result is on the daily card, "
        "and a new one opens at midnight UTC"
    )


class QuestRooms(RoomKind):
    """The daily and weekly quest rooms: only the current quest lets anyone in, and its
    neurons are the puzzles."""

    name = "quest"
    # Quest rooms are blind (rooms/blind.py ``is_blind_room``: the room service and the scoring
    # worker leave other players' texts out), and with nothing to read there is nothing to
    # vote on: the score alone decides.

    def __init__(self, service: RoomService) -> None:
        super().__init__(service)
        # The daily rooms' round this process last cleared of players who had played (per room).
        self._cleared: dict[str, str] = {}

    def claims(self, room_id: str) -> bool:
        return parse_room(room_id) is not None

    async def admit(self, conn: Connection, room_id: str, way: Way) -> str | None:
        pid = conn.player_id
        played = await daily_rounds(self.service.db, self.service.settings, room_id, [pid], self.now())
        if pid in played:
            room = await self.service.load(room_id, members=False)
            # Back to the round they played in (a dropped socket, a second tab): its result is theirs.
            back = room.state.phase in (Phase.ROUND, Phase.REVEAL) and room.state.round_key in played[pid]
            if not back:
                raise RoomError(ERR_DAILY_PLAYED, played_message(room_id))
        return None

    async def submit(
        self, conn: Connection, room_id: str, text: str, *, neuron_id: int | None = None
    ) -> int | None:
        pid = conn.player_id
        if pid in await daily_rounds(self.service.db, self.service.settings, room_id, [pid], self.now()):
            raise RoomError(ERR_DAILY_PLAYED, played_message(room_id))
        return await super().submit(conn, room_id, text, neuron_id=neuron_id)

    async def vote(self, conn: Connection, room_id: str, explanation_id: int) -> None:
        raise RoomError(ERR_NO_VOTES, "quest rounds have no votes: the score alone decides")

    async def tick(self, room_id: str) -> None:
        """When a daily room starts a new round (the same neuron again), the members who played
        it already leave: they are not served it twice."""
        if not room_id.startswith("daily-"):
            return
        room = await self.service.load(room_id, members=False)
        key = room.state.round_key
        if room.state.phase is not Phase.ROUND or self._cleared.get(room_id) == key:
            return
        members = [int(m) for m in await self.service.members.all(room_id)]
        try:
            played = await daily_rounds(self.service.db, self.service.settings, room_id, members, self.now())
        except RoomError:  # the day ended: the room is closed to everyone anyway
            played = {}
        self._cleared[room_id] = key
        for pid, rounds in played.items():
            if key in rounds:
                continue  # written in this very round (a submit that raced this check)
            await self.service.leave(room_id, pid, every_connection=True)
            notice = {"type": "daily_played", "room": room_id, "message": played_message(room_id)}
            await self.service.r.publish(keys.player_channel(pid), orjson.dumps(notice))
            await self.service.forget_room(pid)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.service.clock(), UTC)

    def pick_neuron(
        self,
        session: Session,
        room_id: str,
        members: list[int],
        recent: list[int],
        now: datetime,
        campaign: str | None = None,  # a quest plays its own units
    ) -> int | None:
        return quest_pick(session, room_id, recent, now, self.service.settings)
