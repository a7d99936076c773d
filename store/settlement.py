"""Settling a room round's points exactly once, whoever settles it and whenever its scores come.

Two parties settle points, and each must be able to do it alone:

* the room, when its reveal ends (server/live/room_service.py): ``settle_round``;
* the scoring worker, right after it stores a score (workers/scoring.py): ``settle_score`` —
  a score that came after its round ended still earns ``beat_best`` under that round's rules,
  and quest credit is given there too, whether or not the author is connected anywhere.

Exactly once: every award carries a claim (rooms.points.Award.claim) and PointEvent.claim is
unique, so an award inserted twice (a retried tick, a retried job, both parties at once) is
stored once. At least once: the room commits its PlayedRound row *before* it reads the round's
scores, and the worker stores the Score *before* it looks for the PlayedRound; so for every
score either the room's read sees it or the worker's look finds the round (or both).

Everything the rules need is read from SQL (the explanations and votes of the round by
round_key, the best stored score of each), never from a pub/sub payload: a forged ``score``
event can change what a client shows for a moment, not what anybody earns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis
from sqlalchemy import func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from config.settings import Settings
from rooms.points import Award, RoundOutcome, award_round, late_award
from store.competition.awarding import count_stored_points
from store.db import Database
from store.explanations import best_scores
from store.models import Explanation, PlayedRound, PointEvent, Score, Vote


def insert_claimed(session: Session, rows: Sequence[PointEvent]) -> list[PointEvent]:
    """Insert the rows and commit; a row whose claim is already stored is skipped.

    Returns the rows stored now. ON CONFLICT DO NOTHING (both PostgreSQL and SQLite have it)
    instead of catching IntegrityError: one duplicate must not roll back its round's others.
    """
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    table = PointEvent.__table__  # type: ignore[attr-defined]
    stored_ids: list[int] = []
    for row in rows:
        values = {c.name: getattr(row, c.name) for c in table.columns if c.name != "id"}
        stmt = insert(table).values(**values)
        if row.claim is not None:
            stmt = stmt.on_conflict_do_nothing(index_elements=["claim"])
        new_id = session.execute(stmt.returning(table.c.id)).scalar_one_or_none()
        if new_id is not None:
            stored_ids.append(int(new_id))
    session.commit()
    if not stored_ids:
        return []
    found = session.exec(select(PointEvent).where(col(PointEvent.id).in_(stored_ids))).all()
    return sorted(found, key=lambda e: e.id or 0)


def record_claimed(
    session: Session,
    r: redis.Redis,
    settings: Settings,
    awards: Sequence[Award],
    neuron_id: int,
    room_id: str | None,
    now: datetime,
) -> list[Award]:
    """Store the awards not settled before, count them on the boards, grant badges; the stored ones."""
    rows = [
        PointEvent(
            player_id=a.player_id,
            amount=a.amount,
            reason=a.reason,
            explanation_id=a.explanation_id,
            neuron_id=neuron_id,
            room_id=room_id,
            claim=a.claim,
            created_at=now,
        )
        for a in awards
    ]
    events = insert_claimed(session, rows)
    if not events:
        return []
    count_stored_points(session, r, settings, events, now)
    by_claim = {e.claim: e for e in events}
    return [a for a in awards if a.claim in by_claim] + [
        Award(e.player_id, e.amount, e.reason, e.explanation_id) for e in events if e.claim is None
    ]


@dataclass
class RoundFacts:
    """What the room knows of its round beside SQL: the puzzle's facts and its own state."""

    room_id: str
    round_no: int
    round_key: str
    neuron_id: int
    prior_best: float | None
    prior_explained: bool
    shown_authors: dict[int, int | None]  # older explanations shown with the puzzle
    written: dict[int, int]  # the room state's explanations of the round -> author
    votes: list[tuple[int, int]]  # the room state's votes (voter, explanation)


def settle_round(
    db: Database, r: redis.Redis, settings: Settings, facts: RoundFacts
) -> tuple[list[Award], list[int]]:
    """The round's awards from SQL: (those stored now — the room announces exactly these, the
    round's explanations the room never heard of that have no score yet — to be scored)."""
    now = datetime.now(UTC)
    if facts.round_key:
        with db.session() as s:  # first: a score stored after this commit is the worker's to settle
            s.add(
                PlayedRound(
                    round_key=facts.round_key,
                    room_id=facts.room_id,
                    round_no=facts.round_no,
                    neuron_id=facts.neuron_id,
                    prior_best=facts.prior_best,
                    settled_at=now,
                )
            )
            try:
                s.commit()
            except IntegrityError:
                s.rollback()  # settled before (a retried tick): the claims make it harmless
    with db.session() as s:
        written, votes = dict(facts.written), dict(facts.votes)
        if facts.round_key:
            written.update(_written(s, facts.round_key))  # an explanation whose room save was lost counts
            votes.update(_votes(s, facts.round_key))  # SQL holds each player's last vote
        authors: dict[int, int | None] = {**facts.shown_authors, **written}
        outcome = RoundOutcome(
            written=written,
            authors=authors,
            scores=best_scores(s, authors),
            votes=list(votes.items()),
            prior_best=facts.prior_best,
            prior_explained=facts.prior_explained,
            round_key=facts.round_key,
            neuron_id=facts.neuron_id,
        )
        awards = record_claimed(s, r, settings, award_round(outcome), facts.neuron_id, facts.room_id, now)
        orphans = [eid for eid in written if eid not in facts.written and eid not in outcome.scores]
        return awards, orphans


def _written(session: Session, round_key: str) -> dict[int, int]:
    rows = session.exec(
        select(Explanation.id, Explanation.player_id).where(
            Explanation.round_key == round_key, Explanation.status == "visible"
        )
    ).all()
    return {int(eid): int(pid) for eid, pid in rows if eid is not None and pid is not None}


def _votes(session: Session, round_key: str) -> dict[int, int]:
    rows = session.exec(
        select(Vote.player_id, Vote.explanation_id).where(Vote.round_key == round_key, Vote.audience == False)  # noqa: E712
    ).all()
    return {int(pid): int(eid) for pid, eid in rows}


def first_score(db: Database, explanation_id: int) -> bool:
    """Is the explanation's only stored score the one just written (not a rescore)?"""
    with db.session() as s:
        count = s.exec(select(func.count()).select_from(Score).where(Score.explanation_id == explanation_id))
        return int(count.one()) <= 1


@dataclass
class LateSettlement:
    room_id: str
    round_no: int
    awards: list[Award]

    def event(self) -> dict[str, Any]:
        """The room's ``points`` event for awards settled after the round ended."""
        return {
            "type": "points",
            "round": self.round_no,
            "late": True,
            "awards": [a.to_json() for a in self.awards],
        }


def settle_score(
    db: Database, r: redis.Redis, settings: Settings, explanation_id: int, now: datetime | None = None
) -> LateSettlement | None:
    """After a score is stored: its beat_best if its round already ended. None: nothing to do
    (the round is still open and will settle it, or the explanation is in no round)."""
    now = now or datetime.now(UTC)
    with db.session() as s:
        explanation = s.get(Explanation, explanation_id)
        if explanation is None or explanation.player_id is None or not explanation.round_key:
            return None
        if explanation.status != "visible":
            return None
        played = s.exec(select(PlayedRound).where(PlayedRound.round_key == explanation.round_key)).first()
        if played is None:
            return None
        score = best_scores(s, [explanation_id]).get(explanation_id)
        if score is None:
            return None
        award = late_award(explanation_id, explanation.player_id, score, played.prior_best)
        if award is None:
            return LateSettlement(played.room_id, played.round_no, [])
        stored = record_claimed(s, r, settings, [award], played.neuron_id, played.room_id, now)
        return LateSettlement(played.room_id, played.round_no, stored)
