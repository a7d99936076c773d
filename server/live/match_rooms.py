"""Team matches played live: a ``match-<id>`` room whose puzzle room is driven by TeamMatch rounds.

A team captain creates a match over HTTP (server/api/matches.py): the teams, how many rounds,
how long each lasts. The neurons are drawn then, so every team plays the same ones in the same
order. The rules (rooms.team_match) live as JSON under config.keys.team_match beside the puzzle
room's state and change only under the room's lock, so any number of web processes can drive it.

* The puzzle room is ``held``: it never picks a puzzle itself. When a match round begins, this
  module starts the puzzle room's round on the round's neuron with the match's deadline; the
  puzzle room then reveals and scores it as usual (points included).
* Entering, by any way in (a join or a reconnect), is for members of the match's teams
  (``not_in_match`` otherwise); the match starts as soon as every team has a player in the room.
* Submits made during a round count for the author's team; each worker ``score`` (hub score
  listener) may raise the team's best for that neuron, and a throttled ``team_scores`` event
  (server/live/crowd.py Throttle) carries the standings. After the last review the result is stored
  (store.competition.matches.store_result) and ``match_result`` sent.

Events for the room (client/js/teammatch.js): ``team_match`` (state, round, standings),
``team_scores`` and ``match_result`` (docs/protocol.md).
"""

from __future__ import annotations

import logging
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson
from sqlmodel import select
from starlette.concurrency import run_in_threadpool

from config import keys
from config.errors import ERR_NOT_FOUND, ERR_NOT_IN_MATCH
from rooms import team_match as tm
from rooms.puzzle_room import Phase as RoomPhase
from rooms.puzzle_room import PuzzleRoom, RoomError, RoomState
from server.live.crowd import Throttle
from server.live.room_kinds import Event, RoomKind, Way
from server.live.room_service import RoomService
from store.competition.matches import store_result
from store.models import TeamMember

if TYPE_CHECKING:
    from server.hub.connection import Connection

MATCH_ROOM_RE = re.compile(r"^match-[0-9a-f]{8}$")
# A finished match's state stays this long, so latecomers and reconnects still see the result.
MATCH_TTL_S = 24 * 3600

log = logging.getLogger(__name__)


def is_match_room(room_id: str) -> bool:
    return MATCH_ROOM_RE.match(room_id) is not None


def new_room_id() -> str:
    return f"match-{secrets.token_hex(4)}"


def standings(match: tm.TeamMatch, names: dict[str, str]) -> list[dict[str, Any]]:
    return [{**row, "name": names.get(str(row["team_id"]), "")} for row in match.standings_json()]


def view(match: tm.TeamMatch, names: dict[str, str], kind: str = "team_match") -> dict[str, Any]:
    """What the room (and a joiner) sees of the match; ``round`` counts from 1."""
    ends = match.phase_ends_at
    return {
        "type": kind,
        "room": match.room_id,
        "state": match.phase.value,
        "round": match.round_index + 1 if match.round_index >= 0 else None,
        "of": len(match.neuron_ids),
        "neuron_id": match.neuron_ids[match.round_index] if match.round_index >= 0 else None,
        "ends_at": ends.isoformat() if ends else None,
        "standings": standings(match, names),
    }


class MatchRooms(RoomKind):
    name = "team_match"

    def __init__(self, service: RoomService) -> None:
        super().__init__(service)
        self.r, self.settings = service.r, service.settings
        self._throttles: dict[str, Throttle] = {}

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.service.clock(), UTC)

    # -- state in Redis (beside the room; changed under the room's lock) ----------------------
    async def load(self, room_id: str) -> tuple[tm.TeamMatch, dict[str, Any]] | None:
        """The match and its extras (team names, creator); None for any other room."""
        if not is_match_room(room_id):
            return None
        raw = await self.r.get(keys.team_match(room_id))
        if raw is None:
            return None
        data = orjson.loads(raw)
        return tm.TeamMatch.from_json(data["match"]), data["extra"]

    async def save(self, match: tm.TeamMatch, extra: dict[str, Any]) -> None:
        body = orjson.dumps({"match": match.to_json(), "extra": extra})
        await self.r.set(keys.team_match(match.room_id), body, ex=MATCH_TTL_S)

    async def open(self, match: tm.TeamMatch, extra: dict[str, Any]) -> None:
        """Store a new match and its held room (nothing runs until the teams are there)."""
        async with self.service.locked(match.room_id) as room:
            room.state = RoomState(room_id=match.room_id, held=True)
            await self.save(match, extra)

    # -- the kind's hooks ----------------------------------------------------------------------
    def claims(self, room_id: str) -> bool:
        return is_match_room(room_id)

    async def admit(self, conn: Connection, room_id: str, way: Way) -> str | None:
        """Members of the match's teams only, whichever way they come in (a reconnect too)."""
        player_id = conn.player_id
        if await self.load(room_id) is None:
            raise RoomError(ERR_NOT_FOUND, f"there is no team match {room_id}")
        team_id = await run_in_threadpool(self._team_of, player_id)
        async with self.service.locked(room_id):
            loaded = await self.load(room_id)
            assert loaded is not None
            match, extra = loaded
            if team_id is None:
                raise RoomError(ERR_NOT_IN_MATCH, "join one of the match's teams first")
            if match.players.get(player_id) == team_id:
                return None  # back in the seat: nothing changes, also once the match is over
            try:
                match.join(player_id, team_id)
            except tm.MatchError as exc:
                raise RoomError(exc.code, exc.reason) from None
            await self.save(match, extra)
        return None

    async def snapshot(self, conn: Connection, room_id: str) -> list[Event]:
        """The room's snapshot does not carry the match: a joiner gets the match's view."""
        loaded = await self.load(room_id)
        return [view(loaded[0], loaded[1]["names"])] if loaded else []

    async def submit(
        self, conn: Connection, room_id: str, text: str, *, neuron_id: int | None = None
    ) -> int | None:
        eid = await super().submit(conn, room_id, text, neuron_id=neuron_id)
        if eid is not None:
            await self.on_submit(room_id, conn.player_id, eid)  # counts for the team
        return eid

    async def on_submit(self, room_id: str, player_id: int, explanation_id: int) -> None:
        """An explanation written in a match room counts for its author's team in this round."""
        if not is_match_room(room_id):
            return
        async with self.service.locked(room_id):
            loaded = await self.load(room_id)
            if loaded is None:
                return
            match, extra = loaded
            now = self._now()
            # Only inside the round's time: a transition that is due is the ticker's to make.
            if match.phase is not tm.Phase.ROUND or match.phase_ends_at is None or now >= match.phase_ends_at:
                return
            try:
                match.submit(player_id, explanation_id, now)
            except tm.MatchError as exc:
                log.info("explanation %s not counted in %s: %s", explanation_id, room_id, exc.reason)
                return
            await self.save(match, extra)

    async def on_score(self, room_id: str, event: dict[str, Any]) -> None:
        """A worker's score passed through this process: it may raise a team's best."""
        eid, score = event.get("explanation_id"), event.get("score")
        if not is_match_room(room_id) or not isinstance(eid, int) or not isinstance(score, int | float):
            return
        for _ in range(3):  # a due transition first (the ticker's work), then the score
            await self.tick(room_id)
            async with self.service.locked(room_id) as room:
                loaded = await self.load(room_id)
                if loaded is None:
                    return
                match, extra = loaded
                now = self._now()
                if match.phase_ends_at is not None and now >= match.phase_ends_at:
                    continue
                written = room.state.written.get(eid)
                if eid not in match.submissions and written is not None:  # scored before on_submit ran
                    match.adopt(int(written["player_id"]), eid, int(written["neuron_id"]))
                changed = match.record_score(eid, float(score), now)
                await self.save(match, extra)
                if changed:
                    self._scores_changed(room_id)
                return

    async def tick(self, room_id: str) -> None:
        """Start the match when every team is present; advance its rounds by the clock."""
        loaded = await self.load(room_id)
        if loaded is None or loaded[0].phase is tm.Phase.FINISHED:
            return
        match, _ = loaded
        room = await self.service.load(room_id)
        now = self._now()
        if match.phase is tm.Phase.LOBBY:
            if not self._all_present(match, room):
                return
        elif match.phase_ends_at is None or now < match.phase_ends_at:
            return
        else:
            review_end = match.phase_ends_at + timedelta(
                seconds=match.review_s if match.phase is tm.Phase.ROUND else 0
            )
            if now >= review_end:  # the puzzle round ends (points) before the next one starts
                await self._settle_round(room_id)
        async with self.service.locked(room_id) as room:
            loaded = await self.load(room_id)
            if loaded is None:
                return
            match, extra = loaded
            if match.phase is tm.Phase.LOBBY:
                if not self._all_present(match, room):
                    return
                changes = match.start(now)
            else:
                changes = match.tick(now)
            if not changes:
                return
            await self._apply(room, match, extra, changes, now)
            await self.save(match, extra)

    # -- helpers ------------------------------------------------------------------------------
    async def _apply(
        self,
        room: PuzzleRoom,
        match: tm.TeamMatch,
        extra: dict[str, Any],
        changes: list[tm.Event],
        now: datetime,
    ) -> None:
        names = extra["names"]
        for change in changes:
            if change["type"] == "match.round":
                puzzle = await run_in_threadpool(self.service.puzzle_for, int(change["neuron_id"]))
                if puzzle is None:  # the neuron vanished since the match was made: the round is empty
                    await self.service.emit(match.room_id, [{"type": "notice", "message": "neuron missing"}])
                else:
                    events = room.start_round(puzzle, now.timestamp())
                    # The match's clock rules: the puzzle round ends with the match round.
                    deadline = datetime.fromisoformat(change["ends_at"]).timestamp()
                    room.state.deadline = deadline
                    await self.service.emit(match.room_id, [{**e, "deadline": deadline} for e in events])
            if change["type"] == "match.finished":
                row = await run_in_threadpool(self._store, match)
                result = {**view(match, names, "match_result"), "match_id": row}
                await self.service.emit(match.room_id, [result])
            else:
                await self.service.emit(match.room_id, [view(match, names)])

    async def _settle_round(self, room_id: str) -> None:
        """Finish the puzzle room's round and reveal now (the room's own tick awards the points)."""
        for _ in range(2):  # round -> reveal -> lobby
            if (await self.service.load(room_id)).state.phase is RoomPhase.LOBBY:
                return
            async with self.service.locked(room_id) as room:
                room.state.deadline, room.state.reveal_min_until = self.service.clock(), None
            await self.service.tick(room_id)

    def _all_present(self, match: tm.TeamMatch, room: PuzzleRoom) -> bool:
        present = {match.players[p] for p in room.state.members if p in match.players}
        return present == set(match.team_ids)

    def _scores_changed(self, room_id: str) -> None:
        for idle in [k for k, t in self._throttles.items() if t.idle and k != room_id]:
            del self._throttles[idle]
        throttle = self._throttles.get(room_id)
        if throttle is None:
            throttle = Throttle(
                self.settings.crowd_interval_s,
                lambda: self._publish_scores(room_id),
                r=self.r,
                claim_key=keys.team_scores_claim(room_id),
            )
            self._throttles[room_id] = throttle
        throttle.poke()

    async def _publish_scores(self, room_id: str) -> None:
        loaded = await self.load(room_id)  # the current standings, however many scores folded in
        if loaded is not None:
            match, extra = loaded
            await self.service.emit(room_id, [view(match, extra["names"], "team_scores")])

    async def aclose(self) -> None:
        for throttle in self._throttles.values():
            await throttle.aclose()

    def _team_of(self, player_id: int) -> int | None:
        with self.service.db.session() as s:
            row = s.exec(select(TeamMember).where(TeamMember.player_id == player_id)).first()
            return row.team_id if row else None

    def _store(self, match: tm.TeamMatch) -> int:
        with self.service.db.session() as s:
            return int(store_result(s, match).id or 0)
