"""The room-kind interface and its registry: what differs between puzzle, quest, match and
streamer rooms, behind one set of hooks that the hub, the handlers and the room service call.

Every room is a puzzle room (server/live/room_service.py: rounds, submits, votes, points); its
kind says what is different about it:

* ``admit``: may this connection enter, and does it play or watch? Every way in passes here —
  ``join``, a streamer room's ``join_code`` and overlay ``watch``, the reconnect with ``since``
  — and ``Way`` says which it was. Refuse by raising RoomError.
* ``joined`` / ``left``: after a connection entered (or before it is gone).
* ``snapshot``: the private events a joiner gets beside the room's own snapshot.
* ``submit`` / ``vote`` / ``shown_name``: moves and names (the base: as the puzzle room does).
* ``on_score``: a worker's ``score`` event for the room passed through this process.
* ``tick``: the clock, every ``TICK_S`` in each process with members, after the puzzle room's.
* ``pick_neuron``: the next puzzle's neuron (in a worker thread, with a database session).
* ``messages`` / ``handle``: wire messages only this kind understands (a streamer host's).

A kind is found by the room id alone (``claims``), cheaply and the same in every process.
Adding a kind is one module with a ``RoomKind`` subclass plus one ``register`` line in
server/live/kinds.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from sqlmodel import Session

from config import keys
from rooms.picker import choose_neuron
from store.puzzles import playable_neurons, solved_neurons
from store.sealed import sealed_units

if TYPE_CHECKING:
    from server.hub.connection import Connection
    from server.live.room_service import RoomService

Event = dict[str, Any]
# How a connection watches when it does not play: a streamer room's audience or its overlay.
AUDIENCE, OVERLAY = "audience", "overlay"


class Way(StrEnum):
    """How a connection asks to enter a room."""

    JOIN = "join"  # a ``join`` message
    CODE = "code"  # a streamer room's ``join_code`` (or its host creating it)
    RECONNECT = "reconnect"  # /ws?since=V (&room=R): back after a dropped socket
    OVERLAY = "overlay"  # a streamer room's overlay link (``watch``)


class RoomKind:
    """The plain puzzle room; every other kind overrides only what differs."""

    name: ClassVar[str] = "puzzle"
    messages: ClassVar[tuple[type, ...]] = ()

    def __init__(self, service: RoomService) -> None:
        self.service = service
        # Rooms waiting for a new unit (pick_neuron), since when: in this process only, so the
        # wait is bounded even if another process picks (it starts its own bound).
        self._waiting_since: dict[str, float] = {}

    def claims(self, room_id: str) -> bool:
        """Whether ``room_id`` is a room of this kind (by its id alone)."""
        return True

    async def admit(self, conn: Connection, room_id: str, way: Way) -> str | None:
        """None: the connection plays (a member); AUDIENCE/OVERLAY: it watches. RoomError: refused."""
        return None

    async def joined(self, conn: Connection, room_id: str) -> None:
        return None

    async def left(self, conn: Connection, room_id: str, watching: str | None) -> None:
        return None

    async def snapshot(self, conn: Connection, room_id: str) -> list[Event]:
        return []

    async def submit(
        self, conn: Connection, room_id: str, text: str, *, neuron_id: int | None = None
    ) -> int | None:
        """Play an explanation; its id, or None when the kind took it elsewhere (moderation).
        ``neuron_id``: the neuron the text was written for (refused when the room moved on)."""
        return await self.service.submit(room_id, conn.player, text, neuron_id=neuron_id)

    async def vote(self, conn: Connection, room_id: str, explanation_id: int) -> None:
        await self.service.vote(room_id, conn.player_id, explanation_id)

    async def shown_name(self, room_id: str, name: str) -> str:
        """The player name as this room shows it (a family-friendly room filters it)."""
        return name

    async def on_score(self, room_id: str, event: Event) -> None:
        return None

    async def tick(self, room_id: str) -> None:
        return None

    @property
    def has_clock(self) -> bool:
        """Whether this kind's ``tick`` does anything (it overrides the plain room's)."""
        return type(self).tick is not RoomKind.tick

    def pick_neuron(
        self,
        session: Session,
        room_id: str,
        members: list[int],
        recent: list[int],
        now: datetime,
        campaign: str | None = None,
    ) -> int | None:
        """The next puzzle: an unsolved unit of the room's campaign (``campaign``, chosen when a
        private or streamer room was made; None: the default campaign), not played lately.

        When every ready unit was solved by a member or played here lately but more units are
        still being explained (a fresh install's first minutes: workers/explaining.py), the
        room waits for one (None: a notice, another try soon) rather than serve the same
        puzzle again — for at most ``room_wait_for_new_s``, then it replays as before."""
        ready, coming = self._ready_and_coming(session, campaign)
        candidates = self._unsealed(session, ready)
        solved = solved_neurons(session, members)
        fresh = any(n not in solved and n not in recent for n in candidates)
        if not fresh and coming:
            now, bound = self.service.clock(), self.service.settings.room_wait_for_new_s
            self._forget_abandoned(now, bound)
            since = self._waiting_since.setdefault(room_id, now)
            if now - since < bound:
                return None
        self._waiting_since.pop(room_id, None)
        return choose_neuron(candidates, solved, recent, self.service.rng)

    def _forget_abandoned(self, now: float, bound: float) -> None:
        # A room left while waiting is never picked for again: its entry would stay for good.
        for room_id, since in list(self._waiting_since.items()):
            if now - since > 2 * bound:
                del self._waiting_since[room_id]

    def _seeding(self) -> set[int]:
        return {int(n) for n in self.service.r_sync.smembers(keys.seeding_pending())}  # type: ignore[union-attr]

    def playable(self, session: Session, campaign: str | None = None) -> list[int]:
        """The units (neurons or features) of ``campaign`` (default: the default campaign's) a
        room may serve: playable (store/puzzles.py: their machine explanations scored), not
        waiting for their seeding job (workers/explaining.py) and, when there are others, in
        no open quest."""
        return self._unsealed(session, self.ready(session, campaign))

    def _unsealed(self, session: Session, ready: list[int]) -> list[int]:
        # A unit a quest is playing is played in the quest's blind room: in an open room its
        # texts would be read by the quest's players (store/sealed.py, rooms/blind.py). Unless
        # the quests hold every unit there is (a campaign of a handful): a room never starves.
        sealed = self.sealed(session)
        return [n for n in ready if n not in sealed] or ready

    def ready(self, session: Session, campaign: str | None = None) -> list[int]:
        """Playable units of ``campaign`` not waiting for their seeding job, quests or not."""
        return self._ready_and_coming(session, campaign)[0]

    def _ready_and_coming(self, session: Session, campaign: str | None = None) -> tuple[list[int], bool]:
        """``ready``, and whether units of ``campaign`` wait for their seeding job (served once
        scored): one query and one read of the seeding set for both."""
        seeding = self._seeding()
        name = campaign or self.service.settings.default_campaign
        units = playable_neurons(session, name)
        return [n for n in units if n not in seeding], any(n in seeding for n in units)

    def sealed(self, session: Session) -> dict[int, datetime]:
        return sealed_units(session, datetime.fromtimestamp(self.service.clock(), UTC))

    def no_puzzle_reason(self, room_id: str, campaign: str | None = None) -> str:
        """What the room says when ``pick_neuron`` found nothing to serve (in ``campaign``, the
        room's chosen one; None: the default campaign)."""
        if self._seeding():
            return "The next puzzle is being prepared: new ones are being explained. It starts in a moment."
        return f"no puzzles in campaign {campaign or self.service.settings.default_campaign!r} yet"

    async def handle(self, conn: Connection, msg: Any) -> None:
        raise NotImplementedError(f"{self.name} rooms take no {type(msg).__name__}")

    def start(self) -> None:
        """Background work of the kind, started with the app (a streamer room's tally pusher)."""
        return None

    async def aclose(self) -> None:
        return None


ScoreListener = Callable[[str, Event], Awaitable[None]]


class RoomKinds:
    """The registry: the kinds in the order they are asked, the puzzle room last."""

    def __init__(self, default: RoomKind) -> None:
        self.default = default
        self.kinds: list[RoomKind] = []
        # Run on every room's scores, whatever its kind (none today: quest credit moved to the
        # scoring worker); before the kind's own ``on_score``.
        self.every_score: list[ScoreListener] = []

    def register(self, kind: RoomKind) -> RoomKind:
        self.kinds.append(kind)
        return kind

    def of(self, room_id: str) -> RoomKind:
        for kind in self.kinds:
            if kind.claims(room_id):
                return kind
        return self.default

    def for_message(self, msg: Any) -> RoomKind | None:
        """The kind that understands a kind-specific wire message, None for the common ones."""
        for kind in self.kinds:
            if isinstance(msg, kind.messages):
                return kind
        return None

    def named(self, name: str) -> RoomKind:
        return next(k for k in [*self.kinds, self.default] if k.name == name)

    def start(self) -> None:
        for kind in [*self.kinds, self.default]:
            kind.start()

    async def aclose(self) -> None:
        for kind in [*self.kinds, self.default]:
            await kind.aclose()
