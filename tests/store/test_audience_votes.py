"""Audience votes stored many to a commit: each person's vote for an explanation counts once,
whether the repeat is in the same batch, an earlier one, or another process's racing insert."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlmodel import func, select

from server.live.audience_votes import AudienceVoteWriter
from store.audience_votes import store_audience_votes
from store.db import Database
from store.models import Explanation, Vote
from tests.support.competition_helpers import make_neuron, make_players


def explanations(db: Database, n: int) -> list[int]:
    neuron_id = make_neuron(db)
    with db.session() as s:
        rows = [Explanation(neuron_id=neuron_id, text=f"fires on {i}") for i in range(n)]
        s.add_all(rows)
        s.commit()
        return [int(e.id or 0) for e in rows]


def votes(db: Database) -> list[tuple[int, int]]:
    with db.session() as s:
        rows = s.exec(select(Vote.explanation_id, Vote.player_id).where(Vote.audience == True)).all()  # noqa: E712
    return sorted((int(e), int(p)) for e, p in rows)


def test_a_batch_stores_each_new_vote_once(db: Database) -> None:
    first, second = explanations(db, 2)
    a, b, c = (int(p.id or 0) for p in make_players(db, 3))
    assert store_audience_votes(db, [(first, a)]) == [True]
    batch = [(first, a), (first, b), (second, b), (first, b), (second, c)]
    # a voted for `first` before; b's second vote for `first` in the same batch is a repeat.
    assert store_audience_votes(db, batch) == [False, True, True, False, True]
    assert votes(db) == sorted([(first, a), (first, b), (second, b), (second, c)])
    assert store_audience_votes(db, [(second, c), (second, c)]) == [False, False]
    assert store_audience_votes(db, []) == []
    assert len(votes(db)) == 4


def test_a_racing_insert_refuses_only_its_own_pair(db: Database) -> None:
    """Another process stores one of the batch's pairs after the batch looked: the batch's commit
    fails as a whole and each vote is stored alone, so only that pair is refused."""
    first, second = explanations(db, 2)
    a, b = (int(p.id or 0) for p in make_players(db, 2))
    raced: list[bool] = []

    def other_process_votes(session: Session, *_: Any) -> None:
        if raced:
            return
        raced.append(True)
        with db.session() as other:
            other.add(Vote(explanation_id=first, player_id=b, audience=True))
            other.commit()

    event.listen(Session, "before_flush", other_process_votes)
    try:
        assert store_audience_votes(db, [(first, a), (first, b), (second, b)]) == [True, False, True]
    finally:
        event.remove(Session, "before_flush", other_process_votes)
    assert raced == [True]
    assert votes(db) == sorted([(first, a), (first, b), (second, b)])


async def test_votes_arriving_together_share_a_few_commits(db: Database) -> None:
    """300 audience votes at once: at most three commits (one per vote before), and every vote
    answered as it would be alone."""
    (target,) = explanations(db, 1)
    players = [int(p.id or 0) for p in make_players(db, 300)]
    writer = AudienceVoteWriter(db)
    commits: list[int] = []

    def count(*_: Any) -> None:
        commits.append(1)

    event.listen(db.engine, "commit", count)
    try:
        results = await asyncio.gather(*(writer.submit((target, p)) for p in players))
        stored = len(commits)
        again = await asyncio.gather(writer.submit((target, players[0])), writer.submit((target, players[1])))
    finally:
        event.remove(db.engine, "commit", count)
    assert results == [True] * 300 and again == [False, False]
    assert 1 <= stored <= 3, stored
    with db.session() as s:
        rows = s.exec(select(func.count()).select_from(Vote)).one()
    assert rows == 300
