"""The rescoring sweep on the real Redis and database: stale neurons found, queued once, bounded."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from rq import SimpleWorker
from sqlmodel import select

from config import keys
from engine.scoring.trained.simulator import SHIPPED_HEAD
from server.cli.scheduler import DEFAULT_TASKS, SchedulerContext
from store.models import Explanation, Neuron, Score, Snippet
from tests.workers.test_scoring_jobs import _setup
from workers import context
from workers.queues import default_queue
from workers.rescoring import enqueue_sweep, stale_neurons, sweep
from workers.scoring import get_simulator


def _second_neuron(db, campaign_neuron_id: int) -> int:  # type: ignore[no-untyped-def]
    """Another neuron with one record, one explanation and one removed; and a third without records."""
    with db.session() as s:
        first = s.get(Neuron, campaign_neuron_id)
        other = Neuron(campaign_id=first.campaign_id, index=99)  # type: ignore[union-attr]
        silent = Neuron(campaign_id=first.campaign_id, index=100)  # type: ignore[union-attr]
        s.add_all([other, silent])
        s.commit()
        s.add(Snippet(neuron_id=other.id, kind="top", tokens=["In", " 1999", " it"], activations=[0, 1.0, 0]))
        s.add(Explanation(neuron_id=other.id, text="numbers"))
        s.add(Explanation(neuron_id=other.id, text="gone", status="removed"))
        s.add(Explanation(neuron_id=silent.id, text="never scored: nothing to score against"))
        s.commit()
        return int(other.id or 0)


def _sim():  # type: ignore[no-untyped-def]
    return get_simulator(context.get_context().settings)


def test_stale_neurons_follow_records_and_simulator_versions(settings, db, redis_client):
    neuron_id, ids = _setup(settings, db)
    other = _second_neuron(db, neuron_id)
    sim = _sim()
    with db.session() as s:
        assert stale_neurons(s, sim.name, sim.version, 10) == sorted([neuron_id, other])
        assert stale_neurons(s, sim.name, sim.version, 1) == [min(neuron_id, other)]
        for eid in ids:  # the first neuron's explanations get current scores
            s.add(Score(explanation_id=eid, simulator=sim.name, version=sim.version, score=0.5))
        s.commit()
        assert stale_neurons(s, sim.name, sim.version, 10) == [other]
        # A newer simulator version makes every explanation stale again (old scores stay).
        assert stale_neurons(s, sim.name, "newer", 10) == sorted([neuron_id, other])
        neuron = s.get(Neuron, neuron_id)
        neuron.records_version = 2  # type: ignore[union-attr]
        s.add(neuron)
        s.commit()
        assert stale_neurons(s, sim.name, sim.version, 10) == sorted([neuron_id, other])


def test_sweep_queues_each_neuron_once_and_the_worker_clears_it(settings, db, redis_client):
    neuron_id, _ = _setup(settings, db)
    other = _second_neuron(db, neuron_id)
    ctx = context.get_context()
    sim = _sim()
    queue = default_queue(redis_client, ctx.settings)  # rescoring is background work
    assert sweep(redis_client, ctx.settings, db, sim.name, sim.version, limit=1) == [min(neuron_id, other)]
    assert sweep(redis_client, ctx.settings, db, sim.name, sim.version, limit=5) == [max(neuron_id, other)]
    assert sweep(redis_client, ctx.settings, db, sim.name, sim.version, limit=5) == []  # both pending
    assert queue.count == 2
    SimpleWorker([queue], connection=redis_client).work(burst=True)
    assert not redis_client.exists(keys.rescore_pending(neuron_id), keys.rescore_pending(other))
    with db.session() as s:
        assert stale_neurons(s, sim.name, sim.version, 10) == []
        assert len(s.exec(select(Score)).all()) == 4  # 3 + 1; the removed explanation is not scored
    assert sweep(redis_client, ctx.settings, db, sim.name, sim.version, limit=5) == []


def test_the_scheduler_queues_one_sweep_job_at_a_time(settings, db, redis_client):
    _setup(settings, db)
    ctx = context.get_context()
    [task] = [run for name, _, run in DEFAULT_TASKS if name == "rescore_sweep"]
    task(SchedulerContext(ctx.settings, db, redis_client), datetime.now(UTC))
    assert enqueue_sweep(redis_client, ctx.settings) is None  # one is already queued
    queue = default_queue(redis_client, ctx.settings)  # rescoring is background work
    assert queue.count == 1
    SimpleWorker([queue], connection=redis_client).work(burst=True)  # the sweep, then the rescore it queued
    assert not redis_client.exists(keys.rescore_sweep_lock())
    with db.session() as s:
        assert len(s.exec(select(Score)).all()) == 3
    assert enqueue_sweep(redis_client, ctx.settings) is not None


@pytest.mark.skipif(not SHIPPED_HEAD.is_file(), reason="no shipped head")
def test_switching_to_a_new_simulator_version_rescores_and_keeps_old_scores(settings, db, redis_client):
    """The trained simulator with a new head: every explanation is scored again, old scores stay."""
    neuron_id, ids = _setup(settings, db)
    with db.session() as s:
        for eid in ids:  # scored before: by embedding, and by an older trained head
            s.add(Score(explanation_id=eid, simulator="embedding", version="emb-1:x", score=0.2))
            s.add(Score(explanation_id=eid, simulator="trained", version="trained-1:oldhead", score=0.1))
        s.commit()
    context.use_settings(settings.model_copy(update={"simulator": "trained"}))
    ctx = context.get_context()
    sim = _sim()
    assert (
        sim.name == "trained" and sim.version.startswith("trained-5:") and sim.version != "trained-1:oldhead"
    )
    with db.session() as s:
        assert stale_neurons(s, "trained", "trained-1:oldhead", 10) == []
        assert stale_neurons(s, sim.name, sim.version, 10) == [neuron_id]
    assert sweep(redis_client, ctx.settings, db, sim.name, sim.version, limit=5) == [neuron_id]
    SimpleWorker([default_queue(redis_client, ctx.settings)], connection=redis_client).work(burst=True)
    with db.session() as s:
        rows = s.exec(select(Score)).all()
        by_version = {
            v: sorted(r.explanation_id for r in rows if r.version == v) for v in {r.version for r in rows}
        }
        assert by_version == {
            "emb-1:x": sorted(ids),
            "trained-1:oldhead": sorted(ids),
            sim.version: sorted(ids),
        }
        assert stale_neurons(s, sim.name, sim.version, 10) == []
        # The months neuron's true explanation scores above "names of animals" and "commas".
        new = {r.explanation_id: r.score for r in rows if r.version == sim.version}
        assert new[ids[0]] > max(new[ids[1]], new[ids[2]])
