"""The reference jobs on real parts: RQ on the test Redis, the shipped MiniLM model, the test database."""

from __future__ import annotations

import numpy as np
import pytest
import redis
from rq import SimpleWorker
from sqlmodel import col, select

from config.settings import Settings
from engine.models.loading import load_model
from store.db import Database
from store.models import Neuron, Snippet
from store.reference_models import ExplanationEmbedding, RelatedNeuron
from tests.support.reference_data import Seeded, seed_reference
from workers import context
from workers.queues import model_queue
from workers.reference import correlations, embed_explanations_job, related_neurons_job, top_related


@pytest.fixture
def seeded(settings: Settings, db: Database) -> Seeded:
    context.use_settings(settings)
    return seed_reference(db)


def test_embed_job_runs_on_an_rq_worker(
    settings: Settings, db: Database, redis_client: redis.Redis, seeded: Seeded
) -> None:
    queue = model_queue(redis_client, settings)
    job = queue.enqueue(embed_explanations_job, seeded.explanation_ids[:2])
    SimpleWorker([queue], connection=redis_client).work(burst=True)
    assert job.get_status(refresh=True) == "finished" and job.return_value() == 2
    # None embeds the rest; a second run finds nothing left to do.
    assert embed_explanations_job(None) == len(seeded.explanation_ids) - 2
    assert embed_explanations_job(None) == 0
    with db.session() as s:
        rows = list(s.exec(select(ExplanationEmbedding)))
    assert len(rows) == len(seeded.explanation_ids)
    vectors = [np.frombuffer(r.vector, dtype=np.float32) for r in rows]
    assert all(v.shape == (384,) and abs(float(np.linalg.norm(v)) - 1) < 1e-4 for v in vectors)


def test_correlation_helpers() -> None:
    base = np.array([0.0, 1.0, 2.0, 3.0])
    acts = np.stack([base, 2 * base + 1, -base, np.ones(4)], axis=1)
    corr = correlations(acts)
    assert np.allclose(corr[0, :3], [1.0, 1.0, -1.0])
    assert np.isnan(corr[0, 3])  # a constant column correlates with nothing
    assert top_related(corr, 2)[0] == [(1, pytest.approx(1.0)), (2, pytest.approx(-1.0))]
    assert top_related(corr, 5)[3] == []


def test_related_neurons_job_matches_the_model(settings: Settings, db: Database, seeded: Seeded) -> None:
    assert related_neurons_job(_campaign_id(db), top_k=2) == 4
    with db.session() as s:
        rows = list(
            s.exec(select(RelatedNeuron).order_by(col(RelatedNeuron.neuron_id), col(RelatedNeuron.rank)))
        )
        windows = list(
            dict.fromkeys(tuple(t) for t in s.exec(select(Snippet.tokens).order_by(col(Snippet.id))))
        )
        index_of = {n.id: n.index for n in s.exec(select(Neuron))}
    assert len(rows) == 8 and all(r.neuron_id != r.other_id for r in rows)

    # The same correlations computed independently, straight from the model.
    model = load_model("minilm-l6", device="cpu")
    texts = [model.tokenizer.convert_tokens_to_string(list(w)) for w in windows]
    acts = [a[1:-1] for a in model.activations(texts, 3, [0, 1, 2, 3])]  # drop [CLS] and [SEP]
    expected = np.corrcoef(np.concatenate([a.numpy() for a in acts]).T)
    for r in rows:
        assert r.correlation == pytest.approx(expected[index_of[r.neuron_id], index_of[r.other_id]], abs=1e-5)
    by_neuron: dict[int, list[float]] = {}
    for r in rows:
        by_neuron.setdefault(r.neuron_id, []).append(r.correlation)
    assert all(c == sorted(c, reverse=True) for c in by_neuron.values())

    # Running again replaces the rows instead of adding to them.
    related_neurons_job(_campaign_id(db), top_k=1)
    with db.session() as s:
        assert len(list(s.exec(select(RelatedNeuron)))) == 4


def test_related_neurons_job_refuses_an_unknown_campaign(settings: Settings, seeded: Seeded) -> None:
    with pytest.raises(ValueError, match="no campaign with id 9999"):
        related_neurons_job(9999)


def _campaign_id(db: Database) -> int:
    with db.session() as s:
        return int(s.exec(select(Neuron.campaign_id)).first() or 0)
