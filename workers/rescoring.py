"""The rescoring sweep: explanations without a Score for the current simulator and records.

A Score is current when it was made by the configured simulator's version on the
neuron's current ``records_version``. New top activations (records_version bumped)
or a newer simulator version leave explanations without a current Score; the sweep
finds their neurons and queues one ``rescore_job`` per neuron, a bounded number per
run, never one for a neuron whose rescore is already queued. The simulator's version
is known only where its model is loaded, so the sweep itself runs as a job on the
model queue; the scheduler only queues it (``enqueue_sweep``).
"""

from __future__ import annotations

from typing import Any

import redis
from rq.job import Job
from sqlmodel import Session, col, exists, select

from config import keys
from config.settings import Settings
from store.db import Database
from store.models import Explanation, Neuron, Score, Snippet
from workers.context import get_context
from workers.queues import default_queue
from workers.scoring import enqueue_rescore, get_simulator

# Neurons queued for rescoring per sweep: a new simulator version must not flood the queue.
SWEEP_LIMIT = 50
# How long a queued rescore keeps its neuron out of later sweeps (rescore_job clears it sooner).
PENDING_TTL_S = 3600
SWEEP_TTL_S = 600


def stale_neurons(session: Session, simulator: str, version: str, limit: int) -> list[int]:
    """Neurons (lowest id first) with records and an explanation that lacks a current Score."""
    current = exists().where(
        Score.explanation_id == Explanation.id,
        Score.simulator == simulator,
        Score.version == version,
        Score.records_version == Neuron.records_version,
    )
    # A neuron without records cannot be scored: queueing it would fail again every sweep.
    has_records = exists().where(Snippet.neuron_id == Neuron.id)
    query = (
        select(Explanation.neuron_id)
        .join(Neuron, col(Neuron.id) == Explanation.neuron_id)
        .where(Explanation.status != "removed", ~current, has_records)
        .distinct()
        .order_by(col(Explanation.neuron_id))
        .limit(limit)
    )
    return [int(n) for n in session.exec(query).all()]


def sweep(
    r: redis.Redis, settings: Settings, db: Database, simulator: str, version: str, limit: int
) -> list[int]:
    """Queue a rescore for up to ``limit`` stale neurons; returns the neurons queued now."""
    with db.session() as session:
        # Ask for more than the limit: some stale neurons may already have a rescore queued.
        candidates = stale_neurons(session, simulator, version, limit * 4)
    queued: list[int] = []
    for neuron_id in candidates:
        if len(queued) >= limit:
            break
        if r.set(keys.rescore_pending(neuron_id), "1", nx=True, ex=PENDING_TTL_S):
            enqueue_rescore(r, settings, neuron_id)
            queued.append(neuron_id)
    return queued


def rescore_sweep_job(limit: int = SWEEP_LIMIT) -> dict[str, Any]:
    """RQ job: the sweep with the worker's own simulator (name and version)."""
    ctx = get_context()
    try:
        sim = get_simulator(ctx.settings)
        queued = sweep(ctx.redis, ctx.settings, ctx.db, sim.name, sim.version, limit)
    finally:
        ctx.redis.delete(keys.rescore_sweep_lock())
    return {"queued": queued}


def enqueue_sweep(r: redis.Redis, settings: Settings, limit: int = SWEEP_LIMIT) -> Job | None:
    """Queue a sweep unless one is already queued or running (then None)."""
    if not r.set(keys.rescore_sweep_lock(), "1", nx=True, ex=SWEEP_TTL_S):
        return None
    return default_queue(r, settings).enqueue(  # background work, like the rescores it queues
        rescore_sweep_job, limit, job_timeout=SWEEP_TTL_S, result_ttl=3600
    )
