"""What a fault test counts before and after: explanations, votes, scores and points in SQL."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import func, select

from store.db import Database
from store.models import Explanation, PointEvent, Score, Vote


@dataclass(frozen=True)
class Counts:
    explanations: int
    votes: int
    scores: int
    point_events: int
    points: int


def counts(db: Database) -> Counts:
    with db.session() as s:

        def count(model: type) -> int:
            return int(s.exec(select(func.count()).select_from(model)).one())

        points = s.exec(select(func.coalesce(func.sum(PointEvent.amount), 0))).one()
        return Counts(count(Explanation), count(Vote), count(Score), count(PointEvent), int(points))
