"""Time to score one explanation on the worker, records one at a time (before) vs in chunks (after).

    .venv/bin/pytest -q -s tests/bench/bench_scoring_speed.py -o addopts=""

A real minilm-l6 layer-3 neuron mined from the shipped corpus (20 top + 20 random
records), the embedding simulator, the real job (`score_explanation_job`) on the real
Redis and database, room events included. "Before" is the old path: one record per
simulator call and per room event (RECORDS_PER_CHUNK = 1, which also fills the
word-embedding cache one record at a time). The simulator's caches (word embeddings,
records' contextual vectors) are emptied before every run so both pay for them; a
third figure is the steady state, the caches warm. Runs alternate so a busy machine
hurts both alike; each figure is the median of REPEATS runs.
"""

from __future__ import annotations

import os
import statistics
import time

import torch
from sqlmodel import select

import workers.scoring as scoring
from store import eventlog
from store.models import Campaign, Explanation, Neuron
from workers import context
from workers.mining import build_campaign

REPEATS = 5
EXPLANATION = "words about money, prices and payments"


def _neuron_id(settings, db) -> int:  # type: ignore[no-untyped-def]
    build_campaign(
        settings, db, name="bench", model="minilm-l6", layer=3, neuron_start=0, neuron_end=1, max_tokens=8_000
    )
    with db.session() as s:
        campaign = s.exec(select(Campaign).where(Campaign.name == "bench")).one()
        return int(s.exec(select(Neuron.id).where(Neuron.campaign_id == campaign.id)).one())


def _score_once(
    db, redis_client, neuron_id: int, chunk: int, run: int, cold: bool = True
) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    with db.session() as s:
        row = Explanation(neuron_id=neuron_id, text=EXPLANATION)
        s.add(row)
        s.commit()
        eid = int(row.id or 0)
    sim = scoring.get_simulator(context.get_context().settings)
    if cold:
        sim._word_cache.clear()  # type: ignore[attr-defined]
        sim._context_cache.clear()  # type: ignore[attr-defined]
    scoring.RECORDS_PER_CHUNK = chunk
    room = f"bench-{chunk}-{run}-{cold}"
    started = time.perf_counter()
    scoring.score_explanation_job(eid, room)
    elapsed = time.perf_counter() - started
    events = eventlog.since(redis_client, room, 0) or []
    return elapsed, len(events)


def test_chunked_scoring_is_faster(settings, db, redis_client):  # type: ignore[no-untyped-def]
    # BENCH_THREADS=1 keeps figures stable on a shared machine (OpenMP spins under contention).
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", torch.get_num_threads())))
    context.use_settings(settings.model_copy(update={"simulator": "embedding"}))
    neuron_id = _neuron_id(settings, db)
    scoring.get_simulator(context.get_context().settings)  # load the model outside the timings
    saved = scoring.RECORDS_PER_CHUNK
    times: dict[int, list[float]] = {1: [], saved: []}
    warm: list[float] = []
    events: dict[int, int] = {}
    try:
        _score_once(db, redis_client, neuron_id, saved, -1)  # warm-up (first-call allocations)
        for run in range(REPEATS):
            for chunk in (1, saved):
                elapsed, n_events = _score_once(db, redis_client, neuron_id, chunk, run)
                times[chunk].append(elapsed)
                events[chunk] = n_events
            # A worker's steady state: another explanation of a neuron it scored before, so its
            # caches already hold the neuron's words and records' contextual vectors.
            warm.append(_score_once(db, redis_client, neuron_id, saved, run, cold=False)[0])
    finally:
        scoring.RECORDS_PER_CHUNK = saved
    before, after = statistics.median(times[1]), statistics.median(times[saved])
    print(
        f"\nscore one explanation (embedding, {events[1] - 1} records, torch threads "
        f"{torch.get_num_threads()}): one record per call {before:.2f} s ({events[1]} events), "
        f"chunks of {saved} {after:.2f} s ({events[saved]} events), "
        f"chunks with warm caches (the neuron's next explanation) {statistics.median(warm):.2f} s; "
        f"after/before = {after / before:.2f} ({before / after:.1f}x faster)"
    )
    assert after < before
