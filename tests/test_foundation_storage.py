"""The schema migrates on both databases and enforces what the game relies on."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from store.db import Database, migrate
from store.models import Campaign, Explanation, Neuron, Player, Score, Vote


def _neuron(db: Database) -> int:
    with db.session() as s:
        c = Campaign(name="c", model="minilm-l6", layer=3)
        s.add(c)
        s.commit()
        n = Neuron(campaign_id=c.id, index=7)
        s.add(n)
        s.commit()
        return int(n.id)  # type: ignore[arg-type]


def test_migrations_are_idempotent(db: Database) -> None:
    migrate(db.engine)
    migrate(db.engine)


def test_one_vote_per_player_per_explanation(db: Database) -> None:
    neuron_id = _neuron(db)
    with db.session() as s:
        author, voter = Player(name="a"), Player(name="b")
        s.add_all([author, voter])
        s.commit()
        e = Explanation(neuron_id=neuron_id, player_id=author.id, text="fires on dates")
        s.add(e)
        s.commit()
        s.add(Vote(explanation_id=e.id, player_id=voter.id))
        s.commit()
        s.add(Vote(explanation_id=e.id, player_id=voter.id))
        with pytest.raises(IntegrityError):
            s.commit()


def test_scores_keep_simulator_and_version(db: Database) -> None:
    neuron_id = _neuron(db)
    with db.session() as s:
        e = Explanation(neuron_id=neuron_id, text="commas")
        s.add(e)
        s.commit()
        s.add(Score(explanation_id=e.id, simulator="embedding", version="1", score=0.4, per_record=[0.1]))
        s.add(Score(explanation_id=e.id, simulator="embedding", version="2", score=0.5, per_record=[0.2]))
        s.commit()
        s.add(Score(explanation_id=e.id, simulator="embedding", version="2", score=0.9))
        with pytest.raises(IntegrityError):
            s.commit()
