"""Audience votes stored many to a transaction (streamer rooms: thousands vote in seconds).

A vote is one ``Vote`` row with ``audience`` set; the unique (explanation, player) constraint
keeps one per person per explanation. A batch reads which of its pairs already exist, inserts
the rest and commits once. When another process inserts one of its pairs between the read and
the commit, the batch's insert fails as a whole; each of its votes is then stored alone, so only
the real duplicate is refused.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from store.db import Database
from store.models import Vote

Pair = tuple[int, int]  # (explanation id, player id)


def store_audience_votes(db: Database, pairs: Sequence[Pair]) -> list[bool]:
    """Per pair, True when its vote was stored, False when that person had already voted for
    that explanation (in this batch, an earlier one or another process)."""
    with db.session() as s:
        taken = _existing(s, pairs)
        fresh: list[Pair] = []
        stored = []
        for pair in pairs:
            new = pair not in taken
            stored.append(new)
            if new:
                taken.add(pair)  # the same pair twice in one batch counts once
                fresh.append(pair)
        if not fresh:
            return stored
        s.add_all([Vote(explanation_id=e, player_id=p, audience=True) for e, p in fresh])
        try:
            s.commit()
            return stored
        except IntegrityError:
            s.rollback()
    return [store_audience_vote(db, pair) for pair in pairs]


def store_audience_vote(db: Database, pair: Pair) -> bool:
    explanation_id, player_id = pair
    with db.session() as s:
        s.add(Vote(explanation_id=explanation_id, player_id=player_id, audience=True))
        try:
            s.commit()
        except IntegrityError:
            s.rollback()
            return False
    return True


def _existing(s: Session, pairs: Sequence[Pair]) -> set[Pair]:
    explanations = {e for e, _ in pairs}
    players = {p for _, p in pairs}
    rows = s.exec(
        select(Vote.explanation_id, Vote.player_id).where(
            col(Vote.explanation_id).in_(explanations), col(Vote.player_id).in_(players)
        )
    ).all()
    return {(int(e), int(p)) for e, p in rows} & set(pairs)
