"""Prepare a round's neuron for scoring while its players are still writing.

Scoring the first explanation of a neuron costs most of its time in the simulator's caches of
that neuron's records (docs/BENCHMARKS.md, "Scoring speed": 3.6 s cold, 0.09 s warm, for the
embedding simulator); every later explanation of the neuron is cheap. A room that starts a
round asks the interactive worker, on its "warm" queue (taken only when no player waits on the
"model" queue), to run the simulator once over the neuron's records, so the round's first
submit finds them ready. Asked at most once per neuron per ``WARM_TTL_S``.
"""

from __future__ import annotations

import redis

from config import keys
from config.settings import Settings
from workers.context import get_context
from workers.queues import warm_queue

WARM_TTL_S = 600


def enqueue_warm_up(r: redis.Redis, settings: Settings, neuron_id: int) -> bool:
    """Ask for the neuron to be prepared unless it was lately; True when a job was queued."""
    if not settings.scoring_warm_up:
        return False
    if not r.set(keys.scoring_warmed(neuron_id), 1, nx=True, ex=WARM_TTL_S):
        return False
    warm_queue(r, settings).enqueue(warm_neuron_job, int(neuron_id), job_timeout=600, result_ttl=600)
    return True


def warm_neuron_job(neuron_id: int) -> dict[str, int]:
    """Run the configured simulator once over the neuron's scoring records (caches filled)."""
    from workers.scoring import get_simulator, load_records

    ctx = get_context()
    with ctx.db.session() as session:
        records = load_records(session, neuron_id)
    if records:
        get_simulator(ctx.settings).predict_batch(["warm up"], records)
    return {"records": len(records)}
