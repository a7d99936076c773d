"""The rooms' SQL: what a room reads and writes in the database, called on threads.

RoomService (server/live/room_service.py) keeps the rooms in Redis and runs these on its own
thread pool (``RoomService._sql``), so the event loop never blocks on SQL and a join storm's
guest sessions cannot hold a move behind them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import redis

from config.errors import COPIED_MESSAGE, ERR_COPIED, ERR_NOT_FOUND
from config.settings import Settings
from rooms.points import Award
from rooms.puzzle_room import Puzzle, PuzzleRoom, RoomError
from store.campaigns import get_campaign, room_campaign
from store.db import Database
from store.explanations import CopiedExplanation, best_scores, cast_vote, create_explanation, neuron_history
from store.puzzles import baseline_scored, neuron_clues
from store.sealed import sealed_units
from store.settlement import RoundFacts, settle_round
from store.units import unit_word
from workers.scoring_warmup import enqueue_warm_up

if TYPE_CHECKING:
    from server.live.room_kinds import RoomKind

# The bar of a round whose machine explanations were not all scored: a correlation's maximum.
UNKNOWN_BAR = 1.0


def round_facts(room: PuzzleRoom) -> RoundFacts:
    """What settling the room's round needs from its state."""
    s = room.state
    assert s.puzzle is not None
    return RoundFacts(
        room_id=s.room_id,
        round_no=s.round_no,
        round_key=s.round_key,
        neuron_id=s.puzzle.neuron_id,
        # The bar is unknown while a machine explanation of the neuron was unscored when the
        # round began: then it stands at the highest score there is, and no score beats it
        # (rooms/points.py; the late settlement reads the same bar from PlayedRound).
        prior_best=s.puzzle.prior_best if s.puzzle.baseline_scored else UNKNOWN_BAR,
        prior_explained=s.puzzle.prior_explained,
        shown_authors={int(e["id"]): e.get("player_id") for e in s.puzzle.shown},
        written={eid: int(e["player_id"]) for eid, e in s.written.items()},
        votes=list(s.votes),
    )


class RoomRows:
    def __init__(
        self, settings: Settings, db: Database, r_sync: redis.Redis, clock: Callable[[], float]
    ) -> None:
        self.settings, self.db, self.r_sync, self.clock = settings, db, r_sync, clock

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def create_explanation(
        self, neuron_id: int, player_id: int, text: str, room_id: str, round_key: str
    ) -> int | None:
        with self.db.session() as s:
            try:
                row = create_explanation(s, neuron_id, player_id, text, room_id, round_key)
            except CopiedExplanation:
                raise RoomError(ERR_COPIED, COPIED_MESSAGE) from None
            return int(row.id or 0) if row is not None else None

    def cast_vote(self, explanation_id: int, player_id: int, round_key: str) -> int | bool | None:
        with self.db.session() as s:
            return cast_vote(s, explanation_id, player_id, round_key)

    def best_scores(self, explanation_ids: list[int]) -> dict[int, float]:
        with self.db.session() as s:
            return best_scores(s, explanation_ids)

    def settle(self, facts: RoundFacts) -> tuple[list[Award], list[int]]:
        """(awards stored now, explanations of the round the room never heard of and unscored)."""
        return settle_round(self.db, self.r_sync, self.settings, facts)

    def pick_puzzle(
        self, kind: RoomKind, member_ids: list[int], recent: list[int], room_id: str, campaign: str | None
    ) -> Puzzle | None:
        """The next puzzle of a room of ``kind`` (its rule picks the neuron)."""
        now = self._now()
        with self.db.session() as s:
            neuron_id = kind.pick_neuron(s, room_id, member_ids, recent, now, campaign)
        return self.puzzle_for(neuron_id) if neuron_id is not None else None

    def room_campaign(self, name: str | None) -> tuple[str | None, str | None]:
        with self.db.session() as s:
            if name is None:
                default = get_campaign(s, self.settings.default_campaign)
                return None, unit_word(default.unit) if default is not None else None
            try:
                campaign = room_campaign(s, name)
            except ValueError as exc:
                raise RoomError(ERR_NOT_FOUND, str(exc)) from None
            return campaign.name, unit_word(campaign.unit)

    def puzzle_for(self, neuron_id: int) -> Puzzle | None:
        """One neuron as a puzzle (clues, older explanations); a team match plays given neurons."""
        with self.db.session() as s:
            found = neuron_clues(s, neuron_id, self.settings.room_clues)
            if found is None:
                return None
            facts, clues = found
            # A unit a quest is playing shows no older explanations (store/sealed.py): the
            # quest pays for the score itself, so its best answer must not be on screen.
            sealed = int(facts["id"]) in sealed_units(s, self._now())
            shown, prior_best, prior_explained = neuron_history(
                s, int(facts["id"]), 0 if sealed else self.settings.room_shown_explanations
            )
            scored = baseline_scored(s, int(facts["id"]))
        enqueue_warm_up(self.r_sync, self.settings, int(facts["id"]))  # ready before the 1st submit
        return Puzzle(
            neuron_id=int(facts["id"]),
            campaign=str(facts["campaign"]),
            neuron_index=int(facts["index"]),
            max_activation=float(facts["max_activation"]),
            clues=clues,
            shown=shown,
            prior_best=prior_best,
            prior_explained=prior_explained,
            baseline_scored=scored,
            unit=dict(facts["unit"]),
        )
